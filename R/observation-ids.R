# Which observations a log-likelihood's terms cover: by default each term
# its own (see "Observations" in ?fit); observation_ids() says that terms
# share observations.

#' Say which observations a log-likelihood term covers
#'
#' By default every term of a log-likelihood covers observations of its
#' own: `loglik_normal(mu, sigma, x) + loglik_poisson(lambda, k)` has
#' `length(x) + length(k)` observations (see "Observations" in [fit()]).
#' When two terms are parts of the same observations (a bivariate outcome:
#' a measurement and a count on each of n subjects), tag each with the ids
#' of its observations: terms tagged with the same ids count those
#' observations once in [nobs()], and their per-observation scores are
#' added up per id for sandwich standard errors ([vcov.femtofit()] with
#' `type = "sandwich"`). Values and derivatives are unchanged.
#'
#' @param loglik A log-likelihood term that covers observations: a
#'   `loglik_*()` call (see [loglik]), a `sum(d...(x, ..., log = TRUE))`
#'   over data, or `sum()` of a vector of per-observation log-likelihoods
#'   computed from data. A plain number (no parameter in it) is returned as
#'   it is.
#' @param id One id per observation of `loglik`: positive whole numbers
#'   (the observation's row, a subject number). Observations of different
#'   terms with the same id are one observation.
#' @return `loglik`, tagged.
#' @seealso [nobs.femtofit()], [vcov.femtofit()].
#' @examples
#' set.seed(1)
#' n <- 100
#' x <- rnorm(n, 2)          # a measurement on each subject
#' k <- rpois(n, 3)          # and a count
#' ll <- function(mu, log_lambda) {
#'   observation_ids(loglik_normal(mu, 1, x), seq_len(n)) +
#'     observation_ids(loglik_poisson(exp(log_lambda), k), seq_len(n))
#' }
#' res <- fit(ll, c(mu = 0, log_lambda = 0))
#' nobs(res)                 # 100 subjects, not 200 observations
#' se(res, type = "sandwich")
#' @export
observation_ids <- function(loglik, id) {
  if (!is.numeric(id) || is.object(id) || anyNA(id) || any(!is.finite(id)) || any(id < 1) ||
      any(id != round(id)) || any(id >= 2^32)) {
    stop("observation_ids: id must be positive whole numbers (below 2^32), one per observation of loglik",
         call. = FALSE)
  }
  if (!is_value(loglik)) {
    if (is.numeric(loglik) && length(loglik) == 1L) return(loglik)   # depends on no parameter
    stop(sprintf("observation_ids: loglik must be a log-likelihood (a femtograd value), got an object of class '%s'",
                 paste(class(loglik), collapse = "/")), call. = FALSE)
  }
  rust(fg_observation_ids(loglik, as.double(id)))
}
