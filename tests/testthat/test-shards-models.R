# Case weights and the formula interface over data shards. Oracles: the
# unsharded fit of the shards' rows bound together (with the weights in
# the same order), glm(), and the fit of integer-weighted rows replicated.

poisson_shards <- function(n = 240, seed = 5) {
  set.seed(seed)
  d <- data.frame(x = rnorm(n), f = factor(sample(c("a", "b", "c"), n, TRUE)), h = sample(c("u", "v"), n, TRUE),
                  exposure = runif(n, 1, 3), g = rep(1:3, each = n / 3))
  d$f[d$g == 1 & d$f == "c"] <- "b"   # level c does not occur in shard 1
  d$y <- rpois(n, d$exposure * exp(0.5 + 0.3 * d$x + 0.4 * (d$f == "c")))
  d$x[c(3, n %/% 2 + 10)] <- NA        # rows left out, as glm() leaves them out
  d
}
poisson_args <- list(y ~ dpois(lambda = exp(eta)), params = list(eta = 0),
                     parameters = list(eta ~ x + f + h + offset(log(exposure))))

test_that("case weights over shards equal the unsharded weighted fit", {
  d <- shard_data(n = 300, seed = 17)
  shards <- split(d, d$g)
  set.seed(2)
  w <- rpois(nrow(d), 2)
  w[5] <- 0
  ws <- split(w, d$g)
  bound <- do.call(rbind, shards)
  start <- list(beta = rep(0, 3))
  whole <- fit(function(beta) logistic_shard(beta, bound), params = start, weights = unlist(ws))
  sharded <- fit(logistic_shard, params = start, shards = shards, weights = ws)
  expect_same_fit(sharded, whole)
  expect_equal(nobs(sharded), sum(w > 0))
  # integer weights: the fit of the rows replicated that many times
  replicated <- bound[rep(seq_len(nrow(bound)), unlist(ws)), ]
  g <- glm(y ~ x1 + x2, family = binomial, data = replicated, control = glm.control(epsilon = 1e-14, maxit = 100))
  expect_equal(unname(coef(sharded)), unname(coef(g)), tolerance = 1e-6)
  expect_equal(unname(se(sharded)), unname(sqrt(diag(vcov(g)))), tolerance = 1e-6)

  # non-integer weights, and a profile interval
  ws <- lapply(ws, function(v) v + 0.25)
  whole <- fit(function(beta) logistic_shard(beta, bound), params = start, weights = unlist(ws))
  sharded <- fit(logistic_shard, params = start, shards = shards, weights = ws)
  expect_same_fit(sharded, whole)
  expect_equal(confint(sharded, parm = "beta2", method = "profile"), confint(whole, parm = "beta2", method = "profile"),
               tolerance = 1e-8)

  # one shard: the bootstrap draws what the unsharded weighted one draws
  one <- fit(logistic_shard, params = start, shards = list(bound), weights = list(unlist(ws)))
  set.seed(4); b1 <- bootstrap(one, R = 3, progress = FALSE)
  set.seed(4); b0 <- bootstrap(whole, R = 3, progress = FALSE)
  expect_equal(b1$t, b0$t, tolerance = 1e-8)
})

test_that("bad weights over shards are refused, naming the shard", {
  d <- shard_data(n = 90)
  shards <- split(d, d$g)
  start <- list(beta = rep(0, 3))
  ws <- lapply(shards, function(s) rep(1, nrow(s)))
  expect_error(fit(logistic_shard, params = start, shards = shards, weights = rep(1, 90)),
               "with shards, weights must be a list of weight vectors parallel to shards \\(one per shard, here 3")
  expect_error(fit(logistic_shard, params = start, shards = shards, weights = ws[1:2]), "got a list of 2")
  bad <- ws
  bad[[3]][2] <- -1
  expect_error(fit(logistic_shard, params = start, shards = shards, weights = bad),
               "the weights of shard 3 \\('3'\\) must be finite non-negative numbers")
  expect_error(fit(logistic_shard, params = start, shards = shards, weights = rev(ws)), "give them in the order of the shards")
  expect_error(fit(logistic_shard, params = start, shards = shards, weights = lapply(ws, `*`, 0)), "weights are all zero")
  short <- ws
  short[[2]] <- short[[2]][-1]
  expect_error(fit(logistic_shard, params = start, shards = shards, weights = short),
               "shard 2 failed in this R process: loglik_logistic: weights has length 29 but y has length 30")
  no_kernels <- function(mu, data) sum(dnorm(data$x1, mu, 1, log = TRUE))
  expect_error(fit(no_kernels, params = c(mu = 0), shards = shards, weights = ws),
               "fit: the log-likelihood uses no loglik_\\* kernels, and weights apply to their observations")
})

test_that("a formula fit over shards equals the formula fit of their rows", {
  d <- poisson_shards()
  shards <- split(d, d$g)
  bound <- do.call(rbind, shards)
  whole <- do.call(fit, c(poisson_args, list(data = bound)))
  sharded <- do.call(fit, c(poisson_args, list(shards = shards)))
  expect_same_fit(sharded, whole)
  expect_equal(nobs(sharded), sum(!is.na(d$x)))
  expect_equal(sharded$recordings, 3)
  expect_equal(names(coef(sharded)), c("eta.(Intercept)", "eta.x", "eta.fb", "eta.fc", "eta.hv"))
  g <- glm(y ~ x + f + h + offset(log(exposure)), family = poisson, data = bound,
           control = glm.control(epsilon = 1e-14, maxit = 100))
  expect_equal(unname(coef(sharded)), unname(coef(g)), tolerance = 1e-6)
  expect_equal(unname(se(sharded)), unname(sqrt(diag(vcov(g)))), tolerance = 1e-6)
  expect_equal(confint(sharded, parm = "eta.fc", method = "profile"), confint(whole, parm = "eta.fc", method = "profile"),
               tolerance = 1e-8)
  expect_equal(predict(sharded, newdata = d[1:6, ], se.fit = TRUE), predict(whole, newdata = d[1:6, ], se.fit = TRUE),
               tolerance = 1e-10)
  expect_error(predict(sharded), "predict: the rows of a fit over shards stay on the shards; give newdata")
  expect_error(simulate(sharded), "simulate: the rows of a fit over shards stay on the shards")

  # case weights, one vector per shard's rows used (missing values left out)
  set.seed(8)
  ws <- lapply(shards, function(s) runif(sum(!is.na(s$x)), 0.5, 2))
  weighted_whole <- do.call(fit, c(poisson_args, list(data = bound, weights = unlist(ws))))
  weighted <- do.call(fit, c(poisson_args, list(shards = shards, weights = ws)))
  expect_same_fit(weighted, weighted_whole)

  # shards built apart, with levels in different orders: as rbind() combines them
  s1 <- data.frame(y = c(1.2, 0.3, 2.1, 1.7), k = factor(c("q", "p", "q", "p"), levels = c("q", "p")))
  s2 <- data.frame(y = c(0.9, 2.8, 1.1, 0.4), k = factor(c("r", "p", "r", "p"), levels = c("r", "p")))
  normal <- list(y ~ dnorm(mean = m, sd = exp(ls)), params = list(m = 0, ls = 0), parameters = list(m ~ k))
  sharded <- do.call(fit, c(normal, list(shards = list(s1, s2))))
  expect_same_fit(sharded, do.call(fit, c(normal, list(data = rbind(s1, s2)))))
  expect_equal(names(coef(sharded)), c("m.(Intercept)", "m.kp", "m.kr", "ls"))

  # a formula without submodels; its bootstrap resamples each shard's rows
  one <- fit(x ~ dnorm(mean = mu, sd = exp(ls)), params = c(mu = 0, ls = 0), shards = list(bound))
  plain <- fit(x ~ dnorm(mean = mu, sd = exp(ls)), params = c(mu = 0, ls = 0), data = bound)
  expect_same_fit(one, plain)
  set.seed(6); b1 <- bootstrap(one, R = 2, progress = FALSE)
  set.seed(6); b0 <- bootstrap(plain, R = 2, progress = FALSE)
  expect_equal(b1$t, b0$t, tolerance = 1e-8)
})

test_that("bad shards of a formula fit are refused before fitting, naming the shard", {
  d <- poisson_shards(n = 90)
  shards <- split(d, d$g)
  renamed <- shards
  names(renamed[[2]])[1] <- "z"
  expect_error(do.call(fit, c(poisson_args, list(shards = renamed))), "the shards differ: shard 2 \\('2'\\) is a data frame with columns z")
  missing_rows <- shards
  missing_rows[[3]]$x <- NA_real_
  expect_error(do.call(fit, c(poisson_args, list(shards = missing_rows))),
               "shard 3 \\('3'\\) has no rows without missing values in the model's variables")
  expect_error(do.call(fit, c(poisson_args, list(shards = lapply(shards, as.list)))), "with a formula, shards must be data frames")
  ws <- lapply(shards, function(s) rep(1, nrow(s)))   # shard 1 has a missing x: one weight too many
  expect_error(do.call(fit, c(poisson_args, list(shards = shards, weights = ws))),
               "the weights of shard 1 \\('1'\\) have length 30 but the shard has 29 rows \\(after removing missing values\\)")
  expect_error(do.call(fit, c(poisson_args, list(shards = shards, data = d))), "not both")
})

test_that("weighted and formula fits over shards on a two-worker cluster equal the unsharded ones", {
  cl <- test_cluster(2L)
  on.exit(parallel::stopCluster(cl), add = TRUE)
  d <- poisson_shards(seed = 11)
  shards <- split(d, d$g)
  bound <- do.call(rbind, shards)
  set.seed(12)
  ws <- lapply(shards, function(s) rpois(sum(!is.na(s$x)), 1.5))
  whole <- do.call(fit, c(poisson_args, list(data = bound, weights = unlist(ws))))
  sharded <- do.call(fit, c(poisson_args, list(shards = shards, weights = ws, cluster = cl)))
  expect_same_fit(sharded, whole)

  d <- shard_data(n = 300, seed = 23)
  shards <- split(d, d$g)
  ws <- lapply(shards, function(s) runif(nrow(s), 0, 3))
  start <- list(beta = rep(0, 3))
  whole <- fit(function(beta) logistic_shard(beta, do.call(rbind, shards)), params = start, weights = unlist(ws))
  expect_same_fit(fit(logistic_shard, params = start, shards = shards, weights = ws, cluster = cl), whole)
})
