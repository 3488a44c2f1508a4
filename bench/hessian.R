# femtograd's hessian() against numDeriv::hessian() (Richardson-extrapolated
# finite differences) on the same function in the same run, checked against
# the closed-form Hessian; then the cost of a Hessian relative to a gradient
# as the number of parameters grows.
#
#   R_LIBS=/tmp/bench-lib Rscript bench/hessian.R
#
# Environment (optional):
#   FEMTOGRAD_LIB  library holding femtograd (default: .libPaths())

fg_lib <- Sys.getenv("FEMTOGRAD_LIB")
suppressPackageStartupMessages({
  library(femtograd, lib.loc = if (nzchar(fg_lib)) fg_lib else NULL)
  library(bench)
})
if (!requireNamespace("numDeriv", quietly = TRUE)) stop("needs numDeriv (apt-get install r-cran-numderiv)")

cat(sprintf("femtograd %s from %s; numDeriv %s; %s; load average %s\n",
            packageVersion("femtograd"), dirname(find.package("femtograd")),
            packageVersion("numDeriv"), R.version.string,
            paste(scan("/proc/loadavg", what = "", n = 3, quiet = TRUE), collapse = " ")))

options(width = 200)
secs <- function(x) as.numeric(x)
fmt_ms <- function(s) sprintf("%.3f", s * 1e3)

# f(b) = sum(softplus(A b)) - |b|^2 / 2. With s = plogis(A b):
#   gradient  t(A) s - b
#   Hessian   t(A) diag(s (1 - s)) A - I
# (d softplus(u)/du = plogis(u), d plogis(u)/du = s (1 - s): the data term
# enters with a plus sign).
problem <- function(n, p, seed = 1) {
  set.seed(seed)
  A <- matrix(rnorm(n * p), n, p)
  b0 <- rnorm(p, sd = 0.2)
  s <- plogis(drop(A %*% b0))
  list(
    A = A, b0 = b0,
    f_fg = function(par) sum(log1p(exp(A %*% par$b))) - sum(par$b^2) / 2,
    f_fg_softplus = function(par) sum(softplus(A %*% par$b)) - sum(par$b^2) / 2,
    f_r = function(b) sum(log1p(exp(A %*% b))) - sum(b^2) / 2,
    H = crossprod(A, A * (s * (1 - s))) - diag(p),
    g = drop(crossprod(A, s)) - b0
  )
}

# ---------------------------------------------------------------------------
# 1. p = 20: femtograd hessian() vs numDeriv::hessian()
# ---------------------------------------------------------------------------

pr <- problem(1000, 20)
params <- list(b = val(pr$b0))

n_evals <- 0L
f_r_counted <- function(b) { n_evals <<- n_evals + 1L; pr$f_r(b) }
H_nd <- numDeriv::hessian(f_r_counted, pr$b0)
H_fg <- femtograd::hessian(pr$f_fg, params)
H_fg_sp <- femtograd::hessian(pr$f_fg_softplus, params)

bm <- bench::mark(
  "femtograd::hessian (log1p(exp))" = femtograd::hessian(pr$f_fg, params),
  "femtograd::hessian (softplus)" = femtograd::hessian(pr$f_fg_softplus, params),
  "femtograd: record f only" = pr$f_fg(params),
  "plain R f(b), one call" = pr$f_r(pr$b0),
  "numDeriv::hessian" = numDeriv::hessian(pr$f_r, pr$b0),
  check = FALSE, memory = FALSE, filter_gc = FALSE, min_iterations = 10, time_unit = "s"
)
t_med <- setNames(secs(bm$median), as.character(bm$expression))

err <- function(H) max(abs(unname(H) - pr$H))
cat("\n1. Hessian of f(b) = sum(log1p(exp(A %*% b))) - sum(b^2)/2, A 1000 x 20 (median over bench::mark runs)\n\n")
tab <- data.frame(
  method = c("femtograd::hessian, log1p(exp(.))", "femtograd::hessian, softplus(.)", "numDeriv::hessian (Richardson)"),
  median_ms = fmt_ms(t_med[c("femtograd::hessian (log1p(exp))", "femtograd::hessian (softplus)", "numDeriv::hessian")]),
  iterations = bm$n_itr[match(c("femtograd::hessian (log1p(exp))", "femtograd::hessian (softplus)", "numDeriv::hessian"),
                              as.character(bm$expression))],
  max_abs_err = sprintf("%.2e", c(err(H_fg), err(H_fg_sp), err(H_nd))),
  rel_err = sprintf("%.2e", c(err(H_fg), err(H_fg_sp), err(H_nd)) / max(abs(pr$H)))
)
print(tab, row.names = FALSE)
ratio <- t_med[["numDeriv::hessian"]] / t_med[["femtograd::hessian (log1p(exp))"]]
cat(sprintf("\nspeed ratio numDeriv / femtograd: %.0fx (target >= 100x: %s)\n", ratio,
            if (ratio >= 100) "met" else "NOT met"))
cat(sprintf("max |H| = %.1f; error is max abs difference from t(A) diag(s(1-s)) A - I, s = plogis(A b)\n",
            max(abs(pr$H))))
cat(sprintf("where the time goes: femtograd records f in %s ms (R side + Rust forward pass), the rest of hessian() is %s ms;\n",
            fmt_ms(t_med[["femtograd: record f only"]]),
            fmt_ms(t_med[["femtograd::hessian (log1p(exp))"]] - t_med[["femtograd: record f only"]])))
cat(sprintf("numDeriv calls f %d times at %s ms each (= %s ms of its %s ms)\n",
            n_evals, fmt_ms(t_med[["plain R f(b), one call"]]),
            fmt_ms(n_evals * t_med[["plain R f(b), one call"]]), fmt_ms(t_med[["numDeriv::hessian"]])))

# ---------------------------------------------------------------------------
# 2. Hessian cost relative to gradient cost as p grows
# ---------------------------------------------------------------------------

cat("\n2. femtograd: one hessian() vs one gradient() of the same f, A 1000 x p (median ms)\n\n")
rows <- lapply(c(5L, 20L, 100L), function(p) {
  pr <- problem(1000, p)
  params <- list(b = val(pr$b0))
  g <- femtograd::gradient(pr$f_fg, params)
  H <- femtograd::hessian(pr$f_fg, params)
  bm <- bench::mark(
    gradient = femtograd::gradient(pr$f_fg, params),
    hessian = femtograd::hessian(pr$f_fg, params),
    numDeriv = numDeriv::hessian(pr$f_r, pr$b0),
    check = FALSE, memory = FALSE, filter_gc = FALSE, min_iterations = 3, time_unit = "s"
  )
  t <- setNames(secs(bm$median), as.character(bm$expression))
  data.frame(p = p,
             gradient_ms = fmt_ms(t[["gradient"]]),
             hessian_ms = fmt_ms(t[["hessian"]]),
             hessian_over_gradient = sprintf("%.1f", t[["hessian"]] / t[["gradient"]]),
             numDeriv_ms = fmt_ms(t[["numDeriv"]]),
             numDeriv_over_hessian = sprintf("%.0f", t[["numDeriv"]] / t[["hessian"]]),
             grad_err = sprintf("%.1e", max(abs(unname(g$gradient) - pr$g))),
             hess_err = sprintf("%.1e", max(abs(unname(H) - pr$H))))
})
print(do.call(rbind, rows), row.names = FALSE)
cat("\nhessian() batches all p directions in one forward-over-reverse pass; grad_err and hess_err are max abs\n")
cat("differences from the closed forms t(A) s - b and t(A) diag(s(1-s)) A - I\n")
