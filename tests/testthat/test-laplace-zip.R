# A zero-inflated Poisson GLMM with a random intercept, written in plain R
# and fitted by fit(random = "u"), against glmmTMB's fit of the same model
# (y ~ x + (1 | g), ziformula = ~1). Both maximise the same Laplace
# approximation, so everything glmmTMB reports from its optimum is an
# independent oracle: its objective and modes come from TMB's compiled
# automatic differentiation, its standard errors from differences of its
# gradient.

zip_data <- function() {
  set.seed(20261202)
  n_groups <- 30
  g <- rep(seq_len(n_groups), each = 10)
  x <- rnorm(length(g))
  u <- rnorm(n_groups, 0, 0.6)
  structural_zero <- rbinom(length(g), 1, 0.25) == 1
  y <- ifelse(structural_zero, 0L, rpois(length(g), exp(0.5 + 0.4 * x + u[g])))
  data.frame(y = y, x = x, g = factor(g))   # factor levels in group order 1..30
}

zip_start <- list(b0 = 0, b1 = 0, zi = 0, log_sd = 0, u = rep(0, 30))

# The joint log density as one would write it: a zero is either structural
# (probability pi) or a Poisson zero; a positive count is Poisson.
zip_joint <- function(d) {
  y <- d$y
  x <- d$x
  g <- as.integer(d$g)
  zero <- y == 0
  function(b0, b1, zi, log_sd, u) {
    lambda <- exp(b0 + b1 * x + u[g])
    p <- plogis(zi)
    sum(log(p + (1 - p) * exp(-lambda[zero]))) +
      sum(log(1 - p) + dpois(y[!zero], lambda[!zero], log = TRUE)) +
      sum(dnorm(u, 0, exp(log_sd), log = TRUE))
  }
}

# The same density with ifelse() over all observations, the other way it is
# commonly written (both branches are evaluated; neither is infinite here).
zip_joint_ifelse <- function(d) {
  y <- d$y
  x <- d$x
  g <- as.integer(d$g)
  function(b0, b1, zi, log_sd, u) {
    lambda <- exp(b0 + b1 * x + u[g])
    p <- plogis(zi)
    sum(ifelse(y == 0, log(p + (1 - p) * exp(-lambda)), log1p(-p) + dpois(y, lambda, log = TRUE))) +
      sum(dnorm(u, 0, exp(log_sd), log = TRUE))
  }
}

test_that("a zero-inflated Poisson GLMM's Laplace fit is glmmTMB's", {
  skip_if_not_installed("glmmTMB")
  d <- zip_data()
  tmb <- glmmTMB::glmmTMB(y ~ x + (1 | g), ziformula = ~1, family = poisson, data = d)
  res <- fit(zip_joint(d), zip_start, random = "u")

  # Absolute tolerance on the log-likelihood: it is what likelihood-ratio
  # tests and AIC use, and a relative 1e-6 of -459 would allow 5e-4. Both
  # evaluate the same approximation at optima that differ by ~1e-7, so the
  # values differ only to second order in that (measured 2e-12).
  expect_lt(abs(as.numeric(logLik(res)) - as.numeric(logLik(tmb))), 1e-9)

  # The fixed parameters on glmmTMB's own scale: beta (b0, b1), betazi (the
  # zero-inflation logit) and theta (the log SD of the random intercept).
  # They differ by where each optimiser stops (measured at most 1.1e-7).
  par <- tmb$fit$par
  expect_identical(names(par), c("beta", "beta", "betazi", "theta"))
  expect_lt(max(abs(unname(coef(res)[c("b0", "b1", "zi", "log_sd")]) - unname(par))), 1e-6)
  # the SD as glmmTMB reports it to users agrees too
  expect_equal(exp(coef(res)[["log_sd"]]), attr(glmmTMB::VarCorr(tmb)$cond$g, "stddev")[[1]], tolerance = 1e-6)

  # glmmTMB's standard errors come from TMB's sdreport, a Hessian by finite
  # differences of the exact gradient; femtograd's Hessian is exact. Measured
  # relative differences at most 2.6e-7 (largest for the log SD); 3e-6 is
  # about ten times that.
  se_tmb <- sqrt(diag(vcov(tmb, full = TRUE)))
  expect_length(se_tmb, 4L)
  expect_lt(max(abs(unname(se(res)[c("b0", "b1", "zi", "log_sd")]) / unname(se_tmb) - 1)), 3e-6)

  # The random intercepts' modes are glmmTMB's conditional modes (measured
  # differences at most 9e-8, following the fixed parameters' differences).
  re <- glmmTMB::ranef(tmb)$cond$g
  expect_identical(rownames(re), as.character(1:30))
  ours <- ranef(res)
  expect_lt(max(abs(ours$mode - re[["(Intercept)"]])), 1e-6)
  # Their conditional standard errors are the square roots of the diagonal
  # of H^-1, H the joint density's negative Hessian in u at the mode, which
  # TMB gives by its own automatic differentiation (spHess). glmmTMB's ranef(condVar = TRUE) is not the
  # oracle here: TMB's sdreport adds the fixed parameters' uncertainty to
  # it, making it 2% to 19% larger on these data. Measured relative
  # differences at most 5e-8.
  h_uu <- as.matrix(tmb$obj$env$spHess(tmb$fit$parfull, random = TRUE))
  expect_equal(dim(h_uu), c(30L, 30L))
  expect_lt(max(abs(ours$se / sqrt(diag(solve(h_uu))) - 1)), 1e-6)

  # the ifelse() formulation is the same likelihood, and reaches the same fit
  alt <- fit(zip_joint_ifelse(d), zip_start, random = "u")
  expect_lt(abs(as.numeric(logLik(alt)) - as.numeric(logLik(tmb))), 1e-9)
  expect_lt(max(abs(unname(coef(alt)[c("b0", "b1", "zi", "log_sd")]) - unname(par))), 1e-6)
})
