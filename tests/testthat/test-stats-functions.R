# stats' d/p/q functions on values: their numbers against stats' own, their
# gradients and Hessians (in every argument made a value) against numDeriv
# on stats' function.

# f: name of the stats function; args: its numeric arguments (numbers);
# as_values: which of them become values; options: log, lower.tail, ...
check_stats_function <- function(f, args, as_values, options = list(), tolerance = 1e-6) {
  label <- sprintf("%s(%s; values: %s)", f, paste(names(options), options, collapse = ", "),
                   paste(as_values, collapse = ", "))
  original <- if (exists(f, envir = asNamespace("stats"), inherits = FALSE)) getExportedValue("stats", f)
              else get(f, envir = baseenv())
  reference <- do.call(original, c(args, options))
  on_values <- args
  on_values[as_values] <- lapply(args[as_values], val)
  result <- do.call(f, c(on_values, options))
  expect_true(is_value(result), label = label)
  expect_equal(value_of(result), reference, tolerance = 1e-12, label = label)

  total <- function(p) {
    a <- args
    a[as_values] <- p
    sum(do.call(f, c(a, options)))
  }
  sizes <- lengths(args[as_values])
  unflatten <- function(theta) {
    split(theta, factor(rep(as_values, sizes), levels = as_values))
  }
  plain_total <- function(theta) total(unflatten(theta))
  theta <- unlist(args[as_values], use.names = FALSE)
  params <- lapply(args[as_values], val)
  expect_equal(unname(gradient(total, params)$gradient), numDeriv::grad(plain_total, theta),
               tolerance = tolerance, label = paste(label, "gradient"))
  expect_equal(unname(hessian(total, params)), numDeriv::hessian(plain_total, theta),
               tolerance = tolerance, label = paste(label, "Hessian"))
}

test_that("plain numbers go to stats unchanged", {
  expect_identical(dnorm(1), stats::dnorm(1))
  expect_identical(pnorm(c(-1, 2), 1, 3, lower.tail = FALSE), stats::pnorm(c(-1, 2), 1, 3, lower.tail = FALSE))
  expect_identical(dpois(0:3, 2, log = TRUE), stats::dpois(0:3, 2, log = TRUE))
  expect_identical(qnorm(0.3), stats::qnorm(0.3))
})

test_that("densities match stats and numDeriv in every argument", {
  x <- c(0.4, 1.3, 2.6)
  counts <- c(0, 2, 5)
  for (log in c(TRUE, FALSE)) {
    o <- list(log = log)
    check_stats_function("dnorm", list(x = x, mean = 0.7, sd = 1.4), c("x", "mean", "sd"), o)
    check_stats_function("dnorm", list(x = x, mean = c(0.2, 0.9, 1.1), sd = 0.8), c("mean", "sd"), o)
    check_stats_function("dlnorm", list(x = x, meanlog = 0.1, sdlog = 0.9), c("x", "meanlog", "sdlog"), o)
    check_stats_function("dexp", list(x = x, rate = 1.7), c("x", "rate"), o)
    check_stats_function("dgamma", list(x = x, shape = 2.2, rate = 1.3), c("x", "shape", "rate"), o)
    check_stats_function("dgamma", list(x = x, shape = 2.2, scale = 0.6), c("shape", "scale"), o)
    check_stats_function("dbeta", list(x = c(0.2, 0.55, 0.75), shape1 = 1.5, shape2 = 2.5),
                         c("x", "shape1", "shape2"), o)
    check_stats_function("dpois", list(x = counts, lambda = 1.8), "lambda", o)
    check_stats_function("dbinom", list(x = counts, size = 7, prob = 0.35), "prob", o)
    check_stats_function("dnbinom", list(x = counts, size = 2.5, prob = 0.4), c("size", "prob"), o)
    check_stats_function("dnbinom", list(x = counts, size = 2.5, mu = 3.1), c("size", "mu"), o)
    check_stats_function("dgeom", list(x = counts, prob = 0.3), "prob", o)
    check_stats_function("dweibull", list(x = x, shape = 1.6, scale = 1.9), c("x", "shape", "scale"), o)
    check_stats_function("dlogis", list(x = x, location = 0.5, scale = 1.2), c("x", "location", "scale"), o)
    check_stats_function("dt", list(x = c(-1.2, 0.3, 2.5), df = 4.5), c("x", "df"), o)
    check_stats_function("dcauchy", list(x = x, location = 0.5, scale = 1.2), c("x", "location", "scale"), o)
  }
})

test_that("distribution functions match stats and numDeriv, in both tails and on the log scale", {
  q <- c(-1.3, 0.2, 2.1)
  qpos <- c(0.3, 1.2, 3.4)
  for (lower in c(TRUE, FALSE)) for (log_p in c(TRUE, FALSE)) {
    o <- list(lower.tail = lower, log.p = log_p)
    check_stats_function("pnorm", list(q = q, mean = 0.3, sd = 1.5), c("q", "mean", "sd"), o)
    check_stats_function("plnorm", list(q = qpos, meanlog = 0.2, sdlog = 0.7), c("q", "meanlog", "sdlog"), o)
    check_stats_function("pexp", list(q = qpos, rate = 0.8), c("q", "rate"), o)
    check_stats_function("pweibull", list(q = qpos, shape = 1.4, scale = 2), c("q", "shape", "scale"), o)
    check_stats_function("plogis", list(q = q, location = 0.4, scale = 0.9), c("q", "location", "scale"), o)
    check_stats_function("pcauchy", list(q = q, location = 0.4, scale = 0.9), c("q", "location", "scale"), o)
  }
})

test_that("pnorm stays accurate far into the tails, with exact derivatives there", {
  for (z in c(-40, -12, -5, 5, 9)) {
    expect_equal(value_of(pnorm(val(z), log.p = TRUE)), stats::pnorm(z, log.p = TRUE), tolerance = 1e-12)
  }
  # d/dz log Phi(z) = phi(z) / Phi(z), which tends to -z - 1/z ... at -40
  z <- val(-40)
  lp <- pnorm(z, log.p = TRUE)
  backward(lp)
  expect_equal(grad(z), exp(stats::dnorm(-40, log = TRUE) - stats::pnorm(-40, log.p = TRUE)), tolerance = 1e-12)
  expect_equal(value_of(pnorm(val(-40), lower.tail = FALSE)), 1)
})

test_that("qnorm matches stats and has derivative 1 / dnorm(qnorm(p))", {
  for (o in list(list(), list(lower.tail = FALSE), list(log.p = TRUE))) {
    p <- if (isTRUE(o$log.p)) log(c(0.01, 0.4, 0.9)) else c(0.01, 0.4, 0.9)
    check_stats_function("qnorm", list(p = p, mean = 1, sd = 2), c("p", "mean", "sd"), o)
  }
  p <- val(1e-10)
  q <- qnorm(p)
  backward(q)
  expect_equal(value_of(q), stats::qnorm(1e-10), tolerance = 1e-13)
  expect_equal(grad(p), 1 / stats::dnorm(stats::qnorm(1e-10)), tolerance = 1e-10)
})

test_that("a censored model written with pweibull fits like survival's survreg", {
  skip_if_not_installed("survival")
  lung <- survival::lung
  lung <- lung[!is.na(lung$time), ]
  time <- lung$time / 365
  event <- lung$status == 2
  loglik <- function(log_shape, log_scale) {
    shape <- exp(log_shape); scale <- exp(log_scale)
    sum(dweibull(time[event], shape, scale, log = TRUE)) +
      sum(pweibull(time[!event], shape, scale, lower.tail = FALSE, log.p = TRUE))
  }
  res <- fit(loglik, c(log_shape = 0, log_scale = 0))
  ref <- survival::survreg(survival::Surv(time, event) ~ 1, dist = "weibull")
  # survreg: log(scale) is the intercept, shape = 1 / ref$scale
  expect_equal(unname(coef(res)), c(-log(ref$scale), unname(coef(ref))), tolerance = 1e-6)
  expect_equal(unname(se(res)[2]), unname(sqrt(diag(vcov(ref)))[1]), tolerance = 1e-5)
})

test_that("base R's beta, choose, gamma and log families match base R and numDeriv", {
  check_stats_function("lbeta", list(a = c(0.7, 2.5), b = 1.8), c("a", "b"))
  check_stats_function("beta", list(a = c(0.7, 2.5), b = 1.8), c("a", "b"))
  check_stats_function("lchoose", list(n = c(7.5, 10), k = 3), "n")
  check_stats_function("choose", list(n = c(7.5, 10), k = 3), "n")
  check_stats_function("gamma", list(x = c(0.4, 3.3)), "x")
  check_stats_function("factorial", list(x = c(0.4, 3.3)), "x")
  check_stats_function("lfactorial", list(x = c(0.4, 3.3)), "x")
  check_stats_function("log2", list(x = c(0.4, 3.3)), "x")
  check_stats_function("log10", list(x = c(0.4, 3.3)), "x")
})

test_that("softmax is exp(x) / sum(exp(x)) with the softmax Jacobian", {
  x0 <- c(0.3, -1.2, 2.0)
  s0 <- exp(x0) / sum(exp(x0))
  expect_equal(softmax(x0), s0, tolerance = 1e-15)
  expect_equal(value_of(softmax(val(x0))), s0, tolerance = 1e-15)
  expect_equal(unname(jacobian(function(p) softmax(p$x), list(x = val(x0)))), diag(s0) - outer(s0, s0),
               tolerance = 1e-14)
})
