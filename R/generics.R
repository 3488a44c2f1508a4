# S4 generics for functions of base R and stats that are not S3 generics.
#
# Such a function becomes an S4 generic whose default is the function
# itself, so plain numbers run exactly its own code and library() reports
# nothing masked; a value in any of the listed arguments selects
# femtograd's method. (This file sorts before the files that use it: R
# sources a package's files in alphabetical order.)

# Values are an S3 class; S4 methods need it declared.
setOldClass("femtograd_value")

# Registers `impl` as the method of `name` for every combination of the
# arguments `value_args` in which at least one is a value (the others
# "ANY"), so that no two methods are equally good for any call. `topic` is
# the help page that documents the methods.
value_methods <- function(name, value_args, impl, topic = "distribution-functions") {
  methods::setGeneric(name, where = topenv(parent.frame()))
  value_generics[[topic]] <- union(value_generics[[topic]], name)
  k <- length(value_args)
  for (mask in seq_len(2^k - 1)) {
    is_value_arg <- bitwAnd(mask, 2^(seq_len(k) - 1)) > 0
    signature <- stats::setNames(ifelse(is_value_arg, "femtograd_value", "ANY"), value_args)
    methods::setMethod(name, signature, impl, where = topenv(parent.frame()))
  }
  invisible(name)
}

# The functions value_methods() made generic, by help topic, in order.
value_generics <- new.env(parent = emptyenv())

# roxygen tags for the generics of one help topic (for @eval): each one's
# export, and an Rd alias for each method (R CMD check wants each S4
# method documented).
value_method_tags <- function(topic) {
  ns <- asNamespace("femtograd")
  generics <- ns$value_generics[[topic]]
  aliases <- base::unlist(lapply(generics, function(g) {
    signatures <- names(methods::findMethods(g, where = ns))
    sprintf("%s,%s-method", g, gsub("#", ",", signatures, fixed = TRUE))
  }))
  c(paste("@exportMethod", generics), paste("@aliases", c(generics, aliases)))
}
