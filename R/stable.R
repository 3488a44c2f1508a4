# Numerically stable helpers of statistics. On values they record one node
# each; on plain numbers they return plain numbers.

#' Numerically stable link functions and reductions
#'
#' `sigmoid(x)` is 1 / (1 + exp(-x)); `softplus(x)` is log(1 + exp(x));
#' `log_sigmoid(x)` is log(sigmoid(x)); `logit(p)` is log(p / (1 - p));
#' `logsumexp(x)` is log(sum(exp(x))); `softmax(x)` is exp(x) / sum(exp(x)),
#' computed as exp(x - logsumexp(x)). Each is computed without overflow or
#' cancellation (e.g. `softplus(800)` is 800, not `Inf`) and has exact first
#' and second derivatives.
#'
#' @param x,p A femtograd value or a numeric.
#' @return A femtograd value when the argument is one, else a numeric.
#' @examples
#' softplus(800)
#' x <- val(c(-1, 0, 2))
#' s <- logsumexp(x)
#' backward(s)
#' grad(x)  # softmax(x)
#' softmax(c(-1, 0, 2))
#' @name stable-functions
NULL

stable_unary <- function(name, x) {
  if (is_value(x)) return(math_value(name, x))
  if (!is.numeric(x)) {
    stop(sprintf("%s: expected a femtograd value or numbers, got an object of class '%s'",
                 name, paste(class(x), collapse = "/")), call. = FALSE)
  }
  value_of(math_value(name, new_value(x, constant = TRUE, caller = name)))
}

#' @rdname stable-functions
#' @export
sigmoid <- function(x) stable_unary("sigmoid", x)

#' @rdname stable-functions
#' @export
softplus <- function(x) stable_unary("softplus", x)

#' @rdname stable-functions
#' @export
log_sigmoid <- function(x) stable_unary("log_sigmoid", x)

#' @rdname stable-functions
#' @export
logit <- function(p) stable_unary("logit", p)

#' @rdname stable-functions
#' @export
logsumexp <- function(x) {
  if (is_value(x)) return(wrap_node(fg_reduce("logsumexp", x)))
  value_of(wrap_node(fg_reduce("logsumexp", new_value(x, constant = TRUE, caller = "logsumexp"))))
}

#' @rdname stable-functions
#' @export
softmax <- function(x) exp(x - logsumexp(x))
