# Per-operation cost of femtograd's R-to-Rust boundary, and of recording and
# sweeping a long chain, each against plain R doing the same arithmetic on
# numbers in the same run.
#
#   R_LIBS=/tmp/bench-lib Rscript bench/overhead.R
#
# Environment (optional):
#   FEMTOGRAD_LIB          library holding femtograd (default: .libPaths())
#   FEMTOGRAD_BENCH_CHAIN  chain length for part (b) (default 1e6)
#   FEMTOGRAD_BENCH_REPS   repetitions of part (b) (default 3)

fg_lib <- Sys.getenv("FEMTOGRAD_LIB")
suppressPackageStartupMessages({
  library(femtograd, lib.loc = if (nzchar(fg_lib)) fg_lib else NULL)
  library(bench)
})

chain_n <- as.integer(as.numeric(Sys.getenv("FEMTOGRAD_BENCH_CHAIN", "1e6")))
reps <- as.integer(Sys.getenv("FEMTOGRAD_BENCH_REPS", "3"))

cat(sprintf("femtograd %s from %s; %s; bench %s; load average %s\n",
            packageVersion("femtograd"), dirname(find.package("femtograd")),
            R.version.string, packageVersion("bench"),
            paste(scan("/proc/loadavg", what = "", n = 3, quiet = TRUE), collapse = " ")))

options(width = 200)
median_us <- function(bm) as.numeric(bm$median) * 1e6

# ---------------------------------------------------------------------------
# (a) one operation, femtograd vs plain R
# ---------------------------------------------------------------------------

x <- val(3); y <- val(4)
a <- 3; b <- 4

# Internals, to split a femtograd operation into the .Call itself (the
# engine's native entry point) and the R side around it (S3 dispatch of Ops,
# argument checks).
native <- femtograd:::.native
fg_leaf <- femtograd:::fg_leaf

# R's own floor for any S3 operator: a method that does nothing on a
# classed number (what every Ops method pays before its body runs).
Ops.dispatch_floor <- function(e1, e2) e1
d <- structure(3, class = "dispatch_floor")

bm <- bench::mark(
  "x * y (values)"            = x * y,
  "d * d (no-op S3 method)"   = d * d,
  "a * b (numbers)"           = a * b,
  "val(3)"                    = val(3),
  "as.double(3) (numbers)"    = as.double(3),
  "value_of(x)"               = value_of(x),
  "identity(a) (numbers)"     = identity(a),
  ".Call ops('*', x, y)"      = .Call(native$ops, "*", x, y),
  ".Call fg_leaf(3, NULL, F)" = fg_leaf(3, NULL, FALSE),
  ".Call numbers(x)"          = .Call(native$numbers, x, TRUE),
  check = FALSE, memory = FALSE, filter_gc = FALSE, min_iterations = 20000, time_unit = "s"
)
t_us <- setNames(median_us(bm), as.character(bm$expression))
mean_us <- setNames(vapply(bm$time, function(t) mean(as.numeric(t)) * 1e6, numeric(1)), as.character(bm$expression))

rows <- data.frame(
  operation = c("x * y", "val(3)", "value_of(x)"),
  femtograd_us = t_us[c("x * y (values)", "val(3)", "value_of(x)")],
  peer = c("a * b on numbers", "as.double(3)", "identity(a)"),
  peer_us = t_us[c("a * b (numbers)", "as.double(3) (numbers)", "identity(a) (numbers)")],
  row.names = NULL
)
rows$ratio <- rows$femtograd_us / rows$peer_us
rows$raw_call_us <- t_us[c(".Call ops('*', x, y)", ".Call fg_leaf(3, NULL, F)", ".Call numbers(x)")]
rows$r_wrapper_us <- rows$femtograd_us - rows$raw_call_us
# The mean includes the garbage collections (of the external pointers) that
# the median leaves out; a loop of such operations runs at about the mean.
rows$femtograd_mean_us <- mean_us[c("x * y (values)", "val(3)", "value_of(x)")]

cat("\n(a) one operation on scalars: median microseconds per call\n")
cat("    raw_call_us: the bare .Call into Rust; r_wrapper_us: the rest (R-side dispatch, checks, class);\n    femtograd_mean_us: mean including garbage collections. The plain-R peers take tens of nanoseconds,\n    near the timer's resolution, so their ratios move a lot between runs\n\n")
print(format(rows, digits = 3), row.names = FALSE)
cat(sprintf("\n    R's dispatch floor: a no-op S3 Ops method on a classed number takes %.2f us (%.0fx a * b)\n",
            t_us[["d * d (no-op S3 method)"]], t_us[["d * d (no-op S3 method)"]] / t_us[["a * b (numbers)"]]))

# ---------------------------------------------------------------------------
# (b) a chain of chain_n additions: record, backward, free
# ---------------------------------------------------------------------------

rss_mb <- function() {
  s <- tryCatch(readLines("/proc/self/status"), error = function(e) character())
  l <- grep("^VmRSS:", s, value = TRUE)
  if (length(l) == 0L) return(NA_real_)
  as.numeric(gsub("[^0-9]", "", l)) / 1024
}

plain_chain <- function(n) {
  y <- 1
  for (i in seq_len(n)) y <- y + 1e-6
  y
}
fg_chain <- function(n) {
  x <- val(1)
  y <- x
  for (i in seq_len(n)) y <- y + 1e-6
  list(x = x, y = y)
}

cat(sprintf("\n(b) chain y <- y + 1e-6 repeated %s times, %d repetitions (median seconds)\n\n",
            format(chain_n, big.mark = ","), reps))

# Each step is timed by wall clock and by CPU (user + system) of this process:
# on a shared machine the CPU column is the steadier one.
timed <- function(expr) {
  t <- system.time(expr)
  c(elapsed = t[["elapsed"]], cpu = t[["user.self"]] + t[["sys.self"]])
}
steps <- c("plain", "build", "backward", "free")
elapsed <- cpu <- matrix(NA_real_, reps, length(steps), dimnames = list(NULL, steps))
rss <- numeric(reps)
for (r in seq_len(reps)) {
  invisible(gc())
  t <- timed(p <- plain_chain(chain_n)); elapsed[r, "plain"] <- t[["elapsed"]]; cpu[r, "plain"] <- t[["cpu"]]
  rss0 <- rss_mb()
  t <- timed(g <- fg_chain(chain_n)); elapsed[r, "build"] <- t[["elapsed"]]; cpu[r, "build"] <- t[["cpu"]]
  rss[r] <- rss_mb() - rss0  # only the first is meaningful: later ones reuse freed memory
  t <- timed(backward(g$y)); elapsed[r, "backward"] <- t[["elapsed"]]; cpu[r, "backward"] <- t[["cpu"]]
  stopifnot(abs(value_of(g$y) - p) < 1e-9, grad(g$x) == 1)
  # Freeing: dropping the R handles lets the tape's one finalizer release it.
  t <- timed({ rm(g); invisible(gc()) }); elapsed[r, "free"] <- t[["elapsed"]]; cpu[r, "free"] <- t[["cpu"]]
}

med <- apply(elapsed, 2, stats::median)
med_cpu <- apply(cpu, 2, stats::median)
chain <- data.frame(
  measure = c("plain R loop on numbers", "femtograd: record the chain", "femtograd: backward()",
              "femtograd: free graph (rm + gc)"),
  elapsed_s = med[steps],
  cpu_s = med_cpu[steps],
  us_per_op = med[steps] / chain_n * 1e6,
  vs_plain_loop = med[steps] / med[["plain"]],
  row.names = NULL
)
print(format(chain, digits = 3), row.names = FALSE)
cat(sprintf("\nrecording / plain R loop: %.0fx;  backward / recording: %.3f;  resident memory added by the first recording: %.0f MB (%.0f bytes per op)\n",
            med[["build"]] / med[["plain"]], med[["backward"]] / med[["build"]],
            rss[1], rss[1] * 2^20 / chain_n))
cat("each op records one node on the tape (the constant 1e-6 is stored inline in the operation)\n")
