set.seed(42); x_seed <- rnorm(200, mean = 5, sd = 2)

test_that("the seed example gives the documented standard errors", {
  res <- fit(function(mu, log_sigma) loglik_normal(mu, exp(log_sigma), x_seed),
             params = c(mu = 0, log_sigma = 0))
  expect_true(res$converged)
  expect_equal(round(se(res), 7), c(mu = 0.1374822, log_sigma = 0.0500000))
  # closed forms: mu = mean, sigma^2 = mean squared deviation; se(mu) = sigma/sqrt(n), se(log sigma) = 1/sqrt(2n)
  s2 <- mean((x_seed - mean(x_seed))^2)
  expect_equal(coef(res), c(mu = mean(x_seed), log_sigma = log(sqrt(s2))), tolerance = 1e-8)
  expect_equal(unname(se(res)), c(sqrt(s2 / 200), 1 / sqrt(400)), tolerance = 1e-8)
  expect_equal(vcov(res), diag(c(s2 / 200, 1 / 400), 2), tolerance = 1e-7, ignore_attr = TRUE)
  expect_equal(observed_info(res), solve(vcov(res)), tolerance = 1e-8)
  expect_equal(nobs(res), 200)
  expect_equal(as.numeric(logLik(res)), sum(dnorm(x_seed, mean(x_seed), sqrt(s2), log = TRUE)), tolerance = 1e-10)
  expect_equal(AIC(res), -2 * as.numeric(logLik(res)) + 4)
  expect_equal(BIC(res), -2 * as.numeric(logLik(res)) + 2 * log(200))
  ci <- confint(res)
  expect_equal(unname(ci[, 1]), unname(coef(res) - qnorm(0.975) * se(res)))
  expect_equal(colnames(ci), c("2.5 %", "97.5 %"))
  expect_equal(rownames(confint(res, "mu", level = 0.9)), "mu")
})

test_that("the log-likelihood is recorded once per distinct point", {
  points <- list()
  ll <- function(mu, log_sigma) {
    points[[length(points) + 1L]] <<- c(value_of(mu), value_of(log_sigma))
    loglik_normal(mu, exp(log_sigma), x_seed)
  }
  res <- fit(ll, params = c(mu = 0, log_sigma = 0))
  expect_equal(length(points), length(unique(points)))
  expect_lte(length(points), res$evaluations)
})

test_that("the observed information is exactly symmetric", {
  res <- fit(function(mu, log_sigma) loglik_normal(mu, exp(log_sigma), x_seed),
             params = c(mu = 0, log_sigma = 0))
  expect_true(isSymmetric(observed_info(res), tol = 0))
})

test_that("every method converges on the normal model", {
  for (m in c("newton", "bfgs", "lbfgs", "gradient")) {
    res <- fit(function(mu, log_sigma) loglik_normal(mu, exp(log_sigma), x_seed),
               params = c(mu = 0, log_sigma = 0), method = m)
    expect_true(res$converged, info = m)
    expect_equal(unname(coef(res)[1]), mean(x_seed), tolerance = 1e-6, info = m)
  }
})

test_that("a single-list loglik and plain operations work too", {
  res <- fit(function(p) sum(dnorm_plain(x_seed, p$mu, exp(p$log_sigma))),
             params = list(mu = 1, log_sigma = 1))
  expect_equal(unname(se(res)[1]), sqrt(mean((x_seed - mean(x_seed))^2) / 200), tolerance = 1e-7)
})

glm_data <- function(n = 400, family = "binomial") {
  set.seed(3)
  X <- cbind(1, matrix(rnorm(n * 3), n))
  b <- c(-0.4, 0.8, -0.5, 0.3)
  y <- if (family == "binomial") rbinom(n, 1, plogis(X %*% b)) else rpois(n, exp(X %*% b))
  list(X = X, y = y)
}

test_that("logistic regression equals glm, with the fused kernel and with plain operations", {
  d <- glm_data()
  # glm's default tolerance leaves its last IRLS weights one step behind its
  # estimate; tightened, it is the exact MLE oracle.
  g <- glm(d$y ~ d$X - 1, family = binomial(), control = glm.control(epsilon = 1e-14, maxit = 100))
  fused <- fit(function(beta) loglik_logistic(beta, d$X, d$y), params = list(beta = rep(0, 4)))
  expect_equal(unname(coef(fused)), unname(coef(g)), tolerance = 1e-6)
  expect_equal(unname(se(fused)), unname(sqrt(diag(vcov(g)))), tolerance = 1e-6)
  expect_equal(names(coef(fused)), paste0("beta", 1:4))
  expect_equal(as.numeric(logLik(fused)), as.numeric(logLik(g)), tolerance = 1e-10)
  plain <- fit(function(b0, b1, b2, b3) {
    eta <- b0 * d$X[, 1] + b1 * d$X[, 2] + b2 * d$X[, 3] + b3 * d$X[, 4]
    sum(d$y * eta - softplus(eta))
  }, params = c(b0 = 0, b1 = 0, b2 = 0, b3 = 0))
  expect_equal(unname(coef(plain)), unname(coef(g)), tolerance = 1e-6)
  expect_equal(unname(se(plain)), unname(sqrt(diag(vcov(g)))), tolerance = 1e-6)
  for (m in c("bfgs", "lbfgs", "gradient")) {
    r <- fit(function(beta) loglik_logistic(beta, d$X, d$y), params = list(beta = rep(0, 4)), method = m)
    expect_true(r$converged, info = m)
    expect_equal(unname(coef(r)), unname(coef(g)), tolerance = 1e-5, info = m)
  }
})

test_that("Poisson regression equals glm, fused and plain", {
  d <- glm_data(family = "poisson")
  g <- glm(d$y ~ d$X - 1, family = poisson(), control = glm.control(epsilon = 1e-14, maxit = 100))
  fused <- fit(function(beta) loglik_poisson_log(beta, d$X, d$y), params = list(beta = rep(0, 4)))
  expect_equal(unname(coef(fused)), unname(coef(g)), tolerance = 1e-6)
  expect_equal(unname(se(fused)), unname(sqrt(diag(vcov(g)))), tolerance = 1e-6)
  plain <- fit(function(beta) { eta <- d$X %*% beta; sum(d$y * eta - exp(eta) - lgamma(d$y + 1)) },
               params = list(beta = rep(0, 4)))
  expect_equal(unname(se(plain)), unname(sqrt(diag(vcov(g)))), tolerance = 1e-6)
})

test_that("gamma vcov equals the closed-form inverse Fisher information", {
  set.seed(5)
  x <- rgamma(300, shape = 2.5, rate = 1.5)
  res <- fit(function(shape, rate) loglik_gamma(shape, rate, x), params = c(shape = 1, rate = 1))
  a <- coef(res)[["shape"]]; b <- coef(res)[["rate"]]; n <- length(x)
  info <- n * matrix(c(trigamma(a), -1 / b, -1 / b, a / b^2), 2)
  expect_equal(unname(vcov(res)), solve(info), tolerance = 1e-6)
  # the MLE satisfies rate = shape / mean(x)
  expect_equal(b, a / mean(x), tolerance = 1e-8)
})

test_that("non-convergence warns and reports converged = FALSE", {
  expect_warning(res <- fit(function(mu, log_sigma) loglik_normal(mu, exp(log_sigma), x_seed),
                            params = c(mu = 4, log_sigma = 0.5), method = "gradient", control = list(max_iter = 2)),
                 "did not converge")
  expect_false(res$converged)
})

test_that("a singular Hessian at the optimum warns and gives NA standard errors", {
  # a and b enter only through their sum: not identifiable
  expect_warning(res <- fit(function(a, b) loglik_normal(a + b, 2, x_seed), params = c(a = 0, b = 0)),
                 "not negative definite")
  expect_true(all(is.na(se(res))))
  expect_output(print(summary(res)), "Estimate")
})

test_that("bad arguments give clear errors", {
  ll <- function(mu, log_sigma) loglik_normal(mu, exp(log_sigma), x_seed)
  expect_error(fit(ll, params = c(mu = 0, mu = 0)), "fit: every parameter needs a distinct name")
  expect_error(fit(ll, params = c(mu = 0, 0)), "fit: every parameter needs a distinct name")
  expect_error(fit(ll, params = c(0, 0, 0)), "fit: params gives 3 unnamed starting values but loglik takes 2")
  expect_error(fit(ll, params = c(mu = 0, log_sigma = 0), method = "simplex"), "should be one of")
  expect_error(fit(ll, params = c(mu = 0, log_sigma = 0), control = list(tol = 1)), "unknown control setting 'tol'")
  expect_error(fit(function(mu, log_sigma) stop("boom"), params = c(mu = 0, log_sigma = 0)),
               "the log-likelihood function failed: boom")
  expect_error(fit(function(mu, log_sigma) loglik_normal(mu, exp(log_sigma), x_seed) * c(1, 1),
                   params = c(mu = 0, log_sigma = 0)), "must return a scalar")
  expect_error(fit(function(rate) loglik_exponential(rate, abs(x_seed)), params = c(rate = -1)),
               "not finite at the starting values")
})

test_that("steps into an invalid region are shortened, not fatal", {
  set.seed(9)
  x <- rexp(100, 3)
  res <- fit(function(rate) loglik_exponential(rate, x), params = c(rate = 50))
  expect_true(res$converged)
  expect_equal(coef(res)[["rate"]], 1 / mean(x), tolerance = 1e-8)
})

test_that("summary prints a coefficient table with z and p-values", {
  res <- fit(function(mu, log_sigma) loglik_normal(mu, exp(log_sigma), x_seed),
             params = c(mu = 0, log_sigma = 0))
  s <- summary(res)
  expect_equal(colnames(s$coefficients), c("Estimate", "Std. Error", "z value", "Pr(>|z|)"))
  expect_equal(s$coefficients[, "z value"], coef(res) / se(res))
  out <- capture.output(print(s))
  expect_true(any(grepl("Log-likelihood: -416.8", out)))
  expect_true(any(grepl("Converged after", out)))
  expect_output(print(res), "femtograd maximum-likelihood fit")
})

test_that("fixed parameters stay in coef() without a standard error", {
  res <- fit(function(mu, log_sigma) loglik_normal(mu, exp(log_sigma), x_seed),
             params = c(mu = 0, log_sigma = 0), fixed = c(mu = 5))
  expect_equal(coef(res)[["mu"]], 5)
  # with mu known, the MLE of sigma^2 is the mean squared deviation from 5
  expect_equal(coef(res)[["log_sigma"]], log(sqrt(mean((x_seed - 5)^2))), tolerance = 1e-8)
  expect_true(is.na(se(res)[["mu"]]))
  expect_equal(se(res)[["log_sigma"]], 1 / sqrt(400), tolerance = 1e-8)
  expect_equal(attr(logLik(res), "df"), 1)
  expect_output(print(summary(res)), "mu")
})

test_that("single elements of a vector parameter can be fixed", {
  d <- glm_data()
  res <- fit(function(beta) loglik_logistic(beta, d$X, d$y), params = list(beta = rep(0, 4)),
             fixed = c(beta3 = 0))
  g <- glm(d$y ~ d$X[, -3] - 1, family = binomial(), control = glm.control(epsilon = 1e-14, maxit = 100))
  expect_equal(unname(coef(res)[-3]), unname(coef(g)), tolerance = 1e-6)
  expect_equal(unname(se(res)[-3]), unname(sqrt(diag(vcov(g)))), tolerance = 1e-6)
  expect_equal(coef(res)[["beta3"]], 0)
  expect_error(fit(function(beta) loglik_logistic(beta, d$X, d$y), params = list(beta = rep(0, 4)),
                   fixed = c(gamma = 1)), "fixed names unknown parameter 'gamma'")
})
