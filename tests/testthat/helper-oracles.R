# Independent oracles for derivatives: numDeriv's Richardson extrapolation
# on the same function written in plain R.

numeric_gradient <- function(f, x) numDeriv::grad(f, x)
numeric_hessian <- function(f, x) numDeriv::hessian(f, x)

# Gradient of f (written once, usable on plain numbers and on values) via
# femtograd's backward pass at the point x.
femtograd_gradient <- function(f, x) {
  v <- val(x)
  backward(f(v))
  grad(v)
}

# The normal log-density written with plain operations, usable on values.
dnorm_plain <- function(x, mu, sigma) -0.5 * log(2 * pi) - log(sigma) - (x - mu)^2 / (2 * sigma^2)
