# sum(d<dist>(x, ..., log = TRUE)) in a fit against the matching loglik_*
# kernel and against optim(BFGS) + optimHess() on the same function of
# plain numbers, all measured in the same R process.
#
#   R_LIBS=/tmp/bench-lib Rscript bench/density-sums.R   # ~1 minute
#
# The d-function's log-densities are recorded once per fit (they are a
# value like any other); sum() of them records the kernel, which the fit
# then replays. So the ratio to the kernel is 1 plus that one recording.

fg_lib <- Sys.getenv("FEMTOGRAD_LIB")
suppressPackageStartupMessages({
  library(femtograd, lib.loc = if (nzchar(fg_lib)) fg_lib else NULL)
  library(bench)
})

set.seed(1)
median_time <- function(...) {
  b <- bench::mark(..., check = FALSE, min_iterations = 5, memory = FALSE, filter_gc = FALSE)
  stats::setNames(as.numeric(b$median), as.character(b$expression))
}
optim_fit <- function(f, start) {
  o <- optim(start, function(p) -do.call(f, as.list(p)), method = "BFGS")
  optimHess(o$par, function(p) -do.call(f, as.list(p)))
}

rows <- list()
for (n in c(200, 1e4, 1e5)) {
  x <- rnorm(n, 1, 2)
  k <- rpois(n, 3)
  d_normal <- function(mu, log_sigma) sum(dnorm(x, mu, exp(log_sigma), log = TRUE))
  k_normal <- function(mu, log_sigma) loglik_normal(mu, exp(log_sigma), x)
  d_pois <- function(a) sum(dpois(k, exp(a), log = TRUE))
  k_pois <- function(a) loglik_poisson(exp(a), k)
  t <- median_time(
    normal_d = fit(d_normal, c(mu = 0, log_sigma = 0)),
    normal_kernel = fit(k_normal, c(mu = 0, log_sigma = 0)),
    normal_optim = optim_fit(d_normal, c(mu = 0, log_sigma = 0)),
    pois_d = fit(d_pois, c(a = 0)),
    pois_kernel = fit(k_pois, c(a = 0)),
    pois_optim = optim_fit(d_pois, c(a = 0))
  )
  rows[[length(rows) + 1]] <- data.frame(
    n = n,
    model = c("dnorm", "dpois"),
    d_ms = 1e3 * t[c("normal_d", "pois_d")],
    kernel_ms = 1e3 * t[c("normal_kernel", "pois_kernel")],
    d_over_kernel = t[c("normal_d", "pois_d")] / t[c("normal_kernel", "pois_kernel")],
    d_over_optim = t[c("normal_d", "pois_d")] / t[c("normal_optim", "pois_optim")],
    row.names = NULL
  )
}
print(do.call(rbind, rows), digits = 3)
