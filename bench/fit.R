# Maximum-likelihood fitting and exact derivatives of whole log-likelihoods:
# femtograd against glm.fit(), plain R's dnorm() and TMB, all measured in
# the same R process, so the ratios hold on a loaded machine too.
#
#   R_LIBS=/tmp/fitbench-lib Rscript bench/fit.R     # from the repository root
#
# (a) logistic regression, n = 10^5, p = 10: fit() against glm.fit();
#     agreement of coefficients and standard errors with glm.
# (b) loglik_normal(mu, sigma, x), n = 10^6: value + gradient + Hessian
#     (gradient() and hessian()) against one sum(dnorm(x, mu, sigma, log = TRUE)).
# (c) TMB on the same two models (templates in bench/tmb/): fit, fit + SEs,
#     one gradient, one Hessian, and end to end including TMB's compile.
#
# Needs the R packages bench and TMB (Debian: r-cran-bench r-cran-tmb) and a
# C++ compiler for TMB. Takes about 2 minutes on an idle 2-core machine
# (45 s of it TMB's compile), 4-5 minutes on a busy one.
#
# Environment (optional):
#   FEMTOGRAD_LIB             library holding femtograd (default: .libPaths())
#   FEMTOGRAD_BENCH_REPS      repetitions of the fast measurements (default 10)
#   FEMTOGRAD_BENCH_REPS_TMB  repetitions of TMB's fits and Hessians (default 3)
#   FEMTOGRAD_BENCH_PROFILE   0 skips the Rprof section (default 1)

fg_lib <- Sys.getenv("FEMTOGRAD_LIB")
suppressPackageStartupMessages({
  library(femtograd, lib.loc = if (nzchar(fg_lib)) fg_lib else NULL)
  library(bench)
})
# TMB is loaded only for part (c): it brings in Matrix, whose ~10^6 extra
# live R objects make every garbage collection slower, and glm.fit(), which
# collects a lot, would be measured slower in (a) than in a plain session.
if (!nzchar(system.file(package = "TMB"))) stop("bench/fit.R needs the R package TMB (Debian: r-cran-tmb)")

reps <- as.integer(Sys.getenv("FEMTOGRAD_BENCH_REPS", "10"))
reps_tmb <- as.integer(Sys.getenv("FEMTOGRAD_BENCH_REPS_TMB", "3"))
profile <- Sys.getenv("FEMTOGRAD_BENCH_PROFILE", "1") != "0"
options(width = 200)

load_average <- function() paste(scan("/proc/loadavg", what = "", n = 3, quiet = TRUE), collapse = " ")
cat(sprintf("femtograd %s from %s; TMB %s; bench %s; %s\n",
            packageVersion("femtograd"), dirname(find.package("femtograd")),
            utils::packageDescription("TMB")$Version, packageVersion("bench"), R.version.string))
cat(sprintf("load average at start: %s; %d CPUs; reps = %d (TMB fits/Hessians: %d)\n",
            load_average(), parallel::detectCores(), reps, reps_tmb))

# Median seconds of each expression, steady state, on a machine whose load
# may drift. Each round runs every expression in a block of `block`
# back-to-back runs (starting from a different expression each round), and
# the first run of each block is not timed: it absorbs the switch from the
# previous expression (cold caches, and collecting the garbage the previous
# expression left behind). So each expression pays, as under bench::mark,
# for collecting its own garbage, while load changes hit all expressions
# alike. Rounds repeat until each expression has `n` timed runs.
# `block = 1` times every run (for slow expressions, where what the previous
# one left behind is negligible). `cold = TRUE` times every run after an
# untimed gc() instead: nothing is left over from anything, and femtograd's
# graphs from the previous run are freed in that gc(). Wall-clock medians
# are the result; CPU-time (user + system) medians ride along as attribute
# "cpu".
timings <- function(..., n = reps, block = 3L, cold = FALSE) {
  exprs <- as.list(substitute(list(...)))[-1L]
  env <- parent.frame()
  k <- length(exprs)
  warm_up <- !cold && block > 1L
  timed_per_block <- if (warm_up) block - 1L else 1L
  rounds <- ceiling(n / timed_per_block)
  wall <- cpu <- matrix(NA_real_, rounds * timed_per_block, k, dimnames = list(NULL, names(exprs)))
  row <- 0L
  for (r in seq_len(rounds)) {
    for (j in (seq_len(k) + r - 2L) %% k + 1L) {
      if (warm_up) eval(exprs[[j]], env)
      for (b in seq_len(timed_per_block)) {
        if (cold) invisible(gc(verbose = FALSE))
        c0 <- unclass(proc.time()); t0 <- bench::hires_time()
        eval(exprs[[j]], env)
        t1 <- bench::hires_time(); c1 <- unclass(proc.time())
        wall[row + b, j] <- as.numeric(t1 - t0)
        cpu[row + b, j] <- (c1[["user.self"]] - c0[["user.self"]]) + (c1[["sys.self"]] - c0[["sys.self"]])
      }
    }
    row <- row + timed_per_block
  }
  structure(apply(wall, 2, stats::median), cpu = apply(cpu, 2, stats::median))
}
at <- function(t, name) structure(t[[name]], cpu = attr(t, "cpu")[[name]])
max_rel <- function(a, b) max(abs(as.numeric(a) - as.numeric(b)) / abs(as.numeric(b)))

results <- list()
# fg_s and peer_s are wall-clock medians carrying their CPU medians (the
# "cpu" attribute of one element of timings()' result, see at()).
add_row <- function(task, fg_s, peer, peer_s, target = NA_real_, note = "") {
  results[[length(results) + 1L]] <<- data.frame(
    task = task, femtograd_s = as.numeric(fg_s), peer = peer, peer_s = as.numeric(peer_s),
    ratio = as.numeric(fg_s) / as.numeric(peer_s),
    cpu_ratio = if (is.null(attr(fg_s, "cpu")) || is.null(attr(peer_s, "cpu"))) NA_real_
                else attr(fg_s, "cpu") / max(attr(peer_s, "cpu"), 1e-3),
    target = if (is.na(target)) "-" else sprintf("< %g", target),
    met = if (is.na(target)) "" else if (fg_s / peer_s < target) "yes" else "NO",
    note = note, stringsAsFactors = FALSE)
}

# ---------------------------------------------------------------------------
# (a) logistic regression, n = 10^5, p = 10
# ---------------------------------------------------------------------------

set.seed(20241126)
n_logit <- 1e5; p <- 10
X <- cbind(1, matrix(rnorm(n_logit * (p - 1)), n_logit))
beta_true <- c(-0.5, 0.1 * seq_len(p - 1) * (-1)^seq_len(p - 1))
y <- rbinom(n_logit, 1, plogis(drop(X %*% beta_true)))

beta_at <- beta_true   # where single gradients and Hessians are taken
ll_logistic <- function(beta) loglik_logistic(beta, X, y)
fg_logistic_fit <- function() fit(ll_logistic, params = list(beta = rep(0, p)))

cat(sprintf("\n(a) logistic regression, n = %s, p = %d\n", format(n_logit, big.mark = ",", scientific = FALSE), p))
t_a <- timings(femtograd = fg_logistic_fit(), glm.fit = glm.fit(X, y, family = binomial()))
t_a_cold <- timings(femtograd = fg_logistic_fit(), glm.fit = glm.fit(X, y, family = binomial()), cold = TRUE)

# Accuracy, outside the timing: glm run to a tight tolerance; its SEs as
# summary.glm computes them, from the R factor of the final weighted QR.
fg_a <- fg_logistic_fit()
glm_a <- glm.fit(X, y, family = binomial(), control = glm.control(epsilon = 1e-12, maxit = 100))
piv <- order(glm_a$qr$pivot)
glm_se <- sqrt(diag(chol2inv(qr.R(glm_a$qr)))[piv])
glm_default <- glm.fit(X, y, family = binomial())
coef_rel <- max_rel(coef(fg_a), glm_a$coefficients)
se_rel <- max_rel(se(fg_a), glm_se)
# glm's QR holds the weights of the iterate before the last; the closed form
# sqrt(diag((X' W X)^-1)), W = p(1 - p) at glm's final coefficients, separates
# that lag from femtograd's own error.
w_glm <- glm_a$fitted.values * (1 - glm_a$fitted.values)
closed_se <- sqrt(diag(solve(crossprod(X, w_glm * X))))
se_rel_closed <- max_rel(se(fg_a), closed_se)
cat(sprintf("fit(): %d Newton iterations, %d log-likelihood evaluations from %d recording(s), converged = %s\n",
            fg_a$iterations, fg_a$evaluations, fg_a$recordings, fg_a$converged))
cat(sprintf("glm.fit(): %d IRLS iterations (default epsilon 1e-8)\n", glm_default$iter))
cat(sprintf("median seconds, steady state: femtograd fit() %.4f, glm.fit() %.4f, ratio %.2f (CPU time ratio %.2f)\n",
            t_a[["femtograd"]], t_a[["glm.fit"]], t_a[["femtograd"]] / t_a[["glm.fit"]],
            attr(t_a, "cpu")[["femtograd"]] / attr(t_a, "cpu")[["glm.fit"]]))
cat(sprintf("median seconds, cold (gc() before each call): femtograd fit() %.4f, glm.fit() %.4f, ratio %.2f (CPU %.2f)\n",
            t_a_cold[["femtograd"]], t_a_cold[["glm.fit"]], t_a_cold[["femtograd"]] / t_a_cold[["glm.fit"]],
            attr(t_a_cold, "cpu")[["femtograd"]] / attr(t_a_cold, "cpu")[["glm.fit"]]))
cat(sprintf("max relative difference vs glm (epsilon = 1e-12): coefficients %.2e, standard errors %.2e\n",
            coef_rel, se_rel))
cat(sprintf("  (SEs vs the closed form at glm's coefficients: %.2e; glm's own QR-based SEs vs that closed form: %.2e)\n",
            se_rel_closed, max_rel(glm_se, closed_se)))
add_row("(a) logistic fit n=1e5 p=10 (coef+SE)", at(t_a, "femtograd"), "glm.fit()", at(t_a, "glm.fit"), 0.5,
        sprintf("coef rel.diff %.1e, SE rel.diff %.1e", coef_rel, se_rel))
add_row("(a) same, cold: gc() before each call", at(t_a_cold, "femtograd"), "glm.fit()", at(t_a_cold, "glm.fit"), 0.5,
        "untimed gc() before each call")

# ---------------------------------------------------------------------------
# (b) loglik_normal, n = 10^6: value + gradient + Hessian vs one dnorm sum
# ---------------------------------------------------------------------------

set.seed(20241127)
n_norm <- 1e6
x <- rnorm(n_norm, mean = 0.3, sd = 1.5)
ll_normal <- function(p) loglik_normal(p$mu, p$sigma, x)
normal_params <- function() list(mu = val(0.1), sigma = val(1.2))

cat(sprintf("\n(b) loglik_normal(mu, sigma, x), n = %s, at mu = 0.1, sigma = 1.2\n", format(n_norm, big.mark = ",", scientific = FALSE)))
t_b <- timings(
  "gradient()" = gradient(ll_normal, normal_params()),
  "hessian()" = hessian(ll_normal, normal_params()),
  "gradient() + hessian()" = { gradient(ll_normal, normal_params()); hessian(ll_normal, normal_params()) },
  "sum(dnorm(log = TRUE))" = sum(dnorm(x, 0.1, 1.2, log = TRUE)),
  n = 3L * reps)

# Check against the closed forms.
g_b <- gradient(ll_normal, normal_params())
h_b <- hessian(ll_normal, normal_params())
r <- x - 0.1; s <- 1.2; S1 <- sum(r); S2 <- sum(r^2)
exact_g <- c(S1 / s^2, -n_norm / s + S2 / s^3)
exact_h <- matrix(c(-n_norm / s^2, -2 * S1 / s^3, -2 * S1 / s^3, n_norm / s^2 - 3 * S2 / s^4), 2)
b_err <- c(value = abs(g_b$value - sum(dnorm(x, 0.1, 1.2, log = TRUE))) / abs(g_b$value),
           gradient = max_rel(g_b$gradient, exact_g), hessian = max_rel(h_b, exact_h))
print(data.frame(call = names(t_b), median_s = t_b, vs_dnorm_sum = t_b / t_b[["sum(dnorm(log = TRUE))"]],
                 row.names = NULL), digits = 3)
cat(sprintf("relative error vs closed form: value %.1e, gradient %.1e, Hessian %.1e\n",
            b_err[["value"]], b_err[["gradient"]], b_err[["hessian"]]))
add_row("(b) normal n=1e6: value+grad+Hessian", at(t_b, "gradient() + hessian()"), "sum(dnorm()) once",
        at(t_b, "sum(dnorm(log = TRUE))"), 0.2, "two calls: gradient() then hessian()")
add_row("(b) normal n=1e6: hessian() alone", at(t_b, "hessian()"), "sum(dnorm()) once",
        at(t_b, "sum(dnorm(log = TRUE))"), 0.2, "one call (computes value+grad too, returns H)")

# ---------------------------------------------------------------------------
# Where femtograd's time goes
# ---------------------------------------------------------------------------

cat("\nwhere femtograd's time goes (median seconds of the pieces)\n")
fg_leaf <- femtograd:::fg_leaf
fg_hessian <- femtograd:::fg_hessian
par_a <- list(beta = val(beta_at))
par_b <- normal_params()
# Derivatives are cached on the recorded nodes (a node's inputs never
# change), so the sweeps are timed on a fresh recording each time: record +
# fg_hessian, less the recording alone.
pieces <- timings(
  "(a) fg_leaf(): X into Rust as a constant (lent, not copied)" = fg_leaf(X, dim(X), TRUE),
  "(a) record loglik_logistic(val(beta), X, y)" = ll_logistic(val(beta_at)),
  "(a) record + fg_hessian(recorded)" = fg_hessian(ll_logistic(par_a$beta), par_a),
  "(a) plain R: X %*% beta" = X %*% beta_at,
  "(b) fg_leaf(): x into Rust (lent, not copied)" = fg_leaf(x, NULL, TRUE),
  "(b) record loglik_normal(val, val, x)" = loglik_normal(par_b$mu, par_b$sigma, x),
  "(b) record + fg_hessian(recorded)" = fg_hessian(loglik_normal(par_b$mu, par_b$sigma, x), par_b),
  "(b) plain R: sum(dnorm(log = TRUE))" = sum(dnorm(x, 0.1, 1.2, log = TRUE)),
  n = 3L * reps)
pieces <- c(pieces[1:3], "(a) Rust sweeps only (difference)" = pieces[[3]] - pieces[[2]], pieces[4:7],
            "(b) Rust sweeps only (difference)" = pieces[[7]] - pieces[[6]], pieces[8])
print(data.frame(piece = names(pieces), median_s = pieces, row.names = NULL), digits = 3)
cat(sprintf("(a) fit() called the R function %d time(s) for %d evaluations: the recording is replayed in\n",
            fg_a$recordings, fg_a$evaluations))
cat("    Rust at every other point. R lends X to the engine, which reads it in place: recordings do not copy it.\n")

# What-if, through internals (not the public API): X made a constant node
# once, outside the log-likelihood, and the kernel on X %*% beta recorded as
# two nodes (the general path, which loglik_logistic no longer takes).
X_once <- femtograd:::as_node(X, "bench")
fg_kernel_r <- femtograd:::kernel
ll_logistic_x_once <- function(beta) fg_kernel_r("bernoulli_logit", list(X_once %*% beta), y)
fit_x_once <- function() fit(ll_logistic_x_once, params = list(beta = rep(0, p)))
stopifnot(max_rel(coef(fit_x_once()), coef(fg_a)) < 1e-12)
t_whatif <- timings("fit(), loglik_logistic(beta, X, y)" = fg_logistic_fit(),
                    "fit(), X once, X %*% beta then kernel" = fit_x_once(),
                    "glm.fit()" = glm.fit(X, y, family = binomial()))
print(data.frame(what_if = names(t_whatif), median_s = t_whatif, vs_glm.fit = t_whatif / t_whatif[["glm.fit()"]],
                 row.names = NULL), digits = 3)
add_row("(a) what-if: X once, %*% then kernel", at(t_whatif, "fit(), X once, X %*% beta then kernel"), "glm.fit()",
        at(t_whatif, "glm.fit()"), note = "internals: the general two-node path")

# Memory traffic: minor page faults (each one a 4 KB page touched for the
# first time) and R's garbage-collection time, per call.
if (file.exists("/proc/self/stat")) {
  minflt <- function() as.numeric(strsplit(readLines("/proc/self/stat"), " ")[[1]][10])
  per_call <- function(fun) {
    g0 <- gc.time()[[1]]; m0 <- minflt()
    fun()
    c(faults = minflt() - m0, gc_s = gc.time()[[1]] - g0)
  }
  glm_call <- function() glm.fit(X, y, family = binomial())
  traffic <- rbind(
    "fit()" = apply(replicate(5, per_call(fg_logistic_fit)), 1, stats::median),
    "fit(), X once, %*% then kernel" = apply(replicate(5, per_call(fit_x_once)), 1, stats::median),
    "glm.fit()" = apply(replicate(5, per_call(glm_call)), 1, stats::median))
  traffic <- cbind(traffic, fresh_MB = traffic[, "faults"] * 4 / 1024)
  cat("(a) per call, median of 5 back-to-back calls: R's GC seconds, and minor page faults (4 KB pages touched\n")
  cat("    for the first time; these vary with the allocator's state)\n")
  print(signif(traffic, 3))
}

if (profile) {
  prof_file <- tempfile(fileext = ".Rprof")
  show_profile <- function(label, expr_fun, times) {
    Rprof(prof_file, interval = 0.002)
    for (i in seq_len(times)) expr_fun()
    Rprof(NULL)
    sp <- summaryRprof(prof_file)
    cat(sprintf("\nRprof, %s (%d runs; %.2f s sampled): by self time\n", label, times, sp$sampling.time))
    print(head(sp$by.self, 8))
  }
  show_profile("(a) femtograd fit() of the logistic regression", fg_logistic_fit, 5L)
  show_profile("(b) femtograd hessian() of loglik_normal", function() hessian(ll_normal, normal_params()), 20L)
  cat("(.Call time spent in Rust is charged to the R function that made the call: fg_maximize is the\n",
      " optimiser and its derivative sweeps, fg_leaf/fg_kernel/fg_matmul the conversions and forward pass)\n", sep = "")
}

# ---------------------------------------------------------------------------
# TMB: compile both templates once, in a temporary directory (not timed with
# the fits; reported as part of TMB's end-to-end cost).
# ---------------------------------------------------------------------------

script_dir <- local({
  arg <- grep("^--file=", commandArgs(FALSE), value = TRUE)
  if (length(arg)) dirname(normalizePath(sub("^--file=", "", arg[1]))) else "bench"
})
tmb_src <- file.path(script_dir, "tmb")
tmb_dir <- file.path(tempdir(), "femtograd-bench-tmb")
dir.create(tmb_dir, showWarnings = FALSE)
stopifnot(file.copy(file.path(tmb_src, c("logistic.cpp", "normal.cpp")), tmb_dir, overwrite = TRUE))

suppressPackageStartupMessages(library(TMB))
cat("\ncompiling the TMB templates (g++ output follows)\n")
compile_s <- c(logistic = NA_real_, normal = NA_real_)
for (model in names(compile_s)) {
  compile_s[[model]] <- system.time(TMB::compile(file.path(tmb_dir, paste0(model, ".cpp"))))[["elapsed"]]
  dyn.load(TMB::dynlib(file.path(tmb_dir, model)))
}
cat(sprintf("TMB compile: logistic.cpp %.1f s, normal.cpp %.1f s\n", compile_s[["logistic"]], compile_s[["normal"]]))

# ---------------------------------------------------------------------------
# (c) TMB on the same models
# ---------------------------------------------------------------------------

# TMB minimises the negative log-likelihood; femtograd maximises the
# log-likelihood: gradients and Hessians agree up to sign.
# `exact` holds reference estimates and SEs (glm at epsilon = 1e-12; the
# normal's closed form), to tell which of the two optimisers stopped short.
tmb_compare <- function(label, model, data, start, fg_fit_fun, fg_grad_fun, fg_hess_fun, theta, exact) {
  cat(sprintf("\n(c) TMB, %s\n", label))
  make_s <- system.time(obj <- MakeADFun(data, start, DLL = model, silent = TRUE))[["elapsed"]]
  using_atomics <- obj$env$usingAtomics()
  tmb_fit <- function() nlminb(obj$par, obj$fn, obj$gr, obj$he)
  tmb_fit_gr <- function() nlminb(obj$par, obj$fn, obj$gr)
  opt <- tmb_fit()

  # sdreport() at the optimum is timed on its own; fit + SEs adds the two.
  t_fit <- timings("femtograd fit()" = fg_fit_fun(), "TMB nlminb(fn, gr, he)" = tmb_fit(),
                   "TMB sdreport() at the optimum" = sdreport(obj, par.fixed = opt$par),
                   "TMB nlminb(fn, gr) (no Hessian)" = tmb_fit_gr(), n = reps_tmb, block = 1L)
  t_fit_se <- structure(t_fit[["TMB nlminb(fn, gr, he)"]] + t_fit[["TMB sdreport() at the optimum"]],
                        cpu = attr(t_fit, "cpu")[["TMB nlminb(fn, gr, he)"]] +
                          attr(t_fit, "cpu")[["TMB sdreport() at the optimum"]])
  t_grad <- timings("femtograd gradient()" = fg_grad_fun(), "TMB obj$gr()" = obj$gr(theta))
  t_hess <- timings("femtograd hessian()" = fg_hess_fun(), "TMB obj$he()" = obj$he(theta), n = reps_tmb, block = 2L)

  # Agreement: estimates, SEs (sdreport's default Hessian is optimHess on
  # obj$gr, i.e. finite differences of the exact gradient; also the exact
  # obj$he), and the derivatives at `theta` (where fg_grad_fun and
  # fg_hess_fun take them).
  fg <- fg_fit_fun()
  sd_default <- sdreport(obj, par.fixed = opt$par)
  se_exact <- sqrt(diag(solve(obj$he(opt$par))))
  g_fg <- fg_grad_fun()$gradient
  h_fg <- fg_hess_fun()
  agree <- c(estimates = max_rel(coef(fg), opt$par),
             se_sdreport = max_rel(se(fg), sqrt(diag(sd_default$cov.fixed))),
             se_exact_he = max_rel(se(fg), se_exact),
             gradient = max_rel(g_fg, -obj$gr(theta)),
             hessian = max_rel(h_fg, -obj$he(theta)))
  cat(sprintf("MakeADFun (taping) %.2f s; template uses TMB atomics: %s (so obj$he() is %s)\n", make_s,
              using_atomics, if (using_atomics) "a Jacobian of a taped gradient" else "CppAD's Hessian of the tape"))
  cat(sprintf("iterations: femtograd %d (%d evaluations), nlminb with he %d (%d fn, %d gr evaluations); converged: %s / %s\n",
              fg$iterations, fg$evaluations, opt$iterations, opt$evaluations[["function"]],
              opt$evaluations[["gradient"]], fg$converged, opt$convergence == 0))
  print(data.frame(measure = c(names(t_fit), names(t_grad), names(t_hess)),
                   median_s = c(t_fit, t_grad, t_hess), row.names = NULL), digits = 3)
  cat("max relative difference femtograd vs TMB:\n")
  print(signif(agree, 3))
  cat(sprintf("max relative difference from the reference (%s): estimates femtograd %.1e, TMB %.1e; SEs femtograd %.1e, TMB sdreport %.1e\n",
              exact$what, max_rel(coef(fg), exact$est), max_rel(opt$par, exact$est),
              max_rel(se(fg), exact$se), max_rel(sqrt(diag(sd_default$cov.fixed)), exact$se)))

  end_to_end <- compile_s[[model]] + make_s + as.numeric(t_fit_se)
  add_row(sprintf("(c) %s: fit (estimates)", label), at(t_fit, "femtograd fit()"),
          "TMB nlminb(fn,gr,he)", at(t_fit, "TMB nlminb(fn, gr, he)"),
          note = sprintf("estimates rel.diff %.1e", agree[["estimates"]]))
  add_row(sprintf("(c) %s: fit + SEs", label), at(t_fit, "femtograd fit()"),
          "nlminb + sdreport", t_fit_se,
          note = sprintf("SE rel.diff %.1e (sdreport), %.1e (exact he)", agree[["se_sdreport"]], agree[["se_exact_he"]]))
  add_row(sprintf("(c) %s: fit, TMB gradient-only", label), at(t_fit, "femtograd fit()"),
          "TMB nlminb(fn,gr)", at(t_fit, "TMB nlminb(fn, gr) (no Hessian)"), note = "TMB's usual way")
  add_row(sprintf("(c) %s: one gradient", label), at(t_grad, "femtograd gradient()"), "TMB obj$gr()",
          at(t_grad, "TMB obj$gr()"), note = sprintf("rel.diff %.1e", agree[["gradient"]]))
  add_row(sprintf("(c) %s: one Hessian", label), at(t_hess, "femtograd hessian()"), "TMB obj$he()",
          at(t_hess, "TMB obj$he()"), note = sprintf("rel.diff %.1e", agree[["hessian"]]))
  add_row(sprintf("(c) %s: end to end", label), at(t_fit, "femtograd fit()"),
          "compile+MakeADFun+fit+SE", end_to_end,
          note = sprintf("compile %.1f s + MakeADFun %.2f s", compile_s[[model]], make_s))
}

tmb_compare("logistic n=1e5 p=10", "logistic", list(X = X, y = y), list(beta = rep(0, p)),
            fg_logistic_fit,
            function() gradient(function(q) loglik_logistic(q$beta, X, y), list(beta = val(beta_at))),
            function() hessian(function(q) loglik_logistic(q$beta, X, y), list(beta = val(beta_at))),
            beta_at, list(what = "glm, epsilon = 1e-12", est = glm_a$coefficients, se = closed_se))

mle_mu <- mean(x); mle_sigma <- sqrt(mean((x - mle_mu)^2))
tmb_compare("normal n=1e6", "normal", list(x = x), list(mu = 0, sigma = 1),
            function() fit(function(mu, sigma) loglik_normal(mu, sigma, x), params = c(mu = 0, sigma = 1)),
            function() gradient(ll_normal, normal_params()),
            function() hessian(ll_normal, normal_params()),
            c(0.1, 1.2),
            list(what = "closed form", est = c(mle_mu, mle_sigma),
                 se = c(mle_sigma / sqrt(n_norm), mle_sigma / sqrt(2 * n_norm))))

# ---------------------------------------------------------------------------
# Summary
# ---------------------------------------------------------------------------

cat(sprintf("\nsummary (median wall-clock seconds; ratio = femtograd / peer, lower is better; cpu_ratio: the same\n%s\n\n",
            sprintf("on CPU time of this process, steadier on a loaded machine; 'met' judges the wall-clock ratio; load average now %s)",
                    load_average())))
tab <- do.call(rbind, results)
tab$femtograd_s <- signif(tab$femtograd_s, 3)
tab$peer_s <- signif(tab$peer_s, 3)
tab$ratio <- signif(tab$ratio, 3)
tab$cpu_ratio <- signif(tab$cpu_ratio, 3)
print(tab, row.names = FALSE, right = FALSE)
