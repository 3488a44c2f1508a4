# Views of the recorded graph: as data (graph_of), as a picture with base
# graphics (plot), and as Graphviz DOT (to_dot). All three read the graph
# the engine recorded, through one binding (fg_graph) that walks the tape
# from a value's node back to its leaves.

#' The computational graph behind a value
#'
#' `graph_of()` returns the graph the engine recorded for a value: every
#' node the value depends on, in recording order (each node after its
#' inputs, the value itself last), and an edge from each input to the
#' operation that used it. `plot()` draws it and [to_dot()] writes it in
#' Graphviz's DOT language. Name a leaf (or any node) with
#' `val(x, label = "x")` to see its name in these views.
#'
#' Plain numbers mixed into an expression appear as `"constant"` nodes:
#' the `2` of `x^2` is one, used once. Gradients are those accumulated by
#' [backward()] (zeros before any backward pass, as [grad()] reports).
#'
#' @param x A femtograd value (for `plot()` and `print()`, also a graph
#'   from `graph_of()`).
#' @return An object of class `femtograd_graph`: a list of two data frames,
#'   `nodes` with columns `id` (1, 2, ... in recording order),
#'   `operation` (the operation's name, or `"leaf"` / `"constant"`), `kind`
#'   (`"leaf"`, `"constant"` or `"operation"`), `label` (`NA` where none
#'   was given), `shape` (`"scalar"`, `"vector[n]"` or `"matrix[r x c]"`),
#'   and the list columns `value` and `gradient` (each entry the numbers,
#'   with a `dim` for matrices); and `edges` with columns `from`, `to`
#'   (node ids) and `argument` (which argument of `to` the edge is).
#' @seealso [to_dot()], [val()]
#' @examples
#' x <- val(3, label = "x"); y <- val(4, label = "y")
#' z <- x * y + x
#' backward(z)
#' g <- graph_of(z)
#' g$nodes
#' g$edges
#' plot(z)
#' @export
graph_of <- function(x) {
  if (inherits(x, "femtograd_graph")) return(x)
  check_value(x, "graph_of")
  if (!fg_is_live(x)) {
    stop("graph_of: this femtograd value is no longer valid: it was saved and restored (e.g. with ",
         "saveRDS/readRDS), and the graph behind it does not survive that; create it again with val()",
         call. = FALSE)
  }
  g <- rust(fg_graph(x))
  n <- length(g$kind)
  nodes <- data.frame(id = seq_len(n), operation = g$operation, kind = g$kind, label = g$label,
                      shape = vapply(g$value, shape_text, ""), stringsAsFactors = FALSE)
  nodes$value <- g$value
  nodes$gradient <- g$gradient
  edges <- data.frame(from = g$from, to = g$to, argument = g$argument)
  structure(list(nodes = nodes, edges = edges), class = "femtograd_graph")
}

shape_text <- function(v) {
  d <- dim(v)
  if (!is.null(d)) sprintf("matrix[%d x %d]", d[1], d[2])
  else if (length(v) == 1L) "scalar" else sprintf("vector[%d]", length(v))
}

# Numbers for a node's picture: a scalar or a short vector in full (four
# significant digits), longer arrays by their shape alone.
numbers_text <- function(v) {
  if (length(v) <= 3L && is.null(dim(v))) {
    paste(format(signif(v, 4), trim = TRUE), collapse = ", ")
  } else {
    shape_text(v)
  }
}

# What each node is called in a picture: its label (with the operation for
# a named operation), the operation, or a constant's number.
node_titles <- function(nodes) {
  has_label <- !is.na(nodes$label)
  title <- nodes$operation
  constant <- nodes$kind == "constant"
  title[constant] <- vapply(nodes$value[constant], numbers_text, "")
  title[has_label] <- ifelse(nodes$kind[has_label] == "operation",
                             paste0(nodes$label[has_label], " = ", nodes$operation[has_label]),
                             nodes$label[has_label])
  title
}

graph_counts <- function(nodes) {
  k <- nodes$kind
  count <- function(n, one, many) sprintf("%d %s", n, if (n == 1) one else many)
  sprintf("%s (%s, %s, %s)", count(nrow(nodes), "node", "nodes"), count(sum(k == "leaf"), "leaf", "leaves"),
          count(sum(k == "constant"), "constant", "constants"),
          count(sum(k == "operation"), "operation", "operations"))
}

#' @rdname graph_of
#' @param ... For `plot()` of a value, passed on to the graph's method
#'   (`max_nodes`, `gradients`, `main`); unused otherwise.
#' @export
print.femtograd_graph <- function(x, ...) {
  cat(sprintf("<femtograd graph: %s, %d edges>\n", graph_counts(x$nodes), nrow(x$edges)))
  shown <- utils::head(x$nodes, 20L)
  inputs <- vapply(shown$id, function(i) {
    from <- x$edges$from[x$edges$to == i][order(x$edges$argument[x$edges$to == i])]
    paste(from, collapse = ", ")
  }, "")
  table <- data.frame(id = shown$id, operation = shown$operation, label = shown$label,
                      inputs = inputs, shape = shown$shape,
                      value = vapply(shown$value, numbers_text, ""),
                      gradient = vapply(shown$gradient, numbers_text, ""))
  table$label[is.na(table$label)] <- ""
  print(table, row.names = FALSE, right = FALSE)
  if (nrow(x$nodes) > 20L) cat(sprintf("... and %d more nodes\n", nrow(x$nodes) - 20L))
  invisible(x)
}

# Operations whose arguments can be swapped: their edges need no numbers.
commutative_operations <- c("+", "*", "pmin", "pmax")

# Columns (depth) and rows of a layered drawing, inputs to the left of the
# operations that use them. A node's column is one more than its inputs'
# deepest; a node without inputs sits just left of its first user, so a
# constant is drawn next to its operation. Rows are ordered within columns
# by a few barycentre sweeps, which untangles most crossings.
graph_layout <- function(g) {
  n <- nrow(g$nodes)
  from <- g$edges$from; to <- g$edges$to
  inputs <- split(from, factor(to, levels = seq_len(n)))
  users <- split(to, factor(from, levels = seq_len(n)))
  depth <- integer(n)
  for (i in seq_len(n)) if (length(inputs[[i]])) depth[i] <- max(depth[inputs[[i]]]) + 1L
  for (i in rev(seq_len(n))) {
    if (!length(inputs[[i]]) && length(users[[i]])) depth[i] <- min(depth[users[[i]]]) - 1L
  }
  depth <- depth - min(depth)
  row <- stats::ave(seq_len(n), depth, FUN = seq_along)
  place <- function(neighbours) {
    centre <- vapply(seq_len(n), function(i) {
      if (length(neighbours[[i]])) mean(row[neighbours[[i]]]) else row[i]
    }, 0)
    stats::ave(centre + seq_len(n) * 1e-6, depth, FUN = rank)
  }
  for (sweep in 1:4) row <- place(if (sweep %% 2L) inputs else users)
  height <- max(tabulate(depth + 1L))
  # centre each column vertically
  offset <- (height - stats::ave(row, depth, FUN = length)) / 2
  list(x = depth + 1, y = height + 1 - (row + offset), columns = max(depth) + 1, rows = height)
}

node_fill <- c(leaf = "#dbe9f6", constant = "#eeeeee", operation = "#fdf1c7")

#' @rdname graph_of
#' @param max_nodes Graphs with more nodes than this are summarised (the
#'   count of each operation) rather than drawn node by node; `Inf` draws
#'   every node.
#' @param gradients Whether to print the gradients (in red) under the
#'   values.
#' @param main A title; by default the numbers of nodes.
#' @export
plot.femtograd_graph <- function(x, max_nodes = 40, gradients = TRUE, main = NULL, ...) {
  nodes <- x$nodes
  if (is.null(main)) main <- graph_counts(nodes)
  if (nrow(nodes) > max_nodes) return(invisible(plot_graph_summary(x, main)))
  lay <- graph_layout(x)
  title <- node_titles(nodes)
  value <- ifelse(nodes$kind == "constant", "", paste("value", vapply(nodes$value, numbers_text, "")))
  grad <- ifelse(nodes$kind == "constant" | !gradients, "",
                 paste("grad", vapply(nodes$gradient, numbers_text, "")))
  old <- graphics::par(mar = c(0.3, 0.3, if (nzchar(main)) 2 else 0.3, 0.3))
  on.exit(graphics::par(old))
  graphics::plot.new()
  graphics::plot.window(xlim = c(0.45, lay$columns + 0.55), ylim = c(0.45, lay$rows + 0.55))
  if (nzchar(main)) graphics::title(main, cex.main = 0.95, font.main = 1)
  # one text size for every node: the largest at which the widest shape
  # fits 85% of a column and the tallest 75% of a row (an ellipse needs
  # about 1.25 times the size of the text it encloses)
  lines <- ifelse(nzchar(grad), 3, ifelse(nzchar(value), 2, 1))
  pad <- graphics::strwidth("MM", cex = 1)
  text_width <- pmax(graphics::strwidth(title, cex = 1, font = 2), graphics::strwidth(value, cex = 0.9),
                     graphics::strwidth(grad, cex = 0.9)) + pad
  stretch <- ifelse(nodes$kind == "operation", 1.25, 1)
  line_height <- graphics::strheight("Mg", cex = 1) * 1.4
  text_height <- lines * line_height + line_height / 3
  cex <- min(1, 0.85 / max(text_width * stretch), 0.75 / max(text_height * stretch))
  hw <- text_width * stretch * cex / 2
  hh <- text_height * stretch * cex / 2
  # edges first, from the right side of an input to the left side of its user
  for (k in seq_len(nrow(x$edges))) {
    i <- x$edges$from[k]; j <- x$edges$to[k]
    x0 <- lay$x[i] + hw[i]; y0 <- lay$y[i]
    x1 <- lay$x[j] - hw[j]; y1 <- lay$y[j]
    graphics::arrows(x0, y0, x1, y1, length = 0.08, col = "grey35", lwd = 1.2)
    if (!nodes$operation[j] %in% commutative_operations && sum(x$edges$to == j) > 1L) {
      graphics::text(x0 + 0.75 * (x1 - x0), y0 + 0.75 * (y1 - y0), x$edges$argument[k], pos = 3,
                     offset = 0.2, cex = 0.8 * max(cex, 0.6), col = "grey25")
    }
  }
  for (i in seq_len(nrow(nodes))) {
    cx <- lay$x[i]; cy <- lay$y[i]
    if (nodes$kind[i] == "operation") {
      theta <- seq(0, 2 * pi, length.out = 60)
      graphics::polygon(cx + hw[i] * cos(theta), cy + hh[i] * sin(theta),
                        col = node_fill[["operation"]], border = "grey20")
    } else {
      graphics::rect(cx - hw[i], cy - hh[i], cx + hw[i], cy + hh[i], col = node_fill[[nodes$kind[i]]],
                     border = "grey20")
    }
    step <- line_height * cex
    top <- cy + (lines[i] - 1) * step / 2
    graphics::text(cx, top, title[i], font = 2, cex = cex)
    if (lines[i] >= 2) graphics::text(cx, top - step, value[i], cex = cex * 0.9)
    if (lines[i] >= 3) graphics::text(cx, top - 2 * step, grad[i], cex = cex * 0.9, col = "firebrick")
  }
  invisible(x)
}

# Beyond a few dozen nodes a drawing is unreadable: a bar chart of what the
# graph is made of, and how to get at every node.
plot_graph_summary <- function(g, main) {
  nodes <- g$nodes
  counts <- sort(table(nodes$operation), decreasing = TRUE)
  if (length(counts) > 15L) counts <- c(counts[1:14], other = sum(counts[-(1:14)]))
  kind <- nodes$kind[match(names(counts), nodes$operation)]
  kind[is.na(kind)] <- "operation"
  # the longest chain of operations from a leaf to the value
  inputs <- split(g$edges$from, factor(g$edges$to, levels = nodes$id))
  depth <- integer(nrow(nodes))
  for (i in which(lengths(inputs) > 0L)) depth[i] <- max(depth[inputs[[i]]]) + 1L
  out <- nrow(nodes)
  old <- graphics::par(mar = c(4, 7, 4.5, 1))
  on.exit(graphics::par(old))
  graphics::barplot(rev(counts), horiz = TRUE, las = 1, col = rev(node_fill[kind]), xlab = "nodes",
                    main = main, cex.main = 0.95, font.main = 1)
  graphics::mtext(sprintf("longest path from a leaf: %d operations; the value: %s, value %s, grad %s",
                          depth[out], nodes$shape[out], numbers_text(nodes$value[[out]]),
                          numbers_text(nodes$gradient[[out]])), side = 3, line = 1.1, cex = 0.75)
  graphics::mtext(sprintf("too many nodes to draw one by one: plot(x, max_nodes = Inf) draws all %d; graph_of(x) lists them",
                          out), side = 3, line = 0.2, cex = 0.75)
  g
}

#' @rdname graph_of
#' @export
plot.femtograd_value <- function(x, ...) {
  graphics::plot(graph_of(x), ...)
}

#' Write the computational graph in Graphviz's DOT language
#'
#' `to_dot()` describes the graph behind a value (see [graph_of()]) as a
#' Graphviz `digraph`: one node per recorded node, labelled with its name
#' or operation, its value and its gradient, and one edge per input,
#' numbered where the order of an operation's arguments matters. Render it
#' with Graphviz (`dot -Tsvg graph.dot > graph.svg`) or DiagrammeR.
#'
#' @param x A femtograd value, or a graph from [graph_of()].
#' @param file A file to write the DOT text to, or `NULL` to only return it.
#' @param gradients Whether to include the gradients.
#' @return The DOT text as one string (invisibly when written to `file`).
#' @examples
#' x <- val(3, label = "x"); y <- val(4, label = "y")
#' z <- x^2 + x * y
#' backward(z)
#' cat(to_dot(z))
#' @export
to_dot <- function(x, file = NULL, gradients = TRUE) {
  g <- graph_of(x)
  nodes <- g$nodes
  text <- dot_escape(node_titles(nodes))
  value <- vapply(nodes$value, numbers_text, "")
  grad <- vapply(nodes$gradient, numbers_text, "")
  show <- nodes$kind != "constant"
  text[show] <- paste0(text[show], "\\nvalue ", value[show])
  if (gradients) text[show] <- paste0(text[show], "\\ngrad ", grad[show])
  shape <- ifelse(nodes$kind == "operation", "ellipse", "box")
  node_lines <- sprintf('  n%d [label="%s", shape=%s, fillcolor="%s"];', nodes$id, text, shape,
                        node_fill[nodes$kind])
  numbered <- !nodes$operation[g$edges$to] %in% commutative_operations &
    tabulate(g$edges$to, nrow(nodes))[g$edges$to] > 1L
  edge_lines <- sprintf("  n%d -> n%d%s;", g$edges$from, g$edges$to,
                        ifelse(numbered, sprintf(' [label="%d"]', g$edges$argument), ""))
  dot <- paste(c("digraph femtograd {", "  rankdir=LR;",
                 '  node [style=filled, fontname="Helvetica", fontsize=11];',
                 node_lines, edge_lines, "}"), collapse = "\n")
  if (is.null(file)) return(dot)
  writeLines(dot, file)
  invisible(dot)
}

# Text inside a DOT string: backslashes and quotes escaped, line breaks as \n.
dot_escape <- function(s) {
  s <- gsub("\\", "\\\\", s, fixed = TRUE)
  s <- gsub('"', '\\"', s, fixed = TRUE)
  gsub("\n", "\\n", s, fixed = TRUE)
}
