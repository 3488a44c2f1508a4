# Which observations a log-likelihood covers: nobs() and the sandwich when
# kernels cover different observations (each term its own by default), and
# observation_ids() for terms that share them. Oracles: the same model as
# one kernel over all the data, closed-form scores, survival::survreg's
# nobs and robust (sandwich) standard errors, lm's nobs.

normal_ll <- function(data) function(mu, log_sigma) loglik_normal(mu, exp(log_sigma), data)

test_that("one kernel over two disjoint parts of the data is the kernel over all of it", {
  set.seed(5)
  x <- rexp(2000, 0.5)   # not normal: the sandwich differs from the model's SEs
  whole <- fit(normal_ll(x), c(mu = 0, log_sigma = 0))
  for (cut in c(1000, 700)) {   # equal and unequal halves
    first <- x[seq_len(cut)]
    rest <- x[-seq_len(cut)]
    halves <- fit(function(mu, log_sigma) normal_ll(first)(mu, log_sigma) + normal_ll(rest)(mu, log_sigma),
                  c(mu = 0, log_sigma = 0))
    expect_equal(nobs(halves), 2000)
    expect_equal(BIC(halves), BIC(whole), tolerance = 1e-10)
    expect_equal(coef(halves), coef(whole), tolerance = 1e-8)
    expect_equal(se(halves, type = "sandwich"), se(whole, type = "sandwich"), tolerance = 1e-8)
    expect_equal(vcov(halves, type = "sandwich"), vcov(whole, type = "sandwich"), tolerance = 1e-8)
  }
  # and the whole fit's sandwich is the closed form
  s2 <- exp(2 * coef(whole)[["log_sigma"]])
  r <- x - coef(whole)[["mu"]]
  scores <- cbind(r / s2, -1 + r^2 / s2)
  bread <- solve(observed_info(whole))
  expect_equal(unname(vcov(whole, type = "sandwich")), unname(bread %*% crossprod(scores) %*% bread), tolerance = 1e-8)
  # lm's count for the same data
  expect_equal(nobs(whole), nobs(lm(x ~ 1)))
})

test_that("a censored model counts both parts, and its sandwich is survreg's robust covariance", {
  skip_if_not_installed("survival")
  lung <- survival::lung
  y <- log(lung$time / 365)
  event <- lung$status == 2
  # uncensored: a kernel; censored: a sum over data of log survival probabilities
  res <- fit(function(mu, log_sigma) {
    loglik_normal(mu, exp(log_sigma), y[event]) +
      sum(pnorm(y[!event], mu, exp(log_sigma), lower.tail = FALSE, log.p = TRUE))
  }, c(mu = 0, log_sigma = 0))
  ref <- survival::survreg(survival::Surv(y, event) ~ 1, dist = "gaussian", robust = TRUE)
  expect_equal(nobs(res), nobs(ref))
  expect_equal(nobs(res), length(y))
  expect_equal(unname(coef(res)), unname(c(coef(ref), log(ref$scale))), tolerance = 1e-6)
  expect_equal(unname(se(res)), unname(sqrt(diag(ref$naive.var))), tolerance = 1e-5)
  expect_equal(unname(se(res, type = "sandwich")), unname(sqrt(diag(vcov(ref)))), tolerance = 1e-5)
  # the censored part takes no weights: the bootstrap refuses rather than
  # resampling only the uncensored observations
  expect_error(bootstrap(res, R = 2), sprintf("bootstrap: the log-likelihood covers %d observations but its loglik_\\* kernels only %d",
                                              length(y), sum(event)))

  # the same with d- and p-functions only (a Weibull model; survreg's own parametrisation)
  time <- lung$time / 365
  weibull <- fit(function(log_shape, log_scale) {
    shape <- exp(log_shape); scale <- exp(log_scale)
    sum(dweibull(time[event], shape, scale, log = TRUE)) +
      sum(pweibull(time[!event], shape, scale, lower.tail = FALSE, log.p = TRUE))
  }, c(log_shape = 0, log_scale = 0))
  ref <- survival::survreg(survival::Surv(time, event) ~ 1, dist = "weibull", robust = TRUE)
  expect_equal(nobs(weibull), nobs(ref))
  # survreg: (Intercept) = log_scale, Log(scale) = -log_shape
  expect_equal(unname(se(weibull, type = "sandwich")), unname(sqrt(diag(vcov(ref))))[2:1], tolerance = 1e-5)
})

test_that("terms tagged with the same ids are one observation each", {
  set.seed(9)
  n <- 120
  x <- rgamma(n, 3, 1)
  k <- rpois(n, 2 + x / 3)   # the count depends on the measurement: scores correlate
  joint <- function(tag) function(mu, log_sigma, log_lambda) {
    tag(loglik_normal(mu, exp(log_sigma), x)) + tag(loglik_poisson(exp(log_lambda), k))
  }
  shared <- fit(joint(function(ll) observation_ids(ll, seq_len(n))), c(mu = 0, log_sigma = 0, log_lambda = 0))
  apart <- fit(joint(identity), c(mu = 0, log_sigma = 0, log_lambda = 0))
  expect_equal(nobs(shared), n)
  expect_equal(nobs(apart), 2 * n)
  expect_equal(coef(shared), coef(apart), tolerance = 1e-10)
  expect_equal(vcov(shared), vcov(apart), tolerance = 1e-10)   # the model covariance does not care
  est <- coef(shared)
  s2 <- exp(2 * est[["log_sigma"]])
  scores <- cbind((x - est[["mu"]]) / s2, -1 + (x - est[["mu"]])^2 / s2, k - exp(est[["log_lambda"]]))
  bread <- solve(observed_info(shared))
  expect_equal(unname(vcov(shared, type = "sandwich")), unname(bread %*% crossprod(scores) %*% bread), tolerance = 1e-8)
  # ids in any order, and repeated within a term: the rows add up per id
  perm <- sample(n)
  pairs <- rep(seq_len(n / 2), each = 2)
  permuted <- fit(function(mu, log_sigma, log_lambda) {
    observation_ids(loglik_normal(mu, exp(log_sigma), x), perm) +
      observation_ids(loglik_poisson(exp(log_lambda), k), perm)
  }, c(mu = 0, log_sigma = 0, log_lambda = 0))
  expect_equal(vcov(permuted, type = "sandwich"), vcov(shared, type = "sandwich"), tolerance = 1e-10)
  clustered <- fit(function(mu, log_sigma, log_lambda) {
    observation_ids(loglik_normal(mu, exp(log_sigma), x), pairs) +
      observation_ids(loglik_poisson(exp(log_lambda), k), pairs)
  }, c(mu = 0, log_sigma = 0, log_lambda = 0))
  expect_equal(nobs(clustered), n / 2)
  meat <- crossprod(rowsum(scores, pairs))
  expect_equal(unname(vcov(clustered, type = "sandwich")), unname(bread %*% meat %*% bread), tolerance = 1e-8)
  # the bootstrap resamples the shared observations together
  expect_equal(bootstrap(shared, R = 2)$n, n)
})

test_that("sums that are not observations: penalties, loops over scalars", {
  set.seed(3)
  x <- rnorm(50)
  # a penalty over a vector parameter covers no observations
  ridge <- fit(function(beta) loglik_normal(beta[1] + beta[2], 1, x) - sum(beta^2), list(beta = c(0, 0)))
  expect_equal(nobs(ridge), 50)
  prior <- fit(function(beta) -sum(beta^2) + sum((beta - 1)^2 * -1), list(beta = c(0, 0)))
  expect_true(is.na(nobs(prior)))
  loop <- fit(function(mu) {
    total <- 0
    for (xi in x[1:5]) total <- total - (xi - mu)^2
    total
  }, c(mu = 0))
  expect_true(is.na(nobs(loop)))
})

test_that("observation_ids refuses what it cannot tag, naming the sizes", {
  x <- c(0.3, 1.2, 2.2)
  mu <- val(1)
  expect_error(observation_ids(loglik_normal(mu, 1, x), 1:2),
               "observation_ids: id has length 2 but loglik covers 3 observations", fixed = TRUE)
  expect_error(observation_ids(sum(dnorm(x, mu, 1, log = TRUE)), 1:4), "id has length 4 but loglik covers 3")
  expect_error(observation_ids(2 * loglik_normal(mu, 1, x), 1:3),
               "observation_ids: loglik must be a loglik_* kernel", fixed = TRUE)
  for (bad in list(c(1, 2, NA), c(0, 1, 2), c(1, 2.5, 3), "a", c(1, 2, Inf))) {
    expect_error(observation_ids(loglik_normal(mu, 1, x), bad), "observation_ids: id must be positive whole numbers")
  }
  expect_error(observation_ids("a", 1), "observation_ids: loglik must be a log-likelihood .* class 'character'")
  expect_identical(observation_ids(2.5, 1:3), 2.5)   # a number: nothing to tag
  # values and derivatives pass through
  tagged <- observation_ids(loglik_normal(mu, 1, x), 1:3)
  expect_equal(value_of(tagged), sum(dnorm(x, 1, 1, log = TRUE)))
  expect_equal(hessian(function(p) observation_ids(loglik_normal(p[[1]], 1, x), 1:3), list(val(1))),
               matrix(-3), ignore_attr = TRUE)
})
