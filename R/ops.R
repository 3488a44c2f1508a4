# Operations on values: R's group generics record nodes in the Rust graph.
# Plain numbers mixed in become constants; comparisons return plain logicals.

#' Arithmetic, maths and reductions on values
#'
#' Values support `+ - * / ^` (and unary minus) with each other and with plain
#' numbers on either side; `exp`, `log` (with `base`), `log1p`, `expm1`,
#' `sqrt`, `abs`, `sin`, `cos`, `tan`, `tanh`, `sinh`, `cosh`, `asin`, `acos`, `atan`, `lgamma`,
#' `log2`, `log10`, `gamma` (for positive arguments), `factorial`, `lfactorial`,
#' `digamma`; `sum`, `mean`, `prod`; `%*%`, `t()`, `crossprod()`; and
#' indexing `x[i]` of vectors. Comparisons (`<`, `==`, ...) compare the
#' numbers and return plain logicals.
#'
#' Shapes follow R, strictly: a length-one operand combines with any shape,
#' equal shapes combine elementwise, a vector combines with a matrix of the
#' same length; anything else is an error naming the operation and both
#' shapes (no silent recycling).
#'
#' @param e1,e2,x,y Values or numbers.
#' @param ... Further arguments (`base` for `log`; ignored elsewhere).
#' @param na.rm Not supported for values (must be `FALSE`).
#' @param i Indices (positive, negative or logical) into a vector value.
#' @param j Not supported: a value takes one subscript.
#' @param drop Ignored.
#' @return A femtograd value (plain logical for comparisons).
#' @name value-operations
#' @examples
#' x <- val(c(1, 2, 3))
#' s <- sum(exp(x) / 2 + x^2)
#' backward(s)
#' grad(x)
#' A <- val(matrix(c(2, 1, 1, 3), 2))
#' b <- val(c(1, -1))
#' q <- sum(b * (A %*% b))
#' x > 1
NULL

# Every operator goes straight to the engine (src/rust/src/native.rs):
# arithmetic records a node, a comparison returns plain logicals (and
# leaves a guard on the tape when a side depends on a parameter), anything
# else is an error naming the operator. `e2` is missing for unary - and +.
#' @rdname value-operations
#' @export
Ops.femtograd_value <- function(e1, e2) {
  if (nargs() == 1L) .Call(.native$ops, .Generic, e1, NULL) else .Call(.native$ops, .Generic, e1, e2)
}

# An elementwise function by the engine's name for it.
math_value <- function(name, x) .Call(.native$math, name, x)

math_functions <- c("exp", "log1p", "expm1", "sqrt", "abs", "sin", "cos", "tan",
                    "tanh", "sinh", "cosh", "asin", "acos", "atan", "lgamma", "digamma")

#' @rdname value-operations
#' @export
Math.femtograd_value <- function(x, ...) {
  f <- .Generic
  if (f == "log") return(log_value(x, ...))
  if (f == "log2") return(log_value(x, 2))
  if (f == "log10") return(log_value(x, 10))
  # Gamma(x) = exp(lgamma(x)) holds for x > 0, the domain of statistical use.
  if (f == "gamma") return(exp(math_value("lgamma", x)))
  if (!f %in% math_functions) {
    stop(sprintf("%s: not supported for femtograd values (supported: log, log2, log10, gamma (x > 0), %s)",
                 f, paste(math_functions, collapse = ", ")), call. = FALSE)
  }
  math_value(f, x)
}

log_value <- function(x, base = exp(1)) {
  y <- math_value("log", x)
  if (missing(base) || identical(base, exp(1))) y else y / log(base)
}

#' @rdname value-operations
#' @export
Summary.femtograd_value <- function(..., na.rm = FALSE) {
  f <- .Generic
  args <- list(...)
  if (!f %in% c("sum", "prod")) {
    stop(sprintf("%s: not supported for femtograd values (supported: sum, prod)", f), call. = FALSE)
  }
  if (!isFALSE(na.rm)) stop(sprintf("%s: na.rm is not supported for femtograd values", f), call. = FALSE)
  reduced <- lapply(args, function(a) wrap_node(fg_reduce(f, as_node(a, f))))
  Reduce(if (f == "sum") `+` else `*`, reduced)
}

#' @rdname value-operations
#' @export
mean.femtograd_value <- function(x, ...) {
  extra <- list(...)
  trimmed <- !is.null(extra$trim) && !identical(extra$trim, 0)
  if (trimmed || isTRUE(extra$na.rm) || length(setdiff(names(extra), c("trim", "na.rm"))) > 0L) {
    stop("mean: trim, na.rm and other arguments are not supported for femtograd values", call. = FALSE)
  }
  wrap_node(fg_reduce("mean", x))
}

#' @rdname value-operations
#' @export
t.femtograd_value <- function(x) wrap_node(fg_reduce("t", x))

#' @rdname value-operations
#' @export
`[.femtograd_value` <- function(x, i, j, ..., drop = TRUE) {
  # x[i, ] has j missing, but counts in nargs() (as in [.data.frame)
  subscripts <- nargs() - 1L - as.integer(!missing(drop))
  if (!missing(j) || ...length() > 0L || subscripts > 1L) {
    stop("[: femtograd values take one subscript, x[i]", call. = FALSE)
  }
  n <- length(x)
  if (!is.null(dim(x))) {
    stop(sprintf("[: only vector values can be indexed; this value is a %d x %d matrix",
                 nrow(value_of(x)), ncol(value_of(x))), call. = FALSE)
  }
  positions <- seq_len(n)[i]
  if (anyNA(positions)) {
    stop(sprintf("[: index out of range for a vector of length %d", n), call. = FALSE)
  }
  wrap_node(fg_gather(x, as.integer(positions)))
}

matmul_value <- function(x, y) wrap_node(fg_matmul(as_operand(x, "%*%"), as_operand(y, "%*%")))

# %*% and crossprod are not S3 generics in R 4.2, so values register S4
# methods for them (on the S3 class, declared with setOldClass).
setOldClass("femtograd_value")

# With the S4 bit set, auto-printing at the console calls show(), not print().
#' @rdname value-operations
#' @param object A femtograd value.
#' @export
setMethod("show", "femtograd_value", function(object) print.femtograd_value(object))

#' @rdname value-operations
#' @export
setMethod("%*%", signature("femtograd_value", "ANY"), function(x, y) matmul_value(x, y))

#' @rdname value-operations
#' @export
setMethod("%*%", signature("ANY", "femtograd_value"), function(x, y) matmul_value(x, y))

#' @rdname value-operations
#' @export
setMethod("%*%", signature("femtograd_value", "femtograd_value"), function(x, y) matmul_value(x, y))

crossprod_value <- function(x, y = NULL) {
  xt <- t(as_node(x, "crossprod"))
  if (is.null(y)) matmul_value(xt, x) else matmul_value(xt, y)
}

#' @rdname value-operations
#' @export
setMethod("crossprod", signature("femtograd_value", "ANY"), function(x, y = NULL, ...) crossprod_value(x, y))

#' @rdname value-operations
#' @export
setMethod("crossprod", signature("ANY", "femtograd_value"), function(x, y = NULL, ...) crossprod_value(x, y))
