# The rest of base R's vocabulary on values: building matrices, cumulative
# and marginal sums, elementwise and overall extremes, ifelse, outer, diag.
# Rearrangements are gathers (indexing.R); choices between elements
# (pmax, max, ifelse) read which element wins from a comparison of values,
# which a replayed fit re-checks, and then gather the winner.

#' Base R's vocabulary on values
#'
#' These functions of base R keep the derivatives of femtograd values (with
#' plain numbers they are base R's own):
#'
#' * building: `c()`, `cbind()`, `rbind()`, `matrix()`, `diag()` (of a matrix: its diagonal; of a vector:
#'   a diagonal matrix), `outer()`, `drop()`;
#' * sums: `cumsum()`, `cumprod()`, `diff()`, `rowSums()`, `colSums()`,
#'   `rowMeans()`, `colMeans()`, `tcrossprod()`;
#' * choices: `pmin()`, `pmax()`, `max()`, `min()`, `range()`, `cummax()`,
#'   `cummin()`, `ifelse()` (with a plain logical condition), `which.max()`,
#'   `which.min()`. The derivative of a choice is that of the element
#'   chosen (at a tie, the first); a fit that replays its model checks the
#'   choice at every point and records the model again where it changes;
#' * `apply()` over the rows or columns of a matrix value;
#' * `trigamma()` and `psigamma(x, deriv)` for `deriv` up to 3.
#'
#' @param x,y,X,Y,yes,no,data Values or numbers.
#' @param test A plain logical vector (a comparison of values gives one).
#' @param ... Values or numbers (`pmax`, `pmin`, `cbind`, `rbind`), or
#'   further arguments as in base R.
#' @param na.rm,dims,deparse.level As in base R; `na.rm`
#'   must be `FALSE` for values.
#' @param nrow,ncol,byrow,dimnames As in base R (`dimnames` must be `NULL`).
#' @param names As in base R (ignored: values have no names).
#' @param FUN For `outer()`: a function of two values (or its name); for
#'   `apply()`, of a row or column.
#' @param MARGIN 1 (rows) or 2 (columns).
#' @param simplify As in base R.
#' @param deriv For `psigamma()`: 0 to 3.
#' @param lag,differences As in base R's `diff()`.
#' @return A femtograd value (`which.max()`, `which.min()`: an integer).
#' @examples
#' b <- val(c(1, -2))
#' X <- cbind(1, c(0.5, 1.5, 2.5))
#' eta <- drop(X %*% b)
#' s <- sum(pmax(eta, 0)) + max(eta) + sum(cumsum(eta))
#' backward(s)
#' grad(b)
#' diag(val(c(2, 3)))
#' @name base-functions
#' @eval value_method_tags("base-functions")
#' @aliases pmax pmin
NULL

# ---- building --------------------------------------------------------------

value_methods("matrix", "data", topic = "base-functions",
  function(data = NA, nrow = 1, ncol = 1, byrow = FALSE, dimnames = NULL) {
    if (!is.null(dimnames)) stop("matrix: values have no dimnames", call. = FALSE)
    # base::matrix lays out the positions, inferring what is missing.
    layout <- list(seq_len(length(data)), byrow = byrow)
    if (!missing(nrow)) layout$nrow <- nrow
    if (!missing(ncol)) layout$ncol <- ncol
    gather_value(data, do.call(base::matrix, layout))
  })

value_methods("drop", "x", topic = "base-functions", function(x) {
  d <- dim(x)
  if (is.null(d) || all(d != 1L)) return(x)
  gather_value(x, seq_len(length(x)))
})

#' @rdname base-functions
#' @usage NULL
#' @export
cbind.femtograd_value <- function(..., deparse.level = 1) bind_columns(list(...), "cbind")

#' @rdname base-functions
#' @usage NULL
#' @export
rbind.femtograd_value <- function(..., deparse.level = 1) {
  # rbind(a, b) = t(cbind(t(a), t(b))), with a vector a column of cbind.
  parts <- lapply(list(...), function(p) if (is.null(dim(p))) p else t(p))
  t(bind_columns(parts, "rbind"))
}

# Columns side by side: a column-major matrix is its columns in order, so
# cbind is a concatenation. Vectors are columns (one of length one is
# repeated down the rows).
bind_columns <- function(parts, caller) {
  parts <- parts[!vapply(parts, is.null, logical(1))]
  heights <- vapply(parts, function(p) if (is.null(dim(p))) length(p) else dim(p)[1], numeric(1))
  rows <- max(heights)
  widths <- vapply(parts, function(p) if (is.null(dim(p))) 1 else dim(p)[2], numeric(1))
  for (k in seq_along(parts)) {
    if (is.null(dim(parts[[k]])) && heights[k] == 1 && rows > 1) {
      parts[[k]] <- rep(parts[[k]], rows)
    } else if (heights[k] != rows) {
      stop(sprintf("%s: the arguments have %s rows; they must agree (a vector of length one is repeated)",
                   caller, paste(unique(heights), collapse = " and ")), call. = FALSE)
    }
  }
  concat_values(parts, c(rows, sum(widths)), caller)
}

value_methods("diag", "x", topic = "base-functions", function(x = 1, nrow, ncol, names = TRUE) {
  d <- dim(x)
  if (!is.null(d)) {
    if (!missing(nrow) || !missing(ncol)) stop("diag: nrow and ncol apply to a vector, not a matrix", call. = FALSE)
    return(gather_value(x, base::diag(index_of(x))))
  }
  n <- length(x)
  if (n == 1L && missing(nrow)) {
    stop("diag: for a scalar value give the size, diag(x, nrow = n)", call. = FALSE)
  }
  # base::diag lays the positions out; its zeros take the appended zero.
  layout <- base::diag(seq_len(n), if (missing(nrow)) n else nrow, if (missing(ncol)) (if (missing(nrow)) n else nrow) else ncol)
  layout[layout == 0] <- n + 1L
  gather_value(concat_values(list(x, 0), n + 1L, "diag"), layout)
})

value_methods("outer", c("X", "Y"), topic = "base-functions", function(X, Y, FUN = "*", ...) {
  if (!is.null(dim(X)) || !is.null(dim(Y))) stop("outer: values must be vectors", call. = FALSE)
  FUN <- match.fun(FUN)
  nx <- length(X)
  ny <- length(Y)
  spread <- function(v, positions) if (is_value(v)) gather_value(v, positions) else v[positions]
  result <- FUN(spread(X, rep(seq_len(nx), times = ny)), spread(Y, rep(seq_len(ny), each = nx)), ...)
  if (length(result) != nx * ny) stop("outer: FUN must return one number per pair", call. = FALSE)
  dim(result) <- c(nx, ny)
  result
})

# ---- sums ------------------------------------------------------------------

#' @rdname base-functions
#' @usage NULL
#' @export
diff.femtograd_value <- function(x, lag = 1L, differences = 1L, ...) {
  for (k in seq_len(differences)) {
    n <- if (is.null(dim(x))) length(x) else dim(x)[1]
    if (lag >= n) stop(sprintf("diff: lag %d leaves nothing of %d rows", lag, n), call. = FALSE)
    x <- if (is.null(dim(x))) {
      x[(lag + 1L):n] - x[seq_len(n - lag)]
    } else {
      x[(lag + 1L):n, , drop = FALSE] - x[seq_len(n - lag), , drop = FALSE]
    }
  }
  x
}

matrix_of <- function(x, caller) {
  if (length(dim(x)) != 2L) stop(sprintf("%s: expected a matrix value, got a vector", caller), call. = FALSE)
  x
}

value_methods("rowSums", "x", topic = "base-functions", function(x, na.rm = FALSE, dims = 1L) {
  x <- matrix_of(x, "rowSums")
  drop(x %*% rep(1, ncol(x)))
})
value_methods("colSums", "x", topic = "base-functions", function(x, na.rm = FALSE, dims = 1L) {
  x <- matrix_of(x, "colSums")
  drop(crossprod(x, rep(1, nrow(x))))
})
value_methods("rowMeans", "x", topic = "base-functions", function(x, na.rm = FALSE, dims = 1L) {
  rowSums(x) / ncol(x)
})
value_methods("colMeans", "x", topic = "base-functions", function(x, na.rm = FALSE, dims = 1L) {
  colSums(x) / nrow(x)
})

tcrossprod_value <- function(x, y = NULL) matmul_value(x, t(as_node(if (is.null(y)) x else y, "tcrossprod")))

#' @rdname base-functions
#' @usage NULL
#' @export
setMethod("tcrossprod", signature("femtograd_value", "ANY"), function(x, y = NULL, ...) tcrossprod_value(x, y))

#' @rdname base-functions
#' @usage NULL
#' @export
setMethod("tcrossprod", signature("ANY", "femtograd_value"), function(x, y = NULL, ...) tcrossprod_value(x, y))

# cumprod as products of the running prefix (no logarithms, so zeros and
# negative numbers are fine): n scalar nodes and one concatenation.
cumprod_value <- function(x) {
  if (length(x) == 0L) return(x)
  c_values(Reduce(`*`, as.list(x), accumulate = TRUE))
}

# ---- choices ---------------------------------------------------------------

# The position of the largest (or smallest) element, with a guard that
# keeps it the winner when a fit replays the model: the comparison of every
# element with the winner is recorded, and a replay whose comparisons come
# out otherwise records the model again.
winner <- function(x, largest) {
  numbers <- numbers_to_show(x)
  if (anyNA(numbers)) stop(if (largest) "max" else "min", ": NA among the numbers of a value", call. = FALSE)
  k <- if (largest) which.max(numbers) else which.min(numbers)
  best <- gather_value(x, k)
  if (largest) x <= best else x >= best
  k
}

extreme <- function(args, largest) {
  x <- if (length(args) == 1L && is_value(args[[1]])) args[[1]] else c_values(args)
  if (length(x) == 0L) stop(if (largest) "max" else "min", ": no elements", call. = FALSE)
  gather_value(x, winner(x, largest))
}

# Running extremes: a gather at each prefix's winner, guarded like winner().
running_extreme <- function(x, largest) {
  numbers <- numbers_to_show(x)
  picks <- integer(length(numbers))
  best <- 1L
  for (i in seq_along(numbers)) {
    if (if (largest) numbers[i] > numbers[best] else numbers[i] < numbers[best]) best <- i
    picks[i] <- best
  }
  chosen <- gather_value(x, picks)
  if (largest) x <= chosen else x >= chosen
  chosen
}

# Elementwise choice between a and b (values or numbers) where `take_a`
# (a plain logical) is TRUE; the result is as long as take_a.
choose_elements <- function(take_a, a, b, caller) {
  n <- length(take_a)
  if (anyNA(take_a)) stop(sprintf("%s: the condition has NA", caller), call. = FALSE)
  na <- length(a)
  nb <- length(b)
  if (n > 0L && (na == 0L || nb == 0L)) stop(sprintf("%s: an argument has length 0", caller), call. = FALSE)
  positions <- ifelse(take_a, rep_len(seq_len(na), n), na + rep_len(seq_len(nb), n))
  if (!is.null(dim(take_a))) dim(positions) <- dim(take_a)
  gather_value(concat_values(list(a, b), na + nb, caller), positions)
}

value_methods("ifelse", c("yes", "no"), topic = "base-functions", function(test, yes, no) {
  if (is_value(test)) stop("ifelse: the condition must be logical, e.g. a comparison of values", call. = FALSE)
  choose_elements(as.logical(test), yes, no, "ifelse")
})

# pmax and pmin fold their arguments pairwise; each step compares values,
# which a replayed fit re-checks.
parallel_extreme <- function(args, largest, na.rm) {
  caller <- if (largest) "pmax" else "pmin"
  if (!isFALSE(na.rm)) stop(sprintf("%s: na.rm is not supported for values", caller), call. = FALSE)
  Reduce(function(a, b) {
    n <- max(length(a), length(b))
    if (n %% length(a) != 0L || n %% length(b) != 0L) {
      stop(sprintf("%s: lengths %d and %d do not recycle", caller, length(a), length(b)), call. = FALSE)
    }
    take_a <- if (largest) a >= b else a <= b
    result <- choose_elements(take_a, a, b, caller)
    shape <- dim(if (length(a) == n) a else b)
    if (!is.null(shape) && is.null(dim(result))) dim(result) <- shape
    result
  }, args)
}

methods::setClassUnion("femtograd_operand", c("femtograd_value", "numeric", "logical"))
methods::setGeneric("pmax", signature = "...")
methods::setGeneric("pmin", signature = "...")

#' @rdname base-functions
#' @usage NULL
#' @export
setMethod("pmax", "femtograd_operand", function(..., na.rm = FALSE) {
  args <- list(...)
  if (!any(vapply(args, is_value, logical(1)))) return(base::pmax(..., na.rm = na.rm))
  parallel_extreme(args, TRUE, na.rm)
})

#' @rdname base-functions
#' @usage NULL
#' @export
setMethod("pmin", "femtograd_operand", function(..., na.rm = FALSE) {
  args <- list(...)
  if (!any(vapply(args, is_value, logical(1)))) return(base::pmin(..., na.rm = na.rm))
  parallel_extreme(args, FALSE, na.rm)
})

value_methods("which.max", "x", topic = "base-functions", function(x) winner(x, TRUE))
value_methods("which.min", "x", topic = "base-functions", function(x) winner(x, FALSE))

value_methods("psigamma", "x", topic = "base-functions", function(x, deriv = 0L) {
  names <- c("digamma", "trigamma", "tetragamma", "pentagamma")
  if (length(deriv) != 1L || !deriv %in% 0:3) {
    stop("psigamma: for values deriv must be 0, 1, 2 or 3", call. = FALSE)
  }
  math_value(names[deriv + 1L], x)
})

# ---- apply -----------------------------------------------------------------

# apply() over the rows (1) or columns (2) of a matrix value: base's apply
# would reach the numbers through aperm(). Results of length one make a
# vector, results of one common length k a k-row matrix (as base's apply).
value_methods("apply", "X", topic = "base-functions", function(X, MARGIN, FUN, ..., simplify = TRUE) {
  X <- matrix_of(X, "apply")
  if (!identical(as.numeric(MARGIN), 1) && !identical(as.numeric(MARGIN), 2)) {
    stop("apply: for a matrix value MARGIN must be 1 (rows) or 2 (columns)", call. = FALSE)
  }
  FUN <- match.fun(FUN)
  slices <- seq_len(dim(X)[MARGIN])
  results <- lapply(slices, function(k) FUN(if (MARGIN == 1) X[k, ] else X[, k], ...))
  sizes <- vapply(results, length, integer(1))
  if (!isTRUE(simplify) || length(unique(sizes)) != 1L) return(results)
  if (sizes[1] == 1L) c_values(results) else bind_columns(results, "apply")
})

# The pmax and pmin generics above, and unlist() (indexing.R), mask base's
# in name only: on numbers they call base's. library() reports no masking when the attached package holds
# `.conflicts.OK` (?library); a namespace cannot export that name, so
# .onAttach() puts it there. A test checks that nothing else of femtograd's
# masks a function of the packages R attaches by default.
mark_conflicts_ok <- function(pkgname) {
  assign(".conflicts.OK", TRUE, envir = as.environment(paste0("package:", pkgname)))
}
