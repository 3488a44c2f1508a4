# sum(d<dist>(x, ..., log = TRUE)) over plain data is recorded as one fused
# kernel: its value, gradient and Hessian must be those of the sum as
# written (stats' own numbers, numDeriv on the same function of numbers),
# and it must report no observations, as the sum it replaces.

# d(theta), the log-densities, on plain numbers and on values; checks that
# their sum carries a kernel, and its value and derivatives against stats'
# value and numDeriv's.
check_density_sum <- function(label, d, theta) {
  expect_false(is.null(attr(d(val(theta)), "femtograd_sum")), label = paste(label, "fused"))
  check_exact(label, function(t) sum(d(t)), theta)
}

# f(theta) on values against f on numbers (value) and numDeriv (derivatives).
check_exact <- function(label, f, theta) {
  g <- function(p) f(p[[1]])
  on_value <- g(list(val(theta)))
  expect_equal(value_of(on_value), f(theta), tolerance = 1e-10, label = label)
  expect_equal(unname(gradient(g, list(val(theta)))$gradient), numDeriv::grad(f, theta),
               tolerance = 1e-6, label = paste(label, "gradient"))
  expect_equal(unname(hessian(g, list(val(theta)))), numDeriv::hessian(f, theta),
               tolerance = 1e-6, label = paste(label, "Hessian"))
}

set.seed(11)
n <- 40
xn <- rnorm(n, 1, 2)
xp <- rpois(n, 3)
xb <- rbinom(n, 7, 0.3)
xpos <- rgamma(n, 2, 1.5)
xu <- rbeta(n, 2, 3)
z <- seq(-1, 1, length.out = n)

test_that("sums of log-densities over data equal stats' and have exact derivatives", {
  check_density_sum("dnorm", function(t) dnorm(xn, t[1], exp(t[2]), log = TRUE), c(0.7, 0.4))
  check_density_sum("dnorm per observation", function(t) dnorm(xn, t[1] + t[2] * z, 2, log = TRUE), c(0.7, 0.4))
  check_density_sum("dexp", function(t) dexp(xpos, exp(t), log = TRUE), 0.2)
  check_density_sum("dgamma rate", function(t) dgamma(xpos, exp(t[1]), exp(t[2]), log = TRUE), c(0.5, 0.3))
  check_density_sum("dgamma scale", function(t) dgamma(xpos, exp(t[1]), scale = exp(t[2]), log = TRUE), c(0.5, 0.3))
  check_density_sum("dbeta", function(t) dbeta(xu, exp(t[1]), exp(t[2]), log = TRUE), c(0.5, 0.9))
  check_density_sum("dpois", function(t) dpois(xp, exp(t[1] + t[2] * z), log = TRUE), c(1, 0.2))
  check_density_sum("dbinom", function(t) dbinom(xb, 7, plogis(t), log = TRUE), -0.6)
  check_density_sum("dnbinom prob", function(t) dnbinom(xp, exp(t[1]), plogis(t[2]), log = TRUE), c(1.2, 0.1))
  check_density_sum("dnbinom mu", function(t) dnbinom(xp, size = exp(t[1]), mu = exp(t[2] + 0.3 * z), log = TRUE),
                    c(1.2, 1.1))
  check_density_sum("dweibull", function(t) dweibull(xpos, exp(t[1]), exp(t[2]), log = TRUE), c(0.4, 0.2))
})

test_that("each observation's log-density is one node with exact derivatives", {
  # weights, a subset and mixtures read each observation's log-density
  check_exact("weighted dnorm", function(t) sum(seq_len(n) / n * dnorm(xn, t[1] + t[2] * z, exp(t[3]), log = TRUE)),
              c(0.7, 0.4, 0.5))
  check_exact("dgamma subset", function(t) sum(dgamma(xpos, exp(t[1]), exp(t[2]), log = TRUE)[xpos > 1]), c(0.5, 0.3))
  check_exact("dpois mixture", function(t) {
    w <- plogis(t[1])
    sum(log(w * dpois(xp, exp(t[2])) + (1 - w) * dpois(xp, exp(t[3] + 0.2 * z))))
  }, c(0.3, 0.5, 1.4))
  check_exact("dnbinom mu, squared", function(t) sum(dnbinom(xp, size = exp(t[1]), mu = exp(t[2] + 0.3 * z), log = TRUE)^2) / 100,
              c(1.2, 1.1))
  check_exact("dbinom, dbeta, dweibull, dexp", function(t) {
    sum(z * dbinom(xb, 7, plogis(t[1]), log = TRUE)) + sum(z * dbeta(xu, exp(t[2]), 2, log = TRUE)) +
      sum(z * dweibull(xpos, exp(t[2]), exp(t[1]), log = TRUE)) + sum(dexp(xpos, exp(t[1])))
  }, c(-0.4, 0.3))
})

test_that("sum() of the log-densities records the kernel; anything else keeps them", {
  mu <- val(0.5)
  ld <- dnorm(xn, mu, 2, log = TRUE)
  expect_false(is.null(attr(ld, "femtograd_sum")))
  # weighted, indexed or non-log densities are the elementwise values
  expect_null(attr(2 * ld, "femtograd_sum"))
  expect_null(attr(dnorm(xn, mu, 2), "femtograd_sum"))
  expect_equal(value_of(sum(ld[1:5])), sum(dnorm(xn[1:5], 0.5, 2, log = TRUE)))
  # data the kernel refuses keep the elementwise sum: stats' value
  xq <- c(0.5, 2, 3)
  lambda <- val(2)
  expect_equal(value_of(suppressWarnings(sum(dpois(xq, lambda, log = TRUE)))),
               sum(xq * log(2) - 2 - lgamma(xq + 1)))
  expect_equal(value_of(sum(dnorm(c(1, NA), mu, 1, log = TRUE))), NA_real_)
})

test_that("the fused sum covers its observations as the sum it replaces, and takes no weights", {
  r <- fit(function(mu, log_sigma) sum(dnorm(xn, mu, exp(log_sigma), log = TRUE)), c(mu = 0, log_sigma = 0))
  expect_equal(unname(coef(r)), c(mean(xn), log(sqrt(mean((xn - mean(xn))^2)))), tolerance = 1e-7)
  # the oracle: the same sum written with plain operations (no kernel at all)
  r_plain <- fit(function(mu, log_sigma) sum(dnorm_plain(xn, mu, exp(log_sigma))), c(mu = 0, log_sigma = 0))
  expect_equal(nobs(r), n)
  expect_equal(nobs(r_plain), n)
  expect_equal(se(r, type = "sandwich"), se(r_plain, type = "sandwich"), tolerance = 1e-8)
  expect_error(bootstrap(r, R = 5), "no loglik_\\* kernels")
  # a loglik_* kernel counts the same observations
  r_kernel <- fit(function(mu, log_sigma) loglik_normal(mu, exp(log_sigma), xn), c(mu = 0, log_sigma = 0))
  expect_equal(nobs(r_kernel), n)
  expect_equal(coef(r), coef(r_kernel), tolerance = 1e-8)
  expect_equal(se(r, type = "sandwich"), se(r_kernel, type = "sandwich"), tolerance = 1e-8)
})

test_that("the log-densities that a sum stood in for are still there to read", {
  # Their numbers are computed only when read (the sum records the kernel
  # instead): read after the sum, they must still be stats' numbers, and
  # derivatives through them (not through the kernel) the closed form.
  mu <- val(0.5)
  sigma <- val(2)
  log_densities <- dnorm(xn, mu, sigma, log = TRUE)
  total <- sum(log_densities)
  expect_equal(value_of(total), sum(stats::dnorm(xn, 0.5, 2, log = TRUE)), tolerance = 1e-12)
  expect_equal(value_of(log_densities), stats::dnorm(xn, 0.5, 2, log = TRUE), tolerance = 1e-12)
  backward(sum(log_densities[1:10]))
  z <- (xn[1:10] - 0.5) / 2
  expect_equal(grad(mu), sum(z) / 2, tolerance = 1e-12)
  expect_equal(grad(sigma), sum(z^2 - 1) / 2, tolerance = 1e-12)
})
