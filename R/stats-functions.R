# stats' density and distribution functions on values.
#
# Each function becomes an S4 generic whose default is stats' own function,
# so plain numbers run exactly stats' code and library() reports nothing
# masked; a value in any of its numeric arguments selects femtograd's
# method, which writes the log-density (or the distribution function) with
# the operations of the engine, so value, gradient and Hessian follow.

#' Densities and distribution functions of stats on values
#'
#' When any numeric argument is a femtograd value, these functions of
#' `stats` compute on values (and are differentiable in every value
#' argument: data, location, scale, shape, probabilities); with plain
#' numbers they are stats' functions, unchanged.
#'
#' Densities: `dnorm`, `dlnorm`, `dexp`, `dgamma` (`rate` or `scale`),
#' `dbeta`, `dpois`, `dbinom`, `dnbinom` (`size` with `prob` or `mu`),
#' `dgeom`, `dweibull`, `dlogis`, `dt` (central), `dcauchy`, each with
#' `log`. Distribution functions: `pnorm`, `plnorm`, `pexp`, `pweibull`,
#' `plogis`, `pcauchy`, each with `lower.tail` and `log.p`; `pnorm(log.p =
#' TRUE)` stays accurate far into the tails (`pnorm(-40, log.p = TRUE)`).
#' Quantiles: `qnorm`. Also `sd(x)` and `var(x)` of a vector value, and
#' base R's `beta`, `lbeta`, and `choose`, `lchoose` in `n` (for positive
#' arguments and an integer `k` with 0 <= k <= n, through `lgamma`).
#'
#' Over plain data `x` (with parameters of length one or `length(x)`),
#' `dnorm`, `dlnorm`, `dexp`, `dgamma`, `dbeta`, `dpois`, `dbinom`,
#' `dnbinom`, `dweibull`, `dlogis` and `dt` record their densities as one node with the density's own
#' derivatives, and `sum(d...(x, ..., log = TRUE))` as the matching
#' [loglik] kernel, as fast as calling it. It is exactly the sum it
#' replaces: it covers its observations for [nobs()] and sandwich standard
#' errors as any sum over data does (see "Observations" in [fit()]), and,
#' unlike a `loglik_*()` call, takes no case weights, so [bootstrap()]
#' refuses a model that has one.
#'
#' Values are not checked against the support: a parameter outside its
#' domain (a negative `sd`) gives NaN or `-Inf` rather than stats' warning;
#' data outside the support give what the formula gives, e.g.
#' `dpois(-1, val(2))` is not 0.
#'
#' @param x,q Data or quantiles (values or numbers).
#' @param p Probabilities.
#' @param a,b,n,k Arguments of `beta()`, `lbeta()`, `choose()`, `lchoose()`.
#' @param mean,sd,meanlog,sdlog,rate,shape,scale,shape1,shape2,lambda,size,prob,mu,location,df
#'   Parameters, values or numbers, as in stats.
#' @param log,log.p Logical: return the log.
#' @param lower.tail Logical: P(X <= x) if TRUE, P(X > x) otherwise.
#' @return A femtograd value (for value arguments).
#' @examples
#' mu <- val(1); sigma <- val(2)
#' x <- c(0.3, 1.9, 2.4)
#' ll <- sum(dnorm(x, mu, sigma, log = TRUE))
#' backward(ll)
#' grad(mu)
#' pnorm(val(-40), log.p = TRUE)
#' dnorm(1)   # plain numbers: stats::dnorm
#' @name distribution-functions
#' @eval value_method_tags("distribution-functions")
#' @importFrom stats dnorm dlnorm dexp dgamma dbeta dpois dbinom dnbinom dgeom dweibull dlogis dt dcauchy pnorm plnorm pexp pweibull plogis pcauchy qnorm sd var
NULL

# Squares are written z * z: the power operation's rule computes partials
# in the exponent too (logarithms per element), several times slower.
log_2pi <- log(2 * pi)
lbeta_value <- function(a, b) lgamma(a) + lgamma(b) - lgamma(a + b)
lchoose_value <- function(n, k) lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1)
density_or_log <- function(log_density, log) if (isTRUE(log)) log_density else exp(log_density)

value_methods("dnorm", c("x", "mean", "sd"), function(x, mean = 0, sd = 1, log = FALSE) {
  density_node(log, "normal", list(mean, sd), x, function() {
    z <- (x - mean) / sd
    -0.5 * (z * z) - log(sd) - 0.5 * log_2pi
  })
})

value_methods("dlnorm", c("x", "meanlog", "sdlog"), function(x, meanlog = 0, sdlog = 1, log = FALSE) {
  density_node(log, "lognormal", list(meanlog, sdlog), x, function() {
    lx <- log(x)
    z <- (lx - meanlog) / sdlog
    -0.5 * (z * z) - log(sdlog) - 0.5 * log_2pi - lx
  })
})

value_methods("dexp", c("x", "rate"), function(x, rate = 1, log = FALSE) {
  density_node(log, "exponential", list(rate), x, function() log(rate) - rate * x)
})

value_methods("dgamma", c("x", "shape", "rate", "scale"), function(x, shape, rate = 1, scale = 1 / rate, log = FALSE) {
  if (!missing(scale)) rate <- 1 / scale
  density_node(log, "gamma", list(shape, rate), x, function() {
    shape * log(rate) + (shape - 1) * log(x) - rate * x - lgamma(shape)
  })
})

value_methods("dbeta", c("x", "shape1", "shape2"), function(x, shape1, shape2, ncp = 0, log = FALSE) {
  if (!missing(ncp)) stop("dbeta: ncp is not supported for femtograd values", call. = FALSE)
  density_node(log, "beta", list(shape1, shape2), x, function() {
    (shape1 - 1) * log(x) + (shape2 - 1) * log1p(-x) - lbeta_value(shape1, shape2)
  })
})

value_methods("dpois", c("x", "lambda"), function(x, lambda, log = FALSE) {
  density_node(log, "poisson", list(lambda), x, function() x * log(lambda) - lambda - lgamma(x + 1))
})

value_methods("dbinom", c("x", "size", "prob"), function(x, size, prob, log = FALSE) {
  formula <- function() lchoose_value(size, x) + x * log(prob) + (size - x) * log1p(-prob)
  if (is_value(size)) return(density_or_log(formula(), log))
  density_node(log, "binomial", list(prob), x, formula, size)
})

value_methods("dnbinom", c("x", "size", "prob", "mu"), function(x, size, prob, mu, log = FALSE) {
  if (!missing(mu) && !missing(prob)) stop("dnbinom: give prob or mu, not both", call. = FALSE)
  by_mean <- !missing(mu)
  # by its mean, the kernel that keeps small mu and huge size accurate
  kernel_name <- if (by_mean) "negbinom_mu" else "negbinom"
  kernel_params <- if (by_mean) list(size, mu) else list(size, prob)
  density_node(log, kernel_name, kernel_params, x, function() {
    # log prob and log(1 - prob); from mu where it is given, without the
    # cancellation of 1 - prob for small mu
    if (by_mean) {
      log_total <- log(size + mu)
      log_p <- log(size) - log_total
      log_q <- log(mu) - log_total
    } else {
      log_p <- log(prob)
      log_q <- log1p(-prob)
    }
    lgamma(x + size) - lgamma(size) - lgamma(x + 1) + size * log_p + x * log_q
  })
})

value_methods("dgeom", c("x", "prob"), function(x, prob, log = FALSE) {
  density_or_log(log(prob) + x * log1p(-prob), log)
})

value_methods("dweibull", c("x", "shape", "scale"), function(x, shape, scale = 1, log = FALSE) {
  density_node(log, "weibull", list(shape, scale), x, function() {
    z <- x / scale
    log(shape) - log(scale) + (shape - 1) * log(z) - z^shape
  })
})

value_methods("dlogis", c("x", "location", "scale"), function(x, location = 0, scale = 1, log = FALSE) {
  density_node(log, "logis", list(location, scale), x, function() {
    z <- (x - location) / scale
    -z - log(scale) - 2 * softplus(-z)
  })
})

value_methods("dt", c("x", "df"), function(x, df, ncp, log = FALSE) {
  if (!missing(ncp)) stop("dt: ncp is not supported for femtograd values", call. = FALSE)
  # the t kernel at location 0 and scale 1
  density_node(log, "t", list(0, 1, df), x, function() {
    half <- (df + 1) / 2
    lgamma(half) - lgamma(df / 2) - 0.5 * log(df * pi) - half * log1p(x * x / df)
  })
})

value_methods("dcauchy", c("x", "location", "scale"), function(x, location = 0, scale = 1, log = FALSE) {
  z <- (x - location) / scale
  density_or_log(-log(pi) - log(scale) - log1p(z * z), log)
})

value_methods("var", "x", function(x, y = NULL, na.rm = FALSE, use) {
  if (!is.null(y) || !isFALSE(na.rm) || !missing(use) || !is.null(dim(x))) {
    stop("var: for femtograd values only var(x) of a vector is supported", call. = FALSE)
  }
  deviation <- x - mean(x)
  sum(deviation * deviation) / (length(x) - 1)
})

value_methods("sd", "x", function(x, na.rm = FALSE) {
  if (!isFALSE(na.rm)) stop("sd: na.rm is not supported for femtograd values", call. = FALSE)
  sqrt(var(x))
})

# beta() and choose() of base R, through lgamma: for positive arguments
# (and choose's k with 0 <= k <= n), the domain of likelihoods.
value_methods("lbeta", c("a", "b"), function(a, b) lbeta_value(a, b))
value_methods("beta", c("a", "b"), function(a, b) exp(lbeta_value(a, b)))
# k counts, as in base R: plain numbers, rounded to integers.
value_methods("lchoose", "n", function(n, k) lchoose_value(n, round(k)))
value_methods("choose", "n", function(n, k) exp(lchoose_value(n, round(k))))

# Phi and log Phi of a value or numbers, by the engine's rules.
normal_cdf <- function(z, log.p) {
  z <- as_node(z, "pnorm")
  if (isTRUE(log.p)) math_value("log_pnorm", z) else math_value("pnorm", z)
}

value_methods("pnorm", c("q", "mean", "sd"), function(q, mean = 0, sd = 1, lower.tail = TRUE, log.p = FALSE) {
  z <- (q - mean) / sd
  normal_cdf(if (isTRUE(lower.tail)) z else -z, log.p)
})

value_methods("plnorm", c("q", "meanlog", "sdlog"),
              function(q, meanlog = 0, sdlog = 1, lower.tail = TRUE, log.p = FALSE) {
  z <- (log(q) - meanlog) / sdlog
  normal_cdf(if (isTRUE(lower.tail)) z else -z, log.p)
})

# P(X > q) = exp(-H) for a cumulative hazard H: the upper tail and its log
# are exact, the lower one is -expm1(-H) (no cancellation for small H).
hazard_tail <- function(H, lower.tail, log.p) {
  if (!isTRUE(lower.tail)) return(if (isTRUE(log.p)) -H else exp(-H))
  lower <- -expm1(-H)
  if (isTRUE(log.p)) log(lower) else lower
}

value_methods("pexp", c("q", "rate"), function(q, rate = 1, lower.tail = TRUE, log.p = FALSE) {
  hazard_tail(rate * q, lower.tail, log.p)
})

value_methods("pweibull", c("q", "shape", "scale"), function(q, shape, scale = 1, lower.tail = TRUE, log.p = FALSE) {
  hazard_tail((q / scale)^shape, lower.tail, log.p)
})

value_methods("plogis", c("q", "location", "scale"),
              function(q, location = 0, scale = 1, lower.tail = TRUE, log.p = FALSE) {
  z <- (q - location) / scale
  if (!isTRUE(lower.tail)) z <- -z
  if (isTRUE(log.p)) log_sigmoid(z) else sigmoid(z)
})

value_methods("pcauchy", c("q", "location", "scale"),
              function(q, location = 0, scale = 1, lower.tail = TRUE, log.p = FALSE) {
  z <- (q - location) / scale
  p <- 0.5 + (if (isTRUE(lower.tail)) 1 else -1) * atan(z) / pi
  if (isTRUE(log.p)) log(p) else p
})

value_methods("qnorm", c("p", "mean", "sd"), function(p, mean = 0, sd = 1, lower.tail = TRUE, log.p = FALSE) {
  if (isTRUE(log.p)) p <- exp(p)
  if (!isTRUE(lower.tail)) p <- 1 - p
  mean + sd * math_value("qnorm", as_node(p, "qnorm"))
})
