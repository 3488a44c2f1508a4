# While a function with loops is recorded, + - * / ^ in its body call the
# engine directly (with_arithmetic_shortcuts() rewrites a copy's body). The
# shortcuts must change nothing but the route: numbers keep base R's
# results, types and classes, values record the same operations.

shortcuts <- femtograd:::with_arithmetic_shortcuts

test_that("only closures with loops get a copy, and the user's function is left alone", {
  straight <- function(a, b) a * b + 1
  looped <- function(a, n) { s <- 0; for (i in seq_len(n)) s <- s + a; s }
  expect_identical(shortcuts(straight), straight)
  expect_identical(shortcuts(sum), sum)
  copy <- shortcuts(looped)
  expect_false(identical(copy, looped))
  expect_identical(environment(copy), environment(looped))
  expect_identical(formals(copy), formals(looped))
  expect_identical(looped(2, 3), 6)
  expect_identical(copy(2, 3), 6)
  # the rewritten body is reused, not rebuilt, for the same function
  expect_identical(body(shortcuts(looped)), body(copy))
})

test_that("quoted code, formulas, assignment targets and empty arguments are left as written", {
  f <- shortcuts(function(x, m) {
    for (i in 1) {
      q <- quote(a + b)
      fm <- y ~ x + z
      v <- c(0, 0, 0)
      v[i + 1] <- x * 2
      column <- m[, 1] * 2
      g <- function(u = 1 + 1) u * x
    }
    list(q = q, fm = fm, v = v, column = column, g = g(3), empty = NULL)
  })
  out <- f(5, matrix(1:4, 2))
  expect_identical(out$q, quote(a + b))
  expect_identical(out$fm, y ~ x + z, ignore_attr = TRUE)
  expect_identical(out$v, c(0, 10, 0))
  expect_identical(out$column, c(2, 4))
  expect_identical(out$g, 15)
  expect_true("empty" %in% names(out))
  text <- paste(deparse(body(f)), collapse = "\n")
  expect_match(text, "v[i + 1] <-", fixed = TRUE)
  expect_match(text, "quote(a + b)", fixed = TRUE)
  expect_match(text, "u = 1 + 1", fixed = TRUE)
})

test_that("nested sites keep their own operands", {
  f <- shortcuts(function(a, b, c) { for (i in 1) out <- (a - b) * (c + (a / b)) - (b^a - c); out })
  reference <- function(a, b, c) (a - b) * (c + (a / b)) - (b^a - c)
  expect_identical(f(3, 2, 7), reference(3, 2, 7))
  x <- val(3); y <- val(2)
  expect_equal(value_of(f(x, y, 7)), reference(3, 2, 7))
})

test_that("an S4 object that is not a value keeps its own arithmetic", {
  methods::setClass("femtograd_test_money", representation(amount = "numeric"))
  on.exit(methods::removeClass("femtograd_test_money"), add = TRUE)
  methods::setMethod("Arith", signature("femtograd_test_money", "numeric"), function(e1, e2) {
    methods::new("femtograd_test_money", amount = methods::callGeneric(e1@amount, e2))
  })
  f <- shortcuts(function(m) { for (i in 1:3) m <- m * 2; m })
  expect_identical(f(methods::new("femtograd_test_money", amount = 1))@amount, 8)
})

test_that("numbers keep base R's arithmetic: types, NA, recycling, attributes and other classes", {
  f <- shortcuts(function(x, y) {
    for (i in 1) out <- list(x + y, x - y, x * y, x / y, x^y, -x, +x)
    out
  })
  reference <- function(x, y) list(x + y, x - y, x * y, x / y, x^y, -x, +x)
  cases <- list(
    list(2L, 3L), list(.Machine$integer.max, 1L), list(c(a = 1, b = 2), 3),
    list(matrix(1:4, 2), c(1, 2)), list(NA, 1), list(0, 0), list(TRUE, FALSE)
  )
  for (case in cases) {
    expect_identical(suppressWarnings(do.call(f, case)), suppressWarnings(do.call(reference, case)))
  }
  day <- as.Date("2026-12-01")
  g <- shortcuts(function(d) { for (i in 1) d <- d + 1; d })
  expect_identical(g(day), day + 1)
  expect_error(shortcuts(function(x) { for (i in 1) x <- x + "a"; x })(1), "non-numeric")
})

test_that("values record the same derivatives through the shortcuts as through dispatch", {
  loop_model <- function(p) {
    s <- 0
    for (i in 1:4) s <- s + p$a^i / i - p$b * i + 2 / (p$a + i)
    -s
  }
  at <- list(a = val(0.7), b = val(-0.3))
  exact_gradient <- c(-sum(0.7^(0:3)) + sum(2 / (0.7 + 1:4)^2), sum(1:4))
  exact_hessian <- matrix(c(-sum((1:3) * 0.7^(0:2)) - sum(4 / (0.7 + 1:4)^3), 0, 0, 0), 2)
  expect_equal(unname(gradient(loop_model, at)$gradient), exact_gradient, tolerance = 1e-12)
  expect_equal(unname(hessian(loop_model, at)), exact_hessian, tolerance = 1e-12)
})

test_that("a fit of a loop-written model is recorded once and agrees with the closed form", {
  set.seed(7)
  y <- rnorm(30, 1.5, 0.8)
  loglik <- function(mu, log_sigma) {
    ll <- 0
    for (t in seq_along(y)) ll <- ll - log_sigma - 0.5 * ((y[t] - mu) / exp(log_sigma))^2
    ll
  }
  res <- fit(loglik, c(mu = 0, log_sigma = 0))
  expect_equal(res$recordings, 1L)
  sigma_hat <- sqrt(mean((y - mean(y))^2))
  expect_equal(unname(coef(res)), c(mean(y), log(sigma_hat)), tolerance = 1e-8)
  expect_equal(unname(se(res)), c(sigma_hat / sqrt(30), 1 / sqrt(2 * 30)), tolerance = 1e-6)
})
