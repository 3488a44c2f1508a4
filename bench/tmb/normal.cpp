// Normal log-likelihood for bench/fit.R, parameterised like
// femtograd::loglik_normal(mu, sigma, x): returns the NEGATIVE
// log-likelihood -sum_i log dnorm(x_i; mu, sigma), which TMB minimises.
#include <TMB.hpp>

template<class Type>
Type objective_function<Type>::operator() ()
{
  DATA_VECTOR(x);
  PARAMETER(mu);
  PARAMETER(sigma);
  return -sum(dnorm(x, mu, sigma, true));
}
