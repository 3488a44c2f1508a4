# Every operation's gradient against closed forms and numDeriv, on scalars,
# vectors and matrices, mixing values and numbers on either side.

x0 <- c(0.7, 1.3, 2.1)

unary_cases <- list(
  exp = list(f = exp, d = exp),
  log = list(f = log, d = function(x) 1 / x),
  log1p = list(f = log1p, d = function(x) 1 / (1 + x)),
  expm1 = list(f = expm1, d = exp),
  sqrt = list(f = sqrt, d = function(x) 0.5 / sqrt(x)),
  abs = list(f = abs, d = sign),
  sin = list(f = sin, d = cos),
  cos = list(f = cos, d = function(x) -sin(x)),
  tan = list(f = tan, d = function(x) 1 / cos(x)^2),
  tanh = list(f = tanh, d = function(x) 1 - tanh(x)^2),
  sinh = list(f = sinh, d = cosh),
  cosh = list(f = cosh, d = sinh),
  lgamma = list(f = lgamma, d = digamma),
  digamma = list(f = digamma, d = trigamma)
)

test_that("elementwise functions match R's values and closed-form derivatives", {
  for (name in names(unary_cases)) {
    case <- unary_cases[[name]]
    v <- val(x0)
    y <- case$f(v)
    expect_equal(value_of(y), case$f(x0), tolerance = 1e-13, info = name)
    backward(sum(y))
    expect_equal(grad(v), case$d(x0), tolerance = 1e-12, info = name)
    expect_equal(grad(v), numeric_gradient(function(x) sum(case$f(x)), x0), tolerance = 1e-7, info = name)
  }
})

test_that("log takes a base", {
  v <- val(8)
  y <- log(v, base = 2)
  expect_equal(value_of(y), 3)
  backward(y)
  expect_equal(grad(v), 1 / (8 * log(2)))
  expect_equal(value_of(log(val(100), 10)), 2)
})

test_that("stable helpers match their definitions and derivatives", {
  z <- c(-3, 0.4, 5)
  p <- c(0.1, 0.5, 0.85)
  expect_equal(sigmoid(z), 1 / (1 + exp(-z)))
  expect_equal(softplus(z), log1p(exp(z)))
  expect_equal(log_sigmoid(z), log(1 / (1 + exp(-z))))
  expect_equal(logit(p), qlogis(p))
  expect_equal(logsumexp(z), log(sum(exp(z))))
  # where the naive formulas overflow
  expect_equal(softplus(800), 800)
  expect_equal(log_sigmoid(-800), -800)
  expect_equal(logsumexp(c(1000, 1000)), 1000 + log(2))
  expect_equal(femtograd_gradient(function(x) sum(sigmoid(x)), z), dlogis(z))
  expect_equal(femtograd_gradient(function(x) sum(softplus(x)), z), plogis(z))
  expect_equal(femtograd_gradient(function(x) sum(log_sigmoid(x)), z), 1 - plogis(z))
  expect_equal(femtograd_gradient(function(x) sum(logit(x)), p), 1 / (p * (1 - p)))
  expect_equal(femtograd_gradient(logsumexp, z), exp(z) / sum(exp(z)))
})

test_that("arithmetic mixes values and numbers on either side", {
  f <- function(x) sum(2 * x + x / 3 - 1 / x + x^2 - 5 + 4^x + x^x - (-x))
  expect_equal(femtograd_gradient(f, x0), numeric_gradient(f, x0), tolerance = 1e-7)
  a <- val(2); b <- val(5)
  z <- a^b / (a - b) * (a + b)
  backward(z)
  g <- function(p) p[1]^p[2] / (p[1] - p[2]) * (p[1] + p[2])
  expect_equal(c(grad(a), grad(b)), numeric_gradient(g, c(2, 5)), tolerance = 1e-8)
})

test_that("a scalar broadcasts over vectors and matrices", {
  s <- val(2); v <- val(x0); m <- val(matrix(x0[c(1, 2, 3, 1)], 2))
  backward(sum(s * v))
  expect_equal(grad(s), sum(x0))
  expect_equal(grad(v), rep(2, 3))
  backward(sum(m^s))
  expect_equal(grad(m), 2 * matrix(x0[c(1, 2, 3, 1)], 2))
})

test_that("mismatched shapes are an error naming the operation and both shapes", {
  expect_error(val(1:3) + val(1:2), "\\+: cannot combine shapes vector\\[3\\] and vector\\[2\\]")
  expect_error(val(matrix(1:6, 2)) * matrix(1:6, 3),
               "\\*: cannot combine shapes matrix\\[2x3\\] and matrix\\[3x2\\]")
  expect_error(val(matrix(1:6, 2)) %*% val(matrix(1:6, 2)),
               "%\\*%: non-conformable arguments: matrix\\[2x3\\] and matrix\\[2x3\\]")
})

test_that("comparisons return plain logicals", {
  expect_identical(val(c(1, 5)) > 2, c(FALSE, TRUE))
  expect_identical(3 == val(3), TRUE)
  expect_identical(val(1) <= val(2), TRUE)
})

test_that("sum, mean and prod differentiate exactly", {
  expect_equal(femtograd_gradient(function(x) sum(x^2), x0), 2 * x0)
  expect_equal(femtograd_gradient(function(x) mean(x^2), x0), 2 * x0 / 3)
  expect_equal(femtograd_gradient(prod, x0), prod(x0) / x0)
  expect_equal(femtograd_gradient(prod, c(2, 0, 3)), c(0, 6, 0))
  expect_equal(femtograd_gradient(function(x) sum(x, x^2), x0), 1 + 2 * x0)
  expect_equal(value_of(max(val(c(1, 3, 2)))), 3)
})

test_that("matrix products, transposes and crossprod differentiate exactly", {
  A <- matrix(c(2, 1, -1, 3, 0.5, 4), 3)   # 3 x 2
  b0 <- c(0.3, -1.2)
  # d/db sum((A b)^2) = 2 A'A b
  expect_equal(femtograd_gradient(function(b) sum((A %*% b)^2), b0), drop(2 * crossprod(A) %*% b0))
  # gradient with respect to the matrix: d/dA sum(A b) = 1 b'
  Av <- val(A)
  backward(sum(Av %*% b0))
  expect_equal(grad(Av), matrix(1, 3, 1) %*% t(b0))
  # t() and crossprod
  backward(sum(t(Av) * 2))
  expect_equal(dim(t(Av)), c(2L, 3L))
  f <- function(a) sum(crossprod(a)^2)
  a0 <- as.numeric(A)
  g <- numeric_gradient(function(a) f(matrix(a, 3)), a0)
  Aw <- val(A)
  backward(f(Aw))
  expect_equal(as.numeric(grad(Aw)), g, tolerance = 1e-7)
  expect_equal(value_of(crossprod(val(A), A)), crossprod(A))
})

test_that("quadratic form with a vector parameter", {
  A <- matrix(c(2, 1, 0, 1, 3, 1, 0, 1, 4), 3)
  b0 <- c(1, -2, 0.5)
  expect_equal(femtograd_gradient(function(b) sum(b * (A %*% b)), b0), drop((A + t(A)) %*% b0))
})

test_that("indexing gathers forward and scatters gradients back", {
  v <- val(c(10, 20, 30))
  backward(sum(v[c(3, 1, 3)] * c(1, 2, 3)))
  expect_equal(grad(v), c(2, 0, 4))
  w <- val(c(1, 2, 3))
  backward(sum(w[-2]^2) + sum(w[c(TRUE, FALSE, FALSE)]))
  expect_equal(grad(w), c(3, 0, 6))
  expect_error(v[5], "\\[: subscript out of range for a value of length 3")
  expect_equal(value_of(val(matrix(1:4, 2))[4]), 4)
})
