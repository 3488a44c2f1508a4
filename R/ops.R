# Operations on values: R's group generics record nodes in the Rust graph.
# Plain numbers mixed in become constants; comparisons return plain logicals.

#' Arithmetic, maths and reductions on values
#'
#' Values support `+ - * / ^` (and unary minus) with each other and with plain
#' numbers on either side; `exp`, `log` (with `base`), `log1p`, `expm1`,
#' `sqrt`, `abs`, `sin`, `cos`, `tan`, `tanh`, `sinh`, `cosh`, `asin`, `acos`, `atan`, `lgamma`,
#' `log2`, `log10`, `gamma` (for positive arguments), `factorial`, `lfactorial`,
#' `digamma`, `trigamma`; `cumsum`, `cumprod`, `cummax`, `cummin`; `sum`, `mean`, `prod`, `max`, `min`, `range`; `%*%`, `t()`, `crossprod()`.
#' Indexing and the rest of base R's vocabulary: see [value-indexing] and
#' [base-functions]. Comparisons (`<`, `==`, ...) compare the
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
                    "tanh", "sinh", "cosh", "asin", "acos", "atan", "lgamma", "digamma", "trigamma")

# Steps whose derivative is zero wherever it exists: no use to a model's
# derivatives, so an error says how to get the numbers instead.
step_functions <- c("round", "signif", "floor", "ceiling", "trunc", "sign")

#' @rdname value-operations
#' @export
Math.femtograd_value <- function(x, ...) {
  f <- .Generic
  if (f %in% math_functions) return(math_value(f, x))   # the common case first
  if (f == "log") return(log_value(x, ...))
  if (f == "log2") return(log_value(x, 2))
  if (f == "log10") return(log_value(x, 10))
  # Gamma(x) = exp(lgamma(x)) holds for x > 0, the domain of statistical use.
  if (f == "gamma") return(exp(math_value("lgamma", x)))
  if (f == "cumsum") return(wrap_node(fg_reduce("cumsum", x)))
  if (f == "cumprod") return(cumprod_value(x))
  if (f == "cummax") return(running_extreme(x, TRUE))
  if (f == "cummin") return(running_extreme(x, FALSE))
  if (f %in% step_functions) {
    stop(sprintf("%s: its derivative is zero wherever it exists, so it is not defined for femtograd values; use %s(value_of(x)) for the numbers",
                 f, f), call. = FALSE)
  }
  stop(sprintf("%s: not supported for femtograd values (supported: log, log2, log10, gamma (x > 0), cumsum, cumprod, cummax, cummin, %s)",
               f, paste(math_functions, collapse = ", ")), call. = FALSE)
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
  if (!isFALSE(na.rm)) stop(sprintf("%s: na.rm is not supported for femtograd values", f), call. = FALSE)
  if (f %in% c("max", "min")) return(extreme(args, f == "max"))
  if (f == "range") return(c(extreme(args, FALSE), extreme(args, TRUE)))
  if (!f %in% c("sum", "prod")) {
    stop(sprintf("%s: not supported for femtograd values (supported: sum, prod, max, min, range)", f), call. = FALSE)
  }
  if (f == "sum" && !is.null(fused <- kernel_sum(args))) return(fused)
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

matmul_value <- function(x, y) wrap_node(fg_matmul(as_operand(x, "%*%"), as_operand(y, "%*%")))

# %*% and crossprod are not S3 generics in R 4.2, so values register S4
# methods for them (on the S3 class, declared with setOldClass in generics.R).
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
