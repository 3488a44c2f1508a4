# solve(), logdet() and determinant() of values against closed forms and
# numDeriv on base R's own solve() and determinant().

A0 <- matrix(c(4, 1, 0.5, 1, 3, -0.2, 0.5, -0.2, 2), 3)
r0 <- c(1, -2, 0.5)

test_that("solve() gives base R's numbers for systems, matrices and the inverse", {
  A <- val(A0)
  expect_equal(value_of(solve(A, r0)), solve(A0, r0), tolerance = 1e-13)
  B0 <- matrix(1:6, 3)
  expect_equal(value_of(solve(A, B0)), solve(A0, B0), tolerance = 1e-13)
  expect_equal(value_of(solve(A)), solve(A0), tolerance = 1e-13)
  expect_equal(value_of(solve(A, val(r0))), solve(A0, r0), tolerance = 1e-13)
})

test_that("a quadratic form through solve() has the closed-form gradient and numDeriv's Hessian", {
  q <- function(p) sum(r0 * solve(p$A, r0))
  g <- gradient(q, list(A = val(A0)))$gradient
  x <- solve(A0, r0)
  expect_equal(unname(g), as.vector(-outer(x, x)), tolerance = 1e-12)   # d r'A^-1 r / dA = -A^-T r r' A^-T
  plain <- function(a) sum(r0 * solve(matrix(a, 3), r0))
  expect_equal(unname(hessian(q, list(A = val(A0)))), numDeriv::hessian(plain, as.vector(A0)), tolerance = 1e-6)
  # derivatives in b as well
  qb <- function(p) sum(p$b * solve(p$A, p$b))
  plain_b <- function(theta) { a <- matrix(theta[1:9], 3); b <- theta[10:12]; sum(b * solve(a, b)) }
  expect_equal(unname(hessian(qb, list(A = val(A0), b = val(r0)))),
               numDeriv::hessian(plain_b, c(as.vector(A0), r0)), tolerance = 1e-6)
})

test_that("logdet() and determinant() match base R, with gradient t(solve(A)) and numDeriv's Hessian", {
  expect_equal(value_of(logdet(val(A0))), as.numeric(determinant(A0)$modulus), tolerance = 1e-13)
  flip <- A0[, c(2, 1, 3)]
  d <- determinant(val(flip))
  expect_equal(value_of(d$modulus), as.numeric(determinant(flip)$modulus), tolerance = 1e-13)
  expect_equal(d$sign, determinant(flip)$sign)
  expect_equal(logdet(A0), as.numeric(determinant(A0)$modulus))
  g <- gradient(function(p) logdet(p$A), list(A = val(A0)))$gradient
  expect_equal(unname(g), as.vector(t(solve(A0))), tolerance = 1e-12)
  plain <- function(a) as.numeric(determinant(matrix(a, 3))$modulus)
  expect_equal(unname(hessian(function(p) logdet(p$A), list(A = val(A0)))),
               numDeriv::hessian(plain, as.vector(A0)), tolerance = 1e-6)
  expect_error(determinant(val(A0), logarithm = FALSE), "only logarithm = TRUE")
})

test_that("singular and non-square systems are errors naming solve and the shapes", {
  expect_error(solve(val(matrix(c(1, 2, 2, 4), 2)), c(1, 1)), "solve: the 2 x 2 matrix is singular")
  expect_error(solve(val(A0), c(1, 2)), "solve: a is")
  expect_error(solve(val(matrix(1:6, 2)), c(1, 2)), "square")
})

test_that("a random-intercept model's marginal likelihood written with solve() and logdet() matches lme4's ML fit", {
  skip_if_not_installed("lme4")
  data <- lme4::sleepstudy
  groups <- split(seq_len(nrow(data)), data$Subject)
  X <- cbind(1, data$Days)
  loglik <- function(beta, log_sigma, log_tau) {
    total <- 0
    for (rows in groups) {
      n <- length(rows)
      V <- exp(2 * log_tau) * matrix(1, n, n) + exp(2 * log_sigma) * diag(n)
      r <- data$Reaction[rows] - X[rows, ] %*% beta
      total <- total - 0.5 * logdet(V) - 0.5 * sum(r * solve(V, r)) - 0.5 * n * log(2 * pi)
    }
    total
  }
  res <- fit(loglik, list(beta = c(250, 10), log_sigma = log(30), log_tau = log(30)))
  ref <- lme4::lmer(Reaction ~ Days + (1 | Subject), data = data, REML = FALSE)
  expect_equal(unname(coef(res)[1:2]), unname(lme4::fixef(ref)), tolerance = 1e-6)
  vc <- as.data.frame(lme4::VarCorr(ref))
  expect_equal(unname(exp(coef(res)[c("log_tau", "log_sigma")])), vc$sdcor, tolerance = 1e-5)
  expect_equal(as.numeric(logLik(res)), as.numeric(logLik(ref)), tolerance = 1e-8)
})
