// Poisson counts on a latent Gaussian random walk, for bench/laplace.R:
// the NEGATIVE joint log density of the counts and the walk u (integrated
// out by TMB's Laplace approximation with random = "u"), written like
// femtograd's joint density in that benchmark.
#include <TMB.hpp>

template<class Type>
Type objective_function<Type>::operator() ()
{
  DATA_VECTOR(counts);
  PARAMETER(b0);
  PARAMETER(log_sd);
  PARAMETER_VECTOR(u);
  Type sd = exp(log_sd);
  Type nll = -dnorm(u(0), Type(0), sd, true);
  for (int t = 1; t < u.size(); t++) nll -= dnorm(u(t) - u(t - 1), Type(0), sd, true);
  for (int t = 0; t < counts.size(); t++) nll -= dpois(counts(t), exp(b0 + u(t)), true);
  return nll;
}
