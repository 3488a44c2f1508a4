# The three classical large-sample tests (likelihood ratio, Wald, score)
# and an anova() table for nested fits. Each test returns an "htest", so
# stats' print method shows it.

#' Likelihood-ratio test of nested models
#'
#' Compares a null model with an alternative in which it is nested (the
#' null is the alternative with some parameters restricted, typically by
#' `fit(..., fixed = ...)`): the statistic \eqn{2 (l_1 - l_0)} is referred
#' to a chi-square distribution with as many degrees of freedom as the
#' alternative has extra free parameters.
#'
#' Nesting itself is not checked: both fits must be of the same data, the
#' null a special case of the alternative.
#'
#' @param fit_null The restricted fit (a `femtofit`).
#' @param fit_alt The unrestricted fit, with more free parameters.
#' @return An object of class `htest` with the `statistic` (`LR`), its
#'   `parameter` (`df`), `p.value`, `method` and `data.name`.
#' @seealso [wald_test()], [score_test()], [anova.femtofit()].
#' @examples
#' set.seed(1)
#' X <- cbind(1, rnorm(100), rnorm(100))
#' y <- rbinom(100, 1, plogis(X %*% c(-0.5, 1, 0)))
#' ll <- function(beta) loglik_logistic(beta, X, y)
#' big <- fit(ll, params = list(beta = rep(0, 3)))
#' small <- fit(ll, params = list(beta = rep(0, 3)), fixed = c(beta3 = 0))
#' lrt(small, big)
#' @export
lrt <- function(fit_null, fit_alt) {
  check_femtofit(fit_null, "lrt", "fit_null")
  check_femtofit(fit_alt, "lrt", "fit_alt")
  df <- sum(fit_alt$free) - sum(fit_null$free)
  if (df <= 0) {
    stop(sprintf(paste0("lrt: the null model must have fewer free parameters than the alternative ",
                        "(null: %d, alternative: %d); are the arguments swapped?"),
                 sum(fit_null$free), sum(fit_alt$free)), call. = FALSE)
  }
  if (fit_null$loglik > fit_alt$loglik + 1e-6) {
    warning(sprintf(paste0("lrt: the null model's log-likelihood (%s) exceeds the alternative's (%s): ",
                           "either the models are not nested or the alternative fit has not reached its maximum"),
                    format(fit_null$loglik, digits = 10), format(fit_alt$loglik, digits = 10)), call. = FALSE)
  }
  check_same_nobs(list(fit_null, fit_alt), "lrt")
  statistic <- 2 * (fit_alt$loglik - fit_null$loglik)
  structure(list(
    statistic = c(LR = statistic),
    parameter = c(df = df),
    p.value = stats::pchisq(statistic, df, lower.tail = FALSE),
    method = "Likelihood-ratio test",
    data.name = sprintf("null %s against alternative %s",
                        describe_fit(fit_null, deparse1(substitute(fit_null))),
                        describe_fit(fit_alt, deparse1(substitute(fit_alt))))
  ), class = "htest")
}

#' Wald test of linear hypotheses
#'
#' Tests \eqn{H_0: L\theta = r} from the estimates and their covariance
#' alone: \eqn{W = (L\hat\theta - r)^\top (L V L^\top)^{-1} (L\hat\theta -
#' r)}, referred to a chi-square distribution with `nrow(L)` degrees of
#' freedom, where \eqn{V} is `vcov(fit)` (the inverse observed information)
#' over the free parameters. For one coefficient, \eqn{W} is the square of
#' its `z value` in `summary()`.
#'
#' @param fit A `femtofit`.
#' @param L The hypotheses, one row each: a matrix with a column per
#'   coefficient (in the order of `coef(fit)`), or with columns named by
#'   coefficients (those not named get zero weight); or, for a single
#'   hypothesis, a numeric vector named by coefficients (or unnamed, with
#'   one entry per coefficient).
#' @param rhs The right-hand side \eqn{r}: one number per row of `L` (or
#'   one number for all).
#' @param parm A shortcut for the common case: a named numeric vector such
#'   as `c(beta2 = 0, beta3 = 0)`, testing that those coefficients jointly
#'   equal those values. Give either `L` or `parm`.
#' @return An object of class `htest` with the `statistic` (`W`), its
#'   `parameter` (`df`), `p.value`, `method` and `data.name` (which spells
#'   out the hypotheses).
#' @seealso [lrt()], [score_test()].
#' @examples
#' set.seed(1)
#' X <- cbind(1, rnorm(100), rnorm(100))
#' y <- rbinom(100, 1, plogis(X %*% c(-0.5, 1, 0)))
#' big <- fit(function(beta) loglik_logistic(beta, X, y), params = list(beta = rep(0, 3)))
#' wald_test(big, parm = c(beta3 = 0))
#' wald_test(big, parm = c(beta2 = 1, beta3 = 0))
#' wald_test(big, L = c(beta2 = 1, beta3 = -1))   # beta2 = beta3
#' @export
wald_test <- function(fit, L = NULL, rhs = 0, parm = NULL) {
  check_femtofit(fit, "wald_test", "fit")
  est <- stats::coef(fit)
  labels <- names(est)
  if (!is.null(parm)) {
    if (!is.null(L)) stop("wald_test: give the hypothesis either as L (with rhs) or as parm, not both", call. = FALSE)
    if (!is.numeric(parm) || is.null(names(parm)) || any(!nzchar(names(parm))) || anyNA(parm)) {
      stop("wald_test: parm must be a named numeric vector of hypothesised values, e.g. c(beta2 = 0, beta3 = 0)",
           call. = FALSE)
    }
    check_labels(names(parm), labels, "wald_test")
    L <- matrix(0, length(parm), length(labels), dimnames = list(NULL, labels))
    L[cbind(seq_along(parm), match(names(parm), labels))] <- 1
    rhs <- unname(parm)
  } else if (is.null(L)) {
    stop("wald_test: give the hypothesis as L (and rhs), or as parm, e.g. parm = c(beta2 = 0)", call. = FALSE)
  }
  L <- hypothesis_matrix(L, labels)
  if (!is.numeric(rhs) || anyNA(rhs) || !(length(rhs) %in% c(1L, nrow(L)))) {
    stop(sprintf("wald_test: rhs must be one number or %d numbers (one per row of L)", nrow(L)), call. = FALSE)
  }
  rhs <- rep_len(as.double(rhs), nrow(L))
  free <- fit$free
  involved <- labels[!free & colSums(L != 0) > 0]
  if (length(involved)) {
    stop(sprintf("wald_test: the hypothesis involves %s, fixed in the fit (no sampling variance); refit with it free",
                 paste(involved, collapse = ", ")), call. = FALSE)
  }
  V <- fit$vcov[free, free, drop = FALSE]
  if (anyNA(V)) {
    stop("wald_test: the fit has no standard errors (its Hessian was not negative definite)", call. = FALSE)
  }
  Lf <- L[, free, drop = FALSE]
  d <- drop(Lf %*% est[free]) - rhs
  M <- Lf %*% V %*% t(Lf)
  statistic <- tryCatch(drop(crossprod(d, solve(M, d))), error = function(e) NULL)
  if (is.null(statistic)) {
    stop("wald_test: L V L' is singular: the rows of L are linearly dependent", call. = FALSE)
  }
  hypotheses <- vapply(seq_len(nrow(L)), function(i) format_hypothesis(L[i, ], labels, rhs[i]), character(1))
  structure(list(
    statistic = c(W = statistic),
    parameter = c(df = nrow(L)),
    p.value = stats::pchisq(statistic, nrow(L), lower.tail = FALSE),
    method = "Wald test",
    data.name = sprintf("%s; hypothesis: %s", deparse1(substitute(fit)), paste(hypotheses, collapse = ", "))
  ), class = "htest")
}

# L as a full matrix with one column per coefficient, named.
hypothesis_matrix <- function(L, labels) {
  if (!is.numeric(L) || anyNA(L) || length(L) == 0L) {
    stop("wald_test: L must be a numeric matrix or vector without NAs", call. = FALSE)
  }
  if (!is.matrix(L)) {
    L <- if (is.null(names(L))) matrix(L, 1L) else matrix(L, 1L, dimnames = list(NULL, names(L)))
  }
  if (is.null(colnames(L))) {
    if (ncol(L) != length(labels)) {
      stop(sprintf("wald_test: an unnamed L needs %s (one per coefficient: %s), got %d; or name them",
                   count_of(length(labels), "column"), paste(labels, collapse = ", "), ncol(L)), call. = FALSE)
    }
    colnames(L) <- labels
  }
  check_labels(colnames(L), labels, "wald_test")
  full <- matrix(0, nrow(L), length(labels), dimnames = list(NULL, labels))
  for (j in seq_len(ncol(L))) full[, colnames(L)[j]] <- full[, colnames(L)[j]] + L[, j]
  empty <- which(rowSums(full != 0) == 0)
  if (length(empty)) stop(sprintf("wald_test: row %d of L is all zero", empty[1]), call. = FALSE)
  full
}

# "beta2 - 2*beta3 = 0"
format_hypothesis <- function(l, labels, r) {
  nz <- which(l != 0)
  terms <- vapply(seq_along(nz), function(k) {
    a <- l[[nz[k]]]
    term <- if (abs(a) == 1) labels[nz[k]] else paste0(format(abs(a), digits = 4), "*", labels[nz[k]])
    if (k == 1L) paste0(if (a < 0) "-" else "", term) else paste(if (a < 0) " -" else " +", term)
  }, character(1))
  paste0(paste(terms, collapse = ""), " = ", format(r, digits = 4))
}

#' Score (Rao) test of a restricted fit
#'
#' Tests the restriction of a fit with fixed parameters (from
#' `fit(..., fixed = ...)`) using only that fit: the gradient \eqn{g} and
#' Hessian \eqn{H} of the *full* model's log-likelihood (every parameter
#' free) at the restricted estimate give \eqn{S = g^\top (-H)^{-1} g},
#' referred to a chi-square distribution with as many degrees of freedom as
#' there are fixed parameters. At a restricted maximum the gradient is zero
#' in the free directions, so \eqn{S} measures how steeply the likelihood
#' would rise if the restriction were released. Both derivatives are exact
#' (femtograd's Hessian, not the expected information).
#'
#' @param fit A `femtofit` with at least one fixed parameter.
#' @return An object of class `htest` with the `statistic` (`S`), its
#'   `parameter` (`df`), `p.value`, `method` and `data.name`.
#' @seealso [lrt()], [wald_test()].
#' @examples
#' set.seed(1)
#' X <- cbind(1, rnorm(100), rnorm(100))
#' y <- rbinom(100, 1, plogis(X %*% c(-0.5, 1, 0)))
#' small <- fit(function(beta) loglik_logistic(beta, X, y), params = list(beta = rep(0, 3)),
#'              fixed = c(beta3 = 0))
#' score_test(small)
#' @export
score_test <- function(fit) {
  check_femtofit(fit, "score_test", "fit")
  restricted <- sum(!fit$free)
  if (restricted == 0L) {
    stop("score_test: the fit has no fixed parameters; fit the restricted model with fit(..., fixed = ...)",
         call. = FALSE)
  }
  spec <- fit$spec
  full <- fit_spec(spec$loglik, spec$params, spec$method, spec$control, fixed = NULL, nobs = spec$nobs,
                   shards = spec$shards)
  full$random <- spec$random
  derivatives <- if (is_sharded(full)) {
    sharded_loglik(full, unname(stats::coef(fit)), order = 2L, caller = "score_test")
  } else if (is_laplace(full)) {
    laplace_evaluate(full, unname(stats::coef(fit)), 2L, "score_test")
  } else {
    recorded <- record_loglik(full, unname(stats::coef(fit)))
    if (inherits(recorded, "condition")) {
      stop(sprintf("score_test: the log-likelihood failed at the restricted estimate: %s", conditionMessage(recorded)),
           call. = FALSE)
    }
    rust(fg_hessian(recorded$output, recorded$params))
  }
  information_inverse <- rust(fg_inverse_spd(-derivatives$hessian))
  if (is.null(information_inverse)) {
    stop(paste0("score_test: the full model's observed information at the restricted estimate is not ",
                "positive definite, so the score statistic is undefined there"), call. = FALSE)
  }
  g <- derivatives$gradient
  statistic <- drop(crossprod(g, information_inverse %*% g))
  structure(list(
    statistic = c(S = statistic),
    parameter = c(df = restricted),
    p.value = stats::pchisq(statistic, restricted, lower.tail = FALSE),
    method = "Score (Rao) test",
    data.name = sprintf("%s; restriction: %s", deparse1(substitute(fit)), describe_fixed(fit))
  ), class = "htest")
}

#' Likelihood-ratio table for nested fits
#'
#' `anova()` on two or more nested fits, in the order given (usually from
#' the smallest model up), tabulates each model's number of free parameters
#' (`Df`), log-likelihood and AIC, and the likelihood-ratio statistic of
#' each model against the one before it with its degrees of freedom and
#' p-value, as [lrt()] computes them. As in [stats::anova()], models may
#' also be listed from the largest down; the statistic then changes sign
#' with the degrees of freedom.
#'
#' @param object A `femtofit`.
#' @param ... Further `femtofit`s, nested in each other.
#' @return A data frame of class `c("anova", "data.frame")` with columns
#'   `Df`, `logLik`, `AIC`, `Chisq`, `Chi Df` and `Pr(>Chisq)`, one row per
#'   model, and a heading describing the models.
#' @seealso [lrt()]
#' @examples
#' set.seed(1)
#' X <- cbind(1, rnorm(100), rnorm(100))
#' y <- rbinom(100, 1, plogis(X %*% c(-0.5, 1, 0)))
#' ll <- function(beta) loglik_logistic(beta, X, y)
#' m1 <- fit(ll, params = list(beta = rep(0, 3)), fixed = c(beta2 = 0, beta3 = 0))
#' m2 <- fit(ll, params = list(beta = rep(0, 3)), fixed = c(beta3 = 0))
#' m3 <- fit(ll, params = list(beta = rep(0, 3)))
#' anova(m1, m2, m3)
#' @importFrom stats anova
#' @export
anova.femtofit <- function(object, ...) {
  fits <- c(list(object), list(...))
  expressions <- vapply(as.list(substitute(list(object, ...)))[-1L], deparse1, character(1))
  if (length(fits) < 2L) {
    stop("anova: give two or more nested fits, e.g. anova(fit_small, fit_big)", call. = FALSE)
  }
  for (i in seq_along(fits)) check_femtofit(fits[[i]], "anova", expressions[i])
  check_same_nobs(fits, "anova")
  df <- vapply(fits, function(f) sum(f$free), numeric(1))
  loglik <- vapply(fits, function(f) f$loglik, numeric(1))
  chisq <- c(NA, 2 * diff(loglik))
  chi_df <- c(NA, diff(df))
  # as stats' anova tables: a model listed after a bigger one is tested
  # the other way round; no test between models of equal size
  oriented <- chisq * sign(chi_df)
  oriented[chi_df %in% 0 | oriented < 0] <- NA
  table <- data.frame(Df = df, logLik = loglik, AIC = -2 * loglik + 2 * df, Chisq = chisq, `Chi Df` = chi_df,
                      `Pr(>Chisq)` = stats::pchisq(oriented, abs(chi_df), lower.tail = FALSE),
                      check.names = FALSE, row.names = seq_along(fits))
  models <- vapply(seq_along(fits), function(i) sprintf("Model %d: %s", i, describe_fit(fits[[i]], expressions[i])),
                   character(1))
  structure(table, heading = c("Likelihood-ratio tests of nested models\n", paste(models, collapse = "\n")),
            class = c("anova", "data.frame"))
}

check_femtofit <- function(x, caller, what) {
  if (!inherits(x, "femtofit")) {
    stop(sprintf("%s: %s must be a fit from fit() (a femtofit), got an object of class '%s'",
                 caller, what, paste(class(x), collapse = "/")), call. = FALSE)
  }
  invisible(x)
}

check_labels <- function(names, labels, caller) {
  unknown <- setdiff(names, labels)
  if (length(unknown)) {
    stop(sprintf("%s: unknown coefficient(s): %s (coefficients: %s)", caller, paste(unknown, collapse = ", "),
                 paste(labels, collapse = ", ")), call. = FALSE)
  }
}

check_same_nobs <- function(fits, caller) {
  n <- vapply(fits, function(f) as.numeric(f$nobs), numeric(1))
  n <- n[!is.na(n)]
  if (length(unique(n)) > 1L) {
    warning(sprintf("%s: the fits have different numbers of observations (%s); nested models must share the data",
                    caller, paste(format(n), collapse = ", ")), call. = FALSE)
  }
}

# "fit0 (3 free parameters; fixed: beta3 = 0)"
describe_fit <- function(fit, expression) {
  k <- sum(fit$free)
  sprintf("%s (%d free parameter%s%s)", expression, k, if (k == 1L) "" else "s",
          if (any(!fit$free)) paste0("; fixed: ", describe_fixed(fit)) else "")
}

describe_fixed <- function(fit) {
  held <- stats::coef(fit)[!fit$free]
  paste(sprintf("%s = %s", names(held), vapply(held, format, character(1), digits = 4)), collapse = ", ")
}
