set.seed(42); x_delta <- rnorm(200, mean = 5, sd = 2)
normal_fit <- function() {
  fit(function(mu, log_sigma) loglik_normal(mu, exp(log_sigma), x_delta), params = c(mu = 0, log_sigma = 0))
}

test_that("the SE of sigma = exp(log_sigma) is the closed form sigma_hat / sqrt(2n)", {
  res <- normal_fit()
  d <- delta_method(res, function(mu, log_sigma) exp(log_sigma))
  expect_s3_class(d, "femtodelta")
  sigma_hat <- exp(coef(res)[["log_sigma"]])
  n <- length(x_delta)
  expect_equal(coef(d), c(g = sigma_hat))
  expect_equal(se(d), c(g = sigma_hat * se(res)[["log_sigma"]]), tolerance = 1e-10)
  expect_equal(se(d), c(g = sigma_hat / sqrt(2 * n)), tolerance = 1e-10)
  expect_equal(se(d), c(g = sqrt(mean((x_delta - mean(x_delta))^2)) / sqrt(2 * n)), tolerance = 1e-10)
  # the same, taking only the parameter it needs, or all of them as a list
  expect_equal(se(delta_method(res, function(log_sigma) exp(log_sigma))), se(d))
  expect_equal(se(delta_method(res, function(p) exp(p$log_sigma))), se(d))
  expect_equal(d$jacobian, matrix(c(0, sigma_hat), 1, dimnames = list("g", c("mu", "log_sigma"))))
})

test_that("a vector g matches a hand-coded gradient times vcov", {
  res <- normal_fit()
  d <- delta_method(res, function(mu, log_sigma) c(cv = exp(log_sigma) / mu, var = exp(2 * log_sigma)))
  mu <- coef(res)[["mu"]]; sigma <- exp(coef(res)[["log_sigma"]])
  G <- rbind(cv = c(-sigma / mu^2, sigma / mu), var = c(0, 2 * sigma^2))
  expect_equal(names(coef(d)), c("cv", "var"))
  expect_equal(coef(d), c(cv = sigma / mu, var = sigma^2))
  expect_equal(vcov(d), G %*% vcov(res) %*% t(G), tolerance = 1e-12, ignore_attr = TRUE)
  expect_equal(dimnames(vcov(d)), list(c("cv", "var"), c("cv", "var")))
  expect_true(isSymmetric(vcov(d), tol = 0))
  expect_equal(unname(d$jacobian), unname(G), tolerance = 1e-14)
  # a vector value: g1, g2
  v <- delta_method(res, function(mu, log_sigma) exp(log_sigma) * c(1, 2) + mu)
  expect_equal(names(coef(v)), c("g1", "g2"))
  G2 <- rbind(c(1, sigma), c(1, 2 * sigma))
  expect_equal(unname(vcov(v)), G2 %*% vcov(res) %*% t(G2), tolerance = 1e-12, ignore_attr = TRUE)
  # an unnamed list of pieces is numbered in order; a vector piece gets name1, name2, ...
  l <- delta_method(res, function(mu, log_sigma) list(mu, m = mu * c(1, 2)))
  expect_equal(names(coef(l)), c("g1", "m1", "m2"))
})

test_that("a predicted probability in logistic regression matches glm's closed form", {
  set.seed(3)
  n <- 400
  X <- cbind(1, matrix(rnorm(n * 3), n))
  y <- rbinom(n, 1, plogis(X %*% c(-0.4, 0.8, -0.5, 0.3)))
  g <- glm(y ~ X - 1, family = binomial(), control = glm.control(epsilon = 1e-14, maxit = 100))
  res <- fit(function(beta) loglik_logistic(beta, X, y), params = list(beta = rep(0, 4)))
  x0 <- c(1, 0.5, -1, 2)
  d <- delta_method(res, function(beta) sigmoid(x0 %*% beta))
  p <- plogis(sum(x0 * coef(g)))
  grad <- p * (1 - p) * x0
  expect_equal(coef(d), c(g = p), tolerance = 1e-6)
  expect_equal(se(d), c(g = sqrt(drop(t(grad) %*% vcov(g) %*% grad))), tolerance = 1e-6)
  # several points at once: the whole covariance matrix
  X0 <- unname(rbind(x0, c(1, -1, 0, 0), c(1, 0, 0, 1)))
  dv <- delta_method(res, function(beta) sigmoid(X0 %*% beta))
  P <- plogis(drop(X0 %*% coef(g)))
  G <- P * (1 - P) * X0
  expect_equal(unname(coef(dv)), P, tolerance = 1e-6)
  expect_equal(unname(vcov(dv)), G %*% vcov(g) %*% t(G), tolerance = 1e-6)
  expect_equal(colnames(dv$jacobian), paste0("beta", 1:4))
})

test_that("fixed parameters enter g as constants", {
  res <- fit(function(mu, log_sigma) loglik_normal(mu, exp(log_sigma), x_delta),
             params = c(mu = 0, log_sigma = 0), fixed = c(mu = 5))
  d <- delta_method(res, function(mu, log_sigma) mu + exp(log_sigma))
  sigma <- exp(coef(res)[["log_sigma"]])
  expect_equal(coef(d), c(g = 5 + sigma))
  expect_equal(se(d), c(g = sigma * se(res)[["log_sigma"]]), tolerance = 1e-12)
  expect_equal(colnames(d$jacobian), "log_sigma")
})

test_that("a g that does not depend on the parameters has zero SE, with a warning", {
  res <- normal_fit()
  expect_warning(d <- delta_method(res, function(mu, log_sigma) 3), "plain number for g, which does not depend")
  expect_equal(coef(d), c(g = 3))
  expect_equal(se(d), c(g = 0))
  # c() of a value and a number is a value whose second element is constant
  d2 <- delta_method(res, function(mu, log_sigma) c(a = mu, b = 2))
  expect_equal(coef(d2), c(a = coef(res)[["mu"]], b = 2))
  expect_equal(se(d2)[["b"]], 0)
  expect_equal(se(d2)[["a"]], se(res)[["mu"]])
  # a named plain vector keeps its names
  expect_warning(d3 <- delta_method(res, function(mu, log_sigma) c(u = 1, v = 2)), "plain number for u, v")
  expect_equal(names(coef(d3)), c("u", "v"))
})

test_that("print, confint and level work on a femtodelta", {
  res <- normal_fit()
  d <- delta_method(res, function(mu, log_sigma) c(sigma = exp(log_sigma), mu = mu))
  ci <- confint(d)
  expect_equal(colnames(ci), c("2.5 %", "97.5 %"))
  expect_equal(unname(ci[, 1]), unname(coef(d) - qnorm(0.975) * se(d)))
  ci90 <- confint(d, "mu", level = 0.9)
  expect_equal(rownames(ci90), "mu")
  expect_equal(unname(ci90[1, 2]), coef(d)[["mu"]] + qnorm(0.95) * se(d)[["mu"]])
  expect_equal(confint(d, 2), confint(d, "mu"))
  expect_equal(unname(confint(d, "mu")), unname(confint(res, "mu")))
  d80 <- delta_method(res, function(log_sigma) exp(log_sigma), level = 0.8)
  expect_equal(colnames(confint(d80)), c("10 %", "90 %"))
  out <- capture.output(print(d))
  expect_true(any(grepl("Std. Error", out)))
  expect_true(any(grepl("97.5 %", out)))
  expect_output(print(d80), "90 %")
  expect_error(confint(d, "nope"), "confint: unknown parameter")
})

test_that("bad arguments to delta_method give clear errors", {
  res <- normal_fit()
  expect_error(delta_method(list(), function(mu) mu), "delta_method: fit must be a femtofit")
  expect_error(delta_method(res, "exp"), "delta_method: g must be a function")
  expect_error(delta_method(res, function(mu, log_sigma) mu, level = 2), "delta_method: level must be")
  expect_error(delta_method(res, function(mu, log_sigma) stop("boom")), "delta_method: g failed: boom")
  expect_error(delta_method(res, function(mu, log_sigma) "a"), "delta_method: g must return a femtograd value")
  expect_error(delta_method(res, function(mu, log_sigma) list(mu, "a")), "delta_method: element 2")
  expect_error(delta_method(res, function() 1), "delta_method: g must take the parameters")
})
