# Profiles and profile confidence intervals against closed forms and
# against glm() refits with an offset (an independent profile oracle).

exp_data <- function() { set.seed(11); rexp(20, rate = 1.5) }

test_that("the profile interval of an exponential rate is the closed-form likelihood-ratio interval", {
  x <- exp_data()
  n <- length(x); total <- sum(x)
  res <- fit(function(rate) loglik_exponential(rate, x), params = c(rate = 1))
  hat <- n / total
  expect_equal(coef(res)[["rate"]], hat, tolerance = 1e-10)
  # oracle: l(rate) = n log(rate) - rate * sum(x), solved independently
  l <- function(rate) n * log(rate) - rate * total
  crossing <- function(rate) 2 * (l(hat) - l(rate)) - qchisq(0.95, 1)
  oracle <- c(uniroot(crossing, c(1e-6, hat), tol = 1e-14)$root, uniroot(crossing, c(hat, 100 * hat), tol = 1e-14)$root)
  profile_ci <- confint(res, method = "profile")
  expect_equal(dimnames(profile_ci), list("rate", c("2.5 %", "97.5 %")))
  expect_lt(max(abs(profile_ci[1, ] - oracle)), 1e-6)
  # the likelihood is skewed: both limits sit to the right of the Wald limits
  wald_ci <- confint(res)
  expect_gt(min(profile_ci - wald_ci), 0.05)
  expect_equal(confint(res, method = "wald"), wald_ci)
  # and at another level
  crossing90 <- function(rate) 2 * (l(hat) - l(rate)) - qchisq(0.9, 1)
  expect_equal(unname(confint(res, level = 0.9, method = "profile")[1, ]),
               c(uniroot(crossing90, c(1e-6, hat), tol = 1e-14)$root,
                 uniroot(crossing90, c(hat, 100 * hat), tol = 1e-14)$root), tolerance = 1e-8)
})

test_that("a one-parameter profile is the log-likelihood itself", {
  x <- exp_data()
  res <- fit(function(rate) loglik_exponential(rate, x), params = c(rate = 1))
  prof <- profile(res)
  expect_s3_class(prof, "femtoprofile")
  d <- prof$profiles$rate
  expect_equal(names(d), c("value", "loglik", "z", "converged"))
  expect_equal(nrow(d), 21)
  expect_equal(d$loglik, length(x) * log(d$value) - d$value * sum(x), tolerance = 1e-12)
  hat <- coef(res)[["rate"]]
  expect_equal(d$z, sign(d$value - hat) * sqrt(pmax(0, 2 * (res$loglik - d$loglik))))
  expect_equal(range(d$value), hat + c(-4, 4) * se(res)[["rate"]])
  expect_equal(d$z[d$value == hat], 0)
  expect_equal(prof$loglik, res$loglik)
  expect_equal(prof$estimate, coef(res))
})

set.seed(21); x_norm <- rnorm(40, mean = 3, sd = 2)
normal_fit <- function(...) {
  fit(function(mu, log_sigma) loglik_normal(mu, exp(log_sigma), x_norm), params = c(mu = 0, log_sigma = 0), ...)
}

test_that("the profile of a normal mean, log sigma re-maximised, is the closed form", {
  res <- normal_fit()
  n <- length(x_norm)
  prof <- profile(res, which = "mu")
  expect_equal(names(prof$profiles), "mu")
  d <- prof$profiles$mu
  expect_equal(names(d), c("value", "loglik", "z", "converged", "log_sigma"))
  expect_true(all(d$converged))
  s2 <- vapply(d$value, function(mu) mean((x_norm - mu)^2), numeric(1))
  expect_equal(d$loglik, -n / 2 * log(2 * pi * s2) - n / 2, tolerance = 1e-10)
  expect_equal(d$log_sigma, log(sqrt(s2)), tolerance = 1e-8)
  expect_true(all(diff(d$z) > 0))
  # and its interval: n log(s2(mu) / s2_hat) = qchisq(level, 1)
  s2_hat <- mean((x_norm - mean(x_norm))^2)
  oracle <- mean(x_norm) + c(-1, 1) * sqrt(s2_hat * (exp(qchisq(0.95, 1) / n) - 1))
  expect_lt(max(abs(confint(res, "mu", method = "profile")[1, ] - oracle)), 1e-7)
})

test_that("the profile of log sigma holds mu at the sample mean", {
  res <- normal_fit()
  n <- length(x_norm)
  d <- profile(res, which = 2, n = 9)$profiles$log_sigma
  expect_equal(nrow(d), 9)
  expect_equal(d$mu, rep(mean(x_norm), 9), tolerance = 1e-8)
  s2_hat <- mean((x_norm - mean(x_norm))^2)
  sigma2 <- exp(2 * d$value)
  expect_equal(d$loglik, -n / 2 * log(2 * pi * sigma2) - n * s2_hat / (2 * sigma2), tolerance = 1e-10)
})

test_that("the grid can be given, and always contains the estimate", {
  res <- normal_fit()
  hat <- coef(res)
  d <- profile(res, which = "mu", grid = c(2, 4, 3))$profiles$mu
  expect_equal(d$value, sort(c(2, 3, 4, hat[["mu"]])))
  expect_equal(profile(res, n = 4)$profiles$log_sigma$value[3], hat[["log_sigma"]])
  both <- profile(res, grid = list(log_sigma = c(0.5, 1)))
  expect_equal(nrow(both$profiles$mu), 21)
  expect_equal(nrow(both$profiles$log_sigma), 3)
  expect_output(print(both), "mu: 21 points")
})

test_that("profiling an element of a vector parameter matches glm refits with an offset", {
  set.seed(31)
  n <- 300
  X <- cbind(1, rnorm(n), rnorm(n))
  y <- rbinom(n, 1, plogis(X %*% c(0.3, -0.7, 0.4)))
  res <- fit(function(beta) loglik_logistic(beta, X, y), params = list(beta = rep(0, 3)))
  # oracle: the profile log-likelihood of beta3 at b is glm's maximum with b * X[, 3] as an offset
  oracle_loglik <- function(b) {
    g <- glm(y ~ X[, 1:2] - 1, family = binomial(), offset = b * X[, 3],
             control = glm.control(epsilon = 1e-14, maxit = 100))
    as.numeric(logLik(g))
  }
  d <- profile(res, which = "beta3", n = 7)$profiles$beta3
  expect_equal(names(d), c("value", "loglik", "z", "converged", "beta1", "beta2"))
  expect_equal(d$loglik, vapply(d$value, oracle_loglik, numeric(1)), tolerance = 1e-10)
  crossing <- function(b) 2 * (res$loglik - oracle_loglik(b)) - qchisq(0.95, 1)
  hat <- coef(res)[["beta3"]]
  oracle <- c(uniroot(crossing, hat + c(-1, 0), tol = 1e-12)$root, uniroot(crossing, hat + c(0, 1), tol = 1e-12)$root)
  ci <- confint(res, method = "profile")
  expect_lt(max(abs(ci["beta3", ] - oracle)), 1e-6)
  expect_equal(rownames(ci), paste0("beta", 1:3))
})

test_that("fixed parameters get NA profile limits and cannot be profiled", {
  res <- normal_fit(fixed = c(mu = 3))
  ci <- confint(res, method = "profile")
  expect_true(all(is.na(ci["mu", ])))
  expect_true(all(is.finite(ci["log_sigma", ])))
  expect_error(profile(res, which = "mu"), "profile: parameter\\(s\\) mu are fixed in the fit")
  expect_equal(names(profile(res)$profiles), "log_sigma")
})

test_that("a profile that never reaches the cut-off gives an NA limit with a warning", {
  # the mean is sigmoid(a): as a grows the likelihood levels off above the cut-off
  set.seed(41)
  x <- rnorm(50, mean = 0.9, sd = 1)
  res <- fit(function(a) loglik_normal(sigmoid(a), 1, x), params = c(a = 0))
  expect_warning(ci <- confint(res, method = "profile"), "confint: no upper 95% profile limit for 'a'")
  expect_true(is.na(ci[1, 2]))
  expect_true(is.finite(ci[1, 1]))
})

test_that("the limit search backs off where the log-likelihood cannot be evaluated", {
  # a quadratic log-likelihood that fails below a = -1, before it reaches the cut-off
  ll <- function(a) {
    if (value_of(a) < -1) stop("outside the support")
    -0.1 * a^2
  }
  res <- fit(ll, params = c(a = 0.5))
  expect_warning(ci <- confint(res, method = "profile"), "no lower 95% profile limit for 'a'.*can no longer be evaluated.*outside the support")
  expect_true(is.na(ci[1, 1]))
  expect_equal(ci[1, 2], sqrt(qchisq(0.95, 1) / 0.2), tolerance = 1e-8)
  expect_warning(prof <- profile(res), "refit failed at .* grid point\\(s\\) of 'a'.*: outside the support")
  d <- prof$profiles$a
  expect_true(all(is.na(d$loglik[d$value < -1])))
  expect_equal(d$loglik[d$value >= -1], -0.1 * d$value[d$value >= -1]^2, tolerance = 1e-12)
})

test_that("bad arguments give clear errors", {
  res <- normal_fit()
  expect_error(profile(res, which = "sigma"), "profile: unknown parameter\\(s\\): sigma")
  expect_error(profile(res, which = 3), "profile: parameter position\\(s\\) 3 out of range")
  expect_error(profile(res, grid = 1:3), "profile: with several parameters, give grid as a list")
  expect_error(profile(res, grid = list(sigma = 1)), "profile: grid must be named by profiled parameters")
  expect_error(profile(res, which = "mu", grid = c(1, NA)), "profile: the grid for 'mu' must be finite numbers")
  expect_error(profile(res, n = 1), "profile: n must be")
  expect_error(profile(res, width = -1), "profile: width must be")
  expect_error(confint(res, method = "bootstrap"), "should be one of")
  expect_error(confint(res, level = 95), "confint: level must be a single number between 0 and 1")
  expect_error(plot(profile(res, which = "mu", n = 5), which = "log_sigma"), "plot: which must name profiled parameters")
})

test_that("profiles plot as signed root deviance and as log-likelihood", {
  res <- normal_fit()
  prof <- profile(res, n = 11)
  pdf(NULL)
  on.exit(dev.off())
  before <- par("mfrow")
  expect_silent(plot(prof))
  expect_silent(plot(prof, type = "loglik", level = 0.9))
  expect_silent(plot(prof, which = "log_sigma", main = "one panel"))
  expect_identical(plot(prof, which = 1), prof)
  expect_equal(par("mfrow"), before)
  expect_error(plot(prof, type = "deviance"), "should be one of")
})

test_that("profiles of a transformed one-parameter fit are taken on the natural scale", {
  set.seed(7)
  x <- rexp(20, 2)
  plain <- fit(function(rate) loglik_exponential(rate, x), params = c(rate = 1))
  transformed <- fit(function(rate) loglik_exponential(rate, x), params = c(rate = 1),
                     transform = list(rate = "positive"))
  expect_equal(confint(transformed, method = "profile"), confint(plain, method = "profile"), tolerance = 1e-6)
  grid <- c(1, 1.5, 2)
  closed_form <- 20 * log(grid) - grid * sum(x)
  prof <- profile(transformed, grid = grid)$profiles$rate
  expect_equal(prof$loglik[match(grid, prof$value)], closed_form, tolerance = 1e-10)
})
