# The directional derivative recorded as a value (internal: groundwork for
# the exact third and fourth derivatives of the Laplace approximation,
# issue 14). D y[v] is recorded with the engine's own operations on y's
# graph, so gradient(), hessian() and directional_derivative() itself
# differentiate it again: its gradient is H v, its Hessian holds third
# derivatives.
#
# y: a value recorded from the leaf values `params` (a list); v: one
# numeric vector of all their elements (as hessian_vector() takes it), or
# a list with one numeric or value per parameter.
directional_derivative <- function(y, params, v) {
  caller <- "directional_derivative"
  if (!is_value(y)) {
    stop(sprintf("%s: y must be a femtograd value, got an object of class '%s'",
                 caller, paste(class(y), collapse = "/")), call. = FALSE)
  }
  check_params(params, caller)
  sizes <- vapply(params, length, integer(1))
  if (is.numeric(v) && !is_value(v)) {
    if (length(v) != sum(sizes)) {
      stop(sprintf("%s: v must be numeric of length %d (one entry per parameter element), got length %d",
                   caller, sum(sizes), length(v)), call. = FALSE)
    }
    v <- unname(split(as.double(v), factor(rep(seq_along(sizes), sizes), levels = seq_along(sizes))))
  } else if (!is.list(v) || length(v) != length(params)) {
    stop(sprintf("%s: v must be a numeric vector or a list with one direction per parameter (%d)",
                 caller, length(params)), call. = FALSE)
  } else {
    v <- lapply(v, as_operand, caller = caller)
  }
  wrap_node(fg_directional_derivative(y, params, v))
}
