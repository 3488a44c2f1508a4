//! The scalar program against the tape's own replay and sweeps (the
//! general path, the independent reference here) and a closed form.

use crate::record::{binary, unary};
use crate::replay::{Recording, Replayed};
use crate::second_order::general_second_order;
use crate::tape::scalar_program::ScalarProgram;
use crate::tape::Var;
use crate::tensor::Tensor;

fn leaves(theta: &[f64]) -> Vec<Var> {
    theta.iter().map(|&x| Var::leaf(Tensor::scalar(x))).collect()
}

/// A loop of scalar operations of every elementwise kind, with constants,
/// a node that does not move and a parameter used twice in one node.
fn model(p: &[Var], y: &[f64]) -> Var {
    let (mu, phi, ls) = (&p[0], &p[1], &p[2]);
    let sigma = unary("exp", ls).unwrap();
    let fixed = binary("*", 2.0, 3.0).unwrap_or_else(|_| Var::constant(Tensor::scalar(6.0)));
    let mut ll = binary("*", &binary("*", mu, mu).unwrap(), 0.01).unwrap();
    for t in 1..y.len() {
        let lag = binary("-", y[t - 1], mu).unwrap();
        let e = binary("-", &binary("-", y[t], mu).unwrap(), &binary("*", phi, &lag).unwrap()).unwrap();
        let z = binary("/", &e, &sigma).unwrap();
        let term = binary("+", ls, &binary("*", 0.5, &binary("^", &z, 2.0).unwrap()).unwrap()).unwrap();
        let wiggle = binary("*", &unary("log1p", &binary("^", phi, 2.0).unwrap()).unwrap(), 1e-3).unwrap();
        ll = binary("-", &binary("+", &ll, &wiggle).unwrap(), &term).unwrap();
    }
    binary("+", &ll, &fixed).unwrap()
}

fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol * (1.0 + y.abs()))
}

#[test]
fn the_program_replays_and_differentiates_as_the_tape_does() {
    let y: Vec<f64> = (0..40).map(|i| (i as f64 * 0.9).sin() + 0.05 * i as f64).collect();
    let start = [0.2, 0.4, -0.1];
    let p = leaves(&start);
    let root = model(&p, &y);
    {
        // the model is a scalar program (so what follows tests the program)
        let (cell, r) = root.resolve();
        let at: Vec<Option<usize>> = p.iter().map(|v| v.index_relative_to(&cell)).collect();
        assert!(ScalarProgram::compile(&cell.tape(), r, &[], &at, &start).is_some());
    }
    let recording = Recording::new(root.clone(), p.clone()).unwrap();
    for theta in [[0.3, 0.5, 0.1], [-1.0, 0.9, -0.7], [0.2, 0.4, -0.1]] {
        assert_eq!(recording.replay(&theta).unwrap(), Replayed::Done);
        let (value, gradient, hessian) = recording.value_gradient_hessian().unwrap();
        let (value2, gradient2) = recording.value_and_gradient().unwrap();
        // reference: a fresh recording at theta, by the general sweeps
        let q = leaves(&theta);
        let fresh = model(&q, &y);
        let reference = general_second_order("hessian", &fresh, &q, None).unwrap();
        assert_eq!(value.to_bits(), reference.value.to_bits(), "value at {theta:?}");
        assert_eq!(value2.to_bits(), value.to_bits());
        assert!(close(&gradient, &reference.gradient, 1e-13), "{gradient:?} vs {:?}", reference.gradient);
        assert!(close(&gradient2, &reference.gradient, 1e-13), "{gradient2:?} vs {:?}", reference.gradient);
        assert!(close(&hessian, &reference.hessian_times.data, 1e-12), "{hessian:?} vs {:?}", reference.hessian_times.data);
        // the tape holds the model at theta too
        assert_eq!(root.value().data[0].to_bits(), value.to_bits());
        assert_eq!(p[1].value().data[0], theta[1]);
    }
}

#[test]
fn a_linear_model_has_the_closed_form_hessian() {
    // f = a * b + a^2 / 2 - exp(b): gradient (b + a, a - exp(b)), Hessian [[1, 1], [1, -exp(b)]]
    let p = leaves(&[1.0, 2.0]);
    let f = binary(
        "-",
        &binary("+", &binary("*", &p[0], &p[1]).unwrap(), &binary("/", &binary("^", &p[0], 2.0).unwrap(), 2.0).unwrap()).unwrap(),
        &unary("exp", &p[1]).unwrap(),
    )
    .unwrap();
    let recording = Recording::new(f, p).unwrap();
    recording.replay(&[0.5, -0.3]).unwrap();
    let (value, gradient, hessian) = recording.value_gradient_hessian().unwrap();
    let e = (-0.3f64).exp();
    assert!((value - (0.5 * -0.3 + 0.125 - e)).abs() < 1e-15);
    assert!(close(&gradient, &[-0.3 + 0.5, 0.5 - e], 1e-15));
    assert!(close(&hessian, &[1.0, 1.0, 1.0, -e], 1e-15));
}

#[test]
fn tapes_with_arrays_or_kernels_have_no_program() {
    let v = Var::leaf(Tensor::vector(vec![1.0, 2.0]));
    let s = crate::record::sum(&binary("*", &v, &v).unwrap()).unwrap();
    let (cell, root) = s.resolve();
    let at = v.index_relative_to(&cell);
    assert!(ScalarProgram::compile(&cell.tape(), root, &[], &[at], &[1.0, 2.0]).is_none());
    // still replayed and differentiated, by the tape's own sweeps
    let recording = Recording::new(s, vec![v]).unwrap();
    recording.replay(&[3.0, -1.0]).unwrap();
    let (value, gradient, hessian) = recording.value_gradient_hessian().unwrap();
    assert_eq!(value, 10.0);
    assert_eq!(gradient, vec![6.0, -2.0]);
    assert_eq!(hessian, vec![2.0, 0.0, 0.0, 2.0]);
}

#[test]
fn a_guard_that_no_longer_holds_is_reported() {
    let p = leaves(&[1.0]);
    let y = binary("*", &p[0], 3.0).unwrap();
    crate::replay::compare_values(
        crate::tape::Comparison::Greater,
        crate::replay::Side::Var(y.clone()),
        crate::replay::Side::Numbers(vec![0.0]),
    );
    let recording = Recording::new(binary("^", &y, 2.0).unwrap(), p).unwrap();
    assert_eq!(recording.replay(&[2.0]).unwrap(), Replayed::Done);
    assert_eq!(recording.value_and_gradient().unwrap(), (36.0, vec![36.0]));
    assert_eq!(recording.replay(&[-2.0]).unwrap(), Replayed::GuardFailed);
}

#[test]
fn a_zero_adjoint_meets_a_partial_that_is_not_finite_as_on_the_tape() {
    // f = 0 * log(q) + p at q = 0: log's partial is infinite where its
    // adjoint is zero, and the tape's sweep gives NaN for q, not 0
    let p = leaves(&[1.0, 0.0]);
    let f = binary("+", &binary("*", &unary("log", &p[1]).unwrap(), 0.0).unwrap(), &p[0]).unwrap();
    let reference = crate::backward::value_and_gradient(&f, &p).unwrap().1;
    assert!(reference[1].is_nan());
    let recording = Recording::new(f, p).unwrap();
    let (_, gradient) = recording.value_and_gradient().unwrap();
    assert_eq!(gradient[0], reference[0]);
    assert!(gradient[1].is_nan());
}
