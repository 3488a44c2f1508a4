# Each kernel: value against R's d* functions, gradient and Hessian against
# numDeriv on the same plain-R log-likelihood, scalar and per-observation
# parameters, support errors and out-of-domain parameters.

set.seed(7)
n <- 25
cases <- list(
  normal = list(k = loglik_normal, d = function(th, x) dnorm(x, th[1], th[2], log = TRUE),
                x = rnorm(n, 1, 2), th = c(0.8, 1.7)),
  exponential = list(k = loglik_exponential, d = function(th, x) dexp(x, th[1], log = TRUE),
                     x = rexp(n, 2), th = 1.6),
  poisson = list(k = loglik_poisson, d = function(th, x) dpois(x, th[1], log = TRUE),
                 x = rpois(n, 4), th = 3.7),
  bernoulli = list(k = loglik_bernoulli, d = function(th, x) dbinom(x, 1, th[1], log = TRUE),
                   x = rbinom(n, 1, 0.3), th = 0.35),
  gamma = list(k = loglik_gamma, d = function(th, x) dgamma(x, th[1], th[2], log = TRUE),
               x = rgamma(n, 2.5, 1.5), th = c(2.2, 1.3)),
  beta = list(k = loglik_beta, d = function(th, x) dbeta(x, th[1], th[2], log = TRUE),
              x = rbeta(n, 2, 3), th = c(1.8, 3.3)),
  negbinom = list(k = loglik_negbinom, d = function(th, x) dnbinom(x, size = th[1], prob = th[2], log = TRUE),
                  x = rnbinom(n, size = 3, prob = 0.4), th = c(2.7, 0.45)),
  weibull = list(k = loglik_weibull, d = function(th, x) dweibull(x, th[1], th[2], log = TRUE),
                 x = rweibull(n, 1.5, 2), th = c(1.4, 2.2)),
  pareto = list(k = loglik_pareto, d = function(th, x) log(th[1]) + th[1] * log(th[2]) - (th[1] + 1) * log(x),
                x = 1.5 * (1 - runif(n))^(-1 / 2.5), th = c(2.3, 1.2))
)

test_that("each kernel equals the sum of R's log-densities and differentiates like numDeriv", {
  for (name in names(cases)) {
    case <- cases[[name]]
    plain <- function(th) sum(case$d(th, case$x))
    expect_equal(do.call(case$k, c(as.list(case$th), list(x = case$x))), plain(case$th),
                 tolerance = 1e-12, info = name)
    f <- function(p) do.call(case$k, c(p, list(x = case$x)))
    params <- lapply(case$th, val)
    g <- gradient(f, params)$gradient
    h <- hessian(f, params)
    expect_equal(g, numeric_gradient(plain, case$th), tolerance = 1e-7, info = name)
    expect_equal(h, numeric_hessian(plain, case$th), tolerance = 1e-6, info = name)
  }
})

test_that("binomial kernel with size, scalar and per-observation", {
  size <- rep(c(5, 10), length.out = n)
  x <- rbinom(n, size, 0.3)
  expect_equal(loglik_binomial(0.28, x, size), sum(dbinom(x, size, 0.28, log = TRUE)), tolerance = 1e-12)
  h <- hessian(function(p) loglik_binomial(p[[1]], x, size), list(val(0.28)))
  expect_equal(drop(h), numeric_hessian(function(q) sum(dbinom(x, size, q, log = TRUE)), 0.28)[1, 1], tolerance = 1e-6)
})

test_that("per-observation parameters (a linear predictor) work", {
  x <- cases$normal$x
  z <- seq(-1, 1, length.out = n)
  f <- function(p) loglik_normal(p$a + p$b * z, exp(p$s), x)
  plain <- function(th) sum(dnorm(x, th[1] + th[2] * z, exp(th[3]), log = TRUE))
  th <- c(0.5, 1.2, 0.4)
  params <- list(a = val(0.5), b = val(1.2), s = val(0.4))
  expect_equal(value_of(f(params)), plain(th), tolerance = 1e-12)
  expect_equal(unname(hessian(f, params)), numeric_hessian(plain, th), tolerance = 1e-6)
})

test_that("regression kernels equal the plain formulas", {
  X <- cbind(1, matrix(rnorm(2 * n), n))
  b <- c(0.3, -0.5, 0.8)
  y01 <- rbinom(n, 1, plogis(X %*% b))
  ycount <- rpois(n, exp(X %*% b))
  expect_equal(loglik_logistic(b, X, y01), sum(dbinom(y01, 1, plogis(X %*% b), log = TRUE)), tolerance = 1e-12)
  expect_equal(loglik_poisson_log(b, X, ycount), sum(dpois(ycount, exp(X %*% b), log = TRUE)), tolerance = 1e-12)
  h <- hessian(function(p) loglik_logistic(p$beta, X, y01), list(beta = val(b)))
  w <- drop(plogis(X %*% b) * (1 - plogis(X %*% b)))
  expect_equal(unname(h), -crossprod(X, w * X), tolerance = 1e-12)
})

test_that("data outside the support is an error naming the function and the index", {
  expect_error(loglik_poisson(val(2), c(1, 2, -1)), "loglik_poisson: x\\[3\\] = -1 is outside the support")
  expect_error(loglik_bernoulli(val(0.5), c(0, 1, 2)), "loglik_bernoulli: x\\[3\\]")
  expect_error(loglik_beta(val(1), 2, c(0.5, 1)), "loglik_beta: x\\[2\\]")
  expect_error(loglik_normal(val(c(1, 2, 3)), 1, rnorm(10)), "loglik_normal: mu has length 3 but x has length 10")
  expect_error(loglik_normal(1, 1, "a"), "loglik_normal: x must be plain numeric data")
  expect_error(loglik_logistic(val(c(1, 2)), matrix(1, 5, 3), rep(0, 5)), "loglik_logistic: beta has length 2 but X has 3 columns")
})

test_that("a parameter outside its domain gives -Inf, not an error", {
  expect_equal(value_of(loglik_normal(val(0), val(-1), c(1, 2))), -Inf)
  expect_equal(value_of(loglik_poisson(val(-2), c(1, 2))), -Inf)
  expect_equal(value_of(loglik_bernoulli(val(1.5), c(0, 1))), -Inf)
})

test_that("regression kernels take glm's offset", {
  set.seed(5)
  n <- 120
  X <- cbind(1, rnorm(n), runif(n))
  exposure <- runif(n, 0.5, 3)
  y <- rpois(n, exposure * exp(0.3 + 0.5 * X[, 2] - 0.4 * X[, 3]))
  r <- fit(function(beta) loglik_poisson_log(beta, X, y, offset = log(exposure)), list(beta = rep(0, 3)))
  g <- glm(y ~ X - 1 + offset(log(exposure)), family = poisson(),
           control = glm.control(epsilon = 1e-12, maxit = 50))
  expect_equal(unname(coef(r)), unname(coef(g)), tolerance = 1e-8)
  expect_equal(unname(se(r)), unname(sqrt(diag(vcov(g)))), tolerance = 1e-6)
  expect_equal(as.numeric(logLik(r)), as.numeric(logLik(g)), tolerance = 1e-10)
  yb <- rbinom(n, 1, plogis(-0.2 + X[, 2] + 0.5 * X[, 3]))
  o <- 0.3 * X[, 3]
  rb <- fit(function(beta) loglik_logistic(beta, X, yb, offset = o), list(beta = rep(0, 3)))
  gb <- glm(yb ~ X - 1, offset = o, family = binomial(), control = glm.control(epsilon = 1e-12, maxit = 50))
  expect_equal(unname(coef(rb)), unname(coef(gb)), tolerance = 1e-8)
  expect_error(loglik_logistic(val(c(0, 0, 0)), X, yb, offset = o[-1]), "offset has length 119 but X has 120 rows")
  expect_error(loglik_logistic(val(c(0, 0, 0)), X, yb, offset = replace(o, 4, NA)), "offset\\[4\\]")
})

test_that("grouped logistic regression matches glm(cbind(k, m - k) ~ ...)", {
  set.seed(9)
  n <- 80
  X <- cbind(1, rnorm(n), rbinom(n, 1, 0.4))
  m <- sample(1:12, n, replace = TRUE)
  k <- rbinom(n, m, plogis(-0.5 + 0.8 * X[, 2] + 0.3 * X[, 3]))
  o <- 0.1 * X[, 2]
  r <- fit(function(beta) loglik_logistic(beta, X, k, size = m, offset = o), list(beta = rep(0, 3)))
  g <- glm(cbind(k, m - k) ~ X - 1, offset = o, family = binomial(), control = glm.control(epsilon = 1e-12, maxit = 50))
  expect_equal(unname(coef(r)), unname(coef(g)), tolerance = 1e-8)
  expect_equal(unname(se(r)), unname(sqrt(diag(vcov(g)))), tolerance = 1e-6)
  expect_equal(as.numeric(logLik(r)), as.numeric(logLik(g)), tolerance = 1e-10)
  expect_equal(value_of(loglik_logistic(val(coef(g)), X, k, size = m, offset = o)),
               sum(dbinom(k, m, plogis(drop(X %*% coef(g)) + o), log = TRUE)), tolerance = 1e-12)
  expect_error(loglik_logistic(val(c(0, 0, 0)), X, m + 1, size = m), "loglik_logistic: y\\[1\\] = .* is outside the support")
  expect_error(loglik_poisson_log(val(c(0, 0, 0)), X, k, size = m), "unused argument")
})
