test_that("val() holds scalars, vectors and matrices with their shapes", {
  expect_equal(value_of(val(3)), 3)
  expect_equal(value_of(val(c(1.5, 2))), c(1.5, 2))
  m <- matrix(c(1, 2, 3, 4, 5, 6), 2)
  expect_equal(value_of(val(m)), m)
  expect_equal(dim(val(m)), c(2L, 3L))
  expect_null(dim(val(1:3)))
  expect_equal(length(val(m)), 6L)
  expect_equal(as.numeric(val(m)), as.numeric(m))
  column <- as.matrix(val(c(1, 2)))
  expect_true(is_value(column))
  expect_equal(value_of(column), matrix(c(1, 2)))
})

test_that("integers are converted to doubles", {
  expect_identical(value_of(val(1:3)), c(1, 2, 3))
})

test_that("values of large vectors survive changes to the vector and garbage collection", {
  # Long double vectors are lent to the engine, not copied: R must copy the
  # vector when it is modified afterwards, and keep it while the value lives.
  x <- seq(0, 1, length.out = 1e5)
  x0 <- x + 0   # a copy of the numbers
  m <- matrix(x, 1e4)
  v <- val(x)
  vm <- val(m)
  ll <- loglik_normal(val(0), val(1), x)
  x[1] <- 5
  m[1, 1] <- 5
  expect_identical(value_of(v), x0)
  expect_identical(value_of(vm), matrix(x0, 1e4))
  expect_equal(value_of(loglik_normal(val(0), val(1), x)), sum(dnorm(x, log = TRUE)))
  expect_equal(value_of(ll), sum(dnorm(x0, log = TRUE)))
  backward(ll)
  w <- val(rnorm(1e5, 3))
  rm(x, m)
  invisible(gc())
  expect_identical(value_of(v), x0)
  expect_identical(value_of(vm), matrix(x0, 1e4))
  expect_equal(mean(value_of(w)), 3, tolerance = 0.05)
})

test_that("non-numeric input is a clear error naming val", {
  expect_error(val("a"), "val: expected numbers.*'character'")
  expect_error(val(list(1, 2)), "val: expected numbers.*'list'")
  expect_error(val(factor("a")), "val: expected numbers.*'factor'")
  expect_error(val(array(1, c(1, 1, 1))), "val: arrays with 3 dimensions")
})

test_that("is_value() tells values from numbers", {
  expect_true(is_value(val(1)))
  expect_false(is_value(1))
})

test_that("print shows the numbers and the gradient", {
  x <- val(3)
  backward(x^2)
  out <- capture.output(print(x))
  expect_equal(out, c("<femtograd value: scalar>", "value:", "[1] 3", "grad:", "[1] 6"))
  # auto-printing at the console goes through show() (values carry the S4 bit)
  expect_equal(capture.output(methods::show(x)), out)
  expect_equal(format(val(matrix(0, 2, 3))), "<femtograd value: 2 x 3 matrix>")
  expect_equal(format(val(1:4)), "<femtograd value: vector of length 4>")
})

test_that("a value restored from disk gives an error, not a crash", {
  path <- tempfile(fileext = ".rds")
  saveRDS(val(3), path)
  stale <- readRDS(path)
  expect_error(value_of(stale), "no longer valid.*readRDS")
  expect_error(stale + 1, "no longer valid")
  expect_error(backward(stale), "no longer valid")
  expect_match(format(stale), "no longer valid")
})

test_that("NaN and Inf propagate as in R", {
  expect_true(is.nan(value_of(log(val(-1)))))
  expect_equal(value_of(val(1) / 0), Inf)
  x <- val(0)
  backward(sqrt(x))
  expect_equal(grad(x), Inf)
})
