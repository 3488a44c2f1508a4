# Log-likelihoods summed over data shards: fit(loglik, params, shards = ,
# cluster = ). The shards stay where they were sent when the fit started (on
# the workers of a `parallel` cluster, or in this process without one); at
# each point the optimiser asks for, the driver broadcasts the parameters,
# every worker records (once, then replays) the log-likelihood of each of
# its shards and returns the sums of their values, gradients and Hessians,
# and the driver adds those up. The sums go into the same optimiser
# (fg_maximize_evaluated) and the same femtofit as an unsharded fit.
#
# The driver's spec of a sharded fit is an ordinary spec (fit_spec()) whose
# `shards` element holds the backend (an environment: fit id, cluster, which
# shards each worker holds) and, for the working-scale spec of a fit with
# transforms, the natural scale's transforms (`outer`). What a worker needs
# to rebuild that spec for each of its shards (the parameters, fixed values,
# transforms and each shard's observation weights) is sent once per spec
# (shard_configure()), never with each evaluation.

# Worker side --------------------------------------------------------------

# The state of each sharded fit in this process, by fit id: the user's
# log-likelihood, this worker's shards and their positions in the fit's list
# of shards, and per shard the spec and the recording of the last point.
shard_registry <- new.env(parent = emptyenv())

# The one function the driver calls on a worker (or in this process):
# `what` is "load", "configure", "evaluate", "meat", "observations" or
# "summary". It never raises an error: failures come back as
# list(ok = FALSE, shard, message, host, pid) for the driver to report. On
# a worker, an interrupt (the driver interrupts its local workers when it
# is itself interrupted, see cluster_abandon()) ends the request, and is
# answered; `in_process`, it is the user's and goes on to the caller.
shard_worker <- function(id, what, ..., in_process = FALSE) {
  shard_current$shard <- NA_integer_
  result <- tryCatch({
    if (what == "load") {
      shard_worker_load(id, ...)
    } else {
      state <- shard_registry[[id]]
      if (is.null(state)) {
        stop("this worker holds no shards of the fit (it was restarted, or is not the cluster the fit was started on)",
             call. = FALSE)
      }
      if (what == "configure") {
        shard_worker_configure(state, ...)
      } else {
        per_shard <- lapply(seq_along(state$shards), function(k) {
          shard_current$shard <- state$indices[k]
          shard_worker_one(state, k, what, ...)
        })
        shard_current$shard <- NA_integer_
        shard_worker_combine(what, per_shard)
      }
    }
  }, error = function(e) structure(list(message = conditionMessage(e)), class = "shard_failure"),
  interrupt = function(e) if (in_process) e else structure(list(message = "interrupted"), class = "shard_failure"))
  if (inherits(result, "interrupt")) interrupt_again(result)
  if (inherits(result, "shard_failure")) {
    return(list(ok = FALSE, shard = shard_current$shard, message = result$message,
                host = Sys.info()[["nodename"]], pid = Sys.getpid()))
  }
  list(ok = TRUE, result = result)
}

# The shard a worker is working on, for its error messages.
shard_current <- new.env(parent = emptyenv())
shard_current$shard <- NA_integer_

# Stores this worker's shards; `loglik` is the user's, taking `data`.
# `prepare` (NULL: none) turns each shard into the `data` loglik takes (a
# formula fit builds its shard's model matrices here, once). On a
# cluster's worker (`attach`), femtograd is attached, since the
# log-likelihood may call its functions unqualified, as it does in the
# user's session. Answers with this process's host and pid.
shard_worker_load <- function(id, loglik, shards, indices, replay, attach, prepare = NULL) {
  if (attach && !"package:femtograd" %in% search()) attachNamespace("femtograd")
  if (!is.null(prepare)) {
    shards <- lapply(seq_along(shards), function(k) {
      shard_current$shard <- indices[k]
      prepare(shards[[k]])
    })
    shard_current$shard <- NA_integer_
  }
  bound <- lapply(shards, function(shard) bind_shard(loglik, shard))
  assign(id, new.env(parent = emptyenv()), envir = shard_registry)
  state <- shard_registry[[id]]
  state$shards <- bound
  state$indices <- indices
  state$replay <- replay
  state$specs <- vector("list", length(bound))
  state$recordings <- vector("list", length(bound))
  state$recorded <- numeric(length(bound))
  list(host = Sys.info()[["nodename"]], pid = Sys.getpid())
}

# The user's log-likelihood with `data` bound to one shard (as the default
# of its `data` argument, so fit_spec() sees the arguments it takes the
# parameters by exactly as in an unsharded fit).
bind_shard <- function(loglik, shard) {
  formals(loglik)["data"] <- list(shard)
  loglik
}

# Rebuilds, for each shard, the spec the driver describes in `desc`
# (see shard_description()), with that shard's observation weights.
shard_worker_configure <- function(state, desc, weights) {
  for (k in seq_along(state$shards)) {
    loglik <- state$shards[[k]]
    if (!is.null(desc$outer)) {
      natural <- loglik_caller(with_arithmetic_shortcuts(loglik), desc$outer$names, positional = desc$outer$positional)
      loglik <- working_loglik(natural, desc$outer$transforms)
    }
    state$specs[[k]] <- fit_spec(loglik, desc$params, "newton", list(), desc$fixed, NULL, desc$transform,
                                 weights = weights[[k]])
    state$recordings[k] <- list(NULL)
  }
  state$recorded[] <- 0
  TRUE
}

# Shard k's log-likelihood recorded at `theta` (working scale): the
# recording of the last point replayed there, or a new one.
shard_recording <- function(state, k, theta) {
  slot <- state$recordings[[k]]
  if (!is.null(slot)) {
    if (identical(slot$at, theta)) return(slot$recording)
    if (state$replay && isTRUE(rust(fg_replay(slot$recording$output, slot$recording$params, theta)))) {
      state$recordings[[k]] <- list(at = theta, recording = slot$recording)
      return(slot$recording)
    }
  }
  state$recordings[k] <- list(NULL)
  recording <- record_loglik(state$specs[[k]], theta)
  if (inherits(recording, "condition")) stop(conditionMessage(recording), call. = FALSE)
  state$recorded[k] <- state$recorded[k] + 1
  state$recordings[[k]] <- list(at = theta, recording = recording)
  recording
}

shard_worker_one <- function(state, k, what, theta, order = 2L) {
  theta <- as.double(theta)
  rec <- shard_recording(state, k, theta)
  switch(what,
    evaluate = {
      # numbers_to_show(): reading the value with value_of() would be a
      # guard, and the next replay would fail it
      if (order == 0L) return(list(value = as.double(numbers_to_show(rec$output))))
      rust(if (order == 1L) fg_gradient(rec$output, rec$params) else fg_hessian(rec$output, rec$params))
    },
    meat = {
      scores <- fg_observation_scores(rec$output, rec$params)
      if (inherits(scores, "extendr_error")) {
        # a formula's log-likelihood: its rows are the observations
        scores <- formula_observation_scores(state$specs[[k]], theta) %||% scores
      }
      if (inherits(scores, "extendr_error")) {
        stop(sprintf(paste0("sandwich standard errors need a log-likelihood that is a sum of terms with ",
                       "per-observation scores: loglik_* kernels and sums over data (see \"Observations\" in ?fit; %s)"),
                     sub("^observation_scores: ", "", scores$value)), call. = FALSE)
      }
      # with case weights the scores are w_i s_i, and the meat sum w_i s_i s_i'
      # (as in vcov.femtofit())
      w <- state$specs[[k]]$weights
      if (!is.null(w)) scores <- scores[w > 0, , drop = FALSE] / sqrt(w[w > 0])
      list(meat = crossprod(scores))
    },
    observations = {
      counts <- rust(fg_kernel_observations(rec$output))
      if (length(counts) == 0L) {
        rows <- per_observation(state$specs[[k]], theta)   # a formula's rows
        if (!is.null(rows)) counts <- c(rows = length(rows$output))
      }
      list(counts = counts)
    },
    summary = c(rust(fg_observation_summary(rec$output)), recordings = state$recorded[k]),
    stop(sprintf("unknown request '%s'", what), call. = FALSE))
}

# A worker's answer: sums over its shards for evaluations and the meat, one
# entry per shard otherwise. `recorded` counts the recordings so far.
shard_worker_combine <- function(what, per_shard) {
  if (what %in% c("evaluate", "meat")) {
    out <- per_shard[[1]]
    for (part in per_shard[-1]) for (name in names(out)) out[[name]] <- out[[name]] + part[[name]]
    return(out)
  }
  per_shard
}

# Driver side --------------------------------------------------------------

shard_fit_counter <- new.env(parent = emptyenv())
shard_fit_counter$n <- 0

# Checks the shards and the cluster, sends each worker its shards (or keeps
# them in this process) and returns the backend. `replay` is
# control$replay; `prepare` (NULL: none) is applied to each shard where it
# is held (see shard_worker_load()).
shard_backend <- function(loglik, shards, cluster, replay = TRUE, prepare = NULL) {
  if (!is.function(loglik) || !"data" %in% names(formals(loglik))) {
    stop("fit: with shards, loglik must be a function with an argument `data` (one shard's data), ",
         "e.g. function(beta, data) loglik_logistic(beta, data$X, data$y)", call. = FALSE)
  }
  check_shards(shards)
  if (!is.null(cluster) && !inherits(cluster, "cluster")) {
    stop(sprintf("fit: cluster must be a cluster from parallel::makeCluster() (or parallelly), got an object of class '%s'",
                 paste(class(cluster), collapse = "/")), call. = FALSE)
  }
  if (!is.null(replay) && !(isTRUE(replay) || isFALSE(replay))) {
    stop("fit: control$replay must be TRUE or FALSE", call. = FALSE)
  }
  shard_fit_counter$n <- shard_fit_counter$n + 1
  id <- sprintf("%s-%d-%.0f-%d", Sys.info()[["nodename"]], Sys.getpid(), as.numeric(Sys.time()) * 1e6,
                shard_fit_counter$n)
  workers <- if (is.null(cluster)) 1L else length(cluster)
  # Shard i goes to worker (i - 1) %% workers + 1: several shards per worker
  # are fine, a worker without a shard is idle (and never called).
  owner <- (seq_along(shards) - 1L) %% workers + 1L
  backend <- new.env(parent = emptyenv())
  backend$id <- id
  backend$cluster <- cluster
  backend$owner <- owner
  backend$nodes <- sort(unique(owner))
  backend$n_shards <- length(shards)
  backend$configured <- NULL
  # host and pid of each worker, from its answer to the load
  backend$hosts <- rep(NA_character_, workers)
  backend$pids <- rep(NA_integer_, workers)
  per_worker <- lapply(seq_len(workers), function(w) {
    list(shards = unname(shards[owner == w]), indices = which(owner == w))
  })
  if (is.null(cluster)) {
    reg.finalizer(backend, function(e) if (exists(e$id, envir = shard_registry, inherits = FALSE)) {
      rm(list = e$id, envir = shard_registry)
    })
  }
  loaded <- shard_send(backend, "load", loglik = loglik, per_worker = per_worker, replay = !isFALSE(replay),
                       attach = !is.null(cluster), prepare = prepare, caller = "fit")
  if (!is.null(cluster)) {
    backend$hosts[backend$nodes] <- vapply(loaded, function(l) as.character(l$host), character(1))
    backend$pids[backend$nodes] <- vapply(loaded, function(l) as.integer(l$pid), integer(1))
  }
  backend
}

# Shards must be a non-empty list of non-empty shards of one layout (data
# frames with the same columns, matrices with the same columns, lists with
# the same elements, vectors of one type), checked before anything is sent.
check_shards <- function(shards) {
  if (is.data.frame(shards) || !is.list(shards) || length(shards) == 0L) {
    stop("fit: shards must be a non-empty list of data shards, e.g. split(df, df$group) ",
         "(a single data frame is one shard: list(df))", call. = FALSE)
  }
  layout <- function(s) {
    if (is.data.frame(s)) return(list(kind = "data frame", columns = names(s), classes = lapply(s, class)))
    if (is.matrix(s)) return(list(kind = "matrix", columns = colnames(s) %||% ncol(s), classes = typeof(s)))
    if (is.list(s)) return(list(kind = "list", columns = names(s), classes = lapply(s, class)))
    list(kind = "vector", columns = NULL, classes = typeof(s))
  }
  describe <- function(l) {
    if (is.null(l$columns) || is.numeric(l$columns)) {
      return(sprintf("a %s%s", l$kind, if (is.numeric(l$columns)) sprintf(" of %d columns", l$columns) else ""))
    }
    sprintf("a %s with %s %s", l$kind, if (l$kind == "list") "elements" else "columns",
            paste(l$columns, collapse = ", "))
  }
  first <- layout(shards[[1]])
  for (i in seq_along(shards)) {
    s <- shards[[i]]
    label <- shard_label(shards, i)
    if (is.null(s) || NROW(s) == 0L || (is.list(s) && !is.data.frame(s) && all(lengths(s) == 0L))) {
      stop(sprintf("fit: %s is empty; every shard needs observations", label), call. = FALSE)
    }
    here <- layout(s)
    if (!identical(here$kind, first$kind) || !identical(here$columns, first$columns)) {
      stop(sprintf("fit: the shards differ: %s is %s but shard 1 is %s", label, describe(here), describe(first)),
           call. = FALSE)
    }
    if (!identical(here$classes, first$classes)) {
      which_col <- if (is.list(here$classes)) {
        names(here$classes)[!mapply(identical, here$classes, first$classes)][1]
      }
      stop(sprintf("fit: the shards differ: %s%s has type %s but in shard 1 it is %s", label,
                   if (!is.null(which_col)) sprintf(" column '%s'", which_col) else "",
                   paste(if (is.null(which_col)) here$classes else here$classes[[which_col]], collapse = "/"),
                   paste(if (is.null(which_col)) first$classes else first$classes[[which_col]], collapse = "/")),
           call. = FALSE)
    }
  }
  invisible(TRUE)
}

# Sends `what` to every worker holding shards (or runs it here, without a
# cluster). `per_worker` lists what differs between workers (their shards,
# their weights), the rest of `...` goes to all. Returns the workers'
# results; a failure on a worker is an error naming the shard and worker,
# prefixed with `caller` (NULL: none, for messages that fit() prefixes); a
# worker that dies or loses its connection is an error naming it and its
# shards (see cluster_exchange(), which also stops the other workers' work
# when the driver is interrupted).
shard_send <- function(backend, what, ..., per_worker = NULL, caller = "fit") {
  cluster <- backend$cluster
  if (is.null(cluster)) {
    args <- c(list(backend$id, what), if (!is.null(per_worker)) per_worker[[1]], list(...), list(in_process = TRUE))
    answers <- list(do.call(shard_worker, args))
  } else {
    nodes <- backend$nodes
    shared <- list(...)
    args <- lapply(nodes, function(w) c(list(backend$id, what), if (!is.null(per_worker)) per_worker[[w]], shared))
    local <- ifelse(backend$hosts == Sys.info()[["nodename"]], backend$pids, NA_integer_)
    answers <- cluster_exchange(cluster, nodes, shard_worker, args, function(w) shard_worker_label(backend, w),
                                doing = if (what == "load") "receiving its shards" else "evaluating its shards",
                                caller = caller, pids = local)
  }
  for (j in seq_along(answers)) {
    a <- answers[[j]]
    if (!is.list(a) || !isTRUE(a$ok)) {
      w <- if (is.null(cluster)) 1L else backend$nodes[j]
      if (isTRUE(a$outside)) {
        stop(sprintf(paste("%s: %s could not run femtograd's code (%s); femtograd must be installed on every worker",
                           "(for workers on this machine, give them this session's library paths:",
                           "parallel::clusterCall(cl, .libPaths, .libPaths()))"),
                     caller %||% "fit", shard_worker_label(backend, w), a$message), call. = FALSE)
      }
      where <- if (is.null(cluster)) "in this R process" else sprintf("on worker %d (%s, pid %s)", w, a$host, a$pid)
      stop(sprintf("%s%s %s: %s", if (is.null(caller)) "" else paste0(caller, ": "),
                   if (is.list(a) && !is.na(a$shard)) sprintf("shard %d failed", a$shard) else "a worker failed",
                   where, if (is.list(a)) a$message else format(a)), call. = FALSE)
    }
  }
  lapply(answers, `[[`, "result")
}

# "worker 2 (host, pid 123), which holds shards 2, 4,", for errors.
shard_worker_label <- function(backend, w) {
  host <- backend$hosts[w]
  if (is.na(host)) host <- tryCatch(as.character(backend$cluster[[w]]$host), error = function(e) character(0))
  shards <- which(backend$owner == w)
  sprintf("worker %d (%s, pid %s), which holds shard%s %s,", w, if (length(host) && !is.na(host[1])) host[1] else "host unknown",
          if (is.na(backend$pids[w])) "unknown" else backend$pids[w], if (length(shards) > 1L) "s" else "",
          paste(shards, collapse = ", "))
}

# Case weights with shards: NULL, or a list parallel to `shards` of
# non-negative numbers, one per observation of the shard (`rows`, when
# known, holds each shard's number of observations), not all zero.
check_shard_weights <- function(weights, shards, rows = NULL) {
  if (is.null(weights)) return(NULL)
  if (!is.list(weights) || is.data.frame(weights) || length(weights) != length(shards)) {
    stop(sprintf(paste("fit: with shards, weights must be a list of weight vectors parallel to shards",
                       "(one per shard, here %d, e.g. split(w, g)), got %s"), length(shards),
                 if (is.list(weights) && !is.data.frame(weights)) sprintf("a list of %d", length(weights))
                 else sprintf("an object of class '%s' and length %d", paste(class(weights), collapse = "/"), length(weights))),
         call. = FALSE)
  }
  if (!is.null(names(weights)) && !is.null(names(shards)) && !identical(names(weights), names(shards))) {
    stop(sprintf("fit: weights names its elements %s but the shards are %s; give them in the order of the shards",
                 paste(names(weights), collapse = ", "), paste(names(shards), collapse = ", ")), call. = FALSE)
  }
  for (k in seq_along(weights)) {
    w <- weights[[k]]
    label <- shard_label(shards, k)
    if (!is.numeric(w) || is.object(w) || length(w) == 0L || anyNA(w) || any(!is.finite(w)) || any(w < 0)) {
      stop(sprintf("fit: the weights of %s must be finite non-negative numbers, one per observation", label),
           call. = FALSE)
    }
    if (!is.null(rows) && length(w) != rows[k]) {
      stop(sprintf("fit: the weights of %s have length %d but the shard has %d rows (after removing missing values)",
                   label, length(w), rows[k]), call. = FALSE)
    }
  }
  if (all(base::unlist(weights) == 0)) stop("fit: weights are all zero", call. = FALSE)
  lapply(unname(weights), as.double)
}

# "shard 2 ('b')", or "shard 2" when the shards are not named.
shard_label <- function(shards, k) {
  if (!is.null(names(shards)) && nzchar(names(shards)[k])) sprintf("shard %d ('%s')", k, names(shards)[k])
  else sprintf("shard %d", k)
}

# What a worker needs to rebuild `spec` for each of its shards.
shard_description <- function(spec) {
  list(params = spec$params, fixed = spec$fixed, transform = spec$transform, outer = spec$shards$outer)
}

# Configures the workers for `spec` unless they already are: the
# description and each worker's shards' weights (NULL: unweighted).
shard_configure <- function(spec, caller) {
  backend <- spec$shards$backend
  desc <- shard_description(spec)
  key <- list(desc = desc, weights = spec$weights)
  if (identical(backend$configured, key)) return(invisible(backend))
  workers <- if (is.null(backend$cluster)) 1L else length(backend$cluster)
  per_worker <- lapply(seq_len(workers), function(w) {
    mine <- backend$owner == w
    list(weights = if (is.null(spec$weights)) vector("list", sum(mine)) else unname(spec$weights[mine]))
  })
  backend$configured <- NULL
  shard_send(backend, "configure", desc = desc, per_worker = per_worker, caller = caller)
  backend$configured <- key
  invisible(backend)
}

# Sends `what` at `theta` (working scale) for `spec`, configuring first.
shard_request <- function(spec, what, theta, ..., caller = "fit") {
  shard_configure(spec, caller)
  shard_send(spec$shards$backend, what, theta = as.double(theta), ..., caller = caller)
}

is_sharded <- function(spec) !is.null(spec$shards)

# The log-likelihood summed over shards at `theta` with derivatives up to
# `order`: list(value, gradient, hessian).
sharded_loglik <- function(spec, theta, order = 2L, caller = "fit") {
  answers <- shard_request(spec, "evaluate", theta, order = as.integer(order), caller = caller)
  shard_worker_combine("evaluate", answers)
}

# The objective fg_maximize_evaluated() calls (its errors are reported as
# "fit: the log-likelihood function failed: ...").
sharded_objective <- function(spec) {
  function(theta, order) sharded_loglik(spec, theta, order, caller = NULL)
}

# What fg_maximize() reads from the recording at the optimum, summed over
# shards: observations (NA if a shard's kernels report none), saturated
# probabilities by kernel, and the number of recordings.
sharded_outcome <- function(spec, opt) {
  answers <- shard_request(spec, "summary", opt$par)
  per_shard <- base::unlist(answers, recursive = FALSE)
  opt$observations <- sum(vapply(per_shard, function(s) as.double(s$observations), numeric(1)))
  saturated <- list()
  for (s in per_shard) for (name in names(s$saturated)) {
    saturated[[name]] <- (saturated[[name]] %||% 0) + s$saturated[[name]]
  }
  opt$saturated <- saturated
  # how often the shards' log-likelihoods were recorded since the workers
  # were configured for this spec (not replayed), over all shards
  opt$recordings <- sum(vapply(per_shard, function(s) as.double(s$recordings), numeric(1)))
  opt
}

# The sandwich's meat, sum over observations of s_i s_i', summed over
# shards on the workers: the scores never leave them.
sharded_meat <- function(object, caller) {
  meat <- shard_worker_combine("meat", shard_request(object$spec, "meat", stats::coef(object)[object$free],
                                                      caller = caller))$meat
  labels <- names(object$free)[object$free]
  dimnames(meat) <- list(labels, labels)
  meat
}

# The number of observations each shard's kernels see (all of a shard's
# kernels must see the same), in the order of the shards, for bootstrap()
# (and for fit()'s weights: `caller` and `what` word the errors as in
# resampled_observations()).
sharded_observations <- function(fit, caller = "bootstrap", what = "resampling needs") {
  answers <- shard_request(fit$spec, "observations", working_start(fit$spec, stats::coef(fit)[fit$free]),
                           caller = caller)
  backend <- fit$spec$shards$backend
  counts <- numeric(backend$n_shards)
  for (w in seq_along(answers)) {
    indices <- which(backend$owner == w)
    for (j in seq_along(indices)) {
      kernel_counts <- answers[[w]][[j]]$counts
      shard <- indices[j]
      if (length(kernel_counts) == 0L) {
        stop(sprintf(paste("%s: the log-likelihood uses no loglik_* kernels, and %s their observations",
                           "(sums of d-functions written in R are not weighted: use a loglik_* kernel or the formula interface)"),
                     caller, what), call. = FALSE)
      }
      if (length(unique(kernel_counts)) > 1L) {
        stop(sprintf(paste("%s: in shard %d the kernels under the log-likelihood see different numbers of",
                           "observations (%s); %s every kernel to see the same observations"), caller, shard,
                     paste(sprintf("%s: %d", names(kernel_counts), as.integer(kernel_counts)), collapse = ", "), what),
             call. = FALSE)
      }
      counts[shard] <- kernel_counts[[1]]
    }
  }
  if (any(counts == 0)) stop(sprintf("%s: shard %d's kernels have no observations", caller, which(counts == 0)[1]),
                             call. = FALSE)
  as.integer(counts)
}
