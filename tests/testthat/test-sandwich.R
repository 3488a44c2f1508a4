# Sandwich (Huber-White) covariance: against the closed form written by hand
# from the per-observation scores, and against the HC0 covariance of glm.

# The normal model fitted to data that are not normal; (mu, log_sigma).
normal_sandwich_by_hand <- function(x, mu, log_sigma) {
  s2 <- exp(2 * log_sigma)
  n <- length(x)
  scores <- cbind((x - mu) / s2, -1 + (x - mu)^2 / s2)
  info <- matrix(c(n / s2, 2 * sum(x - mu) / s2,
                   2 * sum(x - mu) / s2, 2 * sum((x - mu)^2) / s2), 2)
  bread <- solve(info)
  bread %*% crossprod(scores) %*% bread
}

normal_fit <- function(x) {
  fit(function(mu, log_sigma) loglik_normal(mu, exp(log_sigma), x), params = c(mu = 0, log_sigma = 0))
}

test_that("the sandwich of a misspecified normal model is the closed form", {
  set.seed(21)
  for (x in list(rexp(300, 0.5), 2 + rt(300, df = 4))) {
    res <- normal_fit(x)
    by_hand <- normal_sandwich_by_hand(x, coef(res)[["mu"]], coef(res)[["log_sigma"]])
    sw <- vcov(res, type = "sandwich")
    expect_equal(unname(sw), by_hand, tolerance = 1e-8)
    expect_equal(dimnames(sw), list(c("mu", "log_sigma"), c("mu", "log_sigma")))
    expect_true(isSymmetric(sw, tol = 0))
    expect_equal(se(res, type = "sandwich"), sqrt(diag(sw)))
    # The default is unchanged: the inverse observed information.
    expect_identical(vcov(res), res$vcov)
    expect_identical(vcov(res, type = "model"), res$vcov)
    expect_identical(se(res), sqrt(diag(res$vcov)))
    # Skewed and heavy-tailed data: the model understates the variance of log_sigma.
    expect_gt(se(res, type = "sandwich")[["log_sigma"]], se(res)[["log_sigma"]])
  }
  expect_error(vcov(res, type = "robust"), "should be one of")
})

test_that("the sandwich of a logistic regression is glm's HC0 covariance", {
  set.seed(4)
  n <- 500
  X <- cbind(1, rnorm(n), runif(n))
  # A misspecified link: the data come from a probit model with a quadratic term.
  y <- rbinom(n, 1, pnorm(-0.3 + 0.9 * X[, 2] - 0.4 * X[, 2]^2 + 0.5 * X[, 3]))
  g <- glm(y ~ X - 1, family = binomial(), control = glm.control(epsilon = 1e-14, maxit = 100))
  p <- fitted(g)
  e <- y - p
  bread <- solve(crossprod(X, p * (1 - p) * X))
  hc0 <- bread %*% crossprod(X, e^2 * X) %*% bread
  res <- fit(function(beta) loglik_logistic(beta, X, y), params = list(beta = rep(0, 3)))
  expect_equal(unname(vcov(res, type = "sandwich")), unname(hc0), tolerance = 1e-6)
  expect_equal(unname(se(res, type = "sandwich")), sqrt(diag(hc0)), tolerance = 1e-6)

  # With one coefficient fixed: the sandwich of the others, NA for it.
  fixed <- fit(function(beta) loglik_logistic(beta, X, y), params = list(beta = rep(0, 3)), fixed = c(beta3 = 0))
  g2 <- glm(y ~ X[, 1:2] - 1, family = binomial(), control = glm.control(epsilon = 1e-14, maxit = 100))
  X2 <- X[, 1:2]
  p2 <- fitted(g2)
  bread2 <- solve(crossprod(X2, p2 * (1 - p2) * X2))
  hc0_2 <- bread2 %*% crossprod(X2, (y - p2)^2 * X2) %*% bread2
  sw <- vcov(fixed, type = "sandwich")
  expect_equal(unname(sw[1:2, 1:2]), unname(hc0_2), tolerance = 1e-6)
  expect_true(all(is.na(sw[3, ])) && all(is.na(sw[, 3])))
})

test_that("a fixed parameter keeps NA rows and the others get the closed form", {
  set.seed(8)
  x <- rexp(200, 0.25)
  res <- fit(function(mu, log_sigma) loglik_normal(mu, exp(log_sigma), x),
             params = c(mu = 0, log_sigma = 0), fixed = c(mu = 5))
  s2 <- exp(2 * coef(res)[["log_sigma"]])
  score <- -1 + (x - 5)^2 / s2
  info <- 2 * sum((x - 5)^2) / s2
  sw <- vcov(res, type = "sandwich")
  expect_equal(sw["log_sigma", "log_sigma"], sum(score^2) / info^2, tolerance = 1e-8)
  expect_true(all(is.na(sw["mu", ])))
  expect_true(is.na(se(res, type = "sandwich")[["mu"]]))
})

test_that("kernels tagged with the same observation ids add up per observation", {
  # Two measurements on each unit: a normal and a count, written as sum(a, b).
  set.seed(12)
  x <- rgamma(150, 2, 1)
  k <- rnbinom(150, size = 2, mu = 3)
  res <- fit(function(mu, log_sigma, log_lambda) {
    sum(observation_ids(loglik_normal(mu, exp(log_sigma), x), 1:150),
        observation_ids(loglik_poisson(exp(log_lambda), k), 1:150))
  }, params = c(mu = 0, log_sigma = 0, log_lambda = 0))
  expect_equal(nobs(res), 150)
  est <- coef(res)
  s2 <- exp(2 * est[["log_sigma"]])
  lambda <- exp(est[["log_lambda"]])
  scores <- cbind((x - est[["mu"]]) / s2, -1 + (x - est[["mu"]])^2 / s2, k - lambda)
  bread <- solve(observed_info(res))
  expect_equal(unname(vcov(res, type = "sandwich")), unname(bread %*% crossprod(scores) %*% bread),
               tolerance = 1e-8)
  # untagged, the two kernels cover observations of their own: 300, whose
  # scores are the normal's (0 for lambda) and the Poisson's (0 for mu, sigma)
  apart <- fit(function(mu, log_sigma, log_lambda) {
    sum(loglik_normal(mu, exp(log_sigma), x), loglik_poisson(exp(log_lambda), k))
  }, params = c(mu = 0, log_sigma = 0, log_lambda = 0))
  expect_equal(nobs(apart), 300)
  stacked <- rbind(cbind(scores[, 1:2], 0), cbind(0, 0, scores[, 3]))
  expect_equal(unname(vcov(apart, type = "sandwich")), unname(bread %*% crossprod(stacked) %*% bread),
               tolerance = 1e-8)
})

test_that("sandwich standard errors need a sum of terms with per-observation scores", {
  set.seed(2)
  x <- rnorm(50)
  msg <- "vcov: sandwich standard errors need a log-likelihood that is a sum of terms with per-observation scores"
  doubled <- fit(function(mu, log_sigma) 2 * loglik_normal(mu, exp(log_sigma), x),
                 params = c(mu = 0, log_sigma = 0))
  expect_error(vcov(doubled, type = "sandwich"), msg, fixed = TRUE)
  expect_error(vcov(doubled, type = "sandwich"), "passes through '*' on its way to the log-likelihood", fixed = TRUE)
  # the error is raised as itself, not from inside crossprod's S4 dispatch
  expect_error(vcov(doubled, type = "sandwich"), "^vcov: sandwich")
  shifted <- fit(function(mu, log_sigma) loglik_normal(mu, exp(log_sigma), x) - 5,
                 params = c(mu = 0, log_sigma = 0))
  expect_equal(vcov(shifted, type = "sandwich"), vcov(fit(function(mu, log_sigma) loglik_normal(mu, exp(log_sigma), x),
                                                         params = c(mu = 0, log_sigma = 0)), type = "sandwich"))
  expect_error(se(doubled, type = "sandwich"), msg, fixed = TRUE)
  # a sum over the data written with plain operations has one score per element
  plain <- fit(function(mu, log_sigma) sum(dnorm_plain(x, mu, exp(log_sigma))), params = c(mu = 0, log_sigma = 0))
  expect_equal(unname(vcov(plain, type = "sandwich")),
               normal_sandwich_by_hand(x, coef(plain)[["mu"]], coef(plain)[["log_sigma"]]), tolerance = 1e-8)
  penalised <- fit(function(mu, log_sigma) loglik_normal(mu, exp(log_sigma), x) - mu^2,
                   params = c(mu = 0, log_sigma = 0))
  expect_error(vcov(penalised, type = "sandwich"), msg, fixed = TRUE)
  y <- rexp(20)
  two_samples <- fit(function(mu, log_sigma, rate) loglik_normal(mu, exp(log_sigma), x) + loglik_exponential(rate, y),
                     params = c(mu = 0, log_sigma = 0, rate = 1))
  # two samples: each kernel's observations its own, scores stacked (the
  # oracle: the closed-form scores of each, by hand)
  est <- coef(two_samples)
  s2 <- exp(2 * est[["log_sigma"]])
  stacked <- rbind(cbind((x - est[["mu"]]) / s2, -1 + (x - est[["mu"]])^2 / s2, 0),
                   cbind(0, 0, 1 / est[["rate"]] - y))
  bread <- solve(observed_info(two_samples))
  expect_equal(unname(vcov(two_samples, type = "sandwich")), unname(bread %*% crossprod(stacked) %*% bread),
               tolerance = 1e-8)
  expect_equal(nobs(two_samples), 70)
})

test_that("confint and summary take type = \"sandwich\" for their standard errors", {
  set.seed(4)
  y <- rexp(120)
  res <- fit(function(mu, log_sigma) loglik_normal(mu, exp(log_sigma), y), params = c(mu = 0, log_sigma = 0))
  robust <- se(res, type = "sandwich")
  ci <- confint(res, type = "sandwich")
  expect_equal(unname(ci[, 2] - ci[, 1]), unname(2 * qnorm(0.975) * robust))
  expect_equal(summary(res, type = "sandwich")$coefficients[, "Std. Error"], robust)
  expect_output(print(summary(res, type = "sandwich")), "Standard errors: sandwich")
  expect_error(confint(res, method = "profile", type = "sandwich"), "applies to Wald intervals")
  expect_error(confint(res, 5), "confint: parameter index 5 out of range \\(there are 2 parameters\\)")
})
