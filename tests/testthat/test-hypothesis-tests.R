# Likelihood-ratio, Wald and score tests and anova() against closed forms
# and against glm(), tightened so that it is the exact MLE.

set.seed(51); x_test <- rnorm(60, mean = 5.4, sd = 2)
normal_ll <- function(mu, log_sigma) loglik_normal(mu, exp(log_sigma), x_test)

test_that("lrt on nested normal models is the closed-form likelihood ratio", {
  alt <- fit(normal_ll, params = c(mu = 0, log_sigma = 0))
  null <- fit(normal_ll, params = c(mu = 0, log_sigma = 0), fixed = c(mu = 5))
  n <- length(x_test)
  s2_alt <- mean((x_test - mean(x_test))^2)
  s2_null <- mean((x_test - 5)^2)
  ll_alt <- -n / 2 * log(2 * pi * s2_alt) - n / 2
  ll_null <- -n / 2 * log(2 * pi * s2_null) - n / 2
  test <- lrt(null, alt)
  expect_s3_class(test, "htest")
  expect_equal(unname(test$statistic), 2 * (ll_alt - ll_null), tolerance = 1e-9)
  expect_equal(unname(test$statistic), n * log(s2_null / s2_alt), tolerance = 1e-9)
  expect_equal(test$parameter, c(df = 1))
  expect_equal(test$p.value, pchisq(n * log(s2_null / s2_alt), 1, lower.tail = FALSE), tolerance = 1e-9)
  expect_equal(test$method, "Likelihood-ratio test")
  expect_equal(test$data.name, "null null (1 free parameter; fixed: mu = 5) against alternative alt (2 free parameters)")
  out <- capture.output(print(test))
  expect_true(any(grepl("LR = .*, df = 1, p-value", out)))
})

test_that("the score test of a normal mean is the closed form at the restricted estimate", {
  null <- fit(normal_ll, params = c(mu = 0, log_sigma = 0), fixed = c(mu = 5))
  n <- length(x_test)
  s2 <- mean((x_test - 5)^2)   # the restricted MLE of sigma^2
  g <- c(n * (mean(x_test) - 5) / s2, 0)
  info <- matrix(c(n / s2, 2 * n * (mean(x_test) - 5) / s2, 2 * n * (mean(x_test) - 5) / s2, 2 * n), 2)
  test <- score_test(null)
  expect_equal(unname(test$statistic), drop(g %*% solve(info, g)), tolerance = 1e-9)
  expect_equal(test$parameter, c(df = 1))
  expect_equal(test$method, "Score (Rao) test")
  expect_equal(test$data.name, "null; restriction: mu = 5")
})

test_that("the Wald test of a normal mean is the squared z value", {
  alt <- fit(normal_ll, params = c(mu = 0, log_sigma = 0))
  test <- wald_test(alt, parm = c(mu = 5))
  n <- length(x_test)
  s2 <- mean((x_test - mean(x_test))^2)
  expect_equal(unname(test$statistic), (mean(x_test) - 5)^2 / (s2 / n), tolerance = 1e-9)
  expect_equal(test$data.name, "alt; hypothesis: mu = 5")
})

logistic_data <- function() {
  set.seed(3)
  n <- 400
  X <- cbind(1, matrix(rnorm(n * 3), n))
  list(X = X, y = rbinom(n, 1, plogis(X %*% c(-0.4, 0.8, -0.5, 0.15))))
}

test_that("lrt, Wald and score tests of a logistic coefficient equal glm's", {
  d <- logistic_data()
  X <- d$X; y <- d$y
  control <- glm.control(epsilon = 1e-14, maxit = 100)
  g_big <- glm(y ~ X - 1, family = binomial(), control = control)
  g_small <- glm(y ~ X[, -4] - 1, family = binomial(), control = control)
  ll <- function(beta) loglik_logistic(beta, X, y)
  big <- fit(ll, params = list(beta = rep(0, 4)))
  small <- fit(ll, params = list(beta = rep(0, 4)), fixed = c(beta4 = 0))

  chisq <- anova(g_small, g_big, test = "Chisq")
  test <- lrt(small, big)
  expect_lt(abs(test$statistic - chisq$Deviance[2]), 1e-6)
  expect_lt(abs(test$p.value - chisq$`Pr(>Chi)`[2]), 1e-6)
  expect_equal(unname(test$statistic), as.numeric(2 * (logLik(g_big) - logLik(g_small))), tolerance = 1e-9)

  z <- summary(g_big)$coefficients[4, "z value"]
  wald <- wald_test(big, parm = c(beta4 = 0))
  expect_lt(abs(wald$statistic - z^2), 1e-6)
  expect_equal(wald$p.value, 2 * pnorm(-abs(z)), tolerance = 1e-6)

  rao <- anova(g_small, g_big, test = "Rao")
  score <- score_test(small)
  expect_lt(abs(score$statistic - rao$Rao[2]), 1e-6)
  expect_lt(abs(score$p.value - rao$`Pr(>Chi)`[2]), 1e-6)
  expect_equal(score$parameter, c(df = 1))

  # two restrictions at once
  g_smaller <- glm(y ~ X[, 1:2] - 1, family = binomial(), control = control)
  smaller <- fit(ll, params = list(beta = rep(0, 4)), fixed = c(beta3 = 0, beta4 = 0))
  expect_lt(abs(score_test(smaller)$statistic - anova(g_smaller, g_big, test = "Rao")$Rao[2]), 1e-6)
  expect_equal(score_test(smaller)$parameter, c(df = 2))
  # glm's Rao statistic carries ~3e-7 of its own rounding here; the closed
  # form U' I^-1 U at glm's restricted fit is the sharper oracle
  p0 <- fitted(g_smaller)
  U <- crossprod(X, y - p0)
  info <- crossprod(X, X * (p0 * (1 - p0)))
  expect_equal(unname(score_test(smaller)$statistic), drop(t(U) %*% solve(info, U)), tolerance = 1e-8)
  both <- lrt(smaller, big)
  expect_lt(abs(both$statistic - anova(g_smaller, g_big, test = "Chisq")$Deviance[2]), 1e-6)
  expect_equal(both$parameter, c(df = 2))
})

test_that("wald_test takes hypotheses as parm, a matrix or a named vector", {
  d <- logistic_data()
  big <- fit(function(beta) loglik_logistic(beta, d$X, d$y), params = list(beta = rep(0, 4)))
  b <- coef(big); V <- vcov(big)
  by_formula <- function(L, r) { e <- L %*% b - r; drop(t(e) %*% solve(L %*% V %*% t(L), e)) }

  L2 <- rbind(c(0, 0, 1, 0), c(0, 0, 0, 1))
  joint <- wald_test(big, parm = c(beta3 = 0, beta4 = 0))
  expect_equal(unname(joint$statistic), by_formula(L2, c(0, 0)), tolerance = 1e-10)
  expect_equal(joint$parameter, c(df = 2))
  expect_equal(joint$p.value, pchisq(by_formula(L2, c(0, 0)), 2, lower.tail = FALSE))
  expect_equal(wald_test(big, L = L2)$statistic, joint$statistic)
  named <- matrix(c(1, 0, 0, 1), 2, dimnames = list(NULL, c("beta3", "beta4")))
  expect_equal(wald_test(big, L = named)$statistic, joint$statistic)

  # beta2 - 2 beta3 = 1 as a named vector, an unnamed vector and a matrix
  l <- c(0, 1, -2, 0)
  contrast <- wald_test(big, L = c(beta2 = 1, beta3 = -2), rhs = 1)
  expect_equal(unname(contrast$statistic), by_formula(matrix(l, 1), 1), tolerance = 1e-10)
  expect_equal(wald_test(big, L = l, rhs = 1)$statistic, contrast$statistic)
  expect_equal(wald_test(big, L = matrix(l, 1), rhs = 1)$statistic, contrast$statistic)
  expect_equal(contrast$data.name, "big; hypothesis: beta2 - 2*beta3 = 1")
  expect_equal(wald_test(big, L = L2, rhs = c(0.1, -0.2))$statistic,
               c(W = by_formula(L2, c(0.1, -0.2))), tolerance = 1e-10)
  expect_output(print(joint), "hypothesis: beta3 = 0, beta4 = 0")
})

test_that("wald_test rejects malformed hypotheses", {
  d <- logistic_data()
  ll <- function(beta) loglik_logistic(beta, d$X, d$y)
  big <- fit(ll, params = list(beta = rep(0, 4)))
  small <- fit(ll, params = list(beta = rep(0, 4)), fixed = c(beta4 = 0))
  expect_error(wald_test(big), "wald_test: give the hypothesis as L")
  expect_error(wald_test(big, L = c(beta2 = 1), parm = c(beta2 = 0)), "either as L .* or as parm, not both")
  expect_error(wald_test(big, parm = c(gamma = 0)), "wald_test: unknown coefficient\\(s\\): gamma")
  expect_error(wald_test(big, parm = 0), "wald_test: parm must be a named numeric vector")
  expect_error(wald_test(big, L = c(1, 0)), "wald_test: an unnamed L needs 4 columns")
  expect_error(wald_test(big, L = rbind(c(0, 1, 0, 0), c(0, 2, 0, 0))), "L V L' is singular")
  expect_error(wald_test(big, L = rbind(c(0, 1, 0, 0), 0)), "row 2 of L is all zero")
  expect_error(wald_test(big, L = diag(4)[2:3, ], rhs = 1:3), "rhs must be one number or 2 numbers")
  expect_error(wald_test(small, parm = c(beta4 = 0)), "wald_test: the hypothesis involves beta4, fixed in the fit")
  expect_equal(unname(wald_test(small, parm = c(beta3 = 0))$statistic),
               unname((coef(small)[["beta3"]] / se(small)[["beta3"]])^2), tolerance = 1e-10)
})

test_that("anova tabulates nested fits like glm's analysis of deviance", {
  d <- logistic_data()
  X <- d$X; y <- d$y
  control <- glm.control(epsilon = 1e-14, maxit = 100)
  g1 <- glm(y ~ X[, 1:2] - 1, family = binomial(), control = control)
  g2 <- glm(y ~ X[, 1:3] - 1, family = binomial(), control = control)
  g3 <- glm(y ~ X - 1, family = binomial(), control = control)
  ll <- function(beta) loglik_logistic(beta, X, y)
  m1 <- fit(ll, params = list(beta = rep(0, 4)), fixed = c(beta3 = 0, beta4 = 0))
  m2 <- fit(ll, params = list(beta = rep(0, 4)), fixed = c(beta4 = 0))
  m3 <- fit(ll, params = list(beta = rep(0, 4)))
  table <- anova(m1, m2, m3)
  expect_s3_class(table, c("anova", "data.frame"))
  expect_equal(names(table), c("Df", "logLik", "AIC", "Chisq", "Chi Df", "Pr(>Chisq)"))
  expect_equal(table$Df, c(2, 3, 4))
  expect_equal(table$logLik, vapply(list(g1, g2, g3), function(g) as.numeric(logLik(g)), numeric(1)), tolerance = 1e-10)
  expect_equal(table$AIC, c(AIC(g1), AIC(g2), AIC(g3)), tolerance = 1e-10)
  oracle <- anova(g1, g2, g3, test = "Chisq")
  expect_lt(max(abs(table$Chisq[-1] - oracle$Deviance[-1])), 1e-6)
  expect_lt(max(abs(table$`Pr(>Chisq)`[-1] - oracle$`Pr(>Chi)`[-1])), 1e-6)
  expect_equal(table$`Chi Df`, c(NA, 1, 1))
  expect_equal(table$Chisq[3], unname(lrt(m2, m3)$statistic))
  expect_equal(table$`Pr(>Chisq)`[3], lrt(m2, m3)$p.value)
  out <- capture.output(print(table))
  expect_true(any(grepl("Likelihood-ratio tests of nested models", out)))
  expect_true(any(grepl("Model 1: m1 \\(2 free parameters; fixed: beta3 = 0, beta4 = 0\\)", out)))
  # listed from the largest down, the tests are the same with signs flipped
  down <- anova(m3, m1)
  expect_equal(down$`Chi Df`, c(NA, -2))
  expect_equal(down$`Pr(>Chisq)`[2], lrt(m1, m3)$p.value)
})

test_that("the tests report misuse clearly", {
  alt <- fit(normal_ll, params = c(mu = 0, log_sigma = 0))
  null <- fit(normal_ll, params = c(mu = 0, log_sigma = 0), fixed = c(mu = 5))
  expect_error(lrt(alt, null), "lrt: the null model must have fewer free parameters than the alternative \\(null: 2, alternative: 1\\)")
  expect_error(lrt(null, "alt"), "lrt: fit_alt must be a fit from fit\\(\\)")
  worse <- alt
  worse$loglik <- null$loglik - 1
  expect_warning(test <- lrt(null, worse), "lrt: the null model's log-likelihood .* exceeds the alternative's")
  expect_equal(test$p.value, 1)
  other_data <- fit(function(mu, log_sigma) loglik_normal(mu, exp(log_sigma), x_test[-1]),
                    params = c(mu = 0, log_sigma = 0))
  expect_warning(lrt(null, other_data), "lrt: the fits have different numbers of observations \\(60, 59\\)")
  expect_error(score_test(alt), "score_test: the fit has no fixed parameters")
  expect_error(anova(alt), "anova: give two or more nested fits")
  expect_error(anova(alt, 1), "anova: 1 must be a fit from fit\\(\\)")
})
