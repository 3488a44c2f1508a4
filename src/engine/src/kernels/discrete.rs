//! Probability mass functions of counts. Values use the saddle-point forms
//! of `saddle`, as R's dpois, dbinom and dnbinom do; everything that depends
//! on the data alone (Stirling corrections, logs) is computed once, when the
//! node is recorded.

use super::saddle::{binomial_stirling, dbinom_log_with, dpois_log_with, poisson_stirling, stirlerr, LN_2PI};
use super::{as_count, binary_outcomes, counts, ratio, Density, Partials};
use crate::special::{digamma, trigamma};
use crate::{bail, Result};

/// Poisson(lambda): dpois. lambda = 0 is allowed (all mass at 0), as in R.
#[derive(Debug)]
pub struct Poisson {
    x: Vec<f64>,
    /// -stirlerr(x) - log(2 pi x) / 2, for x > 0.
    stirling: Vec<f64>,
}

impl Poisson {
    pub fn new(x: Vec<f64>) -> Result<Self> {
        let x = counts(Self::NAME, "x", x)?;
        let stirling = x.iter().map(|&v| if v > 0.0 { poisson_stirling(v) } else { 0.0 }).collect();
        Ok(Poisson { x, stirling })
    }
}

impl Density<1> for Poisson {
    const NAME: &'static str = "loglik_poisson";
    const DISCRETE: bool = true;
    const PARAMS: [&'static str; 1] = ["lambda"];

    fn observations(&self) -> usize {
        self.x.len()
    }

    fn log_density(&self, i: usize, [lambda]: [f64; 1]) -> f64 {
        if lambda < 0.0 {
            return f64::NEG_INFINITY;
        }
        dpois_log_with(self.x[i], lambda, || self.stirling[i])
    }

    fn partials(&self, i: usize, [lambda]: [f64; 1], _hessian: bool) -> Partials<1> {
        let x = self.x[i];
        Partials::one(ratio(x, lambda) - 1.0, -ratio(x, lambda * lambda))
    }
}

/// Binomial(p) with known numbers of trials: dbinom(x, size, p). `size` is
/// one number for all observations or one per observation.
#[derive(Debug)]
pub struct Binomial {
    x: Vec<f64>,
    size: Vec<f64>,
    /// `binomial_stirling(x, size)` where 0 < x < size.
    stirling: Vec<f64>,
}

impl Binomial {
    pub fn new(x: Vec<f64>, size: Vec<f64>) -> Result<Self> {
        let (x, size) = counts_of_trials(<Binomial as Density<1>>::NAME, "x", x, size)?;
        let trials = |i: usize| size[if size.len() == 1 { 0 } else { i }];
        let stirling = x
            .iter()
            .enumerate()
            .map(|(i, &k)| if k > 0.0 && k < trials(i) { binomial_stirling(k, trials(i)) } else { 0.0 })
            .collect();
        Ok(Binomial { x, size, stirling })
    }

    #[inline]
    fn trials(&self, i: usize) -> f64 {
        self.size[if self.size.len() == 1 { 0 } else { i }]
    }
}

impl Density<1> for Binomial {
    const NAME: &'static str = "loglik_binomial";
    const DISCRETE: bool = true;
    const PARAMS: [&'static str; 1] = ["p"];

    fn observations(&self) -> usize {
        self.x.len()
    }

    fn log_density(&self, i: usize, [p]: [f64; 1]) -> f64 {
        if let Some(outside) = outside_unit_interval(p) {
            return outside;
        }
        dbinom_log_with(self.x[i], self.trials(i), p, 1.0 - p, || self.stirling[i])
    }

    fn partials(&self, i: usize, [p]: [f64; 1], _hessian: bool) -> Partials<1> {
        let (x, q) = (self.x[i], 1.0 - p);
        let y = self.trials(i) - x;
        Partials::one(ratio(x, p) - ratio(y, q), -ratio(x, p * p) - ratio(y, q * q))
    }
}

/// Validates successes `x` out of `size` trials (one number for all
/// observations or one per observation), as `kernel` (an R function name)
/// reports them, calling the successes `data`: both must be non-negative
/// integers (rounded, see `as_count`), and x at most its number of trials.
pub(crate) fn counts_of_trials(kernel: &str, data: &str, x: Vec<f64>, size: Vec<f64>) -> Result<(Vec<f64>, Vec<f64>)> {
    let n = x.len();
    if size.len() != 1 && size.len() != n {
        bail!("{kernel}: size has length {} but {data} has length {n}", size.len());
    }
    let shared = size.len() == 1;
    let mut size = size;
    for (i, s) in size.iter_mut().enumerate() {
        match as_count(*s) {
            Some(r) => *s = r,
            None => {
                let at = if shared { String::new() } else { format!("[{}]", i + 1) };
                bail!("{kernel}: size{at} = {} is not a non-negative integer", super::show(*s));
            }
        }
    }
    let mut x = x;
    for (i, v) in x.iter_mut().enumerate() {
        let trials = size[if shared { 0 } else { i }];
        match as_count(*v) {
            Some(r) if r <= trials => *v = r,
            _ => {
                let bound = if shared { format!("size = {trials}") } else { format!("size[{}] = {trials}", i + 1) };
                bail!("{kernel}: {data}[{}] = {} is outside the support (integers from 0 to {bound})", i + 1, super::show(*v));
            }
        }
    }
    Ok((x, size))
}

/// The log-density of a probability outside [0, 1]: -Inf (NaN stays NaN).
fn outside_unit_interval(p: f64) -> Option<f64> {
    (!(0.0..=1.0).contains(&p)).then(|| if p.is_nan() { p } else { f64::NEG_INFINITY })
}

/// Bernoulli(p): dbinom(x, 1, p).
#[derive(Debug)]
pub struct Bernoulli {
    x: Vec<bool>,
}

impl Bernoulli {
    pub fn new(x: Vec<f64>) -> Result<Self> {
        Ok(Bernoulli { x: binary_outcomes(Self::NAME, "x", &x)? })
    }
}

impl Density<1> for Bernoulli {
    const NAME: &'static str = "loglik_bernoulli";
    const DISCRETE: bool = true;
    const PARAMS: [&'static str; 1] = ["p"];

    fn observations(&self) -> usize {
        self.x.len()
    }

    fn log_density(&self, i: usize, [p]: [f64; 1]) -> f64 {
        if let Some(outside) = outside_unit_interval(p) {
            return outside;
        }
        // log1p(-p) keeps the digits of a small p that 1 - p would round away.
        if self.x[i] {
            p.ln()
        } else {
            (-p).ln_1p()
        }
    }

    fn partials(&self, i: usize, [p]: [f64; 1], _hessian: bool) -> Partials<1> {
        if self.x[i] {
            let r = 1.0 / p;
            Partials::one(r, -r * r)
        } else {
            let r = 1.0 / (1.0 - p);
            Partials::one(-r, -r * r)
        }
    }
}

/// Negative binomial(r, p): dnbinom(x, size = r, prob = p), the number of
/// failures before the r-th success; r > 0 need not be an integer.
#[derive(Debug)]
pub struct NegBinom {
    x: Vec<f64>,
    stirlerr_x: Vec<f64>,
}

impl NegBinom {
    pub fn new(x: Vec<f64>) -> Result<Self> {
        let x = counts(Self::NAME, "x", x)?;
        let stirlerr_x = x.iter().map(|&v| stirlerr(v)).collect();
        Ok(NegBinom { x, stirlerr_x })
    }
}

/// Below this count, psi(x + a) - psi(a) is summed as sum_{j < x} 1/(a + j)
/// (and likewise for the trigamma difference), which does not cancel when
/// a is large; above it the two polygammas are cheaper.
pub(crate) const DIRECT_SUM_BELOW: f64 = 32.0;

/// psi(a + x) - psi(a) and, when `hessian`, psi'(a + x) - psi'(a) (else 0),
/// for a count x: the steps of the polygammas over x unit increments,
/// summed directly for small x (see `DIRECT_SUM_BELOW`).
pub(crate) fn polygamma_steps(x: f64, a: f64, hessian: bool) -> (f64, f64) {
    if x < DIRECT_SUM_BELOW {
        let (mut s1, mut s2) = (0.0, 0.0);
        for j in 0..x as usize {
            let d = 1.0 / (a + j as f64);
            s1 += d;
            s2 -= d * d;
        }
        (s1, s2)
    } else {
        (digamma(x + a) - digamma(a), if hessian { trigamma(x + a) - trigamma(a) } else { 0.0 })
    }
}

impl Density<2> for NegBinom {
    const NAME: &'static str = "loglik_negbinom";
    const DISCRETE: bool = true;
    const PARAMS: [&'static str; 2] = ["r", "p"];

    fn observations(&self) -> usize {
        self.x.len()
    }

    fn log_density(&self, i: usize, [r, p]: [f64; 2]) -> f64 {
        if r <= 0.0 || p <= 0.0 || p > 1.0 {
            return f64::NEG_INFINITY;
        }
        // dnbinom(x; r, p) = r / (r + x) * dbinom(r; r + x, p), so the
        // binomial saddle point serves the large-count case as well.
        let x = self.x[i];
        let n = x + r;
        let binom = dbinom_log_with(r, n, p, 1.0 - p, || {
            stirlerr(n) - stirlerr(r) - self.stirlerr_x[i] - 0.5 * (LN_2PI + r.ln() + (-r / n).ln_1p())
        });
        binom - (x / r).ln_1p()
    }

    fn partials(&self, i: usize, [r, p]: [f64; 2], hessian: bool) -> Partials<2> {
        let (x, q) = (self.x[i], 1.0 - p);
        let (dpsi, dtri) = polygamma_steps(x, r, hessian);
        let g = [dpsi + p.ln(), r / p - ratio(x, q)];
        if !hessian {
            return Partials::two(g, 0.0, 0.0, 0.0);
        }
        Partials::two(g, dtri, 1.0 / p, -r / (p * p) - ratio(x, q * q))
    }
}
