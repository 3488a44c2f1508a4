library(testthat)
library(femtograd)

test_check("femtograd")
