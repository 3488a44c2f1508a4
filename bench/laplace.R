# Random effects by the Laplace approximation: fit(random = ) against
# glmmTMB (TMB's Laplace approximation, compiled C++) on the same models, in
# the same R process. Both fit and report standard errors.
#
#   FEMTOGRAD_LIB=/tmp/bench-lib Rscript bench/laplace.R   # ~1 minute
#
# femtograd reads the sparsity of the Hessian in the random effects from
# the recording: independent groups make independent blocks, and the exact
# outer gradient needs one pair of directional derivatives per colour of
# the Hessian's columns (one for random intercepts), so the cost grows
# linearly in the number of random effects q, as glmmTMB's does.

fg_lib <- Sys.getenv("FEMTOGRAD_LIB")
suppressPackageStartupMessages({
  library(femtograd, lib.loc = if (nzchar(fg_lib)) fg_lib else NULL)
  library(bench)
  library(glmmTMB)
  library(TMB)
})
cat(sprintf("load average %s\n", paste(scan("/proc/loadavg", what = "", n = 3, quiet = TRUE), collapse = " ")))
seconds <- function(bm) as.numeric(bm$median)

rows <- list()
compare <- function(label, femtograd_fit, tmb_fit, q) {
  f <- femtograd_fit(); g <- tmb_fit()
  bm <- bench::mark(femtograd = femtograd_fit(), peer = tmb_fit(), check = FALSE, memory = FALSE,
                    min_iterations = 3, max_iterations = 10, filter_gc = FALSE)
  t <- seconds(bm)
  rows[[length(rows) + 1]] <<- data.frame(model = label, q = q, femtograd_s = t[1], peer_s = t[2],
                                          ratio = t[1] / t[2], loglik_diff = as.numeric(logLik(f)) - as.numeric(logLik(g)))
}

# cbpp: binomial GLMM, 15 herds
data("cbpp", package = "lme4")
X <- model.matrix(~ period, cbpp); herd <- as.integer(cbpp$herd)
cbpp_joint <- function(beta, log_tau, u) {
  eta <- drop(X %*% beta) + u[herd]
  sum(dbinom(cbpp$incidence, cbpp$size, plogis(eta), log = TRUE)) + sum(dnorm(u, 0, exp(log_tau), log = TRUE))
}
compare("cbpp binomial",
        function() fit(cbpp_joint, list(beta = rep(0, 4), log_tau = 0, u = rep(0, 15)), random = "u"),
        function() glmmTMB(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, family = binomial), 15)

# sleepstudy: LMM with uncorrelated random intercepts and slopes, 36 effects
data("sleepstudy", package = "lme4")
days <- sleepstudy$Days; subj <- as.integer(sleepstudy$Subject); y <- sleepstudy$Reaction
sleep_joint <- function(b0, b1, log_sigma, log_tau0, log_tau1, u0, u1) {
  eta <- b0 + b1 * days + u0[subj] + u1[subj] * days
  sum(dnorm(y, eta, exp(log_sigma), log = TRUE)) + sum(dnorm(u0, 0, exp(log_tau0), log = TRUE)) +
    sum(dnorm(u1, 0, exp(log_tau1), log = TRUE))
}
compare("sleepstudy LMM",
        function() fit(sleep_joint, list(b0 = 250, b1 = 10, log_sigma = 3, log_tau0 = 3, log_tau1 = 1.5,
                                         u0 = rep(0, 18), u1 = rep(0, 18)), random = c("u0", "u1")),
        function() glmmTMB(Reaction ~ Days + diag(Days | Subject), sleepstudy, REML = FALSE), 36)

# simulated Poisson GLMM with a random intercept per group
for (q in c(50, 200, 1e4)) {
  set.seed(q)
  per_group <- if (q > 1000) 5 else 10
  n <- per_group * q
  g <- rep(seq_len(q), each = per_group)
  x <- rnorm(n)
  counts <- rpois(n, exp(0.5 + 0.3 * x + rnorm(q, sd = 0.6)[g]))
  sim <- data.frame(counts, x, g = factor(g))
  pois_joint <- function(b0, b1, log_tau, u) {
    eta <- b0 + b1 * x + u[g]
    sum(dpois(counts, exp(eta), log = TRUE)) + sum(dnorm(u, 0, exp(log_tau), log = TRUE))
  }
  compare(sprintf("Poisson GLMM, n = %d", n),
          function() fit(pois_joint, list(b0 = 0, b1 = 0, log_tau = 0, u = rep(0, q)), random = "u"),
          function() glmmTMB(counts ~ x + (1 | g), sim, family = poisson), q)
}

# A Poisson random walk of 1e4 latent states (a state-space model): one
# block of random effects that each meet their neighbours, kept sparse.
# glmmTMB has no random walk, so the peer is TMB itself on a C++ template
# (bench/tmb/random_walk.cpp, compiled once, not timed): MakeADFun with
# random = "u", nlminb, and sdreport for the standard errors.
script_dir <- local({
  arg <- grep("^--file=", commandArgs(FALSE), value = TRUE)
  if (length(arg)) dirname(normalizePath(sub("^--file=", "", arg[1]))) else "bench"
})
tmb_dir <- file.path(tempdir(), "femtograd-bench-tmb")
dir.create(tmb_dir, showWarnings = FALSE)
stopifnot(file.copy(file.path(script_dir, "tmb", "random_walk.cpp"), tmb_dir, overwrite = TRUE))
invisible(capture.output(TMB::compile(file.path(tmb_dir, "random_walk.cpp"))))
dyn.load(TMB::dynlib(file.path(tmb_dir, "random_walk")))
steps <- 1e4
set.seed(7)
walk_counts <- rpois(steps, exp(1 + cumsum(rnorm(steps, sd = 0.1))))
walk_joint <- function(b0, log_sd, u) {
  sum(dpois(walk_counts, exp(b0 + u), log = TRUE)) + dnorm(u[1], 0, exp(log_sd), log = TRUE) +
    sum(dnorm(u[-1] - u[-steps], 0, exp(log_sd), log = TRUE))
}
tmb_walk <- function() {
  obj <- TMB::MakeADFun(list(counts = walk_counts), list(b0 = 0, log_sd = -1, u = rep(0, steps)),
                        random = "u", DLL = "random_walk", silent = TRUE)
  opt <- nlminb(obj$par, obj$fn, obj$gr)
  structure(list(opt = opt, sd = TMB::sdreport(obj)), class = "tmb_walk")
}
logLik.tmb_walk <- function(object, ...) -object$opt$objective
compare(sprintf("Poisson random walk, n = %d", steps),
        function() fit(walk_joint, list(b0 = 0, log_sd = -1, u = rep(0, steps)), random = "u"),
        tmb_walk, steps)

cat("\nmedian seconds; ratio = femtograd / glmmTMB (TMB for the random walk; below 1: femtograd is faster);",
    "loglik_diff = femtograd's maximum minus glmmTMB's\n\n")
print(format(do.call(rbind, rows), digits = 3), row.names = FALSE)
