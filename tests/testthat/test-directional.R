# The directional derivative recorded as a value (internal, for the Laplace
# approximation's third and fourth derivatives) against numDeriv on the
# same function in plain R, and against numDeriv differences of the
# engine's exact Hessian-vector product (an independent path).

directional_derivative <- femtograd:::directional_derivative

# Written once, for plain numbers and for values.
f_xy <- function(x, y) sum(sin(x) * exp(y)) + x[1]^3 * y + sum(lgamma(x + 2)) + log1p(y^2) * x[2]
f_num <- function(z) f_xy(z[1:3], z[4])
f_params <- function(p) f_xy(p$x, p$y)
z0 <- c(0.3, -1.2, 0.8, 0.6)
v <- c(0.5, -0.25, 1.5, 2)
w <- c(-1, 0.75, 0.2, -0.5)
params_at <- function(z) list(x = val(z[1:3]), y = val(z[4]))

test_that("D f[v] is the gradient along v, and its gradient is H v", {
  p <- params_at(z0)
  d <- directional_derivative(f_params(p), p, v)
  expect_true(is_value(d))
  expect_equal(value_of(d), sum(numDeriv::grad(f_num, z0) * v), tolerance = 1e-8)
  g <- gradient(function(p) directional_derivative(f_params(p), p, v), params_at(z0))
  expect_equal(unname(g$gradient), drop(numDeriv::hessian(f_num, z0) %*% v), tolerance = 1e-6)
})

test_that("the Hessian of D f[v] holds third derivatives", {
  h <- hessian(function(p) directional_derivative(f_params(p), p, v), params_at(z0))
  oracle <- numDeriv::jacobian(function(z) hessian_vector(f_params, params_at(z), v), z0)
  expect_equal(unname(h), oracle, tolerance = 1e-6)
  expect_true(isSymmetric(unname(h)))
})

test_that("D(D f[v])[w] is v' H w, and its gradient holds third derivatives", {
  dd <- function(p) directional_derivative(directional_derivative(f_params(p), p, v), p, w)
  g <- gradient(dd, params_at(z0))
  expect_equal(g$value, drop(t(v) %*% numDeriv::hessian(f_num, z0) %*% w), tolerance = 1e-6)
  oracle <- numDeriv::grad(function(z) sum(hessian_vector(f_params, params_at(z), v) * w), z0)
  expect_equal(unname(g$gradient), oracle, tolerance = 1e-6)
})

test_that("directions may be given per parameter, as numbers or values", {
  p <- params_at(z0)
  by_parameter <- directional_derivative(f_params(p), p, list(v[1:3], val(v[4])))
  expect_equal(value_of(by_parameter), value_of(directional_derivative(f_params(p), p, v)), tolerance = 1e-15)
})

test_that("directional_derivative refuses what it cannot do, by name", {
  p <- params_at(z0)
  expect_error(directional_derivative(f_params(p), p, 1:3),
               "directional_derivative: v must be numeric of length 4 (one entry per parameter element), got length 3",
               fixed = TRUE)
  expect_error(directional_derivative(f_params(p), p, list(1)), "one direction per parameter (2)", fixed = TRUE)
  expect_error(directional_derivative(3, p, v), "y must be a femtograd value", fixed = TRUE)
  expect_error(directional_derivative(f_params(p), p, list(1:2, 1)),
               "directional_derivative: direction 1 is vector[2] but parameter 1 is vector[3]", fixed = TRUE)
  # a fused log-likelihood kernel has no forward rule as operations: it says so
  mu <- val(0.8)
  sigma <- val(1.3)
  ll <- loglik_normal(mu, sigma, c(1.2, -0.3, 2.5))
  expect_error(directional_derivative(ll, list(mu, sigma), c(1, 0.5)),
               "directional_derivative: loglik_normal: no forward-mode rule as operations", fixed = TRUE)
  # so does a sum of log-densities, which is recorded as that kernel
  eta <- val(c(0.3, -0.2))
  expect_error(directional_derivative(sum(dpois(c(2, 0), exp(eta), log = TRUE)), list(eta), c(1, 1)),
               "no forward-mode rule as operations, so derivatives of third and higher order", fixed = TRUE)
  x <- val(c(0.6, 2.5))
  expect_error(directional_derivative(sum(psigamma(x, 3)), list(x), c(1, 1)),
               "pentagamma: no forward-mode rule as operations", fixed = TRUE)
})

test_that("the Hessian of D(D f[v])[w] holds fourth derivatives", {
  dd <- function(p) directional_derivative(directional_derivative(f_params(p), p, v), p, w)
  h <- hessian(dd, params_at(z0))
  oracle <- numDeriv::hessian(function(z) drop(t(v) %*% hessian(f_params, params_at(z)) %*% w), z0)
  expect_equal(unname(h), oracle, tolerance = 1e-6)
})
