#' femtograd: exact derivatives and maximum likelihood for plain R code
#'
#' femtograd records ordinary R arithmetic on [val()] objects as a graph in a
#' Rust engine and differentiates it exactly: reverse mode for gradients,
#' forward-over-reverse for Hessians. On top of that, [fit()] maximises a
#' log-likelihood written as a plain R function and reports standard errors
#' from the observed Fisher information.
#'
#' @section Values and gradients:
#' [val()], [is_value()], [value_of()], [backward()], [grad()], [zero_grad()].
#' Operations on values (see [value-operations]): `+ - * / ^`, `exp`, `log`,
#' `log1p`, `expm1`, `sqrt`, `abs`, trigonometric and hyperbolic functions,
#' `lgamma`, `digamma`, `sum`, `mean`, `prod`, `%*%`, `t()`, `crossprod()`,
#' `x[i]`; the stable helpers [sigmoid()], [softplus()], [log_sigmoid()],
#' [logit()], [logsumexp()].
#'
#' @section Derivatives of functions:
#' [gradient()], [hessian()], [hessian_vector()], [jacobian()]; forward mode
#' by hand with dual numbers: [dual()], [primal()], [tangent()], [is_dual()].
#'
#' @section Maximum likelihood:
#' [fit()] with methods `"newton"`, `"bfgs"`, `"lbfgs"`, `"gradient"`; on its
#' result: `coef()`, `vcov()` (also `type = "sandwich"`, robust to
#' misspecification), [se()], `confint()`, `logLik()`, `AIC()`, `BIC()`,
#' `nobs()`, `summary()`, [observed_info()] (see [femtofit-methods]);
#' [bootstrap()] resamples the observations and refits, with `confint()`,
#' `se()` and `vcov()` of its result. Constrained parameters on their
#' natural scale with `fit(transform = )`: `"positive"`, `"probability"`,
#' [bounded()]. Standard errors of functions of the parameters:
#' [delta_method()]. Fused log-likelihood kernels ([loglik]):
#' [loglik_normal()], [loglik_exponential()], [loglik_poisson()],
#' [loglik_binomial()], [loglik_bernoulli()], [loglik_gamma()],
#' [loglik_beta()], [loglik_negbinom()], [loglik_weibull()],
#' [loglik_pareto()], [loglik_logistic()], [loglik_poisson_log()],
#' [loglik_lognormal()], [loglik_t()], [loglik_logis()],
#' [loglik_negbinom_mu()], [loglik_zip()], [loglik_zinb()],
#' [loglik_betabinom()].
#'
#' @section Profiles and tests:
#' [profile.femtofit()] and [plot.femtoprofile()] for profile
#' log-likelihoods; `confint(method = "profile")` for likelihood-ratio
#' intervals; [lrt()], [wald_test()] and [score_test()] for the three
#' classical tests, and [anova.femtofit()] for a table of nested fits.
#'
#' @section Learning more:
#' `vignette("computational-graphs", package = "femtograd")` explains how
#' automatic differentiation works, with this package's own numbers.
#'
#' @keywords internal
#' @useDynLib femtograd, .registration = TRUE
#' @importFrom methods setOldClass setMethod show
#' @importFrom stats coef vcov confint logLik nobs AIC BIC
"_PACKAGE"

# The engine's per-operation entry points (see src/rust/src/native.rs),
# called with .Call from Ops, Math, length and dim of values.
.native <- new.env(parent = emptyenv())

.onLoad <- function(libname, pkgname) {
  routines <- fg_native_routines()
  for (name in names(routines)) assign(name, routines[[name]], envir = .native)
}

.onAttach <- function(libname, pkgname) mark_conflicts_ok(pkgname)
