# Regression tests for findings of the adversarial review (issue 11) that
# gave silent wrong answers or never-ending runs.

test_that("all.equal() compares the numbers of values", {
  expect_match(all.equal(val(1), val(2)), "Mean relative difference")
  expect_true(all.equal(val(c(1, 2)), c(1, 2)))
  expect_true(all.equal(val(1), val(1 + 1e-10)))
})

test_that("fixed must name each parameter once", {
  loglik <- function(mu, s) -(mu - 1)^2 - (s - 2)^2
  expect_error(fit(loglik, c(mu = 0, s = 0), fixed = c(2)), "fixed must name each fixed parameter once")
  expect_error(fit(loglik, c(mu = 0, s = 0), fixed = c(mu = 2, mu = 3)), "once")
  expect_equal(unname(coef(fit(loglik, c(mu = 0, s = 0), fixed = c(mu = 2)))), c(2, 2), tolerance = 1e-8)
})

test_that("control entries are validated instead of looping forever or rounding", {
  loglik <- function(mu) -(mu - 1)^2
  expect_error(fit(loglik, c(mu = 0), control = list(max_iter = Inf)), "control\\$max_iter must be a whole number")
  expect_error(fit(loglik, c(mu = 0), control = list(max_iter = -1)), "max_iter")
  expect_error(fit(loglik, c(mu = 0), control = list(max_iter = 2.5)), "max_iter")
  expect_error(fit(loglik, c(mu = 0), control = list(gtol = -1)), "gtol must be a finite number >= 0")
  expect_error(fit(loglik, c(mu = 0), control = list(memory = 0)), "memory")
})

test_that("an exactly singular information gives NA standard errors and a warning", {
  expect_warning(res <- fit(function(a, b) -(a + b - 1)^2, c(a = 0, b = 0)), "not negative definite")
  expect_true(all(is.na(se(res))))
  x <- c(0.3, 1.2, 2.9, 1.7)
  expect_warning(res <- fit(function(a, b) loglik_normal(a + b, 1.5, x), c(a = 0, b = 0)), "not negative definite")
  expect_true(all(is.na(se(res))))
})

test_that("x^0 and x^1 have their polynomial derivatives at 0, also in fits", {
  x <- val(0); backward(x^0); expect_equal(grad(x), 0)
  x <- val(0); backward(x^1); expect_equal(grad(x), 1)
  expect_equal(unname(hessian(function(p) p$a^1 + p$a^0, list(a = val(0)))), matrix(0))
  res <- fit(function(a) -(a - 1)^2 + a^0, c(a = 0))
  expect_equal(unname(coef(res)), 1, tolerance = 1e-8)
})

test_that("mean() refuses trim and na.rm on values, and values take one subscript", {
  expect_error(mean(val(1:4), trim = 0.25), "mean: trim, na.rm")
  expect_error(mean(val(1:4), na.rm = TRUE), "mean: trim, na.rm")
  expect_equal(value_of(mean(val(1:4))), 2.5)
  x <- val(c(1, 2, 3))
  expect_error(x[1, 2], "one subscript")
  expect_error(x[, 3], "one subscript")
  expect_error(x[1, ], "one subscript")
  expect_equal(value_of(x[2:3]), c(2, 3))
  expect_equal(value_of(x[-1]), c(2, 3))
})

test_that("duals: log() honours base, abs() has derivative 0 at 0", {
  d <- log(dual(8, 1), base = 2)
  expect_equal(d$primal, 3)
  expect_equal(d$tangent, 1 / (8 * log(2)))
  expect_equal(abs(dual(0, 1))$tangent, 0)
  expect_equal(abs(dual(-2, 1))$tangent, -1)
})

test_that("parameter names that match no argument, and a bad nobs, are clear errors", {
  loglik <- function(mu, ls) -(mu - 1)^2 - (ls - 2)^2
  expect_error(fit(loglik, c(mu = 0, log_sigma = 0)), "parameter log_sigma matches no argument of loglik \\(its arguments: mu, ls\\)")
  # one list argument, with or without further defaulted arguments, still works
  expect_equal(unname(coef(fit(function(p, k = 2) -(p$a - k)^2, c(a = 0)))), 2, tolerance = 1e-8)
  for (bad in list("a", c(1, 2), -5, 2.5, NA)) {
    expect_error(fit(function(a) -(a - 1)^2, c(a = 0), nobs = bad), "nobs must be a single positive whole number")
  }
  expect_equal(nobs(fit(function(a) -(a - 1)^2, c(a = 0), nobs = 10)), 10)
})

test_that("an interrupt inside a refit stops bootstrap() instead of counting as a failed refit", {
  skip_on_os("windows")
  set.seed(3)
  x <- rnorm(40, 1)
  calls <- 0L
  loglik <- function(mu) {
    calls <<- calls + 1L
    if (calls == 3L) {
      tools::pskill(Sys.getpid(), tools::SIGINT)   # as if the user pressed Ctrl-C here
      Sys.sleep(1)
    }
    loglik_normal(mu, 1, x)
  }
  res <- fit(loglik, c(mu = 0))
  outcome <- tryCatch(bootstrap(res, R = 30), interrupt = function(e) "interrupted")
  expect_identical(outcome, "interrupted")
  expect_equal(calls, 3L)
})

test_that("^ on values gives base R's powers: no accuracy lost to repeated multiplication", {
  # base R's ^ (the C library's pow) is the oracle; both are correctly rounded
  expect_identical(value_of(val(1.00000001)^2e9), 1.00000001^2e9)
  expect_identical(value_of(val(2)^-1074), 2^-1074)
  expect_identical(value_of(val(2)^-1074), 4.940656458412465e-324)
  expect_identical(value_of(val(c(-2, 3))^3), c(-8, 27))
  expect_identical(value_of(val(c(1.1, 0.7))^c(25, -31)), c(1.1, 0.7)^c(25, -31))
  # the derivative uses the same powers: d/dx x^2e9 = 2e9 x^(2e9 - 1)
  x <- val(1.00000001); backward(x^2e9)
  expect_equal(grad(x), 2e9 * 1.00000001^(2e9 - 1), tolerance = 1e-14)
})

test_that("duals: x^0 has derivative 0 at 0, as the polynomial 1 has", {
  expect_equal(tangent(dual(0, 1)^0), 0)
  expect_equal(tangent(dual(c(0, 2), 1)^0), c(0, 0))
  expect_equal(tangent(dual(c(0, 2), 1)^c(0, 3)), c(0, 12))   # d/dx x^3 = 3 x^2
  expect_equal(tangent(dual(0, 1)^1), 1)
})

test_that("delta_method: an argument that names no parameter is not silently every parameter", {
  set.seed(5); y <- rnorm(40, 2)
  res <- fit(function(mu, log_sigma) loglik_normal(mu, exp(log_sigma), y), c(mu = 0, log_sigma = 0))
  expect_error(delta_method(res, function(tau) tau),
               "g returned the list of all parameters.*argument 'tau' is not a parameter name.*mu, log_sigma")
  expect_error(delta_method(res, function(tau) exp(tau)), "g failed: .*argument 'tau' is not a parameter name")
  # the list form still works: sigma = exp(log_sigma), SE sigma / sqrt(2 n) (closed form)
  d <- delta_method(res, function(p) exp(p$log_sigma))
  sigma <- sqrt(mean((y - mean(y))^2))
  expect_equal(unname(coef(d)), sigma, tolerance = 1e-6)
  expect_equal(unname(se(d)), sigma / sqrt(2 * length(y)), tolerance = 1e-6)
})

test_that("an estimate on the boundary of a transform's domain warns, as glm does", {
  # closed forms: the MLE of a Bernoulli p is mean(y), of a Poisson rate mean(y),
  # of an exponential rate 1 / mean(x); each of these lies on (or beyond) a bound
  expect_warning(res <- fit(function(p) loglik_bernoulli(p, rep(1, 20)), c(p = 0.5),
                            transform = list(p = "probability")),
                 "boundary of the parameter space \\(p = 1, the transform keeps it in \\(0, 1\\)\\)")
  expect_equal(unname(coef(res)), 1, tolerance = 1e-8)
  expect_warning(fit(function(lambda) loglik_poisson(lambda, rep(0, 20)), c(lambda = 1),
                     transform = list(lambda = "positive")),
                 "boundary.*lambda = 0, the transform keeps it positive")
  set.seed(1); x <- rexp(100, 3)
  stopifnot(1 / mean(x) > 2)
  expect_warning(fit(function(rate) loglik_exponential(rate, x), c(rate = 1), transform = list(rate = bounded(0, 2))),
                 "boundary.*rate = 2")
  # interior maxima close to a bound do not warn
  expect_no_warning(res <- fit(function(p) loglik_bernoulli(p, c(rep(1, 199), 0)), c(p = 0.5),
                               transform = list(p = "probability")))
  expect_equal(unname(coef(res)), 199 / 200, tolerance = 1e-8)
  expect_no_warning(res <- fit(function(lambda) loglik_poisson(lambda, c(rep(0, 999), 1)), c(lambda = 1),
                               transform = list(lambda = "positive")))
  expect_equal(unname(coef(res)), 1 / 1000, tolerance = 1e-8)
  expect_no_warning(res <- fit(function(mu, s) loglik_normal(mu, s, x), c(mu = 0, s = 1), transform = list(s = "positive")))
  expect_equal(unname(coef(res)), c(mean(x), sqrt(mean((x - mean(x))^2))), tolerance = 1e-7)
})

test_that("elements of matrix parameters can be fixed, and partly fixed vectors stay vectors", {
  target <- matrix(c(1, -2, 3, 0.5), 2)
  loglik <- function(B) -sum((B - target)^2)
  res <- fit(loglik, list(B = matrix(0, 2, 2)), fixed = c(B1 = 7))
  expect_equal(unname(coef(res)), c(7, -2, 3, 0.5), tolerance = 1e-8)
  expect_equal(unname(se(res)), c(NA, rep(1 / sqrt(2), 3)), tolerance = 1e-8)   # -H = 2 I
  # profile limits of -(b - t)^2: t +- sqrt(qchisq(0.95, 1) / 2), and no error flood on stderr
  messages <- capture.output(ci <- confint(fit(loglik, list(B = matrix(0, 2, 2))), method = "profile"),
                             type = "message")
  expect_identical(messages, character(0))
  half <- sqrt(stats::qchisq(0.95, 1) / 2)
  expect_equal(unname(ci), cbind(as.vector(target) - half, as.vector(target) + half), tolerance = 1e-6)
  shapes <- NULL
  res <- fit(function(b) { shapes <<- c(shapes, is.null(dim(b))); -sum((b - 1:3)^2) }, list(b = c(0, 0, 0)),
             fixed = c(b2 = 5))
  expect_true(all(shapes))
  expect_equal(unname(coef(res)), c(1, 5, 3), tolerance = 1e-8)
})

test_that("an error in the log-likelihood reaches the caller with its class and message, nothing on stderr", {
  failing <- function(a) stop(structure(class = c("my_condition", "error", "condition"),
                                        list(message = "my own words", call = NULL)))
  expect_error(fit(failing, c(a = 0)), "fit: the log-likelihood function failed: my own words",
               class = "my_condition")
  messages <- capture.output(err <- tryCatch(fit(function(a) stop("plain"), c(a = 0)), error = identity),
                             type = "message")
  expect_identical(messages, character(0))
  expect_false(grepl("lang!", conditionMessage(err), fixed = TRUE))
})

test_that("separation in a logistic regression warns, as glm does", {
  X <- cbind(1, c(-2, -1, -0.5, 0.5, 1, 2)); y <- c(0, 0, 0, 1, 1, 1)
  glm_warned <- tryCatch({ glm.fit(X, y, family = binomial()); FALSE },
                         warning = function(w) grepl("numerically 0 or 1", conditionMessage(w)))
  expect_true(glm_warned)   # the oracle: glm sees the same problem here
  expect_warning(fit(function(beta) loglik_logistic(beta, X, y), list(beta = c(0, 0))),
                 "fitted probabilities numerically 0 or 1 occurred \\(loglik_logistic: [0-9]+ observations\\)")
  # overlapping data: no warning, glm's estimates
  set.seed(1); X <- cbind(1, rnorm(100)); y <- rbinom(100, 1, plogis(X %*% c(-1, 1)))
  expect_no_warning(res <- fit(function(beta) loglik_logistic(beta, X, y), list(beta = c(0, 0))))
  expect_equal(unname(coef(res)), unname(coef(glm(y ~ X[, 2], family = binomial))), tolerance = 1e-6)
  # logical y is taken as 0/1, as glm takes it; other data name the function and y
  res <- fit(function(beta) loglik_logistic(beta, X, y == 1), list(beta = c(0, 0)))
  expect_equal(unname(coef(res)), unname(coef(glm(y == 1 ~ X[, 2], family = binomial))), tolerance = 1e-6)
  expect_error(loglik_logistic(val(c(0, 0)), X, as.character(y)),
               "loglik_logistic: y must be plain numeric data, got an object of class 'character'")
  expect_error(loglik_logistic(val(c(0, 0)), X, y + 0.5), "^loglik_logistic: y\\[[0-9]+\\] = ")
})

test_that("hessian_vector: a v that is not numbers says what it is", {
  f <- function(p) sum(p[[1]]^2)
  expect_error(hessian_vector(f, list(val(c(1, 2))), v = c("a", "b")),
               "v must be numeric of length 2 \\(one entry per parameter element\\), got an object of class 'character'")
  expect_error(hessian_vector(f, list(val(c(1, 2))), v = 1), "got length 1")
  expect_equal(hessian_vector(f, list(val(c(1, 2))), v = c(1, -1)), c(2, -2))   # H = 2 I
})

test_that("val() keeps names; str() and print() say what a handle is", {
  x <- val(c(a = 1, b = 2))
  expect_equal(value_of(x["b"]), c(b = 2))
  expect_output(str(x), "<femtograd value: vector of length 2>")
  restored <- unserialize(serialize(x, NULL))
  expect_output(str(restored), "no longer valid \\(restored from a saved session\\)")
  expect_error(length(restored), "saved and restored")
  foreign <- getNativeSymbolInfo("wrap__fg_leaf", PACKAGE = "femtograd")$address
  class(foreign) <- "femtograd_value"
  expect_output(print(foreign), "not a femtograd value")
  expect_error(value_of(foreign), "expected a femtograd value")
})

test_that("a failed profile refit is NA with a warning carrying the refit's own error", {
  # -(a - 1)^2 - (b - 2)^2: the refit of b fails (the user's own error) for a > 2
  loglik <- function(a, b) {
    # a is a number where the profile holds it fixed
    if ((if (is.numeric(a)) a else value_of(a)) > 2) stop("a is beyond what this model allows")
    -(a - 1)^2 - (b - 2)^2
  }
  res <- fit(loglik, c(a = 0, b = 0))
  expect_warning(prof <- profile(res, which = "a", grid = c(0, 2, 3, 4)),
                 "profile: the refit failed at 2 grid point\\(s\\) of 'a' \\(NA rows\\); the first: the refit at a = 3 failed: .*a is beyond what this model allows")
  d <- prof$profiles$a
  # the oracle: the profile of a separable quadratic is -(a - 1)^2
  expect_equal(d$loglik, c(-1, 0, -1, NA, NA), tolerance = 1e-10)
  # the profile limits are 1 -+ sqrt(qchisq(0.95, 1) / 2); the upper one, 2.39, is beyond a = 2
  expect_warning(ci <- confint(res, parm = "a", method = "profile"),
                 "no upper 95% profile limit for 'a'.*\\(the refit at a = [0-9.]+ failed: .*a is beyond what this model allows\\)")
  expect_equal(ci[1, 1], 1 - sqrt(qchisq(0.95, 1) / 2), tolerance = 1e-8)
  expect_true(is.na(ci[1, 2]))
})

test_that("an interrupt inside a profile refit stops profile() and confint()", {
  skip_on_os("windows")
  calls <- 0L
  loglik <- function(a, b) {
    calls <<- calls + 1L
    if (calls == 3L) {
      tools::pskill(Sys.getpid(), tools::SIGINT)   # as if the user pressed Ctrl-C here
      Sys.sleep(1)
    }
    -(a - 1)^2 - (b - 2)^2
  }
  res <- fit(loglik, c(a = 0, b = 0), control = list(replay = FALSE))
  for (run in list(function() profile(res, which = "a"), function() confint(res, method = "profile"))) {
    calls <- 1L
    outcome <- tryCatch(run(), interrupt = function(e) "interrupted")
    expect_identical(outcome, "interrupted")
    expect_equal(calls, 3L)
  }
})

test_that("messages say NA for R's missing value, Inf for infinity, and one number in the singular", {
  # the oracle is R's own spelling: format(NA_real_), format(NaN), format(Inf)
  expect_error(loglik_normal(val(0), 1, c(1, NA)), "loglik_normal: x[2] = NA is outside the support", fixed = TRUE)
  expect_error(loglik_normal(val(0), 1, c(1, NaN)), "loglik_normal: x[2] = NaN is outside the support", fixed = TRUE)
  expect_error(loglik_poisson(val(1), c(1L, NA_integer_)), "loglik_poisson: x[2] = NA is outside", fixed = TRUE)
  expect_error(loglik_poisson(val(1), c(1, -Inf)), "loglik_poisson: x[2] = -Inf is outside", fixed = TRUE)
  expect_error(loglik_binomial(val(0.5), c(1, 2), size = c(3, NA)), "size[2] = NA is not a non-negative integer",
               fixed = TRUE)
  expect_error(loglik_polr(val(c(0, 0)), val(c(-1, 1)), c(1, NA)), "loglik_polr: y[2] = NA is not a category",
               fixed = TRUE)
  expect_error(loglik_logistic(val(c(0, 0)), cbind(1, 1:3), c(0, 1, 1), offset = c(1, NA, 0)),
               "loglik_logistic: offset[2] = NA is not a finite number", fixed = TRUE)
  ll <- function(mu) loglik_normal(mu, 1, 1:3)
  expect_error(fit(ll, c(mu = 0), control = list(gtol = Inf)), "control$gtol must be a finite number >= 0, got Inf",
               fixed = TRUE)
  expect_error(fit(ll, c(mu = 0), control = list(max_iter = -Inf)), "got -Inf", fixed = TRUE)
  expect_error(fit(ll, c(mu = 0), control = list(max_iter = NA_integer_)), "control$max_iter", fixed = TRUE)
  expect_error(fit(function(b) -sum((b - 1)^2), list(b = 0), fixed = c(b = 1, b = 2)), "fit: fixed")
  expect_error(fit(function(b) -sum((b - 1)^2), list(b = 0), fixed = list(b = c(1, 2))),
               "fit: fixed value for 'b' has length 2, the parameter has 1 element$")
  expect_error(loglik_logistic(val(c(0, 0)), cbind(1, 1), 1:2), "y has length 2 but X has 1 row$")
  expect_error(confint(fit(ll, c(mu = 0)), 3), "there is 1 parameter\\)")
  expect_error(loglik_polr(val(0), val(c(0, 1)), factor(c("a", "b"))), "has 2 categories (needs 1 cut point)",
               fixed = TRUE)
  expect_error(fit(function(beta) loglik_logistic(beta, matrix(1, 3, 1), c(0, 1, 1)), list(beta = c(0, 0))),
               "beta has length 2 but X has 1 column")
})

test_that("an allocation the machine cannot make is an R error, not the end of R", {
  skip_on_os("windows")
  skip_if(Sys.which("bash") == "", "needs bash for ulimit")
  # 3e4 parameter elements: a 3e4 x 3e4 identity of tangents (7.2 GB) is below
  # the 16 GiB refused up front, but not in an address space of 3 GB
  script <- tempfile(fileext = ".R")
  on.exit(unlink(script))
  writeLines(c(
    "suppressMessages(library(femtograd))",
    "p <- list(val(rep(0.5, 3e4)))",
    "for (run in list(function() hessian(function(p) sum(p[[1]]^2), p),",
    "                 function() jacobian(function(p) p[[1]]^2, p))) {",
    "  r <- tryCatch(run(), error = function(e) conditionMessage(e))",
    "  cat('MESSAGE', r, '\\n')",
    "}",
    # the gradient needs no tangents and still works
    "cat('GRADIENT', sum(gradient(function(p) sum(p[[1]]^2), p)$gradient), '\\n')"
  ), script)
  rscript <- file.path(R.home("bin"), "Rscript")
  command <- sprintf("ulimit -v 3000000; R_LIBS=%s %s --vanilla %s 2>&1",
                     shQuote(paste(.libPaths(), collapse = .Platform$path.sep)), shQuote(rscript), shQuote(script))
  out <- suppressWarnings(system2("bash", c("-c", shQuote(command)), stdout = TRUE, stderr = TRUE))
  status <- if (is.null(attr(out, "status"))) 0L else attr(out, "status")
  expect_equal(status, 0L, label = paste(out, collapse = "\n"))
  messages <- grep("^MESSAGE", out, value = TRUE)
  expect_length(messages, 2L)
  expect_match(messages[1], "hessian: cannot allocate 7.20 GB", fixed = TRUE)
  expect_match(messages[2], "jacobian: cannot allocate 7.20 GB", fixed = TRUE)
  expect_true(any(grepl("^GRADIENT 30000", out)), label = paste(out, collapse = "\n"))
})
