// Logistic regression for bench/fit.R: the negative log-likelihood
//   -sum_i [ y_i * eta_i - log(1 + exp(eta_i)) ],  eta = X %*% beta,
// which is what TMB minimises. dbinom_robust() takes the logit of p and is
// TMB's numerically stable Bernoulli/binomial density.
#include <TMB.hpp>

template<class Type>
Type objective_function<Type>::operator() ()
{
  DATA_MATRIX(X);
  DATA_VECTOR(y);
  PARAMETER_VECTOR(beta);
  vector<Type> eta = X * beta;
  Type nll = Type(0);
  for (int i = 0; i < y.size(); i++) {
    nll -= dbinom_robust(y(i), Type(1), eta(i), true);
  }
  return nll;
}
