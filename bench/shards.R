# A logistic regression over data in shards: n = 2e6 observations, p = 20
# coefficients, four shards on two local PSOCK workers, against the
# in-process fit of the same data, in one run. Reports the wall-clock time
# of each fit (reading the data included; starting the workers not), their ratio, and the driver's peak memory (VmHWM, peak
# resident set, of a fresh R process per variant), and checks that both
# fits agree.
#
#   R_LIBS=/tmp/bench-lib Rscript bench/shards.R
#
# The shards are files: each worker reads its own (`data` is a path), so the
# driver never holds the data; the log-likelihood reads the file when it is
# recorded, which a replayed fit does once per shard.
#
# Environment (optional):
#   FEMTOGRAD_BENCH_N   observations (default 2e6)
#   FEMTOGRAD_BENCH_P   coefficients (default 20)

args <- commandArgs(trailingOnly = TRUE)
n <- as.numeric(Sys.getenv("FEMTOGRAD_BENCH_N", "2e6"))
p <- as.integer(Sys.getenv("FEMTOGRAD_BENCH_P", "20"))
shards_n <- 4L

shard_loglik <- function(beta, data) {
  s <- readRDS(data)
  loglik_logistic(beta, s$X, s$y)
}

peak_mb <- function() {
  status <- readLines("/proc/self/status")
  as.numeric(gsub("[^0-9]", "", grep("^VmHWM", status, value = TRUE))) / 1024
}

if (length(args) == 0L) {
  # The driver of the benchmark: write the shards, run each variant in a
  # fresh process (so peak memory is that variant's), compare.
  dir <- tempfile("femtograd-shards-")
  dir.create(dir)
  on.exit(unlink(dir, recursive = TRUE), add = TRUE)
  set.seed(2026)
  beta <- c(-0.5, seq(-1, 1, length.out = p - 1L)) / 2
  files <- file.path(dir, sprintf("shard-%d.rds", seq_len(shards_n)))
  for (f in files) {
    m <- n / shards_n
    X <- cbind(1, matrix(rnorm(m * (p - 1L)), m))
    y <- as.double(stats::rbinom(m, 1, stats::plogis(drop(X %*% beta))))
    saveRDS(list(X = X, y = y), f, compress = FALSE)
    rm(X, y); invisible(gc())
  }
  rscript <- file.path(R.home("bin"), "Rscript")
  script <- normalizePath(sub("^--file=", "", grep("^--file=", commandArgs(), value = TRUE)))
  run <- function(mode) {
    out <- file.path(dir, paste0(mode, "-result.rds"))
    status <- system2(rscript, c(script, mode, out, files))
    if (status != 0L) stop(sprintf("the %s variant failed", mode))
    readRDS(out)
  }
  cat(sprintf("femtograd logistic regression, n = %g, p = %d, %d shards; load average %s\n", n, p, shards_n,
              paste(scan("/proc/loadavg", what = "", n = 3, quiet = TRUE), collapse = " ")))
  whole <- run("whole")
  sharded <- run("cluster")
  cat(sprintf("in-process fit of all the data: %6.1f s, driver peak memory %6.0f MB\n", whole$seconds, whole$peak))
  cat(sprintf("4 shards on 2 PSOCK workers:    %6.1f s, driver peak memory %6.0f MB (starting the workers: %.1f s more)\n",
              sharded$seconds, sharded$peak, sharded$startup))
  cat(sprintf("time ratio (sharded / in-process): %.2f; driver memory ratio: %.2f\n",
              sharded$seconds / whole$seconds, sharded$peak / whole$peak))
  cat(sprintf("largest difference: coefficients %.1e, standard errors %.1e (relative)\n",
              max(abs(sharded$coef - whole$coef) / abs(whole$coef)), max(abs(sharded$se - whole$se) / whole$se)))
} else {
  # One variant, in its own process; saves its results to `out`.
  suppressPackageStartupMessages(library(femtograd))
  mode <- args[1]
  out <- args[2]
  files <- args[-(1:2)]
  start <- list(beta = rep(0, p))
  startup <- 0
  if (mode == "cluster") {
    # starting the workers is timed apart: a cluster is made once for many fits
    started <- proc.time()[["elapsed"]]
    cl <- parallel::makePSOCKcluster(2L)
    parallel::clusterCall(cl, function(paths) invisible(.libPaths(paths)), .libPaths())
    parallel::clusterCall(cl, loadNamespace, "femtograd")
    startup <- proc.time()[["elapsed"]] - started
  }
  started <- proc.time()[["elapsed"]]
  if (mode == "whole") {
    parts <- lapply(files, readRDS)
    X <- do.call(rbind, lapply(parts, `[[`, "X"))
    y <- unlist(lapply(parts, `[[`, "y"))
    rm(parts)
    res <- fit(function(beta) loglik_logistic(beta, X, y), params = start)
  } else {
    res <- fit(shard_loglik, params = start, shards = as.list(files), cluster = cl)
    parallel::stopCluster(cl)
  }
  seconds <- proc.time()[["elapsed"]] - started
  saveRDS(list(seconds = seconds, startup = startup, peak = peak_mb(), coef = coef(res), se = se(res)), out)
}
