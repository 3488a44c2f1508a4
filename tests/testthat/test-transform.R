set.seed(42); x_tr <- rnorm(200, mean = 5, sd = 2)
s2_tr <- mean((x_tr - mean(x_tr))^2)

test_that("a positive sigma on its natural scale gives the closed-form MLE and SE", {
  res <- fit(function(mu, sigma) loglik_normal(mu, sigma, x_tr), params = c(mu = 0, sigma = 1),
             transform = list(sigma = "positive"))
  n <- length(x_tr)
  expect_true(res$converged)
  expect_equal(coef(res), c(mu = mean(x_tr), sigma = sqrt(s2_tr)), tolerance = 1e-8)
  expect_equal(se(res), c(mu = sqrt(s2_tr / n), sigma = sqrt(s2_tr) / sqrt(2 * n)), tolerance = 1e-8)
  # the same as the delta method from the log-scale fit
  logfit <- fit(function(mu, log_sigma) loglik_normal(mu, exp(log_sigma), x_tr), params = c(mu = 0, log_sigma = 0))
  d <- delta_method(logfit, function(log_sigma) exp(log_sigma))
  expect_equal(se(res)[["sigma"]], se(d)[["g"]], tolerance = 1e-8)
  expect_equal(as.numeric(logLik(res)), as.numeric(logLik(logfit)), tolerance = 1e-12)
  # the working scale is the log scale
  expect_s3_class(res$working, "femtofit")
  expect_equal(coef(res$working), c(mu = mean(x_tr), sigma = log(sqrt(s2_tr))), tolerance = 1e-8)
  expect_equal(unname(vcov(res$working)), unname(vcov(logfit)), tolerance = 1e-7)
  expect_equal(unname(se(res$working)), c(sqrt(s2_tr / n), 1 / sqrt(2 * n)), tolerance = 1e-8)
  # natural-scale information, Hessian and gradient are consistent with vcov
  expect_equal(observed_info(res), solve(vcov(res)), tolerance = 1e-8)
  expect_equal(unname(observed_info(res)), n * diag(c(1 / s2_tr, 2 / s2_tr)), tolerance = 1e-7)
  expect_equal(names(res$gradient), c("mu", "sigma"))
  expect_equal(res$transforms, c(sigma = "sigma = exp(u)"))
  expect_output(print(res), "Estimated on an unconstrained scale \\(see \\$working\\): sigma = exp\\(u\\)")
  expect_output(print(summary(res)), "sigma = exp")
  expect_equal(unname(confint(res)[2, 1]), coef(res)[["sigma"]] - qnorm(0.975) * se(res)[["sigma"]])
  # the delta method on the transformed fit receives sigma on the natural scale
  expect_equal(se(delta_method(res, function(sigma) log(sigma)))[["g"]], 1 / sqrt(2 * n), tolerance = 1e-8)
  expect_equal(se(delta_method(res$working, function(sigma) exp(sigma)))[["g"]], se(res)[["sigma"]],
               tolerance = 1e-10)
})

test_that("every method works with a transform", {
  for (m in c("bfgs", "lbfgs", "gradient")) {
    res <- fit(function(mu, sigma) loglik_normal(mu, sigma, x_tr), params = c(mu = 0, sigma = 1),
               transform = list(sigma = "positive"), method = m)
    expect_true(res$converged, info = m)
    expect_equal(coef(res)[["sigma"]], sqrt(s2_tr), tolerance = 1e-6, info = m)
  }
})

test_that("a Bernoulli probability gives the closed-form SE sqrt(p(1-p)/n)", {
  set.seed(11)
  y <- rbinom(250, 1, 0.3)
  res <- fit(function(p) loglik_bernoulli(p, y), params = c(p = 0.5), transform = list(p = "probability"))
  p <- mean(y)
  expect_equal(coef(res), c(p = p), tolerance = 1e-8)
  expect_equal(se(res), c(p = sqrt(p * (1 - p) / 250)), tolerance = 1e-8)
  expect_equal(coef(res$working), c(p = qlogis(p)), tolerance = 1e-8)
  expect_equal(se(res$working), c(p = 1 / sqrt(250 * p * (1 - p))), tolerance = 1e-8)
  expect_equal(res$transforms, c(p = "p = sigmoid(u)"))
})

test_that("bounded(0, 10) on an exponential rate", {
  set.seed(9)
  x <- rexp(100, 3)
  res <- fit(function(rate) loglik_exponential(rate, x), params = c(rate = 1),
             transform = list(rate = bounded(0, 10)))
  rate <- 1 / mean(x)
  expect_equal(coef(res), c(rate = rate), tolerance = 1e-8)
  expect_equal(se(res), c(rate = rate / sqrt(100)), tolerance = 1e-8)
  expect_equal(coef(res$working), c(rate = log(rate / (10 - rate))), tolerance = 1e-8)
  expect_equal(res$transforms, c(rate = "rate = 10 * sigmoid(u)"))
  expect_error(fit(function(rate) loglik_exponential(rate, x), params = c(rate = 12),
                   transform = list(rate = bounded(0, 10))), "fit: start value of rate must be in \\(0, 10\\)")
})

test_that("any transform leaves the natural-scale MLE and SE unchanged", {
  plain <- fit(function(mu, sigma) loglik_normal(mu, sigma, x_tr), params = c(mu = 1, sigma = 1))
  for (tr in list(list(mu = bounded(-Inf, 10), sigma = bounded(1, Inf)),
                  list(mu = bounded(0, 10), sigma = bounded(0, 100)))) {
    res <- fit(function(mu, sigma) loglik_normal(mu, sigma, x_tr), params = c(mu = 1, sigma = 1.5), transform = tr)
    expect_equal(coef(res), coef(plain), tolerance = 1e-8)
    expect_equal(se(res), se(plain), tolerance = 1e-8)
    expect_equal(vcov(res), vcov(plain), tolerance = 1e-7)
  }
  res <- fit(function(mu, sigma) loglik_normal(mu, sigma, x_tr), params = c(mu = 1, sigma = 1.5),
             transform = list(mu = bounded(-Inf, 10), sigma = bounded(1, Inf)))
  expect_equal(res$transforms, c(mu = "mu = 10 - exp(-u)", sigma = "sigma = 1 + exp(u)"))
})

test_that("fixed values of transformed parameters are on the natural scale", {
  ll <- function(mu, sigma) loglik_normal(mu, sigma, x_tr)
  n <- length(x_tr)
  # mu fixed, sigma transformed
  res <- fit(ll, params = c(mu = 0, sigma = 1), transform = list(sigma = "positive"), fixed = c(mu = 5))
  s <- sqrt(mean((x_tr - 5)^2))
  expect_equal(coef(res), c(mu = 5, sigma = s), tolerance = 1e-8)
  expect_equal(se(res)[["sigma"]], s / sqrt(2 * n), tolerance = 1e-8)
  expect_true(is.na(se(res)[["mu"]]))
  # the transformed parameter itself fixed: exactly the given value
  res2 <- fit(ll, params = c(mu = 0, sigma = 1), transform = list(sigma = "positive"), fixed = c(sigma = 2))
  expect_identical(coef(res2)[["sigma"]], 2)
  expect_equal(coef(res2)[["mu"]], mean(x_tr), tolerance = 1e-8)
  expect_equal(se(res2)[["mu"]], 2 / sqrt(n), tolerance = 1e-8)
  expect_equal(coef(res2$working)[["sigma"]], log(2))
  expect_error(fit(ll, params = c(mu = 0, sigma = 1), transform = list(sigma = "positive"), fixed = c(sigma = -1)),
               "fit: fixed value of sigma must be non-negative")
})

test_that("a probability may be fixed on its boundary", {
  set.seed(7)
  y <- rpois(300, 2.5)
  zip <- function(p, lambda) {
    sum(log(p * as.numeric(y == 0) + (1 - p) * exp(-lambda) * lambda^y / factorial(y)))
  }
  res <- fit(zip, params = c(p = 0.2, lambda = 1), transform = list(p = "probability", lambda = "positive"),
             fixed = c(p = 0))
  expect_equal(coef(res), c(p = 0, lambda = mean(y)), tolerance = 1e-8)
  expect_equal(se(res)[["lambda"]], sqrt(mean(y) / 300), tolerance = 1e-8)
  expect_equal(coef(res$working)[["p"]], -Inf)
})

test_that("a transform applies to every element of a vector parameter, also with fixed elements", {
  set.seed(3)
  grp <- rep(1:2, c(120, 80))
  cnt <- rpois(200, c(2, 5)[grp])
  Z <- cbind(grp == 1, grp == 2) * 1
  ll <- function(lambda) loglik_poisson(Z %*% lambda, cnt)
  res <- fit(ll, params = list(lambda = c(1, 1)), transform = list(lambda = "positive"))
  means <- as.numeric(tapply(cnt, grp, mean))
  expect_equal(unname(coef(res)), means, tolerance = 1e-8)
  expect_equal(unname(se(res)), sqrt(means / c(120, 80)), tolerance = 1e-8)
  expect_equal(unname(coef(res$working)), log(means), tolerance = 1e-8)
  part <- fit(ll, params = list(lambda = c(1, 1)), transform = list(lambda = "positive"), fixed = c(lambda2 = 3))
  expect_equal(unname(coef(part)), c(means[1], 3), tolerance = 1e-8)
  expect_equal(se(part)[["lambda1"]], sqrt(means[1] / 120), tolerance = 1e-8)
  expect_true(is.na(se(part)[["lambda2"]]))
  d <- delta_method(part, function(lambda) sum(lambda))
  expect_equal(se(d)[["g"]], se(part)[["lambda1"]], tolerance = 1e-10)
  expect_error(fit(ll, params = list(lambda = c(1, -1)), transform = list(lambda = "positive")),
               "fit: start value of lambda2 must be positive")
})

test_that("a matrix parameter keeps its shape under a transform", {
  set.seed(8)
  x1 <- rnorm(50, 0, 1.5); x2 <- rnorm(80, 0, 3)
  shapes <- list()
  res <- fit(function(s) {
    shapes[[length(shapes) + 1L]] <<- dim(s)
    loglik_normal(0, s %*% c(1, 0), x1) + loglik_normal(0, s %*% c(0, 1), x2)
  }, params = list(s = matrix(1, 1, 2)), transform = list(s = "positive"))
  expect_true(all(vapply(shapes, identical, logical(1), c(1L, 2L))))
  expect_equal(unname(coef(res)), c(sqrt(mean(x1^2)), sqrt(mean(x2^2))), tolerance = 1e-6)
})

test_that("refit takes natural-scale fixed and start values", {
  ll <- function(mu, sigma) loglik_normal(mu, sigma, x_tr)
  res <- fit(ll, params = c(mu = 0, sigma = 1), transform = list(sigma = "positive"))
  again <- femtograd:::refit(res, fixed = c(sigma = 2))
  direct <- fit(ll, params = c(mu = 0, sigma = 1), transform = list(sigma = "positive"), fixed = c(sigma = 2))
  expect_equal(coef(again), coef(direct), tolerance = 1e-10)
  expect_equal(logLik(again), logLik(direct), tolerance = 1e-12)
  expect_equal(again$transforms, c(sigma = "sigma = exp(u)"))
  moved <- femtograd:::refit(res, fixed = c(mu = 5), start = c(sigma = 3))
  expect_equal(coef(moved)[["sigma"]], sqrt(mean((x_tr - 5)^2)), tolerance = 1e-8)
  expect_error(femtograd:::refit(res, start = c(sigma = -3)), "fit: start value of sigma must be positive")
  # the working fit refits on the working scale
  w <- femtograd:::refit(res$working, fixed = c(sigma = log(2)))
  expect_equal(coef(w)[["mu"]], coef(direct)[["mu"]], tolerance = 1e-10)
  expect_equal(as.numeric(logLik(w)), as.numeric(logLik(direct)), tolerance = 1e-12)
})

test_that("bad transforms and start values give clear errors naming fit", {
  ll <- function(mu, sigma) loglik_normal(mu, sigma, x_tr)
  start <- c(mu = 0, sigma = 1)
  expect_error(fit(ll, start, transform = list(tau = "positive")),
               "fit: transform names unknown parameter 'tau' \\(parameters: mu, sigma\\)")
  expect_error(fit(ll, start, transform = list(sigma = "pos")),
               "fit: transform for 'sigma' must be \"positive\", \"probability\" or bounded\\(lower, upper\\), got \"pos\"")
  expect_error(fit(ll, start, transform = list(sigma = exp)), "got an object of class 'function'")
  expect_error(fit(ll, start, transform = list("positive")), "fit: transform must be a named list")
  expect_error(fit(ll, c(mu = 0, sigma = -1), transform = list(sigma = "positive")),
               "fit: start value of sigma must be positive, got -1")
  expect_error(fit(ll, c(mu = 0, sigma = 0), transform = list(sigma = "positive")),
               "fit: start value of sigma must be positive")
  expect_error(fit(function(p) loglik_bernoulli(p, c(0, 1)), c(p = 1), transform = list(p = "probability")),
               "fit: start value of p must be in \\(0, 1\\)")
  expect_error(fit(ll, c(mu = 0, sigma = 1), transform = list(mu = bounded(2, 3))),
               "fit: start value of mu must be in \\(2, 3\\)")
  expect_error(bounded(10, 0), "bounded: lower must be less than upper, got lower = 10, upper = 0")
  expect_error(bounded(0, c(1, 2)), "bounded: lower and upper must be single numbers")
  expect_error(bounded(NA, 1), "bounded: lower and upper must be single numbers")
  # a character vector works as well as a list
  res <- fit(ll, start, transform = c(sigma = "positive"))
  expect_equal(coef(res)[["sigma"]], sqrt(s2_tr), tolerance = 1e-8)
})

test_that("bounded() prints what it does", {
  expect_output(print(bounded(0, 10)), "bounded\\(0, 10\\): the parameter is 10 \\* sigmoid\\(u\\)")
  expect_output(print(bounded(2, Inf)), "2 \\+ exp\\(u\\)")
  b <- bounded(-1, 1)
  expect_s3_class(b, "femtograd_bounds")
  expect_equal(unclass(b), list(lower = -1, upper = 1))
})

test_that("fits without transforms are unchanged and carry themselves as working", {
  res <- fit(function(mu, log_sigma) loglik_normal(mu, exp(log_sigma), x_tr), params = c(mu = 0, log_sigma = 0))
  expect_equal(coef(res$working), coef(res))
  expect_equal(vcov(res$working), vcov(res))
  expect_length(res$transforms, 0L)
  expect_null(res$working$working)
})

test_that("sandwich and bootstrap work on transformed fits, on the natural scale", {
  set.seed(11)
  y <- rexp(150)   # a normal model for exponential data: misspecified
  on_log <- fit(function(mu, log_sigma) loglik_normal(mu, exp(log_sigma), y), params = c(mu = 0, log_sigma = 0))
  natural <- fit(function(mu, sigma) loglik_normal(mu, sigma, y), params = c(mu = 0, sigma = 1),
                 transform = list(sigma = "positive"))
  robust_log <- se(on_log, type = "sandwich")
  robust_nat <- se(natural, type = "sandwich")
  expect_equal(robust_nat[["mu"]], robust_log[["mu"]], tolerance = 1e-7)
  expect_equal(robust_nat[["sigma"]], coef(natural)[["sigma"]] * robust_log[["log_sigma"]], tolerance = 1e-7)
  set.seed(3); b_nat <- bootstrap(natural, R = 20, progress = FALSE)
  set.seed(3); b_log <- bootstrap(on_log, R = 20, progress = FALSE)
  expect_equal(b_nat$t[, "sigma"], exp(b_log$t[, "log_sigma"]), tolerance = 1e-6)
})
