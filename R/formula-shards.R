# The formula interface over data shards: fit(y ~ dfun(...), shards =
# split(df, g), parameters = list(eta ~ x + f)) maximises the sum over the
# shards of the formula's log-likelihood of each shard's rows, which is
# the formula fit of the rows of all shards together. Each shard's model
# (its complete rows, model matrices and offsets) is built where the shard
# is held, once, when the fit starts (see shard_worker_load()); what makes
# the shards' models consistent is built here once: the terms, the factor
# levels (the union of those in the shards, as rbind() would combine them
# and model.frame() would then keep) and the contrasts.

# Everything fit() needs for a formula over shards: `model` (as
# formula_model() builds it, from a prototype of the shards, marked
# `sharded` and without the rows), `loglik` (the log-likelihood of one
# prepared shard, taking `data`), `prepare` (builds a shard's model where
# the shard is held) and `rows` (each shard's number of complete rows).
formula_shards_model <- function(formula, shards, params, parameters) {
  check_shards(shards)
  if (!all(vapply(shards, is.data.frame, logical(1)))) {
    stop("fit: with a formula, shards must be data frames, e.g. split(df, df$group)", call. = FALSE)
  }
  if (!inherits(formula, "formula") || length(formula) != 3L) {
    stop("fit: the formula needs a response and a density, e.g. y ~ dnorm(mean = mu, sd = sigma)", call. = FALSE)
  }
  submodel_formulas <- submodel_list(parameters, names(formula_starts(params)))
  used <- intersect(formula_variables(formula, submodel_formulas), names(shards[[1]]))
  complete <- lapply(shards, function(s) if (length(used)) stats::complete.cases(s[used]) else rep(TRUE, nrow(s)))
  rows <- vapply(complete, sum, numeric(1))
  for (k in which(rows == 0)) {
    stop(sprintf("fit: %s has no rows without missing values in the model's variables (%s)", shard_label(shards, k),
                 paste(used, collapse = ", ")), call. = FALSE)
  }
  prototype <- shards[[1]][complete[[1]], , drop = FALSE]
  for (v in used) {
    if (is.factor(prototype[[v]]) || is.character(prototype[[v]])) {
      prototype[[v]] <- factor(prototype[[v]], levels = shard_levels(shards, complete, v),
                               ordered = is.ordered(prototype[[v]]))
    }
  }
  model <- formula_model(formula, prototype, params, parameters, drop_unused_levels = FALSE)
  recipe <- list(used = used, env = model$env, submodels = lapply(model$submodels, function(s) {
    c(s[c("name", "formula", "terms", "xlevels", "contrasts")], list(columns = colnames(s$X)))
  }))
  # what predict() and simulate() keep: the rows stay on the shards
  model$sharded <- TRUE
  model$nobs <- sum(rows)
  model$data_env <- NULL
  for (name in names(model$submodels)) {
    model$submodels[[name]]$X <- model$submodels[[name]]$X[0, , drop = FALSE]
    model$submodels[[name]]$offset <- NULL
  }
  list(model = model, loglik = formula_shard_loglik(model$density_call), prepare = formula_shard_preparer(recipe),
       rows = rows)
}

# The variables of the formula and of its submodels.
formula_variables <- function(formula, submodel_formulas) {
  unique(c(all.vars(formula), base::unlist(lapply(submodel_formulas, function(f) all.vars(f[[3]])))))
}

# The levels of variable `v` over the complete rows of all shards, as the
# formula fit of their rbind() sees them: for factors, the levels of each
# shard in turn (rbind()'s order) that occur in some shard; for character
# variables, the sorted values (factor()'s order).
shard_levels <- function(shards, complete, v) {
  present <- unique(base::unlist(lapply(seq_along(shards), function(k) {
    x <- shards[[k]][[v]][complete[[k]]]
    if (is.factor(x)) levels(droplevels(x)) else unique(x)
  })))
  if (is.factor(shards[[1]][[v]])) {
    all_levels <- unique(base::unlist(lapply(shards, function(s) levels(s[[v]]))))
    return(all_levels[all_levels %in% present])
  }
  sort(present)
}

# The log-likelihood of one prepared shard (see formula_shard_data()).
formula_shard_loglik <- function(call) {
  force(call)
  function(..., data) formula_rows_loglik(call, list(...), data$submodels, data$data_env)
}

# The function that prepares a shard where it is held. Made here, so that
# it carries only `recipe` (the terms, levels and contrasts) with it.
formula_shard_preparer <- function(recipe) {
  force(recipe)
  function(shard) formula_shard_data(shard, recipe)
}

# One shard's rows as the formula's log-likelihood uses them: the complete
# rows (in the model's variables) as variables, and each submodel's model
# matrix and offset, built with the levels and contrasts of the whole fit.
formula_shard_data <- function(shard, recipe) {
  if (length(recipe$used)) shard <- shard[stats::complete.cases(shard[recipe$used]), , drop = FALSE]
  submodels <- lapply(recipe$submodels, function(submodel) {
    design <- submodel_design(submodel, shard, caller = "fit", what = "the shard")
    if (!identical(colnames(design$X), submodel$columns)) {
      stop(sprintf("fit: the model matrix of %s on this shard has columns %s, not %s", deparse1(submodel$formula),
                   paste(colnames(design$X), collapse = ", "), paste(submodel$columns, collapse = ", ")), call. = FALSE)
    }
    list(name = submodel$name, X = design$X, offset = design$offset)
  })
  list(data_env = list2env(as.list(shard), parent = recipe$env), submodels = submodels)
}
