# What R users call on a fitted model: the stats generics, for femtofit.

#' Standard errors
#'
#' @param object A fitted model (a `femtofit` from [fit()]), a
#'   `femtodelta` from [delta_method()], or a `femtoboot` from [bootstrap()]
#'   (whose method gives the standard deviations of the bootstrap
#'   estimates).
#' @param type `"model"` (inverse observed information) or `"sandwich"`
#'   (robust to misspecification); see [vcov.femtofit()].
#' @param ... Unused.
#' @return A named numeric vector: square roots of the diagonal of `vcov()`.
#' @examples
#' set.seed(42); x <- rnorm(200, mean = 5, sd = 2)
#' res <- fit(function(mu, log_sigma) loglik_normal(mu, exp(log_sigma), x),
#'            params = c(mu = 0, log_sigma = 0))
#' se(res)
#' se(res, type = "sandwich")
#' se(delta_method(res, function(mu, log_sigma) exp(log_sigma)))
#' @export
se <- function(object, ...) UseMethod("se")

#' @rdname se
#' @export
se.femtofit <- function(object, type = c("model", "sandwich"), ...) {
  sqrt(diag(stats::vcov(object, type = match.arg(type))))
}

#' @rdname se
#' @export
se.femtodelta <- function(object, ...) sqrt(diag(stats::vcov(object)))

#' Observed Fisher information
#'
#' The negative Hessian of the log-likelihood at the estimate.
#'
#' @param object A `femtofit`.
#' @param ... Unused.
#' @return A symmetric numeric matrix.
#' @examples
#' set.seed(42); x <- rnorm(200, mean = 5, sd = 2)
#' res <- fit(function(mu, log_sigma) loglik_normal(mu, exp(log_sigma), x),
#'            params = c(mu = 0, log_sigma = 0))
#' observed_info(res)
#' @export
observed_info <- function(object, ...) UseMethod("observed_info")

#' @rdname observed_info
#' @export
observed_info.femtofit <- function(object, ...) -object$hessian

#' Methods for fitted models
#'
#' The usual generics for a `femtofit` returned by [fit()]: estimates,
#' covariance (inverse observed information, or the sandwich), confidence
#' intervals (Wald or profile), log-likelihood with its degrees of freedom (so
#' [AIC()] and [BIC()] work), number of observations, and a summary table.
#'
#' `vcov(object, type = "sandwich")` is the Huber-White sandwich
#' \eqn{V B V}: \eqn{V} the model covariance above (the bread) and
#' \eqn{B = \sum_i s_i s_i'} the outer products of the per-observation
#' scores \eqn{s_i}, the gradients of each observation's log-density at the
#' estimate (the meat). It stays valid when the model is misspecified (the
#' estimate then targets the distribution in the model closest to the
#' data), where the model covariance does not; it is the "HC0" covariance of
#' a regression. The scores come from the terms of the log-likelihood (see
#' "Observations" in [fit()]), so it must be a sum of terms that have
#' per-observation scores: `loglik_*` kernels, `sum(d...(x, ..., log =
#' TRUE))` over data, and `sum()` of a vector of per-observation
#' log-likelihoods computed from data (the censored part of a survival
#' model); constants may be added or subtracted. `2 * loglik_normal(...)`
#' or a penalty that depends on the parameters is an error. Each term
#' covers observations of its own (their score rows are stacked) unless
#' [observation_ids()] says that terms share observations (their scores are
#' added up per id). A formula (`fit(y ~ dpois(...), data = )`) has the
#' rows of `data` as its observations. Fixed parameters keep their `NA`
#' rows and columns.
#'
#' `nobs()` is the number of observations the log-likelihood covers, by
#' the rule in "Observations" of [fit()] (or the `nobs` given to `fit()`):
#' the sum of its terms' observations, each id of [observation_ids()]
#' counted once; `NA` when no term covers observations (a log-likelihood
#' written as a loop over scalars).
#'
#' `confint()` gives Wald intervals (estimate \eqn{\pm} `qnorm` quantile
#' times standard error) by default. With `method = "profile"` it gives
#' likelihood-ratio (profile) intervals: the values \eqn{\theta_j} where
#' \eqn{2 (l(\hat\theta) - l_p(\theta_j))} equals `qchisq(level, 1)`, with
#' \eqn{l_p} the log-likelihood re-maximised over the other parameters (see
#' [profile.femtofit()]). Each limit is found by [stats::uniroot()] after
#' bracketing outward from the estimate (2, 4, 8, ... standard errors);
#' each profile point is a Newton refit warm-started from the nearest point
#' already solved. Profile intervals follow the shape of the likelihood:
#' they need not be symmetric, and they carry over to monotone
#' reparametrisations (the interval for `log_sigma` is the log of the
#' interval for `sigma`), which Wald intervals do not. A
#' limit the profile never reaches (the likelihood stays flat, or cannot be
#' evaluated beyond some point) is `NA`, with a warning. Fixed parameters
#' get `NA` limits under either method.
#'
#' @param object,x A `femtofit` (or its summary).
#' @param type For `vcov`, `confint` (Wald) and `summary`: standard errors
#'   from the `"model"` (the default) or the `"sandwich"`.
#' @param parm Parameters (names or indices) for `confint`; all by default.
#' @param level Confidence level.
#' @param method For `confint`: `"wald"` or `"profile"`.
#' @param digits Significant digits to print.
#' @param ... Passed on or unused.
#' @return `coef`: named estimates; `vcov`: covariance matrix; `confint`: a
#'   matrix of lower and upper bounds; `logLik`: a `logLik` object; `nobs`: a
#'   number; `summary`: a `summary.femtofit` object.
#' @examples
#' set.seed(42); x <- rnorm(200, mean = 5, sd = 2)
#' res <- fit(function(mu, log_sigma) loglik_normal(mu, exp(log_sigma), x),
#'            params = c(mu = 0, log_sigma = 0))
#' coef(res); vcov(res); confint(res)
#' confint(res, method = "profile")
#' logLik(res); AIC(res); BIC(res); nobs(res)
#' summary(res)
#'
#' # exponential data, normal model: the sandwich is robust to that
#' y <- rexp(200)
#' wrong <- fit(function(mu, log_sigma) loglik_normal(mu, exp(log_sigma), y),
#'              params = c(mu = 0, log_sigma = 0))
#' vcov(wrong, type = "sandwich")
#' @name femtofit-methods
NULL

#' @rdname femtofit-methods
#' @export
coef.femtofit <- function(object, ...) object$coefficients

#' @rdname femtofit-methods
#' @export
vcov.femtofit <- function(object, type = c("model", "sandwich"), ...) {
  type <- match.arg(type)
  if (type == "model") return(object$vcov)
  if (is_laplace(object$spec)) {
    stop("vcov: sandwich standard errors need per-observation scores, which a Laplace approximation ",
         "over random effects does not have", call. = FALSE)
  }
  if (length(object$transforms)) {
    # scores are taken on the optimiser's scale; map the result back
    working <- object$working
    return(natural_vcov(vcov(working, type = "sandwich"), object$spec, unname(working$coefficients)))
  }
  free <- object$free
  bread <- object$vcov[free, free, drop = FALSE]
  # scores first: an error inside crossprod()'s S4 dispatch would be garbled.
  # A sharded fit's scores stay on its workers, which sum their products.
  meat <- if (is_sharded(object$spec)) {
    sharded_meat(object, "vcov")
  } else {
    scores <- observation_scores(object, "vcov")
    # With case weights the scores are w_i s_i; a case of weight w_i counts
    # as w_i replicated observations, whose meat is w_i s_i s_i'.
    # The weights go to every kernel (which all see the same n observations,
    # see fit()), whose rows are stacked: the weights repeat per kernel.
    w <- object$spec$weights
    if (!is.null(w)) {
      w <- rep(w, length.out = nrow(scores))
      scores <- scores[w > 0, , drop = FALSE] / sqrt(w[w > 0])
    }
    crossprod(scores)
  }
  sandwich <- bread %*% meat %*% bread
  out <- object$vcov
  out[free, free] <- (sandwich + t(sandwich)) / 2   # exactly symmetric
  out
}

# The n x p matrix of per-observation scores of `object` at its estimate,
# for its free parameters (the leaves record_loglik() returns are exactly
# those), from the kernels of the log-likelihood.
observation_scores <- function(object, caller) {
  recorded <- record_loglik(object$spec, stats::coef(object)[object$free])
  if (inherits(recorded, "condition")) {
    stop(sprintf("%s: the log-likelihood function failed at the estimate: %s", caller,
                 conditionMessage(recorded)), call. = FALSE)
  }
  scores <- fg_observation_scores(recorded$output, recorded$params)
  if (inherits(scores, "extendr_error")) {
    scores <- formula_observation_scores(object$spec, stats::coef(object)[object$free]) %||% scores
  }
  if (inherits(scores, "extendr_error")) {
    stop(sprintf(paste0("%s: sandwich standard errors need a log-likelihood that is a sum of terms with ",
                       "per-observation scores: loglik_* kernels and sums over data (see \"Observations\" in ?fit; %s)"),
                 caller, sub("^observation_scores: ", "", scores$value)), call. = FALSE)
  }
  colnames(scores) <- names(object$free)[object$free]
  scores
}

#' @rdname femtofit-methods
#' @export
confint.femtofit <- function(object, parm, level = 0.95, method = c("wald", "profile"),
                             type = c("model", "sandwich"), ...) {
  method <- match.arg(method)
  type <- match.arg(type)
  if (method == "profile" && type == "sandwich") {
    stop("confint: type = \"sandwich\" applies to Wald intervals; profile intervals come from the likelihood itself",
         call. = FALSE)
  }
  # The Wald interval also validates parm and level for the profile one.
  wald <- wald_confint(stats::coef(object), se(object, type = type), if (missing(parm)) NULL else parm, level,
                       "confint")
  if (method == "wald") return(wald)
  ci <- confint_profile(object, rownames(wald), level)   # profile.R
  dimnames(ci) <- dimnames(wald)
  ci
}

#' @rdname femtofit-methods
#' @export
logLik.femtofit <- function(object, ...) {
  structure(object$loglik, df = sum(object$free), nobs = object$nobs, class = "logLik")
}

#' @rdname femtofit-methods
#' @export
nobs.femtofit <- function(object, ...) object$nobs

#' @rdname femtofit-methods
#' @export
print.femtofit <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  cat("femtograd maximum-likelihood fit (", x$method, ")\n\n", sep = "")
  cat("Coefficients:\n")
  print(format(stats::coef(x), digits = digits), quote = FALSE)
  cat(sprintf("\n%s: %s  (df = %d)\n", if (is.null(x$random_effects)) "Log-likelihood" else
                "Log-likelihood (Laplace approximation)", format(x$loglik, digits = digits), sum(x$free)))
  print_transforms(x$transforms)
  if (!x$converged) cat("Warning: did not converge:", x$message, "\n")
  invisible(x)
}

#' @rdname femtofit-methods
#' @export
summary.femtofit <- function(object, type = c("model", "sandwich"), ...) {
  type <- match.arg(type)
  est <- stats::coef(object)
  s <- se(object, type = type)
  z <- est / s
  table <- cbind(Estimate = est, `Std. Error` = s, `z value` = z, `Pr(>|z|)` = 2 * stats::pnorm(-abs(z)))
  structure(list(coefficients = table, loglik = object$loglik, aic = stats::AIC(object),
                 df = sum(object$free), nobs = object$nobs, iterations = object$iterations,
                 converged = object$converged, message = object$message, method = object$method,
                 transforms = object$transforms, se_type = type, call = object$call,
                 random = if (!is.null(object$random_effects)) length(object$random_effects$labels),
                 random_blocks = object$random_effects$blocks),
            class = "summary.femtofit")
}

#' @rdname femtofit-methods
#' @export
print.summary.femtofit <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  cat("Maximum-likelihood fit by femtograd\n\nCall:\n", paste(deparse(x$call), collapse = "\n"), "\n\n", sep = "")
  stats::printCoefmat(x$coefficients, digits = digits, P.values = TRUE, has.Pvalue = TRUE)
  if (identical(x$se_type, "sandwich")) cat("Standard errors: sandwich (robust to misspecification)\n")
  if (!is.null(x$random)) {
    cat(sprintf("Log-likelihood: the Laplace approximation, integrating out %d random effect%s%s\n",
                x$random, if (x$random == 1L) "" else "s",
                if (is.null(x$random_blocks)) "" else
                  if (x$random_blocks == 1L) " (one block)" else sprintf(" (in %d independent blocks)", x$random_blocks)))
  }
  cat(sprintf("\nLog-likelihood: %s on %d parameter%s;  AIC: %s",
              format(x$loglik, digits = digits), x$df, if (x$df == 1L) "" else "s",
              format(x$aic, digits = digits)))
  if (!is.na(x$nobs)) cat(sprintf(";  observations: %s", format(x$nobs)))
  cat(sprintf("\n%s after %d iterations (%s): %s\n",
              if (x$converged) "Converged" else "Did NOT converge", x$iterations, x$method, x$message))
  print_transforms(x$transforms)
  invisible(x)
}

# Fits with fit(transform = ) say how the optimiser's scale maps to theirs.
print_transforms <- function(transforms) {
  if (length(transforms)) {
    cat("Estimated on an unconstrained scale (see $working): ", paste(transforms, collapse = ", "),
        "\n", sep = "")
  }
}
