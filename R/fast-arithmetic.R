# Recording a user's function with arithmetic that skips S3 dispatch.
#
# On values, `x * y` reaches the engine through R's dispatch of the Ops
# group generic, and a closure standing in for `*` would cost about as
# much: either is more than recording the operation itself, and most of
# the time of a model written as an R loop. So while fit(), hessian() and
# friends record a function with loops, they call a copy of it whose body
# has each binary `a op b` (op one of + - * / ^) rewritten as
#
#   { .fg_a1 <- a; .fg_b1 <- b
#     if ((isS4(.fg_a1) || isS4(.fg_b1)) &&
#         !is.null(.fg_r1 <- .Call(<engine>, "op", .fg_a1, .fg_b1))) .fg_r1
#     else .fg_a1 op .fg_b1 }
#
# which R's byte-code compiler turns into a few instructions and no
# function call: values (which carry the S4 bit, see ops.R) go straight to
# the engine, plain numbers to R's own operator, and an S4 object that is
# not a value (the engine returns NULL for it) to R's operator and its
# dispatch. What is recorded is the same; only the route differs. Each
# site has its own temporaries, so nested sites do not overwrite each
# other's operands.
#
# Left as written: code that is data rather than computation (quote,
# bquote, substitute, expression, alist, formulas), the formals of nested
# functions and the targets of assignments (x[i - 1] <- v), and unary
# minus and plus.

# Constructs whose bodies repeat arithmetic many times. A function without
# them does few operations, and rewriting a copy would cost more than
# dispatch does.
looping_calls <- c("for", "while", "repeat", "lapply", "sapply", "vapply", "mapply", "Map", "Reduce",
                   "Filter", "outer", "apply")

arithmetic_operators <- c("+", "-", "*", "/", "^")
quoting_calls <- c("quote", "bquote", "substitute", "expression", "alist", "~")
assignment_calls <- c("<-", "=", "<<-")

# `f`, or for a closure with loops a copy of it (same formals and
# environment) whose body calls the engine directly; see above.
with_arithmetic_shortcuts <- function(f) {
  if (!is.function(f) || is.primitive(f)) return(f)
  if (!any(looping_calls %in% all.names(body(f)))) return(f)
  copy <- f
  body(copy) <- shortcut_body(body(f))
  copy
}

# The rewritten body, from a small cache of recent ones: a fit, its refits
# and repeated fits of one model rewrite the same body. Only bodies are
# kept (language objects), never a function's environment and its data.
shortcut_bodies <- new.env(parent = emptyenv())
shortcut_bodies$entries <- list()

shortcut_body <- function(body) {
  for (entry in shortcut_bodies$entries) {
    if (identical(entry$body, body)) return(entry$rewritten)
  }
  rewritten <- rewrite_arithmetic(body, .native$arithmetic)
  shortcut_bodies$entries <- c(list(list(body = body, rewritten = rewritten)),
                               utils::head(shortcut_bodies$entries, 7L))
  rewritten
}

# `expr` with every binary arithmetic site rewritten (see above); `routine`
# is the engine's entry point, embedded in the calls.
rewrite_arithmetic <- function(expr, routine) {
  sites <- 0L
  walk <- function(e) {
    if (!is.call(e)) return(e)
    head <- e[[1L]]
    name <- if (is.symbol(head)) as.character(head) else ""
    if (name %in% quoting_calls) return(e)
    if (name == "function") {
      if (length(e) >= 3L) e[[3L]] <- walk(e[[3L]])
      return(e)
    }
    first <- if (name %in% assignment_calls) 3L else 2L
    for (i in seq_len(length(e))[-seq_len(first - 1L)]) {
      # NULL and empty arguments (x[, 1]) stay as they are: assigning them
      # back would drop the argument (and an empty one cannot be bound)
      if (!identical(e[[i]], quote(expr = )) && !is.null(e[[i]])) e[[i]] <- walk(e[[i]])
    }
    if (name %in% arithmetic_operators && length(e) == 3L) {
      sites <<- sites + 1L
      e <- arithmetic_site(head, e[[2L]], e[[3L]], sites, routine)
    }
    e
  }
  walk(expr)
}

arithmetic_site <- function(op, lhs, rhs, k, routine) {
  a <- as.symbol(paste0(".fg_a", k))
  b <- as.symbol(paste0(".fg_b", k))
  r <- as.symbol(paste0(".fg_r", k))
  engine <- as.call(list(quote(.Call), routine, as.character(op), a, b))
  is_value_site <- call("&&", call("||", call("isS4", a), call("isS4", b)),
                        call("!", call("is.null", call("<-", r, engine))))
  call("{", call("<-", a, lhs), call("<-", b, rhs), call("if", is_value_site, r, as.call(list(op, a, b))))
}
