test_that("the committed R/extendr-wrappers.R matches the compiled module", {
  # Ask the compiled module for its wrappers, evaluate them, and compare
  # every function with the one the package actually defines.
  generator <- getNativeSymbolInfo("wrap__make_femtograd_wrappers", "femtograd")
  code <- .Call(generator, TRUE, "femtograd")
  fresh <- new.env()
  eval(parse(text = code), envir = fresh)
  ns <- asNamespace("femtograd")
  expect_gt(length(ls(fresh)), 10)
  for (name in ls(fresh)) {
    expect_true(exists(name, envir = ns, inherits = FALSE),
                info = paste(name, "is missing: run Rscript tools/make-wrappers.R"))
    installed <- get(name, envir = ns)
    expect_identical(deparse(formals(installed)), deparse(formals(fresh[[name]])), info = name)
    expect_identical(deparse(body(installed)), deparse(body(fresh[[name]])), info = name)
  }
  wrapper_names <- grep("^fg_", ls(ns), value = TRUE)
  expect_setequal(wrapper_names, ls(fresh))
})
