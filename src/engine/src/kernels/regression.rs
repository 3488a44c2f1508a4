//! Log-likelihoods on the linear-predictor scale, for logistic and Poisson
//! regression: the R layer records eta = X %*% beta and one of these on
//! top. They run once per observation per sweep of every optimiser step, so
//! each costs one exponential per observation and allocates nothing.

use super::discrete::counts_of_trials;
use super::saddle::{bd0, binomial_stirling, dbinom_log_with, poisson_stirling};
use super::{binary_outcomes, counts, Density, Partials};
use crate::Result;

/// y in {0, 1} with P(y = 1) = sigmoid(eta):
///   log f = y eta - softplus(eta) = -softplus(-eta) if y = 1, -softplus(eta) if y = 0,
/// the second form being exact for any eta (no Inf - Inf at |eta| = Inf,
/// no log(0) where sigmoid(eta) rounds to 1).
#[derive(Debug)]
pub struct BernoulliLogit {
    y: Vec<bool>,
}

impl BernoulliLogit {
    pub fn new(y: Vec<f64>) -> Result<Self> {
        Ok(BernoulliLogit { y: binary_outcomes(Self::NAME, "y", &y)? })
    }
}

impl Density<1> for BernoulliLogit {
    const NAME: &'static str = "loglik_logistic";
    const DISCRETE: bool = true;
    const PARAMS: [&'static str; 1] = ["eta"];
    const DATA: &'static str = "y";

    fn observations(&self) -> usize {
        self.y.len()
    }

    #[inline]
    fn log_density(&self, i: usize, [eta]: [f64; 1]) -> f64 {
        // softplus(s) = max(s, 0) + log1p(exp(-|s|)), s = eta pointing away from y.
        let s = if self.y[i] { -eta } else { eta };
        -(s.max(0.0) + (-s.abs()).exp().ln_1p())
    }

    #[inline]
    fn partials(&self, i: usize, [eta]: [f64; 1], _hessian: bool) -> Partials<1> {
        let (p, q) = sigmoids(eta);
        let g = if self.y[i] { q } else { -p }; // y - sigmoid(eta)
        Partials::one(g, -p * q)
    }
}

/// y a count with mean mu = exp(eta): log f = y eta - mu - lgamma(y + 1),
/// the Poisson log-probability. y eta and lgamma(y + 1) are of size
/// y log y and nearly cancel, so with Stirling's formula for lgamma(y + 1)
/// it is evaluated as
///   y (eta - log y) + (y - mu) - stirlerr(y) - log(2 pi y) / 2,
/// whose first two terms are only as large as the result; and where those
/// two nearly cancel in turn (mu close to y), as the saddle point
/// -bd0(y, mu) - stirlerr(y) - log(2 pi y) / 2, like dpois.
#[derive(Debug)]
pub struct PoissonLog {
    y: Vec<f64>,
    log_y: Vec<f64>,
    /// -stirlerr(y) - log(2 pi y) / 2, for y > 0.
    stirling: Vec<f64>,
}

impl PoissonLog {
    pub fn new(y: Vec<f64>) -> Result<Self> {
        let y = counts(Self::NAME, "y", y)?;
        let log_y = y.iter().map(|&v| if v > 0.0 { v.ln() } else { 0.0 }).collect();
        let stirling = y.iter().map(|&v| if v > 0.0 { poisson_stirling(v) } else { 0.0 }).collect();
        Ok(PoissonLog { y, log_y, stirling })
    }
}

impl Density<1> for PoissonLog {
    const NAME: &'static str = "loglik_poisson_log";
    const DISCRETE: bool = true;
    const PARAMS: [&'static str; 1] = ["eta"];
    const DATA: &'static str = "y";

    fn observations(&self) -> usize {
        self.y.len()
    }

    #[inline]
    fn log_density(&self, i: usize, [eta]: [f64; 1]) -> f64 {
        let (y, mu) = (self.y[i], eta.exp());
        if y == 0.0 {
            // Not 0 * (eta - log 0): -mu is the whole answer, even at eta = -Inf.
            return -mu;
        }
        if mu == f64::INFINITY {
            return f64::NEG_INFINITY; // not Inf - Inf below
        }
        let d = y - mu;
        if d.abs() < 0.1 * (y + mu) {
            self.stirling[i] - bd0(y, mu)
        } else {
            y * (eta - self.log_y[i]) + d + self.stirling[i]
        }
    }

    #[inline]
    fn partials(&self, i: usize, [eta]: [f64; 1], _hessian: bool) -> Partials<1> {
        let mu = eta.exp();
        Partials::one(self.y[i] - mu, -mu)
    }
}

/// y successes out of m trials with success probability sigmoid(eta), as
/// glm(cbind(y, m - y) ~ ..., binomial) groups them:
///   log f = lchoose(m, y) + y log p + (m - y) log(1 - p),
/// evaluated as dbinom does (saddle point), with p = sigmoid(eta) and
/// 1 - p = sigmoid(-eta) each computed directly, so whichever is small keeps
/// its digits. The partials are y - m p = y (1 - p) - (m - y) p and
/// -m p (1 - p).
#[derive(Debug)]
pub struct BinomialLogit {
    y: Vec<f64>,
    size: Vec<f64>,
    /// binomial_stirling(y, m) where 0 < y < m.
    stirling: Vec<f64>,
}

impl BinomialLogit {
    pub fn new(y: Vec<f64>, size: Vec<f64>) -> Result<Self> {
        let (y, size) = counts_of_trials(Self::NAME, Self::DATA, y, size)?;
        let trials = |i: usize| size[if size.len() == 1 { 0 } else { i }];
        let stirling =
            y.iter().enumerate().map(|(i, &k)| if k > 0.0 && k < trials(i) { binomial_stirling(k, trials(i)) } else { 0.0 }).collect();
        Ok(BinomialLogit { y, size, stirling })
    }

    #[inline]
    fn trials(&self, i: usize) -> f64 {
        self.size[if self.size.len() == 1 { 0 } else { i }]
    }
}

/// (sigmoid(eta), sigmoid(-eta)), each without cancellation: with
/// e = exp(-|eta|) <= 1, sigmoid(|eta|) = 1/(1+e) and sigmoid(-|eta|) = e/(1+e).
#[inline]
pub(crate) fn sigmoids(eta: f64) -> (f64, f64) {
    let e = (-eta.abs()).exp();
    let d = 1.0 / (1.0 + e);
    if eta >= 0.0 {
        (d, e * d)
    } else {
        (e * d, d)
    }
}

impl Density<1> for BinomialLogit {
    const NAME: &'static str = "loglik_logistic";
    const DISCRETE: bool = true;
    const PARAMS: [&'static str; 1] = ["eta"];
    const DATA: &'static str = "y";

    fn observations(&self) -> usize {
        self.y.len()
    }

    #[inline]
    fn log_density(&self, i: usize, [eta]: [f64; 1]) -> f64 {
        let (p, q) = sigmoids(eta);
        dbinom_log_with(self.y[i], self.trials(i), p, q, || self.stirling[i])
    }

    #[inline]
    fn partials(&self, i: usize, [eta]: [f64; 1], _hessian: bool) -> Partials<1> {
        let (p, q) = sigmoids(eta);
        let (y, m) = (self.y[i], self.trials(i));
        Partials::one(y * q - (m - y) * p, -m * p * q)
    }
}
