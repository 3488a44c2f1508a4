# Sandwich standard errors and the bootstrap for formula fits: the rows of
# data are the observations (issue 12, part 1: formula fits have every
# method). Oracles: the HC0 sandwich of a glm written out from its model
# matrix, and glm() refitted with the bootstrap's multinomial weights.

set.seed(77)
n_r <- 150
d_r <- data.frame(x = rnorm(n_r), g = factor(sample(c("u", "v"), n_r, TRUE)))
# overdispersed counts, so the sandwich differs from the model's covariance
d_r$k <- rnbinom(n_r, size = 2, mu = exp(0.5 + 0.6 * d_r$x + 0.3 * (d_r$g == "v")))
tight_r <- glm.control(epsilon = 1e-14, maxit = 100)
glm_r <- glm(k ~ x + g, family = poisson, data = d_r, control = tight_r)
fit_r <- function(...) {
  fit(k ~ dpois(lambda = exp(eta)), data = d_r, params = list(eta = 0), parameters = list(eta ~ x + g), ...)
}

test_that("the sandwich of a formula fit is glm's HC0 sandwich", {
  res <- fit_r()
  X <- model.matrix(glm_r)
  mu <- fitted(glm_r)
  bread <- solve(crossprod(X * sqrt(mu)))
  meat <- crossprod(X * (d_r$k - mu))
  hc0 <- bread %*% meat %*% bread
  expect_equal(unname(vcov(res, type = "sandwich")), unname(hc0), tolerance = 1e-6)
  expect_equal(unname(se(res, type = "sandwich")), unname(sqrt(diag(hc0))), tolerance = 1e-6)
  # and on a transformed parameter's natural scale: sigma = exp(u), so
  # se(sigma) = sigma * se(u), with u's sandwich from the closed form
  normal <- fit(x ~ dnorm(mean = mu, sd = sigma), data = d_r, params = c(mu = 0, sigma = 1),
                transform = list(sigma = "positive"))
  s <- unname(coef(normal)["sigma"])
  z <- (d_r$x - mean(d_r$x)) / s
  # scores in (mu, log sigma): z / s and z^2 - 1; information diag(n / s^2, 2 n)
  scores <- cbind(z / s, z^2 - 1)
  bread_n <- diag(c(s^2 / n_r, 1 / (2 * n_r)))
  working <- bread_n %*% crossprod(scores) %*% bread_n
  expect_equal(unname(se(normal, type = "sandwich")), sqrt(diag(working)) * c(1, s), tolerance = 1e-6)
})

test_that("sandwich package agrees, where installed", {
  skip_if_not_installed("sandwich")
  expect_equal(unname(vcov(fit_r(), type = "sandwich")), unname(sandwich::vcovHC(glm_r, type = "HC0")),
               tolerance = 1e-6)
})

test_that("bootstrap replicates of a formula fit are glm fits with the same multinomial weights", {
  res <- fit_r()
  set.seed(5)
  boot <- bootstrap(res, R = 6, progress = FALSE)
  expect_equal(boot$n, n_r)
  set.seed(5)
  expected <- t(vapply(1:6, function(r) {
    w <- as.vector(rmultinom(1, n_r, rep(1 / n_r, n_r)))
    coef(glm(k ~ x + g, family = poisson, data = d_r, weights = w, control = tight_r))
  }, numeric(3)))
  expect_equal(unname(boot$t), unname(expected), tolerance = 1e-6)
  expect_equal(colnames(boot$t), names(coef(res)))
})
