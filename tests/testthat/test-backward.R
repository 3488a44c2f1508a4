test_that("the seed example gives grad(x) = 10 and grad(y) = 3", {
  x <- val(3); y <- val(4)
  z <- x^2 + x * y
  expect_equal(value_of(z), 21)
  backward(z)
  expect_identical(grad(x), 10)
  expect_identical(grad(y), 3)
  expect_output(print(grad(x)), "^\\[1\\] 10$")
})

test_that("gradients accumulate across backward calls until zero_grad", {
  x <- val(2)
  z <- x^3
  backward(z)
  backward(z)
  expect_equal(grad(x), 2 * 3 * 2^2)
  zero_grad(z)
  expect_equal(grad(x), 0)
})

test_that("grad() has the shape of the value", {
  m <- val(matrix(1:6, 2))
  backward(sum(m * m))
  expect_equal(grad(m), 2 * matrix(1:6, 2))
})

test_that("backward() needs a scalar output", {
  expect_error(backward(val(1:3) * 2), "backward: the output must be a scalar, got vector\\[3\\]")
  expect_error(backward(3), "backward: expected a femtograd value")
})

test_that("a chain of 10^6 operations runs backward without stack overflow", {
  x <- val(1)
  y <- x
  for (i in seq_len(1e6)) y <- y + 1e-6
  backward(y)
  expect_equal(grad(x), 1)
  rm(y); invisible(gc())
  expect_equal(value_of(x), 1)
})

resident_mb <- function() {
  status <- readLines("/proc/self/status")
  as.numeric(gsub("[^0-9]", "", grep("^VmRSS:", status, value = TRUE))) / 1024
}

test_that("graph memory is released when R drops the values", {
  skip_if_not(file.exists("/proc/self/status"), "needs Linux /proc to read resident memory")
  # 80 MB per node: above glibc's largest mmap threshold, so each array is
  # its own mapping and freeing it shows up in the resident size at once.
  # The margins are wide because the heap left by earlier tests (the 10^6
  # node chain) can shrink by a hundred MB or so while this test runs.
  invisible(gc()); invisible(gc())
  before <- resident_mb()
  local({
    x <- val(rnorm(1e7))
    for (i in 1:8) x <- x * 1.0001   # about 720 MB of nodes held in Rust
    expect_gt(resident_mb() - before, 400)
  })
  invisible(gc())
  expect_lt(resident_mb() - before, 150)
})
