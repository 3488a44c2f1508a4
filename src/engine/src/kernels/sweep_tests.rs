//! The shortcuts in `Fused`'s sweeps against each other and against the
//! plain per-observation computation: sums over the observations when every
//! parameter is shared, the table of partials a second-order sweep keeps,
//! and partials recomputed block by block. Every kernel, with and without
//! weights, over enough observations for several blocks (and a partial
//! last block and lane).

use super::tests::{cases, kernel, rel_close, Case};
use super::KernelData;
use crate::backward::value_and_gradient;
use crate::batch::Batch;
use crate::tape::Var;
use crate::scores::observation_scores;
use crate::second_order::second_order;
use crate::tensor::Tensor;
use crate::testing::leaves;

/// More observations than two blocks, not a multiple of the lanes.
const N: usize = 1103;

fn cycled(values: &[f64], n: usize) -> Vec<f64> {
    values.iter().cycle().take(n).cloned().collect()
}

/// The case's data (and per-observation parameters) cycled to N
/// observations, with weights (some zero) if asked.
fn enlarged(c: &Case, weighted: bool) -> (KernelData, Vec<Tensor>) {
    let per_obs = |values: &[f64]| if values.len() == 1 { values.to_vec() } else { cycled(values, N) };
    let data = KernelData {
        x: cycled(&c.data.x, N).into(),
        size: c.data.size.as_deref().map(per_obs),
        weights: weighted.then(|| cycled(&[0.5, 2.0, 0.0, 1.25, 3.0, 1.0, 1.0], N)),
        form: super::Form::Counted,
    };
    let params = c.params.iter().map(|t| Tensor::vector(per_obs(&t.data))).map(scalar_if_one).collect();
    (data, params)
}

fn scalar_if_one(t: Tensor) -> Tensor {
    if t.numel() == 1 {
        Tensor::scalar(t.data[0])
    } else {
        t
    }
}

/// `dirs` directions in parameter space, deterministic and dense.
fn directions(p: usize, dirs: usize) -> Batch {
    let data = (0..p * dirs).map(|i| ((i * 7919 % 201) as f64 - 100.0) / 100.0).collect();
    Batch::from_data(p, dirs, data)
}

fn all_cases() -> impl Iterator<Item = (String, &'static str, KernelData, Vec<Tensor>)> {
    cases().into_iter().flat_map(|c| {
        [false, true].map(|w| {
            let (data, params) = enlarged(&c, w);
            (format!("{}{}", c.label, if w { ", weighted" } else { "" }), c.name, data, params)
        })
    })
}

fn assert_same(label: &str, what: &str, a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(x.to_bits() == y.to_bits() || rel_close(*x, *y, 1e-15), "{label}: {what}[{i}] is {x} one way, {y} another");
    }
}

#[test]
fn sweeps_agree_whatever_their_order_on_one_graph() {
    for (label, name, data, params) in all_cases() {
        let f = kernel(name, &data);
        let p: usize = params.iter().map(Tensor::numel).sum();
        let fresh = |x: &[Var]| f(x);
        // Each quantity on a graph of its own (nothing cached) ...
        let leaves_ = leaves(&params);
        let gradient = value_and_gradient(&fresh(&leaves_), &leaves_).unwrap().1;
        let d_wide = directions(p, 6); // at least K + K(K+1)/2: the table is kept
        let d_one = directions(p, 1); // fewer: partials recomputed per sweep
        let hd_wide = second_order(&fresh(&leaves_), &leaves_, Some(&d_wide)).unwrap();
        let hd_one = second_order(&fresh(&leaves_), &leaves_, Some(&d_one)).unwrap();
        let scores = observation_scores(&fresh(&leaves_), &leaves_).unwrap();
        // ... and all on one graph, in an order that finds the cache full
        // or empty at each step.
        let root = fresh(&leaves_);
        let hd_wide_again = second_order(&root, &leaves_, Some(&d_wide)).unwrap();
        let gradient_after = value_and_gradient(&root, &leaves_).unwrap().1;
        let hd_one_after = second_order(&root, &leaves_, Some(&d_one)).unwrap();
        let scores_after = observation_scores(&root, &leaves_).unwrap();
        let hd_wide_last = second_order(&root, &leaves_, Some(&d_wide)).unwrap();

        assert_same(&label, "gradient", &gradient, &gradient_after);
        assert_same(&label, "gradient (second order)", &gradient, &hd_wide.gradient);
        assert_same(&label, "H D", &hd_wide.hessian_times.data, &hd_wide_again.hessian_times.data);
        assert_same(&label, "H D (last)", &hd_wide.hessian_times.data, &hd_wide_last.hessian_times.data);
        assert_same(&label, "H d", &hd_one.hessian_times.data, &hd_one_after.hessian_times.data);
        assert_same(&label, "scores", &scores.data, &scores_after.data);
        // The table (6 directions) and the recomputed partials (1) give the
        // same H d for the direction they share.
        assert_same(&label, "H d, table vs blocks", &hd_one.hessian_times.data, hd_wide.hessian_times.col(0));
    }
}

#[test]
fn shared_parameters_sum_the_per_observation_partials() {
    // A shared parameter against the same value repeated per observation:
    // its gradient is the sum of theirs, and its Hessian entries the sums
    // of blocks of theirs (H of the repeated parameters times indicator
    // directions, summed).
    for (label, name, data, params) in all_cases().filter(|(_, _, _, p)| p.iter().all(|t| t.numel() == 1)) {
        let k = params.len();
        let f = kernel(name, &data);
        let shared = leaves(&params);
        let a = second_order(&f(&shared), &shared, None).unwrap();
        let repeated: Vec<Tensor> = params.iter().map(|t| Tensor::vector(vec![t.data[0]; N])).collect();
        let per_obs = leaves(&repeated);
        // Direction b: 1 on every copy of parameter b; repeated three
        // times, so that the table is kept too.
        let mut d = Batch::zeros(k * N, 3 * k);
        for copy in 0..3 {
            for b in 0..k {
                d.col_mut(copy * k + b)[b * N..(b + 1) * N].fill(1.0);
            }
        }
        let b = second_order(&f(&per_obs), &per_obs, Some(&d)).unwrap();
        assert!(rel_close(a.value, b.value, 1e-14), "{label}: value {} vs {}", a.value, b.value);
        for i in 0..k {
            let terms = &b.gradient[i * N..(i + 1) * N];
            let (sum, scale): (f64, f64) = (terms.iter().sum(), terms.iter().map(|g| g.abs()).sum());
            assert!((a.gradient[i] - sum).abs() <= 1e-12 * scale, "{label}: gradient {i}: {} vs {sum}", a.gradient[i]);
            for j in 0..k {
                for copy in 0..3 {
                    let terms = &b.hessian_times.col(copy * k + j)[i * N..(i + 1) * N];
                    let (sum, scale): (f64, f64) = (terms.iter().sum(), terms.iter().map(|h| h.abs()).sum());
                    let h = a.hessian_times.col(j)[i];
                    assert!((h - sum).abs() <= 1e-12 * scale, "{label}: H[{i},{j}]: {h} vs {sum}");
                }
            }
        }
    }
}

#[test]
fn normal_with_shared_parameters_matches_closed_forms_over_many_blocks() {
    let n = 10_007;
    let x: Vec<f64> = (0..n).map(|i| ((i * 7919 % 10_007) as f64) / 1000.0 - 4.0).collect();
    let (mu, sigma) = (0.3, 1.7);
    let params = leaves(&[Tensor::scalar(mu), Tensor::scalar(sigma)]);
    let so = second_order(&kernel("normal", &KernelData::new(x.clone()))(&params), &params, None).unwrap();
    let (s1, s2): (f64, f64) = (x.iter().map(|v| v - mu).sum(), x.iter().map(|v| (v - mu) * (v - mu)).sum());
    let nf = n as f64;
    let value = -nf * (0.5 * (2.0 * std::f64::consts::PI).ln() + sigma.ln()) - s2 / (2.0 * sigma * sigma);
    let gradient = [s1 / sigma.powi(2), -nf / sigma + s2 / sigma.powi(3)];
    let hessian = [-nf / sigma.powi(2), -2.0 * s1 / sigma.powi(3), -2.0 * s1 / sigma.powi(3), nf / sigma.powi(2) - 3.0 * s2 / sigma.powi(4)];
    assert!(rel_close(so.value, value, 1e-13), "value {} vs {value}", so.value);
    for (got, want) in so.gradient.iter().zip(gradient) {
        assert!(rel_close(*got, want, 1e-12), "gradient {got} vs {want}");
    }
    for (got, want) in so.hessian_times.data.iter().zip(hessian) {
        assert!(rel_close(*got, want, 1e-12), "Hessian {got} vs {want}");
    }
}

#[test]
fn shared_parameter_shortcuts_keep_their_digits_far_from_zero() {
    // Data whose mean dwarfs their spread, mu near the mean: the sums of
    // x - mu cancel. The normal's and exponential's shortcuts (from the
    // moments of the data) against the observation-by-observation sums of
    // the same parameters repeated per observation, with and without
    // weights, to rounding relative to the size of the terms.
    let x: Vec<f64> = (0..N).map(|i| 1e6 + ((i * 7919 % 1009) as f64 - 504.0) / 1000.0).collect();
    let mean = x.iter().sum::<f64>() / N as f64;
    let weights = cycled(&[0.5, 2.0, 0.0, 1.25, 3.0, 1.0, 1.0], N);
    for (name, params) in [("normal", vec![mean + 1e-4, 0.3]), ("exponential", vec![1.0 / mean])] {
        for w in [None, Some(weights.clone())] {
            let data = KernelData::new(x.clone()).weighted(w);
            let f = kernel(name, &data);
            let k = params.len();
            let shared = leaves(&params.iter().map(|&p| Tensor::scalar(p)).collect::<Vec<_>>());
            let a = second_order(&f(&shared), &shared, None).unwrap();
            let per_obs = leaves(&params.iter().map(|&p| Tensor::vector(vec![p; N])).collect::<Vec<_>>());
            let mut d = Batch::zeros(k * N, k);
            for b in 0..k {
                d.col_mut(b)[b * N..(b + 1) * N].fill(1.0);
            }
            let b = second_order(&f(&per_obs), &per_obs, Some(&d)).unwrap();
            assert!(rel_close(a.value, b.value, 1e-14), "{name}: value {} vs {}", a.value, b.value);
            for i in 0..k {
                let terms = &b.gradient[i * N..(i + 1) * N];
                let (sum, scale): (f64, f64) = (terms.iter().sum(), terms.iter().map(|g| g.abs()).sum());
                assert!((a.gradient[i] - sum).abs() <= 1e-13 * scale, "{name}: gradient {i}: {} vs {sum}", a.gradient[i]);
                for j in 0..k {
                    let terms = &b.hessian_times.col(j)[i * N..(i + 1) * N];
                    let (sum, scale): (f64, f64) = (terms.iter().sum(), terms.iter().map(|h| h.abs()).sum());
                    let h = a.hessian_times.col(j)[i];
                    assert!((h - sum).abs() <= 1e-13 * scale, "{name}: H[{i},{j}]: {h} vs {sum}");
                }
            }
        }
    }
}
