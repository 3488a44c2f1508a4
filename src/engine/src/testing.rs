//! The finite-difference harness every rule's tests use: first derivatives
//! from backward() against central differences of the value, the
//! forward-over-reverse Hessian against central differences of the gradient,
//! and per-observation scores against central differences of each
//! observation's log-density.

use crate::backward::{backward, value_and_gradient};
use crate::tape::Var;
use crate::scores::observation_scores;
use crate::second_order::second_order;
use crate::tensor::Tensor;

pub type Builder<'a> = dyn Fn(&[Var]) -> Var + 'a;

pub fn leaves(points: &[Tensor]) -> Vec<Var> {
    points.iter().cloned().map(Var::leaf).collect()
}

fn flatten(points: &[Tensor]) -> Vec<f64> {
    points.iter().flat_map(|t| t.data.iter().cloned()).collect()
}

fn unflatten(template: &[Tensor], x: &[f64]) -> Vec<Tensor> {
    let mut at = 0;
    template
        .iter()
        .map(|t| {
            let n = t.numel();
            at += n;
            Tensor { shape: t.shape.clone(), data: x[at - n..at].into() }
        })
        .collect()
}

fn value_at(f: &Builder<'_>, template: &[Tensor], x: &[f64]) -> f64 {
    f(&leaves(&unflatten(template, x))).value().data[0]
}

fn gradient_at(f: &Builder<'_>, template: &[Tensor], x: &[f64]) -> Vec<f64> {
    let params = leaves(&unflatten(template, x));
    value_and_gradient(&f(&params), &params).unwrap().1
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
}

/// Checks backward() against finite differences of the value, and the
/// forward-over-reverse Hessian against finite differences of the gradient.
pub fn check(label: &str, f: &Builder<'_>, points: &[Tensor]) {
    let x0 = flatten(points);
    let p = x0.len();
    let h = 1e-6;

    // First order, through backward() and the grads stored on the leaves.
    let params = leaves(points);
    let out = f(&params);
    backward(&out).unwrap();
    let grad: Vec<f64> = params.iter().flat_map(|v| v.grad()).collect();
    for i in 0..p {
        let (mut up, mut down) = (x0.clone(), x0.clone());
        up[i] += h;
        down[i] -= h;
        let fd = (value_at(f, points, &up) - value_at(f, points, &down)) / (2.0 * h);
        assert!(close(grad[i], fd, 1e-6), "{label}: d/dx{i} is {} but finite differences give {fd}", grad[i]);
    }

    // Second order: the full Hessian and its symmetry.
    let params = leaves(points);
    let so = second_order(&f(&params), &params, None).unwrap();
    for j in 0..p {
        let (mut up, mut down) = (x0.clone(), x0.clone());
        up[j] += h;
        down[j] -= h;
        let (gu, gd) = (gradient_at(f, points, &up), gradient_at(f, points, &down));
        for i in 0..p {
            let fd = (gu[i] - gd[i]) / (2.0 * h);
            let exact = so.hessian_times.col(j)[i];
            assert!(close(exact, fd, 1e-5), "{label}: H[{i},{j}] is {exact} but finite differences give {fd}");
            let mirror = so.hessian_times.col(i)[j];
            assert!(close(exact, mirror, 1e-12), "{label}: H not symmetric at [{i},{j}]");
        }
        assert!(close(so.gradient[j], grad[j], 1e-12), "{label}: gradients of the two sweeps differ");
    }
}

/// One observation's log-density as a function of the parameters: `obs(i,
/// params)`, with the parameters as plain arrays.
pub type Observation<'a> = dyn Fn(usize, &[Tensor]) -> f64 + 'a;

/// Checks `observation_scores` of `f` at `points` against central
/// differences of each observation's log-density `obs`, and that its rows
/// add up to the gradient of `f`. `n` is the number of observations.
pub fn check_scores(label: &str, f: &Builder<'_>, obs: &Observation<'_>, n: usize, points: &[Tensor]) {
    let x0 = flatten(points);
    let p = x0.len();
    let h = 1e-6;
    let params = leaves(points);
    let root = f(&params);
    let scores = observation_scores(&root, &params).unwrap();
    assert_eq!(scores.shape.as_matrix(), (n, p), "{label}: scores have shape {}", scores.shape);
    let grad = value_and_gradient(&root, &params).unwrap().1;
    for k in 0..p {
        let (mut up, mut down) = (x0.clone(), x0.clone());
        up[k] += h;
        down[k] -= h;
        let (up, down) = (unflatten(points, &up), unflatten(points, &down));
        let column = &scores.data[k * n..(k + 1) * n];
        for (i, &exact) in column.iter().enumerate() {
            let fd = (obs(i, &up) - obs(i, &down)) / (2.0 * h);
            assert!(close(exact, fd, 1e-6), "{label}: score[{i},{k}] is {exact} but finite differences give {fd}");
        }
        let total: f64 = column.iter().sum();
        assert!(close(total, grad[k], 1e-12), "{label}: scores in column {k} add up to {total}, not {}", grad[k]);
    }
}

pub fn v(data: &[f64]) -> Tensor {
    Tensor::vector(data.to_vec())
}

pub fn s(x: f64) -> Tensor {
    Tensor::scalar(x)
}

pub fn m(rows: usize, cols: usize, data: &[f64]) -> Tensor {
    Tensor::matrix(rows, cols, data.to_vec()).unwrap()
}

