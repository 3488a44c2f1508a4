# Random effects by the Laplace approximation: fit(loglik, params, random = "u").
#
# loglik returns the joint log density f(theta, u) = log p(y | u, theta) +
# log p(u | theta). For each theta the random effects u (q of them) are
# integrated out by the Laplace approximation
#   L(theta) = f(theta, u_hat) - 1/2 log det H + q/2 log(2 pi),
# u_hat maximising f(theta, .), H = -f_uu at u_hat. Everything is exact:
#
# * u_hat: Newton on u with f's exact gradient and Hessian, replaying one
#   recording of f (warm-started from the previous theta's u_hat).
# * The gradient of L. With W = H^-1 and x = (theta, u), the total
#   derivative of x_hat(theta) along theta_k is d_k = (e_k, W f_u,theta_k),
#   and d/dtheta_k log det H = -tr(W T(d_k)), T(d) the uu block of the third
#   derivatives of f contracted with d. So
#     dL/dtheta_k = f_theta_k + 1/2 grad(s) . d_k,   s(x) = tr(W f_uu(x))
#   with W held at its current numbers. s is recorded as a value: W = M M'
#   and s = sum_r D(D f[m_r])[m_r], directional derivatives recorded with
#   the engine's own operations (directional_derivative()), so its gradient
#   holds the third derivatives and its Hessian the fourth.
# * The Hessian of L (for standard errors), differentiating the gradient
#   once more (dW = W T(d_l) W; dd_k/dtheta_l = (0, W R_kl) with
#   R_kl = [T_full(d_l) d_k]_u, T_full(d) the Hessian of D f[d]):
#     Hess_kl = (F d_l)_theta_k + 1/2 [tr(W T(d_l) W T(d_k)) + d_k' S2 d_l + grad_u(s)' W R_kl],
#   F the Hessian of f and S2 that of s.
#
# M and the directions d_l enter those recordings as values (leaves), so
# that every later point replays them instead of recording them again.
# The densities are recorded as formulas (not as the fused kernels, which
# have no rule for directional derivatives as operations).

# The random effects' part of a fit's spec: their names, shapes and starts.
laplace_random <- function(random, params, loglik) {
  if (!is.character(random) || length(random) == 0L || anyNA(random)) {
    stop("fit: random must name the random effects among params, e.g. random = \"u\"", call. = FALSE)
  }
  if (is.numeric(params) && !is.list(params)) params <- as.list(params)
  unknown <- setdiff(random, names(params))
  if (length(unknown)) {
    stop(sprintf("fit: random names %s, not among params (%s)", paste(sQuote(unknown, FALSE), collapse = ", "),
                 paste(names(params), collapse = ", ")), call. = FALSE)
  }
  if (all(names(params) %in% random)) stop("fit: random cannot name every parameter", call. = FALSE)
  layout <- parameter_layout(params[random])
  list(names = random, layout = layout, fixed_params = params[setdiff(names(params), random)])
}

# The objective the optimiser calls on the fixed parameters (working
# scale, free elements): list(value, gradient, hessian) up to `order`, or
# an error condition. `state` keeps the recordings and the last modes.
laplace_objective <- function(spec, state = laplace_state(spec)) {
  function(theta, order) {
    tryCatch(laplace_at(state, theta, order), error = function(e) e)
  }
}

# The Laplace objective at one point (profiles, score tests): errors stop.
laplace_evaluate <- function(spec, theta, order, caller) {
  out <- laplace_objective(spec)(theta, order)
  if (inherits(out, "condition")) stop(sprintf("%s: %s", caller, conditionMessage(out)), call. = FALSE)
  out
}

laplace_state <- function(spec) {
  state <- new.env(parent = emptyenv())
  state$spec <- spec
  state$u <- spec$random$layout$start
  state$invoke <- loglik_caller(spec$recorded, c(spec$layout$names, spec$random$names))
  state
}

# f recorded at (theta, u): the output and the leaves (theta's working-scale
# free elements, then u's), with the formulas standing in for the kernels.
laplace_record <- function(state, theta, u) {
  spec <- state$spec
  built <- build_parameters(spec, theta)
  u_leaves <- lapply(split_parameters(u, spec$random$layout), val)
  out <- without_density_kernels(with_kernel_weights(NULL, state$invoke(c(built$values, u_leaves))))
  if (!is_value(out) || length(out) != 1L) {
    stop("fit: with random effects, loglik must return the joint log density as a scalar femtograd value",
         call. = FALSE)
  }
  state$f <- out
  state$theta_leaves <- built$leaves
  state$u_leaves <- unname(u_leaves)
  state$leaves <- c(built$leaves, unname(u_leaves))
  state$s <- NULL          # recorded when first needed (laplace_s())
  state$directional <- NULL
  state$recordings <- (state$recordings %||% 0L) + 1L
  invisible(state)
}

# Moves f's recording to (theta, u), recording again when a guard fails.
laplace_move <- function(state, theta, u) {
  if (is.null(state$f) || !rust(fg_replay(state$f, state$leaves, c(theta, u)))) laplace_record(state, theta, u)
}

# The derivatives of f at (theta, u): value, gradient and Hessian over x.
laplace_joint <- function(state, theta, u) {
  laplace_move(state, theta, u)
  out <- rust(fg_hessian(state$f, state$leaves))
  out$point <- c(theta, u)
  out
}

# u_hat for theta by Newton's method on f(theta, .), from the last u_hat.
laplace_mode <- function(state, theta) {
  u <- state$u
  p <- length(theta)
  iu <- p + seq_along(u)
  for (iteration in seq_len(200)) {
    joint <- laplace_joint(state, theta, u)
    gu <- joint$gradient[iu]
    H <- -joint$hessian[iu, iu, drop = FALSE]
    R <- tryCatch(chol(H), error = function(e) NULL)
    if (is.null(R) || !all(is.finite(gu))) {
      stop("fit: the joint log density is not concave in the random effects at the current parameters ",
           "(its Hessian in u is not negative definite)", call. = FALSE)
    }
    step <- backsolve(R, backsolve(R, gu, transpose = TRUE))
    decrement <- sum(gu * step)
    if (decrement <= 1e-30 * max(1, abs(joint$value)) || max(abs(step)) <= 1e-15 * max(1, abs(u))) break
    # Close to the mode, f changes by less than its rounding along the step,
    # so a line search could not tell progress from none: take Newton's
    # steps as they are (they converge quadratically there), so that f_u,
    # which the exact gradient of L takes to be 0, is 0 to rounding.
    if (decrement <= 1e-8 * max(1, abs(joint$value))) {
      u <- u + step
      next
    }
    # further away, halve the step until f does not decrease (Newton's step
    # is an ascent direction)
    t <- 1
    repeat {
      candidate <- u + t * step
      laplace_move(state, theta, candidate)
      value <- numbers_to_show(state$f)   # (value_of() would leave a guard on the tape)
      if (is.finite(value) && value >= joint$value) break
      t <- t / 2
      if (t < 1e-12) break
    }
    if (t < 1e-12) break
    u <- candidate
  }
  state$u <- u
  joint <- if (identical(joint$point, c(theta, u))) joint else laplace_joint(state, theta, u)
  joint$R <- chol(-joint$hessian[iu, iu, drop = FALSE])
  joint$u <- u
  joint
}

laplace_at <- function(state, theta, order) {
  p <- length(theta)
  joint <- laplace_mode(state, theta)
  q <- length(joint$u)
  it <- seq_len(p)
  iu <- p + seq_len(q)
  R <- joint$R
  value <- joint$value - sum(log(diag(R))) + q / 2 * log(2 * pi)
  if (order == 0L) return(list(value = value))
  M <- backsolve(R, diag(q))              # W = H^-1 = M M'
  W <- tcrossprod(M)
  U <- W %*% joint$hessian[iu, it, drop = FALSE]          # d u_hat / d theta
  D <- rbind(diag(p), U)                                  # columns d_k
  s <- laplace_s(state, theta, joint$u, M, second = if (order >= 2L) D)
  gradient <- joint$gradient[it] + 0.5 * drop(crossprod(D, s$gradient))
  if (order == 1L) return(list(value = value, gradient = gradient))
  T_full <- laplace_third(state, theta, joint$u, D)
  Wgs <- drop(W %*% s$gradient[iu])
  hessian <- (joint$hessian %*% D)[it, , drop = FALSE]   # (F d_l)_theta_k
  WT <- lapply(T_full, function(T) W %*% T[iu, iu, drop = FALSE])   # W T(d_k), once each
  extra <- matrix(0, p, p)
  for (k in it) for (l in it) {
    R_kl <- (T_full[[l]] %*% D[, k])[iu]
    extra[k, l] <- sum(t(WT[[l]]) * WT[[k]]) + sum(D[, k] * s$hessian_times[, l]) + sum(Wgs * R_kl)
  }
  hessian <- hessian + 0.5 * extra
  list(value = value, gradient = gradient, hessian = (hessian + t(hessian)) / 2)
}

# The gradient over x of s(x) = tr(W f_uu(x)), W = M M' held fixed, and
# with `second` (a matrix of directions D), its Hessian times D.
laplace_s <- function(state, theta, u, M, second) {
  if (is.null(state$s)) {
    q <- length(u)
    state$M_leaf <- val(M)
    zeros <- lapply(state$theta_leaves, function(leaf) numeric(length(leaf)))
    sizes <- vapply(state$u_leaves, length, integer(1))
    ends <- cumsum(sizes)
    s <- 0
    for (r in seq_len(q)) {
      column <- state$M_leaf[, r]
      direction <- c(zeros, lapply(seq_along(sizes), function(j) column[(ends[j] - sizes[j] + 1L):ends[j]]))
      first <- directional_derivative(state$f, state$leaves, direction)
      s <- s + directional_derivative(first, state$leaves, direction)
    }
    state$s <- s
  } else if (!rust(fg_replay(state$s, c(state$leaves, list(state$M_leaf)), c(theta, u, M)))) {
    laplace_record(state, theta, u)
    return(laplace_s(state, theta, u, M, second))
  }
  if (is.null(second)) return(rust(fg_gradient(state$s, state$leaves)))
  # the Hessian of s only along the directions it is used with (S2 D), in one
  # batch of p directions rather than the p + q of the whole Hessian
  rust(fg_hessian_times(state$s, state$leaves, second))
}

# For each column d of D, the Hessian over x of D f[d]: the third
# derivatives of f contracted with d.
laplace_third <- function(state, theta, u, D) {
  p <- ncol(D)
  if (is.null(state$directional)) {
    sizes <- vapply(state$leaves, length, integer(1))
    ends <- cumsum(sizes)
    state$D_leaves <- lapply(seq_len(p), function(l) val(D[, l]))
    state$directional <- lapply(seq_len(p), function(l) {
      d <- state$D_leaves[[l]]
      direction <- lapply(seq_along(sizes), function(j) d[(ends[j] - sizes[j] + 1L):ends[j]])
      directional_derivative(state$f, state$leaves, direction)
    })
  } else {
    ok <- all(vapply(seq_len(p), function(l) {
      rust(fg_replay(state$directional[[l]], c(state$leaves, list(state$D_leaves[[l]])), c(theta, u, D[, l])))
    }, logical(1)))
    if (!ok) {
      laplace_record(state, theta, u)
      return(laplace_third(state, theta, u, D))
    }
  }
  lapply(state$directional, function(Df) rust(fg_hessian(Df, state$leaves))$hessian)
}

is_laplace <- function(spec) !is.null(spec$random)

# The random effects' modes at the estimate and their conditional standard
# errors (the square roots of the diagonal of H^-1, as lme4's condVar).
laplace_effects <- function(state, theta) {
  joint <- laplace_mode(state, theta)
  W <- chol2inv(joint$R)
  layout <- state$spec$random$layout
  list(mode = split_parameters(joint$u, layout), se = split_parameters(sqrt(diag(W)), layout),
       labels = layout$labels)
}

#' Random effects of a fit with random effects
#'
#' The modes of the random effects at the estimate (u_hat, which the
#' Laplace approximation expands about) and their conditional standard
#' errors, the square roots of the diagonal of the inverse of the negative
#' Hessian of the joint log density in u (lme4's `condVar`).
#'
#' @param object A [fit()] with `random =`.
#' @param ... Unused.
#' @return A data frame with one row per random effect: `term` (its
#'   label), `mode` and `se`.
#' @examples
#' set.seed(1)
#' g <- rep(1:8, each = 5)
#' y <- rnorm(40, 2 + rnorm(8, sd = 0.7)[g], 0.5)
#' joint <- function(mu, log_sigma, log_tau, u) {
#'   sum(dnorm(y, mu + u[g], exp(log_sigma), log = TRUE)) + sum(dnorm(u, 0, exp(log_tau), log = TRUE))
#' }
#' res <- fit(joint, list(mu = 0, log_sigma = 0, log_tau = 0, u = rep(0, 8)), random = "u")
#' coef(res)
#' head(ranef(res))
#' @importFrom nlme ranef
#' @method ranef femtofit
#' @export
ranef.femtofit <- function(object, ...) {
  effects <- object$random_effects
  if (is.null(effects)) stop("ranef: this fit has no random effects (see fit(random = ))", call. = FALSE)
  data.frame(term = effects$labels, mode = base::unlist(effects$mode, use.names = FALSE),
             se = base::unlist(effects$se, use.names = FALSE))
}

#' @importFrom nlme ranef
#' @export
nlme::ranef
