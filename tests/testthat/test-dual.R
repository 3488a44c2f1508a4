test_that("dual numbers carry exact first derivatives", {
  d <- dual(2, 1)^3
  expect_equal(primal(d), 8)
  expect_equal(tangent(d), 12)
  fs <- list(exp, log, sqrt, sin, cos, tan, sinh, cosh, tanh, log1p, expm1, abs, lgamma)
  for (f in fs) {
    expect_equal(tangent(f(dual(0.7, 1))), numDeriv::grad(f, 0.7), tolerance = 1e-8)
  }
  g <- function(x) (x^2 + 3) / (x - 1) * 2^x - x^x
  expect_equal(tangent(g(dual(2.5, 1))), numDeriv::grad(g, 2.5), tolerance = 1e-8)
  expect_equal(tangent(sum(dual(c(1, 2), c(1, 1))^2)), 6)
})

test_that("dual predicates, accessors and errors", {
  expect_true(is_dual(dual(1, 0)))
  expect_false(is_dual(1))
  expect_error(primal(1), "primal: expected a dual number")
  expect_error(dual("a", 1), "dual: primal and tangent must be numbers or femtograd values")
  expect_error(digamma(dual(1, 1)), "digamma: not supported for dual numbers")
  expect_output(print(dual(1, 2)), "<dual: primal 1, tangent 2>")
})

test_that("duals of values give forward-over-reverse Hessian columns equal to hessian()", {
  f <- function(x, y) x^2 * exp(y) + x * y
  H <- hessian(function(p) f(p[[1]], p[[2]]), list(val(1.5), val(0.3)))
  for (k in 1:2) {
    x <- val(1.5); y <- val(0.3)
    out <- f(dual(x, as.numeric(k == 1)), dual(y, as.numeric(k == 2)))
    backward(tangent(out))
    expect_equal(c(grad(x), grad(y)), H[, k], tolerance = 1e-14)
  }
})
