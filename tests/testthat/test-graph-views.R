# graph_of(), plot() and to_dot(): views of the graph the engine recorded.

edge_set <- function(g) {
  e <- g$edges
  sort(paste(e$from, e$to, e$argument, sep = "-"))
}

test_that("graph_of(x * y + x) has two leaves, the operations * and +, and exactly its four edges", {
  x <- val(3, label = "x"); y <- val(4, label = "y")
  z <- x * y + x
  g <- graph_of(z)
  expect_s3_class(g, "femtograd_graph")
  expect_named(g$nodes, c("id", "operation", "kind", "label", "shape", "value", "gradient"))
  expect_named(g$edges, c("from", "to", "argument"))
  expect_equal(nrow(g$nodes), 4L)
  expect_equal(sum(g$nodes$kind == "leaf"), 2L)
  expect_equal(g$nodes$operation[g$nodes$kind == "operation"], c("*", "+"))
  id <- function(what) g$nodes$id[match(what, ifelse(is.na(g$nodes$label), g$nodes$operation, g$nodes$label))]
  expected <- sort(c(paste(id("x"), id("*"), 1, sep = "-"), paste(id("y"), id("*"), 2, sep = "-"),
                     paste(id("*"), id("+"), 1, sep = "-"), paste(id("x"), id("+"), 2, sep = "-")))
  expect_equal(edge_set(g), expected)
  # the value itself is the last node, and ids are row numbers
  expect_equal(g$nodes$operation[nrow(g$nodes)], "+")
  expect_equal(g$nodes$id, seq_len(4))
  expect_equal(g$nodes$shape, rep("scalar", 4))
})

test_that("values and gradients in graph_of() are those of value_of() and grad()", {
  x <- val(3, label = "x"); y <- val(4, label = "y")
  a <- val(x^2, label = "a")
  b <- x * y
  z <- a + b
  before <- graph_of(z)
  expect_true(all(unlist(before$nodes$gradient) == 0))
  backward(z)
  g <- graph_of(z)
  leaf <- function(name) which(g$nodes$label == name)
  expect_equal(g$nodes$value[[leaf("x")]], value_of(x))
  expect_equal(g$nodes$gradient[[leaf("x")]], grad(x))
  expect_equal(g$nodes$gradient[[leaf("y")]], grad(y))
  expect_equal(g$nodes$gradient[[leaf("a")]], grad(a))
  expect_equal(g$nodes$value[[nrow(g$nodes)]], value_of(z))
  expect_equal(g$nodes$gradient[[nrow(g$nodes)]], 1)
  # the 2 of x^2 is a constant node feeding ^ as its second argument
  k <- which(g$nodes$kind == "constant")
  expect_length(k, 1L)
  expect_equal(g$nodes$value[[k]], 2)
  expect_equal(g$edges$argument[g$edges$from == k], 2L)
  expect_equal(g$nodes$operation[g$edges$to[g$edges$from == k]], "^")
})

test_that("graph_of() keeps shapes, matrices' dims, and only the nodes the value depends on", {
  A <- val(matrix(1:4, 2), label = "A")
  v <- val(c(1, 2))
  unused <- A * 2
  s <- sum(A %*% v)
  backward(s)
  g <- graph_of(s)
  expect_equal(g$nodes$shape, c("matrix[2 x 2]", "vector[2]", "matrix[2 x 1]", "scalar"))
  expect_equal(g$nodes$operation, c("leaf", "leaf", "%*%", "sum"))
  expect_equal(g$nodes$value[[1]], matrix(as.double(1:4), 2))
  expect_equal(g$nodes$gradient[[1]], grad(A))
  expect_equal(g$nodes$gradient[[2]], grad(v))
  expect_false("*" %in% g$nodes$operation)
  # a leaf alone is a graph of one node
  one <- graph_of(val(1, label = "w"))
  expect_equal(nrow(one$nodes), 1L)
  expect_equal(nrow(one$edges), 0L)
  expect_equal(one$nodes$label, "w")
})

test_that("labels survive tapes being merged and the fresh copies hessian() records on", {
  x <- val(1, label = "x")
  big <- val(2) + val(3) + val(4)
  z <- big * x
  g <- graph_of(z)
  expect_equal(g$nodes$value[[which(g$nodes$label == "x")]], 1)
  expect_equal(sum(!is.na(g$nodes$label)), 1L)
  seen <- NULL
  hessian(function(p) { seen <<- graph_of(p[[1]]^2); p[[1]]^2 }, list(val(5, label = "theta")))
  expect_equal(seen$nodes$label[1], "theta")
})

test_that("val(label = ) checks its label, and graph_of() refuses what is not a live value", {
  expect_error(val(1, label = 2), "label must be one string")
  expect_error(val(1, label = c("a", "b")), "label must be one string")
  expect_error(val(1, label = NA_character_), "label must be one string")
  expect_error(graph_of(3), "graph_of: expected a femtograd value")
  expect_error(to_dot("x"), "graph_of: expected a femtograd value")
  path <- tempfile(fileext = ".rds")
  saveRDS(val(2) * 3, path)
  restored <- readRDS(path)
  expect_error(graph_of(restored), "no longer valid.*saved and restored")
  expect_error(plot(restored), "no longer valid")
})

test_that("to_dot() writes a digraph: a node line per node, an edge line per edge", {
  x <- val(3, label = "x"); y <- val(4, label = "y \"quoted\"")
  z <- x - y * x
  backward(z)
  dot <- to_dot(z)
  lines <- strsplit(dot, "\n", fixed = TRUE)[[1]]
  expect_equal(lines[1], "digraph femtograd {")
  expect_equal(lines[length(lines)], "}")
  g <- graph_of(z)
  node_lines <- grep("^  n[0-9]+ \\[label=\"", lines, value = TRUE)
  edge_lines <- grep("^  n[0-9]+ -> n[0-9]+", lines, value = TRUE)
  expect_length(node_lines, nrow(g$nodes))
  expect_length(edge_lines, nrow(g$edges))
  expect_equal(sub("^  n([0-9]+) -> n([0-9]+).*", "\\1 \\2", edge_lines), paste(g$edges$from, g$edges$to))
  # every line between the braces ends with a semicolon, quotes are balanced once escaped
  body <- lines[2:(length(lines) - 1)]
  expect_true(all(grepl(";$", body)))
  unescaped <- gsub('\\\\"', "", body)
  expect_true(all(nchar(gsub('[^"]', "", unescaped)) %% 2 == 0))
  expect_true(any(grepl('label="y \\\\"quoted\\\\"\\\\nvalue 4\\\\ngrad -3"', node_lines)))
  # the arguments of - are numbered, those of * are not
  minus <- g$nodes$id[g$nodes$operation == "-"]
  expect_true(all(grepl('\\[label="[12]"\\]', grep(sprintf("-> n%d", minus), edge_lines, value = TRUE))))
  times <- g$nodes$id[g$nodes$operation == "*"]
  expect_false(any(grepl("label", grep(sprintf("-> n%d;", times), edge_lines, value = TRUE))))
  file <- tempfile(fileext = ".dot")
  expect_invisible(to_dot(z, file = file))
  expect_equal(readLines(file), lines)
  expect_false(grepl("ngrad", to_dot(z, gradients = FALSE), fixed = TRUE))
})

test_that("plot() draws small graphs and summarises large ones", {
  pdf(NULL)
  on.exit(dev.off())
  x <- val(3, label = "x"); y <- val(4, label = "y")
  z <- x^2 + x * y
  backward(z)
  expect_invisible(plot(z))
  expect_s3_class(plot(graph_of(z), gradients = FALSE, main = ""), "femtograd_graph")
  A <- val(matrix(rnorm(6), 3))
  expect_silent(plot(sum(exp(A) %*% c(1, 2))))
  # a chain of 300 operations: summarised, or drawn on request
  s <- val(0.1)
  for (i in 1:150) s <- sin(s) + 0.5
  expect_equal(nrow(graph_of(s)$nodes), 301L + 150L)
  expect_silent(plot(s))
  expect_silent(plot(s, max_nodes = Inf))
  expect_output(print(graph_of(s)), "<femtograd graph: 451 nodes \\(1 leaf, 150 constants, 300 operations\\), 450 edges>")
  expect_output(print(graph_of(s)), "and 431 more nodes")
})
