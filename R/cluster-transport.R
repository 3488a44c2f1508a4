# Calls on the workers of a `parallel` cluster, one answer per worker, with
# the faults a sharded fit must report: a worker that dies (named by its
# number, host and pid), an interrupt on the driver (the workers still busy
# are interrupted too), and answers left over from an interrupted call
# (discarded). parallel's exported clusterCall() and clusterApply() read
# the answers in order and cannot tell which worker failed, nor which call
# an answer belongs to, so this uses the node protocol underneath them
# (sendCall() posts a call with a tag, recvData() reads one message, which
# carries the tag back): the protocol of snow, unchanged in parallel since
# R 2.14, and the one parallelly's nodes speak too.

# sendCall() and recvData() are the building blocks of clusterCall(), in
# its namespace.
parallel_internal <- function(name) get(name, envir = environment(parallel::clusterCall), inherits = FALSE)

# Each call is tagged with a number new in this R session; an answer with
# another tag is left over from an interrupted call (by this backend or any
# other on the same cluster) and is discarded.
cluster_tags <- new.env(parent = emptyenv())
cluster_tags$n <- 0

# Calls fun(args[[w]]...) on each worker w in `nodes` and returns their
# values (a list along `nodes`). `describe(w)` names worker w for errors
# ("worker 2 (host, pid 123), which holds shards 2, 4,"); `doing` says what the
# call was for. A worker whose connection fails raises an error of class
# "femtograd_cluster_failure" naming it; an interrupt (or that error) first
# interrupts the local workers still working on this call and reads what
# they answer, so that they are idle again. `pids` (along the cluster's
# nodes, NA where not known) are the pids of the workers on this machine.
cluster_exchange <- function(cluster, nodes, fun, args, describe, doing, caller, pids = NULL) {
  send_call <- parallel_internal("sendCall")
  receive <- parallel_internal("recvData")
  cluster_tags$n <- cluster_tags$n + 1
  tag <- sprintf("femtograd-%d-%.0f", Sys.getpid(), cluster_tags$n)
  sent <- answered <- lost <- stats::setNames(logical(length(nodes)), nodes)
  values <- vector("list", length(nodes))
  finished <- FALSE
  on.exit(if (!finished) cluster_abandon(cluster, nodes[sent & !answered & !lost], tag, pids), add = TRUE)
  for (i in seq_along(nodes)) {
    w <- nodes[i]
    ok <- tryCatch({
      send_call(cluster[[w]], fun, args[[i]], tag = tag)
      TRUE
    }, error = function(e) e)
    if (!isTRUE(ok)) {
      lost[i] <- TRUE
      cluster_lost(describe(w), doing, conditionMessage(ok), caller)
    }
    sent[i] <- TRUE
  }
  while (any(!answered)) {
    i <- cluster_ready(cluster, nodes, !answered)
    msg <- tryCatch(receive(cluster[[nodes[i]]]), error = function(e) e)
    if (inherits(msg, "error")) {
      lost[i] <- TRUE
      cluster_lost(describe(nodes[i]), doing, conditionMessage(msg), caller)
    }
    if (!is.list(msg) || !identical(msg$tag, tag)) next   # an interrupted call's answer
    values[i] <- list(if (isFALSE(msg$success)) cluster_failed_value(msg$value) else msg$value)
    answered[i] <- TRUE
  }
  finished <- TRUE
  values
}

cluster_lost <- function(who, doing, why, caller) {
  message <- sprintf(paste("%s: %s died or lost its connection while %s (%s); this R session is unaffected:",
                           "stop the cluster (parallel::stopCluster()), make a new one and refit"),
                     caller %||% "fit", who, doing, why)
  stop(structure(class = c("femtograd_cluster_failure", "error", "condition"),
                 list(message = message, call = NULL)))
}

# A call the worker's loop itself reports as failed (not one of
# shard_worker()'s answers, which never fail: femtograd's code did not run
# there, typically because the worker cannot load femtograd).
cluster_failed_value <- function(value) {
  list(ok = FALSE, shard = NA_integer_, message = paste(as.character(value), collapse = " "), host = NA, pid = NA,
       outside = TRUE)
}

# The position (in `nodes`) of a worker with an answer to read among the
# `waiting` ones: the first that has one when every node is a socket
# (socketSelect() waits for any), otherwise the first waiting one.
cluster_ready <- function(cluster, nodes, waiting) {
  cons <- lapply(cluster[nodes], function(node) node$con)
  candidates <- which(waiting)
  if (!all(vapply(cons, inherits, logical(1), "sockconn"))) return(candidates[1])
  repeat {
    ready <- socketSelect(cons[candidates], timeout = 1)
    if (any(ready)) return(candidates[which(ready)[1]])
  }
}

# After an interrupt or a lost worker: the workers in `nodes` are still
# working on the call tagged `tag`. Those that have answered meanwhile are
# read; those on this machine are interrupted (shard_worker() then answers
# that it was interrupted); their answers are read for up to `wait`
# seconds. What is not read by then is discarded by its tag later. A worker
# on another machine cannot be signalled from here: it finishes the call,
# and its answer is discarded then.
cluster_abandon <- function(cluster, nodes, tag, pids, wait = 5) {
  if (!length(nodes) || is.null(pids)) return(invisible(NULL))
  receive <- parallel_internal("recvData")
  cons <- lapply(cluster[nodes], function(node) node$con)
  if (!all(vapply(cons, inherits, logical(1), "sockconn"))) return(invisible(NULL))
  waiting <- rep(TRUE, length(nodes))
  read_ready <- function(timeout) {
    ready <- tryCatch(socketSelect(cons[waiting], timeout = timeout), error = function(e) logical(0))
    for (j in which(waiting)[ready]) {
      msg <- tryCatch(receive(cluster[[nodes[j]]]), error = function(e) NULL)
      if (is.null(msg) || identical(msg$tag, tag)) waiting[j] <<- FALSE
    }
  }
  suspendInterrupts({
    read_ready(0)
    for (j in which(waiting)) {
      pid <- pids[nodes[j]]
      if (is.na(pid)) waiting[j] <- FALSE else tools::pskill(pid, tools::SIGINT)
    }
    until <- proc.time()[["elapsed"]] + wait
    while (any(waiting) && proc.time()[["elapsed"]] < until) read_ready(0.2)
  })
  invisible(NULL)
}
