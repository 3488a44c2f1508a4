//! The one-node regression against the same log-likelihood recorded as
//! X %*% beta followed by the kernel: values, gradients, Hessians (full and
//! along directions), scores, with weights, with beta the result of other
//! operations, over several blocks of observations; finite differences;
//! errors.

use super::tests::rel_close;
use super::{record_kernel, record_regression, KernelData};
use crate::backward::value_and_gradient;
use crate::batch::Batch;
use crate::tape::Var;
use crate::record;
use crate::scores::observation_scores;
use crate::second_order::second_order;
use crate::tensor::Tensor;
use crate::testing::{check, leaves, s, v};

const N: usize = 1103;
const P: usize = 3;

/// An n x 3 design: intercept and two covariates.
fn design(n: usize) -> Tensor {
    let mut data = vec![1.0; n];
    data.extend((0..n).map(|i| ((i * 7919 % 1009) as f64 - 504.0) / 300.0));
    data.extend((0..n).map(|i| ((i * 104_729 % 997) as f64) / 997.0 - 0.3));
    Tensor::matrix(n, P, data).unwrap()
}

fn responses(name: &str, n: usize) -> Vec<f64> {
    (0..n).map(|i| if name == "bernoulli_logit" { ((i * 31 % 7) < 3) as u8 as f64 } else { (i * 13 % 6) as f64 }).collect()
}

type Builder = Box<dyn Fn(&[Var]) -> Var>;

/// The log-likelihood of `name` at X beta (+ offset), beta = map(u): as one
/// node, or as the product (plus the offset) then the kernel.
fn builders(name: &'static str, x: Tensor, data: KernelData, map: bool, offset: Option<Vec<f64>>) -> [Builder; 2] {
    let beta = move |u: &Var| if map { record::binary("*", u, &Var::constant(s(2.0))).unwrap() } else { u.clone() };
    let (x1, d1, o1) = (x.clone(), data.clone(), offset.clone());
    let fused = move |p: &[Var]| record_regression(name, &beta(&p[0]), x1.clone(), o1.clone(), d1.clone()).unwrap();
    let composed = move |p: &[Var]| {
        let mut eta = record::matmul(&Var::constant(x.clone()), &beta(&p[0])).unwrap();
        if let Some(o) = &offset {
            eta = record::binary("+", &eta, &Var::constant(Tensor::vector(o.clone()))).unwrap();
        }
        record_kernel(name, &[eta], data.clone()).unwrap()
    };
    [Box::new(fused), Box::new(composed)]
}

fn assert_close(label: &str, what: &str, a: &[f64], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len(), "{label}: {what} lengths");
    let scale = b.iter().fold(0.0_f64, |m, v| m.max(v.abs())).max(1.0);
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= tol * scale, "{label}: {what}[{i}] is {x} as one node, {y} composed");
    }
}

#[test]
fn one_node_regression_equals_the_product_then_the_kernel() {
    let x = design(N);
    let weights: Vec<f64> = (0..N).map(|i| [0.5, 2.0, 0.0, 1.25, 3.0, 1.0, 1.0][i % 7]).collect();
    let offsets: Vec<f64> = (0..N).map(|i| 0.1 * (i % 5) as f64 - 0.2).collect();
    for name in ["bernoulli_logit", "poisson_log"] {
        for (weighted, map, offset) in [(false, false, false), (true, false, false), (false, true, false), (true, true, true), (false, false, true)] {
            let label = format!("{name}, weighted {weighted}, beta = {}, offset {offset}", if map { "2 u" } else { "u" });
            let data = KernelData::new(responses(name, N)).weighted(weighted.then(|| weights.clone()));
            let [fused, composed] = builders(name, x.clone(), data, map, offset.then(|| offsets.clone()));
            let point = [v(&[-0.3, 0.4, 0.25])];
            let (a, b) = (leaves(&point), leaves(&point));
            let (ra, rb) = (fused(&a), composed(&b));
            assert!(rel_close(ra.value().data[0], rb.value().data[0], 1e-14), "{label}: value");
            // A gradient first, then the Hessian on the same graph (the
            // cached score), then along directions, then scores.
            let (ga, gb) = (value_and_gradient(&ra, &a).unwrap().1, value_and_gradient(&rb, &b).unwrap().1);
            assert_close(&label, "gradient", &ga, &gb, 1e-13);
            let (ha, hb) = (second_order(&ra, &a, None).unwrap(), second_order(&rb, &b, None).unwrap());
            assert_close(&label, "gradient (second order)", &ha.gradient, &gb, 1e-13);
            assert_close(&label, "Hessian", &ha.hessian_times.data, &hb.hessian_times.data, 1e-13);
            let d = Batch::from_data(P, 2, vec![1.0, -2.0, 0.5, 0.0, 3.0, 1.0]);
            let (da, db) = (second_order(&ra, &a, Some(&d)).unwrap(), second_order(&rb, &b, Some(&d)).unwrap());
            assert_close(&label, "H D", &da.hessian_times.data, &db.hessian_times.data, 1e-13);
            let (sa, sb) = (observation_scores(&ra, &a).unwrap(), observation_scores(&rb, &b).unwrap());
            assert_eq!(sa.shape, sb.shape);
            assert_close(&label, "scores", &sa.data, &sb.data, 1e-13);
            // Fresh graphs: the Hessian before any gradient.
            let (c, e) = (leaves(&point), leaves(&point));
            let (hc, he) = (second_order(&fused(&c), &c, None).unwrap(), second_order(&composed(&e), &e, None).unwrap());
            assert_close(&label, "Hessian (fresh)", &hc.hessian_times.data, &he.hessian_times.data, 1e-13);
            assert_eq!(hc.hessian_times, ha.hessian_times, "{label}: Hessian depends on what came before");
        }
    }
}

#[test]
fn one_node_regression_matches_finite_differences() {
    let x = design(40);
    for name in ["bernoulli_logit", "poisson_log"] {
        let data = KernelData::new(responses(name, 40));
        let [fused, _] = builders(name, x.clone(), data, true, Some((0..40).map(|i| 0.05 * i as f64 - 1.0).collect()));
        check(name, &*fused, &[v(&[-0.3, 0.4, 0.25])]);
    }
}

#[test]
fn one_node_regression_errors_name_the_kernel() {
    let err = |name: &str, beta: Tensor, x: Tensor, y: Vec<f64>| {
        record_regression(name, &Var::leaf(beta), x, None, KernelData::new(y)).unwrap_err().0
    };
    let x = design(5);
    assert_eq!(
        err("bernoulli_logit", v(&[1.0, 2.0]), x.clone(), responses("bernoulli_logit", 5)),
        "loglik_logistic: beta has length 2 but X has 3 columns"
    );
    assert_eq!(
        err("bernoulli_logit", v(&[1.0, 2.0, 3.0]), x.clone(), vec![0.0, 1.0, 2.0, 0.0, 1.0]),
        "loglik_logistic: y[3] = 2 is outside the support (0 or 1)"
    );
    assert_eq!(
        err("poisson_log", v(&[1.0, 2.0, 3.0]), x.clone(), vec![0.0; 4]),
        "loglik_poisson_log: X must be a matrix with one row per observation (4), got matrix[5x3]"
    );
    assert_eq!(
        err("normal", v(&[1.0, 2.0, 3.0]), x, vec![0.0; 5]),
        "unknown regression kernel 'normal' (known: bernoulli_logit, poisson_log)"
    );
}

#[test]
fn grouped_logistic_regression_equals_sigmoid_then_the_binomial_kernel() {
    let x = design(N);
    let size: Vec<f64> = (0..N).map(|i| (1 + i % 9) as f64).collect();
    let y: Vec<f64> = (0..N).map(|i| ((i * 7 % 11) as f64).min(size[i])).collect();
    let offsets: Vec<f64> = (0..N).map(|i| 0.05 * (i % 4) as f64).collect();
    let data = KernelData::with_size(y, size);
    let (d1, o1) = (data.clone(), offsets.clone());
    let x1 = x.clone();
    let fused = move |p: &[Var]| record_regression("bernoulli_logit", &p[0], x1.clone(), Some(o1.clone()), d1.clone()).unwrap();
    let composed = move |p: &[Var]| {
        let eta = record::matmul(&Var::constant(x.clone()), &p[0]).unwrap();
        let eta = record::binary("+", &eta, &Var::constant(Tensor::vector(offsets.clone()))).unwrap();
        let prob = record::unary("sigmoid", &eta).unwrap();
        record_kernel("binomial", &[prob], data.clone()).unwrap()
    };
    let point = [v(&[-0.3, 0.4, 0.25])];
    let (a, b) = (leaves(&point), leaves(&point));
    let (ra, rb) = (fused(&a), composed(&b));
    assert!(rel_close(ra.value().data[0], rb.value().data[0], 1e-13), "value");
    let (ha, hb) = (second_order(&ra, &a, None).unwrap(), second_order(&rb, &b, None).unwrap());
    assert_close("grouped logistic", "gradient", &ha.gradient, &hb.gradient, 1e-12);
    assert_close("grouped logistic", "Hessian", &ha.hessian_times.data, &hb.hessian_times.data, 1e-12);
    check("grouped logistic", &fused, &point);
}
