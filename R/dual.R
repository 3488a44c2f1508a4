# Dual numbers: forward mode in plain R. A dual carries a primal and a
# tangent; arithmetic propagates both by the chain rule. The primal and
# tangent may themselves be femtograd values, which is forward-over-reverse
# by hand: the tangent of f is a directional derivative recorded as a graph,
# and backward() on it gives a column of the Hessian.

#' Dual numbers for forward-mode differentiation
#'
#' `dual(primal, tangent)` represents `primal + tangent * eps` with
#' `eps^2 = 0`. Arithmetic (`+ - * / ^`) and the functions `exp`, `log`,
#' `sqrt`, `sin`, `cos`, `tan`, `sinh`, `cosh`, `tanh`, `log1p`, `expm1`,
#' `abs`, `lgamma` carry the tangent along by the chain rule, so the tangent
#' of `f(dual(x, 1))` is `f'(x)`. Both parts may be numbers or femtograd
#' values: with values, the tangent is a recorded graph, and [backward()] on
#' it yields second derivatives (forward-over-reverse, the method [hessian()]
#' runs in Rust).
#'
#' @param primal,tangent Numbers or femtograd values of the same shape (or
#'   the tangent a scalar).
#' @param x A dual number.
#' @return `dual()`: an object of class `femtograd_dual`; `primal()`,
#'   `tangent()`: its parts; `is_dual()`: `TRUE` or `FALSE`.
#' @examples
#' # f(x) = x^3 at 2: f = 8, f' = 12
#' d <- dual(2, 1)^3
#' primal(d); tangent(d)
#'
#' # forward-over-reverse by hand: the Hessian column of x^2 + x*y along x
#' x <- val(3); y <- val(4)
#' out <- dual(x, 1)^2 + dual(x, 1) * dual(y, 0)
#' backward(tangent(out))      # d/d(x, y) of df/dx
#' c(grad(x), grad(y))         # 2, 1: the first column of the Hessian
#' @export
dual <- function(primal, tangent = 0) {
  for (part in list(primal, tangent)) {
    if (!is.numeric(part) && !is_value(part)) {
      stop(sprintf("dual: primal and tangent must be numbers or femtograd values, got class '%s'",
                   paste(class(part), collapse = "/")), call. = FALSE)
    }
  }
  structure(list(primal = primal, tangent = tangent), class = "femtograd_dual")
}

#' @rdname dual
#' @export
primal <- function(x) {
  if (!is_dual(x)) stop("primal: expected a dual number (see ?dual)", call. = FALSE)
  x$primal
}

#' @rdname dual
#' @export
tangent <- function(x) {
  if (!is_dual(x)) stop("tangent: expected a dual number (see ?dual)", call. = FALSE)
  x$tangent
}

#' @rdname dual
#' @export
is_dual <- function(x) inherits(x, "femtograd_dual")

as_dual <- function(x) if (is_dual(x)) x else dual(x, 0)

#' @export
Ops.femtograd_dual <- function(e1, e2) {
  if (missing(e2)) {
    if (.Generic == "-") return(dual(-e1$primal, -e1$tangent))
    if (.Generic == "+") return(e1)
  }
  if (.Generic %in% c("==", "!=", "<", "<=", ">=", ">")) {
    return(get(.Generic, envir = baseenv())(primal(as_dual(e1)), primal(as_dual(e2))))
  }
  a <- as_dual(e1); b <- as_dual(e2)
  switch(.Generic,
    "+" = dual(a$primal + b$primal, a$tangent + b$tangent),
    "-" = dual(a$primal - b$primal, a$tangent - b$tangent),
    "*" = dual(a$primal * b$primal, a$tangent * b$primal + a$primal * b$tangent),
    "/" = dual(a$primal / b$primal, (a$tangent * b$primal - a$primal * b$tangent) / b$primal^2),
    "^" = dual_power(a, b, constant_exponent = !is_dual(e2)),
    stop(sprintf("%s: not supported for dual numbers", .Generic), call. = FALSE)
  )
}

# a^b: with a constant exponent, d = b a^(b-1) da (defined for a <= 0 too);
# otherwise a^b (db log a + b da / a). Where b is 0 the coefficient is 0 and
# a^(b-1) (infinite at a = 0) is replaced by a^1, so x^0 has derivative 0
# at 0 rather than 0 * Inf = NaN.
dual_power <- function(a, b, constant_exponent) {
  value <- a$primal^b$primal
  if (constant_exponent) {
    lowered <- if (is_value(b$primal)) b$primal - 1 else ifelse(b$primal == 0, 1, b$primal - 1)
    return(dual(value, b$primal * a$primal^lowered * a$tangent))
  }
  dual(value, value * (b$tangent * log(a$primal) + b$primal * a$tangent / a$primal))
}

# Each function's derivative, written with operations that also work on
# femtograd values so duals of values differentiate a second time.
dual_derivatives <- list(
  exp = function(p) exp(p),
  log = function(p) 1 / p,
  sqrt = function(p) 0.5 / sqrt(p),
  sin = function(p) cos(p),
  cos = function(p) -sin(p),
  tan = function(p) 1 / cos(p)^2,
  sinh = function(p) cosh(p),
  cosh = function(p) sinh(p),
  tanh = function(p) 1 - tanh(p)^2,
  log1p = function(p) 1 / (1 + p),
  expm1 = function(p) exp(p),
  # sign(p), 0 at the kink as R's sign(0) (comparisons work on values too)
  abs = function(p) (p > 0) - (p < 0),
  lgamma = function(p) digamma(p)
)

#' @export
Math.femtograd_dual <- function(x, ...) {
  d <- dual_derivatives[[.Generic]]
  if (is.null(d)) {
    stop(sprintf("%s: not supported for dual numbers (supported: %s)", .Generic,
                 paste(names(dual_derivatives), collapse = ", ")), call. = FALSE)
  }
  f <- get(.Generic, envir = baseenv())
  out <- dual(f(x$primal), d(x$primal) * x$tangent)
  base <- list(...)$base
  if (.Generic == "log" && !is.null(base)) out <- out / log(base)
  out
}

#' @export
Summary.femtograd_dual <- function(..., na.rm = FALSE) {
  if (.Generic != "sum") stop(sprintf("%s: not supported for dual numbers (supported: sum)", .Generic), call. = FALSE)
  parts <- lapply(list(...), as_dual)
  Reduce(`+`, lapply(parts, function(d) dual(sum(d$primal), sum(d$tangent))))
}

#' @export
format.femtograd_dual <- function(x, ...) {
  show <- function(part) if (is_value(part)) paste(format(value_of(part), ...), collapse = " ") else paste(format(part, ...), collapse = " ")
  sprintf("<dual: primal %s, tangent %s>", show(x$primal), show(x$tangent))
}

#' @export
print.femtograd_dual <- function(x, ...) {
  cat(format(x, ...), "\n", sep = "")
  invisible(x)
}
