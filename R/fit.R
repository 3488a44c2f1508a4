# Maximum likelihood: fit() records the user's log-likelihood at each point
# the Rust optimiser asks for, and packs the result into a "femtofit".

#' Fit a model by maximum likelihood
#'
#' `fit()` maximises a log-likelihood written as a plain R function. The
#' optimiser runs in Rust; at each new point it calls back into R only to
#' record the log-likelihood, then takes exact gradients and Hessians from
#' the recorded graph. Standard errors come from the observed Fisher
#' information (the negative Hessian at the optimum).
#'
#' The default method, `"newton"`, uses the exact Hessian with a
#' backtracking line search; where the Hessian is not negative definite it
#' takes a safeguarded step (eigenvalues of the negative Hessian replaced by
#' their absolute values), so it converges from poor starts. Steps into
#' points where the log-likelihood is `NaN` or `-Inf` are shortened, not
#' fatal. `"bfgs"` and `"lbfgs"` use gradients only; `"gradient"` is plain
#' steepest ascent (slow; for teaching).
#'
#' @param loglik The log-likelihood: a function taking the parameters by name
#'   (`function(mu, log_sigma)`) or as one list (`function(p)`), and returning
#'   a scalar femtograd value.
#' @param params Starting values: a named numeric vector (scalar parameters)
#'   or a named list of numeric vectors or matrices.
#' @param method One of `"newton"`, `"bfgs"`, `"lbfgs"`, `"gradient"`.
#' @param control A list of optimiser settings: `max_iter`, `gtol` (scaled
#'   gradient tolerance, default 1e-8), `ftol` (relative change in the
#'   log-likelihood, default 1e-12), `memory` (L-BFGS pairs, default 10),
#'   `max_halvings` (line-search shortenings, default 50).
#' @param nobs Number of observations, for `BIC()` and `nobs()`. By default
#'   it is read from the log-likelihood kernels (`loglik_normal()`, ...) the
#'   function used; `NA` if it used none.
#' @return An object of class `femtofit`, with methods for [coef()],
#'   [vcov()], [se()], [confint()], [logLik()], [AIC()], [BIC()], [nobs()],
#'   [summary()], [print()] and [observed_info()]. Its elements `gradient`
#'   (at the optimum), `hessian`, `iterations`, `evaluations`, `converged`,
#'   `message` and `method` hold the details.
#' @examples
#' set.seed(42); x <- rnorm(200, mean = 5, sd = 2)
#' res <- fit(function(mu, log_sigma) loglik_normal(mu, exp(log_sigma), x),
#'            params = c(mu = 0, log_sigma = 0))
#' se(res)
#' summary(res)
#'
#' # a vector parameter: logistic regression
#' X <- cbind(1, matrix(rnorm(400), 200)); y <- rbinom(200, 1, plogis(X %*% c(-1, 1, 0.5)))
#' coef(fit(function(beta) loglik_logistic(beta, X, y), params = list(beta = rep(0, 3))))
#' @export
fit <- function(loglik, params, method = c("newton", "bfgs", "lbfgs", "gradient"),
                control = list(), nobs = NULL) {
  call <- match.call()
  method <- match.arg(method)
  if (!is.function(loglik)) stop("fit: loglik must be a function", call. = FALSE)
  layout <- parameter_layout(params)
  if (!is.list(control)) stop("fit: control must be a list", call. = FALSE)
  invoke <- loglik_caller(loglik, layout$names)
  record <- function(theta) {
    leaves <- lapply(split_parameters(theta, layout), val)
    out <- tryCatch(invoke(leaves), error = function(e) e)
    if (inherits(out, "condition")) return(out)
    if (is.numeric(out) && !is_value(out) && length(out) == 1L) {
      out <- new_value(out, constant = TRUE, caller = "fit")   # does not depend on the parameters
    }
    if (!is_value(out) || length(out) != 1L) {
      return(simpleError(sprintf("loglik must return a scalar femtograd value, got %s",
                                 if (is_value(out)) sprintf("a value of length %d", length(out))
                                 else sprintf("an object of class '%s'", paste(class(out), collapse = "/")))))
    }
    list(output = out, params = leaves)
  }
  opt <- rust(fg_maximize(record, layout$start, method, control))
  labels <- layout$labels
  observations <- if (!is.null(nobs)) as.numeric(nobs) else opt$observations
  new_femtofit(opt, labels, layout, method, observations, call)
}

new_femtofit <- function(opt, labels, layout, method, observations, call) {
  hessian <- opt$hessian
  if (!is.null(hessian)) dimnames(hessian) <- list(labels, labels)
  vcov <- if (is.null(hessian)) NULL else rust(fg_inverse_spd(-hessian))
  if (is.null(vcov)) {
    warning("fit: the Hessian at the optimum is not negative definite (singular or indefinite); ",
            "standard errors are NA", call. = FALSE)
    vcov <- matrix(NA_real_, length(labels), length(labels))
  }
  dimnames(vcov) <- list(labels, labels)
  if (!opt$converged) {
    warning(sprintf("fit: the %s optimiser did not converge: %s", method, opt$message), call. = FALSE)
  }
  structure(list(
    coefficients = stats::setNames(opt$par, labels),
    vcov = vcov,
    loglik = opt$value,
    gradient = stats::setNames(opt$gradient, labels),
    hessian = hessian,
    iterations = opt$iterations,
    evaluations = opt$evaluations,
    converged = opt$converged,
    message = opt$message,
    method = method,
    nobs = observations,
    parameters = layout$shapes,
    call = call
  ), class = "femtofit")
}

# How the flat parameter vector the optimiser works on maps to the user's
# named parameters (with their shapes).
parameter_layout <- function(params) {
  if (is.numeric(params) && !is.list(params)) params <- as.list(params)
  if (!is.list(params) || length(params) == 0L) {
    stop("fit: params must be a named numeric vector or a named list of numeric vectors/matrices", call. = FALSE)
  }
  nms <- names(params)
  if (is.null(nms) || any(!nzchar(nms)) || anyDuplicated(nms)) {
    stop("fit: every parameter needs a distinct name, e.g. params = c(mu = 0, log_sigma = 0)", call. = FALSE)
  }
  for (name in nms) {
    if (!is.numeric(params[[name]]) || is_value(params[[name]]) || length(params[[name]]) == 0L) {
      stop(sprintf("fit: parameter '%s' must be a non-empty numeric vector or matrix of starting values", name),
           call. = FALSE)
    }
  }
  shapes <- lapply(params, function(p) if (is.matrix(p)) dim(p) else length(p))
  sizes <- vapply(params, length, integer(1))
  list(names = nms, shapes = shapes, sizes = sizes,
       start = as.double(unlist(params, use.names = FALSE)),
       labels = unlist(Map(function(name, n) if (n == 1L) name else paste0(name, seq_len(n)), nms, sizes),
                       use.names = FALSE))
}

split_parameters <- function(theta, layout) {
  ends <- cumsum(layout$sizes)
  out <- Map(function(shape, end, size) {
    v <- theta[(end - size + 1L):end]
    if (length(shape) == 2L) matrix(v, shape[1], shape[2]) else v
  }, layout$shapes, ends, layout$sizes)
  stats::setNames(out, layout$names)
}

# loglik(mu, log_sigma) takes the parameters by name; loglik(p) with one
# argument that is not a parameter name takes them as a list.
loglik_caller <- function(loglik, names) {
  formal_names <- names(formals(loglik))
  by_name <- all(names %in% formal_names) || "..." %in% formal_names
  if (by_name) return(function(leaves) do.call(loglik, leaves))
  if (length(formal_names) >= 1L) return(function(leaves) loglik(leaves))
  stop("fit: loglik must take the parameters by name or as one list argument", call. = FALSE)
}
