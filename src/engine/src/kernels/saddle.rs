//! Catherine Loader's saddle-point forms of the Poisson and binomial
//! log-probabilities ("Fast and accurate computation of binomial
//! probabilities", 2000), which R's dpois, dbinom, dnbinom, dgamma and dbeta
//! are built on. Written out directly, log f = x log(lambda) - lambda -
//! lgamma(x + 1) subtracts numbers of size x log(x) to get a result of size
//! log(x): counts in the thousands lose three or four digits. The saddle-point
//! form keeps the large terms apart from the start, as
//!   log f = -stirlerr(x) - bd0(x, lambda) - log(2 pi x) / 2,
//! with both stirlerr and bd0 small and computed without cancellation.
//! Only values use these; the derivatives have no such cancellation.

use crate::special::ln_gamma;

pub const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;
pub const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// The error of Stirling's formula,
///   stirlerr(n) = lgamma(n + 1) - (n + 1/2) log(n) + n - log(sqrt(2 pi)),
/// for real n >= 0 (0 at n = 0 by convention; it only matters where x > 0).
pub fn stirlerr(n: f64) -> f64 {
    if n <= 10.0 {
        if n == 0.0 {
            return 0.0;
        }
        // Small enough that lgamma(n + 1) <= 15 and the subtraction costs
        // only a few units in the 15th digit of a term of size one.
        return ln_gamma(n + 1.0) - (n + 0.5) * n.ln() + n - LN_SQRT_2PI;
    }
    // Stirling's series, sum_k B_2k / (2k (2k - 1) n^(2k - 1)); beyond
    // n = 10 the first omitted term is below 1e-16.
    const C: [f64; 7] =
        [1.0 / 12.0, -1.0 / 360.0, 1.0 / 1260.0, -1.0 / 1680.0, 1.0 / 1188.0, -691.0 / 360_360.0, 1.0 / 156.0];
    let nn = 1.0 / (n * n);
    let mut s = 0.0;
    for c in C.iter().rev() {
        s = s * nn + c;
    }
    s / n
}

/// The deviance term bd0(x, m) = x log(x / m) + m - x >= 0. Near x = m both
/// x log(x/m) and m - x are large and nearly cancel; there the series in
/// v = (x - m) / (x + m),
///   bd0 = (x - m) v + 2 x sum_{j >= 1} v^(2j + 1) / (2j + 1),
/// sums only positive terms.
pub fn bd0(x: f64, m: f64) -> f64 {
    if m == f64::INFINITY && x.is_finite() {
        return f64::INFINITY;
    }
    if !x.is_finite() || !m.is_finite() || m == 0.0 {
        return x * (x / m).ln() + m - x;
    }
    if (x - m).abs() < 0.1 * (x + m) {
        let v = (x - m) / (x + m);
        let v2 = v * v;
        let mut s = (x - m) * v;
        let mut term = 2.0 * x * v;
        for j in 1..1000 {
            term *= v2;
            let next = s + term / (2 * j + 1) as f64;
            if next == s {
                break;
            }
            s = next;
        }
        return s;
    }
    x * (x / m).ln() + m - x
}

/// log of the Poisson probability of x (any real x >= 0) with mean lambda,
/// with `stirling()` = -stirlerr(x) - log(2 pi x) / 2 supplied by the caller
/// so that a kernel can precompute it from its data.
pub fn dpois_log_with(x: f64, lambda: f64, stirling: impl FnOnce() -> f64) -> f64 {
    if lambda == 0.0 {
        return if x == 0.0 { 0.0 } else { f64::NEG_INFINITY };
    }
    if !lambda.is_finite() || x < 0.0 {
        return f64::NEG_INFINITY;
    }
    if x <= lambda * f64::MIN_POSITIVE {
        return -lambda;
    }
    if lambda < x * f64::MIN_POSITIVE {
        // bd0 would overflow in x / lambda; the direct form has nothing to cancel.
        return -lambda + x * lambda.ln() - ln_gamma(x + 1.0);
    }
    stirling() - bd0(x, lambda)
}

/// log of the Poisson probability of x with mean lambda.
pub fn dpois_log(x: f64, lambda: f64) -> f64 {
    dpois_log_with(x, lambda, || poisson_stirling(x))
}

/// The data-only part of `dpois_log`: -stirlerr(x) - log(2 pi x) / 2, x > 0.
pub fn poisson_stirling(x: f64) -> f64 {
    -stirlerr(x) - 0.5 * (LN_2PI + x.ln())
}

/// The part of the binomial log-probability that depends only on (x, n),
/// for 0 < x < n: stirlerr(n) - stirlerr(x) - stirlerr(n - x) - log(2 pi x (n - x) / n) / 2.
pub fn binomial_stirling(x: f64, n: f64) -> f64 {
    // log1p(-x/n) rather than log(n - x) - log(n): exact for x << n.
    stirlerr(n) - stirlerr(x) - stirlerr(n - x) - 0.5 * (LN_2PI + x.ln() + (-x / n).ln_1p())
}

/// log of the binomial probability of x successes in n trials (x, n real,
/// as dbeta and dnbinom need) with success probability p and q = 1 - p
/// passed separately so that whichever is small keeps its precision.
/// `stirling()` must return `binomial_stirling(x, n)`; it is only called
/// when 0 < x < n.
pub fn dbinom_log_with(x: f64, n: f64, p: f64, q: f64, stirling: impl FnOnce() -> f64) -> f64 {
    if p == 0.0 {
        return if x == 0.0 { 0.0 } else { f64::NEG_INFINITY };
    }
    if q == 0.0 {
        return if x == n { 0.0 } else { f64::NEG_INFINITY };
    }
    if x == 0.0 {
        if n == 0.0 {
            return 0.0;
        }
        return if p > q { n * q.ln() } else { n * (-p).ln_1p() };
    }
    if x == n {
        return if p > q { n * (-q).ln_1p() } else { n * p.ln() };
    }
    if x < 0.0 || x > n {
        return f64::NEG_INFINITY;
    }
    stirling() - bd0(x, n * p) - bd0(n - x, n * q)
}

/// log of the binomial probability of x in n trials.
pub fn dbinom_log(x: f64, n: f64, p: f64, q: f64) -> f64 {
    dbinom_log_with(x, n, p, q, || binomial_stirling(x, n))
}

/// log B(a, b) for a, b > 0. When the larger argument is big, lgamma(b) -
/// lgamma(a + b) cancels; Stirling's formula for both, with their
/// corrections stirlerr, leaves only small terms:
///   lgamma(q) - lgamma(p + q) = -(q - 1/2) log1p(p/q) - p log(p + q) + p
///                               + stirlerr(q) - stirlerr(p + q).
/// When both are big, the same for lgamma(p) leaves
///   -log(q)/2 + log(sqrt(2 pi)) + (p - 1/2) log(p/(p+q)) + q log1p(-p/(p+q)) + corrections.
pub fn ln_beta(a: f64, b: f64) -> f64 {
    let (p, q) = if a < b { (a, b) } else { (b, a) };
    if p >= 10.0 {
        let corr = stirlerr(p) + stirlerr(q) - stirlerr(p + q);
        let r = p / (p + q);
        -0.5 * q.ln() + LN_SQRT_2PI + corr + (p - 0.5) * r.ln() + q * (-r).ln_1p()
    } else if q >= 10.0 {
        ln_gamma(p) - (q - 0.5) * (p / q).ln_1p() - p * (p + q).ln() + p + stirlerr(q) - stirlerr(p + q)
    } else {
        ln_gamma(p) + ln_gamma(q) - ln_gamma(p + q)
    }
}
