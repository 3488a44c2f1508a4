//! The ordinal logistic node against the log-likelihood written out with
//! plain logistic functions, and against finite differences.

use super::record_ordinal;
use crate::tape::Var;
use crate::tensor::Tensor;
use crate::testing::{check, v};

fn plogis(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// sum_i w_i log(F(zeta_{y_i} - eta_i) - F(zeta_{y_i - 1} - eta_i)), written out.
fn written_out(eta: &[f64], zeta: &[f64], y: &[f64], w: &[f64]) -> f64 {
    let k = zeta.len() + 1;
    (0..y.len())
        .map(|i| {
            let c = y[i] as usize;
            let e = eta[if eta.len() == 1 { 0 } else { i }];
            let upper = if c < k { plogis(zeta[c - 1] - e) } else { 1.0 };
            let lower = if c > 1 { plogis(zeta[c - 2] - e) } else { 0.0 };
            w[i] * (upper - lower).ln()
        })
        .sum()
}

const Y: [f64; 8] = [1.0, 3.0, 2.0, 4.0, 4.0, 2.0, 1.0, 3.0];
const ETA: [f64; 8] = [0.3, -0.8, 1.1, 0.4, 2.0, -0.2, 0.0, 0.7];
const ZETA: [f64; 3] = [-0.5, 0.6, 1.9];

#[test]
fn ordinal_logit_equals_the_written_out_log_likelihood() {
    let w = [1.0, 2.0, 0.0, 1.5, 1.0, 1.0, 3.0, 0.5];
    for (eta, weights) in [(&ETA[..], None), (&ETA[..1], None), (&ETA[..], Some(w.to_vec()))] {
        let node = record_ordinal(&Var::constant(v(eta)), &Var::constant(v(&ZETA)), &Y, 4, weights.clone()).unwrap();
        let expected = written_out(eta, &ZETA, &Y, weights.as_deref().unwrap_or(&[1.0; 8]));
        let got = node.value().data[0];
        assert!((got - expected).abs() <= 1e-13 * expected.abs(), "{got} against {expected}");
    }
}

#[test]
fn ordinal_logit_matches_finite_differences() {
    let f = |p: &[Var]| record_ordinal(&p[0], &p[1], &Y, 4, Some(vec![1.0, 2.0, 0.5, 1.5, 1.0, 1.0, 3.0, 0.5])).unwrap();
    check("polr, eta per observation", &f, &[v(&ETA), v(&ZETA)]);
    check("polr, shared eta", &f, &[Tensor::scalar(0.4), v(&ZETA)]);
}

#[test]
fn ordinal_logit_keeps_its_digits_in_the_tails_and_refuses_bad_input() {
    // far in the upper tail: P(y = 3) = F(zeta_3 - eta) - F(zeta_2 - eta) with both near 1
    let node = record_ordinal(&Var::constant(Tensor::scalar(-40.0)), &Var::constant(v(&ZETA)), &[3.0], 4, None).unwrap();
    let exact = ((-0.6f64 - 40.0).exp() - (-1.9f64 - 40.0).exp()).ln(); // F(-b) - F(-a) to first order
    assert!((node.value().data[0] - exact).abs() < 1e-9 * exact.abs());
    let unordered = record_ordinal(&Var::constant(Tensor::scalar(0.0)), &Var::constant(v(&[1.0, 0.5, 2.0])), &[2.0], 4, None);
    assert_eq!(unordered.unwrap().value().data[0], f64::NEG_INFINITY);
    let err = |r: crate::Result<Var>| r.unwrap_err().0;
    assert!(err(record_ordinal(&Var::constant(v(&ETA)), &Var::constant(v(&ZETA)), &[5.0], 4, None)).contains("y[1] = 5"));
    assert!(err(record_ordinal(&Var::constant(v(&ETA)), &Var::constant(v(&ZETA[..2])), &Y, 4, None)).contains("zeta has length 2"));
}
