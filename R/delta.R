# The delta method with an exact Jacobian: g is evaluated on the fit's own
# parameter leaves, so the engine differentiates it like the log-likelihood.

#' Standard errors of functions of the parameters (delta method)
#'
#' `delta_method()` estimates `g(theta)` at the maximum-likelihood estimate
#' of a [fit()] and its covariance `J V J'`, where `V` is the covariance of
#' the free parameters and `J` the Jacobian of `g` with respect to them. `J`
#' is exact: `g` is evaluated once on femtograd values and differentiated by
#' the engine, as the log-likelihood is. Fixed parameters enter `g` as
#' constants. For a fit with `transform`, `g` receives the parameters on
#' their natural scale (as the log-likelihood does), and is differentiated
#' with respect to the optimiser's unconstrained parameters and their
#' covariance (equivalently, the natural-scale ones).
#'
#' @param fit A `femtofit` from [fit()] (or its `working` element).
#' @param g A function of the parameters, written like the log-likelihood:
#'   taking them by name (`function(mu, log_sigma)`, or only those it
#'   needs, `function(log_sigma)`) or as one list (`function(p)`). It returns
#'   a femtograd value (scalar, vector or matrix, flattened column-major), or
#'   a list of them such as `c(cv = mu / sigma, var = sigma^2)`. A result
#'   that is a plain number does not depend on the parameters: its standard
#'   error is zero, with a warning.
#' @param level Confidence level of the Wald intervals that `print()` shows.
#' @param object,x A `femtodelta`.
#' @param parm Elements (names or indices) for `confint()`; all by default.
#' @param digits Significant digits to print.
#' @param ... Unused.
#' @return An object of class `femtodelta`: a list with `estimate` (named
#'   numeric), `vcov` (its covariance matrix), `jacobian` (of `g` with
#'   respect to the free parameters, natural scale, one row per element),
#'   `level` and `call`. Its elements are named from `g`'s result (list
#'   names, or names of a plain numeric), else `g` for a scalar and `g1`,
#'   `g2`, ... for a vector. Methods: `print()` (estimate, standard error
#'   and Wald interval), `coef()`, `vcov()`, [se()], `confint()`.
#' @examples
#' set.seed(42); x <- rnorm(200, mean = 5, sd = 2)
#' res <- fit(function(mu, log_sigma) loglik_normal(mu, exp(log_sigma), x),
#'            params = c(mu = 0, log_sigma = 0))
#' # sigma and its standard error, sigma_hat / sqrt(2 n)
#' delta_method(res, function(log_sigma) exp(log_sigma))
#' # several functions at once, named
#' d <- delta_method(res, function(mu, log_sigma) {
#'   sigma <- exp(log_sigma)
#'   c(cv = sigma / mu, var = sigma^2)
#' })
#' coef(d); vcov(d); se(d); confint(d, "cv", level = 0.9)
#'
#' # a predicted probability from a logistic regression
#' X <- cbind(1, rnorm(200)); y <- rbinom(200, 1, plogis(X %*% c(-1, 1)))
#' lr <- fit(function(beta) loglik_logistic(beta, X, y), params = list(beta = c(0, 0)))
#' delta_method(lr, function(beta) sigmoid(sum(c(1, 0.5) * beta)))
#' @export
delta_method <- function(fit, g, level = 0.95) {
  if (!inherits(fit, "femtofit") || is.null(fit$spec)) {
    stop("delta_method: fit must be a femtofit returned by fit()", call. = FALSE)
  }
  if (!is.function(g)) stop("delta_method: g must be a function", call. = FALSE)
  check_level(level, "delta_method")
  spec <- fit$spec
  free <- spec$free
  working <- fit$working %||% fit
  u <- unname(working$coefficients[free])
  built <- build_parameters(spec, u)
  invoke <- loglik_caller(g, spec$layout$names, caller = "delta_method", what = "g", subset = TRUE)
  as_list <- list_argument_note(g, spec$layout$names)
  out <- tryCatch(invoke(built$values), error = function(e) {
    stop(sprintf("delta_method: g failed: %s%s", conditionMessage(e), as_list), call. = FALSE)
  })
  if (nzchar(as_list) && identical(out, built$values)) {
    # function(tau) tau with tau no parameter: g got every parameter as one
    # list and returned it, which would pass for a function of them all.
    stop(sprintf("delta_method: g returned the list of all parameters it was given%s", as_list), call. = FALSE)
  }
  pieces <- delta_pieces(out)
  n_free <- sum(free)
  constant <- character(0)
  rows <- lapply(pieces, function(piece) {
    if (is_value(piece$value)) return(rust(fg_jacobian(piece$value, built$leaves)))
    constant <<- c(constant, piece$names)
    matrix(0, length(piece$names), n_free)
  })
  if (length(constant)) {
    warning(sprintf(paste0("delta_method: g returned a plain number for %s, which does not depend on the ",
                           "parameters; its standard error is zero"), paste(constant, collapse = ", ")),
            call. = FALSE)
  }
  names_out <- base::unlist(lapply(pieces, `[[`, "names"), use.names = FALSE)
  estimate <- stats::setNames(base::unlist(lapply(pieces, function(piece) {
    as.double(if (is_value(piece$value)) value_of(piece$value) else piece$value)
  }), use.names = FALSE), names_out)
  J_u <- do.call(rbind, rows)
  V_u <- working$vcov[free, free, drop = FALSE]
  vcov <- J_u %*% V_u %*% t(J_u)
  vcov <- (vcov + t(vcov)) / 2   # exactly symmetric
  dimnames(vcov) <- list(names_out, names_out)
  # dg/dtheta = dg/du / (dtheta/du): the transforms are elementwise.
  d <- map_parameters(spec, unname(working$coefficients), transform_derivative)[free]
  jac <- sweep(J_u, 2L, d, "/")
  dimnames(jac) <- list(names_out, spec$layout$labels[free])
  structure(list(estimate = estimate, vcov = vcov, jacobian = jac, level = level, call = match.call()),
            class = "femtodelta")
}

# When g takes the parameters as one list (its single argument is no
# parameter name), a note for errors saying so: a misspelt parameter name
# is the usual reason. Empty when g takes them by name.
list_argument_note <- function(g, names) {
  formal_names <- names(formals(g))
  if (length(formal_names) != 1L || formal_names %in% c(names, "...")) return("")
  sprintf(" (its argument '%s' is not a parameter name, so g receives all parameters as one list: %s)",
          formal_names, paste(names, collapse = ", "))
}

# g's result as a list of pieces, each a value or plain numbers with the
# names of its elements.
delta_pieces <- function(out) {
  ok <- function(x) is_value(x) || (is.numeric(x) && !is.object(x))
  describe <- function(x) paste(class(x), collapse = "/")
  if (ok(out)) {
    items <- list(out)
    list_names <- ""
  } else if (is.list(out) && length(out) > 0L) {
    for (i in seq_along(out)) {
      if (!ok(out[[i]])) {
        stop(sprintf("delta_method: element %d of g's result is an object of class '%s', not a femtograd value",
                     i, describe(out[[i]])), call. = FALSE)
      }
    }
    items <- out
    list_names <- names(out) %||% rep("", length(out))
  } else {
    stop(sprintf("delta_method: g must return a femtograd value (or a list of them), got an object of class '%s'",
                 describe(out)), call. = FALSE)
  }
  sizes <- vapply(items, length, integer(1))
  if (any(sizes == 0L)) stop("delta_method: g returned an empty result", call. = FALSE)
  ends <- cumsum(sizes)
  single <- length(items) == 1L && !nzchar(list_names[1])
  Map(function(item, name, size, end) {
    own <- names(item)
    nms <- if (nzchar(name)) {
      if (size == 1L) name else paste0(name, seq_len(size))
    } else if (!is.null(own) && length(own) == size && all(nzchar(own))) {
      own
    } else if (single) {
      if (size == 1L) "g" else paste0("g", seq_len(size))
    } else {
      paste0("g", (end - size + 1L):end)
    }
    list(value = item, names = nms)
  }, items, list_names, sizes, ends)
}

check_level <- function(level, caller) {
  if (!is.numeric(level) || length(level) != 1L || is.na(level) || level <= 0 || level >= 1) {
    stop(sprintf("%s: level must be a single number between 0 and 1", caller), call. = FALSE)
  }
  invisible(level)
}

# Wald intervals est +- z * se for the elements `parm`.
wald_confint <- function(est, s, parm, level, caller) {
  check_level(level, caller)
  parm <- resolve_parm(parm, names(est), caller)
  alpha <- (1 - level) / 2
  z <- stats::qnorm(1 - alpha)
  ci <- cbind(est[parm] - z * s[parm], est[parm] + z * s[parm])
  dimnames(ci) <- list(parm, interval_labels(level))
  ci
}

# The parameter names `parm` (names or positions; NULL for all) refers to.
resolve_parm <- function(parm, labels, caller) {
  if (is.null(parm)) return(labels)
  if (is.numeric(parm)) {
    bad <- parm[parm < 1 | parm > length(labels) | parm != round(parm)]
    if (length(bad)) {
      stop(sprintf("%s: parameter index %s out of range (there %s)", caller,
                   paste(bad, collapse = ", "),
                   if (length(labels) == 1L) "is 1 parameter" else sprintf("are %d parameters", length(labels))),
           call. = FALSE)
    }
    return(labels[parm])
  }
  unknown <- setdiff(parm, labels)
  if (length(unknown)) stop(sprintf("%s: unknown parameter(s): %s", caller, paste(unknown, collapse = ", ")), call. = FALSE)
  parm
}

# Column names of a confidence interval matrix, as stats::confint makes them.
interval_labels <- function(level) {
  alpha <- (1 - level) / 2
  sprintf("%s %%", format(100 * c(alpha, 1 - alpha), trim = TRUE, scientific = FALSE, digits = 3))
}

#' @rdname delta_method
#' @export
coef.femtodelta <- function(object, ...) object$estimate

#' @rdname delta_method
#' @export
vcov.femtodelta <- function(object, ...) object$vcov

#' @rdname delta_method
#' @export
confint.femtodelta <- function(object, parm, level = object$level, ...) {
  wald_confint(object$estimate, se(object), if (missing(parm)) NULL else parm, level, "confint")
}

#' @rdname delta_method
#' @export
print.femtodelta <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  cat("Delta method (exact Jacobian by femtograd)\n\n")
  table <- cbind(Estimate = x$estimate, `Std. Error` = se(x), stats::confint(x))
  print(signif(table, digits))
  invisible(x)
}
