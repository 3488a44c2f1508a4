# A net under the individual tests: random expression trees over the
# operations checked against numDeriv at random points, and every export
# called with a catalogue of bad inputs in a child process that must end
# in R errors, never a crash. The seeds are fixed, so a failure reproduces.

# ---- random expression trees ----------------------------------------------

# Operations that keep their arguments in a safe domain: each takes
# expressions (as R code) and returns R code, and works on numbers and on
# values alike.
unary_ops <- list(
  function(a) bquote(exp(.(a) / 4)),
  function(a) bquote(log(1 + .(a)^2)),
  function(a) bquote(sin(.(a))),
  function(a) bquote(cos(.(a))),
  function(a) bquote(tanh(.(a))),
  function(a) bquote(sqrt(.(a)^2 + 1)),
  function(a) bquote(lgamma(2 + .(a)^2)),
  function(a) bquote(atan(.(a))),
  function(a) bquote(log1p(exp(.(a)))),
  function(a) bquote(abs(.(a) - 10)),
  function(a) bquote(cumsum(.(a))),
  function(a) bquote(rev(.(a))),
  function(a) bquote(.(a)[c(3, 1, 2)]),
  function(a) bquote(pnorm(.(a) / 3)),
  function(a) bquote(dnorm(.(a), 0.3, 1.7, log = TRUE))
)
binary_ops <- list(
  function(a, b) bquote(.(a) + .(b)),
  function(a, b) bquote(.(a) - .(b)),
  function(a, b) bquote(.(a) * .(b)),
  function(a, b) bquote(.(a) / (2 + .(b)^2)),
  function(a, b) bquote(pmax(.(a), .(b) + 0.01)),
  function(a, b) bquote(c(.(a)[1:2], .(b)[3])),
  function(a, b) bquote(.(a) * sum(.(b)) / 5)
)

# A random expression of depth `depth` in the length-3 vectors x and y.
random_expression <- function(depth) {
  if (depth == 0L) return(as.name(sample(c("x", "y"), 1L)))
  if (runif(1) < 0.5) {
    sample(unary_ops, 1L)[[1]](random_expression(depth - 1L))
  } else {
    sample(binary_ops, 1L)[[1]](random_expression(depth - 1L), random_expression(depth - 1L))
  }
}

test_that("random expression trees have numDeriv's gradients and Hessians", {
  set.seed(20261202)
  for (k in 1:40) {
    body <- random_expression(sample(2:4, 1L))
    reduce <- sample(c("sum", "mean", "prod"), 1L)
    f <- eval(bquote(function(theta) {
      x <- theta[1:3]
      y <- theta[4:6]
      .(as.name(reduce))(.(body))
    }))
    theta <- round(rnorm(6), 2)
    plain <- f(theta)
    if (!is.finite(plain)) next
    label <- paste(reduce, deparse1(body))
    g <- function(p) f(p[[1]])
    expect_equal(value_of(g(list(val(theta)))), plain, tolerance = 1e-12, label = label)
    expect_equal(unname(gradient(g, list(val(theta)))$gradient), numDeriv::grad(f, theta),
                 tolerance = 1e-6, label = paste(label, "gradient"))
    expect_equal(unname(hessian(g, list(val(theta)))), numDeriv::hessian(f, theta),
                 tolerance = 1e-5, label = paste(label, "Hessian"))
  }
})

# ---- bad inputs in a child process ----------------------------------------

test_that("every export meets bad input with an R error, never a crash", {
  rscript <- file.path(R.home("bin"), "Rscript")
  script <- tempfile(fileext = ".R")
  on.exit(unlink(script))
  writeLines(c(
    "suppressMessages(library(femtograd))",
    # a bad input may be taken as a file name (to_dot(x, 'a') writes one)
    "setwd(tempdir())",
    "restored <- unserialize(serialize(val(1), NULL))",
    "foreign <- getNativeSymbolInfo('wrap__fg_leaf', PACKAGE = 'femtograd')$address",
    "class(foreign) <- 'femtograd_value'",
    "bad <- list(NULL, NA, NaN, Inf, -Inf, 'a', list(), list(1, 'b'), factor('a'), numeric(0),",
    "            matrix(numeric(0), 0, 0), array(1, c(2, 2, 2)), function(x) x, TRUE,",
    "            restored, foreign, data.frame(a = 1), 1e300, -1, 0L, complex(real = 1, imaginary = 1))",
    # the bootstrap and profile refit; plot and other drawing functions need a device
    "grDevices::pdf(NULL)",
    "calls <- 0L",
    "for (name in getNamespaceExports('femtograd')) {",
    "  f <- get(name, envir = asNamespace('femtograd'))",
    "  if (!is.function(f) || startsWith(name, '.')) next",
    "  for (b in bad) {",
    "    calls <- calls + 1L",
    "    try(suppressWarnings(f(b)), silent = TRUE)",
    "    try(suppressWarnings(f(val(1), b)), silent = TRUE)",
    "  }",
    "}",
    "cat('CALLS', calls, '\\n')"
  ), script)
  out <- suppressWarnings(system2(rscript, c("--vanilla", script), stdout = TRUE, stderr = TRUE,
                                  env = paste0("R_LIBS=", paste(.libPaths(), collapse = .Platform$path.sep))))
  status <- if (is.null(attr(out, "status"))) 0L else attr(out, "status")
  expect_equal(status, 0L, label = paste(utils::tail(out, 5), collapse = "\n"))
  expect_true(any(grepl("^CALLS [0-9]+", out)), label = paste(utils::tail(out, 5), collapse = "\n"))
})
