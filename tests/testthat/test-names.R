# How fit() names parameters and their elements (issue 12, part 2).

set.seed(12)
x_names <- rnorm(60, 3, 2)
X_names <- cbind(1, rnorm(60))
y_names <- rbinom(60, 1, plogis(X_names %*% c(-0.5, 1)))

test_that("unnamed scalar starts are p1, p2, ... given to loglik by position", {
  named <- fit(function(mu, log_sigma) loglik_normal(mu, exp(log_sigma), x_names), c(mu = 0, log_sigma = 0))
  res <- fit(function(mu, log_sigma) loglik_normal(mu, exp(log_sigma), x_names), c(0, 0))
  expect_named(coef(res), c("p1", "p2"))
  expect_equal(unname(coef(res)), unname(coef(named)), tolerance = 1e-10)
  # closed forms: the sample mean and the ML standard deviation
  expect_equal(unname(coef(res)), c(mean(x_names), log(sqrt(mean((x_names - mean(x_names))^2)))),
               tolerance = 1e-8)
  expect_equal(rownames(vcov(res)), c("p1", "p2"))
  # the labels work where labels are used
  expect_equal(unname(coef(fit(function(a, b) loglik_normal(a, exp(b), x_names), c(0, 0),
                               fixed = c(p2 = 0)))["p1"]), mean(x_names), tolerance = 1e-8)
  # one argument and several unnamed starts: they come as one list
  res_list <- fit(function(p) loglik_normal(p$p1, exp(p$p2), x_names), c(0, 0))
  expect_equal(unname(coef(res_list)), unname(coef(named)), tolerance = 1e-8)
})

test_that("a named start vector names its elements parameter.element", {
  ll <- function(beta) loglik_logistic(beta, X_names, y_names)
  res <- fit(ll, params = list(beta = c(a = 0, b = 0)))
  expect_named(coef(res), c("beta.a", "beta.b"))
  expect_equal(colnames(vcov(res)), c("beta.a", "beta.b"))
  ref <- glm(y_names ~ X_names - 1, family = binomial, control = glm.control(epsilon = 1e-12))
  expect_equal(unname(coef(res)), unname(coef(ref)), tolerance = 1e-6)
  expect_equal(rownames(confint(res)), c("beta.a", "beta.b"))
  # the labels name elements for fixed and confint
  fixed_b <- fit(ll, params = list(beta = c(a = 0, b = 0)), fixed = c(beta.b = 0))
  expect_equal(unname(coef(fixed_b)["beta.b"]), 0)
  expect_true(is.na(se(fixed_b)["beta.b"]))
  # unnamed vectors keep positional labels; other parameters are unaffected
  expect_named(coef(fit(function(beta, s) loglik_logistic(beta, X_names, y_names) + loglik_normal(0, exp(s), x_names),
                        params = list(beta = c(0, 0), s = 0))), c("beta1", "beta2", "s"))
  # a named scalar start keeps its element name, as unlist() does
  expect_named(coef(fit(function(mu) loglik_normal(mu, 2, x_names), params = list(mu = c(centre = 0)))),
               "mu.centre")
})

test_that("partly named or repeated element names are an error", {
  ll <- function(beta) loglik_logistic(beta, X_names, y_names)
  expect_error(fit(ll, params = list(beta = c(a = 0, 0))), "fit: the start of parameter 'beta' names some elements")
  expect_error(fit(ll, params = list(beta = c(a = 0, a = 0))), "fit: the start of parameter 'beta'")
})
