# Case weights: an integer weight is the observation repeated that many
# times, so a weighted fit must equal the fit to the replicated data
# (estimates, standard errors, sandwich, log-likelihood), and glm's with
# the same weights.

set.seed(17)
n <- 60
x <- rnorm(n, 2, 1.5)
w <- rep_len(c(1, 0, 2, 3, 1), n)

test_that("integer case weights equal replicated observations", {
  ll <- function(data) function(mu, log_sigma) loglik_normal(mu, exp(log_sigma), data)
  weighted <- fit(ll(x), c(mu = 0, log_sigma = 0), weights = w)
  replicated <- fit(ll(rep(x, w)), c(mu = 0, log_sigma = 0))
  expect_equal(coef(weighted), coef(replicated), tolerance = 1e-9)
  expect_equal(se(weighted), se(replicated), tolerance = 1e-8)
  expect_equal(se(weighted, type = "sandwich"), se(replicated, type = "sandwich"), tolerance = 1e-8)
  expect_equal(as.numeric(logLik(weighted)), as.numeric(logLik(replicated)), tolerance = 1e-10)
  expect_equal(nobs(weighted), sum(w > 0))
})

test_that("weights in the formula interface and a regression kernel match glm's", {
  X <- cbind(1, rnorm(n))
  y <- rpois(n, exp(0.4 + 0.6 * X[, 2]))
  g <- glm(y ~ X[, 2], family = poisson(), weights = w, control = glm.control(epsilon = 1e-12, maxit = 50))
  kernel_fit <- fit(function(beta) loglik_poisson_log(beta, X, y), list(beta = c(0, 0)), weights = w)
  expect_equal(unname(coef(kernel_fit)), unname(coef(g)), tolerance = 1e-8)
  expect_equal(unname(se(kernel_fit)), unname(sqrt(diag(vcov(g)))), tolerance = 1e-6)
  d <- data.frame(y = y, z = X[, 2])
  formula_fit <- fit(y ~ dpois(lambda = exp(eta)), data = d, params = list(eta = 0),
                     parameters = list(eta ~ z), weights = w)
  expect_equal(unname(coef(formula_fit)), unname(coef(g)), tolerance = 1e-8)
  expect_equal(unname(se(formula_fit)), unname(sqrt(diag(vcov(g)))), tolerance = 1e-6)
  expect_equal(as.numeric(logLik(formula_fit)), as.numeric(logLik(g)), tolerance = 1e-8)
})

test_that("weights that cannot apply are errors, not ignored", {
  start <- c(mu = 0, log_sigma = 0)
  by_hand <- function(mu, log_sigma) sum(dnorm(x, mu, exp(log_sigma), log = TRUE))
  expect_error(fit(by_hand, start, weights = w), "fit: the log-likelihood uses no loglik_\\* kernels")
  kernel <- function(mu, log_sigma) loglik_normal(mu, exp(log_sigma), x)
  expect_error(fit(kernel, start, weights = w[-1]), "weights has length 59 but x has length 60")
  expect_error(fit(kernel, start, weights = -w), "weights must be finite non-negative numbers")
  expect_error(fit(kernel, start, weights = c(w[-1], NA)), "weights must be finite non-negative numbers")
  expect_error(fit(kernel, start, weights = 0 * w), "not all zero")
})

test_that("the bootstrap of a weighted fit keeps the weights", {
  kernel <- function(mu, log_sigma) loglik_normal(mu, exp(log_sigma), x)
  weighted <- fit(kernel, c(mu = 0, log_sigma = 0), weights = w)
  set.seed(3)
  b <- bootstrap(weighted, R = 20)
  # each replicate is the weighted mean of a resample with the case weights
  set.seed(3)
  counts <- replicate(20, as.vector(stats::rmultinom(1L, n, rep(1 / n, n))))
  expected <- apply(counts, 2, function(k) sum(k * w * x) / sum(k * w))
  expect_equal(unname(b$t[, "mu"]), expected, tolerance = 1e-8)
})

test_that("weights on kernels over observations of their own count each kernel's", {
  # the same kernel over two samples of n observations each, weighted alike:
  # the oracle is the single kernel over both samples with the weights repeated
  y <- rnorm(n, 1, 2)
  ll2 <- function(mu, log_sigma) loglik_normal(mu, exp(log_sigma), x) + loglik_normal(mu, exp(log_sigma), y)
  both <- fit(ll2, c(mu = 0, log_sigma = 0), weights = w)
  pooled <- fit(function(mu, log_sigma) loglik_normal(mu, exp(log_sigma), c(x, y)), c(mu = 0, log_sigma = 0),
                weights = c(w, w))
  expect_equal(nobs(both), 2 * sum(w > 0))
  expect_equal(nobs(both), nobs(pooled))
  expect_equal(coef(both), coef(pooled), tolerance = 1e-9)
  expect_equal(se(both, type = "sandwich"), se(pooled, type = "sandwich"), tolerance = 1e-8)
  expect_equal(BIC(both), BIC(pooled), tolerance = 1e-10)
})
