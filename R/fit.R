# Maximum likelihood: fit() records the user's log-likelihood at each point
# the Rust optimiser asks for, and packs the result into a "femtofit".

#' Fit a model by maximum likelihood
#'
#' `fit()` maximises a log-likelihood written as a plain R function. The
#' optimiser runs in Rust; at each new point it calls back into R only to
#' record the log-likelihood, then takes exact gradients and Hessians from
#' the recorded graph. Standard errors come from the observed Fisher
#' information (the negative Hessian at the optimum).
#'
#' The default method, `"newton"`, uses the exact Hessian with a
#' backtracking line search; where the Hessian is not negative definite it
#' takes a safeguarded step (eigenvalues of the negative Hessian replaced by
#' their absolute values), so it converges from poor starts. Steps into
#' points where the log-likelihood is `NaN` or `-Inf` are shortened, not
#' fatal. `"bfgs"` and `"lbfgs"` use gradients only; `"gradient"` is plain
#' steepest ascent (slow; for teaching).
#'
#' @section Formula interface:
#' In the convention of `bbmle::mle2`, `loglik` may be a formula
#' `response ~ dfun(arg = expression, ...)`: `fit()` then maximises
#' `sum(dfun(response, arg = expression, ..., log = TRUE))`, the response
#' becoming the density's first argument, with the variables of `data`
#' (rows with a missing value in a variable of the model are left out, as
#' [glm()] does) and the parameters in `params` (every one of which must
#' appear in the formula) visible to the expressions. Any density that
#' computes on femtograd values may stand there: stats' `dnorm`, `dpois`,
#' `dbinom`, `dnbinom`, `dgamma`, ... (see [distribution-functions]), or a
#' function of the user's own with a `log` argument.
#'
#' `parameters = list(eta ~ x1 + x2)` makes the parameter `eta` a linear
#' predictor, `X %*% b` plus any `offset()` terms, with the model matrix
#' `X` built from `data` by [model.matrix()] (factors, interactions and
#' the rest of the formula language). Its coefficients are parameters named
#' `eta.(Intercept)`, `eta.x1`, `eta.x2` (as `mle2` names them); its start
#' in `params` is one number (the intercept's start, the other coefficients
#' starting at 0; without an intercept, every coefficient's) or a vector of
#' one value per coefficient (in column order, or named by the columns). An
#' intercept-only submodel (`eta ~ 1`) leaves `eta` a scalar parameter, as
#' in `mle2`. The number of observations is the number of rows used.
#' Formula fits have every method of other fits, and [predict()] (linear
#' predictors of the submodels) and [simulate()] (from the density's
#' r-function); see [predict.femtofit()].
#'
#' @section Observations:
#' `nobs()` (so [BIC()]) and the per-observation scores of sandwich
#' standard errors ([vcov.femtofit()]) need to know which observations the
#' log-likelihood covers. It is read as a sum of terms (through `+`, `-`
#' and `sum()` of single numbers), and each term that depends on the
#' parameters covers observations:
#' * a `loglik_*()` kernel (see [loglik]) or a `sum(d...(x, ..., log =
#'   TRUE))` over data covers one observation per data element;
#' * `sum()` of a vector computed from data, each element one observation's
#'   log-likelihood (a censored part,
#'   `sum(pnorm(q, mu, sigma, lower.tail = FALSE, log.p = TRUE))`), covers
#'   one per element; a sum over a vector with no data of its length in it
#'   (a penalty `sum(beta^2)`, a prior over a vector parameter) covers none;
#' * any other term (a penalty, `2 * loglik_normal(...)`) covers the
#'   observations of the kernels in it and has no per-observation scores.
#'
#' By default the terms cover observations of their own, disjoint from one
#' another: a censored model `loglik_normal(mu, sigma, x[!censored]) +
#' sum(pnorm(...))` has as many observations as `x` has elements, and the
#' same kernel over two halves of the data as many as over all of it. When
#' terms are parts of the same observations (a bivariate outcome: two
#' kernels over the same n subjects), tag each with [observation_ids()]:
#' every id is one observation, whose scores add up over the terms. A
#' log-likelihood with no such term (a loop over scalar operations) has
#' `nobs()` `NA` unless `nobs` is given. The formula interface counts the
#' rows of `data`.
#'
#' @section Data in shards:
#' With `shards`, the log-likelihood is a sum over data shards:
#' `loglik` takes one more argument, `data`, and is written for one shard
#' (`function(beta, data) loglik_logistic(beta, data$X, data$y)`); the
#' model's log-likelihood is its sum over the elements of `shards` (for
#' example `split(df, df$group)`). Without `cluster` the shards are
#' evaluated in turn in this process. With a cluster from the `parallel`
#' package (`parallel::makePSOCKcluster()`, `makeCluster()`, or
#' `parallelly::makeClusterPSOCK()`; local or on other machines), each
#' worker gets its shards once, when the fit starts (shard `i` goes to
#' worker `(i - 1) %% length(cluster) + 1`), records the log-likelihood of
#' each once and replays it; at each point the optimiser asks for, only the
#' parameters are sent, and each worker returns the sums of its shards'
#' values, gradients and Hessians, which the driver adds up. The result is
#' the same fit either way, and every method works on it: the sandwich's
#' meat (see [vcov.femtofit()]) is summed on the workers, and [bootstrap()]
#' resamples within shards. The workers must have femtograd installed (it
#' is attached there); `loglik` is sent to them with its enclosing
#' environment, so it should find everything but `data` there (not in the
#' global environment). The shards stay on the workers until the cluster is
#' stopped; later calls of methods on the fit use them, so the fit needs
#' its cluster running. A shard may also be a file path that `loglik`
#' reads (`function(beta, data) { s <- readRDS(data); ... }`): the data
#' then never pass through this process, and since the log-likelihood is
#' recorded once and replayed, each worker reads its files once per fit.
#'
#' Shards must be non-empty and alike (data frames with the same columns of
#' the same types, matrices with the same columns, lists with the same
#' elements); otherwise `fit()` stops before sending anything. An error in
#' a shard's log-likelihood stops the fit with an error naming the shard
#' and the worker (its host and process id); the cluster can be used
#' again. A worker that dies, or whose connection fails, stops the fit at
#' once with an error (class `femtograd_cluster_failure`) naming the
#' worker (its number in the cluster, host and process id) and the shards
#' it held; this session is not affected: stop the cluster, make a new one
#' and refit. An interrupt (Ctrl-C) while the workers evaluate stops the
#' fit as usual and interrupts the workers on this machine that are still
#' working (with SIGINT), so they are idle again; workers on other
#' machines finish the evaluation they are in. Every call to the workers
#' is tagged, and an answer to an earlier, interrupted call is discarded,
#' so the next fit on the same cluster never reads a stale result.
#'
#' A formula fit takes `shards = split(df, g)` in place of `data = df` and
#' is the formula fit of the shards' rows together: each shard's model
#' matrices are built where the shard is held, with the terms, factor
#' levels (those of all shards, in the order [rbind()] would give them)
#' and contrasts of the whole fit, so every shard has the same columns.
#' Such a fit has every method; [predict()] needs `newdata` (the rows stay
#' on the shards) and [simulate()] is not available.
#'
#' Case weights with shards are a list parallel to `shards`, one vector
#' per shard (`split(w, g)`; for a formula, one weight per row the shard
#' keeps after missing values are left out).
#'
#' @param loglik The log-likelihood: a function taking the parameters by name
#'   (`function(mu, log_sigma)`) or as one list (`function(p)`), and returning
#'   a scalar femtograd value; or a formula `y ~ dnorm(mean = mu, sd = sigma)`
#'   (see "Formula interface").
#' @param data For a formula: a data frame whose columns the formula and the
#'   submodels in `parameters` use.
#' @param parameters For a formula: linear submodels, a list of formulas
#'   `parameter ~ terms` such as `list(eta ~ x1 + f + offset(log(t)))`.
#' @param params Starting values: a named numeric vector (scalar parameters)
#'   or a named list of numeric vectors or matrices. The names are the
#'   parameters' names; an element of a vector parameter `beta` is labelled
#'   `beta1`, `beta2`, ... in `coef()` and elsewhere, or, when the start
#'   vector names its elements (`list(beta = c(a = 0, b = 0))`), `beta.a`,
#'   `beta.b`, as [base::unlist()] and `bbmle::mle2` name them. The prefix is kept
#'   also when `beta` is the only parameter, so that labels (as used by
#'   `fixed`, `confint(parm = )`, [profile()] and [wald_test()]) do not
#'   change when a parameter is added. Matrix elements are labelled by
#'   position. Without names (`params = c(0, 0)`) the parameters are called
#'   `p1`, `p2`, ... and given to `loglik`'s arguments in order (as one list
#'   if `loglik` takes a single argument and there are several).
#' @param shards A list of data shards (see "Data in shards"); `loglik`
#'   then takes an argument `data`, one shard. For a formula, a list of
#'   data frames with the same columns, in place of `data`.
#' @param cluster A cluster from the `parallel` package on which to evaluate
#'   the shards; `NULL` evaluates them in this process.
#' @param method One of `"newton"`, `"bfgs"`, `"lbfgs"`, `"gradient"`.
#' @param control A list of optimiser settings: `max_iter`, `gtol` (scaled
#'   gradient tolerance, default 1e-8), `ftol` (relative change in the
#'   log-likelihood, default 1e-12), `memory` (L-BFGS pairs, default 10),
#'   `max_halvings` (line-search shortenings, default 50), `replay`
#'   (`TRUE`, the default: `loglik` is recorded once and replayed in Rust at
#'   new points; `FALSE` calls it again at every point, which only costs
#'   time).
#' @param nobs Number of observations, for `BIC()` and `nobs()`. By default
#'   it is read from the terms of the log-likelihood (see "Observations");
#'   `NA` if none covers observations. With `weights`, the number of
#'   observations of non-zero weight, as for `glm()`.
#' @param random Names of parameters in `params` that are random effects
#'   (`random = "u"`): `loglik` then returns the joint log density
#'   log p(y | u, theta) + log p(u | theta), and the fit maximises the
#'   Laplace approximation of the marginal log-likelihood of the other
#'   parameters theta, log p(y, u_hat) - 1/2 log det H(u_hat) + q/2 log(2 pi),
#'   with u_hat maximising the joint density for each theta (Newton's
#'   method, warm-started) and H the negative Hessian in u. Its gradient and
#'   Hessian are exact (third and fourth derivatives of the joint density,
#'   from directional derivatives recorded as operations): no finite
#'   differences anywhere. The start values of `random` are the first
#'   modes. Densities (`dnorm()`, `dpois()`, ..., and `loglik_*()` calls
#'   except `loglik_zip()`, `loglik_zinb()`, `loglik_pareto()` and
#'   `loglik_betabinom()`) are recorded as their formulas. H's sparsity is
#'   read from the recording: random effects that never meet in a term
#'   (those of different groups) make independent blocks, factorised one by
#'   one, so tens of thousands of random intercepts are cheap; effects that
#'   all meet (crossed factors) make one dense block. [ranef()] gives the
#'   modes at the estimate with conditional standard errors; `logLik()` is
#'   the Laplace approximation; give `nobs` for `BIC()`.
#' @param weights Case weights: non-negative numbers, one per observation,
#'   multiplying each observation's log-likelihood (an integer weight is the
#'   same as repeating the observation that many times, for the estimates,
#'   the standard errors, the sandwich and the log-likelihood). They apply
#'   to the observations of the `loglik_*` kernels the function uses (all
#'   kernels must see the same observations; a sum of d-functions or
#'   another sum over data written in R is not weighted, so a
#'   log-likelihood with one, or without kernels, is an error), or to the
#'   rows of `data` in the formula interface. With `shards`, a list of such
#'   vectors, one per shard.
#' @return An object of class `femtofit`, with methods for [coef()],
#'   [vcov()], [se()], [confint()], [logLik()], [AIC()], [BIC()], [nobs()],
#'   [summary()], [print()] and [observed_info()]. Its elements `gradient`
#'   (at the optimum), `hessian`, `iterations`, `evaluations`,
#'   `recordings` (how often `loglik` was called: it is recorded once and
#'   replayed in Rust at the other points, unless a comparison or a number it
#'   read from a parameter changes there), `converged`, `message` and
#'   `method` hold the details; `working` is the fit on the
#'   optimiser's scale (see `transform`) and `transforms` describes the
#'   transforms used.
#' @examples
#' set.seed(42); x <- rnorm(200, mean = 5, sd = 2)
#' res <- fit(function(mu, log_sigma) loglik_normal(mu, exp(log_sigma), x),
#'            params = c(mu = 0, log_sigma = 0))
#' se(res)
#' summary(res)
#'
#' # a vector parameter: logistic regression
#' X <- cbind(1, matrix(rnorm(400), 200)); y <- rbinom(200, 1, plogis(X %*% c(-1, 1, 0.5)))
#' coef(fit(function(beta) loglik_logistic(beta, X, y), params = list(beta = rep(0, 3))))
#'
#' # a constrained parameter written on its natural scale
#' res <- fit(function(mu, sigma) loglik_normal(mu, sigma, x),
#'            params = c(mu = 0, sigma = 1), transform = list(sigma = "positive"))
#' coef(res); se(res)        # sigma and its standard error
#' coef(res$working)         # mu and log(sigma): the scale the optimiser used
#'
#' # the formula interface: a Poisson regression with a factor and an offset
#' d <- data.frame(x = rnorm(200), g = gl(2, 100, labels = c("ctl", "trt")),
#'                 exposure = runif(200, 1, 3))
#' d$y <- rpois(200, d$exposure * exp(0.5 + 0.3 * d$x + 0.4 * (d$g == "trt")))
#' pois <- fit(y ~ dpois(lambda = exp(eta)), data = d, params = list(eta = 0),
#'             parameters = list(eta ~ x + g + offset(log(exposure))))
#' coef(pois)   # eta.(Intercept), eta.x, eta.gtrt: glm(y ~ x + g + offset(log(exposure)), poisson)'s
#' predict(pois, newdata = data.frame(x = 0, g = "trt", exposure = 1))
#'
#' # data in shards: a log-likelihood written for one shard, summed over them
#' d <- data.frame(x = rnorm(300), region = gl(3, 100))
#' d$y <- rbinom(300, 1, plogis(-1 + d$x))
#' ll <- function(beta, data) loglik_logistic(beta, cbind(1, data$x), data$y)
#' sharded <- fit(ll, params = list(beta = c(0, 0)), shards = split(d, d$region))
#' se(sharded); se(sharded, type = "sandwich")
#' # the same model as a formula, with case weights per shard
#' w <- runif(300)
#' coef(fit(y ~ dbinom(size = 1, prob = plogis(eta)), params = list(eta = 0), parameters = list(eta ~ x),
#'          shards = split(d, d$region), weights = split(w, d$region)))
#' if (interactive()) {
#'   cl <- parallel::makePSOCKcluster(2)   # or machines: makePSOCKcluster(c("node1", "node2"))
#'   coef(fit(ll, params = list(beta = c(0, 0)), shards = split(d, d$region), cluster = cl))
#'   parallel::stopCluster(cl)
#' }
#'
#' # a named start vector names the coefficients
#' coef(fit(function(beta) loglik_logistic(beta, X, y), params = list(beta = c(a = 0, b = 0, c = 0))))
#' @param fixed Parameters held fixed at given values: a named numeric
#'   vector whose names are parameter names (the whole parameter) or element
#'   labels such as `beta2`. Fixed parameters stay in `coef()` but get no
#'   standard error, and do not count towards the degrees of freedom. Values
#'   of transformed parameters are on the natural scale and may lie on the
#'   boundary of their domain (a probability fixed at 0).
#' @param transform Constrained parameters: a named list whose names are
#'   parameter names and whose entries are `"positive"` (the parameter is
#'   `exp(u)`), `"probability"` (`sigmoid(u)`) or `bounded(lower, upper)`
#'   (`lower + (upper - lower) * sigmoid(u)`; see [bounded()]), with `u`
#'   unconstrained. The log-likelihood is written on the natural scale and
#'   receives the parameter as it is (`function(mu, sigma)`); the optimiser
#'   works on `u`.
#'   Start values in `params` (and values in `fixed`) are on the natural
#'   scale; a start value outside the domain is an error. A transform applies
#'   to every element of a vector or matrix parameter. `coef()` reports the
#'   natural scale, and `vcov()`, `se()` and `confint()` are carried over to
#'   it by the delta method (`V = D V_u D` with `D = diag(d theta / d u)` at
#'   the estimate), as are `hessian`, `gradient` and [observed_info()]. The
#'   fit on the working scale (estimates `u`, their covariance, Hessian and
#'   gradient) is the element `working`, itself a `femtofit` (with the same
#'   parameter names) that supports every method, [delta_method()] included.
#'   Without transforms `working` is a copy of the fit.
#' @export
fit <- function(loglik, params, method = c("newton", "bfgs", "lbfgs", "gradient"),
                control = list(), nobs = NULL, fixed = NULL, transform = NULL, data = NULL, parameters = NULL,
                shards = NULL, cluster = NULL, weights = NULL, random = NULL) {
  # (match.arg() costs a tenth of a small model's whole fit)
  method <- if (missing(method)) "newton" else match.arg(method)
  if (!is.null(random)) {
    if (!is.function(loglik) || !is.null(shards) || !is.null(cluster) || !is.null(weights) || !is.null(data)) {
      stop("fit: random effects go with a log-likelihood function (no formula, shards or weights yet)", call. = FALSE)
    }
    effects <- laplace_random(random, params, loglik)   # laplace.R
    if (any(names(fixed) %in% c(random, effects$layout$labels)) || any(names(transform) %in% random)) {
      stop("fit: random effects cannot be fixed or transformed", call. = FALSE)
    }
    spec <- fit_spec(loglik, effects$fixed_params, method, control, fixed, nobs, transform)
    spec$random <- effects
    return(run_fit(spec, start = spec$layout$start[spec$free], call = match.call()))
  }
  if (!is.null(shards) || !is.null(cluster)) {
    if (is.null(shards)) stop("fit: cluster goes with shards (a list of data shards the workers hold)", call. = FALSE)
    if (!is.null(data)) {
      stop("fit: give the data either as data (one data frame) or as shards (a list of them, e.g. split(df, g)), not both",
           call. = FALSE)
    }
    if (!inherits(loglik, "formula") && !is.null(parameters)) {
      stop("fit: parameters go with a formula (y ~ dnorm(mean = mu, sd = sigma)), not a function", call. = FALSE)
    }
    if (!is.list(control)) stop("fit: control must be a list", call. = FALSE)
    check_shards(shards)
    model <- NULL
    if (inherits(loglik, "formula")) {
      model <- formula_shards_model(loglik, shards, params, parameters)   # formula-shards.R
      loglik <- model$loglik
      params <- model$model$params
    }
    weights <- check_shard_weights(weights, shards, model$rows)   # shards.R
    backend <- shard_backend(loglik, shards, cluster, control$replay, prepare = model$prepare)
    spec <- fit_spec(bind_shard(loglik, NULL), params, method, control, fixed,
                     nobs %||% weighted_nobs(base::unlist(weights)) %||% model$model$nobs, transform, weights = weights,
                     shards = list(backend = backend, outer = NULL))
    out <- run_fit(spec, start = spec$layout$start[spec$free], call = match.call())
    if (!is.null(model)) {
      out$formula_model <- model$model
    } else if (!is.null(weights)) {
      sharded_observations(out, "fit", "weights apply to")   # as unsharded: weights reach the kernels only
    }
    return(out)
  }
  check_case_weights(weights)
  if (inherits(loglik, "formula")) {
    model <- formula_model(loglik, data, params, parameters)   # formula-fit.R
    if (!is.null(weights) && length(weights) != model$nobs) {
      stop(sprintf("fit: weights has length %d but the formula's data have %d rows (after removing missing values)",
                   length(weights), model$nobs), call. = FALSE)
    }
    spec <- fit_spec(model$loglik, model$params, method, control, fixed,
                     nobs %||% weighted_nobs(weights) %||% model$nobs, transform, weights = weights)
    out <- run_fit(spec, start = spec$layout$start[spec$free], call = match.call())
    out$formula_model <- model
    return(out)
  }
  if (!is.null(data) || !is.null(parameters)) {
    stop("fit: data and parameters go with a formula (y ~ dnorm(mean = mu, sd = sigma)), not a function", call. = FALSE)
  }
  spec <- fit_spec(loglik, params, method, control, fixed, nobs %||% weighted_nobs(weights), transform,
                   weights = weights)
  out <- run_fit(spec, start = spec$layout$start[spec$free], call = match.call())
  # the weights reach the loglik_* kernels only: a log-likelihood without
  # them would be fitted unweighted
  if (!is.null(weights)) {
    n <- resampled_observations(out, "fit", "weights apply to")
    # every kernel takes the weights; kernels over observations of their
    # own (see "Observations") each count their observations of non-zero weight
    if (is.null(nobs) && isTRUE(attr(n, "apart") > 1)) {
      out$nobs <- out$spec$nobs <- attr(n, "apart") * weighted_nobs(weights)
      if (!is.null(out$working)) out$working$nobs <- out$working$spec$nobs <- out$nobs
    }
  }
  out
}

# Case weights: non-negative numbers, one per observation, not all zero.
check_case_weights <- function(weights) {
  if (is.null(weights)) return(invisible(NULL))
  if (!is.numeric(weights) || is.object(weights) || length(weights) == 0L || anyNA(weights) ||
      any(!is.finite(weights)) || any(weights < 0) || all(weights == 0)) {
    stop("fit: weights must be finite non-negative numbers, one per observation, not all zero", call. = FALSE)
  }
  invisible(weights)
}

# nobs() of a weighted fit counts the observations of non-zero weight, as
# glm's does.
weighted_nobs <- function(weights) if (is.null(weights)) NULL else sum(weights > 0)

# Everything needed to (re)run a fit: refits for profiles, tests and the
# bootstrap change `fixed`, the starting point or the observation `weights`
# (NULL: unweighted; see with_kernel_weights()) and run the same spec.
# Fixed values and `start` are on the natural scale; the optimiser works on
# the free elements of the working scale (see R/transform.R).
# `recorded` is the function actually called (see with_arithmetic_shortcuts(),
# which refits call again: its rewritten bodies are cached, and a fit
# restored by readRDS gets one that reaches this session's engine).
# `shards` (NULL: none) makes the log-likelihood a sum over data shards
# held by workers, who evaluate it (see R/shards.R);
# `loglik` is then never called here, and `weights` is a list of each
# shard's observation weights.
fit_spec <- function(loglik, params, method, control, fixed = NULL, nobs = NULL, transform = NULL,
                     weights = NULL, recorded = with_arithmetic_shortcuts(loglik), shards = NULL) {
  if (!is.function(loglik)) stop("fit: loglik must be a function", call. = FALSE)
  if (!is.list(control)) stop("fit: control must be a list", call. = FALSE)
  if (!is.null(nobs) && !(is.numeric(nobs) && length(nobs) == 1L && is.finite(nobs) && nobs > 0 &&
                          nobs == round(nobs))) {
    stop("fit: nobs must be a single positive whole number", call. = FALSE)
  }
  layout <- parameter_layout(params)
  transforms <- parse_transforms(transform, layout)
  full <- layout$start
  free <- rep(TRUE, length(full))
  if (!is.null(fixed)) {
    nms <- names(fixed)
    if (!(is.numeric(fixed) || is.list(fixed)) || is.null(nms) || any(!nzchar(nms)) || anyDuplicated(nms)) {
      stop("fit: fixed must name each fixed parameter once, e.g. fixed = c(mu = 2)", call. = FALSE)
    }
  }
  for (name in names(fixed)) {
    at <- fixed_positions(name, layout)
    if (length(fixed[[name]]) != length(at)) {
      stop(sprintf("fit: fixed value for '%s' has length %d, the parameter has %s",
                   name, length(fixed[[name]]), count_of(length(at), "element")), call. = FALSE)
    }
    full[at] <- fixed[[name]]
    free[at] <- FALSE
  }
  if (!any(free)) stop("fit: every parameter is fixed; nothing to estimate", call. = FALSE)
  layout$start <- full
  check_domains(list(layout = layout, transforms = transforms), full, !free, "fixed")
  list(loglik = loglik, params = params, method = method, control = control, fixed = fixed,
       nobs = nobs, weights = weights, layout = layout, free = free,
       recorded = recorded, invoke = loglik_caller(recorded, layout$names, positional = layout$positional), transform = transform,
       transforms = transforms, shards = shards,
       identity_transforms = all(vapply(transforms, is_identity, logical(1))))
}

# TRUE when every parameter is free and on its natural scale: the optimiser's
# vector is then the parameters themselves, and the bookkeeping of fixed
# elements and transforms (which costs more than a small model's whole
# replayed fit) can be skipped.
is_plain_spec <- function(spec) !has_transforms(spec) && all(spec$free)

# Indices in the flattened parameter vector that `fixed[name]` refers to.
fixed_positions <- function(name, layout) {
  if (is.null(name) || !nzchar(name)) stop("fit: fixed must be a named numeric vector", call. = FALSE)
  if (name %in% layout$names) {
    end <- cumsum(layout$sizes)[match(name, layout$names)]
    return((end - layout$sizes[match(name, layout$names)] + 1L):end)
  }
  at <- match(name, layout$labels)
  if (is.na(at)) {
    stop(sprintf("fit: fixed names unknown parameter '%s' (parameters: %s)", name,
                 paste(layout$labels, collapse = ", ")), call. = FALSE)
  }
  at
}

# Runs the optimiser on the free parameters of `spec` from `start` (their
# natural-scale values; the optimiser starts from the working-scale ones).
run_fit <- function(spec, start, call = NULL) {
  # An interrupt (Ctrl-C) while R records the model would reach the engine
  # as one more failed evaluation, and refit loops (bootstrap, profiles)
  # would carry on. It is kept here and raised again once the engine has
  # returned, so the whole call stops as R's interrupts do.
  # Any other error is returned to the engine as a condition too (an R
  # error escaping into the engine's callback is printed on stderr and
  # comes back as extendr's "Evaluation error in lang!(...)"), and the
  # last one is kept so that the error fit() raises has its class.
  # A sharded log-likelihood is evaluated by the workers, which return its
  # value and derivatives as numbers (R/shards.R).
  interrupted <- NULL
  failure <- NULL
  laplace <- if (is_laplace(spec)) laplace_state(spec)
  evaluate <- if (is_sharded(spec)) {
    sharded_objective(spec)
  } else if (!is.null(laplace)) {
    laplace_objective(spec, laplace)
  } else {
    function(theta) record_loglik(spec, theta)
  }
  record <- function(...) {
    out <- tryCatch(evaluate(...), error = function(e) e, interrupt = function(e) {
      interrupted <<- e
      simpleError("interrupted")
    })
    if (inherits(out, "condition")) failure <<- out
    out
  }
  maximize <- if (is_sharded(spec) || !is.null(laplace)) fg_maximize_evaluated else fg_maximize
  opt <- maximize(record, working_start(spec, as.double(start)), spec$method, spec$control)
  if (!is.null(interrupted)) interrupt_again(interrupted)
  # a worker of the cluster died: its error says so itself
  if (inherits(opt, "extendr_error") && inherits(failure, "femtograd_cluster_failure")) stop(failure)
  if (inherits(opt, "extendr_error") && !is.null(failure) &&
      startsWith(opt$value, "fit: the log-likelihood function failed")) {
    failure$message <- opt$value
    failure$call <- NULL
    stop(failure)
  }
  opt <- rust(opt)
  if (is_sharded(spec)) opt <- sharded_outcome(spec, opt)
  if (!is.null(laplace)) {
    # the recordings of the joint density (not the optimiser's evaluations)
    opt <- c(opt[names(opt) != "recordings"], list(observations = NA_real_, saturated = list(),
                                                   recordings = laplace$recordings))
  }
  observations <- if (!is.null(spec$nobs)) as.numeric(spec$nobs) else opt$observations
  out <- new_femtofit(opt, spec, observations, call)
  if (!is.null(laplace)) out$random_effects <- laplace_effects(laplace, opt$par)
  out
}

# Signals an interrupt to the caller's handlers (tryCatch(interrupt = )),
# then returns to the top level, as an interrupt does.
interrupt_again <- function(condition) {
  signalCondition(condition)
  invokeRestart("abort")
}

# Records the log-likelihood at the free parameters `theta` (working
# scale, as the optimiser sees them), with the kernels weighted by
# `spec$weights`. Returns the output value and the leaves it is
# differentiated against, or an error condition for the optimiser to report.
record_loglik <- function(spec, theta) {
  built <- build_parameters(spec, theta)
  # (no weights to set or clear: the call itself, without with_kernel_weights()'s on.exit)
  unweighted <- is.null(spec$weights) && is.null(kernel_weights$current)
  out <- tryCatch(if (unweighted) spec$invoke(built$values) else with_kernel_weights(spec$weights, spec$invoke(built$values)),
                  error = function(e) e)
  if (inherits(out, "condition")) return(out)
  if (is.numeric(out) && !is_value(out) && length(out) == 1L) {
    out <- new_value(out, constant = TRUE, caller = "fit")   # does not depend on the parameters
  }
  if (!is_value(out) || length(out) != 1L) {
    return(simpleError(sprintf("loglik must return a scalar femtograd value, got %s",
                               if (is_value(out)) sprintf("a value of length %d", length(out))
                               else sprintf("an object of class '%s'", paste(class(out), collapse = "/")))))
  }
  list(output = out, params = built$leaves)
}

# The parameters as loglik receives them: a free parameter is a leaf u,
# passed through its transform T (the identity unless fit(transform = ) names
# it); a fixed one is a plain number (natural scale, never transformed); a
# vector with some elements fixed is S %*% T(u) + b0, with u the leaf of its
# free elements, S selecting their positions and b0 holding the fixed
# values, so derivatives flow to u only. `theta` holds the free elements on
# the working scale.
build_parameters <- function(spec, theta) {
  layout <- spec$layout
  if (is_plain_spec(spec)) {
    leaves <- if (isTRUE(layout$scalars)) {
      stats::setNames(lapply(as.double(theta), function(x) .Call(.native$scalar_leaf, x)), layout$names)
    } else {
      lapply(split_parameters(theta, layout), val)
    }
    return(list(values = leaves, leaves = unname(leaves)))
  }
  working <- rep(NA_real_, length(layout$start))
  working[spec$free] <- theta
  natural_parts <- split_parameters(layout$start, layout)
  working_parts <- split_parameters(working, layout)
  free_parts <- split_parameters(spec$free, layout)
  leaves <- list()
  values <- Map(function(name, natural, u, is_free) {
    tr <- spec$transforms[[name]]
    if (all(is_free)) {
      leaf <- val(u)
      leaves[[length(leaves) + 1L]] <<- leaf
      return(transform_forward(tr, leaf))
    }
    if (!any(is_free)) return(natural)
    leaf <- val(u[is_free])
    leaves[[length(leaves) + 1L]] <<- leaf
    S <- diag(length(natural))[, is_free, drop = FALSE]
    # S %*% gives a one-column matrix: the parameter gets its own shape back
    # (a vector stays a vector, so b[1] and length(b) mean what they did).
    combined <- S %*% transform_forward(tr, leaf) + as.vector(ifelse(is_free, 0, natural))
    if (is.matrix(natural)) matrix(combined, nrow(natural), ncol(natural)) else drop(combined)
  }, layout$names, natural_parts, working_parts, free_parts)
  list(values = stats::setNames(values, layout$names), leaves = leaves)
}

# The fit on the working scale, and from it (when there are transforms) the
# natural-scale one, which keeps the working fit as its element `working`.
new_femtofit <- function(opt, spec, observations, call) {
  working <- femtofit_object(opt, working_spec(spec), observations, call)
  if (!has_transforms(spec)) {
    out <- working
    out$working <- working
    return(out)
  }
  natural_femtofit(working, spec)
}

femtofit_object <- function(opt, spec, observations, call) {
  labels <- spec$layout$labels
  free_labels <- labels[spec$free]
  hessian <- opt$hessian
  if (!is.null(hessian)) dimnames(hessian) <- list(free_labels, free_labels)
  # NULL also when -H is singular to working precision, whose inverse
  # would be huge but finite numbers passing for standard errors
  free_vcov <- if (!is.null(hessian)) fg_covariance(-hessian)
  if (is.null(free_vcov)) {
    warning("fit: the Hessian at the optimum is not negative definite (singular or indefinite); ",
            "standard errors are NA", call. = FALSE)
    free_vcov <- matrix(NA_real_, sum(spec$free), sum(spec$free))
  }
  # Fixed parameters keep their rows and columns, as NA: they have no
  # sampling variance in this fit.
  vcov <- matrix(NA_real_, length(labels), length(labels), dimnames = list(labels, labels))
  vcov[spec$free, spec$free] <- free_vcov
  if (!opt$converged) {
    warning(sprintf("fit: the %s optimiser did not converge: %s", spec$method, opt$message), call. = FALSE)
  }
  warn_on_saturation(opt$saturated)
  coefficients <- spec$layout$start
  coefficients[spec$free] <- opt$par
  names(coefficients) <- labels
  gradient <- opt$gradient
  names(gradient) <- free_labels
  free <- spec$free
  names(free) <- labels
  structure(list(
    coefficients = coefficients,
    vcov = vcov,
    loglik = opt$value,
    gradient = gradient,
    hessian = hessian,
    iterations = opt$iterations,
    evaluations = opt$evaluations,
    recordings = opt$recordings,
    converged = opt$converged,
    message = opt$message,
    method = spec$method,
    nobs = observations,
    free = free,
    spec = spec,
    transforms = character(0),
    call = call
  ), class = "femtofit")
}

# Discrete kernels whose fitted probability of an observation is numerically
# 1 at the estimate (`saturated`: counts named by kernel, from the engine):
# the likelihood then keeps increasing as a parameter runs off to infinity
# (separation in a logistic regression, all-zero counts), and glm() warns.
warn_on_saturation <- function(saturated) {
  if (!length(saturated)) return(invisible(NULL))
  warning(sprintf(paste0("fit: fitted probabilities numerically 0 or 1 occurred (%s): the maximum lies at ",
                         "infinity or on the boundary of the parameter space (separation, in a regression), ",
                         "so standard errors, Wald intervals and tests are not valid"),
                  paste(sprintf("%s: %d observation%s", names(saturated), as.integer(base::unlist(saturated)),
                                ifelse(base::unlist(saturated) == 1, "", "s")), collapse = ", ")), call. = FALSE)
  invisible(NULL)
}

#' Refit a model with some parameters fixed or from another start
#'
#' Internal building block of profiles, tests and the bootstrap: runs the
#' optimiser again on the model of `object`, holding `fixed` (in addition to
#' what `object` already fixes), starting from `start` (named values; by
#' default the estimates of `object`), and with the kernels' observations
#' weighted by `weights` (by default those of `object`, normally none).
#' `fixed` and `start` are on the natural scale of `object` (that of
#' `coef(object)`), also for transformed parameters.
#' @noRd
refit <- function(object, fixed = NULL, start = NULL, method = NULL, weights = object$spec$weights) {
  spec <- object$spec
  all_fixed <- c(spec$fixed[setdiff(names(spec$fixed), names(fixed))], fixed)
  new_spec <- fit_spec(spec$loglik, spec$params, method %||% spec$method, spec$control, all_fixed, spec$nobs,
                       spec$transform, weights, shards = spec$shards)
  new_spec$random <- spec$random
  from <- stats::coef(object)
  if (!is.null(start)) from[names(start)] <- start
  new_spec$layout$start[new_spec$free] <- from[new_spec$free]
  run_fit(new_spec, start = from[new_spec$free], call = object$call)
}

`%||%` <- function(a, b) if (is.null(a)) b else a

# How the flat parameter vector the optimiser works on maps to the user's
# named parameters (with their shapes). Unnamed starts (params = c(0, 0))
# are named p1, p2, ... and `positional` says loglik takes them by position.
parameter_layout <- function(params) {
  if (is.numeric(params) && !is.object(params) && is.null(dim(params))) {
    nms <- names(params)
    # The usual start, c(mu = 0, log_sigma = 0): each element a scalar
    # parameter labelled by its name, without the general path's per-element
    # work (which costs more than a small model's whole replayed fit).
    if (length(params) > 0L && !is.null(nms) && all(nzchar(nms)) && !anyNA(nms) && !anyDuplicated(nms)) {
      n <- length(params)
      return(list(names = nms, shapes = stats::setNames(rep(list(1L), n), nms), sizes = stats::setNames(rep(1L, n), nms),
                  positional = FALSE, start = as.double(params), labels = nms, scalars = TRUE))
    }
    params <- as.list(params)
  }
  if (!is.list(params) || length(params) == 0L) {
    stop("fit: params must be a named numeric vector or a named list of numeric vectors/matrices", call. = FALSE)
  }
  nms <- names(params)
  positional <- is.null(nms)
  if (positional) nms <- paste0("p", seq_along(params))
  if (any(!nzchar(nms)) || anyDuplicated(nms)) {
    stop("fit: every parameter needs a distinct name, e.g. params = c(mu = 0, log_sigma = 0) ",
         "(or none, and loglik takes them by position)", call. = FALSE)
  }
  for (name in nms) {
    p <- params[[match(name, nms)]]
    if (!is.numeric(p) || is_value(p) || length(p) == 0L) {
      stop(sprintf("fit: parameter '%s' must be a non-empty numeric vector or matrix of starting values", name),
           call. = FALSE)
    }
  }
  shapes <- lapply(params, function(p) if (is.matrix(p)) dim(p) else length(p))
  sizes <- vapply(params, length, integer(1))
  list(names = nms, shapes = shapes, sizes = sizes, positional = positional,
       start = as.double(base::unlist(params, use.names = FALSE)),
       labels = element_labels(nms, sizes, Map(start_element_names, nms, params)),
       scalars = all(sizes == 1L) && !any(vapply(params, is.matrix, logical(1))))
}

# The names a start vector gives its elements (NULL: none, or a matrix,
# whose elements are labelled by position). Partly named vectors or repeated
# names would give labels that do not identify one element each.
start_element_names <- function(name, start) {
  element_names <- names(start)
  if (is.null(element_names) || is.matrix(start)) return(NULL)
  if (any(is.na(element_names) | !nzchar(element_names)) || anyDuplicated(element_names)) {
    stop(sprintf("fit: the start of parameter '%s' names some elements but not others, or repeats a name; ",
                 name), "name every element once or none", call. = FALSE)
  }
  element_names
}

split_parameters <- function(theta, layout) {
  if (isTRUE(layout$scalars)) return(stats::setNames(as.list(theta), layout$names))
  ends <- cumsum(layout$sizes)
  out <- Map(function(shape, end, size) {
    v <- theta[(end - size + 1L):end]
    if (length(shape) == 2L) matrix(v, shape[1], shape[2]) else v
  }, layout$shapes, ends, layout$sizes)
  stats::setNames(out, layout$names)
}

# loglik(mu, log_sigma) takes the parameters by name; loglik(p) with one
# argument that is not a parameter name takes them as a list. `caller` and
# `what` name the function and argument in the error (delta_method's g).
# With `subset`, a function whose arguments are all parameter names takes
# just those (delta_method(res, function(log_sigma) exp(log_sigma))).
loglik_caller <- function(loglik, names, caller = "fit", what = "loglik", subset = FALSE, positional = FALSE) {
  formal_names <- names(formals(loglik))
  # Unnamed starts: p1, p2, ... go to loglik's arguments in order, unless it
  # takes one argument and there are several (then they come as one list).
  if (positional && !all(names %in% formal_names) &&
      !(length(formal_names) == 1L && formal_names != "..." && length(names) > 1L)) {
    if (!"..." %in% formal_names && length(formal_names) < length(names)) {
      stop(sprintf("%s: params gives %d unnamed starting values but %s takes %d argument%s", caller,
                   length(names), what, length(formal_names), if (length(formal_names) == 1L) "" else "s"),
           call. = FALSE)
    }
    return(function(leaves) do.call(loglik, unname(leaves)))
  }
  by_name <- all(names %in% formal_names) || "..." %in% formal_names
  if (by_name) return(function(leaves) do.call(loglik, leaves))
  if (subset && length(formal_names) >= 1L && all(formal_names %in% names)) {
    return(function(leaves) do.call(loglik, leaves[formal_names]))
  }
  # Taking the parameters as one list needs exactly one argument without a
  # default; more means the names were meant to match and some do not.
  required <- formal_names[vapply(formals(loglik), function(f) identical(f, quote(expr = )), logical(1))]
  if (length(required) > 1L) {
    stop(sprintf("%s: parameter%s %s match%s no argument of %s (its arguments: %s)", caller,
                 if (sum(!names %in% formal_names) > 1L) "s" else "",
                 paste(setdiff(names, formal_names), collapse = ", "),
                 if (sum(!names %in% formal_names) > 1L) "" else "es", what, paste(formal_names, collapse = ", ")),
         call. = FALSE)
  }
  if (length(formal_names) >= 1L) return(function(leaves) loglik(leaves))
  stop(sprintf("%s: %s must take the parameters by name or as one list argument", caller, what), call. = FALSE)
}
