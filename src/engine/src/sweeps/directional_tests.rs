//! The directional derivative recorded as operations (`directional.rs`),
//! for every operation, against paths that do not use it:
//!   - its value against the numeric forward sweep (`second_order`'s
//!     tangents, the rules' `jvp`);
//!   - its gradient against H v from the forward-over-reverse Hessian;
//!   - its Hessian against five-point differences of that exact Hessian
//!     along v (third derivatives);
//!   - D(D f[v])[w] against v' H w, its gradient against differences of
//!     v' H w coordinate by coordinate (third derivatives), and its Hessian
//!     against mixed differences of the Hessian along v and w (fourth).

// `bin` takes values and plain numbers alike, so values are passed by reference.
#![allow(clippy::needless_borrows_for_generic_args)]

use crate::backward::value_and_gradient;
use crate::batch::Batch;
use crate::directional::directional_derivative;
use crate::kernels::{record_kernel, KernelData};
use crate::record;
use crate::replay::{Recording, Replayed};
use crate::second_order::{jacobian, second_order, tangents};
use crate::tape::Var;
use crate::tensor::{Shape, Tensor};
use crate::testing::{leaves, m, s, v, Builder};

/// Reproducible numbers in [-1, 1] (a linear congruential generator).
struct Numbers(u64);

impl Numbers {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }
    fn take(&mut self, n: usize) -> Vec<f64> {
        (0..n).map(|_| self.next()).collect()
    }
}

fn flatten(points: &[Tensor]) -> Vec<f64> {
    points.iter().flat_map(|t| t.data.iter().cloned()).collect()
}

/// `x` in the shapes of `template`.
fn shaped(template: &[Tensor], x: &[f64]) -> Vec<Tensor> {
    let mut at = 0;
    template
        .iter()
        .map(|t| {
            at += t.numel();
            Tensor::new(t.shape, x[at - t.numel()..at].to_vec()).unwrap()
        })
        .collect()
}

fn constants(template: &[Tensor], x: &[f64]) -> Vec<Var> {
    shaped(template, x).into_iter().map(Var::constant).collect()
}

/// The exact Hessian of f at x (p x p, column-major), by forward-over-reverse.
fn hessian_at(f: &Builder<'_>, template: &[Tensor], x: &[f64]) -> Vec<f64> {
    let params = leaves(&shaped(template, x));
    second_order(&f(&params), &params, None).unwrap().hessian_times.into_data()
}

fn moved(x: &[f64], dir: &[f64], by: f64) -> Vec<f64> {
    x.iter().zip(dir).map(|(a, d)| a + by * d).collect()
}

/// d/ds g(s) at 0 by the five-point stencil (error O(h^4)).
fn five_point(h: f64, g: impl Fn(f64) -> Vec<f64>) -> Vec<f64> {
    let (m2, m1, p1, p2) = (g(-2.0 * h), g(-h), g(h), g(2.0 * h));
    (0..m1.len()).map(|i| (m2[i] - 8.0 * m1[i] + 8.0 * p1[i] - p2[i]) / (12.0 * h)).collect()
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
}

fn assert_all_close(label: &str, what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{label}: {what} has {} numbers, not {}", got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(close(*g, *w, tol), "{label}: {what}[{i}] is {g} but the oracle gives {w}");
    }
}

/// How far the checks go: `First` checks D f[v] (its value, gradient and
/// Hessian); `Second` also D(D f[v])[w] (up to fourth derivatives).
#[derive(PartialEq)]
enum Depth {
    First,
    Second,
}

/// The checks at points moved a little at random from `points`.
fn check_directional(label: &str, f: &Builder<'_>, points: &[Tensor], depth: Depth) {
    let mut numbers = Numbers(label.bytes().fold(17, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b))));
    let x: Vec<f64> = flatten(points).iter().map(|a| a + 0.02 * numbers.next()).collect();
    check_directional_at(label, f, &shaped(points, &x), depth, &mut numbers);
}

fn check_directional_at(label: &str, f: &Builder<'_>, points: &[Tensor], depth: Depth, numbers: &mut Numbers) {
    let x0 = flatten(points);
    let p = x0.len();
    let (vd, wd) = (numbers.take(p), numbers.take(p));
    let params = leaves(points);
    let root = f(&params);
    let d = directional_derivative(&root, &params, &constants(points, &vd)).unwrap();

    // The value: the numeric forward sweep along v.
    let numeric = tangents("test", &root, &params, Some(&Batch { rows: p, dirs: 1, data: vd.clone() })).unwrap();
    let forward = numeric.tangents[numeric.root].as_ref().map_or(0.0, |t| t.data[0]);
    assert_all_close(label, "D f[v]", &d.value().data, &[forward], 1e-12);

    // Its gradient: H v by forward-over-reverse along v.
    let hv = second_order(&root, &params, Some(&Batch { rows: p, dirs: 1, data: vd.clone() })).unwrap();
    let (_, grad) = value_and_gradient(&d, &params).unwrap();
    assert_all_close(label, "gradient of D f[v]", &grad, &hv.hessian_times.data, 1e-10);

    // Its Hessian: the exact Hessian differenced along v.
    let hessian_d = second_order(&d, &params, None).unwrap().hessian_times.into_data();
    let fd = five_point(2e-3, |by| hessian_at(f, points, &moved(&x0, &vd, by)));
    assert_all_close(label, "Hessian of D f[v]", &hessian_d, &fd, 1e-6);
    if depth == Depth::First {
        return;
    }

    // D(D f[v])[w] = v' H w.
    let dd = directional_derivative(&d, &params, &constants(points, &wd)).unwrap();
    let h = hessian_at(f, points, &x0);
    let contract = |h: &[f64]| (0..p).map(|j| wd[j] * (0..p).map(|i| vd[i] * h[i + j * p]).sum::<f64>()).sum::<f64>();
    assert_all_close(label, "D(D f[v])[w]", &dd.value().data, &[contract(&h)], 1e-10);

    // Its gradient: third derivatives, sum_ij f_ijk v_i w_j.
    let (_, grad) = value_and_gradient(&dd, &params).unwrap();
    let third: Vec<f64> = (0..p)
        .map(|k| {
            let mut e = vec![0.0; p];
            e[k] = 1.0;
            five_point(2e-3, |by| vec![contract(&hessian_at(f, points, &moved(&x0, &e, by)))])[0]
        })
        .collect();
    assert_all_close(label, "gradient of D(D f[v])[w]", &grad, &third, 1e-6);

    // Its Hessian: fourth derivatives contracted with v and w, the mixed
    // derivative of the exact Hessian along v and w.
    let hessian_dd = second_order(&dd, &params, None).unwrap().hessian_times.into_data();
    let fd = five_point(1e-3, |s| five_point(1e-3, |t| hessian_at(f, points, &moved(&moved(&x0, &vd, s), &wd, t))));
    assert_all_close(label, "Hessian of D(D f[v])[w]", &hessian_dd, &fd, 1e-6);
}

fn sum(x: &Var) -> Var {
    record::sum(x).unwrap()
}

fn bin(op: &str, a: impl Into<crate::tape::Operand>, b: impl Into<crate::tape::Operand>) -> Var {
    record::binary(op, a, b).unwrap()
}

fn un(name: &str, x: &Var) -> Var {
    record::unary(name, x).unwrap()
}

/// sum(w * y) with weights 1, 0.7, 0.4, ..., so every entry matters differently.
fn weighted_sum(y: &Var) -> Var {
    let shape = y.value().shape;
    let w: Vec<f64> = (0..shape.numel()).map(|i| 1.0 - 0.3 * i as f64).collect();
    sum(&bin("*", y, Var::constant(Tensor::new(shape, w).unwrap())))
}

#[test]
fn unary_functions_have_directional_derivatives_up_to_fourth_order() {
    let cases: &[(&str, &[f64])] = &[
        ("neg", &[0.3, -1.2]),
        ("exp", &[0.3, -1.2]),
        ("log", &[0.3, 2.5]),
        ("log1p", &[0.3, 2.5]),
        ("expm1", &[0.3, -1.2]),
        ("sqrt", &[0.3, 2.5]),
        ("abs", &[0.3, -1.2]),
        ("sin", &[0.3, -1.2]),
        ("cos", &[0.3, -1.2]),
        ("tan", &[0.3, -1.2]),
        ("tanh", &[0.3, -1.2]),
        ("sinh", &[0.3, -1.2]),
        ("cosh", &[0.3, -1.2]),
        ("lgamma", &[0.3, 2.5]),
        ("digamma", &[0.6, 2.5]),
        ("trigamma", &[0.6, 2.5]),
        ("sigmoid", &[0.3, -1.2]),
        ("softplus", &[0.3, -1.2]),
        ("log_sigmoid", &[0.3, -1.2]),
        ("logit", &[0.3, 0.8]),
        ("atan", &[0.3, -1.2]),
        ("asin", &[0.3, -0.6]),
        ("acos", &[0.3, -0.6]),
        ("pnorm", &[0.3, -1.2]),
        ("log_pnorm", &[-6.5, 1.2]),
        ("qnorm", &[0.2, 0.8]),
    ];
    for &(name, at) in cases {
        let f = move |p: &[Var]| weighted_sum(&un(name, &p[0]));
        check_directional(name, &f, &[v(at)], Depth::Second);
        // a scalar: the sweeps' fast path for models written as loops
        let g = move |p: &[Var]| bin("*", &un(name, &p[0]), 1.5);
        check_directional(&format!("{name} of a scalar"), &g, &[s(at[1])], Depth::Second);
    }
    // D of tetragamma is pentagamma, whose own derivative is not an operation.
    let f = |p: &[Var]| weighted_sum(&un("tetragamma", &p[0]));
    check_directional("tetragamma", &f, &[v(&[0.6, 2.5])], Depth::First);
}

#[test]
fn pentagamma_refuses_forward_mode_as_operations_by_name() {
    let x = Var::leaf(v(&[0.6, 2.5]));
    let f = weighted_sum(&un("pentagamma", &x));
    let err = directional_derivative(&f, &[x], &[Var::constant(v(&[1.0, 1.0]))]).unwrap_err();
    assert!(err.0.contains("directional_derivative: pentagamma: no forward-mode rule as operations"), "{}", err.0);
}

#[test]
fn binary_operators_have_directional_derivatives_with_broadcasting() {
    for op in ["+", "-", "*", "/", "^"] {
        let f = move |p: &[Var]| weighted_sum(&un("sin", &bin(op, &p[0], &p[1])));
        // equal shapes, scalar with vector, vector with scalar, vector with matrix
        check_directional(op, &f, &[v(&[1.3, 0.4, 2.0]), v(&[0.5, 1.7, -0.6])], Depth::Second);
        check_directional(op, &f, &[s(1.3), v(&[0.5, 1.7, 2.1])], Depth::Second);
        check_directional(op, &f, &[v(&[1.3, 0.4, 2.0]), s(0.7)], Depth::Second);
        check_directional(op, &f, &[v(&[1.3, 0.4, 2.0, 0.9]), m(2, 2, &[0.5, 1.7, 0.6, 1.1])], Depth::Second);
        check_directional(op, &f, &[m(2, 2, &[1.3, 0.4, 2.0, 0.9]), v(&[0.5, 1.7, 0.6, 1.1])], Depth::Second);
        // a single node used twice
        let g = move |p: &[Var]| weighted_sum(&un("sin", &bin(op, &p[0], &p[0])));
        check_directional(&format!("x {op} x"), &g, &[v(&[1.3, 0.4])], Depth::Second);
        // plain numbers on either side, and a constant value
        let h = move |p: &[Var]| weighted_sum(&un("sin", &bin(op, &p[0], 2.5)));
        check_directional(&format!("x {op} 2.5"), &h, &[v(&[1.3, 0.4])], Depth::Second);
        let k = move |p: &[Var]| weighted_sum(&un("sin", &bin(op, 1.7, &p[0])));
        check_directional(&format!("1.7 {op} x"), &k, &[v(&[1.3, 0.4])], Depth::Second);
        let c = move |p: &[Var]| weighted_sum(&un("sin", &bin(op, Var::constant(v(&[0.8, 1.9])), &p[0])));
        check_directional(&format!("c {op} x"), &c, &[v(&[1.3, 0.4])], Depth::Second);
    }
}

#[test]
fn powers_with_constant_exponents_have_directional_derivatives() {
    for e in [0.0, 1.0, 2.0, 3.0, 0.5, -1.5] {
        let f = move |p: &[Var]| weighted_sum(&bin("^", &p[0], e));
        check_directional(&format!("x^{e}"), &f, &[v(&[1.3, 0.4, 2.0])], Depth::Second);
    }
    // integer powers of negative bases
    let f = |p: &[Var]| weighted_sum(&bin("^", &p[0], 3.0));
    check_directional("x^3 at x < 0", &f, &[v(&[-1.5, 2.0])], Depth::Second);
    let g = |p: &[Var]| weighted_sum(&bin("^", &p[0], Var::constant(v(&[3.0, 2.0]))));
    check_directional("x^c at x < 0", &g, &[v(&[-1.5, -0.5])], Depth::Second);
    // x^0 at 0 has derivative 0, as in the numeric rule
    let x = Var::leaf(v(&[0.0, 1.0]));
    let d = directional_derivative(&weighted_sum(&bin("^", &x, 0.0)), &[x], &[Var::constant(v(&[1.0, 1.0]))]).unwrap();
    assert_eq!(d.value().data[0], 0.0);
}

#[test]
fn linear_operations_have_directional_derivatives() {
    let x = [v(&[1.3, -0.4, 2.0, 0.7])];
    let a = [m(2, 3, &[1.0, -0.5, 2.0, 0.3, 1.1, -1.4])];
    let sin_of = |y: Var| weighted_sum(&un("sin", &y));
    check_directional("sum", &|p: &[Var]| sin_of(record::sum(&bin("*", &p[0], &p[0])).unwrap()), &x, Depth::Second);
    check_directional("mean", &|p: &[Var]| sin_of(record::mean(&bin("*", &p[0], &p[0])).unwrap()), &x, Depth::Second);
    check_directional("cumsum", &|p: &[Var]| sin_of(record::cumsum(&p[0]).unwrap()), &x, Depth::Second);
    check_directional("cumsum of a matrix", &|p: &[Var]| sin_of(record::cumsum(&p[0]).unwrap()), &a, Depth::Second);
    check_directional("gather", &|p: &[Var]| sin_of(record::gather(&p[0], vec![2, 0, 2, 3]).unwrap()), &x, Depth::Second);
    let shaped = |p: &[Var]| sin_of(record::gather_shaped(&p[0], vec![5, 0, 2, 2], Shape::matrix(2, 2)).unwrap());
    check_directional("gather to a matrix", &shaped, &a, Depth::Second);
    // t(A) %*% A: the transpose's tangent enters a product
    let t = |p: &[Var]| sin_of(record::matmul(&record::transpose(&p[0]).unwrap(), &p[0]).unwrap());
    check_directional("t", &t, &a, Depth::Second);
    check_directional("t of a vector", &|p: &[Var]| sin_of(record::transpose(&p[0]).unwrap()), &x, Depth::Second);
}

#[test]
fn concatenation_has_directional_derivatives() {
    let f = |p: &[Var]| {
        let parts = [p[0].clone(), un("exp", &p[1]), Var::constant(v(&[0.5, -0.5])), bin("*", &p[0], &p[1])];
        weighted_sum(&un("sin", &record::concat(&parts, Shape::matrix(2, 4)).unwrap()))
    };
    check_directional("c", &f, &[v(&[1.3, -0.4]), v(&[0.2, 0.9])], Depth::Second);
    // only one part moves
    let g = |p: &[Var]| {
        let parts = [Var::constant(v(&[0.5, -0.5])), bin("*", &p[0], &p[0])];
        weighted_sum(&un("sin", &record::concat(&parts, Shape::vector(4)).unwrap()))
    };
    check_directional("c with a constant part", &g, &[v(&[1.3, -0.4])], Depth::Second);
}

#[test]
fn matrix_products_have_directional_derivatives() {
    let a = m(3, 2, &[1.0, -0.5, 2.0, 0.3, 1.1, -1.4]);
    let b = m(2, 2, &[0.4, 1.2, -0.8, 0.6]);
    let sin_of = |y: Var| weighted_sum(&un("sin", &y));
    check_directional("A %*% B", &|p: &[Var]| sin_of(record::matmul(&p[0], &p[1]).unwrap()), &[a.clone(), b.clone()], Depth::Second);
    let c = Var::constant(a.clone());
    let cb = move |p: &[Var]| sin_of(record::matmul(&c, &p[0]).unwrap());
    check_directional("C %*% B", &cb, std::slice::from_ref(&b), Depth::Second);
    let mv = |p: &[Var]| sin_of(record::matmul(&p[0], &p[1]).unwrap());
    check_directional("A %*% x", &mv, &[a.clone(), v(&[0.5, -1.0])], Depth::Second);
    check_directional("x %*% A", &mv, &[v(&[0.5, -1.0, 0.3]), a.clone()], Depth::Second);
    check_directional("x %*% x", &|p: &[Var]| sin_of(record::matmul(&p[0], &p[0]).unwrap()), &[v(&[0.5, -1.0, 0.3])], Depth::Second);
}

#[test]
fn prod_and_logsumexp_have_directional_derivatives() {
    let x = [v(&[1.3, -0.4, 2.0, 0.7])];
    check_directional("prod", &|p: &[Var]| record::prod(&p[0]).unwrap(), &x, Depth::Second);
    check_directional("prod of one", &|p: &[Var]| un("sin", &record::prod(&p[0]).unwrap()), &[v(&[0.4])], Depth::Second);
    // exactly at a zero, where y / x would divide by zero
    let f = |p: &[Var]| record::prod(&p[0]).unwrap();
    check_directional_at("prod with a zero", &f, &[v(&[1.3, 0.0, 2.0, 0.7])], Depth::Second, &mut Numbers(3));
    check_directional_at("prod with two zeros", &f, &[v(&[1.3, 0.0, 0.0, 0.7])], Depth::Second, &mut Numbers(4));
    let lse = |p: &[Var]| record::logsumexp(&bin("*", &p[0], &p[0])).unwrap();
    check_directional("logsumexp", &lse, &x, Depth::Second);
    let lse_matrix = |p: &[Var]| record::logsumexp(&p[0]).unwrap();
    check_directional("logsumexp of a matrix", &lse_matrix, &[m(2, 2, &[1.3, -0.4, 2.0, 0.7])], Depth::Second);
}

/// A well-conditioned 3 x 3 matrix.
fn a3() -> Tensor {
    m(3, 3, &[2.0, 0.3, -0.4, 0.5, 1.7, 0.2, -0.1, 0.6, 2.4])
}

#[test]
fn solve_and_logdet_have_directional_derivatives() {
    let b = v(&[0.7, -1.1, 0.4]);
    let bm = m(3, 2, &[0.7, -1.1, 0.4, 0.2, 0.9, -0.5]);
    let f = |p: &[Var]| weighted_sum(&record::solve(&p[0], &p[1]).unwrap());
    check_directional("solve(A, b)", &f, &[a3(), b.clone()], Depth::Second);
    check_directional("solve(A, B)", &f, &[a3(), bm], Depth::Second);
    let g = |p: &[Var]| weighted_sum(&record::solve(&Var::constant(a3()), &p[0]).unwrap());
    check_directional("solve(C, b)", &g, std::slice::from_ref(&b), Depth::Second);
    let h = |p: &[Var]| {
        let y = record::solve(&p[0], &Var::constant(v(&[1.0, 2.0, 3.0]))).unwrap();
        bin("*", &sum(&y), &record::logdet(&p[0]).unwrap())
    };
    check_directional("logdet(A) * sum(solve(A, c))", &h, &[a3()], Depth::Second);
    check_directional("logdet", &|p: &[Var]| record::logdet(&p[0]).unwrap(), &[a3()], Depth::Second);
    // a negative determinant
    let neg = m(2, 2, &[0.5, 2.0, 1.5, -0.3]);
    check_directional("logdet, det < 0", &|p: &[Var]| record::logdet(&p[0]).unwrap(), &[neg], Depth::Second);
}

/// A = B B' + 3 I: symmetric positive definite for any B.
fn spd_from(b: &Var) -> Var {
    let bbt = record::matmul(b, &record::transpose(b).unwrap()).unwrap();
    let n = b.value().shape.as_matrix().0;
    let eye: Vec<f64> = (0..n * n).map(|q| if q % (n + 1) == 0 { 3.0 } else { 0.0 }).collect();
    bin("+", &bbt, Var::constant(m(n, n, &eye)))
}

#[test]
fn chol_has_directional_derivatives() {
    let b = m(3, 3, &[0.8, -0.3, 0.5, 0.2, 1.1, -0.7, -0.4, 0.6, 0.9]);
    let chol = |p: &[Var]| record::chol(&spd_from(&p[0])).unwrap();
    check_directional("sum(w * chol(A))", &|p: &[Var]| weighted_sum(&chol(p)), std::slice::from_ref(&b), Depth::Second);
    let half_logdet = |p: &[Var]| sum(&un("log", &record::gather(&chol(p), vec![0, 4, 8]).unwrap()));
    check_directional("sum(log(diag(chol(A))))", &half_logdet, std::slice::from_ref(&b), Depth::Second);
    let solved = |p: &[Var]| weighted_sum(&record::solve(&chol(p), &p[1]).unwrap());
    check_directional("solve(chol(A), c)", &solved, &[b, v(&[0.7, -1.1, 0.4])], Depth::Second);
    // a number is a 1 x 1 matrix
    let one = |p: &[Var]| weighted_sum(&record::chol(&bin("+", &bin("*", &p[0], &p[0]), 1.0)).unwrap());
    check_directional("chol of a number", &one, &[s(0.7)], Depth::Second);
}

/// The joint log density of a Poisson GLMM with a random intercept per
/// group: eta = X beta + u[group],
///   sum(y eta - exp(eta) - lgamma(y + 1)) - sum(u^2) / (2 tau^2) - q log tau
/// with tau = exp(log_tau); parameters beta (2), u (3) and log_tau.
fn glmm(p: &[Var]) -> Var {
    let x = m(8, 2, &[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, -0.5, 0.3, 1.2, -1.1, 0.4, 0.8, -0.2, 0.6]);
    let y = v(&[2.0, 0.0, 3.0, 1.0, 4.0, 2.0, 0.0, 5.0]);
    let group = vec![0, 0, 0, 1, 1, 1, 2, 2];
    let (beta, u, log_tau) = (&p[0], &p[1], &p[2]);
    let eta = bin("+", &record::matmul(&Var::constant(x), beta).unwrap(), &record::gather(u, group).unwrap());
    let y = Var::constant(y);
    let lgamma_y1 = un("lgamma", &bin("+", &y, 1.0));
    let data_part = sum(&bin("-", &bin("-", &bin("*", &y, &eta), &un("exp", &eta)), &lgamma_y1));
    let two_tau2 = bin("*", &un("exp", &bin("*", log_tau, 2.0)), 2.0);
    let prior = bin("/", &sum(&bin("^", u, 2.0)), &two_tau2);
    bin("-", &bin("-", &data_part, &prior), &bin("*", log_tau, 3.0))
}

#[test]
fn a_glmm_joint_log_density_has_third_and_fourth_derivatives() {
    let points = [v(&[0.3, -0.2]), v(&[0.4, -0.3, 0.1]), s(-0.2)];
    check_directional("GLMM", &glmm, &points, Depth::Second);

    // Three times: D(D(D f[a])[b])[c] = sum_ijk f_ijk a_i b_j c_k, against
    // differences of b' H c along a.
    let mut numbers = Numbers(11);
    let (a, b, c) = (numbers.take(6), numbers.take(6), numbers.take(6));
    let params = leaves(&points);
    let f = glmm(&params);
    let d1 = directional_derivative(&f, &params, &constants(&points, &a)).unwrap();
    let d2 = directional_derivative(&d1, &params, &constants(&points, &b)).unwrap();
    let d3 = directional_derivative(&d2, &params, &constants(&points, &c)).unwrap();
    let x0 = flatten(&points);
    let contract = |h: &[f64]| (0..6).map(|j| c[j] * (0..6).map(|i| b[i] * h[i + j * 6]).sum::<f64>()).sum::<f64>();
    let fd = five_point(2e-3, |by| vec![contract(&hessian_at(&glmm, &points, &moved(&x0, &a, by)))]);
    assert_all_close("GLMM", "D(D(D f[a])[b])[c]", &d3.value().data, &fd, 1e-6);
}

#[test]
fn a_loop_of_scalar_operations_has_directional_derivatives() {
    // models written as loops: every node a scalar
    let f = |p: &[Var]| {
        let (a, b) = (&p[0], &p[1]);
        let mut total = Var::constant(s(0.0));
        for (i, yi) in [0.5, 1.5, -0.3].iter().enumerate() {
            let mu = bin("+", a, &bin("*", b, i as f64));
            let r = bin("-", *yi, &mu);
            total = bin("+", &total, &bin("-", &bin("*", &bin("^", &r, 2.0), &un("exp", b)), &un("log1p", &bin("*", a, a))));
        }
        total
    };
    check_directional("loop", &f, &[s(0.4), s(-0.3)], Depth::Second);
}

#[test]
fn the_directional_derivative_of_a_vector_is_its_jacobian_times_the_direction() {
    let x = Var::leaf(v(&[0.3, -1.2, 0.8]));
    let y = Var::leaf(s(0.6));
    let f = bin("*", &un("sin", &x), &un("exp", &y));
    let dir = [0.5, -0.25, 1.5, 2.0];
    let d = directional_derivative(&f, &[x.clone(), y.clone()], &[Var::constant(v(&dir[..3])), Var::constant(s(dir[3]))]).unwrap();
    let jac = jacobian(&f, &[x, y]).unwrap();
    let jv: Vec<f64> = (0..3).map(|i| (0..4).map(|k| jac.data[i + 3 * k] * dir[k]).sum()).collect();
    assert_eq!(d.value().shape, Shape::vector(3));
    assert_all_close("sin(x) exp(y)", "D f[v]", &d.value().data, &jv, 1e-14);
}

#[test]
fn a_value_that_does_not_move_has_a_zero_directional_derivative() {
    let x = Var::leaf(v(&[0.3, -1.2]));
    let other = Var::leaf(s(2.0));
    let f = un("exp", &other);
    let d = directional_derivative(&f, &[x], &[Var::constant(v(&[1.0, 1.0]))]).unwrap();
    assert_eq!((d.value().shape, d.value().data[0]), (Shape::scalar(), 0.0));
    // a parameter itself
    let d = directional_derivative(&other, std::slice::from_ref(&other), &[Var::constant(s(3.0))]).unwrap();
    assert_eq!(d.value().data[0], 3.0);
}

#[test]
fn a_direction_that_is_a_leaf_receives_derivatives() {
    // D f[v] = f'(x) v: its gradient with respect to v is f'(x).
    let x = Var::leaf(v(&[0.3, -1.2]));
    let dir = Var::leaf(v(&[0.5, 2.0]));
    let f = weighted_sum(&un("sin", &x));
    let d = directional_derivative(&f, std::slice::from_ref(&x), std::slice::from_ref(&dir)).unwrap();
    let (_, grad) = value_and_gradient(&d, &[dir]).unwrap();
    let (_, want) = value_and_gradient(&f, &[x]).unwrap();
    assert_all_close("sin", "gradient with respect to v", &grad, &want, 1e-15);
}

#[test]
fn fused_kernels_refuse_by_name_and_unrelated_nodes_are_not_visited() {
    let mu = Var::leaf(s(0.8));
    let sigma = Var::leaf(s(1.3));
    let data = KernelData::new(vec![1.2, -0.3, 2.5]);
    let ll = record_kernel("normal", &[mu.clone(), sigma.clone()], data).unwrap();
    let name = ll.rule_name().unwrap();
    let dirs = [Var::constant(s(1.0)), Var::constant(s(0.5))];
    let err = directional_derivative(&ll, &[mu.clone(), sigma.clone()], &dirs).unwrap_err();
    assert!(err.0.contains(&format!("directional_derivative: {name}: no forward-mode rule as operations")), "{}", err.0);
    // the kernel stays on the tape, but a value that does not depend on it
    // is differentiated without visiting it
    let f = bin("*", &bin("*", &mu, &sigma), &mu);
    let d = directional_derivative(&f, &[mu.clone(), sigma.clone()], &dirs).unwrap();
    assert!(close(d.value().data[0], 2.0 * 0.8 * 1.3 + 0.64 * 0.5, 1e-15), "{:?}", d.value().data);
}

#[test]
fn mismatched_directions_are_refused() {
    let x = Var::leaf(v(&[0.3, -1.2]));
    let f = sum(&un("exp", &x));
    let err = directional_derivative(&f, std::slice::from_ref(&x), &[Var::constant(v(&[1.0, 2.0, 3.0]))]).unwrap_err();
    assert_eq!(err.0, "directional_derivative: direction 1 is vector[3] but parameter 1 is vector[2]");
    let err = directional_derivative(&f, std::slice::from_ref(&x), &[]).unwrap_err();
    assert_eq!(err.0, "directional_derivative: 1 parameters but 0 directions");
    let err = directional_derivative(&f, std::slice::from_ref(&f), &[Var::constant(s(1.0))]).unwrap_err();
    assert!(err.0.contains("not a leaf"), "{}", err.0);
}

#[test]
fn a_replay_that_changes_the_sign_under_abs_is_refused() {
    let x = Var::leaf(v(&[0.3, -1.2]));
    let f = weighted_sum(&bin("*", &un("abs", &x), &x));
    let d = directional_derivative(&f, std::slice::from_ref(&x), &[Var::constant(v(&[1.0, 1.0]))]).unwrap();
    let replay = Recording::new(d.clone(), vec![x.clone()]).unwrap();
    // the same signs: replayed, and D f[v] = sum(w 2 |x|) there
    assert!(matches!(replay.replay(&[0.5, -2.0]).unwrap(), Replayed::Done));
    assert!(close(d.value().data[0], 2.0 * 0.5 + 0.7 * 2.0 * 2.0, 1e-15), "{:?}", d.value().data);
    // a sign flips: the recorded derivative no longer holds
    assert!(matches!(replay.replay(&[-0.5, -2.0]).unwrap(), Replayed::GuardFailed));
}

#[test]
fn directions_on_a_longer_tape_of_their_own_move_the_walk_there() {
    // f's tape is appended to the direction's (the longer) when the first
    // tangent is recorded: the walk must find f's nodes at their new place.
    let x = Var::leaf(v(&[0.3, -1.2]));
    let f = weighted_sum(&un("exp", &un("sin", &x)));
    let mut dir = Var::leaf(v(&[0.5, 2.0]));
    for _ in 0..50 {
        dir = bin("*", &dir, 1.0);
    }
    let d = directional_derivative(&f, std::slice::from_ref(&x), std::slice::from_ref(&dir)).unwrap();
    let want: f64 = [(0.3f64, 0.5, 1.0), (-1.2, 2.0, 0.7)].iter().map(|&(x, v, w)| w * x.sin().exp() * x.cos() * v).sum();
    assert!(close(d.value().data[0], want, 1e-14), "{} vs {want}", d.value().data[0]);
    assert!(x.index_relative_to(dir.cell()).is_some(), "the tapes were united");
    // and the result is differentiated like any value
    let hv = second_order(&f, std::slice::from_ref(&x), Some(&Batch { rows: 2, dirs: 1, data: vec![0.5, 2.0] })).unwrap();
    let (_, grad) = value_and_gradient(&d, std::slice::from_ref(&x)).unwrap();
    assert_all_close("exp(sin(x))", "gradient of D f[v]", &grad, &hv.hessian_times.data, 1e-12);
}

#[test]
fn a_recorded_directional_derivative_replays_at_new_parameters() {
    // What the Laplace approximation's inner iterations need: D f[v]
    // recorded once and replayed, equal to one recorded afresh there.
    let models: [(&str, &Builder<'_>, Vec<Tensor>); 4] = [
        ("GLMM", &glmm, vec![v(&[0.3, -0.2]), v(&[0.4, -0.3, 0.1]), s(-0.2)]),
        ("chol", &|p: &[Var]| weighted_sum(&record::chol(&spd_from(&p[0])).unwrap()), vec![m(2, 2, &[0.8, -0.3, 0.5, 0.2])]),
        ("solve, logdet", &|p: &[Var]| bin("*", &weighted_sum(&record::solve(&p[0], &p[1]).unwrap()), &record::logdet(&p[0]).unwrap()), vec![a3(), v(&[0.7, -1.1, 0.4])]),
        ("prod, logsumexp", &|p: &[Var]| bin("+", &record::prod(&p[0]).unwrap(), &record::logsumexp(&p[0]).unwrap()), vec![v(&[1.3, -0.4, 2.0])]),
    ];
    for (label, f, points) in models {
        let mut numbers = Numbers(5);
        let x0 = flatten(&points);
        let (vd, wd) = (numbers.take(x0.len()), numbers.take(x0.len()));
        let x1: Vec<f64> = x0.iter().map(|a| a + 0.05 * numbers.next()).collect();
        // D f[v] and D(D f[v])[w] at x, recorded at x0 and replayed at x1 when `replayed`
        let derivatives = |x: &[f64], replayed: Option<&[f64]>| {
            let params = leaves(&shaped(&points, x));
            let d = directional_derivative(&f(&params), &params, &constants(&points, &vd)).unwrap();
            let dd = directional_derivative(&d, &params, &constants(&points, &wd)).unwrap();
            if let Some(x1) = replayed {
                for root in [&d, &dd] {
                    let replay = Recording::new(root.clone(), params.clone()).unwrap();
                    assert!(matches!(replay.replay(x1).unwrap(), Replayed::Done), "{label}: a guard failed");
                }
            }
            [d.value().data[0], dd.value().data[0]]
        };
        let replayed = derivatives(&x0, Some(&x1));
        let fresh = derivatives(&x1, None);
        assert_all_close(label, "replayed D f[v], D(D f[v])[w]", &replayed, &fresh, 1e-12);
        let before = derivatives(&x0, None);
        assert!(before.iter().zip(&fresh).all(|(a, b)| (a - b).abs() > 1e-6), "{label}: the replay moved nothing");
    }
}

#[test]
fn a_direction_is_laid_out_as_its_parameter() {
    // a matrix parameter with its direction as a plain vector (as R passes
    // one numeric vector of all elements): the same numbers, column-major
    let a = Var::leaf(m(2, 2, &[0.8, -0.3, 0.5, 1.2]));
    let f = weighted_sum(&un("sin", &record::matmul(&a, &a).unwrap()));
    let dir = [0.5, -1.0, 0.25, 2.0];
    let as_vector = directional_derivative(&f, std::slice::from_ref(&a), &[Var::constant(v(&dir))]).unwrap();
    let as_matrix = directional_derivative(&f, std::slice::from_ref(&a), &[Var::constant(m(2, 2, &dir))]).unwrap();
    assert_eq!(as_vector.value().data[0], as_matrix.value().data[0]);
    let (_, g1) = value_and_gradient(&as_vector, std::slice::from_ref(&a)).unwrap();
    let (_, g2) = value_and_gradient(&as_matrix, std::slice::from_ref(&a)).unwrap();
    assert_eq!(g1, g2);
    // an empty parameter before it changes nothing
    let empty = Var::leaf(v(&[]));
    let params = [empty, a.clone()];
    let after_empty = directional_derivative(&f, &params, &[Var::constant(v(&[])), Var::constant(v(&dir))]).unwrap();
    assert_eq!(after_empty.value().data[0], as_matrix.value().data[0]);
}
