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

test_that("a binomial GLMM's Laplace fit is glmmTMB's and glmer's", {
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
  # glmer with its defaults stops its penalised iteratively reweighted least
  # squares early (tolPwrss = 1e-7): its log-likelihood is 2.8e-4 off the
  # Laplace approximation at its own estimates. Asked to converge, it is
  # femtograd's to 1e-8.
  m <- lme4::glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), lme4::cbpp, binomial,
                   control = lme4::glmerControl(tolPwrss = 1e-13, optimizer = "bobyqa",
                                                optCtrl = list(rhobeg = 2e-3, rhoend = 1e-10, maxfun = 1e5)))
  expect_equal(as.numeric(logLik(res)), as.numeric(logLik(m)), tolerance = 1e-9)   # measured 7e-11
  expect_equal(unname(coef(res)), c(unname(lme4::fixef(m)), log(attr(lme4::VarCorr(m)$herd, "stddev")[[1]])),
               tolerance = 1e-5)
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
  # a loglik_*() kernel inside the joint density records its formula
  kernel_joint <- function(mu, log_sigma, log_tau, u) {
    loglik_normal(mu + u[g], exp(log_sigma), y) + sum(dnorm(u, 0, exp(log_tau), log = TRUE))
  }
  with_kernel <- fit(kernel_joint, start, random = "u", nobs = 24)
  expect_equal(coef(with_kernel), coef(res), tolerance = 1e-8)
  expect_equal(se(with_kernel), se(res), tolerance = 1e-8)
  # one without a formula is refused with its name
  zip_joint <- function(mu, log_sigma, log_tau, u) {
    loglik_zip(0.2, exp(mu + u[g]), rpois(24, 2)) + sum(dnorm(u, 0, exp(log_tau), log = TRUE))
  }
  expect_error(suppressWarnings(fit(zip_joint, start, random = "u")), "loglik_zip: inside a joint density")
})

# Random effects that meet in terms: a random walk (each effect meets its
# neighbours: a tridiagonal Hessian, one block) and crossed effects (every
# row effect meets every column effect: one block). The pattern, blocks and
# colours come from the recording; the oracles here use none of them: the
# Laplace value from the dense Hessian of the joint density (hessian()) and
# base R's determinant(), and the derivatives from numDeriv.
laplace_value_dense <- function(joint, theta, u) {
  H <- -hessian(function(p) do.call(joint, c(as.list(theta), list(u = p[[1]]))), list(val(u)))
  do.call(joint, c(as.list(theta), list(u = u))) - 0.5 * determinant(H)$modulus[[1]] + length(u) / 2 * log(2 * pi)
}

check_coupled_laplace <- function(joint, start, blocks, colours) {
  res <- fit(joint, start, random = "u")
  expect_true(res$converged)
  expect_equal(res$random_effects$blocks, blocks)
  expect_equal(res$random_effects$colours, colours)
  u_hat <- ranef(res)$mode
  expect_equal(res$loglik, laplace_value_dense(joint, coef(res), u_hat), tolerance = 1e-10)
  objective <- femtograd:::laplace_objective(res$spec)
  theta <- unname(coef(res)) + 0.15
  exact <- objective(theta, 2L)
  expect_equal(exact$gradient, numDeriv::grad(function(t) objective(t, 0L)$value, theta), tolerance = 1e-6)
  expect_equal(exact$hessian, numDeriv::jacobian(function(t) objective(t, 1L)$gradient, theta), tolerance = 1e-6)
  res
}

test_that("random effects that meet (a random walk, crossed effects) are integrated out exactly", {
  skip_if_not_installed("numDeriv")
  set.seed(11)
  steps <- 120   # one block of 120, kept sparse (its factor, not its inverse)
  counts <- rpois(steps, exp(1 + cumsum(rnorm(steps, sd = 0.2))))
  walk <- function(b0, log_sd, u) {
    sum(dpois(counts, exp(b0 + u), log = TRUE)) + dnorm(u[1], 0, exp(log_sd), log = TRUE) +
      sum(dnorm(u[-1] - u[-steps], 0, exp(log_sd), log = TRUE))
  }
  res <- check_coupled_laplace(walk, list(b0 = 0, log_sd = 0, u = rep(0, steps)), blocks = 1L, colours = 3L)
  expect_output(print(summary(res)), "120 random effects \\(one block\\)")

  rows <- rep(1:5, times = 4)
  cols <- rep(1:4, each = 5)
  y <- rpois(20, exp(0.5 + rnorm(5, sd = 0.5)[rows] + rnorm(4, sd = 0.5)[cols]))
  crossed <- function(mu, log_sd_r, log_sd_c, u) {
    eta <- mu + u[rows] + u[5 + cols]
    sum(dpois(y, exp(eta), log = TRUE)) + sum(dnorm(u[1:5], 0, exp(log_sd_r), log = TRUE)) +
      sum(dnorm(u[6:9], 0, exp(log_sd_c), log = TRUE))
  }
  check_coupled_laplace(crossed, list(mu = 0, log_sd_r = -0.5, log_sd_c = -0.5, u = rep(0, 9)),
                        blocks = 1L, colours = 9L)
})

test_that("independent groups make independent blocks, all of one colour", {
  res <- fit(cbpp_joint(), list(beta = c(0, 0, 0, 0), log_tau = 0, u = rep(0, 15)), random = "u")
  expect_equal(res$random_effects[c("blocks", "largest_block", "colours")],
               list(blocks = 15L, largest_block = 1L, colours = 1L))
  expect_output(print(summary(res)), "15 random effects \\(in 15 independent blocks\\)")
})

test_that("a branch on a parameter records the joint density again, with the same fit", {
  set.seed(1)
  g <- rep(1:30, each = 6)
  y <- rnorm(180, 1 + rnorm(30, sd = 0.3)[g], 0.5)   # log_tau's estimate: about -1.5
  plain <- function(mu, log_sigma, log_tau, u) {
    sum(dnorm(y, mu + u[g], exp(log_sigma), log = TRUE)) + sum(dnorm(u, 0, exp(log_tau), log = TRUE))
  }
  # the same density, but R branches on log_tau: a guard on the recording,
  # which fails when the optimiser takes log_tau below -1
  branching <- function(mu, log_sigma, log_tau, u) {
    tau <- if (log_tau > -1) exp(log_tau) else 1 / exp(-log_tau)
    sum(dnorm(y, mu + u[g], exp(log_sigma), log = TRUE)) + sum(dnorm(u, 0, tau, log = TRUE))
  }
  start <- list(mu = 0, log_sigma = 0, log_tau = 0, u = rep(0, 30))
  a <- fit(plain, start, random = "u")
  b <- fit(branching, start, random = "u")
  expect_lt(coef(a)[["log_tau"]], -1)
  expect_gt(b$recordings, 1L)
  expect_equal(coef(b), coef(a), tolerance = 1e-8)
  expect_equal(se(b), se(a), tolerance = 1e-8)
  expect_equal(b$loglik, a$loglik, tolerance = 1e-10)
})
