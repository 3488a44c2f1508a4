# Fused log-likelihood kernels: each is one node in the graph that computes
# the log-likelihood, its gradient and its Hessian in one pass over the data.

#' Fused log-likelihood kernels
#'
#' Each function returns the log-likelihood `sum(log f(x_i | theta))` as a
#' single femtograd node whose gradient and Hessian are computed in one pass
#' over the data with numerically stable formulas. Parameters may be
#' femtograd values (scalars, or vectors with one entry per observation such
#' as a linear predictor) or plain numbers. Each equals the corresponding
#' `sum(d<dist>(..., log = TRUE))`.
#'
#' Data outside the support (negative counts, `x` outside (0, 1) for the
#' beta, `y` not 0/1 for the Bernoulli, ...) is an error naming the function
#' and the first offending index. A parameter outside its domain gives
#' `-Inf`, so optimisers can step back from it.
#'
#' `loglik_logistic(beta, X, y)` is logistic regression with linear
#' predictor `X %*% beta`; `loglik_poisson_log(beta, X, y)` is Poisson
#' regression with log link; `loglik_logistic(beta, X, y, size = m)` is the
#' grouped logistic regression of `y` successes out of `m` trials, as
#' `glm(cbind(y, m - y) ~ ..., binomial)`. `loglik_polr(eta, zeta, y)` is
#' the ordinal logistic (proportional odds) regression of `MASS::polr()`:
#' `P(y <= k) = plogis(zeta[k] - eta)` for `y` an (ordered) factor or
#' categories `1..K`, one node with exact derivatives in `eta` and `zeta`.
#' `loglik_logistic()` and `loglik_poisson_log()` take an `offset`, a known term of each
#' observation's linear predictor (`X %*% beta + offset`), as `glm()`'s
#' `offset()` (for a Poisson rate per exposure, `offset = log(exposure)`).
#'
#' More families, each equal to the R expression given:
#' * `loglik_lognormal(meanlog, sdlog, x)`: `sum(dlnorm(x, meanlog, sdlog, log = TRUE))`.
#' * `loglik_t(location, scale, df, x)`: Student's t with location and
#'   scale, `sum(dt((x - location) / scale, df, log = TRUE) - log(scale))`
#'   (`df = Inf` is the normal).
#' * `loglik_logis(location, scale, x)`: `sum(dlogis(x, location, scale, log = TRUE))`.
#' * `loglik_negbinom_mu(size, mu, x)`: the negative binomial by its mean,
#'   `sum(dnbinom(x, size = size, mu = mu, log = TRUE))` (variance
#'   `mu + mu^2 / size`, as in `MASS::glm.nb` with `theta = size`), accurate
#'   for small `mu` and huge `size` (near the Poisson) in value and derivatives.
#' * `loglik_zip(pi, lambda, x)`: zero-inflated Poisson, a structural zero
#'   with probability `pi`: `log(pi + (1 - pi) * dpois(0, lambda))` for
#'   each zero, `log(1 - pi) + dpois(x, lambda, log = TRUE)` otherwise
#'   (`pscl::zeroinfl(dist = "poisson")`).
#' * `loglik_zinb(pi, size, mu, x)`: zero-inflated negative binomial, the
#'   same with `dnbinom(x, size = size, mu = mu)` (`pscl::zeroinfl(dist =
#'   "negbin")`, `theta = size`).
#' * `loglik_betabinom(alpha, beta, x, size)`: beta-binomial, `x` successes
#'   of `size` trials with a Beta(alpha, beta) success probability:
#'   `sum(lchoose(size, x) + lbeta(x + alpha, size - x + beta) - lbeta(alpha, beta))`.
#'
#' @param mu,sigma Normal mean and standard deviation; for
#'   `loglik_negbinom_mu` and `loglik_zinb`, `mu` is the negative binomial
#'   mean.
#' @param meanlog,sdlog Mean and standard deviation of `log(x)` (lognormal).
#' @param location,scale Location and scale (t, logistic).
#' @param df Degrees of freedom (t), positive, need not be an integer.
#' @param rate Rate (exponential, gamma).
#' @param lambda Poisson mean (Poisson, zero-inflated Poisson).
#' @param pi Probability of a structural zero (zero-inflated models).
#' @param p Success probability (binomial, Bernoulli, negative binomial).
#' @param size Number of trials (binomial, beta-binomial, grouped
#'   logistic regression); for
#'   `loglik_negbinom_mu` and `loglik_zinb`, the negative binomial size
#'   (dispersion, `theta` of `MASS::glm.nb`), positive and not necessarily
#'   an integer.
#' @param shape Shape (gamma, Weibull).
#' @param alpha,beta Beta-distribution shapes (beta, beta-binomial); for
#'   `loglik_pareto`, `alpha` is the tail index. For the regressions,
#'   `beta` is the coefficient vector.
#' @param eta,zeta For `loglik_polr`: the linear predictor (one value per
#'   observation, e.g. `drop(X %*% beta)` without an intercept column, or
#'   one shared value) and the increasing cut points.
#' @param offset For the regressions: `NULL` or one number per observation
#'   added to the linear predictor.
#' @param r Number of successes (negative binomial size, may be non-integer).
#' @param x_min Pareto scale (lower bound of the support).
#' @param x Observations.
#' @param X Design matrix (n x p).
#' @param y Responses.
#' @return A scalar femtograd value (a plain number when no argument is a
#'   value).
#' @examples
#' set.seed(1)
#' x <- rnorm(50, 2, 3)
#' loglik_normal(2, 3, x)
#' sum(dnorm(x, 2, 3, log = TRUE))
#' mu <- val(2)
#' ll <- loglik_normal(mu, 3, x)
#' backward(ll)
#' grad(mu)
#'
#' # the families beyond the first twelve
#' loglik_lognormal(0.5, 1.2, exp(x / 3))
#' loglik_t(2, 3, df = 4, x)
#' loglik_logis(2, 1.5, x)
#' counts <- c(0, 0, 3, 1, 0, 7, 2, 0, 0, 4)
#' loglik_negbinom_mu(size = 1.5, mu = 2, counts)
#' sum(dnbinom(counts, size = 1.5, mu = 2, log = TRUE))
#' loglik_zip(pi = 0.3, lambda = 2.5, counts)
#' loglik_zinb(pi = 0.2, size = 1.5, mu = 2.5, counts)
#' loglik_betabinom(2, 3, x = c(0, 4, 2, 5), size = 5)
#' # a zero-inflated Poisson fit, both parameters on unconstrained scales
#' fit(function(logit_pi, log_lambda) loglik_zip(plogis(logit_pi), exp(log_lambda), counts),
#'     params = c(logit_pi = 0, log_lambda = 0))
#' @name loglik
NULL

kernel <- function(name, params, x, size = NULL, form = "counted") {
  caller <- paste0("loglik_", name)
  check_data(x, caller, "x")
  if (!is.null(size)) check_data(size, caller, "size")
  any_value <- any(vapply(params, is_value, logical(1)))
  if (any_value && form == "counted" && !density_kernels$enabled) {
    return(kernel_as_formula(name, params, x, size))   # R/kernel-formulas.R
  }
  nodes <- lapply(params, as_node, caller = caller)
  # the other forms stand in for densities written in R, which the
  # bootstrap's weights never reach (see density_node())
  weights <- if (form == "counted") kernel_weights$current
  out <- wrap_node(fg_kernel(name, nodes, as_doubles(x), if (is.null(size)) NULL else as.double(size),
                             if (is.null(weights)) NULL else as.double(weights), form))
  if (any_value) out else value_of(out)
}

# Observation weights for the kernels. The bootstrap refits a model to
# resampled observations, given as multinomial counts w_i (the kernels then
# compute sum_i w_i log f(x_i)). But the observations are the user's: the
# log-likelihood function calls loglik_normal(mu, sigma, x) with its own x,
# and no argument of fit() reaches that call. So the weights of the model
# being recorded are set here, and kernel() hands them to every kernel it
# records. record_loglik() sets them for exactly one call of the user's
# function and restores the previous ones with on.exit, so an error, a
# nested fit or any other kernel call outside a refit never sees them.
kernel_weights <- new.env(parent = emptyenv())
kernel_weights$current <- NULL

with_kernel_weights <- function(weights, code) {
  previous <- kernel_weights$current
  kernel_weights$current <- weights
  on.exit(kernel_weights$current <- previous, add = TRUE)
  code
}

check_data <- function(x, caller, what) {
  if (is_value(x) || !is.numeric(x)) {
    stop(sprintf("%s: %s must be plain numeric data, got an object of class '%s'",
                 caller, what, paste(class(x), collapse = "/")), call. = FALSE)
  }
}

#' @rdname loglik
#' @export
loglik_normal <- function(mu, sigma, x) kernel("normal", list(mu, sigma), x)

#' @rdname loglik
#' @export
loglik_exponential <- function(rate, x) kernel("exponential", list(rate), x)

#' @rdname loglik
#' @export
loglik_poisson <- function(lambda, x) kernel("poisson", list(lambda), x)

#' @rdname loglik
#' @export
loglik_binomial <- function(p, x, size) kernel("binomial", list(p), x, size)

#' @rdname loglik
#' @export
loglik_bernoulli <- function(p, x) kernel("bernoulli", list(p), x)

#' @rdname loglik
#' @export
loglik_gamma <- function(shape, rate, x) kernel("gamma", list(shape, rate), x)

#' @rdname loglik
#' @export
loglik_beta <- function(alpha, beta, x) kernel("beta", list(alpha, beta), x)

#' @rdname loglik
#' @export
loglik_negbinom <- function(r, p, x) kernel("negbinom", list(r, p), x)

#' @rdname loglik
#' @export
loglik_weibull <- function(shape, scale, x) kernel("weibull", list(shape, scale), x)

#' @rdname loglik
#' @export
loglik_pareto <- function(alpha, x_min, x) kernel("pareto", list(alpha, x_min), x)

#' @rdname loglik
#' @export
loglik_lognormal <- function(meanlog, sdlog, x) kernel("lognormal", list(meanlog, sdlog), x)

#' @rdname loglik
#' @export
loglik_t <- function(location, scale, df, x) kernel("t", list(location, scale, df), x)

#' @rdname loglik
#' @export
loglik_logis <- function(location, scale, x) kernel("logis", list(location, scale), x)

#' @rdname loglik
#' @export
loglik_negbinom_mu <- function(size, mu, x) kernel("negbinom_mu", list(size, mu), x)

#' @rdname loglik
#' @export
loglik_zip <- function(pi, lambda, x) kernel("zip", list(pi, lambda), x)

#' @rdname loglik
#' @export
loglik_zinb <- function(pi, size, mu, x) kernel("zinb", list(pi, size, mu), x)

#' @rdname loglik
#' @export
loglik_betabinom <- function(alpha, beta, x, size) kernel("betabinom", list(alpha, beta), x, size)

#' @rdname loglik
#' @export
loglik_logistic <- function(beta, X, y, offset = NULL, size = NULL) {
  regression("bernoulli_logit", beta, X, y, offset, size)
}

#' @rdname loglik
#' @export
loglik_poisson_log <- function(beta, X, y, offset = NULL) regression("poisson_log", beta, X, y, offset)

#' @rdname loglik
#' @export
loglik_polr <- function(eta, zeta, y) {
  caller <- "loglik_polr"
  levels <- if (is.factor(y)) nlevels(y) else length(zeta) + 1L
  if (is.factor(y)) y <- as.integer(y)
  check_data(y, caller, "y")
  if (length(zeta) != levels - 1L) {
    stop(sprintf("%s: zeta has length %d but y has %d categories (needs %s)", caller,
                 length(zeta), levels, count_of(levels - 1L, "cut point")), call. = FALSE)
  }
  any_value <- is_value(eta) || is_value(zeta)
  weights <- kernel_weights$current
  out <- wrap_node(fg_ordinal(as_node(eta, caller), as_node(zeta, caller), as.double(y), as.integer(levels),
                              if (is.null(weights)) NULL else as.double(weights)))
  if (any_value) out else value_of(out)
}

# The kernel on the linear-predictor scale at eta = X %*% beta, recorded as
# one node: its derivatives need only X' g and X' diag(h) X, from one pass
# over X, where X %*% beta and the kernel as two nodes would carry n x p
# tangents through the product.
regression <- function(name, beta, X, y, offset = NULL, size = NULL) {
  caller <- if (name == "bernoulli_logit") "loglik_logistic" else "loglik_poisson_log"
  if (is_value(X) || !is.numeric(X) || !is.matrix(X)) {
    stop(sprintf("%s: X must be a numeric design matrix", caller), call. = FALSE)
  }
  if (length(beta) != ncol(X)) {
    stop(sprintf("%s: beta has length %d but X has %s", caller, length(beta), count_of(ncol(X), "column")), call. = FALSE)
  }
  if (length(y) != nrow(X)) {
    stop(sprintf("%s: y has length %d but X has %s", caller, length(y), count_of(nrow(X), "row")), call. = FALSE)
  }
  if (name == "bernoulli_logit" && is.logical(y) && !is.object(y)) y <- as.double(y)   # TRUE/FALSE as glm takes them
  check_data(y, caller, "y")
  if (!is.null(offset)) {
    check_data(offset, caller, "offset")
    if (length(offset) != nrow(X)) {
      stop(sprintf("%s: offset has length %d but X has %s", caller, length(offset), count_of(nrow(X), "row")), call. = FALSE)
    }
  }
  if (!is.null(size)) check_data(size, caller, "size")
  node <- as_node(beta, caller)
  weights <- kernel_weights$current
  out <- wrap_node(fg_regression(name, node, as_doubles(X), dim(X), as_doubles(y),
                                 if (is.null(size)) NULL else as.double(size),
                                 if (is.null(offset)) NULL else as.double(offset),
                                 if (is.null(weights)) NULL else as.double(weights)))
  if (is_value(beta)) out else value_of(out)
}
