# The kernels of issue 12 part 4 (lognormal, t, logistic, negative
# binomial by mean, zero-inflated Poisson and negative binomial,
# beta-binomial): values against R's own densities (emdbook's for the
# beta-binomial), gradients and Hessians against numDeriv on the same
# log-likelihood written with numbers, and maximum likelihood fits against
# the packages that fit each model (MASS::fitdistr, MASS::glm.nb,
# pscl::zeroinfl).

set.seed(12)
n <- 60
zip_ll <- function(pi, lambda, x) {
  sum(ifelse(x == 0, log(pi + (1 - pi) * dpois(0, lambda)), log(1 - pi) + dpois(x, lambda, log = TRUE)))
}
zinb_ll <- function(pi, size, mu, x) {
  sum(ifelse(x == 0, log(pi + (1 - pi) * dnbinom(0, size = size, mu = mu)),
             log(1 - pi) + dnbinom(x, size = size, mu = mu, log = TRUE)))
}
zi_counts <- ifelse(runif(n) < 0.3, 0, rnbinom(n, size = 1.8, mu = 3))
bb_size <- rep(c(8, 12, 5), length.out = n)
bb_x <- rbinom(n, bb_size, rbeta(n, 2, 3))

more_cases <- list(
  lognormal = list(k = function(th, x) loglik_lognormal(th[[1]], th[[2]], x),
                   d = function(th, x) sum(dlnorm(x, th[1], th[2], log = TRUE)),
                   x = rlnorm(n, 0.4, 0.8), th = c(0.3, 0.9)),
  t = list(k = function(th, x) loglik_t(th[[1]], th[[2]], th[[3]], x),
           d = function(th, x) sum(dt((x - th[1]) / th[2], th[3], log = TRUE) - log(th[2])),
           x = 1 + 2 * rt(n, 3.5), th = c(0.8, 1.7, 4.2)),
  logis = list(k = function(th, x) loglik_logis(th[[1]], th[[2]], x),
               d = function(th, x) sum(dlogis(x, th[1], th[2], log = TRUE)),
               x = rlogis(n, 1, 0.7), th = c(0.9, 0.8)),
  negbinom_mu = list(k = function(th, x) loglik_negbinom_mu(th[[1]], th[[2]], x),
                     d = function(th, x) sum(dnbinom(x, size = th[1], mu = th[2], log = TRUE)),
                     x = rnbinom(n, size = 2, mu = 4), th = c(1.7, 3.6)),
  zip = list(k = function(th, x) loglik_zip(th[[1]], th[[2]], x),
             d = function(th, x) zip_ll(th[1], th[2], x),
             x = zi_counts, th = c(0.35, 2.6)),
  zinb = list(k = function(th, x) loglik_zinb(th[[1]], th[[2]], th[[3]], x),
              d = function(th, x) zinb_ll(th[1], th[2], th[3], x),
              x = zi_counts, th = c(0.25, 1.6, 3.2)),
  # emdbook's beta-binomial by prob = alpha / (alpha + beta), theta = alpha + beta
  # (base R has none; without emdbook, the density written out)
  betabinom = list(k = function(th, x) loglik_betabinom(th[[1]], th[[2]], x, bb_size),
                   d = function(th, x) {
                     if (!requireNamespace("emdbook", quietly = TRUE)) {
                       return(sum(lchoose(bb_size, x) + lbeta(x + th[1], bb_size - x + th[2]) - lbeta(th[1], th[2])))
                     }
                     sum(emdbook::dbetabinom(x, prob = th[1] / (th[1] + th[2]), size = bb_size,
                                             theta = th[1] + th[2], log = TRUE))
                   },
                   x = bb_x, th = c(1.8, 2.9))
)

test_that("each new kernel equals R's log-likelihood and differentiates like numDeriv", {
  for (name in names(more_cases)) {
    case <- more_cases[[name]]
    plain <- function(th) case$d(th, case$x)
    expect_equal(case$k(as.list(case$th), case$x), plain(case$th), tolerance = 1e-12, info = name)
    f <- function(p) case$k(p, case$x)
    params <- lapply(case$th, val)
    g <- gradient(f, params)$gradient
    h <- hessian(f, params)
    expect_equal(unname(g), numDeriv::grad(plain, case$th), tolerance = 1e-7, info = name)
    expect_equal(unname(h), numDeriv::hessian(plain, case$th), tolerance = 1e-6, info = name)
  }
})

test_that("per-observation parameters: a linear predictor for the mean", {
  z <- seq(-1, 1, length.out = n)
  x <- zi_counts
  f <- function(p) loglik_zinb(plogis(p$g), exp(p$ls), exp(p$a + p$b * z), x)
  plain <- function(th) zinb_ll(plogis(th[1]), exp(th[2]), exp(th[3] + th[4] * z), x)
  th <- c(-1, 0.4, 1.1, 0.3)
  params <- list(g = val(-1), ls = val(0.4), a = val(1.1), b = val(0.3))
  expect_equal(value_of(f(params)), plain(th), tolerance = 1e-12)
  expect_equal(unname(hessian(f, params)), numDeriv::hessian(plain, th), tolerance = 1e-6)
})

test_that("the negative binomial by mean stays accurate near the Poisson", {
  x <- c(0, 1, 2, 0, 3)
  expect_equal(loglik_negbinom_mu(1e12, 0.3, x), sum(dnbinom(x, size = 1e12, mu = 0.3, log = TRUE)),
               tolerance = 1e-14)
  expect_equal(loglik_negbinom_mu(Inf, 0.3, x), sum(dpois(x, 0.3, log = TRUE)), tolerance = 1e-14)
  # d/dsize ~ -sum((x - mu)^2 - x) / (2 size^2)
  g <- gradient(function(p) loglik_negbinom_mu(p$size, 0.3, x), list(size = val(1e10)))$gradient
  expect_equal(unname(g), -sum((x - 0.3)^2 - x) / (2 * 1e20), tolerance = 1e-8)
})

test_that("data outside the support and bad parameters", {
  expect_error(loglik_lognormal(val(0), 1, c(1, 0)), "loglik_lognormal: x\\[2\\] = 0 is outside the support")
  expect_error(loglik_zip(val(0.5), 2, c(0, 1.5)), "loglik_zip: x\\[2\\] = 1.5 is outside the support")
  expect_error(loglik_zinb(val(0.5), 2, 1, c(0, -1)), "loglik_zinb: x\\[2\\] = -1 is outside the support")
  expect_error(loglik_negbinom_mu(val(2), 1, c(NA, 1)), "loglik_negbinom_mu: x\\[1\\]")
  expect_error(loglik_betabinom(val(1), 2, c(1, 6), c(5, 5)),
               "loglik_betabinom: x\\[2\\] = 6 is outside the support \\(integers from 0 to size\\[2\\] = 5\\)")
  expect_error(loglik_t(val(0), val(c(1, 2)), 3, rnorm(5)), "loglik_t: scale has length 2 but x has length 5")
  expect_equal(value_of(loglik_t(val(0), 1, val(-1), c(1, 2))), -Inf)
  expect_equal(value_of(loglik_zip(val(1.2), 1, c(0, 2))), -Inf)
  expect_equal(value_of(loglik_logis(val(0), val(0), c(0, 2))), -Inf)
})

test_that("sums of dlnorm, dlogis, dt and dnbinom(mu =) record the kernels", {
  z <- seq(-1, 1, length.out = n)
  xp <- more_cases$lognormal$x
  xn <- more_cases$logis$x
  xc <- more_cases$negbinom_mu$x
  sums <- list(
    dlnorm = function(t) sum(dlnorm(xp, t[1], exp(t[2]), log = TRUE)),
    dlogis = function(t) sum(dlogis(xn, t[1] + 0.2 * z, exp(t[2]), log = TRUE)),
    dt = function(t) sum(dt(xn, exp(t[1] + t[2]), log = TRUE)),
    dnbinom_mu = function(t) sum(dnbinom(xc, size = exp(t[1]), mu = exp(t[2] + 0.3 * z), log = TRUE))
  )
  for (name in names(sums)) {
    f <- sums[[name]]
    th <- c(0.4, 0.2)
    g <- function(p) f(p[[1]])
    on_value <- g(list(val(th)))
    expect_equal(value_of(on_value), f(th), tolerance = 1e-12, info = name)
    expect_equal(unname(hessian(g, list(val(th)))), numDeriv::hessian(f, th), tolerance = 1e-6, info = name)
  }
  # the log-densities themselves carry the kernel's recipe for their sum
  expect_false(is.null(attr(dlnorm(xp, val(0.4), 1, log = TRUE), "femtograd_sum")))
  expect_false(is.null(attr(dlogis(xn, val(0.4), 1, log = TRUE), "femtograd_sum")))
  expect_false(is.null(attr(dt(xn, val(4), log = TRUE), "femtograd_sum")))
  expect_false(is.null(attr(dnbinom(xc, size = val(2), mu = 3, log = TRUE), "femtograd_sum")))
})

# ---- fits against the packages that fit each model ----

tight <- list(gtol = 1e-12)

test_that("lognormal, t and logistic fits equal MASS::fitdistr's", {
  x <- more_cases$lognormal$x
  ours <- fit(function(meanlog, sdlog) loglik_lognormal(meanlog, sdlog, x),
              params = c(meanlog = 0, sdlog = 1), transform = list(sdlog = "positive"), control = tight)
  theirs <- MASS::fitdistr(x, "lognormal")
  expect_equal(unname(coef(ours)), unname(theirs$estimate), tolerance = 1e-5)
  expect_equal(as.numeric(logLik(ours)), as.numeric(logLik(theirs)), tolerance = 1e-6)

  x <- more_cases$t$x
  ours <- fit(function(m, s, df) loglik_t(m, s, df, x), params = c(m = 1, s = 1, df = 5),
              transform = list(s = "positive", df = "positive"), control = tight)
  theirs <- suppressWarnings(MASS::fitdistr(x, "t", start = list(m = 1, s = 1, df = 5),
                                            control = list(reltol = 1e-15, maxit = 5000)))
  expect_equal(unname(coef(ours)), unname(theirs$estimate), tolerance = 1e-5)
  expect_equal(as.numeric(logLik(ours)), as.numeric(logLik(theirs)), tolerance = 1e-6)

  x <- more_cases$logis$x
  ours <- fit(function(location, scale) loglik_logis(location, scale, x),
              params = c(location = 0, scale = 1), transform = list(scale = "positive"), control = tight)
  # optim steps to negative scales on its way: dlogis warns NaN there
  theirs <- suppressWarnings(MASS::fitdistr(x, "logistic", control = list(reltol = 1e-15, maxit = 5000)))
  expect_equal(unname(coef(ours)), unname(theirs$estimate), tolerance = 1e-5)
  expect_equal(as.numeric(logLik(ours)), as.numeric(logLik(theirs)), tolerance = 1e-6)
})

test_that("negative binomial regression by mean equals MASS::glm.nb", {
  set.seed(3)
  m <- 200
  z <- rnorm(m)
  X <- cbind(1, z)
  y <- rnbinom(m, size = 2.5, mu = exp(0.7 + 0.5 * z))
  theirs <- MASS::glm.nb(y ~ z, control = glm.control(epsilon = 1e-13, maxit = 100))
  ours <- fit(function(beta, theta) loglik_negbinom_mu(theta, exp(X %*% beta), y),
              params = list(beta = c(0, 0), theta = 1), transform = list(theta = "positive"), control = tight)
  expect_equal(unname(coef(ours)), unname(c(coef(theirs), theirs$theta)), tolerance = 1e-5)
  expect_equal(as.numeric(logLik(ours)), as.numeric(logLik(theirs)), tolerance = 1e-6)
})

test_that("zero-inflated Poisson and negative binomial fits equal pscl::zeroinfl", {
  skip_if_not_installed("pscl")
  set.seed(5)
  m <- 300
  z <- rnorm(m)
  X <- cbind(1, z)
  mu <- exp(0.8 + 0.4 * z)
  structural <- runif(m) < 0.25
  y_p <- ifelse(structural, 0, rpois(m, mu))
  y_nb <- ifelse(structural, 0, rnbinom(m, size = 2, mu = mu))
  control <- pscl::zeroinfl.control(reltol = 1e-15, maxit = 10000)

  theirs <- pscl::zeroinfl(y_p ~ z | 1, dist = "poisson", control = control)
  ours <- fit(function(beta, gamma) loglik_zip(plogis(gamma), exp(X %*% beta), y_p),
              params = list(beta = c(0, 0), gamma = 0), control = tight)
  expect_equal(unname(coef(ours)), unname(coef(theirs)), tolerance = 1e-5)
  expect_equal(as.numeric(logLik(ours)), as.numeric(logLik(theirs)), tolerance = 1e-6)

  theirs <- pscl::zeroinfl(y_nb ~ z | 1, dist = "negbin", control = control)
  ours <- fit(function(beta, gamma, log_theta) loglik_zinb(plogis(gamma), exp(log_theta), exp(X %*% beta), y_nb),
              params = list(beta = c(0, 0), gamma = 0, log_theta = 0), control = tight)
  expect_equal(unname(coef(ours)), unname(c(coef(theirs), log(theirs$theta))), tolerance = 1e-5)
  expect_equal(as.numeric(logLik(ours)), as.numeric(logLik(theirs)), tolerance = 1e-6)
})

test_that("a beta-binomial fit equals bbmle::mle2 on emdbook's density", {
  skip_if_not_installed("bbmle")
  skip_if_not_installed("emdbook")
  # no package here fits the beta-binomial itself: the maximum of
  # emdbook's independent density, found by optim, is the oracle
  set.seed(8)
  m <- 150
  size <- rep(c(8, 12, 5), length.out = m)
  x <- rbinom(m, size, rbeta(m, 2, 3))
  ours <- fit(function(alpha, beta) loglik_betabinom(alpha, beta, x, size), params = c(alpha = 1, beta = 1),
              transform = list(alpha = "positive", beta = "positive"), control = tight)
  nll <- function(la, lb) {
    a <- exp(la)
    b <- exp(lb)
    -sum(emdbook::dbetabinom(x, prob = a / (a + b), size = size, theta = a + b, log = TRUE))
  }
  theirs <- bbmle::mle2(nll, start = list(la = 0, lb = 0), method = "BFGS",
                        control = list(reltol = 1e-15, maxit = 5000))
  # (bbmle is not attached: its S4 slots rather than coef() and logLik())
  expect_equal(unname(coef(ours)), unname(exp(theirs@coef)), tolerance = 1e-5)
  expect_equal(as.numeric(logLik(ours)), -theirs@min, tolerance = 1e-6)
})

test_that("loglik_polr is MASS::polr's ordinal logistic regression", {
  skip_if_not_installed("MASS")
  housing <- MASS::housing
  X <- model.matrix(~ Infl + Type + Cont, housing)[, -1]
  y <- housing$Sat
  theirs <- MASS::polr(Sat ~ Infl + Type + Cont, weights = Freq, data = housing, Hess = TRUE)
  ll <- function(beta, zeta) loglik_polr(drop(X %*% beta), zeta, y)
  ours <- fit(ll, list(beta = rep(0, ncol(X)), zeta = c(-1, 1)), weights = housing$Freq)
  expect_equal(unname(coef(ours)), unname(c(coef(theirs), theirs$zeta)), tolerance = 1e-5)
  expect_equal(as.numeric(logLik(ours)), as.numeric(logLik(theirs)), tolerance = 1e-8)
  # polr's standard errors come from optim's finite-difference Hessian
  expect_equal(unname(se(ours)), unname(sqrt(diag(vcov(theirs)))), tolerance = 1e-3)
  # the value against the probabilities written out
  b <- coef(theirs); z <- theirs$zeta
  eta <- drop(X %*% b)
  cum <- cbind(0, plogis(outer(z, eta, "-")) |> t(), 1)
  k <- as.integer(y)
  p <- cum[cbind(seq_along(k), k + 1)] - cum[cbind(seq_along(k), k)]
  expect_equal(value_of(loglik_polr(val(eta), val(z), y)), sum(log(p)), tolerance = 1e-12)
  # gradient and Hessian in beta and zeta against numDeriv
  f <- function(theta) loglik_polr(drop(X %*% theta[1:6]), theta[7:8], y)
  g <- function(p) loglik_polr(drop(X %*% p[[1]][1:6]), p[[1]][7:8], y)
  theta <- c(b, z) + 0.05
  expect_equal(unname(gradient(g, list(val(theta)))$gradient), numDeriv::grad(f, theta), tolerance = 1e-6)
  expect_equal(unname(hessian(g, list(val(theta)))), numDeriv::hessian(f, theta), tolerance = 1e-6)
  expect_error(loglik_polr(val(eta), val(z[1]), y), "zeta has length 1 but y has 3 categories")
})
