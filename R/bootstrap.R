# The nonparametric bootstrap: refit the model to resampled observations,
# given to the kernels as multinomial counts (see with_kernel_weights()).

#' Bootstrap a fitted model
#'
#' `bootstrap()` resamples the observations the log-likelihood kernels
#' (`loglik_normal()`, `loglik_logistic()`, ...) of `fit` sum over, refits
#' the model to each resample, and collects the estimates. A resample is
#' drawn as multinomial counts, `w <- rmultinom(1, n, rep(1/n, n))`
#' (observation i appears `w[i]` times), which the kernels use as weights:
#' the refit maximises \eqn{\sum_i w_i \log f(x_i; \theta)}, exactly the
#' log-likelihood of the resampled data, without copying any data. Each
#' refit starts from the estimate of `fit`, so it takes few iterations.
#' Draws come from R's random number generator: `set.seed()` makes the
#' result reproducible.
#'
#' All the kernels the log-likelihood uses must see the same `n`
#' observations (one row of data each); they are resampled together (for
#' kernels tagged with the same [observation_ids()], each id's parts stay
#' together). A log-likelihood with terms the weights cannot reach (a
#' `sum(d...(log = TRUE))` or another sum over data written in R, such as
#' the censored part of a survival model, next to a kernel) is refused,
#' since those observations would be in every resample. For a
#' fit of a formula (`fit(y ~ dpois(...), data = )`) the observations are
#' the rows of `data`, each row's log-density weighted by its count. For a
#' fit over data shards (`fit(shards = )`), each shard's observations are
#' resampled within it (a stratified bootstrap: every resample keeps the
#' shards' sizes); the draws are made on the driver, so a cluster gives
#' the same replicates as the same fit in one process.
#' Terms written with plain operations (a penalty, a prior) are kept as
#' they are, so a log-likelihood written without kernels is not resampled.
#' Fixed parameters are not estimated and are left out. A refit that fails
#' or does not converge gives a row of `NA`s, and is counted in `failed`
#' (with a warning).
#'
#' With `progress = TRUE` a progress bar is shown when the first few
#' replicates suggest the whole run takes more than about 2 seconds.
#'
#' Intervals: `confint(type = "percentile")` takes the `(1 - level)/2` and
#' `(1 + level)/2` quantiles of the bootstrap estimates;
#' `type = "basic"` reflects them about the estimate,
#' \eqn{(2\hat\theta - q_{1-\alpha/2}, 2\hat\theta - q_{\alpha/2})}. Quantiles
#' are `quantile(type = 6)`, which places the k-th smallest of R estimates
#' at probability k / (R + 1): with R = 999 the 95% limits are the 25th and
#' 975th ordered estimates.
#'
#' @param fit A `femtofit` from [fit()].
#' @param R Number of bootstrap replicates.
#' @param type `"nonparametric"` (the only type for now): resampling of
#'   observations.
#' @param progress Show a progress bar for long runs.
#' @param object,x A `femtoboot`.
#' @param parm Parameters (names or indices) for `confint`; all by default.
#' @param level Confidence level.
#' @param digits Significant digits to print.
#' @param ... Unused.
#' @return `bootstrap()`: an object of class `femtoboot`, a list with `t`,
#'   the R x p matrix of bootstrap estimates (one column per free
#'   parameter; `NA` rows for failed refits), `t0`, the estimates of `fit`,
#'   `R`, `failed` (the number of failed refits), `n` (observations
#'   resampled), `type` and `call`. `confint()`: a matrix of lower and upper
#'   limits; `se()`: the standard deviations of the bootstrap estimates;
#'   `vcov()`: their covariance matrix (failed refits left out).
#' @seealso [vcov.femtofit()] for sandwich standard errors, the other
#'   covariance that is robust to misspecification.
#' @examples
#' set.seed(1)
#' x <- rexp(100, rate = 2)
#' res <- fit(function(rate) loglik_exponential(rate, x), params = c(rate = 1))
#' boot <- bootstrap(res, R = 50)
#' boot
#' se(boot)
#' confint(boot)
#' confint(boot, type = "basic")
#' @export
bootstrap <- function(fit, R = 999, type = "nonparametric", progress = interactive()) {
  call <- match.call()
  if (!inherits(fit, "femtofit")) stop("bootstrap: fit must be a femtofit returned by fit()", call. = FALSE)
  if (!is.numeric(R) || length(R) != 1L || is.na(R) || R < 1 || R != round(R)) {
    stop("bootstrap: R must be a positive whole number of replicates", call. = FALSE)
  }
  if (!identical(type, "nonparametric")) {
    stop(sprintf("bootstrap: type must be \"nonparametric\", got %s", deparse(type)), call. = FALSE)
  }
  if (!is.logical(progress) || length(progress) != 1L || is.na(progress)) {
    stop("bootstrap: progress must be TRUE or FALSE", call. = FALSE)
  }
  if (is_laplace(fit$spec)) {
    stop("bootstrap: resampling observations is not available for fits with random effects yet", call. = FALSE)
  }
  n <- resampled_observations(fit)
  attr(n, "apart") <- NULL
  t0 <- stats::coef(fit)[fit$free]
  estimates <- matrix(NA_real_, R, length(t0), dimnames = list(NULL, names(t0)))
  failures <- character(0)
  bar <- NULL
  on.exit(if (!is.null(bar)) close(bar), add = TRUE)
  started <- proc.time()[["elapsed"]]
  decided <- FALSE
  for (r in seq_len(R)) {
    w <- resample_counts(n)   # drawn as before for an unsharded fit, within shards for a sharded one
    one <- bootstrap_refit(fit, w)
    if (is.character(one)) failures <- c(failures, one) else estimates[r, ] <- one
    if (!decided) {
      # A few replicates tell how long the run takes; a bar only if it is long.
      elapsed <- proc.time()[["elapsed"]] - started
      if (r >= 3L || elapsed > 0.5) {
        decided <- TRUE
        if (progress && r < R && elapsed / r * R > 2) {
          bar <- utils::txtProgressBar(min = 0, max = R, initial = r, style = 3)
        }
      }
    } else if (!is.null(bar)) {
      utils::setTxtProgressBar(bar, r)
    }
  }
  if (length(failures)) {
    warning(sprintf("bootstrap: %d of %d refits failed; their rows are NA (first failure: %s)",
                    length(failures), R, failures[1]), call. = FALSE)
  }
  structure(list(t = estimates, t0 = t0, R = R, failed = length(failures), n = sum(base::unlist(n)), type = type, call = call),
            class = "femtoboot")
}

# One resample as counts: n observations drawn with replacement from n. For
# a sharded fit `n` holds each shard's number of observations and the
# resample is drawn within each shard (a list of counts, one per shard).
resample_counts <- function(n) {
  if (is.list(n)) return(lapply(n, resample_counts))
  as.vector(stats::rmultinom(1L, n, rep(1 / n, n)))
}

# The number of observations the kernels of `fit` see, which must be the
# same for all of them: the weights of a resample go to every kernel. For a
# sharded fit, a list of the numbers in each shard.
# (`caller` and `what` word the errors: the bootstrap resamples the
# observations, fit()'s weights apply to them.)
resampled_observations <- function(fit, caller = "bootstrap", what = "resampling needs") {
  if (is_sharded(fit$spec)) return(as.list(sharded_observations(fit)))
  recorded <- record_loglik(fit$spec, working_start(fit$spec, stats::coef(fit)[fit$free]))
  if (inherits(recorded, "condition")) {
    stop(sprintf("%s: the log-likelihood function failed at the estimate: %s", caller,
                 conditionMessage(recorded)), call. = FALSE)
  }
  counts <- rust(fg_kernel_observations(recorded$output))
  if (length(counts) == 0L) {
    # a formula's log-likelihood: its rows are the observations
    rows <- per_observation(fit$spec, working_start(fit$spec, stats::coef(fit)[fit$free]))
    if (!is.null(rows)) return(length(rows$output))
    stop(sprintf(paste("%s: the log-likelihood uses no loglik_* kernels, and %s their observations",
                       "(sums of d-functions written in R are not weighted: use a loglik_* kernel or the formula interface)"),
                 caller, what), call. = FALSE)
  }
  if (length(unique(counts)) > 1L) {
    stop(sprintf(paste("%s: the kernels under the log-likelihood see different numbers of observations",
                       "(%s); %s every kernel to see the same observations"), caller,
                 paste(sprintf("%s: %d", names(counts), as.integer(counts)), collapse = ", "), what), call. = FALSE)
  }
  if (counts[[1]] == 0) stop(sprintf("%s: the kernels have no observations", caller), call. = FALSE)
  # Terms the weights do not reach (a sum of a d-function, a censored part
  # written as a sum over data) would keep all their observations in every
  # resample. The kernels cover sum(counts) observations (each its own) or
  # counts[[1]] (sharing them through observation_ids()); more is such terms.
  covered <- rust(fg_observation_summary(recorded$output))$observations
  if (!is.na(covered) && !covered %in% c(sum(counts), counts[[1]])) {
    stop(sprintf(paste("%s: the log-likelihood covers %d observations but its loglik_* kernels only %d;",
                       "%s every term to be a loglik_* kernel (sums over data written in R are not weighted)"),
                 caller, as.integer(covered), as.integer(sum(counts)), what), call. = FALSE)
  }
  # how many kernels cover observations of their own (1: one kernel, or
  # kernels sharing theirs through observation_ids())
  structure(as.integer(counts[[1]]), apart = if (is.na(covered)) 1L else as.integer(covered %/% counts[[1]]))
}

# One replicate: the estimates of the free parameters refitted with
# observation weights `w`, warm-started from the estimates of `fit`; or,
# if the refit fails, why (a string).
bootstrap_refit <- function(fit, w) {
  res <- tryCatch(
    # a resample of a weighted fit keeps its case weights
    withCallingHandlers(refit(fit, weights = resample_weights(w, fit$spec$weights)),
                        warning = function(cond) invokeRestart("muffleWarning")),
    error = function(e) conditionMessage(e))
  if (is.character(res)) return(res)
  if (!res$converged) return(sprintf("did not converge: %s", res$message))
  stats::coef(res)[fit$free]
}

# The weights of a resample `w` (counts) of a fit with case weights
# `weights` (NULL: none): their products, shard by shard for a sharded fit.
resample_weights <- function(w, weights) {
  if (is.null(weights)) return(w)
  if (is.list(w)) return(Map(`*`, w, weights))
  w * weights
}

#' @rdname bootstrap
#' @export
print.femtoboot <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  cat(sprintf("Nonparametric bootstrap of a femtograd fit: %d resamples of %d observations", x$R, x$n))
  if (x$failed > 0) cat(sprintf(" (%d failed)", x$failed))
  cat("\n\n")
  table <- cbind(original = x$t0, bias = colMeans(x$t, na.rm = TRUE) - x$t0, `std. error` = se(x))
  print(table, digits = digits)
  invisible(x)
}

#' @rdname bootstrap
#' @export
confint.femtoboot <- function(object, parm, level = 0.95, type = c("percentile", "basic"), ...) {
  type <- match.arg(type)
  check_level(level, "confint")
  parm <- resolve_parm(if (missing(parm)) NULL else parm, colnames(object$t), "confint")
  alpha <- (1 - level) / 2
  q <- vapply(parm, function(p) stats::quantile(object$t[, p], c(alpha, 1 - alpha), type = 6, na.rm = TRUE,
                                                names = FALSE), numeric(2))
  ci <- switch(type,
               percentile = t(q),
               basic = cbind(2 * object$t0[parm] - q[2, ], 2 * object$t0[parm] - q[1, ]))
  dimnames(ci) <- list(parm, interval_labels(level))
  ci
}

#' @rdname bootstrap
#' @export
se.femtoboot <- function(object, ...) apply(object$t, 2L, stats::sd, na.rm = TRUE)

#' @rdname bootstrap
#' @export
vcov.femtoboot <- function(object, ...) stats::cov(object$t, use = "complete.obs")
