# predict() and simulate() for formula fits (issue 12, part 1), against
# glm()'s and lm()'s predictions and R's own random-number functions.

set.seed(2024)
n_f <- 250
d_f <- data.frame(x1 = rnorm(n_f), x2 = runif(n_f), f = factor(sample(c("a", "b", "c"), n_f, TRUE)),
                  exposure = runif(n_f, 0.5, 3))
d_f$count <- rpois(n_f, d_f$exposure * exp(0.2 + 0.4 * d_f$x1 + c(0, 0.5, -0.4)[d_f$f]))
d_f$y <- 1 + 2 * d_f$x1 - d_f$x2 + c(0, 1, -1)[d_f$f] + rnorm(n_f, sd = 1.5)
tight <- glm.control(epsilon = 1e-14, maxit = 100)

poisson_fit <- function(...) {
  fit(count ~ dpois(lambda = exp(eta)), data = d_f, params = list(eta = 0),
      parameters = list(eta ~ x1 + f + offset(log(exposure))), ...)
}
poisson_glm <- glm(count ~ x1 + f + offset(log(exposure)), family = poisson, data = d_f, control = tight)

test_that("predict() gives glm's linear predictor and its standard errors", {
  res <- poisson_fit()
  expect_equal(unname(predict(res)), unname(predict(poisson_glm, type = "link")), tolerance = 1e-6)
  new <- data.frame(x1 = c(-1, 0, 2, 0.5), f = factor(c("c", "a", "b", "c")), exposure = c(1, 2, 0.5, 1))
  ours <- predict(res, newdata = new, se.fit = TRUE)
  ref <- predict(poisson_glm, newdata = new, type = "link", se.fit = TRUE)
  expect_equal(unname(ours$fit), unname(ref$fit), tolerance = 1e-6)
  expect_equal(unname(ours$se.fit), unname(ref$se.fit), tolerance = 1e-6)
  # a level the fit never saw is an error, not a silent zero
  expect_error(predict(res, newdata = data.frame(x1 = 0, f = "z", exposure = 1)),
               "predict: cannot build the model matrix of eta ~ x1 \\+ f \\+ offset\\(log\\(exposure\\)\\) from newdata")
})

test_that("predict() with two submodels gives a column for each", {
  res <- fit(y ~ dnorm(mean = mu, sd = exp(log_sigma)), data = d_f, params = c(mu = 0, log_sigma = 0),
             parameters = list(mu ~ x1 + f, log_sigma ~ x2))
  # the location submodel is lm's when the scale depends on x2 only through weights:
  # check it against a weighted least-squares fit at the fitted scale
  sigma <- exp(coef(res)["log_sigma.(Intercept)"] + coef(res)["log_sigma.x2"] * d_f$x2)
  wls <- lm(y ~ x1 + f, data = d_f, weights = 1 / sigma^2)
  out <- predict(res, newdata = d_f[1:5, ])
  expect_equal(colnames(out), c("mu", "log_sigma"))
  expect_equal(unname(out[, "mu"]), unname(predict(wls, newdata = d_f[1:5, ])), tolerance = 1e-6)
  expect_equal(unname(out[, "log_sigma"]), unname(log(sigma[1:5])), tolerance = 1e-10)
  expect_equal(unname(predict(res, newdata = d_f[1:5, ], parameter = "log_sigma")), unname(log(sigma[1:5])),
               tolerance = 1e-10)
  expect_error(predict(res, parameter = "sigma"), "predict: parameter must name submodel parameters \\(mu, log_sigma\\)")
})

test_that("simulate() draws from the fitted model, reproducibly", {
  res <- fit(y ~ dnorm(mean = mu, sd = exp(log_sigma)), data = d_f, params = c(mu = 0, log_sigma = 0),
             parameters = list(mu ~ x1 + x2 + f))
  sims <- simulate(res, nsim = 4, seed = 99)
  expect_s3_class(sims, "data.frame")
  expect_equal(dim(sims), c(n_f, 4))
  expect_named(sims, paste0("sim_", 1:4))
  # the same draws as rnorm at lm's fitted values and the ML sigma
  ref <- lm(y ~ x1 + x2 + f, data = d_f)
  set.seed(99)
  expected <- matrix(rnorm(4 * n_f, fitted(ref), sqrt(sum(residuals(ref)^2) / n_f)), n_f)
  expect_equal(unname(as.matrix(sims)), expected, tolerance = 1e-6)
  # set.seed() before the call gives the same draws, and seed = leaves the generator alone
  set.seed(7)
  a <- simulate(res, nsim = 2)
  set.seed(7)
  before <- runif(1)
  set.seed(7)
  b <- simulate(res, nsim = 2)
  expect_identical(a, b)
  set.seed(7)
  invisible(simulate(res, nsim = 2, seed = 1))
  expect_identical(runif(1), before)
  # counts from rpois
  counts <- simulate(poisson_fit(), nsim = 2, seed = 3)
  set.seed(3)
  expect_equal(unname(as.matrix(counts)), matrix(rpois(2 * n_f, fitted(poisson_glm)), n_f))
})

test_that("predict() and simulate() refuse what they cannot do", {
  dunit <- function(x, m, log = FALSE) {
    l <- -0.5 * (x - m) * (x - m) - 0.5 * log(2 * pi)
    if (log) l else exp(l)
  }
  own <- fit(y ~ dunit(m = m), data = d_f, params = c(m = 0))
  expect_error(simulate(own, nsim = 1), "simulate: the density dunit has no random-number function runit")
  expect_error(simulate(own, nsim = 0), "simulate: nsim must be a positive whole number")
  expect_error(predict(own), "predict: only fits of a formula with linear submodels")
  plain <- fit(function(mu) loglik_normal(mu, 1, d_f$y), params = c(mu = 0))
  expect_error(predict(plain), "predict: only fits of a formula with linear submodels")
  expect_error(simulate(plain), "simulate: only fits of a formula")
})
