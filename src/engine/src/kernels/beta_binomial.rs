//! The beta-binomial: x successes out of `size` trials whose success
//! probability is Beta(alpha, beta),
//!   log f = lchoose(n, x) + lbeta(x + alpha, n - x + beta) - lbeta(alpha, beta).
//! The partials are differences of polygammas over the counts, e.g.
//! d/dalpha = [psi(x + alpha) - psi(alpha)] - [psi(n + alpha + beta) -
//! psi(alpha + beta)], each summed directly for small counts (see
//! `polygamma_steps`) so that large shapes do not cancel.

use super::discrete::{counts_of_trials, polygamma_steps};
use super::saddle::ln_beta;
use super::{Density, Partials};
use crate::Result;

#[derive(Debug)]
pub struct BetaBinomial {
    x: Vec<f64>,
    size: Vec<f64>,
    /// lchoose(n, x) = -log(n + 1) - lbeta(n - x + 1, x + 1).
    log_choose: Vec<f64>,
}

impl BetaBinomial {
    pub fn new(x: Vec<f64>, size: Vec<f64>) -> Result<Self> {
        let (x, size) = counts_of_trials(<Self as Density<2>>::NAME, "x", x, size)?;
        let trials = |i: usize| size[if size.len() == 1 { 0 } else { i }];
        let log_choose = x
            .iter()
            .enumerate()
            .map(|(i, &k)| {
                let n = trials(i);
                -(n.ln_1p()) - ln_beta(n - k + 1.0, k + 1.0)
            })
            .collect();
        Ok(BetaBinomial { x, size, log_choose })
    }

    #[inline]
    fn trials(&self, i: usize) -> f64 {
        self.size[if self.size.len() == 1 { 0 } else { i }]
    }
}

impl Density<2> for BetaBinomial {
    const NAME: &'static str = "loglik_betabinom";
    const DISCRETE: bool = true;
    const PARAMS: [&'static str; 2] = ["alpha", "beta"];

    fn observations(&self) -> usize {
        self.x.len()
    }

    fn log_density(&self, i: usize, [a, b]: [f64; 2]) -> f64 {
        if a <= 0.0 || b <= 0.0 {
            return f64::NEG_INFINITY;
        }
        let (x, n) = (self.x[i], self.trials(i));
        self.log_choose[i] + ln_beta(x + a, n - x + b) - ln_beta(a, b)
    }

    fn partials(&self, i: usize, [a, b]: [f64; 2], hessian: bool) -> Partials<2> {
        let (x, n) = (self.x[i], self.trials(i));
        let (psi_a, tri_a) = polygamma_steps(x, a, hessian);
        let (psi_b, tri_b) = polygamma_steps(n - x, b, hessian);
        let (psi_ab, tri_ab) = polygamma_steps(n, a + b, hessian);
        Partials::two([psi_a - psi_ab, psi_b - psi_ab], tri_a - tri_ab, -tri_ab, tri_b - tri_ab)
    }
}
