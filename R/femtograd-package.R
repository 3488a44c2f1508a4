#' femtograd: exact derivatives and maximum likelihood for plain R code
#'
#' femtograd records ordinary R arithmetic on [val()] objects as a graph in a
#' Rust engine and differentiates it exactly: reverse mode for gradients,
#' forward-over-reverse for Hessians.
#'
#' @section Values and gradients:
#' [val()], [backward()], [grad()], [zero_grad()], [value_of()], [is_value()];
#' arithmetic (`+ - * / ^`), `exp`, `log`, `sqrt`, `lgamma`, ... ,
#' `sum`, `mean`, `prod`, `%*%`, `t`, `crossprod`, indexing, and the stable
#' helpers [sigmoid()], [softplus()], [log_sigmoid()], [logit()],
#' [logsumexp()].
#'
#' @keywords internal
#' @useDynLib femtograd, .registration = TRUE
#' @importFrom methods setOldClass setMethod
"_PACKAGE"
