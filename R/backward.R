# Reverse mode: backward() sweeps from a scalar output; grad() reads the
# result off any value that took part.

#' Reverse-mode gradients
#'
#' `backward(z)` runs the reverse sweep from a scalar value `z`, seeding
#' dz/dz = 1, and accumulates dz/dv into every value `v` that `z` depends on.
#' Gradients add up across calls (as in PyTorch); [zero_grad()] resets them.
#'
#' @param x A scalar femtograd value (for `backward()`), or any value (for
#'   `grad()` and `zero_grad()`).
#' @return `backward()` and `zero_grad()` return `x` invisibly; `grad()`
#'   returns a plain numeric with the shape of `x`.
#' @examples
#' x <- val(3); y <- val(4)
#' z <- x^2 + x * y
#' backward(z)
#' grad(x)  # 2x + y = 10
#' grad(y)  # x = 3
#' zero_grad(z)
#' grad(x)
#' @export
backward <- function(x) {
  check_value(x, "backward")
  rust(fg_backward(x))
  invisible(x)
}

#' @rdname backward
#' @export
grad <- function(x) {
  check_value(x, "grad")
  with_value_names(rust(fg_grad(x)), x)
}

#' @rdname backward
#' @export
zero_grad <- function(x) {
  check_value(x, "zero_grad")
  rust(fg_zero_grad(x))
  invisible(x)
}
