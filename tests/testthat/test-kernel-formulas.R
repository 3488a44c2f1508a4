# Inside a joint density with random effects, loglik_*() records the sum of
# stats' densities its kernel stands for (R/kernel-formulas.R). The oracle
# is the kernel itself: the same value, gradient and Hessian.
test_that("each kernel's formula has the kernel's value and derivatives", {
  set.seed(5)
  cases <- list(
    list("normal", c(0.3, 1.4), rnorm(12)),
    list("exponential", 1.7, rexp(12)),
    list("poisson", 2.5, rpois(12, 2)),
    list("binomial", 0.35, rbinom(12, 6, 0.4), 6),
    list("bernoulli", 0.35, rbinom(12, 1, 0.4)),
    list("gamma", c(2, 1.5), rgamma(12, 2, 1.5)),
    list("beta", c(2, 3), rbeta(12, 2, 3)),
    list("negbinom", c(3, 0.4), rnbinom(12, 3, 0.4)),
    list("negbinom_mu", c(3, 2.2), rnbinom(12, size = 3, mu = 2)),
    list("weibull", c(1.5, 2), rweibull(12, 1.5, 2)),
    list("lognormal", c(0.2, 0.7), rlnorm(12, 0.2, 0.7)),
    list("logis", c(0.4, 1.3), rlogis(12, 0.4, 1.3)),
    list("t", c(0.5, 1.2, 4), rt(12, 4))
  )
  for (case in cases) {
    name <- case[[1]]
    loglik <- get(paste0("loglik_", name), envir = asNamespace("femtograd"))
    f <- function(p) {
      args <- c(lapply(seq_along(case[[2]]), function(i) p[[1]][i]), list(case[[3]]))
      if (length(case) == 4) args <- c(args, list(case[[4]]))
      do.call(loglik, args)
    }
    at <- list(val(case[[2]]))
    kernel <- hessian(f, at)
    formula <- femtograd:::without_density_kernels(hessian(f, at))
    expect_equal(formula, kernel, tolerance = 1e-10, info = name)
    expect_equal(value_of(femtograd:::without_density_kernels(f(at))), value_of(f(at)), tolerance = 1e-12, info = name)
  }
})
