# Parameter transforms: fit(transform = ...) lets the log-likelihood see a
# constrained parameter on its natural scale while the optimiser works on an
# unconstrained u. Each transform is a monotone increasing map from the real
# line onto an open interval (lower, upper); all of them are described by
# those two bounds.

#' A parameter bounded to an interval
#'
#' `bounded(lower, upper)` declares, in [fit()]'s `transform` argument, a
#' parameter that lies in the open interval `(lower, upper)`. The optimiser
#' then works on an unconstrained `u`, and the log-likelihood receives
#' `lower + (upper - lower) * sigmoid(u)`. One bound may be infinite:
#' `bounded(a, Inf)` is `a + exp(u)` and `bounded(-Inf, b)` is
#' `b - exp(-u)`; `bounded(-Inf, Inf)` leaves the parameter as it is. The
#' shorthands `"positive"` and `"probability"` of `fit()` are
#' `bounded(0, Inf)` (`exp(u)`) and `bounded(0, 1)` (`sigmoid(u)`).
#'
#' @param lower,upper The bounds: single numbers with `lower < upper`
#'   (either may be infinite).
#' @return An object of class `femtograd_bounds`, for `fit(transform = )`.
#' @seealso [fit()]
#' @examples
#' bounded(0, 10)
#'
#' # the rate of an exponential sample, known to lie in (0, 10)
#' set.seed(9); x <- rexp(100, rate = 3)
#' res <- fit(function(rate) loglik_exponential(rate, x), params = c(rate = 1),
#'            transform = list(rate = bounded(0, 10)))
#' coef(res); se(res)
#' coef(res$working)   # the unconstrained scale the optimiser used
#' @export
bounded <- function(lower, upper) {
  ok <- function(b) is.numeric(b) && length(b) == 1L && !is.na(b)
  if (!ok(lower) || !ok(upper)) stop("bounded: lower and upper must be single numbers", call. = FALSE)
  if (!(lower < upper)) {
    stop(sprintf("bounded: lower must be less than upper, got lower = %s, upper = %s",
                 format(lower), format(upper)), call. = FALSE)
  }
  structure(list(lower = as.double(lower), upper = as.double(upper)), class = "femtograd_bounds")
}

#' @export
format.femtograd_bounds <- function(x, ...) {
  sprintf("<bounded(%s, %s): the parameter is %s for an unconstrained u>",
          format(x$lower), format(x$upper), transform_formula(x, "u"))
}

#' @export
print.femtograd_bounds <- function(x, ...) {
  cat(format(x), "\n", sep = "")
  invisible(x)
}

# fit(transform = ) as a bounds object per parameter (identity for those it
# does not name).
identity_bounds <- structure(list(lower = -Inf, upper = Inf), class = "femtograd_bounds")

parse_transforms <- function(transform, layout) {
  out <- rep(list(identity_bounds), length(layout$names))
  names(out) <- layout$names
  if (is.null(transform)) return(out)
  if (is.character(transform)) transform <- as.list(transform)
  nms <- names(transform)
  if (!is.list(transform) || is.null(nms) || any(!nzchar(nms)) || anyDuplicated(nms)) {
    stop("fit: transform must be a named list, e.g. transform = list(sigma = \"positive\", theta = bounded(0, 10))",
         call. = FALSE)
  }
  for (name in nms) {
    if (!name %in% layout$names) {
      stop(sprintf("fit: transform names unknown parameter '%s' (parameters: %s)", name,
                   paste(layout$names, collapse = ", ")), call. = FALSE)
    }
    tr <- transform[[name]]
    out[[name]] <- if (inherits(tr, "femtograd_bounds")) {
      tr
    } else if (identical(tr, "positive")) {
      bounded(0, Inf)
    } else if (identical(tr, "probability")) {
      bounded(0, 1)
    } else {
      stop(sprintf(paste0("fit: transform for '%s' must be \"positive\", \"probability\" or bounded(lower, upper), ",
                          "got %s"), name,
                   if (is.character(tr) && length(tr) == 1L) sprintf("\"%s\"", tr)
                   else sprintf("an object of class '%s'", paste(class(tr), collapse = "/"))),
           call. = FALSE)
    }
  }
  out
}

# (A spec without `transforms`, as built before transforms existed, is all
# identity.)
is_identity <- function(tr) is.null(tr) || (tr$lower == -Inf && tr$upper == Inf)

has_transforms <- function(spec) !spec$identity_transforms

# theta from u, on values (records nodes) and on plain numbers alike.
transform_forward <- function(tr, u) {
  a <- tr$lower; b <- tr$upper
  if (is_identity(tr)) return(u)
  if (b == Inf) return(if (a == 0) exp(u) else a + exp(u))
  if (a == -Inf) return(b - exp(-u))
  if (a == 0 && b == 1) return(sigmoid(u))
  a + (b - a) * sigmoid(u)
}

# u from theta (plain numbers); outside the open domain gives NaN or +-Inf.
transform_inverse <- function(tr, theta) {
  a <- tr$lower; b <- tr$upper
  if (is_identity(tr)) return(theta)
  if (b == Inf) return(log(theta - a))
  if (a == -Inf) return(-log(b - theta))
  suppressWarnings(log(theta - a) - log(b - theta))
}

# d theta / d u at u (plain numbers).
transform_derivative <- function(tr, u) {
  a <- tr$lower; b <- tr$upper
  if (is_identity(tr)) return(rep(1, length(u)))
  if (b == Inf) return(exp(u))
  if (a == -Inf) return(exp(-u))
  (b - a) * sigmoid(u) * sigmoid(-u)
}

# d^2 theta / d u^2 at u (plain numbers).
transform_second_derivative <- function(tr, u) {
  a <- tr$lower; b <- tr$upper
  if (is_identity(tr)) return(rep(0, length(u)))
  if (b == Inf) return(exp(u))
  if (a == -Inf) return(-exp(-u))
  (b - a) * sigmoid(u) * sigmoid(-u) * (sigmoid(-u) - sigmoid(u))
}

transform_formula <- function(tr, name) {
  a <- format(tr$lower); b <- format(tr$upper)
  if (is_identity(tr)) return(name)
  if (tr$upper == Inf) return(if (tr$lower == 0) "exp(u)" else sprintf("%s + exp(u)", a))
  if (tr$lower == -Inf) return(sprintf("%s - exp(-u)", b))
  if (tr$lower == 0 && tr$upper == 1) return("sigmoid(u)")
  width <- format(tr$upper - tr$lower)
  if (tr$lower == 0) sprintf("%s * sigmoid(u)", width) else sprintf("%s + %s * sigmoid(u)", a, width)
}

# The domain as words: open for start values, closed for fixed values.
transform_domain <- function(tr, closed = FALSE) {
  a <- format(tr$lower); b <- format(tr$upper)
  if (tr$upper == Inf) {
    if (tr$lower == 0) return(if (closed) "non-negative" else "positive")
    return(sprintf(if (closed) "at least %s" else "greater than %s", a))
  }
  if (tr$lower == -Inf) return(sprintf(if (closed) "at most %s" else "less than %s", b))
  sprintf(if (closed) "in [%s, %s]" else "in (%s, %s)", a, b)
}

in_domain <- function(tr, theta, closed = FALSE) {
  ok <- if (closed) theta >= tr$lower & theta <= tr$upper else theta > tr$lower & theta < tr$upper
  !is.na(ok) & ok
}

# Applies fun(transform, numbers of one parameter) to a flat parameter vector.
map_parameters <- function(spec, x, fun) {
  parts <- split_parameters(x, spec$layout)
  as.double(base::unlist(Map(function(name, part) fun(spec$transforms[[name]], as.double(part)),
                       spec$layout$names, parts), use.names = FALSE))
}

# Checks that the elements `at` of the natural-scale vector x lie in their
# parameters' domains; `what` is "start" (open domain) or "fixed" (closed).
check_domains <- function(spec, x, at, what) {
  layout <- spec$layout
  owner <- rep(layout$names, layout$sizes)
  for (i in which(at)) {
    tr <- spec$transforms[[owner[i]]]
    if (is_identity(tr)) next
    if (!in_domain(tr, x[i], closed = what == "fixed")) {
      stop(sprintf("fit: %s value of %s must be %s, got %s", what, layout$labels[i],
                   transform_domain(tr, closed = what == "fixed"), format(x[i])), call. = FALSE)
    }
  }
  invisible(x)
}

# The optimiser's starting point (working scale) from natural-scale values
# of the free elements.
working_start <- function(spec, start) {
  if (is_plain_spec(spec)) return(as.double(start))
  full <- spec$layout$start
  full[spec$free] <- start
  check_domains(spec, full, spec$free, "start")
  u <- map_parameters(spec, full, transform_inverse)[spec$free]
  bad <- which(!is.finite(u) & is.finite(start) & !vapply(spec$transforms, is_identity, logical(1))[
    rep(spec$layout$names, spec$layout$sizes)][spec$free])
  if (length(bad)) {
    label <- spec$layout$labels[spec$free][bad[1]]
    stop(sprintf("fit: start value of %s is too close to the bound of its transform", label), call. = FALSE)
  }
  u
}

# The same model on the working scale, as a spec without transforms: its
# parameters are the u's, its log-likelihood applies the transforms and calls
# the user's. `fit$working` is built on it, so refit() and delta_method()
# work there too.
working_spec <- function(spec) {
  if (!has_transforms(spec)) return(spec)
  layout <- spec$layout
  u_full <- map_parameters(spec, layout$start, transform_inverse)
  params <- split_parameters(u_full, layout)
  fixed <- NULL
  for (name in names(spec$fixed)) fixed[[name]] <- u_full[fixed_positions(name, layout)]
  # A sharded model's workers build the same log-likelihood from their
  # shards (shard_worker_configure()): they are told the transforms.
  shards <- spec$shards
  if (!is.null(shards)) {
    shards$outer <- list(transforms = spec$transforms, names = layout$names, positional = layout$positional)
  }
  fit_spec(working_loglik(spec$invoke, spec$transforms), params, spec$method, spec$control, fixed, spec$nobs,
           weights = spec$weights, shards = shards)
}

# The log-likelihood of the working parameters u (by name): the transforms
# applied to them, then `invoke`, the natural-scale log-likelihood's caller.
working_loglik <- function(invoke, transforms) {
  force(invoke)
  force(transforms)
  function(...) {
    values <- list(...)
    invoke(Map(function(name, v) transform_forward(transforms[[name]], v), names(values), values))
  }
}

# A covariance of the working-scale parameters u mapped to the natural
# scale at u: D V D with D = diag(d theta / d u) over the free parameters.
natural_vcov <- function(vcov_u, spec, u) {
  free <- spec$free
  d <- map_parameters(spec, u, transform_derivative)[free]
  vcov_u[free, free] <- vcov_u[free, free] * outer(d, d)
  vcov_u
}

# Turns the working-scale femtofit into the natural-scale one: theta = T(u)
# elementwise, so the Jacobian is diagonal, D = diag(d theta / d u), and
# vcov = D V_u D, observed information = D^-1 I_u D^-1 (exact at a
# stationary point), gradient = D^-1 g_u.
natural_femtofit <- function(working, spec) {
  free <- spec$free
  u <- unname(working$coefficients)
  d <- map_parameters(spec, u, transform_derivative)[free]
  coefficients <- spec$layout$start
  coefficients[free] <- map_parameters(spec, u, transform_forward)[free]
  out <- working
  out$coefficients <- stats::setNames(coefficients, names(working$coefficients))
  out$vcov <- natural_vcov(working$vcov, spec, u)
  if (!is.null(working$hessian)) out$hessian <- working$hessian / outer(d, d)
  out$gradient <- working$gradient / d
  out$spec <- spec
  out$transforms <- base::unlist(Map(function(name, tr) sprintf("%s = %s", name, transform_formula(tr, name)),
                               names(spec$transforms), spec$transforms)[!vapply(spec$transforms, is_identity, logical(1))])
  out$working <- working
  warn_on_boundary(out, spec, u, working$gradient, working$hessian)
  out
}

# A transform maps onto an open interval, so an estimate whose likelihood
# keeps increasing towards a bound (a probability of 1 from all-ones data, a
# rate of 0 from all-zero counts) is found as u running off to infinity
# until the transform's derivative vanishes, and looks converged with tiny
# standard errors. This warns, as glm() does for fitted probabilities of 0
# or 1. An element counts as on the boundary when, with the others held at
# their estimates, the natural-scale Newton step g / |H| (g and H the first
# and second derivatives in theta) reaches beyond the bound it points to:
# at an interior maximum that step is rounding error, far smaller than the
# distance to a bound.
warn_on_boundary <- function(fit, spec, u, gradient_u, hessian_u) {
  if (is.null(hessian_u)) return(invisible(NULL))
  free <- spec$free
  owner <- rep(spec$layout$names, spec$layout$sizes)[free]
  theta <- unname(fit$coefficients[free])
  d1 <- map_parameters(spec, u, transform_derivative)[free]
  d2 <- map_parameters(spec, u, transform_second_derivative)[free]
  g <- unname(gradient_u) / d1
  h <- (diag(hessian_u) - g * d2) / d1^2   # H_u = d1^2 H_theta + g d2
  bound <- ifelse(g > 0, vapply(owner, function(n) spec$transforms[[n]]$upper, numeric(1)),
                  vapply(owner, function(n) spec$transforms[[n]]$lower, numeric(1)))
  gap <- abs(bound - theta)
  on_boundary <- !vapply(spec$transforms[owner], is_identity, logical(1)) & is.finite(bound) &
    is.finite(g) & g != 0 & !(abs(g) <= abs(h) * gap)
  if (any(on_boundary)) {
    at <- which(on_boundary)
    where <- vapply(at, function(i) {
      sprintf("%s = %s, the transform keeps it %s", spec$layout$labels[free][i], format(bound[i]),
              transform_domain(spec$transforms[[owner[i]]]))
    }, character(1))
    warning(sprintf(paste0("fit: the estimate is on the boundary of the parameter space (%s): the log-likelihood ",
                           "still increases towards it, so the maximum is not an interior point and standard ",
                           "errors, Wald intervals and tests for %s are not valid"),
                    paste(where, collapse = "; "), if (length(at) == 1L) "it" else "them"), call. = FALSE)
  }
  invisible(NULL)
}
