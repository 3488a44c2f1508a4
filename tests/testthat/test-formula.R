# The formula interface of fit() (issue 12, part 1), against glm(), lm(),
# closed forms and bbmle::mle2.

set.seed(2024)
n_f <- 250
d_f <- data.frame(x1 = rnorm(n_f), x2 = runif(n_f), f = factor(sample(c("a", "b", "c"), n_f, TRUE)),
                  exposure = runif(n_f, 0.5, 3))
d_f$count <- rpois(n_f, d_f$exposure * exp(0.2 + 0.4 * d_f$x1 + c(0, 0.5, -0.4)[d_f$f]))
d_f$y <- 1 + 2 * d_f$x1 - d_f$x2 + c(0, 1, -1)[d_f$f] + rnorm(n_f, sd = 1.5)
d_f$hit <- rbinom(n_f, 1, plogis(-0.3 + 0.8 * d_f$x1 + 0.5 * d_f$x1 * (d_f$f == "b")))
tight <- glm.control(epsilon = 1e-14, maxit = 100)

poisson_fit <- function(...) {
  fit(count ~ dpois(lambda = exp(eta)), data = d_f, params = list(eta = 0),
      parameters = list(eta ~ x1 + f + offset(log(exposure))), ...)
}
poisson_glm <- glm(count ~ x1 + f + offset(log(exposure)), family = poisson, data = d_f, control = tight)

test_that("a Poisson regression with a factor and an offset equals glm()", {
  res <- poisson_fit()
  expect_named(coef(res), paste0("eta.", names(coef(poisson_glm))))
  expect_equal(unname(coef(res)), unname(coef(poisson_glm)), tolerance = 1e-6)
  expect_equal(unname(se(res)), unname(sqrt(diag(vcov(poisson_glm)))), tolerance = 1e-6)
  expect_equal(as.numeric(logLik(res)), as.numeric(logLik(poisson_glm)), tolerance = 1e-10)
  expect_equal(AIC(res), AIC(poisson_glm), tolerance = 1e-10)
  expect_equal(nobs(res), n_f)
  expect_equal(BIC(res), BIC(poisson_glm), tolerance = 1e-10)
})

test_that("a logistic regression with an interaction equals glm()", {
  res <- fit(hit ~ dbinom(size = 1, prob = plogis(eta)), data = d_f, params = c(eta = 0),
             parameters = list(eta ~ x1 * f))
  ref <- glm(hit ~ x1 * f, family = binomial, data = d_f, control = tight)
  expect_named(coef(res), paste0("eta.", names(coef(ref))))
  expect_equal(unname(coef(res)), unname(coef(ref)), tolerance = 1e-6)
  expect_equal(unname(se(res)), unname(sqrt(diag(vcov(ref)))), tolerance = 1e-6)
})

test_that("a normal linear model equals lm(), with the ML sigma", {
  res <- fit(y ~ dnorm(mean = mu, sd = exp(log_sigma)), data = d_f, params = c(mu = 0, log_sigma = 0),
             parameters = list(mu ~ x1 + x2 + f))
  ref <- lm(y ~ x1 + x2 + f, data = d_f)
  p <- length(coef(ref))
  expect_named(coef(res), c(paste0("mu.", names(coef(ref))), "log_sigma"))
  beta <- coef(res)[paste0("mu.", names(coef(ref)))]
  expect_equal(unname(beta), unname(coef(ref)), tolerance = 1e-6)
  # ML sigma^2 is RSS / n; lm's is RSS / (n - p)
  expect_equal(unname(exp(coef(res)["log_sigma"])), sqrt(sum(residuals(ref)^2) / n_f), tolerance = 1e-6)
  # so the ML standard errors are lm's times sqrt((n - p) / n)
  expect_equal(unname(se(res)[names(beta)]), unname(sqrt(diag(vcov(ref))) * sqrt((n_f - p) / n_f)),
               tolerance = 1e-6)
  # and log sigma's is 1 / sqrt(2 n) (its observed information is 2 n at the optimum)
  expect_equal(unname(se(res)["log_sigma"]), 1 / sqrt(2 * n_f), tolerance = 1e-6)
  # glm's gaussian log-likelihood is the ML one
  expect_equal(as.numeric(logLik(res)), as.numeric(logLik(glm(y ~ x1 + x2 + f, data = d_f))), tolerance = 1e-10)
})

test_that("scalar parameters alone: the closed-form normal MLE", {
  res <- fit(y ~ dnorm(mean = mu, sd = exp(log_sigma)), data = d_f, params = c(mu = 0, log_sigma = 0))
  expect_named(coef(res), c("mu", "log_sigma"))
  s_ml <- sqrt(mean((d_f$y - mean(d_f$y))^2))
  expect_equal(unname(coef(res)), c(mean(d_f$y), log(s_ml)), tolerance = 1e-8)
  expect_equal(unname(se(res)), c(s_ml / sqrt(n_f), 1 / sqrt(2 * n_f)), tolerance = 1e-6)
  # positional density arguments follow the response, as in mle2
  positional <- fit(y ~ dnorm(mu, exp(log_sigma)), data = d_f, params = c(mu = 0, log_sigma = 0))
  expect_equal(coef(positional), coef(res), tolerance = 1e-10)
  # a transformed parameter on its natural scale
  natural <- fit(y ~ dnorm(mean = mu, sd = sigma), data = d_f, params = c(mu = 0, sigma = 1),
                 transform = list(sigma = "positive"))
  expect_equal(unname(coef(natural)["sigma"]), s_ml, tolerance = 1e-8)
})

test_that("the usual methods work on formula fits: profile, tests, fixed", {
  res <- poisson_fit()
  # fixing a coefficient at 0 is the model without it
  without_x1 <- poisson_fit(fixed = c(eta.x1 = 0))
  ref0 <- glm(count ~ f + offset(log(exposure)), family = poisson, data = d_f, control = tight)
  expect_equal(unname(coef(without_x1)[c("eta.(Intercept)", "eta.fb", "eta.fc")]), unname(coef(ref0)),
               tolerance = 1e-6)
  expect_equal(unname(lrt(without_x1, res)$statistic), deviance(ref0) - deviance(poisson_glm), tolerance = 1e-6)
  rao <- anova(ref0, poisson_glm, test = "Rao")
  expect_equal(unname(score_test(without_x1)$statistic), rao$Rao[2], tolerance = 1e-6)
  # profile intervals of a glm are the likelihood-ratio ones; check one
  # limit by its definition, with glm refits holding the coefficient fixed
  ci <- confint(res, parm = "eta.x1", method = "profile")
  deviance_at <- function(b) {
    deviance(glm(count ~ f + offset(log(exposure) + b * x1), family = poisson, data = d_f, control = tight))
  }
  expect_equal(deviance_at(ci[1, 1]) - deviance(poisson_glm), qchisq(0.95, 1), tolerance = 1e-5)
  expect_equal(deviance_at(ci[1, 2]) - deviance(poisson_glm), qchisq(0.95, 1), tolerance = 1e-5)
  expect_output(print(summary(res)), "eta.x1")
})

test_that("start values for a submodel: a scalar or a full vector, in column order or by name", {
  res <- poisson_fit()
  full <- fit(count ~ dpois(lambda = exp(eta)), data = d_f, params = list(eta = c(0.1, 0, 0, 0)),
              parameters = list(eta ~ x1 + f + offset(log(exposure))))
  expect_equal(coef(full), coef(res), tolerance = 1e-8)
  by_name <- fit(count ~ dpois(lambda = exp(eta)), data = d_f,
                 params = list(eta = c(fc = 0, fb = 0, x1 = 0, "(Intercept)" = 0.1)),
                 parameters = list(eta ~ x1 + f + offset(log(exposure))))
  expect_equal(coef(by_name), coef(res), tolerance = 1e-8)
  expect_error(fit(count ~ dpois(lambda = exp(eta)), data = d_f, params = list(eta = c(0, 0)),
                   parameters = list(eta ~ x1 + f)),
               "fit: the start of parameter 'eta' has 2 values; its submodel eta ~ x1 \\+ f has 4 coefficients")
  expect_error(fit(count ~ dpois(lambda = exp(eta)), data = d_f, params = list(eta = c(a = 0, b = 0, c = 0, d = 0)),
                   parameters = list(eta ~ x1 + f)), "fit: the start of parameter 'eta' names a, b, c, d")
})

test_that("an intercept-only submodel is the scalar parameter, as in mle2", {
  res <- fit(count ~ dpois(lambda = exp(eta)), data = d_f, params = c(eta = 0), parameters = list(eta ~ 1))
  expect_named(coef(res), "eta")
  expect_equal(unname(coef(res)), log(mean(d_f$count)), tolerance = 1e-8)
})

test_that("rows with missing values in the model's variables are left out, as glm does", {
  d_na <- d_f
  d_na$x1[c(3, 17)] <- NA
  d_na$count[40] <- NA
  d_na$unused <- NA   # not a variable of the model: keeps every row
  res <- fit(count ~ dpois(lambda = exp(eta)), data = d_na, params = list(eta = 0),
             parameters = list(eta ~ x1 + f + offset(log(exposure))))
  ref <- glm(count ~ x1 + f + offset(log(exposure)), family = poisson, data = d_na, control = tight)
  expect_equal(unname(coef(res)), unname(coef(ref)), tolerance = 1e-6)
  expect_equal(nobs(res), n_f - 3)
})

test_that("stats' d-functions are used on values also where femtograd is not attached", {
  f <- count ~ dpois(lambda = exp(eta))
  environment(f) <- new.env(parent = asNamespace("stats"))   # dpois is stats::dpois here
  sub <- eta ~ x1 + f + offset(log(exposure))
  environment(sub) <- environment(f)
  res <- fit(f, data = d_f, params = list(eta = 0), parameters = list(sub))
  expect_equal(unname(coef(res)), unname(coef(poisson_glm)), tolerance = 1e-6)
})

test_that("bad formulas and arguments give clear errors", {
  expect_error(fit(y ~ dnormal(mean = mu, sd = 1), data = d_f, params = c(mu = 0)),
               "fit: unknown density function 'dnormal'")
  expect_error(fit(z ~ dnorm(mean = mu, sd = 1), data = d_f, params = c(mu = 0)),
               "fit: the formula's response 'z' is not a column of data")
  expect_error(fit(count ~ dpois(lambda = exp(eta)), data = d_f, params = c(mu = 0), parameters = list(eta ~ x1)),
               "fit: parameter 'eta' in parameters= has no start value in params")
  expect_error(fit(y ~ dnorm(mean = mu, sd = s), data = d_f, params = c(mu = 0)),
               "fit: 's' in the formula is neither a parameter in params nor a column of data")
  expect_error(fit(y ~ dnorm(mean = mu, sd = 1), data = d_f, params = c(mu = 0, extra = 1)),
               "fit: parameter 'extra' in params does not appear in the formula")
  expect_error(fit(y ~ dnorm(mean = x1, sd = 1), data = d_f, params = c(x1 = 0)),
               "fit: 'x1' is both a parameter and a column of data")
  expect_error(fit(y ~ dnorm(mean = mu, sd = 1), data = d_f, params = c(0)), "fit: with a formula, params must name")
  expect_error(fit(~ dnorm(mean = mu, sd = 1), data = d_f, params = c(mu = 0)), "fit: the formula needs a response")
  expect_error(fit(y ~ mu, data = d_f, params = c(mu = 0)), "fit: the right-hand side of the formula must call a density")
  expect_error(fit(y ~ dnorm(x = y, mean = mu), data = d_f, params = c(mu = 0)), "fit: give dnorm neither x")
  expect_error(fit(y ~ dnorm(mean = mu), data = d_f, params = c(mu = 0), parameters = list(mu ~ nothere)),
               "fit: cannot build the model matrix of mu ~ nothere")
  expect_error(fit(y ~ dnorm(mean = mu), data = d_f, params = c(mu = 0), parameters = list(~ x1)),
               "fit: each formula in parameters needs one parameter name on its left")
  expect_error(fit(function(mu) loglik_normal(mu, 1, d_f$y), params = c(mu = 0), data = d_f),
               "fit: data and parameters go with a formula")
  # a density of the user's own works (here the unit-variance normal)
  dunit <- function(x, m, log = FALSE) {
    l <- -0.5 * (x - m) * (x - m) - 0.5 * log(2 * pi)
    if (log) l else exp(l)
  }
  own <- fit(y ~ dunit(m = m), data = d_f, params = c(m = 0))
  expect_equal(unname(coef(own)), mean(d_f$y), tolerance = 1e-8)
  expect_equal(unname(se(own)), 1 / sqrt(n_f), tolerance = 1e-8)
  expect_error(fit(y ~ dnorm(mean = mu), data = d_f, params = c(mu = 0), parameters = list(mu ~ x1, mu ~ x2)),
               "fit: parameters= gives parameter 'mu' twice")
})

test_that("names and estimates agree with bbmle::mle2", {
  skip_if_not_installed("bbmle")
  ref <- suppressWarnings(bbmle::mle2(count ~ dpois(lambda = exp(eta)), data = d_f, start = list(eta = 0),
                                      parameters = list(eta ~ x1 + f)))
  res <- fit(count ~ dpois(lambda = exp(eta)), data = d_f, params = list(eta = 0), parameters = list(eta ~ x1 + f))
  expect_identical(names(coef(res)), names(bbmle::coef(ref)))
  # mle2's optim stops earlier than Newton; agreement is to its tolerance
  expect_equal(unname(coef(res)), unname(bbmle::coef(ref)), tolerance = 1e-4)
  expect_equal(as.numeric(logLik(res)), -ref@min, tolerance = 1e-6)
})
