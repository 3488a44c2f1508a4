# The documented models of vignette("plain-r-models"), written in plain R
# with stats' densities, fitted by femtograd (estimates and standard errors)
# against the package that ships each model, in the same R process.
#
#   R_LIBS=/tmp/bench-lib Rscript bench/plain-models.R   # ~1 minute
#
# Needs bench, survival, MASS, pscl and lme4.

fg_lib <- Sys.getenv("FEMTOGRAD_LIB")
suppressPackageStartupMessages({
  library(femtograd, lib.loc = if (nzchar(fg_lib)) fg_lib else NULL)
  library(bench)
  library(survival)
  library(MASS)
  library(lme4)
})

lung2 <- na.omit(lung[, c("time", "status", "age", "sex")])
X <- model.matrix(~ age + sex, lung2)
time <- lung2$time
died <- lung2$status == 2
loglik_weibull <- function(beta, log_sigma) {
  shape <- 1 / exp(log_sigma)
  scale <- exp(drop(X %*% beta))
  sum(dweibull(time[died], shape, scale[died], log = TRUE)) +
    sum(pweibull(time[!died], shape, scale[!died], lower.tail = FALSE, log.p = TRUE))
}

eruptions <- faithful$eruptions
loglik_mixture <- function(logit_w, mu1, mu2, log_s1, log_s2) {
  w <- plogis(logit_w)
  sum(log(w * dnorm(eruptions, mu1, exp(log_s1)) + (1 - w) * dnorm(eruptions, mu2, exp(log_s2))))
}
start_mix <- c(logit_w = 0, mu1 = 2, mu2 = 4.5, log_s1 = log(0.5), log_s2 = log(0.5))

data("bioChemists", package = "pscl")
Xz <- model.matrix(~ fem + mar + kid5 + phd + ment, bioChemists)
art <- bioChemists$art
zero <- art == 0
loglik_zip <- function(beta, logit_pz) {
  lambda <- exp(drop(Xz %*% beta))
  pz <- plogis(logit_pz)
  sum(log(pz + (1 - pz) * exp(-lambda[zero]))) + sum(log(1 - pz) + dpois(art[!zero], lambda[!zero], log = TRUE))
}

Xn <- model.matrix(~ Eth + Sex + Age + Lrn, quine)
days <- quine$Days
loglik_negbin <- function(beta, log_theta) {
  sum(dnbinom(days, size = exp(log_theta), mu = exp(drop(Xn %*% beta)), log = TRUE))
}

subjects <- split(sleepstudy, sleepstudy$Subject)
loglik_lmm <- function(beta, log_sigma, log_tau) {
  total <- 0
  for (d in subjects) {
    V <- exp(2 * log_sigma) * diag(nrow(d)) + exp(2 * log_tau)
    R <- chol(V)
    z <- solve(t(R), d$Reaction - cbind(1, d$Days) %*% beta)
    total <- total - sum(log(diag(R))) - sum(z^2) / 2 - nrow(d) * log(2 * pi) / 2
  }
  total
}

pairs <- list(
  weibull = list(
    femtograd = function() se(fit(loglik_weibull, list(beta = c(log(mean(time)), 0, 0), log_sigma = 0))),
    peer = function() sqrt(diag(vcov(survreg(Surv(time, status) ~ age + sex, lung2, dist = "weibull")))),
    peer_name = "survreg"),
  mixture = list(
    femtograd = function() se(fit(loglik_mixture, start_mix)),
    peer = function() {
      o <- optim(start_mix, function(p) -do.call(loglik_mixture, as.list(p)), method = "BFGS")
      sqrt(diag(solve(optimHess(o$par, function(p) -do.call(loglik_mixture, as.list(p))))))
    },
    peer_name = "optim + optimHess"),
  zip = list(
    femtograd = function() se(fit(loglik_zip, list(beta = rep(0, ncol(Xz)), logit_pz = 0))),
    peer = function() sqrt(diag(vcov(pscl::zeroinfl(art ~ fem + mar + kid5 + phd + ment | 1, data = bioChemists)))),
    peer_name = "pscl::zeroinfl"),
  negbin = list(
    femtograd = function() se(fit(loglik_negbin, list(beta = c(log(mean(days)), rep(0, ncol(Xn) - 1)), log_theta = 0))),
    peer = function() sqrt(diag(vcov(glm.nb(Days ~ Eth + Sex + Age + Lrn, quine)))),
    peer_name = "MASS::glm.nb"),
  lmm = list(
    femtograd = function() se(fit(loglik_lmm, list(beta = c(250, 10), log_sigma = log(30), log_tau = log(30)))),
    peer = function() sqrt(diag(as.matrix(vcov(lmer(Reaction ~ Days + (1 | Subject), sleepstudy, REML = FALSE))))),
    peer_name = "lme4::lmer")
)

rows <- lapply(names(pairs), function(model) {
  p <- pairs[[model]]
  b <- bench::mark(femtograd = p$femtograd(), peer = p$peer(), check = FALSE, min_iterations = 5,
                   memory = FALSE, filter_gc = FALSE)
  t <- stats::setNames(as.numeric(b$median), as.character(b$expression))
  data.frame(model = model, peer = p$peer_name, femtograd_ms = 1e3 * t[["femtograd"]],
             peer_ms = 1e3 * t[["peer"]], ratio = t[["femtograd"]] / t[["peer"]])
})
print(do.call(rbind, rows), digits = 3)
