# Values: the R face of a node in the Rust graph. A value is an external
# pointer with class "femtograd_value"; everything it holds lives in Rust.

#' Create a differentiable value
#'
#' `val()` turns numbers (a scalar, a vector or a matrix) into a leaf of the
#' computational graph. Arithmetic on values records the graph in Rust;
#' [backward()] then fills in gradients.
#'
#' @param x A numeric (or integer, converted to double) scalar, vector or
#'   matrix. A femtograd value is returned as it is.
#' @param label A name for the node in views of the graph ([graph_of()],
#'   `plot()`, [to_dot()]), such as `"x"`; it changes nothing else. Given
#'   with a femtograd value, it names that value's node (an intermediate
#'   result, say).
#' @return An object of class `femtograd_value`.
#' @seealso [backward()], [grad()], [value_of()], [graph_of()]
#' @examples
#' x <- val(3)
#' y <- val(c(1, 2, 3))
#' A <- val(matrix(1:4, 2))
#' x * y
#' w <- val(0.5, label = "w")
#' graph_of(w * x)
#' @export
val <- function(x, label = NULL) {
  v <- if (is_value(x)) x else new_value(x, constant = FALSE, caller = "val")
  if (!is.null(label)) {
    if (!is.character(label) || length(label) != 1L || is.na(label)) {
      stop("val: label must be one string, such as \"x\"", call. = FALSE)
    }
    rust(fg_set_label(v, label))
  }
  v
}

#' @rdname val
#' @return `is_value()`: `TRUE` if `x` is a femtograd value.
#' @export
is_value <- function(x) inherits(x, "femtograd_value")

new_value <- function(x, constant, caller) {
  check_numbers(x, caller)
  d <- dim(x)
  out <- wrap_node(fg_leaf(as_doubles(x), if (is.null(d)) NULL else as.integer(d), constant))
  if (is.null(d)) set_value_names(out, names(x)) else out
}

check_numbers <- function(x, caller) {
  if (!is.numeric(x)) {
    stop(sprintf("%s: expected numbers (a numeric scalar, vector or matrix), got an object of class '%s'",
                 caller, paste(class(x), collapse = "/")), call. = FALSE)
  }
  if (length(dim(x)) > 2L) {
    stop(sprintf("%s: arrays with %d dimensions are not supported; use a vector or a matrix",
                 caller, length(dim(x))), call. = FALSE)
  }
}

# An operand for fg_matmul: a value as it is, or plain numbers as
# doubles (dim kept), which the bindings turn into a constant node without
# an R-side value and its finaliser (those add up over long loops).
as_operand <- function(x, caller) {
  if (is_value(x)) return(x)
  check_numbers(x, caller)
  if (!is.double(x)) storage.mode(x) <- "double"
  x
}

# The numbers of x as a double vector, without copying one already (as.double
# would copy any vector with attributes, such as a matrix, only to drop its
# dim). The engine reads only the numbers, and borrows large vectors rather
# than copying them.
as_doubles <- function(x) if (is.double(x)) x else as.double(x)

# Every engine call that makes a node goes through here. The bindings
# return the node already classed "femtograd_value" with the S4 bit set
# (R 4.2's %*% dispatches only on S4 objects, see ops.R; S3 dispatch of
# Ops, Math, print, ... is unaffected), so only errors need handling.
wrap_node <- function(ptr) rust(ptr)

# Engine errors come back from Rust as condition objects (extendr's
# result_condition); this raises them as ordinary R errors, whose message
# already names the operation and the shapes.
rust <- function(result) {
  if (inherits(result, "extendr_error")) stop(result$value, call. = FALSE)
  result
}

# Operands of an operation: values pass through, plain numbers become
# constants (they get no gradient).
as_node <- function(x, caller) {
  if (is_value(x)) x else new_value(x, constant = TRUE, caller = caller)
}

#' The numbers held by a value
#'
#' `value_of()` returns a value's numbers as a plain numeric vector or matrix
#' (the forward-pass result). Named so that it does not mask `utils::data()`.
#'
#' @param x A femtograd value.
#' @return A numeric vector or matrix.
#' @examples
#' value_of(val(2)^3)
#' @export
value_of <- function(x) {
  check_value(x, "value_of")
  with_value_names(.Call(.native$numbers, x, TRUE), x)
}

# The numbers for display: reading them to print does not make the
# recording depend on them (no guard).
numbers_to_show <- function(x) with_value_names(.Call(.native$numbers, x, FALSE), x)

# Names of a vector value (set by c(), names<- or a named subscript) are an
# attribute of its handle, which R never copies: only a fresh handle may take
# them (see `names<-.femtograd_value`).
value_names <- function(x) attr(x, "femtograd_names", exact = TRUE)

with_value_names <- function(numbers, x) {
  nm <- value_names(x)
  if (!is.null(nm)) names(numbers) <- nm
  numbers
}

check_value <- function(x, caller) {
  if (!is_value(x)) {
    stop(sprintf("%s: expected a femtograd value (see ?val), got an object of class '%s'",
                 caller, paste(class(x), collapse = "/")), call. = FALSE)
  }
  invisible(x)
}

#' @export
format.femtograd_value <- function(x, ...) {
  if (!fg_is_live(x)) return(dead_handle_label(x))
  v <- numbers_to_show(x)
  shape <- if (is.matrix(v)) sprintf("%d x %d matrix", nrow(v), ncol(v))
           else if (length(v) == 1L) "scalar" else sprintf("vector of length %d", length(v))
  sprintf("<femtograd value: %s>", shape)
}

#' @export
print.femtograd_value <- function(x, ...) {
  cat(format(x), "\n", sep = "")
  if (fg_is_live(x)) {
    cat("value:\n")
    print(numbers_to_show(x), ...)
    cat("grad:\n")
    print(grad(x), ...)
  }
  invisible(x)
}

# What a handle that is not a live value is: a restored one, or an object
# femtograd never made that carries its class.
dead_handle_label <- function(x) {
  why <- tryCatch({
    numbers_to_show(x)
    ""
  }, error = conditionMessage)
  if (grepl("saved and restored", why, fixed = TRUE)) {
    "<femtograd value: no longer valid (restored from a saved session)>"
  } else {
    sprintf("<not a femtograd value: an object of type '%s' with the class femtograd_value>", typeof(x))
  }
}

#' @importFrom utils str
#' @export
str.femtograd_value <- function(object, ...) cat(" ", format(object), "\n", sep = "")

# A value's shape is fixed when it is recorded: reading it is no guard.
#' @export
length.femtograd_value <- function(x) .Call(.native$length, x)

#' @export
dim.femtograd_value <- function(x) .Call(.native$dim, x)

#' @export
as.double.femtograd_value <- function(x, ...) as.double(value_of(x))

# A value stays a value (a vector becomes a one-column matrix, as in R):
# code that reaches a value through as.matrix() (solve.default, apply,
# scale.default, ...) then differentiates or fails, never silently drops
# the derivatives. as.double() is the explicit way to the numbers.
#' @export
as.matrix.femtograd_value <- function(x, ...) if (is.null(dim(x))) t(t(x)) else x

#' Compare the numbers of values
#'
#' `all.equal()` on a femtograd value compares its numbers (and those of
#' `current`, a value or numbers) with [base::all.equal()], so that
#' `testthat::expect_equal()` sees different values as different.
#'
#' @param target A femtograd value.
#' @param current A femtograd value or numbers.
#' @param ... Passed to [base::all.equal()] (e.g. `tolerance`).
#' @return `TRUE` or a character vector describing the differences.
#' @examples
#' all.equal(val(1), val(2))
#' isTRUE(all.equal(val(c(1, 2)), c(1, 2)))
#' @export
all.equal.femtograd_value <- function(target, current, ...) {
  numbers <- function(x) if (is_value(x)) value_of(x) else x
  all.equal(numbers(target), numbers(current), ...)
}

# is.na() of a value: of its numbers (quantile(), median() and others ask
# before they compute). It records no guard, as printing does not.
#' @export
is.na.femtograd_value <- function(x) is.na(numbers_to_show(x))
