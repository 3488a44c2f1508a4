//! Special functions the derivative rules need: log-gamma and the polygamma
//! family psi^(0..2) (digamma, trigamma, tetragamma).

use std::f64::consts::PI;

extern "C" {
    // C99's lgamma from the platform's libm, which Rust's std already links.
    fn lgamma(x: f64) -> f64;
}

/// log|Gamma(x)|, as R's `lgamma`.
pub fn ln_gamma(x: f64) -> f64 {
    // SAFETY: a pure libm function of one double.
    unsafe { lgamma(x) }
}

/// psi^(n)(x) for n = 0, 1, 2 by upward recurrence to x >= 10 and the
/// asymptotic series there; the reflection formula handles x < 0.
pub fn polygamma(n: u32, x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x <= 0.0 && x == x.floor() {
        return if n == 0 { f64::NAN } else { f64::INFINITY };
    }
    if x < 0.0 {
        return reflect(n, x);
    }
    let mut acc = 0.0;
    let mut x = x;
    while x < 10.0 {
        acc += match n {
            0 => -1.0 / x,
            1 => 1.0 / (x * x),
            _ => -2.0 / (x * x * x),
        };
        x += 1.0;
    }
    acc + asymptotic(n, x)
}

/// Bernoulli numbers B_2k for k = 1..=9.
const B2K: [f64; 9] = [
    1.0 / 6.0,
    -1.0 / 30.0,
    1.0 / 42.0,
    -1.0 / 30.0,
    5.0 / 66.0,
    -691.0 / 2730.0,
    7.0 / 6.0,
    -3617.0 / 510.0,
    43867.0 / 798.0,
];

fn asymptotic(n: u32, x: f64) -> f64 {
    let x2 = x * x;
    match n {
        0 => {
            // ln x - 1/(2x) - sum B_2k / (2k x^2k)
            let mut s = 0.0;
            let mut xp = x2;
            for (k, b) in B2K.iter().enumerate() {
                s += b / (2.0 * (k as f64 + 1.0) * xp);
                xp *= x2;
            }
            x.ln() - 0.5 / x - s
        }
        1 => {
            // 1/x + 1/(2x^2) + sum B_2k / x^(2k+1)
            let mut s = 0.0;
            let mut xp = x2 * x;
            for b in B2K.iter() {
                s += b / xp;
                xp *= x2;
            }
            1.0 / x + 0.5 / x2 + s
        }
        _ => {
            // -1/x^2 - 1/x^3 - sum (2k+1) B_2k / x^(2k+2)
            let mut s = 0.0;
            let mut xp = x2 * x2;
            for (k, b) in B2K.iter().enumerate() {
                s += (2.0 * (k as f64 + 1.0) + 1.0) * b / xp;
                xp *= x2;
            }
            -1.0 / x2 - 1.0 / (x2 * x) - s
        }
    }
}

/// psi^(n)(x) = (-1)^n psi^(n)(1 - x) - d^n/dx^n [pi cot(pi x)].
fn reflect(n: u32, x: f64) -> f64 {
    let s = (PI * x).sin();
    let c = (PI * x).cos();
    match n {
        0 => polygamma(0, 1.0 - x) - PI * c / s,
        1 => -polygamma(1, 1.0 - x) + PI * PI / (s * s),
        _ => polygamma(2, 1.0 - x) - 2.0 * PI * PI * PI * c / (s * s * s),
    }
}

pub fn digamma(x: f64) -> f64 {
    polygamma(0, x)
}
pub fn trigamma(x: f64) -> f64 {
    polygamma(1, x)
}
pub fn tetragamma(x: f64) -> f64 {
    polygamma(2, x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digamma_matches_known_values() {
        // psi(1) = -Euler's gamma; psi(1/2) = -gamma - 2 ln 2
        let euler = 0.577_215_664_901_532_9;
        assert!((digamma(1.0) + euler).abs() < 1e-14);
        assert!((digamma(0.5) + euler + 2.0 * 2f64.ln()).abs() < 1e-14);
        assert!((trigamma(1.0) - PI * PI / 6.0).abs() < 1e-13);
        // psi''(1) = -2 zeta(3)
        assert!((tetragamma(1.0) + 2.0 * 1.202_056_903_159_594_2).abs() < 1e-12);
    }

    #[test]
    fn polygammas_are_derivatives_of_each_other() {
        for &x in &[-2.5, -0.3, 0.2, 1.7, 4.0, 13.0, 120.0] {
            let h = 1e-5;
            let d_lgamma = (ln_gamma(x + h) - ln_gamma(x - h)) / (2.0 * h);
            let d_psi = (digamma(x + h) - digamma(x - h)) / (2.0 * h);
            let d_tri = (trigamma(x + h) - trigamma(x - h)) / (2.0 * h);
            assert!((d_lgamma - digamma(x)).abs() < 1e-6 * (1.0 + digamma(x).abs()), "psi at {x}");
            assert!((d_psi - trigamma(x)).abs() < 1e-5 * (1.0 + trigamma(x).abs()), "psi1 at {x}");
            assert!((d_tri - tetragamma(x)).abs() < 1e-4 * (1.0 + tetragamma(x).abs()), "psi2 at {x}");
        }
    }
}
