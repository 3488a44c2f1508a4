# predict() and simulate() for fits of a formula (see R/formula-fit.R):
# both need the model the formula described, which fit() keeps on the
# femtofit as `formula_model`.

#' Predictions and simulations from a formula fit
#'
#' For a model fitted with the formula interface of [fit()],
#' `predict()` gives the linear predictor of each submodel parameter (those
#' given in `parameters = list(eta ~ x1 + x2)`), \eqn{X \hat\beta} plus any
#' `offset()`, on the data of the fit or on `newdata` (factors keep the
#' levels and contrasts of the fit, as [stats::predict.glm()] with
#' `type = "link"` does). With `se.fit = TRUE` it also gives the standard
#' errors \eqn{\sqrt{x' V x}} from the covariance `vcov(object)` of that
#' parameter's coefficients (fixed coefficients contribute no variance).
#'
#' `simulate()` draws `nsim` new responses from the fitted model: the
#' density's arguments are evaluated at the estimates, and the matching
#' random-number function (`rnorm` for `dnorm`, `rpois` for `dpois`, ...;
#' `r` in place of the density name's leading `d`) is called with them.
#' As with [stats::simulate()], `seed` (or `set.seed()` before the call)
#' makes the draws reproducible.
#'
#' @param object A `femtofit` from `fit(formula, data = , params = )`.
#' @param newdata A data frame holding the variables of the submodels; by
#'   default the data of the fit (rows with missing values left out).
#' @param parameter Names of the submodel parameters to predict; all by
#'   default.
#' @param se.fit Also return standard errors.
#' @param nsim Number of simulated responses.
#' @param seed `NULL`, or a seed for [set.seed()] used for these draws only
#'   (the random number generator's state is restored afterwards).
#' @param ... Unused.
#' @return `predict()`: for one parameter a numeric vector (one value per
#'   row), for several a matrix with a column per parameter; with
#'   `se.fit = TRUE` a list with `fit` and `se.fit` of those shapes.
#'   `simulate()`: a data frame with one column per simulation (`sim_1`,
#'   `sim_2`, ...) and one row per observation, with attribute `seed` as
#'   [stats::simulate()] gives it.
#' @examples
#' set.seed(1)
#' d <- data.frame(x = rnorm(100), exposure = runif(100, 1, 5))
#' d$y <- rpois(100, d$exposure * exp(0.5 + 0.3 * d$x))
#' res <- fit(y ~ dpois(lambda = exp(eta)), data = d, params = list(eta = 0),
#'            parameters = list(eta ~ x + offset(log(exposure))))
#' predict(res, newdata = data.frame(x = c(-1, 0, 1), exposure = 1))
#' predict(res, newdata = data.frame(x = 0, exposure = 2), se.fit = TRUE)
#' head(simulate(res, nsim = 3, seed = 42))
#' @name formula-predict
NULL

#' @rdname formula-predict
#' @importFrom stats predict
#' @export
predict.femtofit <- function(object, newdata = NULL, parameter = NULL, se.fit = FALSE, ...) {
  model <- object$formula_model
  if (is.null(model) || !length(model$submodels)) {
    stop("predict: only fits of a formula with linear submodels (parameters = list(eta ~ x)) have predictions",
         call. = FALSE)
  }
  available <- names(model$submodels)
  parameter <- parameter %||% available
  unknown <- setdiff(parameter, available)
  if (!is.character(parameter) || length(unknown)) {
    stop(sprintf("predict: parameter must name submodel parameters (%s), got %s", paste(available, collapse = ", "),
                 paste(if (is.character(parameter)) unknown else deparse1(parameter), collapse = ", ")), call. = FALSE)
  }
  if (!isTRUE(se.fit) && !isFALSE(se.fit)) stop("predict: se.fit must be TRUE or FALSE", call. = FALSE)
  if (is.null(newdata) && isTRUE(model$sharded)) {
    stop("predict: the rows of a fit over shards stay on the shards; give newdata (e.g. one shard)", call. = FALSE)
  }
  parts <- lapply(model$submodels[parameter], function(submodel) {
    design <- if (is.null(newdata)) submodel[c("X", "offset")] else submodel_design(submodel, newdata)
    labels <- paste0(submodel$name, ".", colnames(submodel$X))
    beta <- stats::coef(object)[labels]
    out <- list(fit = linear_predictor(submodel, beta, design$X, design$offset))
    if (se.fit) {
      V <- stats::vcov(object)[labels, labels, drop = FALSE]
      V[!object$free[labels], ] <- 0   # fixed coefficients: no sampling variance
      V[, !object$free[labels]] <- 0
      out$se.fit <- sqrt(rowSums((design$X %*% V) * design$X))
    }
    lapply(out, function(v) stats::setNames(as.vector(v), rownames(design$X)))
  })
  collect <- function(what) {
    if (length(parts) == 1L) return(parts[[1]][[what]])
    do.call(cbind, lapply(parts, `[[`, what))
  }
  if (se.fit) list(fit = collect("fit"), se.fit = collect("se.fit")) else collect("fit")
}

# The model matrix and offset of a submodel on new data, with the fit's
# factor levels and contrasts (as predict.lm builds them). `caller` and
# `what` word the errors (a sharded fit builds its shards' models so).
submodel_design <- function(submodel, newdata, caller = "predict", what = "newdata") {
  if (!is.data.frame(newdata) && !is.list(newdata)) {
    stop(sprintf("%s: %s must be a data frame", caller, what), call. = FALSE)
  }
  tryCatch({
    terms <- stats::delete.response(submodel$terms)
    frame <- stats::model.frame(terms, newdata, na.action = stats::na.pass, xlev = submodel$xlevels)
    X <- stats::model.matrix(terms, frame, contrasts.arg = submodel$contrasts)
    list(X = X, offset = stats::model.offset(frame))
  }, error = function(e) {
    stop(sprintf("%s: cannot build the model matrix of %s from %s: %s", caller, deparse1(submodel$formula), what,
                 conditionMessage(e)), call. = FALSE)
  })
}

#' @rdname formula-predict
#' @importFrom stats simulate
#' @export
simulate.femtofit <- function(object, nsim = 1, seed = NULL, ...) {
  model <- object$formula_model
  if (is.null(model)) {
    stop("simulate: only fits of a formula (y ~ dnorm(mean = mu, sd = sigma)) can be simulated from", call. = FALSE)
  }
  if (isTRUE(model$sharded)) {
    stop("simulate: the rows of a fit over shards stay on the shards, so it cannot be simulated from", call. = FALSE)
  }
  if (!is.numeric(nsim) || length(nsim) != 1L || is.na(nsim) || nsim < 1 || nsim != round(nsim)) {
    stop("simulate: nsim must be a positive whole number", call. = FALSE)
  }
  random_name <- sub("^d", "r", model$density_name)
  random <- if (startsWith(model$density_name, "d")) get0(random_name, envir = model$env, mode = "function")
  if (is.null(random)) {
    stop(sprintf("simulate: the density %s has no random-number function %s", model$density_name, random_name),
         call. = FALSE)
  }
  arguments <- density_arguments_at_estimate(object, model)
  accepted <- names(formals(args(random)))
  unknown <- setdiff(names(arguments), accepted)
  if (length(unknown) && !"..." %in% accepted) {
    stop(sprintf("simulate: %s has no argument %s, which %s was given", random_name, unknown[1], model$density_name),
         call. = FALSE)
  }
  state <- use_seed(seed)
  if (!is.null(state$restore)) on.exit(state$restore(), add = TRUE)
  n <- model$nobs
  # One call for all simulations: the arguments (one value per row, or one
  # value) recycle over the n * nsim draws row by row.
  draws <- do.call(random, c(list(n * nsim), arguments))
  out <- as.data.frame(matrix(draws, n, nsim, dimnames = list(NULL, paste0("sim_", seq_len(nsim)))))
  attr(out, "seed") <- state$seed
  out
}

# The density's arguments other than the response and log, evaluated (as
# plain numbers) at the estimates, submodel parameters as their linear
# predictors.
density_arguments_at_estimate <- function(object, model) {
  spec <- object$spec
  values <- split_parameters(unname(stats::coef(object)), spec$layout)
  for (name in names(model$submodels)) values[[name]] <- linear_predictor(model$submodels[[name]], values[[name]])
  env <- list2env(values, parent = model$data_env)
  call <- as.list(model$density_call)[-1]
  call[[model$response_arg]] <- NULL
  call$log <- NULL
  lapply(call, eval, envir = env)
}

# Seeds the generator as stats::simulate() does: a given seed is used for
# these draws only, and the value returned is what attr(, "seed") holds.
use_seed <- function(seed) {
  if (!exists(".Random.seed", envir = globalenv(), inherits = FALSE)) stats::runif(1)
  if (is.null(seed)) return(list(seed = get(".Random.seed", envir = globalenv())))
  previous <- get(".Random.seed", envir = globalenv())
  set.seed(seed)
  list(seed = structure(seed, kind = as.list(RNGkind())),
       restore = function() assign(".Random.seed", previous, envir = globalenv()))
}
