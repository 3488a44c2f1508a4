//! The standard normal distribution: its density, its distribution
//! function Phi, log Phi far into the lower tail (where Phi itself
//! underflows: Phi(-40) is about 1e-350), the ratio phi / Phi, and the
//! quantile function. Only std is used: erf by its series of positive
//! terms near zero, the scaled complement erfcx(z) = exp(z^2) erfc(z) by
//! its continued fraction for z >= 2.

use std::f64::consts::{FRAC_1_SQRT_2, PI};

/// Where the series hands over to the continued fraction, in z = x / sqrt(2).
const SWITCH: f64 = 2.0;

/// erf(z) for |z| < SWITCH: 2/sqrt(pi) exp(-z^2) sum_n (2z^2)^n z / (1 3 ... (2n+1)).
/// Every term has the sign of z, so nothing cancels.
fn erf_series(z: f64) -> f64 {
    let mut term = z;
    let mut sum = 0.0f64;
    let mut n = 0.0;
    while term != 0.0 && term.abs() > 1e-17 * sum.abs() {
        sum += term;
        n += 1.0;
        term *= 2.0 * z * z / (2.0 * n + 1.0);
    }
    2.0 / PI.sqrt() * (-z * z).exp() * sum
}

/// exp(z^2) erfc(z) for z >= SWITCH, by the continued fraction
/// 1/sqrt(pi) / (z + (1/2) / (z + 1 / (z + (3/2) / (z + ...)))), evaluated
/// from the bottom; 60 levels give full double precision from z = 2 on.
fn erfcx_large(z: f64) -> f64 {
    let mut t = z;
    for n in (1..=60).rev() {
        t = z + 0.5 * f64::from(n) / t;
    }
    1.0 / (PI.sqrt() * t)
}

/// exp(-x^2 / 2) to full relative precision also for large |x|, where the
/// rounding of x^2 would be magnified: x is split into a part with few
/// bits, whose square is exact, and the rest (as R's pnorm does).
fn exp_half_square(x: f64) -> f64 {
    let head = (x * 16.0).trunc() / 16.0;
    let rest = (x - head) * (x + head);
    (-0.5 * head * head).exp() * (-0.5 * rest).exp()
}

/// The standard normal density.
pub fn dnorm(x: f64) -> f64 {
    exp_half_square(x) / (2.0 * PI).sqrt()
}

/// Phi(x), the standard normal distribution function.
pub fn pnorm(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    let z = -x * FRAC_1_SQRT_2;
    if z >= SWITCH {
        0.5 * exp_half_square(x) * erfcx_large(z)
    } else if z <= -SWITCH {
        1.0 - 0.5 * exp_half_square(x) * erfcx_large(-z)
    } else {
        0.5 - 0.5 * erf_series(z)
    }
}

/// log Phi(x), finite wherever Phi(x) > 0 mathematically.
pub fn log_pnorm(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x == f64::NEG_INFINITY {
        return f64::NEG_INFINITY;
    }
    let z = -x * FRAC_1_SQRT_2;
    if z >= SWITCH {
        0.5f64.ln() - 0.5 * x * x + erfcx_large(z).ln()
    } else if z <= -SWITCH {
        (-0.5 * exp_half_square(x) * erfcx_large(-z)).ln_1p()
    } else {
        pnorm(x).ln()
    }
}

/// phi(x) / Phi(x) (the inverse Mills ratio), the derivative of log Phi,
/// without underflow in the lower tail.
pub fn mills(x: f64) -> f64 {
    let z = -x * FRAC_1_SQRT_2;
    if z >= SWITCH {
        (2.0 / PI).sqrt() / erfcx_large(z)
    } else {
        dnorm(x) / pnorm(x)
    }
}

/// The quantile function: Phi(q) = p. Newton's method on log Phi(q) = log p
/// (concave, so it converges from any start) in the lower half, and by
/// symmetry in the upper one (1 - p is exact for p >= 1/2).
pub fn qnorm(p: f64) -> f64 {
    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    if p > 0.5 {
        return -qnorm(1.0 - p);
    }
    let target = p.ln();
    // A start from the tail's leading term, -sqrt(-2 log p), capped near 0.
    let mut q = -(-2.0 * target).sqrt().max(0.1) + 0.5;
    for _ in 0..100 {
        let step = (log_pnorm(q) - target) / mills(q);
        q -= step;
        if step.abs() <= 1e-15 * q.abs().max(1e-300) {
            break;
        }
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference values from R 4.2.2: sprintf("%.17g", pnorm(x)) and friends.
    #[test]
    fn phi_and_log_phi_match_r_across_the_range() {
        let cases = [
            (0.0, 0.5),
            (1.0, 0.84134474606854293),
            (-1.0, 0.15865525393145705),
            (-2.5, 0.0062096653257761349),
            (2.9, 0.99813418669961596),
            (-3.0, 0.0013498980316300946),
            (-8.0, 6.2209605742717849e-16),
            (-20.0, 2.7536241186062337e-89),
        ];
        for (x, want) in cases {
            let got = pnorm(x);
            assert!((got - want).abs() <= 1e-14 * want, "pnorm({x}) = {got}, R gives {want}");
            assert!((log_pnorm(x) - want.ln()).abs() <= 1e-13 * want.ln().abs().max(1.0), "log_pnorm({x})");
        }
        // pnorm(-40, log.p = TRUE) in R: -804.6084420137538
        assert!((log_pnorm(-40.0) + 804.608_442_013_753_8).abs() < 1e-10);
        // pnorm(10, log.p = TRUE): -7.6198530241605269e-24
        assert!((log_pnorm(10.0) + 7.619_853_024_160_527e-24).abs() < 1e-36);
    }

    #[test]
    fn mills_ratio_is_the_derivative_of_log_phi() {
        for x in [-40.0f64, -6.0, -2.9, -2.8, -1.0, 0.0, 1.5, 3.0, 8.0] {
            let h = 1e-6 * (1.0f64).max(x.abs());
            let fd = (log_pnorm(x + h) - log_pnorm(x - h)) / (2.0 * h);
            assert!((fd - mills(x)).abs() <= 1e-6 * mills(x).max(1e-12), "mills({x}) = {} vs {fd}", mills(x));
        }
    }

    #[test]
    fn qnorm_inverts_pnorm() {
        // qnorm(0.975) in R: 1.9599639845400536
        assert!((qnorm(0.975) - 1.959_963_984_540_053_6).abs() < 1e-14);
        for p in [1e-300, 1e-20, 1e-5, 0.01, 0.3, 0.5, 0.77, 0.999, 1.0 - 1e-12] {
            let q = qnorm(p);
            assert!((pnorm(q) - p).abs() <= 1e-13 * p.min(1.0 - p).max(1e-300) + 1e-16, "qnorm({p}) = {q}");
        }
        assert!(qnorm(0.0) == f64::NEG_INFINITY && qnorm(1.0) == f64::INFINITY && qnorm(1.5).is_nan());
    }
}
