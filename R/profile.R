# Profile likelihoods: hold one parameter at a time on a grid, re-maximise
# the others (refit(), warm-started from the neighbouring grid point), and
# read confidence intervals off where the profile crosses the chi-square
# cut-off.

#' Profile log-likelihoods of a fitted model
#'
#' For each parameter in `which`, `profile()` holds the parameter fixed at
#' each value of a grid and re-maximises the log-likelihood over the other
#' free parameters by Newton's method. The refits walk outward from the
#' estimate in both directions, each one starting from the solution at the
#' neighbouring grid point, so every refit starts close to its optimum.
#'
#' The profile log-likelihood \eqn{l_p(\theta_j)} and the *signed root
#' deviance* \eqn{z(\theta_j) = \mathrm{sign}(\theta_j - \hat\theta_j)
#' \sqrt{2 (l(\hat\theta) - l_p(\theta_j))}} describe how well the data
#' support each value: where the likelihood is close to quadratic, `z` is a
#' straight line with slope `1 / se`, and the points where \eqn{|z|} reaches
#' `qnorm((1 + level) / 2)` are the likelihood-ratio (profile) confidence
#' limits that `confint(method = "profile")` computes exactly.
#'
#' A model with a single free parameter has nothing to re-maximise: its
#' profile is the log-likelihood itself.
#'
#' @param fitted A `femtofit` from [fit()].
#' @param which Parameters to profile: element labels as in `coef()`
#'   (`"mu"`, `"beta2"`) or their positions in `coef()`. By default every
#'   free parameter.
#' @param grid Values at which to hold the parameter: a numeric vector when
#'   profiling one parameter, or a list of numeric vectors named by
#'   parameter (parameters it does not name get the default grid). The
#'   estimate is always added, so every profile passes through its maximum.
#' @param n Number of points of the default grid.
#' @param width Half-width of the default grid in standard errors: it runs
#'   from `estimate - width * se` to `estimate + width * se`.
#' @param ... Unused.
#' @return An object of class `femtoprofile`: a list with `profiles`, a list
#'   with one data frame per profiled parameter, named by parameter, holding
#'   for each grid point the parameter `value`, the profile log-likelihood
#'   `loglik`, the signed root deviance `z`, whether the refit `converged`,
#'   and the estimates of the other parameters (one column each); and
#'   `estimate` (all estimates of the original fit), `se` (their standard
#'   errors) and `loglik` (the maximised log-likelihood). Grid points where
#'   the log-likelihood could not be evaluated give `NA` rows, with a
#'   warning. Plot it with [plot.femtoprofile()].
#' @seealso [confint.femtofit()] for profile confidence intervals.
#' @examples
#' set.seed(1); x <- rnorm(30, mean = 2, sd = 1.5)
#' res <- fit(function(mu, log_sigma) loglik_normal(mu, exp(log_sigma), x),
#'            params = c(mu = 0, log_sigma = 0))
#' prof <- profile(res, n = 11)
#' prof$profiles$mu
#' plot(prof)
#' @importFrom stats profile
#' @export
profile.femtofit <- function(fitted, which = NULL, grid = NULL, n = 21, width = 4, ...) {
  which <- profile_parameters(fitted, which, "profile")
  if (!is.numeric(n) || length(n) != 1L || is.na(n) || n < 2) {
    stop("profile: n must be a number of grid points, at least 2", call. = FALSE)
  }
  if (!is.numeric(width) || length(width) != 1L || !is.finite(width) || width <= 0) {
    stop("profile: width must be a positive number (of standard errors)", call. = FALSE)
  }
  grids <- profile_grids(fitted, which, grid, n, width)
  profiles <- lapply(which, function(label) profile_walk(fitted, label, grids[[label]]))
  structure(list(profiles = stats::setNames(profiles, which), estimate = stats::coef(fitted),
                 se = se(fitted), loglik = fitted$loglik),
            class = "femtoprofile")
}

# The parameter labels `which` refers to (names or positions in coef());
# all free parameters by default. Fixed parameters have no profile.
profile_parameters <- function(object, which, caller) {
  labels <- names(stats::coef(object))
  if (is.null(which)) return(labels[object$free])
  if (is.numeric(which)) {
    bad <- which[is.na(which) | which < 1 | which > length(labels) | which != round(which)]
    if (length(bad)) {
      stop(sprintf("%s: parameter position(s) %s out of range (the fit has %s)",
                   caller, paste(bad, collapse = ", "), count_of(length(labels), "parameter")), call. = FALSE)
    }
    which <- labels[which]
  }
  if (!is.character(which) || length(which) == 0L) {
    stop(sprintf("%s: which must name parameters (as in coef()) or give their positions", caller), call. = FALSE)
  }
  unknown <- setdiff(which, labels)
  if (length(unknown)) {
    stop(sprintf("%s: unknown parameter(s): %s (parameters: %s)", caller, paste(unknown, collapse = ", "),
                 paste(labels, collapse = ", ")), call. = FALSE)
  }
  held <- which[!object$free[which]]
  if (length(held)) {
    stop(sprintf("%s: parameter(s) %s are fixed in the fit, so they have no profile",
                 caller, paste(held, collapse = ", ")), call. = FALSE)
  }
  unique(which)
}

# One sorted grid per parameter, each containing the estimate.
profile_grids <- function(object, which, grid, n, width) {
  est <- stats::coef(object)
  s <- se(object)
  if (!is.null(grid) && !is.list(grid)) {
    if (length(which) != 1L) {
      stop("profile: with several parameters, give grid as a list of numeric vectors named by parameter",
           call. = FALSE)
    }
    grid <- stats::setNames(list(grid), which)
  }
  if (is.list(grid) && length(grid) && (is.null(names(grid)) || !all(names(grid) %in% which))) {
    stop(sprintf("profile: grid must be named by profiled parameters (%s)", paste(which, collapse = ", ")),
         call. = FALSE)
  }
  out <- lapply(which, function(label) {
    g <- grid[[label]]
    if (is.null(g)) {
      if (!is.finite(s[[label]])) {
        stop(sprintf("profile: '%s' has no standard error to scale the default grid; supply grid", label),
             call. = FALSE)
      }
      g <- est[[label]] + seq(-width, width, length.out = n) * s[[label]]
    } else if (!is.numeric(g) || !length(g) || any(!is.finite(g))) {
      stop(sprintf("profile: the grid for '%s' must be finite numbers", label), call. = FALSE)
    }
    sort(unique(c(g, est[[label]])))
  })
  stats::setNames(out, which)
}

# The profile of one parameter over `grid`: from the estimate outward, each
# refit warm-started from the previous point's solution.
profile_walk <- function(object, label, grid) {
  est <- stats::coef(object)
  hat <- est[[label]]
  others <- setdiff(names(est)[object$free], label)
  rows <- vector("list", length(grid))
  at_hat <- which(grid == hat)
  rows[[at_hat]] <- list(loglik = object$loglik, coefficients = est, converged = object$converged)
  failures <- character()
  for (direction in list(rev(seq_len(at_hat - 1L)), seq.int(at_hat + 1L, length.out = length(grid) - at_hat))) {
    start <- est
    for (i in direction) {
      point <- try_profile_point(object, label, grid[i], start)
      if (is.character(point)) {
        failures <- c(failures, point)
        point <- list(loglik = NA_real_, coefficients = stats::setNames(rep(NA_real_, length(est)), names(est)),
                      converged = FALSE)
      } else {
        start <- point$coefficients
      }
      rows[[i]] <- point
    }
  }
  loglik <- vapply(rows, function(r) r$loglik, numeric(1))
  converged <- vapply(rows, function(r) r$converged, logical(1))
  if (length(failures)) {
    # the first failure's own message (an error of the user's function, a
    # log-likelihood that is not finite there) says what went wrong
    warning(sprintf("profile: the refit failed at %d grid point(s) of '%s' (NA rows); the first: %s",
                    length(failures), label, failures[1]), call. = FALSE)
  }
  if (any(!converged & !is.na(loglik))) {
    warning(sprintf("profile: the refit did not converge at %d grid point(s) of '%s'",
                    sum(!converged & !is.na(loglik)), label), call. = FALSE)
  }
  check_profile_maximum(loglik, object$loglik, grid, label, "profile")
  frame <- data.frame(value = grid, loglik = loglik, z = signed_root_deviance(grid, hat, loglik, object$loglik),
                      converged = converged)
  other <- do.call(rbind, lapply(rows, function(r) r$coefficients[others]))
  if (length(others)) {
    other <- as.data.frame(matrix(other, nrow = length(grid), dimnames = list(NULL, others)))
    frame <- cbind(frame, other)
  }
  names(frame) <- make.unique(names(frame))
  frame
}

signed_root_deviance <- function(theta, hat, loglik, loglik_hat) {
  sign(theta - hat) * sqrt(pmax(0, 2 * (loglik_hat - loglik)))
}

# A profile above the maximum means the original fit stopped short of it.
check_profile_maximum <- function(loglik, loglik_hat, theta, label, caller) {
  above <- which(loglik > loglik_hat + 1e-6)
  if (length(above)) {
    k <- above[which.max(loglik[above])]
    warning(sprintf(paste0("%s: the profile log-likelihood of '%s' at %s is %s, above the fit's maximum %s; ",
                           "the fit had not reached the maximum (refit from there)"),
                    caller, label, format(theta[k]), format(loglik[k], digits = 10),
                    format(loglik_hat, digits = 10)), call. = FALSE)
  }
}

# The profile at one point: `label` held at `value`, the other free
# parameters re-maximised by Newton from `start` (all coefficients, named).
# Returns list(loglik, coefficients, converged); evaluation failures are
# errors.
profile_point <- function(object, label, value, start) {
  if (sum(object$free) == 1L) {
    # nothing left to re-maximise: the profile is the log-likelihood itself
    # record_loglik works on the optimiser's scale, value is on coef()'s
    theta <- working_start(object$spec, value)
    loglik <- if (is_sharded(object$spec)) {
      sharded_loglik(object$spec, theta, order = 0L, caller = "profile")$value
    } else if (is_laplace(object$spec)) {
      laplace_evaluate(object$spec, theta, 0L, "profile")$value
    } else {
      rec <- record_loglik(object$spec, theta)
      if (inherits(rec, "condition")) stop(conditionMessage(rec), call. = FALSE)
      value_of(rec$output)
    }
    coefficients <- stats::coef(object)
    coefficients[[label]] <- value
    return(list(loglik = loglik, coefficients = coefficients, converged = TRUE))
  }
  # fit's own warnings (no convergence, no standard errors) are counted by
  # the callers through `converged`; the standard errors of a refit are
  # never used here.
  res <- withCallingHandlers(
    refit(object, fixed = stats::setNames(value, label), start = start, method = "newton"),
    warning = function(w) if (startsWith(conditionMessage(w), "fit: ")) invokeRestart("muffleWarning"))
  list(loglik = res$loglik, coefficients = stats::coef(res), converged = res$converged)
}

# profile_point(), or why not (a string carrying the refit's own error
# message) if the refit fails or the log-likelihood is not finite there.
# Only errors are caught: an interrupt stops the whole profile or confint().
try_profile_point <- function(object, label, value, start) {
  point <- tryCatch(profile_point(object, label, value, start), error = function(e) {
    sprintf("the refit at %s = %s failed: %s", label, format(value), conditionMessage(e))
  })
  if (is.list(point) && !is.finite(point$loglik)) {
    point <- sprintf("the log-likelihood is %s at %s = %s", format(point$loglik), label, format(value))
  }
  point
}

# Profile-likelihood confidence limits: for each parameter, the two roots of
# f(theta) = 2 * (loglik_hat - profile(theta)) - qchisq(level, 1) on either
# side of the estimate.
confint_profile <- function(object, parm, level) {
  s <- se(object)
  cutoff <- stats::qchisq(level, 1)
  ci <- matrix(NA_real_, length(parm), 2L)
  for (i in seq_along(parm)) {
    label <- parm[i]
    if (!object$free[[label]]) next   # fixed: no interval, as with the Wald method
    if (!is.finite(s[[label]])) {
      warning(sprintf("confint: '%s' has no standard error to start the profile search from; its limits are NA",
                      label), call. = FALSE)
      next
    }
    ci[i, ] <- profile_limits(object, label, s[[label]], cutoff, level)
  }
  ci
}

profile_limits <- function(object, label, s, cutoff, level) {
  hat <- stats::coef(object)[[label]]
  # every solution found so far; each new point starts from the nearest
  visited <- hat
  solutions <- list(stats::coef(object))
  not_converged <- 0L
  failure <- NULL   # the last failed refit's message, for the warnings
  deviance <- function(theta) {
    nearest <- solutions[[which.min(abs(visited - theta))]]
    point <- try_profile_point(object, label, theta, nearest)
    if (is.character(point)) {
      failure <<- point
      return(NA_real_)
    }
    visited <<- c(visited, theta)
    solutions[[length(solutions) + 1L]] <<- point$coefficients
    if (!point$converged) not_converged <<- not_converged + 1L
    check_profile_maximum(point$loglik, object$loglik, theta, label, "confint")
    2 * (object$loglik - point$loglik) - cutoff
  }
  limits <- c(NA_real_, NA_real_)
  because <- function(reason) if (is.null(failure)) reason else sprintf("%s (%s)", reason, failure)
  for (side in 1:2) {
    direction <- c(-1, 1)[side]
    failure <- NULL
    bracket <- profile_bracket(deviance, hat, direction, s, cutoff)
    if (is.character(bracket)) {
      warning(sprintf("confint: no %s %s%% profile limit for '%s': %s; it is NA",
                      c("lower", "upper")[side], format(100 * level), label, because(bracket)), call. = FALSE)
      next
    }
    failure <- NULL
    root <- tryCatch(
      stats::uniroot(deviance, lower = min(bracket$inside, bracket$outside), upper = max(bracket$inside, bracket$outside),
                     f.lower = if (direction < 0) bracket$f_outside else bracket$f_inside,
                     f.upper = if (direction < 0) bracket$f_inside else bracket$f_outside,
                     tol = 1e-10 * max(abs(hat), s), maxiter = 200)$root,
      error = function(e) conditionMessage(e))
    if (is.character(root)) {
      warning(sprintf("confint: the search for the %s profile limit of '%s' failed: %s; it is NA",
                      c("lower", "upper")[side], label, because(root)), call. = FALSE)
      next
    }
    limits[side] <- root
  }
  if (not_converged) {
    warning(sprintf("confint: %d profile refit(s) for '%s' did not converge; its limits may be inaccurate",
                    not_converged, label), call. = FALSE)
  }
  limits
}

# Walks from the estimate in `direction` until the profile deviance
# crosses the cut-off: first steps of 2, 4, 8, ... standard errors; where
# the log-likelihood cannot be evaluated, back towards the last good point
# by halving. Returns the bracket, or a reason why there is none.
profile_bracket <- function(deviance, hat, direction, s, cutoff) {
  inside <- hat
  f_inside <- -cutoff
  outside_bad <- NULL
  step <- 2 * s
  for (iteration in 1:80) {
    theta <- if (is.null(outside_bad)) hat + direction * step else (inside + outside_bad) / 2
    if (theta == inside || (!is.null(outside_bad) && theta == outside_bad)) break
    f <- deviance(theta)
    if (is.na(f)) {
      outside_bad <- theta
    } else if (f > 0) {
      return(list(inside = inside, f_inside = f_inside, outside = theta, f_outside = f))
    } else {
      inside <- theta
      f_inside <- f
      if (is.null(outside_bad)) {
        step <- 2 * step
        if (step > 2^12 * s) {
          return(sprintf("the profile stays above the cut-off up to %s (more than %d standard errors away)",
                         format(theta), 2^12))
        }
      }
    }
  }
  sprintf("the profile stays above the cut-off up to %s, where the log-likelihood can no longer be evaluated",
          format(inside))
}

#' Plot profile log-likelihoods
#'
#' One panel per parameter: the signed root deviance `z` against the
#' parameter, with horizontal lines at \eqn{\pm} `qnorm((1 + level) / 2)`
#' (where they cross the curve are the profile confidence limits; a
#' straight line means the Wald interval is accurate), or the profile
#' log-likelihood with the cut-off `loglik - qchisq(level, 1) / 2` marked.
#' The estimate is marked by a dotted vertical line.
#'
#' @param x A `femtoprofile` from [profile.femtofit()].
#' @param which Parameters to plot (names or positions among the profiled
#'   ones); all by default.
#' @param type `"z"` (signed root deviance) or `"loglik"` (profile
#'   log-likelihood).
#' @param level Confidence level of the reference lines.
#' @param ... Further graphical arguments passed to [plot()].
#' @return `x`, invisibly.
#' @examples
#' set.seed(1); x <- rexp(20, rate = 2)
#' res <- fit(function(rate) loglik_exponential(rate, x), params = c(rate = 1))
#' prof <- profile(res)
#' plot(prof)
#' plot(prof, type = "loglik")
#' @export
plot.femtoprofile <- function(x, which = NULL, type = c("z", "loglik"), level = 0.95, ...) {
  type <- match.arg(type)
  profiled <- names(x$profiles)
  if (is.null(which)) which <- profiled
  if (is.numeric(which)) which <- profiled[which]
  if (anyNA(which) || !all(which %in% profiled)) {
    stop(sprintf("plot: which must name profiled parameters (%s)", paste(profiled, collapse = ", ")), call. = FALSE)
  }
  check_level(level, "plot")
  old <- graphics::par(mfrow = grDevices::n2mfrow(length(which)))
  on.exit(graphics::par(old))
  for (label in which) {
    d <- x$profiles[[label]]
    if (type == "z") {
      graphics::plot(d$value, d$z, type = "l", xlab = label, ylab = "signed root deviance", ...)
      graphics::abline(h = c(-1, 1) * stats::qnorm((1 + level) / 2), lty = 2)
    } else {
      graphics::plot(d$value, d$loglik, type = "l", xlab = label, ylab = "profile log-likelihood", ...)
      graphics::abline(h = x$loglik - stats::qchisq(level, 1) / 2, lty = 2)
    }
    graphics::abline(v = x$estimate[[label]], lty = 3)
  }
  invisible(x)
}

#' @export
print.femtoprofile <- function(x, ...) {
  cat("Profile log-likelihood of a femtograd fit (maximum ", format(x$loglik), ")\n", sep = "")
  for (label in names(x$profiles)) {
    d <- x$profiles[[label]]
    cat(sprintf("  %s: %d points from %s to %s (estimate %s)\n", label, nrow(d), format(min(d$value)),
                format(max(d$value)), format(x$estimate[[label]])))
  }
  cat("The profiles are in $profiles; plot() shows them.\n")
  invisible(x)
}
