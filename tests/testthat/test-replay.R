# fit() records the log-likelihood once and replays it in Rust. Whatever the
# R code learnt from a parameter (a comparison, value_of()) is a guard: where
# it no longer holds, the function is recorded again. The oracle for each
# model is the same fit with control = list(replay = FALSE), which calls the
# R function at every point, and where there is one a closed form.

set.seed(20261201)
y <- rnorm(40, mean = 0.6, sd = 1.3)

fit_both <- function(loglik, params, ...) {
  list(replay = fit(loglik, params = params, ...),
       again = fit(loglik, params = params, ..., control = list(replay = FALSE)))
}

expect_same_fit <- function(fits) {
  expect_true(fits$replay$converged)
  expect_equal(coef(fits$replay), coef(fits$again), tolerance = 1e-10)
  expect_equal(se(fits$replay), se(fits$again), tolerance = 1e-8)
  expect_equal(fits$replay$loglik, fits$again$loglik, tolerance = 1e-12)
}

test_that("a smooth model is recorded once and replayed at every other point", {
  loglik <- function(mu, sigma) sum(-log(sigma) - (y - mu)^2 / (2 * sigma^2))
  fits <- fit_both(loglik, c(mu = 0, sigma = 1))
  expect_same_fit(fits)
  expect_equal(fits$replay$recordings, 1L)
  expect_gt(fits$again$recordings, 3L)
  n <- length(y)
  expect_equal(unname(coef(fits$replay)), c(mean(y), sqrt(mean((y - mean(y))^2))), tolerance = 1e-8)
})

test_that("if () on a parameter is re-recorded when the branch changes", {
  # An asymmetric penalty: mu^2 for mu > 0, 2 mu^2 below. Starting below
  # zero, the optimiser crosses into the other branch, whose optimum is
  # n ybar / (n + 2) in closed form.
  loglik <- function(mu) {
    penalty <- if (mu > 0) mu^2 else 2 * mu^2
    -sum((y - mu)^2) / 2 - penalty
  }
  fits <- fit_both(loglik, c(mu = -1))
  expect_same_fit(fits)
  n <- length(y)
  expect_equal(unname(coef(fits$replay)), n * mean(y) / (n + 2), tolerance = 1e-10)
  expect_gt(fits$replay$recordings, 1L)
  expect_lt(fits$replay$recordings, fits$again$recordings)
})

test_that("abs() is an operation, not a branch: it replays without a guard", {
  loglik <- function(mu, log_b) {
    b <- exp(log_b)
    sum(-abs(y - mu)^1.5 / b - log_b)
  }
  fits <- fit_both(loglik, c(mu = 0, log_b = 0))
  expect_same_fit(fits)
  expect_equal(fits$replay$recordings, 1L)
})

test_that("a loop whose length depends on a parameter is re-recorded when it changes", {
  # f(lambda) = -(lambda - 2)^2 - 0.05 lambda K(lambda), K = #{k in 0:20 : k <= 4 lambda}:
  # the loop runs K times, and K is learnt from the comparison.
  loglik <- function(lambda) {
    total <- -(lambda - 2)^2
    for (k in 0:20) {
      if (k > 4 * lambda) break
      total <- total - 0.05 * lambda
    }
    total
  }
  fits <- fit_both(loglik, c(lambda = 0.3), method = "bfgs")
  expect_same_fit(fits)
  lambda <- unname(coef(fits$replay))
  K <- sum(0:20 <= 4 * lambda)
  expect_equal(lambda, 2 - 0.025 * K, tolerance = 1e-8)
  expect_gt(fits$replay$recordings, 1L)
})

test_that("numbers read with value_of() inside the model are a guard", {
  loglik <- function(mu) {
    penalty <- if (value_of(mu) > 0) mu^2 else 2 * mu^2
    -sum((y - mu)^2) / 2 - penalty
  }
  fits <- fit_both(loglik, c(mu = -1))
  expect_same_fit(fits)
  n <- length(y)
  expect_equal(unname(coef(fits$replay)), n * mean(y) / (n + 2), tolerance = 1e-10)
  # Every new point changes the numbers R read, so every point is recorded.
  expect_equal(fits$replay$recordings, fits$again$recordings)
})

test_that("refits built on fit() replay too, and agree with re-recording", {
  loglik <- function(mu, sigma) sum(-log(sigma) - (y - mu)^2 / (2 * sigma^2))
  fits <- fit_both(loglik, c(mu = 0, sigma = 1))
  expect_equal(confint(fits$replay, method = "profile"), confint(fits$again, method = "profile"),
               tolerance = 1e-7)
  fixed <- fit(loglik, params = c(mu = 0, sigma = 1), fixed = c(mu = 0.5))
  expect_equal(fixed$recordings, 1L)
  expect_equal(unname(coef(fixed)["sigma"]), sqrt(mean((y - 0.5)^2)), tolerance = 1e-8)
})

test_that("comparisons and shapes of values behave as in R", {
  x <- val(c(-1, 0, 2))
  expect_identical(x > 0, c(FALSE, FALSE, TRUE))
  expect_identical(x == c(-1, 1, 2), c(TRUE, FALSE, TRUE))
  expect_identical(val(NA_real_) > 1, NA)
  m <- val(matrix(1:4, 2))
  expect_identical(m >= 2, matrix(c(FALSE, TRUE, TRUE, TRUE), 2))
  expect_identical(length(m), 4L)
  expect_identical(dim(m), c(2L, 2L))
  expect_null(dim(x))
  expect_equal(value_of(x * TRUE), c(-1, 0, 2))
  expect_error(x & TRUE, "&: not supported for femtograd values")
  expect_error(!x, "!: not defined for femtograd values")
  expect_error(x + list(1), "\\+: expected numbers or a femtograd value, got an object of class 'list'")
})

test_that("an external pointer that is not a femtograd value is refused, not dereferenced", {
  fake <- structure(methods::new("externalptr"), class = "femtograd_value")
  expect_error(fake + 1, "expected numbers or a femtograd value")
  expect_error(value_of(fake), "expected a femtograd value")
  expect_error(backward(fake), "expected a femtograd value")
})

test_that("a comparison on a value the result does not use still decides the branch", {
  # exp(mu) > 1 only picks the branch. For mu > 0 the model pulls towards
  # -3 (across zero); below zero its maximum is at mu = -1, the true one.
  loglik <- function(mu) if (exp(mu) > 1) -(mu + 3)^2 else -(mu + 1)^2
  fits <- fit_both(loglik, c(mu = 0.5))
  expect_same_fit(fits)
  expect_equal(unname(coef(fits$replay)), -1, tolerance = 1e-8)
  expect_gt(fits$replay$recordings, 1L)
})

test_that("hessian() of a value kept across calls sees only its own recording", {
  # Every call records onto the tape of b; each must see only its own.
  A <- matrix(c(2, 1, 0, 1, 3, 1, 0, 1, 4), 3)
  b <- list(b = val(c(0.2, -0.1, 0.3)))
  f <- function(p) sum(exp(A %*% p$b)) - sum(p$b^2) / 2
  exact <- function(b0) crossprod(A, A * drop(exp(A %*% b0))) - diag(3)
  for (i in 1:30) H <- hessian(f, b)
  expect_equal(unname(H), exact(c(0.2, -0.1, 0.3)), tolerance = 1e-12)
})

test_that("a function that uses the caller's values through a closure is differentiated in them", {
  # f ignores its argument and uses b directly: the derivatives are still
  # those of b^3 at b = 2 (the copies f received do not enter its result).
  b <- val(2)
  calls <- 0L
  f <- function(p) { calls <<- calls + 1L; b^3 }
  expect_equal(unname(hessian(f, list(b = b))), matrix(12))
  expect_equal(calls, 2L)
  # mixing the argument and the closure: d2/db2 of p * b * b, all one b
  g <- function(p) p$b * b * b
  expect_equal(unname(hessian(g, list(b = b))), matrix(6 * 2))
  expect_equal(unname(gradient(g, list(b = b))$gradient), 3 * 2^2)
})
