//! The negative binomial by its mean: dnbinom(x, size = r, mu = m), the
//! parametrisation of glm.nb and zero-inflated count models (variance
//! m + m^2/r). It is kept separate from `NegBinom` (size and prob) because
//! prob = r/(r + m) rounds m away when m << r: near the Poisson limit (huge
//! r), both the value and the derivatives must be formed from m and r
//! directly, or they cancel.

use super::discrete::{polygamma_steps, DIRECT_SUM_BELOW};
use super::saddle::{dbinom_log_with, dpois_log, stirlerr, LN_2PI};
use super::{counts, ratio, Density, Partials};
use crate::special::ln_gamma;
use crate::Result;

#[derive(Debug)]
pub struct NegBinomMu {
    x: Vec<f64>,
    stirlerr_x: Vec<f64>,
}

impl NegBinomMu {
    pub fn new(x: Vec<f64>) -> Result<Self> {
        Self::named(Self::NAME, x)
    }

    /// Validates the counts in the name of `kernel` (a zero-inflated
    /// model built on this one reports its own name).
    pub(crate) fn named(kernel: &str, x: Vec<f64>) -> Result<Self> {
        let x = counts(kernel, "x", x)?;
        let stirlerr_x = x.iter().map(|&v| stirlerr(v)).collect();
        Ok(NegBinomMu { x, stirlerr_x })
    }

    pub(crate) fn count(&self, i: usize) -> f64 {
        self.x[i]
    }
}

/// log dnbinom(x, size = r, mu = m) for r > 0, m >= 0, with
/// `stirlerr_x()` = stirlerr(x); the forms R's dnbinom_mu uses.
pub(crate) fn nb_mu_log(x: f64, r: f64, m: f64, stirlerr_x: impl FnOnce() -> f64) -> f64 {
    if r == f64::INFINITY {
        return dpois_log(x, m);
    }
    let s = r + m;
    if x == 0.0 {
        // r log(r/(r + m)): through log1p(-m/(r + m)) unless m > r.
        return r * if r < m { (r / s).ln() } else { (-m / s).ln_1p() };
    }
    if m == 0.0 {
        return f64::NEG_INFINITY;
    }
    if x < 1e-10 * r {
        // Few counts against a huge size: the Poisson log-probability
        // with log(m r/(r + m)) for log(m) and the first correction of
        // Gamma(x + r)/(Gamma(r) r^x), whose next term is below 1e-20.
        let log_rate = if r < m { (r / (1.0 + r / m)).ln() } else { (m / (1.0 + m / r)).ln() };
        return x * log_rate - m - ln_gamma(x + 1.0) + (x * (x - 1.0) / (2.0 * r)).ln_1p();
    }
    // dnbinom = r/(r + x) dbinom(r; r + x, r/(r + m)), the binomial by its
    // saddle point with both probabilities from m and r.
    let n = x + r;
    let log_ratio = if x < r { (-x / n).ln_1p() } else { (r / n).ln() };
    log_ratio
        + dbinom_log_with(r, n, r / s, m / s, || {
            stirlerr(n) - stirlerr(r) - stirlerr_x() - 0.5 * (LN_2PI + r.ln() + (-r / n).ln_1p())
        })
}

/// m/(1 + m) - log1p(m) for u = m/r: the part of d/dr log f that does not
/// depend on x, of order u^2/2; by its series for small u, where the two
/// terms cancel.
fn excess(u: f64) -> f64 {
    if u.abs() < 0.1 {
        // sum_{k >= 2} (-1)^(k + 1) (1 - 1/k) u^k
        let (mut sum, mut power) = (0.0, u);
        for k in 2..40 {
            power *= -u;
            let next = sum + power * (1.0 - 1.0 / k as f64);
            if next == sum {
                break;
            }
            sum = next;
        }
        sum
    } else {
        u / (1.0 + u) - u.ln_1p()
    }
}

/// The partials of log dnbinom(x, size = r, mu = m) in (r, m). With
/// s = r + m:
///   d/dm = x/m - (r + x)/s,   d/dr = psi(x + r) - psi(r) - log1p(m/r) + (m - x)/s.
/// For huge r, d/dr is O(1/r^2) from terms O(1/r): for small counts it is
/// summed as sum_{j < x} (m - j)/((r + j) s) + excess(m/r), exactly the same
/// quantity with nothing left to cancel (and d2/dr2 likewise).
pub(crate) fn nb_mu_partials(x: f64, r: f64, m: f64, hessian: bool) -> Partials<2> {
    let s = r + m;
    let tail = excess(m / r);
    let g_m = ratio(x, m) - (r + x) / s;
    let (g_r, h_rr) = if x < DIRECT_SUM_BELOW {
        let (mut g, mut h) = (0.0, 0.0);
        for j in 0..x as usize {
            let j = j as f64;
            let rj = r + j;
            g += (m - j) / (rj * s);
            if hessian {
                // 1/s^2 - 1/(r + j)^2
                h += (j - m) * (2.0 * r + j + m) / (rj * rj * s * s);
            }
        }
        (g + tail, h + m * m / (r * s * s))
    } else {
        let (dpsi, dtri) = polygamma_steps(x, r, hessian);
        (dpsi - x / s + tail, dtri + x / (s * s) + m * m / (r * s * s))
    };
    if !hessian {
        return Partials::two([g_r, g_m], 0.0, 0.0, 0.0);
    }
    Partials::two([g_r, g_m], h_rr, (x - m) / (s * s), (r + x) / (s * s) - ratio(x, m * m))
}

impl Density<2> for NegBinomMu {
    const NAME: &'static str = "loglik_negbinom_mu";
    const DISCRETE: bool = true;
    const PARAMS: [&'static str; 2] = ["size", "mu"];

    fn observations(&self) -> usize {
        self.x.len()
    }

    fn log_density(&self, i: usize, [r, m]: [f64; 2]) -> f64 {
        if r <= 0.0 || m < 0.0 {
            return f64::NEG_INFINITY;
        }
        nb_mu_log(self.x[i], r, m, || self.stirlerr_x[i])
    }

    fn partials(&self, i: usize, [r, m]: [f64; 2], hessian: bool) -> Partials<2> {
        nb_mu_partials(self.x[i], r, m, hessian)
    }
}
