# Base R's vocabulary on values: each function's numbers against base R's on
# plain numbers, its gradient and Hessian against numDeriv on the same
# function of plain numbers.

# f works on numbers and on values and returns a scalar.
check_vocabulary <- function(label, f, x, tolerance = 1e-6) {
  on_value <- f(val(x))
  expect_true(is_value(on_value), label = label)
  expect_equal(value_of(on_value), f(x), tolerance = 1e-12, label = label)
  g <- function(p) f(p[[1]])
  expect_equal(unname(gradient(g, list(val(x)))$gradient), numDeriv::grad(f, x),
               tolerance = tolerance, label = paste(label, "gradient"))
  expect_equal(unname(hessian(g, list(val(x)))), numDeriv::hessian(f, x),
               tolerance = tolerance, label = paste(label, "Hessian"))
}

weights <- function(n) seq(0.3, 1.7, length.out = n)

test_that("indexing matches R's on numbers, with derivatives", {
  x <- c(0.5, 1.2, -0.7, 2.1, 0.9, 1.4)
  as_matrix <- function(v) if (is_value(v)) matrix(v, 2) else base::matrix(v, 2)
  check_vocabulary("m[2, ]", function(v) sum(weights(3) * as_matrix(v)[2, ]^2), x)
  check_vocabulary("m[, -1]", function(v) sum(weights(4) * exp(as_matrix(v)[, -1])), x)
  check_vocabulary("m[i, j] logical", function(v) sum(as_matrix(v)[c(TRUE, FALSE), 2:3]^3), x)
  check_vocabulary("x[-2] and x[[3]]", function(v) sum(v[-2] * v[[3]]), x)
  check_vocabulary("matrix subscript", function(v) sum(as_matrix(v)[cbind(c(1, 2), c(3, 1))]^2), x)
  check_vocabulary("x[i] <- value", function(v) {
    y <- v * 2
    y[c(2, 5)] <- v[1]^2
    sum(weights(6) * y^2)
  }, x)
  check_vocabulary("m[i, j] <- value", function(v) {
    m <- as_matrix(v)
    m[2, 2:3] <- c(v[1] * v[6], 3)
    sum(weights(6) * m * m)
  }, x)
  m <- val(matrix(1:6, 2))
  expect_equal(value_of(m[2, ]), base::matrix(1:6, 2)[2, ])
  expect_equal(dim(m[, 2:3]), c(2L, 2L))
  expect_equal(dim(m[1, , drop = FALSE]), c(1L, 3L))
  expect_error(val(1:3)[1, 2], "vector value \\(length 3\\) takes one subscript")
  expect_error(val(1:3)[5], "out of range for a value of length 3")
  expect_error(m[3, 1], "subscript out of bounds.*2 x 3")
  expect_error(val(1:3)["a"], "subscript out of range")
  y <- val(1:3)
  expect_error(y[1:2] <- c(1, 2, 3), "2 positions, but the replacement has length 3")
})

test_that("building vectors and matrices keeps derivatives", {
  x <- c(0.5, 1.2, -0.7, 2.1)
  check_vocabulary("c()", function(v) sum(weights(7) * c(v, 1, v[2:3])^2), x)
  check_vocabulary("cbind()", function(v) sum(weights(8) * cbind(v, 1, v^2)[, c(1, 3)]), x)
  check_vocabulary("rbind()", function(v) sum(rbind(v[1:2], v[3:4]) %*% c(1, -2) * c(3, 5)), x)
  check_vocabulary("matrix(byrow)", function(v) sum(matrix(v, 2, byrow = TRUE) %*% c(1, 2) * c(1, 4)), x)
  check_vocabulary("rep/rev", function(v) sum(weights(8) * rep(v, 2) * rev(rep(v, each = 2))), x)
  check_vocabulary("dim<- and as.vector", function(v) {
    m <- v
    dim(m) <- c(2, 2)
    sum(as.vector(m %*% m) * weights(4))
  }, x)
  check_vocabulary("drop(X %*% b)", function(v) {
    X <- cbind(1, c(0.2, 0.5, 0.9))
    sum(exp(drop(X %*% v[1:2])))
  }, x)
  check_vocabulary("diag", function(v) sum(diag(v[1:2]) %*% c(1, 3)) + sum(diag(matrix(v, 2))^2), x)
  check_vocabulary("outer", function(v) sum(outer(v[1:2], v[3:4]) * c(1, 2, 3, 4)), x)
  check_vocabulary("tcrossprod", function(v) sum(tcrossprod(matrix(v, 2)) * c(1, 2, 3, 4)), x)
  expect_equal(value_of(cbind(val(1:2), 3:4)), cbind(1:2, 3:4))
  expect_equal(value_of(rbind(val(1:2), 3:4)), rbind(1:2, 3:4))
  expect_equal(value_of(matrix(val(1:6), 3)), base::matrix(1:6, 3))
  expect_equal(value_of(diag(val(c(2, 3)), 3)), diag(c(2, 3), 3))
  expect_error(cbind(val(1:2), 1:3), "rows; they must agree")
  expect_error(diag(val(2)), "give the size")
  expect_error(c(val(1), "a"), "combine with numbers only")
})

test_that("sums, differences and margins match base R", {
  x <- c(0.5, 1.2, -0.7, 2.1, 0.9, 1.4)
  check_vocabulary("cumsum", function(v) sum(weights(6) * cumsum(v)^2), x)
  check_vocabulary("cumprod", function(v) sum(weights(6) * cumprod(v)), x)
  check_vocabulary("diff", function(v) sum(diff(v)^2) + sum(diff(v, lag = 2, differences = 2)^3), x)
  check_vocabulary("rowSums/colMeans", function(v) {
    m <- matrix(v, 2)
    sum(rowSums(m)^2) + sum(colMeans(m)^3) + sum(colSums(m) * c(1, 2, 3)) + sum(rowMeans(m))
  }, x)
  check_vocabulary("apply", function(v) sum(apply(matrix(v, 2), 2, function(col) prod(col))), x)
  expect_equal(value_of(diff(val(matrix(1:6, 3)))), diff(base::matrix(1:6, 3)))
})

test_that("choices take the derivative of the element chosen", {
  x <- c(0.5, 1.2, -0.7, 2.1, 0.9, 1.4)
  check_vocabulary("pmax/pmin", function(v) sum(weights(6) * pmax(v, 0.8)^2 + pmin(v, v[6:1], 1)^2), x)
  check_vocabulary("max/min/range", function(v) max(v)^2 + min(v) * max(v[1:3], 1.5) + sum(range(v)^3), x)
  check_vocabulary("cummax/cummin", function(v) sum(weights(6) * cummax(v)^2 + cummin(v)), x)
  check_vocabulary("ifelse", function(v) sum(ifelse(c(TRUE, FALSE, TRUE, TRUE, FALSE, FALSE), v^2, exp(v))), x)
  expect_identical(which.max(val(x)), which.max(x))
  expect_identical(which.min(val(x)), which.min(x))
  expect_identical(pmax(1:3, 2), base::pmax(1:3, 2))
  expect_error(ifelse(val(1) > 0, 1, 2), NA)
  expect_error(ifelse(val(1), val(1), 2), "must be logical")
})

test_that("a replayed fit re-checks the choice of max() and pmax()", {
  set.seed(3)
  y <- rnorm(50, 1, 2)
  # sigma is the larger of exp(log_sigma) and 0.5 * exp(log_sigma) + 0.3:
  # the second wins at the start (log_sigma = -2), the first at the estimate,
  # so a replay that kept the start's choice would stop at the wrong sigma.
  loglik <- function(mu, log_sigma) {
    s <- exp(log_sigma)
    sum(dnorm(y, mu, pmax(s, 0.5 * s + 0.3), log = TRUE))
  }
  r <- fit(loglik, c(mu = 0, log_sigma = -2))
  expect_equal(unname(coef(r)), c(mean(y), log(sqrt(mean((y - mean(y))^2)))), tolerance = 1e-6)
  expect_gt(r$recordings, 1)
  loglik_max <- function(mu, log_sigma) {
    s <- exp(log_sigma)
    sum(dnorm(y, mu, max(s, 0.5 * s + 0.3), log = TRUE))
  }
  expect_equal(coef(fit(loglik_max, c(mu = 0, log_sigma = -2))), coef(r), tolerance = 1e-6)
})

test_that("chol, trigamma and psigamma have exact derivatives", {
  x <- c(1.3, 0.4, -0.2, 0.9)
  spd <- function(v) {
    B <- matrix(v, 2)
    B %*% t(B) + diag(2)
  }
  check_vocabulary("chol", function(v) sum(chol(spd(v)) * c(1, 2, 3, 4)), x)
  check_vocabulary("chol solve", function(v) {
    R <- chol(spd(v))
    sum(backsolve_plain <- solve(t(R) %*% R, c(1, 2))) + 2 * sum(log(diag(R)))
  }, x)
  expect_equal(value_of(chol(val(matrix(c(4, 2, 2, 3), 2)))), chol(matrix(c(4, 2, 2, 3), 2)))
  expect_error(chol(val(matrix(c(1, 2, 2, 1), 2))), "not positive definite")
  z <- c(0.7, 2.5, 11)
  check_vocabulary("trigamma", function(v) sum(trigamma(v)), z)
  for (d in 0:3) check_vocabulary(paste("psigamma", d), function(v) sum(psigamma(v, d)), z, tolerance = 1e-5)
  expect_error(psigamma(val(1), 4), "0, 1, 2 or 3")
})

test_that("functions without useful derivatives stop with a clear error", {
  v <- val(c(1.5, -2.2, 3))
  for (f in c("round", "floor", "ceiling", "trunc", "sign", "signif")) {
    expect_error(get(f)(v), paste0(f, ": its derivative is zero"), label = f)
  }
  expect_error(scale(v), "scale: not supported")
  # these differentiate: sort, median and quantile gather order statistics
  expect_equal(value_of(sort(v)), sort(c(1.5, -2.2, 3)))
  expect_equal(value_of(median(v)), 1.5)
  expect_equal(value_of(quantile(v, 0.25)), quantile(c(1.5, -2.2, 3), 0.25))
  g <- gradient(function(p) median(p[[1]]) + quantile(p[[1]], 0.25), list(val(c(1.5, -2.2, 3))))$gradient
  expect_equal(unname(g), c(1.5, 0.5, 0))
})

test_that("c() names the elements of a value, and names pick them", {
  a <- val(2); b <- val(c(3, 4))
  x <- c(mu = a, b, sigma = 5)
  expect_equal(names(x), c("mu", "", "", "sigma"))
  expect_equal(value_of(x), c(mu = 2, 3, 4, sigma = 5))
  expect_equal(value_of(x["sigma"]), c(sigma = 5))
  expect_equal(names(c(s = b)), c("s1", "s2"))
  backward(sum(x[c("mu", "sigma")] * c(10, 1)) + x[[2]])
  expect_equal(grad(a), 10)
  expect_equal(grad(b), c(1, 0))
  y <- b
  names(y) <- c("p", "q")
  expect_equal(names(y), c("p", "q"))
  expect_null(names(b)) # names<- makes a new handle; b is untouched
  expect_equal(value_of(y["q"]), c(q = 4))
  expect_error(y["r"], "subscript out of range")
  expect_error(names(y) <- "p", "1 names for a value of length 2")
  expect_null(names(c(a, b, use.names = FALSE)))
})

test_that("femtograd masks no function of R's default packages except pmax, pmin and unlist", {
  defaults <- c("base", "stats", "utils", "methods", "graphics", "grDevices", "datasets")
  exported <- getNamespaceExports("femtograd")
  masked <- unlist(lapply(defaults, function(pkg) {
    ns <- asNamespace(pkg)
    shared <- intersect(exported, getNamespaceExports(pkg))
    shared <- shared[!startsWith(shared, ".__")] # S4 methods tables
    # stats' and base's functions that femtograd made S4 generics are not
    # masked: their generic lives in the methods tables, not under the name
    shared[!vapply(shared, function(f) methods::isGeneric(f, getNamespace("femtograd")) &&
                     !identical(methods::getGeneric(f, where = asNamespace("femtograd"))@package, "femtograd"),
                   logical(1))]
  }))
  expect_setequal(masked, c("pmax", "pmin", "unlist"))
  # and on numbers they are base's
  expect_identical(pmax(c(a = 1, b = 5), 2:3), base::pmax(c(a = 1, b = 5), 2:3))
  expect_identical(pmin(matrix(1:4, 2), 2), base::pmin(matrix(1:4, 2), 2))
  nested <- list(a = 1:2, b = list(c = "x", d = list(e = 3)), f = NULL)
  for (recursive in c(TRUE, FALSE)) for (use.names in c(TRUE, FALSE)) {
    expect_identical(unlist(nested, recursive, use.names), base::unlist(nested, recursive, use.names))
  }
  expect_identical(unlist(factor(c("a", "b"))), base::unlist(factor(c("a", "b"))))
  expect_identical(unlist(data.frame(x = 1:2, y = 3:4)), base::unlist(data.frame(x = 1:2, y = 3:4)))
})

test_that("unlist() of a list holding values is c() of them, derivatives kept", {
  x <- val(c(2, 3, 4))
  powers <- lapply(1:3, function(i) x[i]^i)
  flat <- unlist(powers)
  expect_true(is_value(flat))
  expect_equal(value_of(flat), c(2, 9, 64))
  backward(sum(flat))
  expect_equal(grad(x), c(1, 2 * 3, 3 * 4^2)) # d/dx_i of x_i^i
  # names as base gives them, numbers mixed in, nested lists flattened
  named <- unlist(list(a = x[1], b = list(c = x[2], d = 5)))
  expect_equal(value_of(named), c(a = 2, b.c = 3, b.d = 5))
  expect_equal(value_of(unlist(list(a = x[1], b = 7), use.names = FALSE)), c(2, 7))
})
