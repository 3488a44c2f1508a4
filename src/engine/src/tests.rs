//! Every operation's first- and second-order rules against central finite
//! differences of the engine's own values and gradients.

use crate::backward::{backward, value_and_gradient};
use crate::batch::Batch;
use crate::tape::Var;
use crate::record;
use crate::second_order::{jacobian, second_order};
use crate::tensor::{Shape, Tensor};
use crate::testing::{check, leaves, m, s, v};

fn sum(x: Var) -> Var {
    record::sum(&x).unwrap()
}

#[test]
fn unary_functions_match_finite_differences() {
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
        ("digamma", &[0.3, 2.5]),
        ("sigmoid", &[0.3, -1.2]),
        ("softplus", &[0.3, -1.2]),
        ("log_sigmoid", &[0.3, -1.2]),
        ("logit", &[0.3, 0.8]),
        ("atan", &[0.3, -1.2]),
        ("asin", &[0.3, -0.6]),
        ("acos", &[0.3, -0.6]),
        ("pnorm", &[0.3, -1.2]),
        ("log_pnorm", &[-6.5, 1.2]),
        ("qnorm", &[0.03, 0.8]),
    ];
    for &(name, at) in cases {
        // A vector input, weighted so the Hessian is not trivially diagonal-equal.
        let f = move |p: &[Var]| {
            let y = record::unary(name, &p[0]).unwrap();
            let w = Var::constant(v(&[1.5, -0.7]));
            sum(record::binary("*", &y, &w).unwrap())
        };
        check(name, &f, &[v(at)]);
    }
}

#[test]
fn binary_operators_match_finite_differences_with_broadcasting() {
    for op in ["+", "-", "*", "/", "^"] {
        let f = move |p: &[Var]| sum(record::binary(op, &p[0], &p[1]).unwrap());
        // equal shapes, scalar with vector, vector with scalar, vector with matrix
        check(op, &f, &[v(&[1.3, 0.4, 2.0]), v(&[0.5, 1.7, -0.6])]);
        check(op, &f, &[s(1.3), v(&[0.5, 1.7, 2.1])]);
        check(op, &f, &[v(&[1.3, 0.4, 2.0]), s(0.7)]);
        check(op, &f, &[v(&[1.3, 0.4, 2.0, 0.9]), m(2, 2, &[0.5, 1.7, 0.6, 1.1])]);
        // composed with itself: a single node used twice
        let g = move |p: &[Var]| sum(record::binary(op, &p[0], &p[0]).unwrap());
        check(op, &g, &[v(&[1.3, 0.4])]);
    }
}

#[test]
fn power_with_constant_exponent_has_finite_hessian_at_negative_base() {
    let f = |p: &[Var]| sum(record::binary("^", &p[0], &Var::constant(s(3.0))).unwrap());
    check("x^3", &f, &[v(&[-1.5, 2.0])]);
}

#[test]
fn reductions_match_finite_differences() {
    let x = [v(&[1.3, -0.4, 2.0, 0.7])];
    let sq = |p: &[Var]| record::binary("*", &p[0], &p[0]).unwrap();
    check("sum", &|p: &[Var]| record::sum(&sq(p)).unwrap(), &x);
    check("mean", &|p: &[Var]| record::mean(&sq(p)).unwrap(), &x);
    check("prod", &|p: &[Var]| record::prod(&p[0]).unwrap(), &x);
    check("prod with a zero", &|p: &[Var]| record::prod(&p[0]).unwrap(), &[v(&[1.3, 0.0, 2.0, 0.7])]);
    check("logsumexp", &|p: &[Var]| record::logsumexp(&sq(p)).unwrap(), &x);
}

#[test]
fn matrix_operations_match_finite_differences() {
    let a = m(3, 2, &[1.0, -0.5, 2.0, 0.3, 1.1, -1.4]);
    let b = m(2, 2, &[0.4, 1.2, -0.8, 0.6]);
    let quartic = |x: Var| sum(record::binary("^", &x, &Var::constant(s(2.0))).unwrap());
    let f = move |p: &[Var]| quartic(record::matmul(&p[0], &p[1]).unwrap());
    check("%*%", &f, &[a.clone(), b.clone()]);
    let g = move |p: &[Var]| quartic(record::transpose(&p[0]).unwrap());
    check("t", &g, &[a.clone()]);
    let h = move |p: &[Var]| {
        let c = record::matmul(&record::transpose(&p[0]).unwrap(), &p[0]).unwrap();
        record::logsumexp(&c).unwrap()
    };
    check("crossprod", &h, &[a.clone()]);
    let mv = move |p: &[Var]| quartic(record::matmul(&p[0], &p[1]).unwrap());
    check("matrix %*% vector", &mv, &[a, v(&[0.5, -1.0])]);
}

#[test]
fn gather_scatters_gradients_back() {
    let f = |p: &[Var]| {
        let g = record::gather(&p[0], vec![2, 0, 2]).unwrap();
        sum(record::binary("*", &g, &g).unwrap())
    };
    check("[", &f, &[v(&[1.0, 2.0, 3.0])]);
}

#[test]
fn quadratic_form_has_hessian_a_plus_a_transpose() {
    let a = [2.0, 1.0, -3.0, 0.5, 4.0, 1.5, 0.0, -2.0, 1.0];
    let f = move |p: &[Var]| {
        let av = record::matmul(&Var::constant(m(3, 3, &a)), &p[0]).unwrap();
        sum(record::binary("*", &p[0], &av).unwrap())
    };
    let params = leaves(&[v(&[0.3, -1.0, 2.0])]);
    let h = second_order(&f(&params), &params, None).unwrap().hessian_times;
    for i in 0..3 {
        for j in 0..3 {
            assert!((h.col(j)[i] - (a[i + 3 * j] + a[j + 3 * i])).abs() < 1e-12);
        }
    }
}

#[test]
fn matrix_product_tangents_along_unit_directions_are_columns_of_a() {
    // A leaf's tangents are columns of the identity, for which %*% copies
    // columns of A instead of multiplying; other directions take the
    // general product. Both must give A Bdot.
    let a = m(4, 3, &[1.0, -0.5, 2.0, 0.3, 1.1, -1.4, 0.7, 2.5, -3.0, 0.2, 0.9, -1.1]);
    let a_var = Var::constant(a.clone());
    // B a vector (the regression case, with a second leaf whose directions
    // are zero for B) and B a matrix (unit directions at (row, column)).
    for b in [v(&[0.4, 1.2, -0.8]), m(3, 2, &[0.4, 1.2, -0.8, 0.6, -0.1, 2.0])] {
        let params = leaves(&[b.clone(), s(0.5)]);
        let c = record::matmul(&a_var, &params[0]).unwrap();
        let j = jacobian(&c, &params).unwrap();
        let (k, n) = b.shape.as_matrix();
        let rows = 4 * n;
        assert_eq!(j.shape, Shape::matrix(rows, k * n + 1));
        for q in 0..k * n {
            let (row_b, col_b) = (q % k, q / k);
            for r in 0..rows {
                let (row_c, col_c) = (r % 4, r / 4);
                let want = if col_c == col_b { a.data[row_c + 4 * row_b] } else { 0.0 };
                assert_eq!(j.data[r + q * rows], want, "d C[{row_c},{col_c}] / d B[{row_b},{col_b}]");
            }
        }
        assert!(j.data[k * n * rows..].iter().all(|&x| x == 0.0));
        // Directions that are not unit vectors: H D = (H e1) * 2 + (H e2) * -1
        // for the scalar sum(C^2), through the general product.
        let f = |p: &[Var]| {
            let c = record::matmul(&a_var, &p[0]).unwrap();
            sum(record::binary("*", &c, &c).unwrap())
        };
        let params = leaves(std::slice::from_ref(&b));
        let full = second_order(&f(&params), &params, None).unwrap().hessian_times;
        let mut dir = vec![0.0; k * n];
        dir[0] = 2.0;
        dir[1] = -1.0;
        let hd = second_order(&f(&params), &params, Some(&crate::batch::Batch::from_data(k * n, 1, dir)))
            .unwrap()
            .hessian_times;
        for i in 0..k * n {
            let want = 2.0 * full.col(0)[i] - full.col(1)[i];
            assert!((hd.data[i] - want).abs() <= 1e-12 * want.abs().max(1.0));
        }
    }
}

#[test]
fn lent_data_keeps_its_owner_alive_until_the_last_value_goes() {
    use crate::tensor::Data;
    use std::cell::Cell;
    use std::rc::Rc;
    // An owner that says when it is dropped.
    struct Owner(Vec<f64>, Rc<Cell<bool>>);
    impl Drop for Owner {
        fn drop(&mut self) {
            self.1.set(true);
        }
    }
    let dropped = Rc::new(Cell::new(false));
    let owner = Owner(vec![1.0, 2.0, 3.0], Rc::clone(&dropped));
    let (ptr, len) = (owner.0.as_ptr(), owner.0.len());
    let data = unsafe { Data::lent(ptr, len, Box::new(owner)) };
    let x = Var::leaf(crate::tensor::Tensor::vector(data.clone()));
    drop(data);
    let y = sum(record::binary("*", &x, &x).unwrap());
    assert_eq!(y.value().data[0], 14.0);
    assert!(!dropped.get());
    backward(&y).unwrap();
    assert_eq!(x.grad(), vec![2.0, 4.0, 6.0]);
    drop(x);
    assert!(!dropped.get(), "the graph of y still holds x");
    drop(y);
    assert!(dropped.get());
}

#[test]
fn batch_buffers_are_reused_zeroed_only_while_a_guard_is_alive() {
    use crate::batch::{reuse_buffers, Batch};
    let (rows, dirs) = (1 << 14, 4);
    let dirty = |b: &mut Batch| b.data.iter_mut().for_each(|v| *v = 7.0);
    {
        let _outer = reuse_buffers();
        let mut a = Batch::zeros(rows, dirs);
        dirty(&mut a);
        let at = a.data.as_ptr();
        drop(a);
        {
            let _inner = reuse_buffers();
            let b = Batch::zeros(rows, dirs);
            assert_eq!(b.data.as_ptr(), at, "the spare buffer is reused");
            assert!(b.data.iter().all(|&v| v == 0.0), "and handed out zeroed");
            assert_eq!(b.data.len(), rows * dirs);
            let mut c = Batch::zeros(rows, dirs); // no spare left: a new one
            assert_ne!(c.data.as_ptr(), at);
            dirty(&mut c);
        }
        // Still kept after the inner guard: the outer one is alive.
        let d = Batch::zeros(rows / 2 + 1, dirs * 2 - 1);
        assert!(d.data.iter().all(|&v| v == 0.0));
    }
    // Results do not depend on reuse: a Hessian under a guard, twice.
    let f = |p: &[Var]| sum(record::unary("exp", &record::binary("*", &p[0], &p[0]).unwrap()).unwrap());
    let point = [v(&(0..(1 << 13)).map(|i| (i % 17) as f64 / 40.0).collect::<Vec<_>>())];
    let params = leaves(&point);
    let d = crate::batch::Batch::from_data(1 << 13, 1, vec![1.0; 1 << 13]);
    let plain = second_order(&f(&params), &params, Some(&d)).unwrap();
    let _guard = reuse_buffers();
    for _ in 0..2 {
        let reused = second_order(&f(&params), &params, Some(&d)).unwrap();
        assert_eq!(reused.hessian_times, plain.hessian_times);
    }
}

#[test]
fn jacobian_of_elementwise_map_is_diagonal() {
    let params = leaves(&[v(&[0.5, 1.5])]);
    let y = record::unary("exp", &params[0]).unwrap();
    let j = jacobian(&y, &params).unwrap();
    assert_eq!(j.shape, Shape::matrix(2, 2));
    assert!((j.data[0] - 0.5f64.exp()).abs() < 1e-15 && j.data[1] == 0.0);
    assert!(j.data[2] == 0.0 && (j.data[3] - 1.5f64.exp()).abs() < 1e-15);
}

#[test]
fn shape_mismatch_is_an_error_naming_both_shapes() {
    let a = Var::leaf(v(&[1.0, 2.0, 3.0]));
    let b = Var::leaf(v(&[1.0, 2.0]));
    let err = record::binary("+", &a, &b).unwrap_err();
    assert_eq!(err.0, "+: cannot combine shapes vector[3] and vector[2] (need equal shapes, or one of length 1)");
    let err = record::matmul(&Var::leaf(m(2, 3, &[0.0; 6])), &Var::leaf(m(2, 3, &[0.0; 6]))).unwrap_err();
    assert!(err.0.contains("matrix[2x3] and matrix[2x3]"), "{}", err.0);
}

#[test]
fn long_chain_runs_backward_and_drops_without_stack_overflow() {
    let x = Var::leaf(s(1.0));
    let mut y = x.clone();
    let step = Var::constant(s(1e-6));
    for _ in 0..1_000_000 {
        y = record::binary("+", &y, &step).unwrap();
    }
    backward(&y).unwrap();
    assert_eq!(x.grad(), vec![1.0]);
    drop(y); // the iterative Drop must free a million nodes without recursing
}

/// Scalar nodes take the sweeps' fast path (partials, no arrays); the same
/// function on 2-vectors takes each rule's general path. Both against
/// finite differences, and against each other.
#[test]
fn scalar_fast_path_matches_finite_differences_and_the_array_path() {
    fn model(p: &[Var]) -> Var {
        let (a, b) = (&p[0], &p[1]);
        let bin = |op, x: &Var, y: &Var| record::binary(op, x, y).unwrap();
        let un = |name, x: &Var| record::unary(name, x).unwrap();
        let a2 = bin("*", a, a); // one node used twice
        let q = bin("/", &un("exp", a), b);
        let r = bin("^", b, a);
        let cube = record::binary("^", a, 3.0).unwrap(); // constant exponent, a < 0 below
        let t = bin("-", &un("log", b), &un("tanh", &bin("+", &a2, &q)));
        sum(bin("+", &bin("+", &t, &r), &bin("*", &cube, b)))
    }
    let at = [(-0.7, 1.3), (0.4, 2.2)];
    for (a, b) in at {
        check("scalar model", &model, &[s(a), s(b)]);
    }
    let scalar = leaves(&[s(at[0].0), s(at[0].1)]);
    let fast = second_order(&model(&scalar), &scalar, None).unwrap();
    // On 2-vectors holding the same numbers twice, every derivative doubles.
    let vectors = leaves(&[v(&[at[0].0, at[0].0]), v(&[at[0].1, at[0].1])]);
    let general = second_order(&model(&vectors), &vectors, None).unwrap();
    let close = |x: f64, y: f64| (x - y).abs() <= 1e-12 * (1.0 + x.abs());
    for (i, j) in [(0, 0), (0, 2), (2, 0), (2, 2)] {
        // Parameter a is elements 0-1 of the vector run, b is 2-3.
        let ga = general.gradient[i] + general.gradient[i + 1];
        assert!(close(2.0 * fast.gradient[i / 2], ga), "gradient {i}: {} vs {ga}", fast.gradient[i / 2]);
        let gh: f64 = [0, 1].iter().flat_map(|&di| [0, 1].map(|dj| general.hessian_times.col(j + dj)[i + di])).sum();
        let fh = fast.hessian_times.col(j / 2)[i / 2];
        assert!(close(2.0 * fh, gh), "H[{i},{j}]: {fh} vs {gh}");
    }
}

#[test]
fn solve_and_logdet_match_finite_differences() {
    let a = m(3, 3, &[2.0, 0.3, -0.4, 0.5, 1.7, 0.2, -0.1, 0.6, 2.4]);
    let b = v(&[0.7, -1.1, 0.4]);
    let bm = m(3, 2, &[0.7, -1.1, 0.4, 0.2, 0.9, -0.5]);
    // sum of a weighted solution, so every entry matters differently
    let weighted = |y: Var, k: usize| {
        let w: Vec<f64> = (0..3 * k).map(|i| 1.0 + 0.3 * i as f64).collect();
        let w = Var::constant(if k == 1 { v(&w) } else { m(3, k, &w) });
        sum(record::binary("*", &y, &w).unwrap())
    };
    let f = |p: &[Var]| weighted(record::solve(&p[0], &p[1]).unwrap(), 1);
    check("solve(A, b)", &f, &[a.clone(), b.clone()]);
    let g = |p: &[Var]| weighted(record::solve(&p[0], &p[1]).unwrap(), 2);
    check("solve(A, B)", &g, &[a.clone(), bm]);
    // A with a constant right-hand side, and A inside the right-hand side too
    let h = |p: &[Var]| {
        let y = record::solve(&p[0], &Var::constant(v(&[1.0, 2.0, 3.0]))).unwrap();
        record::binary("*", &sum(y), &record::logdet(&p[0]).unwrap()).unwrap()
    };
    check("logdet(A) * sum(solve(A, c))", &h, &[a.clone()]);
    // a negative determinant: log |det| and its derivatives are unchanged
    let neg = m(2, 2, &[0.5, 2.0, 1.5, -0.3]);
    check("logdet", &|p: &[Var]| record::logdet(&p[0]).unwrap(), &[neg]);
}

#[test]
fn solve_refuses_singular_and_mismatched_systems() {
    let singular = Var::leaf(m(2, 2, &[1.0, 2.0, 2.0, 4.0]));
    let err = record::solve(&singular, &Var::leaf(v(&[1.0, 1.0]))).unwrap_err();
    assert!(err.0.contains("singular"), "{}", err.0);
    let a = Var::leaf(m(2, 2, &[1.0, 0.0, 0.0, 1.0]));
    let err = record::solve(&a, &Var::leaf(v(&[1.0, 1.0, 1.0]))).unwrap_err();
    assert!(err.0.contains("solve: a is"), "{}", err.0);
    let err = record::logdet(&Var::leaf(v(&[1.0, 2.0]))).unwrap_err();
    assert!(err.0.contains("square"), "{}", err.0);
}

/// A = B B' + 3 I: symmetric positive definite for any B, so every entry of
/// B (the parameters) moves both triangles of A together.
fn spd_from(b: &Var) -> Var {
    let bbt = record::matmul(b, &record::transpose(b).unwrap()).unwrap();
    let n = b.value().shape.as_matrix().0;
    let eye: Vec<f64> = (0..n * n).map(|q| if q % (n + 1) == 0 { 3.0 } else { 0.0 }).collect();
    record::binary("+", &bbt, Var::constant(m(n, n, &eye))).unwrap()
}

/// sum(w * y) with weights 1, 1.3, 1.6, ..., so every entry matters differently.
fn weighted_sum(y: &Var) -> Var {
    let shape = y.value().shape;
    let w: Vec<f64> = (0..shape.numel()).map(|i| 1.0 + 0.3 * i as f64).collect();
    sum(record::binary("*", y, Var::constant(Tensor::new(shape, w).unwrap())).unwrap())
}

#[test]
fn chol_matches_its_closed_form_and_reads_the_upper_triangle() {
    // R = [2 1 -1; 0 3 0.5; 0 0 1.5] and A = R'R, worked out by hand.
    let r = [2.0, 0.0, 0.0, 1.0, 3.0, 0.0, -1.0, 0.5, 1.5];
    let a = [4.0, 2.0, -2.0, 2.0, 10.0, 0.5, -2.0, 0.5, 3.5];
    let got = record::chol(&Var::leaf(m(3, 3, &a))).unwrap().value();
    assert_eq!(got.shape, Shape::matrix(3, 3));
    for (x, y) in got.data.iter().zip(&r) {
        assert!((x - y).abs() < 1e-14, "chol(A) is {:?}, not {r:?}", got.data);
    }
    // Like R, only the upper triangle is read.
    let mut junk = a;
    junk[1] = 99.0;
    junk[5] = -7.0;
    assert_eq!(record::chol(&Var::leaf(m(3, 3, &junk))).unwrap().value().data, got.data);
    // A number is a 1 x 1 matrix.
    let one = record::chol(&Var::leaf(s(4.0))).unwrap().value();
    assert_eq!((one.shape, one.data[0]), (Shape::matrix(1, 1), 2.0));
}

#[test]
fn chol_matches_finite_differences() {
    let b = m(3, 3, &[0.8, -0.3, 0.5, 0.2, 1.1, -0.7, -0.4, 0.6, 0.9]);
    let c = v(&[0.7, -1.1, 0.4]);
    let chol = |p: &[Var]| record::chol(&spd_from(&p[0])).unwrap();
    // every entry of R, the zeros below the diagonal included
    check("sum(w * chol(A))", &|p: &[Var]| weighted_sum(&chol(p)), std::slice::from_ref(&b));
    // a product of entries, so that the Hessian has a second-order adjoint to carry
    let product = |p: &[Var]| {
        let r = chol(p);
        let r12 = record::gather(&r, vec![3]).unwrap();
        record::binary("*", weighted_sum(&r), &r12).unwrap()
    };
    check("sum(w * chol(A)) * chol(A)[1, 2]", &product, std::slice::from_ref(&b));
    let half_logdet = |p: &[Var]| {
        let diag = record::gather(&chol(p), vec![0, 4, 8]).unwrap();
        sum(record::unary("log", &diag).unwrap())
    };
    check("sum(log(diag(chol(A))))", &half_logdet, std::slice::from_ref(&b));
    let solved = |p: &[Var]| weighted_sum(&record::solve(&chol(p), &p[1]).unwrap());
    check("solve(chol(A), c)", &solved, &[b.clone(), c]);

    // sum(log(diag(R))) is logdet(A) / 2: value, gradient and Hessian.
    let logdet = |p: &[Var]| record::binary("*", record::logdet(&spd_from(&p[0])).unwrap(), 0.5).unwrap();
    let x = leaves(&[b]);
    let ours = second_order(&half_logdet(&x), &x, None).unwrap();
    let closed = second_order(&logdet(&x), &x, None).unwrap();
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-10 * (1.0 + a.abs());
    assert!(close(ours.value, closed.value), "{} vs {}", ours.value, closed.value);
    for (i, (a, b)) in ours.gradient.iter().zip(&closed.gradient).enumerate() {
        assert!(close(*a, *b), "gradient {i}: {a} vs {b}");
    }
    for (i, (a, b)) in ours.hessian_times.data.iter().zip(&closed.hessian_times.data).enumerate() {
        assert!(close(*a, *b), "Hessian entry {i}: {a} vs {b}");
    }
}

#[test]
fn chol_refuses_non_square_and_indefinite_matrices() {
    let err = record::chol(&Var::leaf(m(2, 3, &[1.0; 6]))).unwrap_err();
    assert_eq!(err.0, "chol: a must be a square matrix, got matrix[2x3]");
    let err = record::chol(&Var::leaf(v(&[1.0, 2.0]))).unwrap_err();
    assert_eq!(err.0, "chol: a must be a square matrix, got vector[2]");
    let indefinite = Var::leaf(m(2, 2, &[1.0, 2.0, 2.0, 1.0]));
    let err = record::chol(&indefinite).unwrap_err();
    assert_eq!(err.0, "chol: the 2 x 2 matrix is not positive definite");
}

#[test]
fn chol_gives_a_symmetric_leaf_a_symmetric_adjoint_that_matches_finite_differences() {
    // A itself the parameter: the finite differences move A along symmetric
    // directions E_ij + E_ji, which is all a symmetric A can do.
    let a = m(3, 3, &[4.0, 1.0, -0.5, 1.0, 3.0, 0.7, -0.5, 0.7, 2.5]);
    let f = |x: &Var| {
        let r = record::chol(x).unwrap();
        record::binary("*", weighted_sum(&r), record::gather(&r, vec![7]).unwrap()).unwrap()
    };
    let at = |data: &[f64]| {
        let x = Var::leaf(m(3, 3, data));
        value_and_gradient(&f(&x), std::slice::from_ref(&x)).unwrap()
    };
    let pairs: Vec<(usize, usize)> = (0..3).flat_map(|j| (0..=j).map(move |i| (i, j))).collect();
    let mut dirs = Batch::zeros(9, pairs.len());
    for (d, &(i, j)) in pairs.iter().enumerate() {
        dirs.col_mut(d)[i + 3 * j] = 1.0;
        dirs.col_mut(d)[j + 3 * i] = 1.0;
    }
    let x = Var::leaf(a.clone());
    let so = second_order(&f(&x), std::slice::from_ref(&x), Some(&dirs)).unwrap();
    let g = &so.gradient;
    let close = |x: f64, y: f64, tol: f64| (x - y).abs() <= tol * (1.0 + x.abs().max(y.abs()));
    for &(i, j) in &pairs {
        assert!(close(g[i + 3 * j], g[j + 3 * i], 1e-14), "adjoint not symmetric at [{i},{j}]: {g:?}");
    }
    let h = 1e-6;
    for (d, &(i, j)) in pairs.iter().enumerate() {
        let shifted = |sign: f64| -> Vec<f64> {
            a.data.iter().zip(dirs.col(d)).map(|(x, e)| x + sign * h * e).collect()
        };
        let ((fu, gu), (fd, gd)) = (at(&shifted(1.0)), at(&shifted(-1.0)));
        let slope: f64 = g.iter().zip(dirs.col(d)).map(|(x, e)| x * e).sum();
        assert!(close(slope, (fu - fd) / (2.0 * h), 1e-6), "slope along E_{i}{j} + E_{j}{i}");
        for q in 0..9 {
            let fd_hd = (gu[q] - gd[q]) / (2.0 * h);
            let hd = so.hessian_times.col(d)[q];
            assert!(close(hd, fd_hd, 1e-5), "H (E_{i}{j} + E_{j}{i}) at {q}: {hd} vs {fd_hd}");
        }
    }
}

#[test]
fn constant_powers_zero_and_one_have_their_polynomial_derivatives_at_zero() {
    for (b, d1, d2) in [(0.0, 0.0, 0.0), (1.0, 1.0, 0.0), (2.0, 0.0, 2.0)] {
        let f = move |p: &[Var]| sum(record::binary("^", &p[0], b).unwrap());
        let x = leaves(&[s(0.0)]);
        let so = second_order(&f(&x), &x, None).unwrap();
        assert_eq!(so.gradient, vec![d1], "d/dx x^{b} at 0");
        assert_eq!(so.hessian_times.data, vec![d2], "d2/dx2 x^{b} at 0");
        let v = leaves(&[v(&[0.0, 0.0])]);
        let so = second_order(&f(&v), &v, None).unwrap();
        assert_eq!(so.gradient, vec![d1, d1], "array path, x^{b}");
    }
}

#[test]
fn an_allocation_failure_inside_a_sweep_is_an_error_and_other_panics_unwind() {
    use crate::batch::{fallible, AllocationFailed};
    let failed: crate::Result<()> =
        fallible("hessian", || std::panic::resume_unwind(Box::new(AllocationFailed { numbers: 9 * 10usize.pow(8) })));
    let msg = failed.unwrap_err().0;
    assert!(msg.starts_with("hessian: cannot allocate 7.20 GB for the derivatives' tangents (900000000 numbers)"), "{msg}");
    assert_eq!(fallible("hessian", || Ok(3)).unwrap(), 3);
    let other = std::panic::catch_unwind(|| fallible("hessian", || -> crate::Result<()> { std::panic::resume_unwind(Box::new(7)) }));
    assert_eq!(*other.unwrap_err().downcast::<i32>().unwrap(), 7);
}

#[test]
fn numbers_in_messages_are_spelled_as_r_prints_them() {
    use crate::error::{count_of, na_real, show_number};
    assert_eq!(show_number(na_real()), "NA");
    assert!(na_real().is_nan());
    assert_eq!(show_number(f64::NAN), "NaN");
    assert_eq!(show_number(f64::INFINITY), "Inf");
    assert_eq!(show_number(f64::NEG_INFINITY), "-Inf");
    assert_eq!(show_number(2.0), "2");
    assert_eq!(show_number(2.5), "2.5");
    assert_eq!(count_of(1, "number"), "1 number");
    assert_eq!(count_of(0, "number"), "0 numbers");
    assert_eq!(count_of(3, "number"), "3 numbers");
    assert_eq!(crate::error::there_are(1, "parameter"), "is 1 parameter");
    assert_eq!(crate::error::there_are(2, "parameter"), "are 2 parameters");
}
