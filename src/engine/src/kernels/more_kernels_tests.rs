//! What the `cases` table does not reach for the lognormal, t, logistic,
//! negative binomial by mean, zero-inflated and beta-binomial kernels: the
//! near-Poisson limit of the negative binomial, the zero-inflated models
//! at pi = 0, the limits where a naive formula underflows, data errors and
//! parameters outside their domain.

#![allow(clippy::excessive_precision)]

use super::tests::{rel_close, value};
use super::{record_kernel, KernelData};
use crate::backward::value_and_gradient;
use crate::second_order::second_order;
use crate::tape::Var;
use crate::tensor::Tensor;
use crate::testing::{leaves, s, v};

fn error(name: &str, data: KernelData, params: &[Tensor]) -> String {
    let params: Vec<Var> = params.iter().cloned().map(Var::leaf).collect();
    record_kernel(name, &params, data).unwrap_err().0
}

#[test]
fn negbinom_by_mean_keeps_its_size_derivatives_near_the_poisson_limit() {
    // For large size r, log dnbinom(x, r, mu = m) = log dpois(x, m) +
    // ((x - m)^2 - x)/(2 r) + O(1/r^2): d/dr = -sum((x - m)^2 - x)/(2 r^2)
    // and d2/dr2 = sum((x - m)^2 - x)/r^3, to relative O(1/r). Formed from
    // prob = r/(r + m), or from psi(x + r) - psi(r) - log1p(m/r), both are
    // lost to cancellation (terms of order 1/r for a result of 1/r^2).
    let x = [0.0, 1.0, 2.0, 0.0, 3.0, 5.0];
    let m = 0.3;
    let c: f64 = x.iter().map(|&x| (x - m) * (x - m) - x).sum();
    for r in [1e8, 1e12] {
        let params = leaves(&[s(r), s(m)]);
        let ll = record_kernel("negbinom_mu", &params, KernelData::new(x.to_vec())).unwrap();
        let so = second_order(&ll, &params, None).unwrap();
        let tol = 10.0 / r;
        assert!(rel_close(so.gradient[0], -c / (2.0 * r * r), tol), "d/dsize at {r}: {}", so.gradient[0]);
        assert!(rel_close(so.hessian_times.col(0)[0], c / (r * r * r), tol), "d2/dsize2 at {r}");
        // d/dmu tends to the Poisson's sum(x/m - 1).
        let poisson: f64 = x.iter().map(|&x| x / m - 1.0).sum();
        assert!(rel_close(so.gradient[1], poisson, 1e-6), "d/dmu at {r}");
        // Per observation too, as the pointwise form reports them.
        let pointwise = record_kernel(
            "negbinom_mu",
            &params,
            KernelData::new(x.to_vec()).recorded_as(super::Form::Pointwise),
        )
        .unwrap();
        let total: f64 = pointwise.value().data.iter().sum();
        assert!(rel_close(total, ll.value().data[0], 1e-14));
    }
    // An infinite size is the Poisson, as in R.
    let counts = KernelData::new(x.to_vec());
    assert!(rel_close(value("negbinom_mu", &counts, &[s(f64::INFINITY), s(m)]), value("poisson", &counts, &[s(m)]), 1e-15));
}

#[test]
fn zero_inflation_at_pi_zero_is_the_count_model() {
    let x = KernelData::new(vec![0.0, 3.0, 0.0, 7.0, 2.0]);
    let zip = value("zip", &x, &[s(0.0), s(2.4)]);
    assert!(rel_close(zip, value("poisson", &x, &[s(2.4)]), 1e-15), "{zip}");
    let zinb = value("zinb", &x, &[s(0.0), s(2.3), s(3.1)]);
    assert!(rel_close(zinb, value("negbinom_mu", &x, &[s(2.3), s(3.1)]), 1e-15), "{zinb}");
    // The count parameters' derivatives too; d/dpi at 0 is sum over
    // zeros of (1 - f0)/f0 less the number of positive counts.
    let params = leaves(&[s(0.0), s(2.4)]);
    let (_, g) = value_and_gradient(&record_kernel("zip", &params, x.clone()).unwrap(), &params).unwrap();
    let lambda = leaves(&[s(2.4)]);
    let (_, gp) = value_and_gradient(&record_kernel("poisson", &lambda, x).unwrap(), &lambda).unwrap();
    assert!(rel_close(g[1], gp[0], 1e-14));
    assert!(rel_close(g[0], 2.0 * (2.4f64.exp() - 1.0) - 3.0, 1e-14), "{}", g[0]);
}

#[test]
fn zero_inflated_zeros_do_not_underflow() {
    // exp(-800) is 0 in doubles, but log(pi + (1 - pi) exp(-800)) at pi = 0
    // is -800, and at pi = 1e-300 it is log(1e-300) (exp(-800) is smaller).
    let zeros = KernelData::new(vec![0.0, 0.0]);
    assert_eq!(value("zip", &zeros, &[s(0.0), s(800.0)]), -1600.0);
    assert!(rel_close(value("zip", &zeros, &[s(1e-300), s(800.0)]), 2.0 * 1e-300f64.ln(), 1e-15));
    // A mean so small that 1 - exp(-lambda) is lambda to all digits: the
    // pi-gradient at a zero is (1 - f0)/P, not the rounding error of 1 - f0.
    let params = leaves(&[s(0.5), s(1e-12)]);
    let ll = record_kernel("zip", &params, KernelData::new(vec![0.0])).unwrap();
    let (_, g) = value_and_gradient(&ll, &params).unwrap();
    assert!(rel_close(g[0], 1e-12 / (0.5 + 0.5 * (-1e-12f64).exp()), 1e-12), "{}", g[0]);
}

#[test]
fn t_with_infinite_df_is_the_normal() {
    let x = KernelData::new(vec![1.2, -0.3, 2.5]);
    let t = value("t", &x, &[s(0.8), s(1.3), s(f64::INFINITY)]);
    assert!(rel_close(t, value("normal", &x, &[s(0.8), s(1.3)]), 1e-15));
}

#[test]
fn new_kernels_outside_their_domain_give_minus_infinity() {
    let counts = || KernelData::new(vec![0.0, 4.0]);
    let cases: Vec<(&str, KernelData, Vec<Tensor>)> = vec![
        ("lognormal", KernelData::new(vec![1.0, 2.0]), vec![s(0.0), s(0.0)]),
        ("t", KernelData::new(vec![1.0, 2.0]), vec![s(0.0), s(-1.0), s(3.0)]),
        ("t", KernelData::new(vec![1.0, 2.0]), vec![s(0.0), s(1.0), v(&[3.0, 0.0])]),
        ("logis", KernelData::new(vec![1.0, 2.0]), vec![s(0.0), s(-2.0)]),
        ("negbinom_mu", counts(), vec![s(0.0), s(1.0)]),
        ("negbinom_mu", counts(), vec![s(2.0), s(-1.0)]),
        ("zip", counts(), vec![s(1.5), s(1.0)]),
        ("zip", counts(), vec![s(0.5), s(-1.0)]),
        // every count is a structural zero: a positive one is impossible
        ("zip", counts(), vec![s(1.0), s(1.0)]),
        ("zinb", counts(), vec![s(-0.1), s(1.0), s(1.0)]),
        ("zinb", KernelData::new(vec![0.0, 0.0]), vec![s(0.5), s(-1.0), s(1.0)]),
        ("betabinom", KernelData::with_size(vec![1.0, 2.0], vec![3.0]), vec![s(0.0), s(1.0)]),
        ("betabinom", KernelData::with_size(vec![1.0, 2.0], vec![3.0]), vec![s(1.0), v(&[1.0, -1.0])]),
    ];
    for (name, data, params) in cases {
        assert_eq!(value(name, &data, &params), f64::NEG_INFINITY, "{name} at {params:?}");
        let leaves = leaves(&params);
        let ll = record_kernel(name, &leaves, data).unwrap();
        value_and_gradient(&ll, &leaves).unwrap();
        second_order(&ll, &leaves, None).unwrap();
    }
}

#[test]
fn new_kernels_name_themselves_and_the_bad_observation() {
    let d = KernelData::new;
    let cases: Vec<(&str, KernelData, Vec<Tensor>, &str)> = vec![
        ("lognormal", d(vec![1.0, 0.0]), vec![s(0.0), s(1.0)], "loglik_lognormal: x[2] = 0 is outside the support (positive numbers)"),
        ("t", d(vec![f64::NAN]), vec![s(0.0), s(1.0), s(3.0)], "loglik_t: x[1] = NaN is outside the support (finite numbers)"),
        ("logis", d(vec![1.0, f64::INFINITY]), vec![s(0.0), s(1.0)], "loglik_logis: x[2] = Inf is outside the support (finite numbers)"),
        ("negbinom_mu", d(vec![1.0, 2.5]), vec![s(1.0), s(1.0)], "loglik_negbinom_mu: x[2] = 2.5 is outside the support (non-negative integers)"),
        ("zip", d(vec![-1.0]), vec![s(0.5), s(1.0)], "loglik_zip: x[1] = -1 is outside the support (non-negative integers)"),
        ("zinb", d(vec![0.0, 0.0, 0.5]), vec![s(0.5), s(1.0), s(1.0)], "loglik_zinb: x[3] = 0.5 is outside the support (non-negative integers)"),
        (
            "betabinom",
            KernelData::with_size(vec![1.0, 5.0], vec![6.0, 4.0]),
            vec![s(1.0), s(1.0)],
            "loglik_betabinom: x[2] = 5 is outside the support (integers from 0 to size[2] = 4)",
        ),
        (
            "betabinom",
            KernelData::with_size(vec![1.0], vec![2.5]),
            vec![s(1.0), s(1.0)],
            "loglik_betabinom: size = 2.5 is not a non-negative integer",
        ),
        ("betabinom", d(vec![1.0]), vec![s(1.0), s(1.0)], "loglik_betabinom: size (the number of trials) is missing"),
        ("zinb", d(vec![1.0, 2.0]), vec![s(0.5), s(1.0)], "loglik_zinb: needs 3 parameters (pi, size, mu), got 2"),
        ("t", d(vec![1.0, 2.0]), vec![s(0.0), v(&[1.0, 2.0, 3.0]), s(3.0)], "loglik_t: scale has length 3 but x has length 2"),
    ];
    for (name, data, params, want) in cases {
        assert_eq!(error(name, data, &params), want);
    }
}
