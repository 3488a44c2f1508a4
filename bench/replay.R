# Small and loop-written models, where the cost is the R-side recording
# rather than the arithmetic: femtograd (record once, replay in Rust)
# against optim() with finite differences + optimHess() and against
# numDeriv::hessian(), on the same functions in the same R process.
#
#   R_LIBS=/tmp/bench-lib Rscript bench/replay.R
#
# Environment (optional):
#   FEMTOGRAD_LIB          library holding femtograd (default: .libPaths())
#   FEMTOGRAD_BENCH_REPS   bench::mark iterations per row (default 20)

fg_lib <- Sys.getenv("FEMTOGRAD_LIB")
suppressPackageStartupMessages({
  library(femtograd, lib.loc = if (nzchar(fg_lib)) fg_lib else NULL)
  library(bench)
  library(numDeriv)
})
reps <- as.integer(Sys.getenv("FEMTOGRAD_BENCH_REPS", "20"))

cat(sprintf("femtograd %s from %s; %s; load average %s\n",
            packageVersion("femtograd"), dirname(find.package("femtograd")), R.version.string,
            paste(scan("/proc/loadavg", what = "", n = 3, quiet = TRUE), collapse = " ")))
options(width = 200)

# memory = FALSE throughout: bench's allocation profiling logs every R
# allocation, which would slow both sides by how much they allocate.
ms <- function(bm) as.numeric(bm$median) * 1e3
report <- function(label, bm, fg_row, peer_row) {
  t <- setNames(ms(bm), as.character(bm$expression))
  data.frame(task = label, femtograd_ms = t[[fg_row]], peer = peer_row,
             peer_ms = t[[peer_row]], ratio = t[[fg_row]] / t[[peer_row]])
}
rows <- list()

# ---------------------------------------------------------------------------
# (a) the seed example: normal, n = 200, mu and log(sigma)
# ---------------------------------------------------------------------------
set.seed(42)
x <- rnorm(200, mean = 5, sd = 2)
fg_normal <- function() {
  fit(function(mu, log_sigma) loglik_normal(mu, exp(log_sigma), x),
      params = c(mu = 0, log_sigma = 0))
}
optim_normal <- function() {
  nll <- function(p) -sum(dnorm(x, p[1], exp(p[2]), log = TRUE))
  o <- optim(c(0, 0), nll, method = "BFGS")
  list(par = o$par, se = sqrt(diag(solve(optimHess(o$par, nll)))))
}
f1 <- fg_normal(); o1 <- optim_normal()
cat(sprintf("\n(a) normal n = 200: estimates differ by %.1e, SEs by %.1e (relative); femtograd recorded %d time(s)\n",
            max(abs(coef(f1) - o1$par) / abs(o1$par)), max(abs(se(f1) - o1$se) / o1$se), f1$recordings))
invisible(gc())  # each part starts from a collected heap, whatever the parts before it left
bm <- bench::mark(femtograd = fg_normal(), "optim BFGS + optimHess" = optim_normal(),
                  check = FALSE, memory = FALSE, min_iterations = reps, filter_gc = FALSE)
rows[[length(rows) + 1]] <- report("fit() normal n = 200 (seed)", bm, "femtograd", "optim BFGS + optimHess")

# ---------------------------------------------------------------------------
# (b) AR(1) conditional likelihood written as an R loop, n = 500
# ---------------------------------------------------------------------------
set.seed(1)
n <- 500
y <- as.numeric(arima.sim(list(ar = 0.6), n = n)) + 2
ar1 <- function(mu, phi, log_sigma) {
  sigma <- exp(log_sigma)
  ll <- 0
  for (t in 2:n) {
    e <- (y[t] - mu) - phi * (y[t - 1] - mu)
    ll <- ll - log_sigma - 0.5 * (e / sigma)^2
  }
  ll - (n - 1) * 0.5 * log(2 * pi)
}
fg_ar1 <- function() fit(ar1, params = c(mu = 0, phi = 0, log_sigma = 0))
fg_ar1_rerecord <- function() fit(ar1, params = c(mu = 0, phi = 0, log_sigma = 0),
                                  control = list(replay = FALSE))
optim_ar1 <- function() {
  nll <- function(p) -ar1(p[1], p[2], p[3])
  o <- optim(c(0, 0, 0), nll, method = "BFGS")
  list(par = o$par, se = sqrt(diag(solve(optimHess(o$par, nll)))))
}
f2 <- fg_ar1(); o2 <- optim_ar1()
cat(sprintf("(b) AR(1) n = 500: estimates differ by %.1e, SEs by %.1e (relative to optim's); femtograd recorded %d time(s), %d without replay\n",
            max(abs(coef(f2) - o2$par) / abs(o2$par)), max(abs(se(f2) - o2$se) / o2$se),
            f2$recordings, fg_ar1_rerecord()$recordings))
invisible(gc())  # each part starts from a collected heap, whatever the parts before it left
bm <- bench::mark(femtograd = fg_ar1(), "femtograd, replay = FALSE" = fg_ar1_rerecord(),
                  "optim BFGS + optimHess" = optim_ar1(),
                  check = FALSE, memory = FALSE, min_iterations = max(5, reps %/% 4), filter_gc = FALSE)
rows[[length(rows) + 1]] <- report("fit() AR(1) loop n = 500", bm, "femtograd", "optim BFGS + optimHess")
rows[[length(rows) + 1]] <- report("  same, re-recording at every point", bm, "femtograd, replay = FALSE",
                                   "optim BFGS + optimHess")

# ---------------------------------------------------------------------------
# (c) hessian() of a 10-parameter function written with loops
# ---------------------------------------------------------------------------
p <- 10
set.seed(2)
A <- crossprod(matrix(rnorm(p * p), p)) / p
b0 <- rnorm(p) / 4
loop_f <- function(b) {
  s <- 0
  for (i in seq_len(p)) {
    s <- s + exp(b[[i]]) - b[[i]]
    for (j in seq_len(p)) s <- s + 0.5 * A[i, j] * b[[i]] * b[[j]]
  }
  s
}
# The same function for both: b[[i]] reads a list of values or a numeric vector.
fg_hessian <- function() femtograd::hessian(loop_f, lapply(b0, val))
nd_hessian <- function() numDeriv::hessian(loop_f, b0)
exact <- A + diag(exp(b0))
cat(sprintf("(c) loop Hessian, p = 10: max error vs closed form: femtograd %.1e, numDeriv %.1e\n",
            max(abs(fg_hessian() - exact)), max(abs(nd_hessian() - exact))))
invisible(gc())  # each part starts from a collected heap, whatever the parts before it left
bm <- bench::mark(femtograd = fg_hessian(), "numDeriv::hessian" = nd_hessian(),
                  check = FALSE, memory = FALSE, min_iterations = reps, filter_gc = FALSE)
rows[[length(rows) + 1]] <- report("hessian() 10-parameter loop", bm, "femtograd", "numDeriv::hessian")

cat("\nmedian milliseconds; ratio = femtograd / peer (below 1: femtograd is faster)\n\n")
print(format(do.call(rbind, rows), digits = 3), row.names = FALSE)
