# The nonparametric bootstrap: weighted kernels against repeated data,
# replicates against closed-form weighted MLEs from the same multinomial
# draws (and against glm with the same weights), intervals by hand.

with_weights <- femtograd:::with_kernel_weights

test_that("integer weights equal the data with observations repeated", {
  set.seed(5)
  x <- rgamma(40, 2, 1.5)
  w <- rep(c(0, 2, 1, 3), 10)
  rep_x <- rep(x, w)
  expect_equal(with_weights(w, loglik_gamma(2.2, 1.3, x)), sum(dgamma(rep_x, 2.2, 1.3, log = TRUE)),
               tolerance = 1e-12)
  expect_equal(with_weights(w, loglik_gamma(2.2, 1.3, x)), loglik_gamma(2.2, 1.3, rep_x), tolerance = 1e-13)
  f <- function(p) loglik_gamma(p$shape, p$rate, x)
  g <- function(p) loglik_gamma(p$shape, p$rate, rep_x)
  at <- function() list(shape = val(2.2), rate = val(1.3))
  expect_equal(with_weights(w, hessian(f, at())), hessian(g, at()), tolerance = 1e-12)
  expect_equal(with_weights(w, gradient(f, at()))$gradient, gradient(g, at())$gradient, tolerance = 1e-12)

  # A regression: rows repeated.
  X <- cbind(1, seq(-1, 1, length.out = 40))
  y <- rbinom(40, 1, 0.5)
  beta <- c(0.2, -0.7)
  expect_equal(with_weights(w, loglik_logistic(beta, X, y)),
               loglik_logistic(beta, X[rep(1:40, w), ], rep(y, w)), tolerance = 1e-12)

  # Restored afterwards, also after an error.
  expect_equal(loglik_gamma(2.2, 1.3, x), sum(dgamma(x, 2.2, 1.3, log = TRUE)), tolerance = 1e-12)
  expect_error(with_weights(w, stop("boom")), "boom")
  expect_null(femtograd:::kernel_weights$current)
  expect_error(with_weights(c(1, 2), loglik_gamma(2, 1, x)), "loglik_gamma: weights has length 2 but x has length 40")
  expect_error(with_weights(-w, loglik_gamma(2, 1, x)), "weights\\[2\\] = -2 is not a non-negative number")
})

exp_data <- function() {
  set.seed(31)
  rexp(60, rate = 1.7)
}

test_that("bootstrap replicates of an exponential rate are the weighted MLEs of the same draws", {
  x <- exp_data()
  n <- length(x)
  res <- fit(function(rate) loglik_exponential(rate, x), params = c(rate = 1))
  set.seed(99)
  b <- bootstrap(res, R = 200, progress = FALSE)
  set.seed(99)
  by_hand <- vapply(1:200, function(r) {
    w <- rmultinom(1, n, rep(1 / n, n))
    sum(w) / sum(w * x)
  }, numeric(1))
  expect_s3_class(b, "femtoboot")
  expect_equal(dim(b$t), c(200L, 1L))
  expect_equal(colnames(b$t), "rate")
  expect_equal(unname(b$t[, "rate"]), by_hand, tolerance = 1e-8)
  expect_equal(b$t0, coef(res))
  expect_equal(b$failed, 0)
  expect_equal(b$n, n)
  expect_equal(se(b), c(rate = sd(by_hand)), tolerance = 1e-8)
  expect_equal(unname(vcov(b)), matrix(var(by_hand)), tolerance = 1e-8)
  expect_equal(dimnames(vcov(b)), list("rate", "rate"))
})

test_that("bootstrap is reproducible with set.seed", {
  x <- exp_data()
  res <- fit(function(mu, log_sigma) loglik_normal(mu, exp(log_sigma), x), params = c(mu = 0, log_sigma = 0))
  set.seed(7)
  b1 <- bootstrap(res, R = 25, progress = FALSE)
  set.seed(7)
  b2 <- bootstrap(res, R = 25, progress = FALSE)
  expect_identical(b1$t, b2$t)
  expect_false(identical(b1$t, bootstrap(res, R = 25, progress = FALSE)$t))
})

test_that("percentile and basic intervals are quantile(type = 6) of the replicates", {
  x <- exp_data()
  res <- fit(function(mu, log_sigma) loglik_normal(mu, exp(log_sigma), x), params = c(mu = 0, log_sigma = 0))
  set.seed(3)
  b <- bootstrap(res, R = 199, progress = FALSE)
  for (level in c(0.95, 0.8)) {
    a <- (1 - level) / 2
    q <- apply(b$t, 2, quantile, probs = c(a, 1 - a), type = 6)
    pct <- confint(b, level = level)
    expect_equal(unname(pct), unname(t(q)))
    basic <- confint(b, level = level, type = "basic")
    expect_equal(unname(basic[, 1]), unname(2 * b$t0 - q[2, ]))
    expect_equal(unname(basic[, 2]), unname(2 * b$t0 - q[1, ]))
  }
  expect_equal(dimnames(confint(b)), list(c("mu", "log_sigma"), c("2.5 %", "97.5 %")))
  # With R = 199, type 6 puts the 95% limits at the 5th and 195th ordered estimates.
  expect_equal(unname(confint(b, "mu")[1, ]), sort(b$t[, "mu"])[c(5, 195)])
  expect_equal(confint(b, 2), confint(b, "log_sigma"))
  expect_error(confint(b, "sigma"), "confint: unknown parameter\\(s\\): sigma")
  expect_error(confint(b, type = "bca"), "should be one of")
  expect_equal(se(b), apply(b$t, 2, sd))
  expect_output(print(b), "199 resamples of 60 observations")
  expect_output(print(b), "std. error")
})

test_that("fixed parameters are not resampled; the rest are the weighted MLEs", {
  x <- exp_data()
  n <- length(x)
  res <- fit(function(mu, log_sigma) loglik_normal(mu, exp(log_sigma), x),
             params = c(mu = 0, log_sigma = 0), fixed = c(mu = 0.5))
  set.seed(17)
  b <- bootstrap(res, R = 40, progress = FALSE)
  set.seed(17)
  by_hand <- vapply(1:40, function(r) {
    w <- rmultinom(1, n, rep(1 / n, n))
    log(sqrt(sum(w * (x - 0.5)^2) / sum(w)))
  }, numeric(1))
  expect_equal(colnames(b$t), "log_sigma")
  expect_equal(unname(b$t[, 1]), by_hand, tolerance = 1e-8)
})

test_that("bootstrap replicates of a logistic regression equal glm with the same weights", {
  set.seed(6)
  n <- 150
  X <- cbind(1, rnorm(n))
  y <- rbinom(n, 1, plogis(0.3 + 0.8 * X[, 2]))
  res <- fit(function(beta) loglik_logistic(beta, X, y), params = list(beta = c(0, 0)))
  set.seed(23)
  b <- bootstrap(res, R = 10, progress = FALSE)
  set.seed(23)
  for (r in 1:10) {
    w <- as.vector(rmultinom(1, n, rep(1 / n, n)))
    g <- glm(y ~ X - 1, family = binomial(), weights = w, control = glm.control(epsilon = 1e-14, maxit = 100))
    expect_equal(unname(b$t[r, ]), unname(coef(g)), tolerance = 1e-6, info = r)
  }
})

test_that("failed refits give NA rows, counted and reported", {
  x <- exp_data()
  rate_hat <- 1 / mean(x)
  # Refuses rates above the estimate: every resample whose MLE lies there fails.
  res <- fit(function(rate) {
    if (value_of(rate) > rate_hat * 1.0001) stop("rate too large")
    loglik_exponential(rate, x)
  }, params = c(rate = rate_hat))
  set.seed(4)
  expect_warning(b <- bootstrap(res, R = 30, progress = FALSE), "bootstrap: [0-9]+ of 30 refits failed")
  failed <- is.na(b$t[, "rate"])
  expect_equal(b$failed, sum(failed))
  expect_gt(b$failed, 0)
  expect_lt(b$failed, 30)
  expect_true(all(b$t[!failed, "rate"] <= rate_hat * 1.0001))
  expect_output(print(b), sprintf("(%d failed)", b$failed), fixed = TRUE)
  expect_equal(se(b), c(rate = sd(b$t[!failed, "rate"])))
  expect_true(all(is.finite(confint(b))))
})

test_that("bootstrap checks its arguments and the kernels", {
  x <- exp_data()
  res <- fit(function(rate) loglik_exponential(rate, x), params = c(rate = 1))
  expect_error(bootstrap(lm(dist ~ speed, cars)), "bootstrap: fit must be a femtofit")
  expect_error(bootstrap(res, R = 0), "bootstrap: R must be a positive whole number")
  expect_error(bootstrap(res, R = 2.5), "bootstrap: R must be a positive whole number")
  expect_error(bootstrap(res, type = "parametric"), "bootstrap: type must be \"nonparametric\"")
  expect_error(bootstrap(res, progress = NA), "bootstrap: progress must be TRUE or FALSE")
  y <- rexp(20)
  two <- fit(function(rate, rate2) loglik_exponential(rate, x) + loglik_exponential(rate2, y),
             params = c(rate = 1, rate2 = 1))
  expect_error(bootstrap(two, R = 5),
               "bootstrap: the kernels under the log-likelihood see different numbers of observations (loglik_exponential: 60, loglik_exponential: 20)",
               fixed = TRUE)
  plain <- fit(function(mu, log_sigma) sum(dnorm_plain(x, mu, exp(log_sigma))), params = c(mu = 0, log_sigma = 0))
  expect_error(bootstrap(plain, R = 5), "bootstrap: the log-likelihood uses no loglik_* kernels", fixed = TRUE)
})

test_that("a progress bar appears only for long runs", {
  x <- exp_data()
  res <- fit(function(rate) loglik_exponential(rate, x), params = c(rate = 1))
  expect_silent(bootstrap(res, R = 20, progress = TRUE))
  # fit() records the function once per refit (and replays it), so the
  # sleep must make one recording slow.
  slow <- fit(function(rate) {
    Sys.sleep(0.5)
    loglik_exponential(rate, x)
  }, params = c(rate = 1 / mean(x)))
  expect_output(bootstrap(slow, R = 5, progress = TRUE), "100%")
})
