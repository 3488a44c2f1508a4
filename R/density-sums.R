# sum(d<dist>(x, ..., log = TRUE)) as one fused kernel node.
#
# A log-likelihood is most often written as the sum of a log-density over
# data. Recorded as written, that is a handful of elementwise operations
# per observation, and its value, gradient and Hessian cost as many sweeps
# over n; the loglik_* kernels compute all three in one pass (with scalar
# parameters, from sums over the data that never change). So a d-function
# whose data are plain numbers returns its log-densities as usual, and its
# handle also carries how to record their sum as the matching kernel;
# sum() of that very handle (nothing done to it in between) records the
# kernel instead of summing. The elementwise nodes are then not under the
# model's output, and a replay never evaluates them again.
#
# The kernel is recorded "uncounted": it reports no observations, so
# nobs(), the bootstrap and the sandwich treat it exactly as the sum they
# replace (a bootstrap that weighted the d-function's observations but not
# the rest of a hand-written model would resample it wrongly).

# `log_density` with the recipe for its sum attached, when the shapes allow:
# plain data `x` with one value per element and parameters of length one or
# n. `size` is the binomial's (plain numbers).
with_kernel_sum <- function(log_density, name, params, x, size = NULL) {
  n <- length(x)
  plain_data <- function(d) is.numeric(d) && !is.object(d) && is.null(dim(d)) && !anyNA(d)
  fits <- n > 0L && plain_data(x) && length(log_density) == n && is.null(dim(log_density)) &&
    all(vapply(params, function(p) (is_value(p) || plain_data(p)) && length(p) %in% c(1L, n) &&
                 is.null(dim(p)), logical(1))) &&
    (is.null(size) || (plain_data(size) && length(size) %in% c(1L, n)))
  if (!fits) return(log_density)
  if (!is.null(size)) size <- rep_len(as.double(size), n)
  attr(log_density, "femtograd_sum") <- function() {
    # data the kernel refuses (a count that is not an integer, a value
    # outside the support) keep the elementwise sum and what it gives
    tryCatch(kernel(name, params, x, size, counted = FALSE), error = function(e) NULL)
  }
  log_density
}

# The kernel standing in for sum(x), or NULL when x carries none.
kernel_sum <- function(args) {
  if (length(args) != 1L) return(NULL)
  recipe <- attr(args[[1]], "femtograd_sum", exact = TRUE)
  if (is.null(recipe)) NULL else recipe()
}
