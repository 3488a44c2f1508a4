# Random effects by the Laplace approximation: fit(loglik, params, random = "u").
#
# loglik returns the joint log density f(theta, u) = log p(y | u, theta) +
# log p(u | theta). For each theta the random effects u (q of them) are
# integrated out by the Laplace approximation
#   L(theta) = f(theta, u_hat) - 1/2 log det H + q/2 log(2 pi),
# u_hat maximising f(theta, .), H = -f_uu at u_hat. Everything is exact:
#
# * H's structure is read from the recording (laplace_structure()): which
#   of its entries can be non-zero, hence its independent blocks (random
#   effects of different groups never meet in a term) and a colouring of
#   its columns (columns of one colour share no row). H then comes from f's
#   Hessian along one direction per colour, not one per random effect, and
#   is factorised block by block; W = H^-1 has the same blocks.
# * u_hat: Newton on u with f's exact gradient and H, replaying one
#   recording of f (warm-started from the previous theta's u_hat).
# * The gradient of L. With W = H^-1 and x = (theta, u), the total
#   derivative of x_hat(theta) along theta_k is d_k = (e_k, W f_u,theta_k),
#   and d/dtheta_k log det H = -tr(W T(d_k)), T(d) the uu block of the third
#   derivatives of f contracted with d. So
#     dL/dtheta_k = f_theta_k + 1/2 grad(s) . d_k,   s(x) = tr(W f_uu(x))
#   with W held at its current numbers. s is recorded as a value: only W's
#   entries on H's pattern matter, so s = sum_c D(D f[v_c])[w_c] over the
#   colours c (v_c the colour's indicator, w_c W's entries it selects; see
#   laplace_s()), directional derivatives recorded with the engine's own
#   operations (directional_derivative()), so its gradient holds the third
#   derivatives and its Hessian the fourth.
# * The Hessian of L (for standard errors), differentiating the gradient
#   once more (dW = W T(d_l) W; dd_k/dtheta_l = (0, W R_kl) with
#   R_kl = [T_full(d_l) d_k]_u, T_full(d) the Hessian of D f[d]):
#     Hess_kl = (F d_l)_theta_k + 1/2 [tr(W T(d_l) W T(d_k)) + d_k' S2 d_l + grad_u(s)' W R_kl],
#   F the Hessian of f and S2 that of s.
#
#   tr(W T(d_l) W T(d_k)) is summed block by block, T(d_l) having H's pattern.
#
# The weights w_c and the directions d_l enter those recordings as values (leaves), so
# that every later point replays them instead of recording them again.
# The densities are recorded as formulas (not as the fused kernels, which
# have no rule for directional derivatives as operations), loglik_*() calls
# included (R/kernel-formulas.R).

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
# free elements, then u's), with the formulas standing in for the kernels;
# and the structure of f's Hessian in u read from the recording (its
# pattern, its blocks and the colours of its columns: see laplace_structure()).
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
  state$point <- c(theta, u)
  state$structure <- laplace_structure(out, state$u_leaves, length(theta), length(u))
  state$s <- NULL          # recorded when first needed (laplace_s())
  state$directional <- NULL
  state$recordings <- (state$recordings %||% 0L) + 1L
  invisible(state)
}

# Pairs of random effects further apart than this in the pattern search
# make it give up and treat H as dense.
laplace_pattern_limit <- 2e7

# The structure of H = -f_uu, from the recording: which entries can be
# non-zero (`row`, `col`: 0-based, lower triangle), the independent blocks
# they make, and a colouring of the columns (columns of one colour never
# share a row). H's entries then come from f's Hessian along one direction
# per colour (`directions`, over theta and u) rather than one per effect:
# entry (i, j) is row p + i of the product with colour(j)'s direction (`at`).
laplace_structure <- function(f, u_leaves, p, q) {
  pattern <- rust(fg_hessian_pattern(f, u_leaves, laplace_pattern_limit))
  if (is.null(pattern)) {   # too many pairs to list one by one: every pair, by column
    col <- rep.int(seq_len(q) - 1L, q:1)
    pattern <- list(row = sequence(q:1, from = seq_len(q)) - 1L, col = col)
  }
  blocks <- rust(fg_block_structure(q, pattern$row, pattern$col))
  colour <- blocks$colour + 1L
  colours <- max(colour)
  directions <- matrix(0, p + q, colours)
  directions[cbind(p + seq_len(q), colour)] <- 1
  list(q = q, row = pattern$row, col = pattern$col, colour = colour, colours = colours,
       blocks = blocks$blocks, largest = blocks$largest, directions = directions,
       at = cbind(p + pattern$row + 1L, colour[pattern$col + 1L]),
       diagonal = which(pattern$row == pattern$col))
}

# Moves f's recording to (theta, u), recording again when a guard fails.
laplace_move <- function(state, theta, u) {
  point <- c(theta, u)
  if (!is.null(state$f) && identical(state$point, point)) return(invisible(state))
  if (is.null(state$f) || !rust(fg_replay(state$f, state$leaves, point))) {
    laplace_record(state, theta, u)
  } else {
    state$point <- point
  }
  invisible(state)
}

# The derivatives of f at (theta, u): value, gradient over x, and H = -f_uu
# on its pattern (`H`); with `theta_columns`, also f's Hessian columns for
# theta (a (p + q) x p matrix: f_theta,theta over f_u,theta).
laplace_joint <- function(state, theta, u, theta_columns = FALSE) {
  laplace_move(state, theta, u)
  st <- state$structure
  p <- length(theta)
  directions <- st$directions
  if (theta_columns) directions <- cbind(rbind(diag(p), matrix(0, st$q, p)), directions)
  out <- rust(fg_hessian_times(state$f, state$leaves, directions))
  times <- out$hessian_times
  compressed <- if (theta_columns) times[, p + seq_len(st$colours), drop = FALSE] else times
  list(value = out$value, gradient = out$gradient, H = -compressed[st$at],
       theta_columns = if (theta_columns) times[, seq_len(p), drop = FALSE], point = c(theta, u))
}

# Solves H X = B block by block; also log det H. A matrix that is not
# positive definite means f is not concave in u there.
laplace_solve <- function(st, H, B) {
  out <- tryCatch(rust(fg_block_solve(st$q, st$row, st$col, H, as.matrix(B))), error = function(e) NULL)
  if (is.null(out) || !all(is.finite(out$solution))) {
    stop("fit: the joint log density is not concave in the random effects at the current parameters ",
         "(its Hessian in u is not negative definite)", call. = FALSE)
  }
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
    if (!all(is.finite(gu))) {
      stop("fit: the joint log density has no finite gradient in the random effects at the current parameters",
           call. = FALSE)
    }
    step <- drop(laplace_solve(state$structure, joint$H, gu)$solution)
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
  joint$u <- u
  joint
}

laplace_at <- function(state, theta, order) {
  p <- length(theta)
  joint <- laplace_mode(state, theta)
  st <- state$structure
  q <- st$q
  it <- seq_len(p)
  iu <- p + seq_len(q)
  if (order == 0L) {
    log_det <- laplace_solve(st, joint$H, matrix(0, q, 0))$log_det
    return(list(value = joint$value - 0.5 * log_det + q / 2 * log(2 * pi)))
  }
  u <- joint$u
  joint <- laplace_joint(state, theta, u, theta_columns = TRUE)
  F_theta <- joint$theta_columns                            # f_theta,theta over f_u,theta
  solved <- laplace_solve(st, joint$H, F_theta[iu, , drop = FALSE])
  value <- joint$value - 0.5 * solved$log_det + q / 2 * log(2 * pi)
  U <- solved$solution                                      # d u_hat / d theta = W f_u,theta
  D <- rbind(diag(p), U)                                    # columns d_k
  W <- rust(fg_block_inverse(st$q, st$row, st$col, joint$H))   # H^-1 on the pattern
  s <- laplace_s(state, theta, u, laplace_weights(st, W), second = if (order >= 2L) D)
  if (is.null(s)) return(laplace_at(state, theta, order))   # recorded again
  gradient <- joint$gradient[it] + 0.5 * drop(crossprod(D, s$gradient))
  if (order == 1L) return(list(value = value, gradient = gradient))
  third <- laplace_third(state, theta, u, D)
  if (is.null(third)) return(laplace_at(state, theta, order))
  traces <- rust(fg_block_traces(st$q, st$row, st$col, joint$H,
                                 vapply(third, function(x) x$T, numeric(length(st$row)))))
  Wgs <- drop(laplace_solve(st, joint$H, s$gradient[iu])$solution)
  hessian <- F_theta[it, , drop = FALSE] + crossprod(F_theta[iu, , drop = FALSE], U)   # (F d_l)_theta_k
  extra <- matrix(0, p, p)
  for (k in it) for (l in it) {
    R_kl <- third[[l]]$times_D[iu, k]
    extra[k, l] <- traces[l, k] + sum(D[, k] * s$hessian_times[, l]) + sum(Wgs * R_kl)
  }
  hessian <- hessian + 0.5 * extra
  list(value = value, gradient = gradient, hessian = (hessian + t(hessian)) / 2)
}

# The weights w_c of s = sum_c D(D f[v_c])[w_c] (see laplace_s()): w_c[i]
# = sum of W_ij over the columns j of colour c with (i, j) in the pattern,
# both triangles. (Within a row the colours of its entries differ, so no
# position is written twice.)
laplace_weights <- function(st, W) {
  weights <- matrix(0, st$q, st$colours)
  rows <- st$row + 1L
  cols <- st$col + 1L
  weights[cbind(rows, st$colour[cols])] <- W
  off <- rows != cols
  weights[cbind(cols[off], st$colour[rows[off]])] <- W[off]
  weights
}

# The gradient over x of s(x) = tr(W f_uu(x)), W held fixed, and with
# `second` (a matrix of directions D), its Hessian times D. Only W's
# entries on f_uu's pattern matter, so with v_c the indicator of colour c,
#   s = sum_c w_c' f_uu v_c = sum_c D(D f[v_c])[w_c],
# one pair of directional derivatives per colour (one in all for random
# intercepts), with the weights a leaf so that later points replay it.
laplace_s <- function(state, theta, u, weights, second) {
  if (is.null(state$s)) {
    st <- state$structure
    state$weights_leaf <- val(weights)
    # a direction over x as one piece per leaf: zeros for theta's, then
    # x's numbers (or a value) cut to the sizes of u's leaves
    zeros <- lapply(state$theta_leaves, function(leaf) numeric(length(leaf)))
    sizes <- vapply(state$u_leaves, length, integer(1))
    ends <- cumsum(sizes)
    over_u <- function(x) c(zeros, lapply(seq_along(sizes), function(j) x[(ends[j] - sizes[j] + 1L):ends[j]]))
    iu <- length(theta) + seq_len(st$q)
    s <- 0
    for (colour in seq_len(st$colours)) {
      first <- directional_derivative(state$f, state$leaves, over_u(st$directions[iu, colour]))
      s <- s + directional_derivative(first, state$leaves, over_u(state$weights_leaf[, colour]))
    }
    state$s <- s
  } else if (!rust(fg_replay(state$s, c(state$leaves, list(state$weights_leaf)), c(theta, u, weights)))) {
    # a guard failed: f is recorded again, and its structure (hence the
    # weights' layout) may differ; laplace_at() starts over
    laplace_record(state, theta, u)
    return(NULL)
  }
  if (is.null(second)) return(rust(fg_gradient(state$s, state$leaves)))
  # the Hessian of s only along the directions it is used with (S2 D), in one
  # batch of p directions rather than the p + q of the whole Hessian
  rust(fg_hessian_times(state$s, state$leaves, second))
}

# For each column d_l of D, g_l = D f[d_l] and its Hessian (third
# derivatives of f contracted with d_l) along D and along the colours:
# `times_D` (T_full(d_l) D) and `T`, its uu block on the pattern.
laplace_third <- function(state, theta, u, D) {
  p <- ncol(D)
  st <- state$structure
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
    if (!ok) {   # as in laplace_s()
      laplace_record(state, theta, u)
      return(NULL)
    }
  }
  directions <- cbind(D, st$directions)
  lapply(state$directional, function(g) {
    times <- rust(fg_hessian_times(g, state$leaves, directions))$hessian_times
    list(times_D = times[, seq_len(p), drop = FALSE], T = times[, p + seq_len(st$colours), drop = FALSE][st$at])
  })
}

is_laplace <- function(spec) !is.null(spec$random)

# The random effects' modes at the estimate and their conditional standard
# errors (the square roots of the diagonal of H^-1, as lme4's condVar).
laplace_effects <- function(state, theta) {
  joint <- laplace_mode(state, theta)
  st <- state$structure
  W <- rust(fg_block_inverse(st$q, st$row, st$col, joint$H))
  variance <- numeric(st$q)
  variance[st$row[st$diagonal] + 1L] <- W[st$diagonal]
  layout <- state$spec$random$layout
  list(mode = split_parameters(joint$u, layout), se = split_parameters(sqrt(variance), layout),
       labels = layout$labels, blocks = st$blocks, largest_block = st$largest, colours = st$colours)
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
