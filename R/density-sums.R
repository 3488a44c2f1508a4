# stats' densities over plain data as the engine's density nodes.
#
# A log-likelihood is most often a sum of log-densities over data, or some
# other use of each observation's log-density (a mixture, a zero-inflated
# count, a censored subset). Written as R formulas on values, a
# log-density is a handful of elementwise operations per observation, each
# a node and a sweep over n for the value, the gradient and the Hessian.
# The loglik_* kernels know each density's first and second partials, so:
#
# * the log-densities are one node (the kernel's "pointwise" form): one
#   pass over the observations per sweep;
# * their sum, sum(d<dist>(x, ..., log = TRUE)), is the kernel itself (with
#   shared parameters, computed from sums of the data that never change):
#   the log-densities' handle carries how to record it, and sum() of that
#   very handle (nothing done to it in between) records it instead of
#   summing. The log-densities are then not under the model's output, and
#   a replay never evaluates them again. Nor does the recording: the
#   engine computes a density node's numbers only when something reads
#   them, and the kernel shares the node's checked data, so the sum costs
#   what loglik_*() costs.
#
# The sum is recorded "uncounted": weights never reach it, as they never
# reach the sum it replaces (a bootstrap that weighted the d-function's
# observations but not the rest of a hand-written model, a tobit's
# censored part say, would resample it wrongly; the bootstrap refuses such
# models). Like that sum (see "Observations" in ?fit), it covers its
# observations for nobs() and the sandwich's scores.

# The density (or its log) of kernel `name` at `params` for data `x`, as
# one node where the shapes allow it (plain data, one value per element,
# parameters of length one or n) and the kernel accepts the data; else
# `formula()`, the log-density written with the engine's operations.
# `size` is the binomial's (plain numbers).
density_node <- function(log, name, params, x, formula, size = NULL) {
  log_density <- if (density_kernels$enabled && fits_kernel(x, params, size)) {
    if (!is.null(size)) size <- rep_len(as.double(size), length(x))
    # data the kernel refuses (a count that is not an integer, a value
    # outside the support) keep the formula and what it gives there
    tryCatch(kernel(name, params, x, size, form = "pointwise"), error = function(e) NULL)
  }
  if (is.null(log_density)) return(density_or_log(formula(), log))
  if (!isTRUE(log)) return(exp(log_density))
  attr(log_density, "femtograd_sum") <- function() sum_as_kernel(log_density)
  log_density
}

# The kernel on the same inputs and the same (already checked) data as the
# log-densities' node; their numbers are never computed unless something
# else reads them.
sum_as_kernel <- function(log_density) rust(fg_sum_as_kernel(log_density))

# Whether densities may be recorded as kernel nodes. A random-effects fit
# records its joint density with the formulas (R/laplace.R): its third and
# fourth derivatives come from directional derivatives recorded as
# operations, which the kernels do not have. loglik_*() calls then record
# their formulas too (R/kernel-formulas.R).
density_kernels <- new.env(parent = emptyenv())
density_kernels$enabled <- TRUE

without_density_kernels <- function(code) {
  previous <- density_kernels$enabled
  density_kernels$enabled <- FALSE
  on.exit(density_kernels$enabled <- previous, add = TRUE)
  code
}

fits_kernel <- function(x, params, size) {
  n <- length(x)
  plain_data <- function(d) is.numeric(d) && !is.object(d) && is.null(dim(d)) && !anyNA(d)
  # x's NAs are the kernel's to refuse (it checks every observation anyway)
  n > 0L && is.numeric(x) && !is.object(x) && is.null(dim(x)) &&
    all(vapply(params, function(p) (is_value(p) || plain_data(p)) && is.null(dim(p)) &&
                 length(p) %in% c(1L, n), logical(1))) &&
    (is.null(size) || (plain_data(size) && length(size) %in% c(1L, n)))
}

# The kernel standing in for sum(x), or NULL when x carries none.
kernel_sum <- function(args) {
  if (length(args) != 1L) return(NULL)
  recipe <- attr(args[[1]], "femtograd_sum", exact = TRUE)
  if (is.null(recipe)) NULL else recipe()
}
