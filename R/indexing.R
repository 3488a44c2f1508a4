# Indexing, assignment and reshaping of values. Every one is a gather (the
# numbers of a value at some positions, as a vector or a matrix) or a
# concatenation followed by a gather, so the engine needs two operations
# for all of them. The positions come from R's own function applied to the
# positions 1..n of the value (`index_of()`): x[i, j] of a value picks what
# m[i, j] of the index matrix picks, with every rule of R's indexing
# (negative, logical, matrix subscripts, drop) for free.

#' Indexing, assignment and reshaping of values
#'
#' Values are indexed as R indexes numbers: `x[i]`, `m[i, j]`, `m[i, ]`,
#' `m[, j]` (positive, negative or logical subscripts, a two-column matrix
#' of positions, `drop`), `x[[i]]`, and assigned into: `x[i] <- value`,
#' `m[i, j] <- value` (`value` a value or numbers, of length one or as many
#' as the positions). `dim(x) <- c(r, c)`, `as.vector()`, `as.list()`,
#' `rep()`, `rev()`, `c()`, `drop()` and `matrix()` also keep the
#' derivatives. A vector value may carry names (from `c(a = x, b = y)` or
#' `names(x) <- ...`); `x["a"]` then picks by name, and `value_of()` and
#' `grad()` return named numbers.
#'
#' Assigning into plain numbers, `y <- numeric(n); y[i] <- value`, works in
#' the functions that [fit()], [hessian()] and friends record (they see a
#' `[<-` that turns `y` into a value first); at the console, start from a
#' value instead (`y <- 0 * x` for a value `x`), as R's own `[<-` does not
#' let numbers hold a value.
#'
#' @param x A femtograd value.
#' @param i,j Subscripts, as for numbers.
#' @param drop As for numbers: a matrix indexed down to one row or column
#'   becomes a vector.
#' @param value What to assign: a value or numbers. For `dim<-`, the new
#'   extents (or `NULL` for a vector).
#' @param mode For `as.vector()`: `"any"`, `"numeric"`, `"double"` or
#'   `"list"`.
#' @param ... Further subscripts (an error) or arguments of `rep()`.
#' @return A femtograd value (`as.list()`: a list of scalar values).
#' @examples
#' m <- val(matrix(1:6, 2))
#' m[2, ]
#' m[, -1]
#' y <- 0 * val(c(1, 2, 3))
#' y[2] <- m[1, 3]
#' s <- sum(y * c(10, 20, 30))
#' backward(s)
#' grad(m)
#' @name value-indexing
NULL

# Positions 1..n of x, shaped (and named) as x is.
index_of <- function(x) {
  d <- dim(x)
  index <- seq_len(length(x))
  if (!is.null(d)) dim(index) <- d else names(index) <- value_names(x)
  index
}

# x at 1-based `positions`, shaped and named as `positions` is (a matrix of
# positions gives a matrix).
gather_value <- function(x, positions) {
  d <- dim(positions)
  if (length(d) > 2L) stop("[: arrays of more than two dimensions are not supported for values", call. = FALSE)
  out <- wrap_node(fg_gather(x, as.integer(positions), if (is.null(d)) NULL else as.integer(d)))
  if (is.null(d)) set_value_names(out, names(positions)) else out
}

# Names on a handle just made (never on one the caller holds: handles are
# shared, not copied, by R).
set_value_names <- function(fresh, nm) {
  if (!is.null(nm) && !all(nm == "")) attr(fresh, "femtograd_names") <- nm
  fresh
}

# The numbers of `parts` (values or numbers) one after another, with extents `dim`.
concat_values <- function(parts, dim, caller = "c") {
  parts <- lapply(parts, function(p) if (is_value(p)) p else as_operand(as_doubles(p), caller))
  parts <- parts[lengths(parts) > 0L | vapply(parts, is_value, logical(1))]
  wrap_node(fg_concat(parts, as.integer(dim)))
}

# R's subscripting of the positions, with an error that speaks of values.
subscripted_positions <- function(index, subscript) {
  positions <- tryCatch(subscript(index), error = function(e) {
    stop(sprintf("[: %s (subscripting a value of %s)", conditionMessage(e), shape_label(index)), call. = FALSE)
  })
  if (!is.numeric(positions) || anyNA(positions)) {
    stop(sprintf("[: subscript out of range for a value of %s", shape_label(index)), call. = FALSE)
  }
  positions
}

shape_label <- function(index) {
  d <- dim(index)
  if (is.null(d)) sprintf("length %d", length(index)) else sprintf("%d x %d", d[1], d[2])
}

#' @rdname value-indexing
#' @export
`[.femtograd_value` <- function(x, i, j, ..., drop = TRUE) {
  if (...length() > 0L) stop("[: values have at most two subscripts, m[i, j]", call. = FALSE)
  index <- index_of(x)
  # x[i, ] has j missing but counts in nargs() (as in [.data.frame).
  two <- nargs() - as.integer(!missing(drop)) > 2L
  if (two && is.null(dim(index))) {
    stop(sprintf("[: a vector value (length %d) takes one subscript, x[i]", length(index)), call. = FALSE)
  }
  positions <- if (two) {
    subscripted_positions(index, function(ix) ix[i, j, drop = drop])
  } else if (missing(i)) {
    index
  } else {
    subscripted_positions(index, function(ix) ix[i])
  }
  gather_value(x, positions)
}

#' @rdname value-indexing
#' @export
`[[.femtograd_value` <- function(x, i, ...) {
  if (...length() > 0L || length(i) != 1L) stop("[[: a value takes one position, x[[i]]", call. = FALSE)
  x[i]
}

#' @rdname value-indexing
#' @export
`[<-.femtograd_value` <- function(x, i, j, ..., value) {
  if (...length() > 0L) stop("[<-: values have at most two subscripts, m[i, j] <- value", call. = FALSE)
  index <- index_of(x)
  two <- nargs() > 3L
  if (two && is.null(dim(index))) {
    stop(sprintf("[<-: a vector value (length %d) takes one subscript, x[i] <- value", length(index)), call. = FALSE)
  }
  targets <- if (two) {
    subscripted_positions(index, function(ix) ix[i, j])
  } else if (missing(i)) {
    index
  } else {
    subscripted_positions(index, function(ix) ix[i])
  }
  n <- length(index)
  k <- length(value)
  if (k != 1L && k != length(targets)) {
    stop(sprintf("[<-: %d positions, but the replacement has length %d", length(targets), k), call. = FALSE)
  }
  # Positions into c(x, value): x's own, except the targets, which take value's.
  positions <- index
  positions[targets] <- n + rep_len(seq_len(k), length(targets))
  gather_value(concat_values(list(x, value), n + k, "[<-"), positions)
}

#' @rdname value-indexing
#' @export
`[[<-.femtograd_value` <- function(x, i, value) {
  if (length(i) != 1L || length(value) != 1L) stop("[[<-: a value takes one position and one number", call. = FALSE)
  x[i] <- value
  x
}

#' @rdname value-indexing
#' @export
`dim<-.femtograd_value` <- function(x, value) {
  n <- length(x)
  if (!is.null(value) && (length(value) > 2L || prod(value) != n)) {
    stop(sprintf("dim<-: a value of length %d cannot take extents %s", n, paste(value, collapse = " x ")),
         call. = FALSE)
  }
  index <- seq_len(n)
  if (!is.null(value)) dim(index) <- value
  gather_value(x, index)
}

#' @rdname value-indexing
#' @export
as.vector.femtograd_value <- function(x, mode = "any") {
  if (identical(mode, "list")) return(as.list(x))
  if (!mode %in% c("any", "numeric", "double")) {
    stop(sprintf("as.vector: a value cannot become mode '%s'; use value_of() for its numbers", mode), call. = FALSE)
  }
  if (is.null(dim(x))) x else gather_value(x, seq_len(length(x)))
}

#' @rdname value-indexing
#' @export
as.list.femtograd_value <- function(x, ...) lapply(seq_len(length(x)), function(i) gather_value(x, i))

#' @rdname value-indexing
#' @export
rep.femtograd_value <- function(x, ...) gather_value(x, rep(seq_len(length(x)), ...))

#' @rdname value-indexing
#' @export
rev.femtograd_value <- function(x) gather_value(x, rev(seq_len(length(x))))

#' @rdname value-indexing
#' @param recursive For `c()`, ignored (values hold numbers only); for
#'   `unlist()`, as in base R.
#' @param use.names As for numbers: `c(a = x, b = 2)` names its elements.
#' @export
c.femtograd_value <- function(..., recursive = FALSE, use.names = TRUE) c_values(list(...), use.names)

#' @rdname value-indexing
#' @details `unlist()` of a list holding values, such as
#'   `unlist(lapply(1:3, function(i) x[i]^i))`, is `c()` of its elements
#'   (lists within it flattened first). base's `unlist()` dispatches on the
#'   class of the list, which a plain list lacks, so femtograd's takes its
#'   place; any list without values goes to base's `unlist()` unchanged.
#' @export
# (femtograd's own code calls base::unlist(): in its namespace this one would
# be found first, and the check for values costs time on every call.)
unlist <- function(x, recursive = TRUE, use.names = TRUE) {
  if (!is.list(x) || is.object(x) || !holds_value(x)) return(base::unlist(x, recursive, use.names))
  flat <- lapply(x, function(e) if (is.list(e) && !is.object(e) && recursive) unlist(e, TRUE, use.names) else e)
  c_values(flat, use.names)
}

# Whether a plain list has a value among its elements (or its lists').
holds_value <- function(x) {
  any(vapply(x, function(e) is_value(e) || (is.list(e) && !is.object(e) && holds_value(e)), logical(1)))
}

# c() of values and numbers (NULLs dropped); lists are refused.
c_values <- function(parts, use.names = TRUE) {
  parts <- parts[!vapply(parts, is.null, logical(1))]
  bad <- !vapply(parts, function(p) is_value(p) || is.numeric(p) || is.logical(p), logical(1))
  if (any(bad)) {
    stop(sprintf("c: values combine with numbers only, got an object of class '%s'",
                 class(parts[[which(bad)[1]]])[1]), call. = FALSE)
  }
  out <- concat_values(parts, sum(vapply(parts, length, integer(1))))
  if (use.names) set_value_names(out, combined_names(parts)) else out
}

# The names c() gives: an argument's name, with a sequence number when the
# argument has several elements and no names of its own (as base R does).
combined_names <- function(parts) {
  outer <- names(parts) %||% rep("", length(parts))
  nm <- base::unlist(Map(function(part, tag) {
    own <- if (is_value(part)) value_names(part) else if (is.null(dim(part))) names(part)
    n <- length(part)
    if (!is.null(own)) {
      if (nzchar(tag)) paste(tag, own, sep = ".") else own
    } else if (nzchar(tag)) {
      if (n == 1L) tag else paste0(tag, seq_len(n))
    } else {
      rep("", n)
    }
  }, parts, outer), use.names = FALSE)
  if (all(nm == "")) NULL else nm
}

#' @rdname value-indexing
#' @export
names.femtograd_value <- function(x) value_names(x)

#' @rdname value-indexing
#' @export
`names<-.femtograd_value` <- function(x, value) {
  if (!is.null(dim(x))) stop("names<-: only a vector value takes names", call. = FALSE)
  if (!is.null(value) && length(value) != length(x)) {
    stop(sprintf("names<-: %d names for a value of length %d", length(value), length(x)), call. = FALSE)
  }
  # a fresh handle, so that other holders of x keep its names
  positions <- seq_len(length(x))
  if (!is.null(value)) names(positions) <- as.character(value)
  gather_value(x, positions)
}
