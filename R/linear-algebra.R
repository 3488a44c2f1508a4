# Linear systems and determinants of values: one node each in the engine
# (LU with partial pivoting), with exact first and second derivatives.

#' Linear systems and log-determinants of values
#'
#' `chol(x)` is the upper triangular `R` with `x = t(R) %*% R` (x symmetric
#' positive definite; derivatives treat x as symmetric).
#' `solve(a, b)` solves `a %*% x = b` for a square `a`; `solve(a)` is the
#' inverse. `logdet(a)` is `log(abs(det(a)))`, and `determinant(a)` returns
#' it as `modulus` (a value) with the sign of the determinant (a number:
#' reading it is a guard, so a fit that replays the model re-records it
#' where the sign would change). Either argument of `solve()` may be a
#' value or plain numbers; derivatives flow to every value.
#'
#' @param a A square matrix (value or numbers).
#' @param b A vector or matrix with as many rows as `a` (value or numbers);
#'   missing for the inverse.
#' @param x A square matrix value.
#' @param logarithm Must be `TRUE` for values.
#' @param ... Ignored.
#' @return `solve()` and `logdet()`: a value. `determinant()`: a list of
#'   class `det` with `modulus` and `sign`.
#' @examples
#' A <- val(matrix(c(4, 1, 1, 3), 2))
#' r <- c(1, 2)
#' q <- sum(r * solve(A, r))   # r' A^-1 r
#' backward(q)
#' grad(A)                     # -A^-1 r r' A^-1
#' logdet(A)
#' @name linear-algebra
NULL

#' @rdname linear-algebra
#' @export
solve.femtograd_value <- function(a, b, ...) {
  if (missing(b)) b <- diag(dim(a)[1] %||% length(a))   # the engine checks that a is square
  wrap_node(fg_solve(as_operand(a, "solve"), as_operand(b, "solve")))
}

#' @rdname linear-algebra
#' @export
logdet <- function(a) {
  if (!is_value(a)) {
    check_numbers(a, "logdet")
    return(as.numeric(determinant(as.matrix(a), logarithm = TRUE)$modulus))
  }
  wrap_node(fg_logdet(a))
}

#' @rdname linear-algebra
#' @export
determinant.femtograd_value <- function(x, logarithm = TRUE, ...) {
  if (!isTRUE(logarithm)) stop("determinant: for femtograd values only logarithm = TRUE is supported", call. = FALSE)
  modulus <- logdet(x)
  structure(list(modulus = modulus, sign = sign(det(value_of(x)))), class = "det")
}

#' @rdname linear-algebra
#' @export
chol.femtograd_value <- function(x, ...) {
  if (...length() > 0L) stop("chol: pivot and other arguments are not supported for femtograd values", call. = FALSE)
  wrap_node(fg_chol(x))
}
