# Helpers of the tests of fits over data shards (test-shards*.R).

shard_data <- function(n = 450, seed = 13) {
  set.seed(seed)
  d <- data.frame(x1 = rnorm(n), x2 = rnorm(n), g = rep(1:3, length.out = n))
  d$y <- rbinom(n, 1, plogis(-0.4 + 0.9 * d$x1 - 0.6 * d$x2))
  d
}

# Written for one shard; everything it uses comes from `data`.
logistic_shard <- function(beta, data) loglik_logistic(beta, cbind(1, data$x1, data$x2), data$y)

expect_same_fit <- function(sharded, whole, tolerance = 1e-10) {
  expect_equal(coef(sharded), coef(whole), tolerance = tolerance)
  expect_equal(vcov(sharded), vcov(whole), tolerance = tolerance)
  expect_equal(as.numeric(logLik(sharded)), as.numeric(logLik(whole)), tolerance = tolerance)
  expect_equal(vcov(sharded, type = "sandwich"), vcov(whole, type = "sandwich"), tolerance = tolerance)
  expect_equal(nobs(sharded), nobs(whole))
}

# A PSOCK cluster whose workers load femtograd from the library under test.
test_cluster <- function(workers = 2L) {
  cl <- parallel::makePSOCKcluster(workers)
  parallel::clusterCall(cl, function(paths) invisible(.libPaths(paths)), .libPaths())
  cl
}
