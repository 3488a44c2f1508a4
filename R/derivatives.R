# Whole-function derivatives: call f once to record the graph, then let the
# engine compute gradient, Hessian, Hessian-vector product or Jacobian.

#' Gradient, Hessian, Hessian-vector product and Jacobian of an R function
#'
#' Each function calls `f(params)` **once** to record the computation, then
#' differentiates the recorded graph in Rust: `gradient()` by one reverse
#' sweep; `hessian()` by forward-over-reverse (one tangent sweep and one
#' second-order adjoint sweep, batched over all parameter directions);
#' `hessian_vector()` by the same sweeps along one direction, without forming
#' the Hessian; `jacobian()` of a vector-valued `f` by one forward sweep. No
#' finite differences are involved: results are exact to rounding.
#'
#' `f` receives copies of the values in `params` (the same numbers), so that
#' values you keep and pass again do not collect the nodes of every call.
#' If `f` also uses the originals through a closure, it is called a second
#' time with `params` themselves.
#'
#' Parameters may be scalars, vectors or matrices; derivatives are over all
#' their elements in order, each parameter's elements in R's column-major
#' order. A named `params` list names the rows and columns (`beta1`,
#' `beta2`, ... for a vector `beta`).
#'
#' If `f` returns a plain number (it does not depend on the parameters), the
#' derivatives are zero: they are returned as zeros with a warning.
#'
#' @param f A function taking the list `params` and returning a scalar value
#'   (a vector or matrix value for `jacobian()`).
#' @param params A list of femtograd values (see [val()]), possibly named.
#' @param v A numeric direction with one entry per parameter element.
#' @return `gradient()`: a list with `value` (numeric) and `gradient` (named
#'   numeric). `hessian()`: a symmetric numeric matrix. `hessian_vector()`: a
#'   numeric vector. `jacobian()`: an m x p matrix, m the length of `f`'s
#'   result.
#' @examples
#' f <- function(params) { x <- params[[1]]; y <- params[[2]]; x^2 + x * y }
#' hessian(f, list(val(3), val(4)))
#' gradient(f, list(x = val(3), y = val(4)))
#' hessian_vector(f, list(val(3), val(4)), c(1, 0))
#' jacobian(function(p) exp(p$b), list(b = val(c(0, 1))))
#'
#' # a vector parameter
#' A <- matrix(c(2, 1, 0, 3), 2)
#' hessian(function(p) sum(p$b * (A %*% p$b)), list(b = val(c(1, 1))))
#' @name derivatives
NULL

#' @rdname derivatives
#' @export
gradient <- function(f, params) {
  rec <- record_function(f, params, "gradient")
  labels <- parameter_labels(params)
  if (is.null(rec$output)) {
    return(list(value = rec$constant, gradient = stats::setNames(numeric(parameter_count(params)), labels)))
  }
  res <- rust(fg_gradient(rec$output, rec$params))
  list(value = res$value, gradient = stats::setNames(res$gradient, labels))
}

#' @rdname derivatives
#' @export
hessian <- function(f, params) {
  rec <- record_function(f, params, "hessian")
  labels <- parameter_labels(params)
  p <- parameter_count(params)
  h <- if (is.null(rec$output)) matrix(0, p, p) else rust(fg_hessian(rec$output, rec$params))$hessian
  if (!is.null(labels)) dimnames(h) <- list(labels, labels)
  h
}

#' @rdname derivatives
#' @export
hessian_vector <- function(f, params, v) {
  rec <- record_function(f, params, "hessian_vector")
  labels <- parameter_labels(params)
  p <- parameter_count(params)
  if (!is.numeric(v) || is_value(v) || length(v) != p) {
    stop(sprintf("hessian_vector: v must be numeric of length %d (one entry per parameter element), got %s", p,
                 if (is.numeric(v) && !is_value(v)) sprintf("length %d", length(v))
                 else sprintf("an object of class '%s'", paste(class(v), collapse = "/"))), call. = FALSE)
  }
  hv <- if (is.null(rec$output)) numeric(p) else rust(fg_hessian_vector(rec$output, rec$params, as.double(v)))$hessian_vector
  stats::setNames(hv, labels)
}

#' @rdname derivatives
#' @export
jacobian <- function(f, params) {
  rec <- record_function(f, params, "jacobian", scalar = FALSE)
  labels <- parameter_labels(params)
  j <- if (is.null(rec$output)) {
    matrix(0, length(rec$constant), parameter_count(params))
  } else {
    rust(fg_jacobian(rec$output, rec$params))
  }
  if (!is.null(labels)) colnames(j) <- labels
  j
}

# Calls f once and checks what it returned. A plain numeric result means f
# does not depend on the parameters: `output` is NULL then. f is called on
# copies of the parameters (`params` of the result), so the recording lives
# on a tape of its own: the caller's values, often kept and passed again,
# would otherwise collect the nodes of every call. Only when f reached the
# caller's values some other way (a closure) is it called again on them.
record_function <- function(f, params, caller, scalar = TRUE) {
  if (!is.function(f)) stop(sprintf("%s: f must be a function", caller), call. = FALSE)
  check_params(params, caller)
  own <- fg_fresh_leaves(params)
  names(own) <- names(params)
  f <- with_arithmetic_shortcuts(f)
  out <- f(own)
  if (is_value(out) && fg_depends_on(out, params)) {
    own <- params
    out <- f(own)
  }
  if (is.numeric(out) && !is_value(out)) {
    warning(sprintf("%s: f returned a plain number that does not depend on params; its derivatives are zero",
                    caller), call. = FALSE)
    return(list(output = NULL, constant = out, params = own))
  }
  if (!is_value(out)) {
    stop(sprintf("%s: f must return a femtograd value, got an object of class '%s'",
                 caller, paste(class(out), collapse = "/")), call. = FALSE)
  }
  if (scalar && length(out) != 1L) {
    stop(sprintf("%s: f must return a scalar, got a value of length %d", caller, length(out)), call. = FALSE)
  }
  list(output = out, constant = NULL, params = own)
}

check_params <- function(params, caller) {
  if (!is.list(params) || length(params) == 0L) {
    stop(sprintf("%s: params must be a non-empty list of femtograd values, e.g. list(val(3), val(4))", caller),
         call. = FALSE)
  }
  for (i in seq_along(params)) {
    if (!is_value(params[[i]])) {
      stop(sprintf("%s: params[[%d]] is not a femtograd value (it is of class '%s'); wrap numbers with val()",
                   caller, i, paste(class(params[[i]]), collapse = "/")), call. = FALSE)
    }
  }
  invisible(params)
}

parameter_count <- function(params) sum(vapply(params, length, integer(1)))

# Row/column labels for the flattened parameters: a scalar keeps its name,
# a vector or matrix `b` gives b1, b2, ...; unnamed lists give NULL.
parameter_labels <- function(params) {
  sizes <- vapply(params, length, integer(1))
  nms <- names(params)
  if (is.null(nms)) return(NULL)
  element_labels(nms, sizes)
}

# Labels of the elements of parameters named `nms` with `sizes` elements:
# `mu` for a scalar, `beta1`, `beta2`, ... for a vector or matrix; where
# `element_names` gives a parameter's elements names (fit()'s named start
# vectors), `beta.a`, `beta.b`, as unlist() and bbmle::mle2 name them.
element_labels <- function(nms, sizes, element_names = NULL) {
  base::unlist(Map(function(name, n, elements) {
    if (!is.null(elements)) paste0(name, ".", elements)
    else if (n == 1L) name else paste0(name, seq_len(n))
  }, nms, sizes, element_names %||% rep(list(NULL), length(nms))), use.names = FALSE)
}
