# Recording a user's function with arithmetic that skips S3 dispatch.
#
# On values, `x * y` reaches the engine through R's dispatch of the Ops
# group generic, which costs several microseconds per operation: more than
# recording the operation itself, and most of the time of a model written
# as an R loop. While fit(), hessian() and friends record a function with
# loops, the function runs on a copy whose environment binds + - * / ^ to
# closures that call the engine directly when a side is a value and R's own
# operator otherwise. What is recorded is the same; only the route differs.

# The closure standing in for arithmetic operator `op`.
arithmetic_shortcut <- function(op) {
  primitive <- get(op, envir = baseenv())
  function(e1, e2) {
    if (missing(e2)) return(primitive(e1))
    if (inherits(e1, "femtograd_value") || inherits(e2, "femtograd_value")) {
      .Call(.native$ops, op, e1, e2)
    } else {
      primitive(e1, e2)
    }
  }
}

arithmetic_operators <- c("+", "-", "*", "/", "^")
arithmetic_shortcuts <- stats::setNames(lapply(arithmetic_operators, arithmetic_shortcut), arithmetic_operators)

# Constructs whose bodies repeat arithmetic many times. A function without
# them does few operations, and re-compiling a copy would cost more than
# dispatch does.
looping_calls <- c("for", "while", "repeat", "lapply", "sapply", "vapply", "mapply", "Map", "Reduce",
                   "Filter", "outer", "apply")

# `f`, or for a closure with loops a copy of it that sees the shortcuts
# first on its environment chain. The copy gets f's body afresh: R's
# byte-code compiler would otherwise keep base arithmetic inlined in code
# compiled earlier (so the copy is compiled again at its first call; a fit
# keeps its copy for every refit).
with_arithmetic_shortcuts <- function(f) {
  if (!is.function(f) || is.primitive(f)) return(f)
  if (!any(looping_calls %in% all.names(body(f)))) return(f)
  copy <- f
  body(copy) <- body(f)
  environment(copy) <- list2env(arithmetic_shortcuts, parent = environment(f))
  copy
}
