//! `Pointwise`, the per-observation log-densities, against the kernels'
//! sums (whose values are checked against R in `tests`) and against finite
//! differences of its own values, for every kernel case.

use super::tests::{cases, rel_close, value};
use super::{record_kernel, Form};
use crate::record;
use crate::tape::Var;
use crate::tensor::Tensor;
use crate::testing::check;

fn pointwise(name: &str, data: &super::KernelData, params: &[Var]) -> Var {
    record_kernel(name, params, data.clone().recorded_as(Form::Pointwise)).unwrap()
}

/// sum(c * y) + sum(y * y) / 100 with c = 1, 1.3, 1.6, ...: every
/// observation weighs differently, and the square makes the output
/// adjoint depend on y (so the second-order rule's ybar_dot term counts).
fn nonlinear_sum(y: &Var) -> Var {
    let shape = y.value().shape;
    let c: Vec<f64> = (0..shape.numel()).map(|i| 1.0 + 0.3 * i as f64).collect();
    let linear = record::binary("*", y, Var::constant(Tensor::new(shape, c).unwrap())).unwrap();
    let square = record::binary("*", y, y).unwrap();
    let square = record::binary("*", &square, Var::constant(Tensor::scalar(0.01))).unwrap();
    record::sum(&record::binary("+", &linear, &square).unwrap()).unwrap()
}

#[test]
fn pointwise_log_densities_sum_to_the_kernel() {
    for c in cases() {
        let params: Vec<Var> = c.params.iter().cloned().map(Var::constant).collect();
        let y = pointwise(c.name, &c.data, &params);
        assert_eq!(y.value().numel(), c.data.x.len(), "{}", c.label);
        let total: f64 = y.value().data.iter().sum();
        let kernel = value(c.name, &c.data, &c.params);
        assert!(rel_close(total, kernel, 1e-12), "{}: pointwise sums to {total}, the kernel is {kernel}", c.label);
    }
}

#[test]
fn pointwise_log_densities_match_finite_differences() {
    for c in cases().into_iter().filter(|c| c.fd) {
        let (name, data) = (c.name, c.data.clone());
        let f = move |p: &[Var]| nonlinear_sum(&pointwise(name, &data, p));
        check(c.label, &f, &c.params);
    }
}

#[test]
fn pointwise_log_densities_take_no_weights() {
    let data = super::KernelData::new(vec![1.0, 2.0]).weighted(Some(vec![1.0, 2.0])).recorded_as(Form::Pointwise);
    let err = record_kernel("normal", &[Var::constant(Tensor::scalar(0.0)), Var::constant(Tensor::scalar(1.0))], data);
    assert!(err.unwrap_err().to_string().contains("take no weights"));
}
