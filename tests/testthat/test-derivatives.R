# Hessians and friends against closed forms and numDeriv.

seed_f <- function(params) { x <- params[[1]]; y <- params[[2]]; x^2 + x * y }

test_that("the seed example's Hessian is [2 1; 1 0]", {
  expect_equal(hessian(seed_f, list(val(3), val(4))), matrix(c(2, 1, 1, 0), 2))
})

test_that("f is called exactly once per hessian()", {
  calls <- 0
  f <- function(p) { calls <<- calls + 1; sum(exp(p$a) * p$b^2) }
  hessian(f, list(a = val(c(0.1, 0.2)), b = val(c(1, 2))))
  expect_equal(calls, 1)
})

test_that("each operation's Hessian matches numDeriv, alone and composed", {
  x0 <- c(0.6, 1.1)  # away from tan's pole, where numDeriv itself loses digits
  ops <- list(
    function(x) sum(exp(x)), function(x) sum(log(x)), function(x) sum(sqrt(x)),
    function(x) sum(log1p(x)), function(x) sum(expm1(x)), function(x) sum(abs(x)^3),
    function(x) sum(sin(x) * cos(x)), function(x) sum(tan(x)), function(x) sum(tanh(x)),
    function(x) sum(sinh(x) + cosh(x)), function(x) sum(lgamma(x)), function(x) sum(digamma(x)),
    function(x) sum(x[1]^x[2]), function(x) x[1] / x[2], function(x) prod(x) * mean(x),
    function(x) logsumexp(x * x), function(x) sum(sigmoid(x) + softplus(x) + log_sigmoid(x)),
    function(x) sum(logit(x / 2)), function(x) sum(log(x, base = 3)),
    function(x) sum(exp(sin(x) * x^2) / (1 + x))
  )
  for (i in seq_along(ops)) {
    f <- ops[[i]]
    # In plain R the same function needs the plain helpers.
    expect_equal(hessian(function(p) f(p[[1]]), list(val(x0))),
                 numeric_hessian(f, x0), tolerance = 1e-6, info = deparse(body(f)))
  }
})

test_that("the quadratic form sum(b * (A %*% b)) has Hessian A + t(A) to 1e-12", {
  set.seed(1)
  A <- matrix(rnorm(16), 4)
  h <- hessian(function(p) sum(p$b * (A %*% p$b)), list(b = val(rnorm(4))))
  expect_lt(max(abs(h - (A + t(A)))), 1e-12)
  expect_equal(rownames(h), paste0("b", 1:4))
})

test_that("matrix parameters are flattened column-major", {
  M0 <- matrix(c(0.5, -0.2, 0.1, 0.8), 2)
  f <- function(m) sum(exp(m %*% c(1, 2)))
  h <- hessian(function(p) f(p$M), list(M = val(M0)))
  expect_equal(unname(h), numeric_hessian(function(m) f(matrix(m, 2)), as.numeric(M0)), tolerance = 1e-6)
  expect_equal(colnames(h), paste0("M", 1:4))
})

test_that("mixed scalar and vector parameters; names follow the list", {
  set.seed(2)
  X <- matrix(rnorm(30), 10); y <- rnorm(10)
  f <- function(p) sum((y - X %*% p$beta)^2) / exp(p$s) + p$s^2
  params <- list(beta = val(c(0.1, 0.2, 0.3)), s = val(0.5))
  h <- hessian(f, params)
  plain <- function(th) sum((y - X %*% th[1:3])^2) / exp(th[4]) + th[4]^2
  expect_equal(unname(h), numeric_hessian(plain, c(0.1, 0.2, 0.3, 0.5)), tolerance = 1e-6)
  expect_equal(rownames(h), c("beta1", "beta2", "beta3", "s"))
  expect_true(isSymmetric(h))
  expect_null(dimnames(hessian(seed_f, list(val(3), val(4)))))
})

test_that("gradient() returns the value and the gradient in one call", {
  g <- gradient(seed_f, list(x = val(3), y = val(4)))
  expect_equal(g$value, 21)
  expect_equal(g$gradient, c(x = 10, y = 3))
})

test_that("hessian_vector() equals the Hessian times v without forming it", {
  f <- function(p) sum(exp(p$a) * p$a[1]) + p$a[2]^3
  a0 <- c(0.3, -0.4)
  v <- c(0.7, 2)
  expected <- drop(numeric_hessian(function(a) sum(exp(a) * a[1]) + a[2]^3, a0) %*% v)
  expect_equal(unname(hessian_vector(f, list(a = val(a0)), v)), expected, tolerance = 1e-6)
  expect_error(hessian_vector(f, list(a = val(a0)), 1), "v must be numeric of length 2")
})

test_that("jacobian() of a vector-valued function matches numDeriv", {
  f <- function(b) c(exp(b[1]) * b[2], b[1] - b[2]^2, sin(b[2]))
  b0 <- c(0.2, 1.1)
  j <- jacobian(function(p) { b <- p$b; exp(b[1]) * b[2] * c(1, 0, 0) + (b[1] - b[2]^2) * c(0, 1, 0) + sin(b[2]) * c(0, 0, 1) },
                list(b = val(b0)))
  expect_equal(unname(j), numDeriv::jacobian(f, b0), tolerance = 1e-8)
  expect_equal(dim(jacobian(function(p) exp(p[[1]]), list(val(c(1, 2, 3))))), c(3L, 3L))
})

test_that("bad f or params give clear messages", {
  expect_error(hessian(seed_f, list(3, 4)), "hessian: params\\[\\[1\\]\\] is not a femtograd value.*numeric")
  expect_error(hessian(seed_f, list()), "hessian: params must be a non-empty list")
  expect_error(hessian(function(p) p[[1]] * c(1, 2), list(val(1))), "hessian: f must return a scalar, got a value of length 2")
  expect_error(hessian(function(p) "a", list(val(1))), "hessian: f must return a femtograd value")
  expect_error(hessian("f", list(val(1))), "hessian: f must be a function")
  expect_warning(h <- hessian(function(p) 5, list(val(1), val(c(2, 3)))), "does not depend on params")
  expect_equal(h, matrix(0, 3, 3))
})
