# The loglik_*() kernels written as sums of stats' densities, for joint
# densities with random effects (R/laplace.R). The Laplace approximation's
# exact gradient and Hessian need third and fourth derivatives, which come
# from directional derivatives recorded as operations; the fused kernels
# have no such rule, but the d-functions' formulas are ordinary operations.
# So while a joint density is recorded (without_density_kernels()), a
# loglik_*() call records the sum its kernel stands for.
kernel_formulas <- list(
  normal = function(p, x, size) dnorm(x, p[[1]], p[[2]], log = TRUE),
  exponential = function(p, x, size) dexp(x, p[[1]], log = TRUE),
  poisson = function(p, x, size) dpois(x, p[[1]], log = TRUE),
  binomial = function(p, x, size) dbinom(x, size, p[[1]], log = TRUE),
  bernoulli = function(p, x, size) dbinom(x, 1, p[[1]], log = TRUE),
  gamma = function(p, x, size) dgamma(x, p[[1]], p[[2]], log = TRUE),
  beta = function(p, x, size) dbeta(x, p[[1]], p[[2]], log = TRUE),
  negbinom = function(p, x, size) dnbinom(x, size = p[[1]], prob = p[[2]], log = TRUE),
  negbinom_mu = function(p, x, size) dnbinom(x, size = p[[1]], mu = p[[2]], log = TRUE),
  weibull = function(p, x, size) dweibull(x, p[[1]], p[[2]], log = TRUE),
  lognormal = function(p, x, size) dlnorm(x, p[[1]], p[[2]], log = TRUE),
  logis = function(p, x, size) dlogis(x, p[[1]], p[[2]], log = TRUE),
  t = function(p, x, size) dt((x - p[[1]]) / p[[2]], p[[3]], log = TRUE) - log(p[[2]])
)

kernel_as_formula <- function(name, params, x, size) {
  formula <- kernel_formulas[[name]]
  if (is.null(formula)) {
    stop(sprintf(paste("loglik_%s: inside a joint density with random effects this kernel is not available",
                       "(the Laplace approximation needs derivatives it has no rule for);",
                       "write the log-density with arithmetic and stats' d-functions"), name), call. = FALSE)
  }
  # the kernels' own rules for the data: NA is refused, not summed
  if (anyNA(x)) stop(sprintf("loglik_%s: x has NA", name), call. = FALSE)
  sum(formula(params, as.double(x), size))
}
