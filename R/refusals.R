# Functions of base R that would turn a value into plain numbers (through
# as.matrix() or as.double()) and silently lose its derivatives. Until the
# engine has their operations, they stop with an error that names the
# function and what to write instead.

refuse <- function(what, instead) {
  stop(sprintf("%s: not supported for femtograd values (its derivatives would be lost); %s", what, instead),
       call. = FALSE)
}

#' Functions that refuse values
#'
#' `scale()` has no derivative rules yet: on a femtograd
#' value it stops with an error instead of computing on its numbers and
#' silently losing the derivatives. Use [value_of()] for the numbers.
#'
#' @param x A femtograd value.
#' @param ... Ignored.
#' @return Does not return.
#' @name refused-functions
#' @keywords internal
NULL

#' @rdname refused-functions
#' @export
scale.femtograd_value <- function(x, ...) {
  refuse("scale", "write (x - mean(x)) / sd(x)")
}
