# fit(shards = , cluster = ): a log-likelihood summed over data shards.
# Oracles: the fit of the concatenated data (same model, one shard), glm()
# and the HC0 sandwich computed by hand from glm's fitted values.

# The helpers shard_data(), logistic_shard(), expect_same_fit() and
# test_cluster() are in helper-shards.R.

test_that("a sharded fit without a cluster equals the fit of the concatenated data", {
  d <- shard_data()
  start <- list(beta = rep(0, 3))
  whole <- fit(function(beta) logistic_shard(beta, d), params = start)
  sharded <- fit(logistic_shard, params = start, shards = split(d, d$g))
  expect_true(sharded$converged)
  expect_same_fit(sharded, whole)
  expect_equal(nobs(sharded), nrow(d))
  # recorded once per shard, replayed at the other points
  expect_equal(sharded$recordings, 3)

  # glm on the full data: coefficients and standard errors
  g <- glm(y ~ x1 + x2, family = binomial, data = d, control = glm.control(epsilon = 1e-14, maxit = 100))
  expect_equal(unname(coef(sharded)), unname(coef(g)), tolerance = 1e-6)
  expect_equal(unname(se(sharded)), unname(sqrt(diag(vcov(g)))), tolerance = 1e-6)
  # HC0 sandwich by hand from glm's fit: (X'WX)^-1 X' diag(r^2) X (X'WX)^-1
  X <- model.matrix(g)
  p <- fitted(g)
  bread <- solve(crossprod(X * sqrt(p * (1 - p))))
  meat <- crossprod(X * (d$y - p))
  expect_equal(unname(vcov(sharded, type = "sandwich")), unname(bread %*% meat %*% bread), tolerance = 1e-6)
})

test_that("methods work on a sharded fit: profile intervals, tests, transforms, delta method", {
  d <- shard_data(n = 300, seed = 7)
  shards <- split(d, d$g)
  normal_shard <- function(mu, sigma, data) loglik_normal(mu, sigma, data$x1)
  whole <- fit(function(mu, sigma) normal_shard(mu, sigma, d), params = c(mu = 0, sigma = 1),
               transform = list(sigma = "positive"))
  sharded <- fit(normal_shard, params = c(mu = 0, sigma = 1), transform = list(sigma = "positive"), shards = shards)
  expect_same_fit(sharded, whole)
  expect_same_fit(sharded$working, whole$working)
  expect_equal(confint(sharded, method = "profile"), confint(whole, method = "profile"), tolerance = 1e-8)
  # the normal MLE in closed form
  expect_equal(unname(coef(sharded)), c(mean(d$x1), sqrt(mean((d$x1 - mean(d$x1))^2))), tolerance = 1e-8)
  expect_equal(coef(delta_method(sharded, function(sigma) sigma^2)), coef(delta_method(whole, function(sigma) sigma^2)),
               tolerance = 1e-8)

  start <- list(beta = rep(0, 3))
  big <- fit(logistic_shard, params = start, shards = shards)
  small <- fit(logistic_shard, params = start, shards = shards, fixed = c(beta3 = 0))
  big_whole <- fit(function(beta) logistic_shard(beta, d), params = start)
  small_whole <- fit(function(beta) logistic_shard(beta, d), params = start, fixed = c(beta3 = 0))
  expect_equal(unname(lrt(small, big)$statistic), unname(lrt(small_whole, big_whole)$statistic), tolerance = 1e-8)
  expect_equal(anova(small, big)$Chisq, anova(small_whole, big_whole)$Chisq, tolerance = 1e-8)
  expect_equal(unname(score_test(small)$statistic), unname(score_test(small_whole)$statistic), tolerance = 1e-8)
  expect_equal(confint(big, parm = "beta2", method = "profile"), confint(big_whole, parm = "beta2", method = "profile"),
               tolerance = 1e-8)
})

test_that("bootstrap() of a sharded fit resamples within shards", {
  d <- shard_data(n = 240, seed = 3)
  start <- list(beta = rep(0, 3))
  # one shard: the same draws as the unsharded bootstrap
  one <- fit(logistic_shard, params = start, shards = list(d))
  whole <- fit(function(beta) logistic_shard(beta, d), params = start)
  set.seed(5); b1 <- bootstrap(one, R = 4, progress = FALSE)
  set.seed(5); b0 <- bootstrap(whole, R = 4, progress = FALSE)
  expect_equal(b1$t, b0$t, tolerance = 1e-8)
  expect_equal(b1$n, nrow(d))

  # three shards: each resample keeps every shard's size; the same draws
  # made by hand (shard by shard) and fitted as weighted data agree
  shards <- split(d, d$g)
  three <- fit(logistic_shard, params = start, shards = shards)
  set.seed(9); b3 <- bootstrap(three, R = 2, progress = FALSE)
  set.seed(9)
  for (r in 1:2) {
    counts <- lapply(shards, function(s) as.vector(rmultinom(1, nrow(s), rep(1 / nrow(s), nrow(s)))))
    rows <- unlist(Map(function(s, w) rep(as.integer(rownames(s)), w), shards, counts))
    g <- glm(y ~ x1 + x2, family = binomial, data = d[rows, ], control = glm.control(epsilon = 1e-14, maxit = 100))
    expect_equal(unname(b3$t[r, ]), unname(coef(g)), tolerance = 1e-6)
  }
})

test_that("bad shards are refused before fitting, and a failing shard is named", {
  d <- shard_data(n = 90)
  start <- list(beta = rep(0, 3))
  shards <- split(d, d$g)
  empty <- shards
  empty[[2]] <- d[0, ]
  expect_error(fit(logistic_shard, params = start, shards = empty), "shard 2 \\('2'\\) is empty")
  renamed <- shards
  names(renamed[[3]])[1] <- "z1"
  expect_error(fit(logistic_shard, params = start, shards = renamed),
               "the shards differ: shard 3 \\('3'\\) is a data frame with columns z1, x2, g, y but shard 1 is a data frame with columns x1, x2, g, y")
  retyped <- shards
  retyped[[2]]$x2 <- as.character(retyped[[2]]$x2)
  expect_error(fit(logistic_shard, params = start, shards = retyped), "shard 2 \\('2'\\) column 'x2' has type character")
  expect_error(fit(logistic_shard, params = start, shards = d), "shards must be a non-empty list")
  expect_error(fit(logistic_shard, params = start, shards = list()), "shards must be a non-empty list")
  expect_error(fit(function(beta) 0, params = start, shards = shards), "an argument `data`")
  expect_error(fit(logistic_shard, params = start, cluster = "x"), "cluster goes with shards")
  expect_error(fit(logistic_shard, params = start, shards = shards, cluster = list(1)), "cluster must be a cluster")
  expect_error(fit(y ~ dnorm(mean = mu, sd = 1), params = c(mu = 0), data = d, shards = shards), "not both")

  failing <- function(beta, data) {
    if (data$g[1] == 2) stop("cannot read this shard")
    loglik_logistic(beta, cbind(1, data$x1, data$x2), data$y)
  }
  expect_error(fit(failing, params = start, shards = shards),
               "fit: the log-likelihood function failed: shard 2 failed in this R process: cannot read this shard")
})

test_that("a sharded fit on a two-worker PSOCK cluster equals the in-process fit", {
  cl <- test_cluster(2L)
  on.exit(parallel::stopCluster(cl), add = TRUE)
  d <- shard_data(n = 300, seed = 21)
  shards <- split(d, d$g)   # three shards on two workers
  start <- list(beta = rep(0, 3))
  whole <- fit(function(beta) logistic_shard(beta, d), params = start)
  sharded <- fit(logistic_shard, params = start, shards = shards, cluster = cl)
  expect_same_fit(sharded, whole)
  expect_equal(sharded$recordings, 3)
  expect_equal(confint(sharded, parm = "beta1", method = "profile"),
               confint(whole, parm = "beta1", method = "profile"), tolerance = 1e-8)
  g <- glm(y ~ x1 + x2, family = binomial, data = d, control = glm.control(epsilon = 1e-14, maxit = 100))
  expect_equal(unname(se(sharded)), unname(sqrt(diag(vcov(g)))), tolerance = 1e-6)

  # the bootstrap draws on the driver: the same as without a cluster
  local <- fit(logistic_shard, params = start, shards = shards)
  set.seed(11); on_cluster <- bootstrap(sharded, R = 2, progress = FALSE)
  set.seed(11); in_process <- bootstrap(local, R = 2, progress = FALSE)
  expect_equal(on_cluster$t, in_process$t, tolerance = 1e-10)

  # a worker's error names the shard and the worker, and the cluster is
  # still usable afterwards
  failing <- function(beta, data) {
    if (data$g[1] == 3) stop("disk full")
    loglik_logistic(beta, cbind(1, data$x1, data$x2), data$y)
  }
  expect_error(fit(failing, params = start, shards = shards, cluster = cl),
               "shard 3 failed on worker 1 \\(.*, pid [0-9]+\\): disk full")
  again <- fit(logistic_shard, params = start, shards = shards, cluster = cl)
  expect_equal(coef(again), coef(whole), tolerance = 1e-8)

  # an answer left on a worker's connection by an earlier, interrupted call
  # (made here by posting a call whose answer nobody reads) is discarded
  post <- get("sendCall", envir = asNamespace("parallel"))
  post(cl[[1]], function() list(ok = TRUE, result = list(value = 1e6, gradient = c(1, 1, 1), hessian = -diag(3))),
       list(), tag = "an interrupted call")
  expect_equal(coef(fit(logistic_shard, params = start, shards = shards, cluster = cl)), coef(whole), tolerance = 1e-8)
})

test_that("a worker killed mid-fit is named with its shards, and a new cluster refits", {
  cl <- test_cluster(2L)
  on.exit(try(parallel::stopCluster(cl), silent = TRUE), add = TRUE)
  pids <- unlist(parallel::clusterEvalQ(cl, Sys.getpid()))
  d <- shard_data(n = 120, seed = 2)
  shards <- split(d, d$g)   # shards 1 and 3 on worker 1, shard 2 on worker 2
  # recorded at every point (no replay); worker 2 kills itself on its 5th
  dying <- function(beta, data) {
    if (data$g[1] == 2) {
      n <- getOption("femtograd.test.evaluations", 0) + 1
      options(femtograd.test.evaluations = n)
      if (n == 5) tools::pskill(Sys.getpid())
    }
    loglik_logistic(beta, cbind(1, data$x1, data$x2), data$y)
  }
  start <- list(beta = rep(0, 3))
  # it returns (within seconds: the broken connection is seen at once)
  expect_error(fit(dying, params = start, shards = shards, cluster = cl, control = list(replay = FALSE)),
               sprintf(paste0("^fit: worker 2 \\(.*, pid %d\\), which holds shard 2, died or lost its connection while ",
                              "evaluating its shards .*make a new one and refit"), pids[2]),
               class = "femtograd_cluster_failure")
  # the driver is unaffected: on a new cluster the same call fits
  parallel::stopCluster(cl)
  cl <- parallel::makePSOCKcluster(1L)
  # (first, a worker that cannot load femtograd is told so, where its
  # library paths can leave it out)
  if (!any(unlist(parallel::clusterEvalQ(cl, { .libPaths(character()); nzchar(system.file(package = "femtograd")) })))) {
    expect_error(fit(logistic_shard, params = start, shards = shards, cluster = cl),
                 "worker 1 \\(.*\\), which holds shards 1, 2, 3, could not run femtograd's code .*must be installed on every worker")
  }
  parallel::clusterCall(cl, function(paths) invisible(.libPaths(paths)), .libPaths())
  refit <- fit(logistic_shard, params = start, shards = shards, cluster = cl)
  expect_same_fit(refit, fit(function(beta) logistic_shard(beta, d), params = start))
})

test_that("an interrupt on the driver stops the workers, and the next fit reads no stale answer", {
  # Ctrl-C is simulated in a child R process: a worker sends SIGINT to the
  # driver, then starts a 60-second evaluation. The driver must interrupt
  # it (else the next fit on the cluster waits for it) and discard its
  # answer (else the next fit reads it). Without a cluster, an interrupt
  # while a shard is evaluated is an interrupt, as in any fit.
  skip_on_os("windows")   # no SIGINT between processes there
  script <- tempfile(fileext = ".R")
  on.exit(unlink(script), add = TRUE)
  writeLines(c(
    "library(femtograd)",
    "cl <- parallel::makePSOCKcluster(2)",
    "invisible(parallel::clusterCall(cl, function(paths) .libPaths(paths), .libPaths()))",
    "pids <- unlist(parallel::clusterEvalQ(cl, Sys.getpid()))",
    "set.seed(1)",
    "d <- data.frame(x1 = rnorm(120), g = rep(1:3, length.out = 120))",
    "d$y <- rbinom(120, 1, plogis(0.5 * d$x1))",
    "ll <- function(beta, data) loglik_logistic(beta, cbind(1, data$x1), data$y)",
    "slow <- local({",
    "  driver <- Sys.getpid()",
    "  function(beta, data) {",
    "    if (data$g[1] == 2 && sum(abs(beta)) > 0) {",
    "      tools::pskill(driver, tools::SIGINT)",
    "      Sys.sleep(60)",
    "    }",
    "    loglik_logistic(beta, cbind(1, data$x1), data$y)",
    "  }",
    "})",
    "outcome <- tryCatch({",
    "  fit(slow, params = list(beta = c(0, 0)), shards = split(d, d$g), cluster = cl, control = list(replay = FALSE))",
    "  'finished'",
    "}, interrupt = function(e) 'interrupted', error = function(e) conditionMessage(e))",
    "started <- proc.time()[['elapsed']]",
    "again <- fit(ll, params = list(beta = c(0, 0)), shards = split(d, d$g), cluster = cl)",
    "took <- proc.time()[['elapsed']] - started",
    "whole <- fit(function(beta) ll(beta, d), params = list(beta = c(0, 0)))",
    "here <- function(beta, data) {",
    "  if (data$g[1] == 2 && sum(abs(beta)) > 0) { tools::pskill(Sys.getpid(), tools::SIGINT); Sys.sleep(5) }",
    "  loglik_logistic(beta, cbind(1, data$x1), data$y)",
    "}",
    "in_process <- tryCatch({",
    "  fit(here, params = list(beta = c(0, 0)), shards = split(d, d$g), control = list(replay = FALSE))",
    "  'finished'",
    "}, interrupt = function(e) 'interrupted', error = function(e) 'error')",
    "cat('RESULT', outcome, took, max(abs(coef(again) - coef(whole))), all(tools::pskill(pids, 0L)), in_process, '\\n')",
    "parallel::stopCluster(cl)"), script)
  out <- system2(file.path(R.home("bin"), "Rscript"), script, stdout = TRUE, stderr = TRUE,
                 env = paste0("R_LIBS=", paste(.libPaths(), collapse = .Platform$path.sep)))
  result <- strsplit(grep("^RESULT", out, value = TRUE), " ")[[1]]
  expect_equal(result[2], "interrupted")
  expect_lt(as.numeric(result[3]), 30)      # the worker's 60-second evaluation was stopped
  expect_lt(as.numeric(result[4]), 1e-10)   # the next fit equals the in-process one
  expect_equal(result[5], "TRUE")           # and both workers are alive
  expect_equal(result[6], "interrupted")    # without a cluster, the interrupt is the user's, not a shard's error
})

test_that("the workers of a cluster made by parallelly work too", {
  skip_if_not_installed("parallelly")
  cl <- parallelly::makeClusterPSOCK(1L, rscript_libs = .libPaths(), verbose = FALSE)
  on.exit(parallel::stopCluster(cl), add = TRUE)
  d <- shard_data(n = 120, seed = 4)
  start <- list(beta = rep(0, 3))
  sharded <- fit(logistic_shard, params = start, shards = split(d, d$g), cluster = cl)
  expect_equal(coef(sharded), coef(fit(function(beta) logistic_shard(beta, d), params = start)), tolerance = 1e-8)
})

test_that("shards may be file paths that the log-likelihood reads, once per recording", {
  d <- shard_data(n = 200, seed = 8)
  files <- vapply(split(d, d$g), function(s) {
    path <- tempfile(fileext = ".rds")
    saveRDS(s, path)
    path
  }, character(1))
  on.exit(unlink(files), add = TRUE)
  reads <- new.env()
  reads$n <- 0
  from_file <- function(beta, data) {
    reads$n <- reads$n + 1
    logistic_shard(beta, readRDS(data))
  }
  start <- list(beta = rep(0, 3))
  sharded <- fit(from_file, params = start, shards = as.list(unname(files)))
  expect_same_fit(sharded, fit(function(beta) logistic_shard(beta, d), params = start))
  expect_equal(reads$n, 3)
})
