# Base and stats functions that meet a value either compute on values (and
# then agree with the same function on numbers) or stop with an error:
# none may return plain numbers and silently drop the derivatives.

x0 <- c(3.1, 1.4, 2.2, 0.6)
A0 <- matrix(c(2, 1, 1, 3), 2)

outcome <- function(expr) tryCatch(expr, error = function(e) e)

common_functions <- list(
  sort = function(x) sort(x), median = function(x) median(x), quantile = function(x) quantile(x, 0.3),
  scale = function(x) scale(x), apply = function(x) apply(x, 1, sum), sapply = function(x) sapply(x, exp),
  var = function(x) var(x), sd = function(x) sd(x), round = function(x) round(x), floor = function(x) floor(x),
  sign = function(x) sign(x), range = function(x) range(x), which.max = function(x) which.max(x),
  max = function(x) max(x), cumsum = function(x) cumsum(x), rep = function(x) rep(x, 2),
  as.matrix = function(x) as.matrix(x), rev = function(x) rev(x), log2 = function(x) log2(x)
)

test_that("common functions on a vector value give values that agree with numbers, or errors", {
  for (name in names(common_functions)) {
    f <- common_functions[[name]]
    result <- suppressWarnings(outcome(f(val(x0))))
    if (inherits(result, "error")) {
      expect_true(nzchar(conditionMessage(result)), label = name)
    } else if (name == "which.max") {
      # a position, not a number with a derivative
      expect_identical(result, which.max(x0))
    } else if (is.list(result) && !is_value(result)) {
      # sapply() cannot simplify handles: a list of values, derivatives kept
      expect_true(all(vapply(result, is_value, logical(1))), label = name)
      expect_equal(as.vector(value_of(do.call(c, result))), as.vector(f(x0)), tolerance = 1e-12, label = name)
    } else {
      expect_true(is_value(result), label = sprintf("%s returned %s, not a value", name, class(result)[1]))
      expect_equal(as.vector(value_of(result)), as.vector(f(x0)), tolerance = 1e-12, label = name)
    }
  }
})

test_that("functions without derivative rules refuse values by name", {
  expect_error(scale(val(x0)), "scale: not supported.*sd\\(x\\)")
})

test_that("sd() and var() of a vector value are differentiable", {
  x <- val(x0)
  expect_equal(value_of(sd(x)), sd(x0), tolerance = 1e-14)
  g <- gradient(function(p) var(p$x), list(x = val(x0)))$gradient
  expect_equal(unname(g), 2 * (x0 - mean(x0)) / (length(x0) - 1), tolerance = 1e-12)
  expect_error(var(x, na.rm = TRUE), "only var\\(x\\) of a vector")
})
