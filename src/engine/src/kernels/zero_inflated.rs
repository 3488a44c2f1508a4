//! Zero-inflated counts: with probability pi a structural zero, otherwise
//! a count from f(x; theta) (Poisson or negative binomial by its mean), as
//! pscl::zeroinfl fits them:
//!   x = 0:  log(pi + (1 - pi) f(0; theta)),
//!   x > 0:  log(1 - pi) + log f(x; theta).
//! The partials at a zero follow from those of log f(0; theta) (g0, H0):
//! with P = pi + (1 - pi) f0 and w = (1 - pi) f0 / P (the chance that the
//! zero is a count),
//!   d/dpi = (1 - f0)/P,        d/dtheta = w g0,
//!   d2/dpi2 = -(1 - f0)^2/P^2, d2/dpi dtheta = -f0 g0 / P^2,
//!   d2/dtheta2 = w H0 + w (1 - w) g0 g0'.
//! Everything is formed from logs (log P by log-sum-exp), so that neither
//! pi = 0 nor a large mean underflows f0 into a wrong -Inf.

use super::negbinom_mu::{nb_mu_log, nb_mu_partials, NegBinomMu};
use super::saddle::{dpois_log_with, poisson_stirling};
use super::{counts, Density, Partials};
use crate::Result;

/// log(exp(a) + exp(b)).
fn log_sum_exp(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    if lo == f64::NEG_INFINITY {
        return hi;
    }
    hi + (lo - hi).exp().ln_1p()
}

/// The log-density of a zero, log(pi + (1 - pi) f0), from log f0.
fn log_zero(pi: f64, log_f0: f64) -> f64 {
    log_sum_exp(pi.ln(), (-pi).ln_1p() + log_f0)
}

/// pi outside [0, 1] makes every observation impossible (NaN stays NaN).
fn outside(pi: f64) -> Option<f64> {
    (!(0.0..=1.0).contains(&pi)).then(|| if pi.is_nan() { pi } else { f64::NEG_INFINITY })
}

/// The partials at a zero in (pi, theta) from those of the count
/// distribution, `count`, which holds log f0's in its entries 1..K (entry 0
/// unused): see the module's comment.
fn zero_partials<const K: usize>(pi: f64, log_f0: f64, count: Partials<K>, hessian: bool) -> Partials<K> {
    let log_p = log_zero(pi, log_f0);
    let inv_p = (-log_p).exp();
    let w = ((-pi).ln_1p() + log_f0 - log_p).exp();
    let mut out = Partials { grad: [0.0; K], hess: [[0.0; K]; K] };
    // 1 - f0 = -expm1(log f0): accurate when f0 is near 1 (a small mean).
    out.grad[0] = -log_f0.exp_m1() * inv_p;
    for a in 1..K {
        out.grad[a] = w * count.grad[a];
    }
    if !hessian {
        return out;
    }
    // 1 - w = pi / P, from logs for when w is near 1.
    let not_w = (pi.ln() - log_p).exp();
    let f0_over_p2 = (log_f0 - 2.0 * log_p).exp();
    out.hess[0][0] = -out.grad[0] * out.grad[0];
    for a in 1..K {
        let h = -f0_over_p2 * count.grad[a];
        out.hess[0][a] = h;
        out.hess[a][0] = h;
        for b in 1..K {
            out.hess[a][b] = w * count.hess[a][b] + w * not_w * count.grad[a] * count.grad[b];
        }
    }
    out
}

/// The partials at a positive count: log(1 - pi) in pi, the count's own in theta.
fn positive_partials<const K: usize>(pi: f64, mut count: Partials<K>) -> Partials<K> {
    let r = 1.0 / (1.0 - pi);
    count.grad[0] = -r;
    count.hess[0][0] = -r * r;
    count
}

/// Moves partials in J parameters to entries 1..K of partials in K = J + 1.
fn shifted<const J: usize, const K: usize>(p: Partials<J>) -> Partials<K> {
    debug_assert_eq!(J + 1, K);
    let mut out = Partials { grad: [0.0; K], hess: [[0.0; K]; K] };
    for a in 0..J {
        out.grad[a + 1] = p.grad[a];
        for b in 0..J {
            out.hess[a + 1][b + 1] = p.hess[a][b];
        }
    }
    out
}

/// Zero-inflated Poisson(pi, lambda).
#[derive(Debug)]
pub struct ZeroInflatedPoisson {
    x: Vec<f64>,
    /// -stirlerr(x) - log(2 pi x)/2 for x > 0 (see `dpois_log_with`).
    stirling: Vec<f64>,
}

impl ZeroInflatedPoisson {
    pub fn new(x: Vec<f64>) -> Result<Self> {
        let x = counts(Self::NAME, "x", x)?;
        let stirling = x.iter().map(|&v| if v > 0.0 { poisson_stirling(v) } else { 0.0 }).collect();
        Ok(ZeroInflatedPoisson { x, stirling })
    }
}

impl Density<2> for ZeroInflatedPoisson {
    const NAME: &'static str = "loglik_zip";
    const DISCRETE: bool = true;
    const PARAMS: [&'static str; 2] = ["pi", "lambda"];

    fn observations(&self) -> usize {
        self.x.len()
    }

    fn log_density(&self, i: usize, [pi, lambda]: [f64; 2]) -> f64 {
        if let Some(outside) = outside(pi) {
            return outside;
        }
        if lambda < 0.0 {
            return f64::NEG_INFINITY;
        }
        let x = self.x[i];
        if x == 0.0 {
            log_zero(pi, -lambda)
        } else {
            (-pi).ln_1p() + dpois_log_with(x, lambda, || self.stirling[i])
        }
    }

    fn partials(&self, i: usize, [pi, lambda]: [f64; 2], hessian: bool) -> Partials<2> {
        let x = self.x[i];
        if x == 0.0 {
            // log f0 = -lambda: g0 = -1, H0 = 0.
            zero_partials(pi, -lambda, Partials::two([0.0, -1.0], 0.0, 0.0, 0.0), hessian)
        } else {
            positive_partials(pi, Partials::two([0.0, x / lambda - 1.0], 0.0, 0.0, -x / (lambda * lambda)))
        }
    }
}

/// Zero-inflated negative binomial(pi, size, mu), the count part being
/// dnbinom(x, size, mu = mu) (see `NegBinomMu`).
#[derive(Debug)]
pub struct ZeroInflatedNegBinom {
    counts: NegBinomMu,
}

impl ZeroInflatedNegBinom {
    pub fn new(x: Vec<f64>) -> Result<Self> {
        Ok(ZeroInflatedNegBinom { counts: NegBinomMu::named(Self::NAME, x)? })
    }
}

impl Density<3> for ZeroInflatedNegBinom {
    const NAME: &'static str = "loglik_zinb";
    const DISCRETE: bool = true;
    const PARAMS: [&'static str; 3] = ["pi", "size", "mu"];

    fn observations(&self) -> usize {
        self.counts.observations()
    }

    fn log_density(&self, i: usize, [pi, r, m]: [f64; 3]) -> f64 {
        if let Some(outside) = outside(pi) {
            return outside;
        }
        if r <= 0.0 || m < 0.0 {
            // Not only the counts: no parameter set of the count part exists.
            return f64::NEG_INFINITY;
        }
        let count = self.counts.log_density(i, [r, m]);
        if self.counts.count(i) == 0.0 {
            log_zero(pi, count)
        } else {
            (-pi).ln_1p() + count
        }
    }

    fn partials(&self, i: usize, [pi, r, m]: [f64; 3], hessian: bool) -> Partials<3> {
        let x = self.counts.count(i);
        let count = shifted(nb_mu_partials(x, r, m, hessian));
        if x == 0.0 {
            zero_partials(pi, nb_mu_log(0.0, r, m, || 0.0), count, hessian)
        } else {
            positive_partials(pi, count)
        }
    }
}
