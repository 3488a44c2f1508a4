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

/// psi^(n)(x) by upward recurrence to x >= 10 (x >= 15 past n = 2) and
/// the asymptotic series there; the reflection formula handles x < 0 for
/// n <= 2 (beyond, x < 0 gives NaN: statistical use is for x > 0).
pub fn polygamma(n: u32, x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x <= 0.0 && x == x.floor() {
        return if n == 0 { f64::NAN } else { f64::INFINITY };
    }
    if x < 0.0 {
        return if n <= 2 { reflect(n, x) } else { f64::NAN };
    }
    // psi^(n)(x) = psi^(n)(x + 1) - (-1)^n n! / x^(n+1)
    let sign = if n.is_multiple_of(2) { -1.0 } else { 1.0 };
    let scale = sign * factorial(n);
    let start = if n <= 2 { 10.0 } else { 15.0 };
    let mut acc = 0.0;
    let mut x = x;
    while x < start {
        acc += scale / x.powi(n as i32 + 1);
        x += 1.0;
    }
    acc + asymptotic(n, x)
}

fn factorial(n: u32) -> f64 {
    (1..=n).map(f64::from).product()
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
        2 => {
            // -1/x^2 - 1/x^3 - sum (2k+1) B_2k / x^(2k+2)
            let mut s = 0.0;
            let mut xp = x2 * x2;
            for (k, b) in B2K.iter().enumerate() {
                s += (2.0 * (k as f64 + 1.0) + 1.0) * b / xp;
                xp *= x2;
            }
            -1.0 / x2 - 1.0 / (x2 * x) - s
        }
        _ => {
            // (-1)^(n+1) [(n-1)!/x^n + n!/(2 x^(n+1)) + sum B_2k (2k+n-1)!/((2k)! x^(2k+n))]
            let mut s = factorial(n - 1) / x.powi(n as i32) + factorial(n) / (2.0 * x.powi(n as i32 + 1));
            let mut xp = x.powi(n as i32 + 2);
            for (k, b) in B2K.iter().enumerate() {
                let two_k = 2.0 * (k as f64 + 1.0);
                // (2k+n-1)! / (2k)! = (2k+1)(2k+2)...(2k+n-1)
                let ratio: f64 = (1..n).map(|j| two_k + f64::from(j)).product();
                s += b * ratio / xp;
                xp *= x2;
            }
            if n.is_multiple_of(2) { -s } else { s }
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

/// psi(a + 1/2) - psi(a), a > 0, which Student's t needs at a = df/2. For
/// large a the difference (about 1/(2a)) is far smaller than the digammas
/// (about log a) and their difference keeps only a few digits; there the
/// asymptotic series is differenced term by term,
///   log1p(1/(2a)) + 1/(2a (2a + 1)) - sum_k B_2k/(2k a^2k) expm1(-2k log1p(1/(2a))),
/// each term free of cancellation.
pub fn digamma_half_step(a: f64) -> f64 {
    if !(a >= 10.0) || a.is_infinite() {
        return if a.is_infinite() { 0.0 } else { digamma(a + 0.5) - digamma(a) };
    }
    let l = (0.5 / a).ln_1p();
    let a2 = a * a;
    let mut power = 1.0;
    let mut series = 0.0;
    for (k, b) in B2K.iter().enumerate() {
        let two_k = 2.0 * (k as f64 + 1.0);
        power /= a2;
        series += b / two_k * power * (-two_k * l).exp_m1();
    }
    l + 1.0 / (2.0 * a * (2.0 * a + 1.0)) - series
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
    // R's own digits, as print(digits = 17) gives them
    #[allow(clippy::excessive_precision)]
    fn higher_polygammas_match_r() {
        // R: psigamma(c(0.2, 1.7, 4, 13, 120), deriv = 3, 4, 5)
        let x = [0.2, 1.7, 4.0, 13.0, 120.0];
        let r: [[f64; 5]; 3] = [
            [3753.244994864725, 0.88956200662431639, 0.044865328192755072, 0.0010207413792189736, 1.1719553727238446e-06],
            [-75010.212497972636, -1.9106098041479516, -0.037500691342112799, -0.00024445943341713875, -2.9420787088593509e-08],
            [1875041.3896784172, 5.3451838657811015, 0.041558384635954383, 7.8020533309168869e-05, 9.8476748957711083e-10],
        ];
        for (n, row) in (3..=5).zip(r.iter()) {
            for (&xi, &expected) in x.iter().zip(row) {
                let got = polygamma(n, xi);
                assert!((got - expected).abs() <= 1e-12 * expected.abs(), "psigamma({xi}, {n}) = {got}, R: {expected}");
            }
        }
    }

    #[test]
    fn half_steps_of_digamma_keep_their_digits() {
        // Where the plain difference is still accurate (to its rounding,
        // eps log(a) against a result of 1/(2a)), and across the switch at 10.
        for a in [0.3, 2.0, 9.99, 10.0, 10.01, 40.0] {
            let plain = digamma(a + 0.5) - digamma(a);
            assert!((digamma_half_step(a) - plain).abs() <= 1e-13 * plain, "at {a}");
        }
        // For large a: 1/(2a) + 1/(8a^2) - 1/(64a^4) + O(a^-6), where the
        // plain difference would have lost all its digits.
        for a in [1e5f64, 1e8, 1e12] {
            let series = 0.5 / a + 0.125 / (a * a) - 1.0 / (64.0 * a.powi(4));
            let got = digamma_half_step(a);
            assert!((got - series).abs() <= 1e-15 * series, "at {a}: {got} vs {series}");
        }
        assert_eq!(digamma_half_step(f64::INFINITY), 0.0);
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
