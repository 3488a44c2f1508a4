# The formula interface of fit(), in bbmle::mle2's convention:
# `y ~ dnorm(mean = mu, sd = exp(log_sigma))` is the log-likelihood
# sum(dnorm(y, mean = mu, sd = exp(log_sigma), log = TRUE)) over the rows of
# `data`, and `parameters = list(mu ~ x1 + x2)` makes mu a linear predictor
# whose coefficients are parameters of their own (mu.(Intercept), mu.x1, ...).
# formula_model() turns all this into a plain log-likelihood function and a
# named start list, which fit() then fits as it fits any function; the model
# is kept on the fit for predict() and simulate() (R/formula-methods.R).

# Everything fit() needs from a formula: `loglik` (taking the parameters by
# name), `params` (the starts, submodel parameters expanded to one named
# element per model-matrix column), `nobs`, and what predict() and
# simulate() need (`density_call` and its `response_arg`, `submodels`,
# `data_env`, `env`).
formula_model <- function(formula, data, params, parameters, drop_unused_levels = TRUE) {
  if (length(formula) != 3L) {
    stop("fit: the formula needs a response and a density, e.g. y ~ dnorm(mean = mu, sd = sigma)", call. = FALSE)
  }
  env <- environment(formula) %||% globalenv()
  data <- formula_data(data)
  params <- formula_starts(params)
  submodel_formulas <- submodel_list(parameters, names(params))
  check_no_clash(names(params), names(data))

  # Rows with a missing value in a variable the model uses are left out, as
  # glm()'s default na.action = na.omit does.
  used <- intersect(formula_variables(formula, submodel_formulas), names(data))
  if (length(used)) data <- data[stats::complete.cases(data[used]), , drop = FALSE]
  data_env <- list2env(as.list(data), parent = env)

  response <- formula_response(formula[[2]], data, data_env)
  n <- length(response)
  density <- density_call(formula[[3]], formula[[2]], env)
  check_formula_variables(formula[[3]], names(params), names(data), env)
  unused <- setdiff(names(params), all.vars(formula[[3]]))
  if (length(unused)) {
    stop(sprintf("fit: parameter '%s' in params does not appear in the formula", unused[1]), call. = FALSE)
  }

  submodels <- lapply(names(submodel_formulas), function(name) {
    build_submodel(name, submodel_formulas[[name]], data, n, drop_unused_levels)
  })
  names(submodels) <- names(submodel_formulas)
  # An intercept-only submodel (mu ~ 1) is the scalar parameter itself, as in
  # mle2: no submodel, and the coefficient keeps the name mu.
  submodels <- Filter(Negate(is.null), submodels)
  for (name in names(submodels)) params[[name]] <- submodel_start(name, params[[name]], submodels[[name]])

  list(loglik = formula_loglik(density$call, submodels, data_env), params = params, nobs = n,
       formula = formula, density_name = density$name, density_call = density$call,
       response_arg = density$response_arg,
       submodels = submodels, data_env = data_env, env = env)
}

# The log-likelihood of the formula: the submodel parameters become their
# linear predictors, and the density is summed over the rows. Parameters are
# evaluated in an environment above the data, so `mu` is the parameter.
# Rows are weighted by the bootstrap's weights, as the kernels are (see
# with_kernel_weights()). While per_observation() asks for them, it returns
# the rows' log-densities instead of their sum, wrapped in a list so that no
# caller can take them for a log-likelihood.
formula_loglik <- function(call, submodels, data_env) {
  force(call)
  function(...) formula_rows_loglik(call, list(...), submodels, data_env)
}

# The log-likelihood of the rows in `data_env` at the parameters `p` (a
# named list), as formula_loglik() describes it.
formula_rows_loglik <- function(call, p, submodels, data_env) {
  for (name in names(submodels)) p[[name]] <- linear_predictor(submodels[[name]], p[[name]])
  rows <- eval(call, list2env(p, parent = data_env))
  weights <- kernel_weights$current
  if (!is.null(weights)) rows <- rows * as.double(weights)
  if (observation_request$on) return(list(per_observation = rows))
  sum(rows)
}

# The sandwich and the bootstrap need a log-likelihood's observations; the
# kernels report theirs to the engine, a formula's log-likelihood returns
# them when this flag is set (only for the one call per_observation() makes).
observation_request <- new.env(parent = emptyenv())
observation_request$on <- FALSE

# The per-observation log-likelihoods of `spec` at the free parameters
# `theta` (working scale) and the leaves they depend on, or NULL when the
# log-likelihood is not a formula's (it then ignores the request).
per_observation <- function(spec, theta) {
  observation_request$on <- TRUE
  on.exit(observation_request$on <- FALSE, add = TRUE)
  built <- build_parameters(spec, theta)
  out <- tryCatch(with_kernel_weights(spec$weights, spec$invoke(built$values)), error = function(e) NULL)
  if (!is.list(out) || is_value(out) || is.null(out$per_observation)) return(NULL)
  rows <- out$per_observation
  if (!is_value(rows)) rows <- new_value(as.double(rows), constant = TRUE, caller = "fit")
  list(output = rows, params = built$leaves)
}

# The n x p matrix of per-observation scores of a formula fit (the Jacobian
# of its rows' log-densities), or NULL for other log-likelihoods.
formula_observation_scores <- function(spec, theta) {
  rows <- per_observation(spec, theta)
  if (is.null(rows)) return(NULL)
  rust(fg_jacobian(rows$output, rows$params))
}

# X beta + offset, for a submodel's model matrix (and offset).
linear_predictor <- function(submodel, beta, X = submodel$X, offset = submodel$offset) {
  eta <- drop(X %*% beta)
  if (is.null(offset)) eta else eta + offset
}

formula_data <- function(data) {
  if (is.null(data)) return(data.frame())
  if (is.list(data) && !is.data.frame(data)) {
    data <- tryCatch(as.data.frame(data, optional = TRUE), error = function(e) {
      stop(sprintf("fit: data must be a data frame (or a list of columns of equal length): %s",
                   conditionMessage(e)), call. = FALSE)
    })
  }
  if (!is.data.frame(data)) {
    stop(sprintf("fit: data must be a data frame, got an object of class '%s'", paste(class(data), collapse = "/")),
         call. = FALSE)
  }
  data
}

formula_starts <- function(params) {
  if (is.numeric(params) && !is.list(params) && !is_value(params)) params <- as.list(params)
  if (!is.list(params) || length(params) == 0L || is.null(names(params)) || any(!nzchar(names(params)))) {
    stop("fit: with a formula, params must name every parameter, e.g. params = c(mu = 0, log_sigma = 0)",
         call. = FALSE)
  }
  params
}

# parameters = list(eta ~ x1 + x2, ...) (or one formula), by parameter name.
submodel_list <- function(parameters, param_names) {
  if (is.null(parameters)) return(list())
  if (inherits(parameters, "formula")) parameters <- list(parameters)
  if (!is.list(parameters) || !all(vapply(parameters, inherits, logical(1), "formula"))) {
    stop("fit: parameters must be a list of formulas such as list(eta ~ x1 + x2)", call. = FALSE)
  }
  out <- list()
  for (f in parameters) {
    if (length(f) != 3L || !is.name(f[[2]])) {
      stop(sprintf("fit: each formula in parameters needs one parameter name on its left, e.g. eta ~ x1 + x2; got %s",
                   deparse1(f)), call. = FALSE)
    }
    name <- as.character(f[[2]])
    if (!name %in% param_names) {
      stop(sprintf("fit: parameter '%s' in parameters= has no start value in params (give e.g. %s = 0)", name, name),
           call. = FALSE)
    }
    if (name %in% names(out)) stop(sprintf("fit: parameters= gives parameter '%s' twice", name), call. = FALSE)
    out[[name]] <- f
  }
  out
}

check_no_clash <- function(param_names, data_names) {
  clash <- intersect(param_names, data_names)
  if (length(clash)) {
    stop(sprintf("fit: '%s' is both a parameter and a column of data; rename one", clash[1]), call. = FALSE)
  }
}

formula_response <- function(lhs, data, data_env) {
  missing_columns <- setdiff(all.vars(lhs), names(data))
  if (ncol(data) > 0L && length(missing_columns)) {
    stop(sprintf("fit: the formula's response '%s' is not a column of data", missing_columns[1]), call. = FALSE)
  }
  response <- tryCatch(eval(lhs, data_env), error = function(e) {
    stop(sprintf("fit: the formula's response %s cannot be evaluated: %s", deparse1(lhs), conditionMessage(e)),
         call. = FALSE)
  })
  if (!is.numeric(response) && !is.logical(response) || length(response) == 0L) {
    stop(sprintf("fit: the formula's response %s must be numeric data", deparse1(lhs)), call. = FALSE)
  }
  if (ncol(data) > 0L && NROW(response) != nrow(data)) {
    stop(sprintf("fit: the formula's response %s has %s but data has %s", deparse1(lhs),
                 count_of(NROW(response), "value"), count_of(nrow(data), "row")), call. = FALSE)
  }
  response
}

# The right-hand side as the call fit() evaluates: the density function
# itself in place of its name, the response as its first argument, log = TRUE,
# every argument named (so simulate() can hand them to the r-function).
density_call <- function(rhs, lhs, env) {
  if (!is.call(rhs) || !is.name(rhs[[1]])) {
    stop(sprintf("fit: the right-hand side of the formula must call a density, e.g. dnorm(mean = mu, sd = sigma); got %s",
                 deparse1(rhs)), call. = FALSE)
  }
  name <- as.character(rhs[[1]])
  density <- find_density(name, env)
  arg_names <- names(formals(args(density)))
  if (!"log" %in% arg_names && !"..." %in% arg_names) {
    stop(sprintf("fit: the density %s has no log argument; fit() calls it with log = TRUE", name), call. = FALSE)
  }
  first <- arg_names[1]
  given <- names(as.list(rhs))[-1]
  if (any(c(first, "log") %in% given)) {
    stop(sprintf("fit: give %s neither %s (the formula's response) nor log (always TRUE)", name, first), call. = FALSE)
  }
  with_response <- as.call(c(list(rhs[[1]]), stats::setNames(list(lhs), first), as.list(rhs)[-1]))
  matched <- tryCatch(match.call(density, with_response), error = function(e) {
    stop(sprintf("fit: the arguments of %s do not match it: %s", deparse1(rhs), conditionMessage(e)), call. = FALSE)
  })
  matched$log <- TRUE
  matched[[1]] <- density
  list(name = name, call = matched, response_arg = first)
}

# The density named in the formula, as seen from its environment; stats'
# own d-functions become femtograd's, which also compute on values (so the
# formula works without library(femtograd)).
find_density <- function(name, env) {
  density <- get0(name, envir = env, mode = "function")
  if (is.null(density)) {
    stop(sprintf("fit: unknown density function '%s' (no function of that name is visible from the formula)", name),
         call. = FALSE)
  }
  ours <- get0(name, envir = asNamespace("femtograd"), mode = "function", inherits = FALSE)
  stats_version <- get0(name, envir = asNamespace("stats"), mode = "function", inherits = FALSE)
  if (!is.null(ours) && !is.null(stats_version) && identical(density, stats_version)) density <- ours
  density
}

# Every name the density's arguments use must be a parameter, a column of
# data or visible from the formula; otherwise the first evaluation would fail
# with R's "object not found", far from its cause.
check_formula_variables <- function(rhs, param_names, data_names, env) {
  for (v in setdiff(all.vars(rhs), c(param_names, data_names))) {
    if (!exists(v, envir = env)) {
      stop(sprintf("fit: '%s' in the formula is neither a parameter in params nor a column of data", v), call. = FALSE)
    }
  }
}

# The model matrix and offset of one submodel, built from data as
# model.matrix() and model.offset() do; NULL for an intercept-only one.
# `terms`, `xlevels` and `contrasts` rebuild the matrix on new data.
# Factor levels that do not occur in `data` are dropped, as glm() drops
# them, unless `drop_unused_levels` is FALSE (a sharded fit's prototype
# holds the levels of all shards, see formula_shards_model()).
build_submodel <- function(name, f, data, n, drop_unused_levels = TRUE) {
  rhs <- f[-2]   # one-sided: ~ x1 + x2, in f's environment
  built <- tryCatch({
    frame <- stats::model.frame(rhs, data = if (ncol(data)) data else NULL, na.action = stats::na.pass,
                                drop.unused.levels = drop_unused_levels)
    terms <- attr(frame, "terms")
    X <- stats::model.matrix(terms, frame)
    list(frame = frame, terms = terms, X = X)
  }, error = function(e) {
    stop(sprintf("fit: cannot build the model matrix of %s: %s", deparse1(f), conditionMessage(e)), call. = FALSE)
  })
  offset <- stats::model.offset(built$frame)
  terms <- built$terms
  if (length(attr(terms, "term.labels")) == 0L && attr(terms, "intercept") == 1L && is.null(offset)) return(NULL)
  if (nrow(built$X) != n) {
    stop(sprintf("fit: the model matrix of %s has %d rows but the response has %d", deparse1(f), nrow(built$X), n),
         call. = FALSE)
  }
  if (anyNA(built$X) || anyNA(offset)) {
    stop(sprintf("fit: the model matrix of %s has missing values", deparse1(f)), call. = FALSE)
  }
  list(name = name, formula = f, terms = terms, X = built$X, offset = offset,
       xlevels = stats::.getXlevels(terms, built$frame), contrasts = attr(built$X, "contrasts"))
}

# The start of a submodel parameter, one element per model-matrix column,
# named by the columns (so its coefficients are eta.(Intercept), eta.x1,
# ...). A single number starts the intercept there and the slopes at 0
# (every row's linear predictor is then that number), or, without an
# intercept, every coefficient, as mle2 does; a full vector is taken in
# column order, or by name if it names the columns.
submodel_start <- function(name, start, submodel) {
  columns <- colnames(submodel$X)
  p <- length(columns)
  if (!is.numeric(start) || is.matrix(start)) {
    stop(sprintf("fit: the start of parameter '%s' must be a number or a numeric vector", name), call. = FALSE)
  }
  if (length(start) == 1L && p > 1L) {
    has_intercept <- "(Intercept)" %in% columns
    start <- if (has_intercept) ifelse(columns == "(Intercept)", start, 0) else rep(start, p)
  } else if (length(start) != p) {
    stop(sprintf("fit: the start of parameter '%s' has %s; its submodel %s has %s (%s): give one number or %d",
                 name, count_of(length(start), "value"), deparse1(submodel$formula), count_of(p, "coefficient"),
                 paste(columns, collapse = ", "), p), call. = FALSE)
  } else if (!is.null(names(start))) {
    if (!setequal(names(start), columns)) {
      stop(sprintf("fit: the start of parameter '%s' names %s; its submodel's coefficients are %s", name,
                   paste(names(start), collapse = ", "), paste(columns, collapse = ", ")), call. = FALSE)
    }
    start <- start[columns]
  }
  stats::setNames(as.double(start), columns)
}
