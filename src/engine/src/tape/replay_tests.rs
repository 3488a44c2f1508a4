//! Replay and the tape: a model replayed at new parameters must equal the
//! same model recorded afresh there (the oracle), and guards must notice
//! when the recording no longer describes the R code.

use crate::backward::backward;
use crate::kernels::{record_kernel, KernelData};
use crate::record;
use crate::replay::{compare_values, Recording, Replayed, Side};
use crate::second_order::{second_order, SecondOrder};
use crate::tape::{Comparison, Var};
use crate::testing::{m, s, v};

/// An AR(1)-like loop of scalar operations, a fused kernel, a matrix
/// product into a regression kernel and a reduction: every kind of node a
/// replay must evaluate again.
fn model(theta: &[f64]) -> (Var, Vec<Var>) {
    let mu = Var::leaf(s(theta[0]));
    let log_sigma = Var::leaf(s(theta[1]));
    let beta = Var::leaf(v(&theta[2..4]));
    let y = [0.3, -0.2, 0.8, 1.1, 0.4, -0.5];
    let sigma = record::unary("exp", &log_sigma).unwrap();
    // Scalar loop: sum of -((y_t - mu - 0.5 (y_{t-1} - mu)) / sigma)^2 / 2
    let mut total = record::binary("*", &log_sigma, -(y.len() as f64 - 1.0)).unwrap();
    for t in 1..y.len() {
        let prev = record::binary("-", y[t - 1], &mu).unwrap();
        let mean = record::binary("+", &mu, &record::binary("*", 0.5, &prev).unwrap()).unwrap();
        let z = record::binary("/", &record::binary("-", y[t], &mean).unwrap(), &sigma).unwrap();
        let sq = record::binary("^", &z, 2.0).unwrap();
        total = record::binary("-", &total, &record::binary("*", 0.5, &sq).unwrap()).unwrap();
    }
    let normal = record_kernel("normal", &[mu.clone(), sigma.clone()], KernelData::new(y.to_vec())).unwrap();
    let x = Var::constant(m(4, 2, &[1.0, 1.0, 1.0, 1.0, -1.0, 0.0, 0.5, 2.0]));
    let eta = record::matmul(&x, &beta).unwrap();
    let poisson = record_kernel("poisson_log", &[eta.clone()], KernelData::new(vec![0.0, 1.0, 2.0, 5.0])).unwrap();
    let penalty = record::sum(&record::binary("^", &beta, 2.0).unwrap()).unwrap();
    let parts = record::binary("+", &record::binary("+", &total, &normal).unwrap(), &poisson).unwrap();
    let root = record::binary("-", &parts, &record::binary("*", 0.1, &penalty).unwrap()).unwrap();
    (root, vec![mu, log_sigma, beta])
}

fn derivatives(root: &Var, params: &[Var]) -> SecondOrder {
    second_order(root, params, None).unwrap()
}

fn assert_close(label: &str, a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len(), "{label}");
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= 1e-12 * (1.0 + y.abs()), "{label}: {x} vs {y}");
    }
}

#[test]
fn a_replay_equals_a_fresh_recording_at_the_new_parameters() {
    let (root, params) = model(&[0.1, 0.2, 0.3, -0.1]);
    // A second-order sweep first, so that the kernels hold cached partials
    // that the replay must drop.
    let _ = derivatives(&root, &params);
    let recording = Recording::new(root.clone(), params.clone()).unwrap();
    for theta in [[0.7, -0.4, 0.05, 0.2], [-1.0, 0.9, -0.3, 0.6]] {
        assert_eq!(recording.replay(&theta).unwrap(), Replayed::Done);
        let replayed = derivatives(&root, &params);
        let (fresh_root, fresh_params) = model(&theta);
        let fresh = derivatives(&fresh_root, &fresh_params);
        assert_close("value", &[replayed.value], &[fresh.value]);
        assert_close("gradient", &replayed.gradient, &fresh.gradient);
        assert_close("hessian", &replayed.hessian_times.data, &fresh.hessian_times.data);
    }
}

#[test]
fn a_replay_refuses_a_point_where_a_comparison_changes() {
    // if (mu > 0) mu * 2 else -mu
    let record_at = |mu: f64| {
        let leaf = Var::leaf(s(mu));
        let positive = compare_values(Comparison::Greater, Side::Var(leaf.clone()), Side::Numbers(vec![0.0]));
        let out = if positive == vec![Some(true)] {
            record::binary("*", &leaf, 2.0).unwrap()
        } else {
            record::unary("neg", &leaf).unwrap()
        };
        (out, leaf)
    };
    let (root, mu) = record_at(1.5);
    let recording = Recording::new(root.clone(), vec![mu]).unwrap();
    assert_eq!(recording.replay(&[0.25]).unwrap(), Replayed::Done);
    assert_eq!(root.value().data[0], 0.5);
    assert_eq!(recording.replay(&[-0.25]).unwrap(), Replayed::GuardFailed);
    // NaN compares to NA, which the recording did not see either.
    assert_eq!(recording.replay(&[f64::NAN]).unwrap(), Replayed::GuardFailed);
}

#[test]
fn a_guard_on_a_value_the_output_does_not_use_is_still_checked() {
    // if (exp(mu) > 1) mu * 2 else -mu: exp(mu) only decides the branch.
    let mu = Var::leaf(s(0.5));
    let e = record::unary("exp", &mu).unwrap();
    let above = compare_values(Comparison::Greater, Side::Var(e), Side::Numbers(vec![1.0]));
    assert_eq!(above, vec![Some(true)]);
    let root = record::binary("*", &mu, 2.0).unwrap();
    let recording = Recording::new(root, vec![mu]).unwrap();
    assert_eq!(recording.replay(&[0.1]).unwrap(), Replayed::Done);
    assert_eq!(recording.replay(&[-0.1]).unwrap(), Replayed::GuardFailed);
}

#[test]
fn a_replay_ignores_what_else_was_recorded_from_the_same_value() {
    // A value the user keeps collects every recording made from it; a
    // replay of one must give that recording's numbers whatever the rest.
    let theta = [0.3, -0.2, 1.1, 0.5];
    let (root, params) = model(&theta);
    for _ in 0..50 {
        let other = record::unary("exp", &params[0]).unwrap();
        record::binary("*", &other, &params[1]).unwrap();
    }
    let recording = Recording::new(root.clone(), params.clone()).unwrap();
    let moved = [0.1, 0.4, 0.9, -0.3];
    assert_eq!(recording.replay(&moved).unwrap(), Replayed::Done);
    let (fresh_root, fresh_params) = model(&moved);
    assert_close("value", &root.value().data, &fresh_root.value().data);
    let replayed = derivatives(&root, &params);
    let fresh = derivatives(&fresh_root, &fresh_params);
    assert_close("gradient", &replayed.gradient, &fresh.gradient);
    assert_close("hessian", &replayed.hessian_times.data, &fresh.hessian_times.data);
}

#[test]
fn comparisons_on_constants_leave_no_guard() {
    let c = Var::constant(v(&[1.0, 3.0]));
    let outcome = compare_values(Comparison::Less, Side::Var(c.clone()), Side::Numbers(vec![2.0]));
    assert_eq!(outcome, vec![Some(true), Some(false)]);
    let (cell, _) = c.resolve();
    assert!(cell.tape().guards().is_empty());
}

#[test]
fn numbers_read_by_r_are_a_guard() {
    let x = Var::leaf(s(2.0));
    let y = record::binary("*", &x, &x).unwrap();
    y.guard_numbers(); // R used value_of(y) to build the rest of the model
    let recording = Recording::new(y.clone(), vec![x]).unwrap();
    assert_eq!(recording.replay(&[-2.0]).unwrap(), Replayed::Done); // same square
    assert_eq!(recording.replay(&[3.0]).unwrap(), Replayed::GuardFailed);
}

#[test]
fn values_of_separate_tapes_meet_on_one_and_keep_their_handles() {
    let a = Var::leaf(s(2.0));
    let b = Var::leaf(v(&[1.0, 2.0, 3.0]));
    let b2 = record::binary("*", &b, &b).unwrap();
    let prod = record::binary("*", &a, &b2).unwrap();
    let total = record::sum(&prod).unwrap();
    backward(&total).unwrap();
    assert_eq!(a.grad(), vec![14.0]);
    assert_eq!(b.grad(), vec![4.0, 8.0, 12.0]); // 2 a b
    assert!(a.cell().resolve().0.tape().len() == 5);
    assert_eq!(b2.value().data.to_vec(), vec![1.0, 4.0, 9.0]);
}

#[test]
fn a_scalar_operation_with_a_constant_costs_one_small_node() {
    let x = Var::leaf(s(1.0));
    let mut y = x.clone();
    let n = 100_000;
    for _ in 0..n {
        y = record::binary("+", &y, 1e-6).unwrap();
    }
    let (cell, _) = y.resolve();
    let bytes_per_op = cell.tape().bytes() as f64 / n as f64;
    // A node (value inline, rule pointer, edge range), one edge and one
    // constant; the vectors' growth can double that at most.
    assert!(bytes_per_op < 2.0 * 80.0, "{bytes_per_op} bytes per operation");
    backward(&y).unwrap();
    assert_eq!(x.grad(), vec![1.0]);
}

#[test]
fn parameters_must_be_distinct_leaves() {
    let x = Var::leaf(s(1.0));
    let y = record::binary("*", &x, 2.0).unwrap();
    assert!(Recording::new(y.clone(), vec![y.clone()]).unwrap_err().to_string().contains("not a leaf"));
    assert!(Recording::new(y.clone(), vec![x.clone(), x.clone()]).unwrap_err().to_string().contains("twice"));
    let vector = Var::leaf(v(&[1.0, 2.0]));
    assert!(Recording::new(vector.clone(), vec![vector]).unwrap_err().to_string().contains("scalar"));
    let recording = Recording::new(y, vec![x]).unwrap();
    assert!(recording.replay(&[1.0, 2.0]).unwrap_err().to_string().contains("2 numbers for 1"));
}
