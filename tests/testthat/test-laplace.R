# Random effects by the Laplace approximation (fit(random = )): against
# lme4 and glmmTMB on the models users compare with, and the exact outer
# gradient and Hessian against numDeriv's differences of the Laplace
# objective itself.

sleepstudy_joint <- function() {
  data("sleepstudy", package = "lme4", envir = environment())
  y <- sleepstudy$Reaction
  days <- sleepstudy$Days
  subject <- as.integer(sleepstudy$Subject)
  function(b0, b1, log_sigma, log_tau0, log_tau1, u0, u1) {
    eta <- b0 + b1 * days + u0[subject] + u1[subject] * days
    sum(dnorm(y, eta, exp(log_sigma), log = TRUE)) + sum(dnorm(u0, 0, exp(log_tau0), log = TRUE)) +
      sum(dnorm(u1, 0, exp(log_tau1), log = TRUE))
  }
}
sleepstudy_start <- list(b0 = 250, b1 = 10, log_sigma = log(30), log_tau0 = log(20), log_tau1 = log(5),
                         u0 = rep(0, 18), u1 = rep(0, 18))

cbpp_joint <- function() {
  data("cbpp", package = "lme4", envir = environment())
  X <- stats::model.matrix(~ period, cbpp)
  herd <- as.integer(cbpp$herd)
  function(beta, log_tau, u) {
    eta <- drop(X %*% beta) + u[herd]
    sum(dbinom(cbpp$incidence, cbpp$size, plogis(eta), log = TRUE)) + sum(dnorm(u, 0, exp(log_tau), log = TRUE))
  }
}

test_that("a linear mixed model's Laplace fit is lmer's maximum likelihood fit", {
  skip_if_not_installed("lme4")
  res <- fit(sleepstudy_joint(), sleepstudy_start, random = c("u0", "u1"))
  m <- lme4::lmer(Reaction ~ Days + (Days || Subject), lme4::sleepstudy, REML = FALSE,
                  control = lme4::lmerControl(optimizer = "bobyqa", optCtrl = list(rhobeg = 0.2, rhoend = 1e-10)))
  # the Laplace approximation is exact for a linear mixed model
  expect_equal(as.numeric(logLik(res)), as.numeric(logLik(m)), tolerance = 1e-6)
  expect_equal(unname(coef(res)[c("b0", "b1")]), unname(lme4::fixef(m)), tolerance = 1e-5)
  vc <- as.data.frame(lme4::VarCorr(m))
  expect_equal(unname(exp(coef(res)[c("log_tau0", "log_tau1", "log_sigma")])), vc$sdcor, tolerance = 1e-5)
  # the modes and their conditional standard errors: lme4's conditional modes and condVar
  re <- lme4::ranef(m, condVar = TRUE)$Subject
  ours <- ranef(res)
  expect_equal(ours$mode, c(re[["(Intercept)"]], re[["Days"]]), tolerance = 1e-4)
  cond_var <- attr(re, "postVar")   # one 1 x 1 x 18 array per term of (Days || Subject)
  expect_equal(ours$se, sqrt(c(cond_var[[1]][1, 1, ], cond_var[[2]][1, 1, ])), tolerance = 1e-4)
  expect_identical(ours$term[c(1, 19)], c("u01", "u11"))
})

test_that("a binomial GLMM's Laplace fit is glmmTMB's, and within lme4's own accuracy of glmer's", {
  skip_if_not_installed("glmmTMB")
  skip_if_not_installed("lme4")
  res <- fit(cbpp_joint(), list(beta = c(0, 0, 0, 0), log_tau = 0, u = rep(0, 15)), random = "u")
  # recorded once: every inner Newton step and outer evaluation replayed it
  expect_identical(res$recordings, 1L)
  tmb <- glmmTMB::glmmTMB(cbind(incidence, size - incidence) ~ period + (1 | herd), lme4::cbpp, family = binomial)
  expect_equal(as.numeric(logLik(res)), as.numeric(logLik(tmb)), tolerance = 1e-7)
  expect_equal(unname(coef(res)[1:4]), unname(glmmTMB::fixef(tmb)$cond), tolerance = 1e-5)
  expect_equal(unname(coef(res)[["log_tau"]]), log(attr(glmmTMB::VarCorr(tmb)$cond$herd, "stddev")[[1]]),
               tolerance = 1e-5)
  # glmmTMB's standard errors come from its Hessian of the Laplace objective
  expect_equal(unname(se(res)[1:4]), unname(sqrt(diag(vcov(tmb)$cond))), tolerance = 1e-5)
  # glmer's deviance function, evaluated at glmer's estimates, differs from
  # the Laplace approximation there by about 3e-4 (its penalised iteratively
  # reweighted least squares stops early); femtograd's objective at the same
  # point agrees to that, and its maximum is no lower
  m <- lme4::glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), lme4::cbpp, binomial)
  at_glmer <- femtograd:::laplace_evaluate(res$spec, c(unname(lme4::fixef(m)),
                                                       log(attr(lme4::VarCorr(m)$herd, "stddev")[[1]])),
                                           0L, "test")$value
  expect_equal(at_glmer, as.numeric(logLik(m)), tolerance = 1e-3)
  expect_gte(as.numeric(logLik(res)), as.numeric(logLik(m)) - 1e-8)
})

test_that("the Laplace objective's gradient and Hessian are its exact derivatives", {
  skip_if_not_installed("numDeriv")
  res <- fit(cbpp_joint(), list(beta = c(0, 0, 0, 0), log_tau = 0, u = rep(0, 15)), random = "u")
  objective <- femtograd:::laplace_objective(res$spec)
  theta <- unname(coef(res)) + c(0.3, -0.2, 0.1, 0.25, -0.4)   # away from the maximum
  exact <- objective(theta, 2L)
  value <- function(t) objective(t, 0L)$value
  expect_equal(exact$gradient, numDeriv::grad(value, theta), tolerance = 1e-6)
  gradient <- function(t) objective(t, 1L)$gradient
  expect_equal(exact$hessian, numDeriv::jacobian(gradient, theta), tolerance = 1e-6)
  expect_equal(exact$hessian, numDeriv::hessian(value, theta), tolerance = 1e-5)
})

test_that("a fit with random effects says so, and refuses what it cannot do", {
  set.seed(3)
  g <- rep(1:6, each = 4)
  y <- rnorm(24, 1 + rnorm(6, sd = 0.5)[g], 0.4)
  joint <- function(mu, log_sigma, log_tau, u) {
    sum(dnorm(y, mu + u[g], exp(log_sigma), log = TRUE)) + sum(dnorm(u, 0, exp(log_tau), log = TRUE))
  }
  start <- list(mu = 0, log_sigma = 0, log_tau = 0, u = rep(0, 6))
  res <- fit(joint, start, random = "u", nobs = 24)
  expect_output(print(summary(res)), "Laplace approximation, integrating out 6 random effects")
  expect_output(print(res), "Laplace approximation")
  expect_true(is.finite(BIC(res)))
  # a profile interval and a likelihood-ratio test refit the Laplace objective
  ci <- confint(res, parm = "mu", method = "profile")
  expect_true(ci[1] < coef(res)[["mu"]] && coef(res)[["mu"]] < ci[2])
  reduced <- fit(joint, start, random = "u", fixed = c(mu = 1))
  expect_equal(lrt(reduced, res)$statistic[[1]], 2 * (res$loglik - reduced$loglik), tolerance = 1e-10)
  expect_error(vcov(res, type = "sandwich"), "Laplace")
  expect_error(bootstrap(res, R = 2), "random effects")
  expect_error(fit(joint, start, random = "v"), "not among params")
  expect_error(fit(joint, start, random = c("mu", "log_sigma", "log_tau", "u")), "every parameter")
  expect_error(fit(joint, start, random = "u", fixed = c(u1 = 0)), "cannot be fixed")
  expect_error(ranef(fit(function(mu) -(mu - 1)^2, c(mu = 0))), "no random effects")
  # a fused kernel has no rule for the third derivatives: a clear error
  kernel_joint <- function(mu, log_sigma, log_tau, u) {
    loglik_normal(mu + u[g], exp(log_sigma), y) + sum(dnorm(u, 0, exp(log_tau), log = TRUE))
  }
  expect_error(suppressWarnings(fit(kernel_joint, start, random = "u")), "loglik_normal|normal")
})
