//! The Hessian's structural pattern (`hessian_pattern.rs`) against the
//! Hessian itself: what the pattern leaves out must be exactly zero in the
//! forward-over-reverse Hessian at arbitrary points, and on models whose
//! pattern is known in closed form it must be that pattern (not merely a
//! superset: a dense answer would pass the first check and defeat the purpose).

use crate::hessian_pattern::hessian_pattern;
use crate::record;
use crate::second_order::second_order;
use crate::tape::Var;
use crate::tensor::{Shape, Tensor};

fn c(x: Vec<f64>) -> Var {
    Var::constant(Tensor::vector(x))
}

/// Every non-zero of the exact Hessian of `root` in `params` lies in the pattern.
fn assert_covers(root: &Var, params: &[Var], pattern: &[(u32, u32)]) {
    let so = second_order(root, params, None).unwrap();
    let p = so.gradient.len();
    for j in 0..p {
        for i in j..p {
            let h = so.hessian_times.col(j)[i];
            if h != 0.0 {
                assert!(pattern.contains(&(i as u32, j as u32)), "H[{i}, {j}] = {h} is outside the pattern {pattern:?}");
            }
        }
    }
}

/// A Poisson GLMM's joint log density: effects of different groups never meet.
#[test]
fn a_random_intercept_model_has_a_diagonal_pattern() {
    let beta = Var::leaf(Tensor::scalar(0.3));
    let log_sd = Var::leaf(Tensor::scalar(-0.2));
    let u = Var::leaf(Tensor::vector(vec![0.1, -0.4, 0.25, 0.7]));
    let y = c(vec![1.0, 0.0, 3.0, 2.0, 1.0, 4.0]);
    let eta = record::binary("+", &beta, &record::gather(&u, vec![0, 0, 1, 2, 2, 3]).unwrap()).unwrap();
    let fit = record::binary("-", &record::binary("*", &y, &eta).unwrap(), &record::unary("exp", &eta).unwrap()).unwrap();
    let z = record::binary("/", &u, &record::unary("exp", &log_sd).unwrap()).unwrap();
    let prior = record::binary("*", -0.5, &record::binary("^", &z, 2.0).unwrap()).unwrap();
    let f = record::binary("+", &record::sum(&fit).unwrap(), &record::sum(&prior).unwrap()).unwrap();
    let pattern = hessian_pattern(&f, std::slice::from_ref(&u), 1 << 20).unwrap().unwrap();
    assert_eq!(pattern, vec![(0, 0), (1, 1), (2, 2), (3, 3)]);
    // in all parameters, the fixed ones couple with everything
    let all = [beta.clone(), log_sd.clone(), u.clone()];
    let full = hessian_pattern(&f, &all, 1 << 20).unwrap().unwrap();
    assert_covers(&f, &all, &full);
}

/// exp(u0) + exp(u1) + u0 u1 + (u2 - u3)^2 + u4 / 2: the pairs each term makes, and no others.
#[test]
fn each_operation_couples_what_its_second_derivatives_couple() {
    let u = Var::leaf(Tensor::vector(vec![0.3, -0.2, 0.5, 1.5, 0.8]));
    let head = record::gather(&u, vec![0, 1]).unwrap();
    let u0 = record::gather(&u, vec![0]).unwrap();
    let u1 = record::gather(&u, vec![1]).unwrap();
    let diff = record::binary("-", &record::gather(&u, vec![2]).unwrap(), &record::gather(&u, vec![3]).unwrap()).unwrap();
    let terms = [
        record::sum(&record::unary("exp", &head).unwrap()).unwrap(),
        record::binary("*", &u0, &u1).unwrap(),
        record::binary("^", &diff, 2.0).unwrap(),
        record::binary("/", &record::gather(&u, vec![4]).unwrap(), 2.0).unwrap(),
    ];
    let f = terms.iter().skip(1).fold(terms[0].clone(), |acc, t| record::binary("+", &acc, t).unwrap());
    let pattern = hessian_pattern(&f, std::slice::from_ref(&u), 1 << 20).unwrap().unwrap();
    assert_eq!(pattern, vec![(0, 0), (1, 0), (1, 1), (2, 2), (3, 2), (3, 3), (4, 4)]);
    assert_covers(&f, &[u], &pattern);
}

/// Z %*% u with a data matrix Z: effects that share a row of Z meet, others not;
/// with Z a value that depends on a parameter, its zeros are not structural.
#[test]
fn a_data_matrix_keeps_its_zeros() {
    let u = Var::leaf(Tensor::vector(vec![0.3, -0.2, 0.5, 0.1]));
    // rows: (1, 0, 0, 2), (0, 1, 0, 0), (0, 0, 3, 0); column-major 3 x 4
    let z_data = vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 3.0, 2.0, 0.0, 0.0];
    let z = Var::constant(Tensor::new(Shape::matrix(3, 4), z_data.clone()).unwrap());
    let f = record::sum(&record::unary("exp", &record::matmul(&z, &u).unwrap()).unwrap()).unwrap();
    let pattern = hessian_pattern(&f, std::slice::from_ref(&u), 1 << 20).unwrap().unwrap();
    assert_eq!(pattern, vec![(0, 0), (3, 0), (1, 1), (2, 2), (3, 3)]);
    assert_covers(&f, std::slice::from_ref(&u), &pattern);

    let scale = Var::leaf(Tensor::scalar(1.5));
    let z_moving = record::binary("*", &z, &scale).unwrap();
    let g = record::sum(&record::unary("exp", &record::matmul(&z_moving, &u).unwrap()).unwrap()).unwrap();
    let pattern = hessian_pattern(&g, std::slice::from_ref(&u), 1 << 20).unwrap().unwrap();
    assert_eq!(pattern.len(), 10, "every pair of 4 effects: {pattern:?}");
}

/// An operation with no rule of its own (logsumexp) couples all it reads;
/// past the limit the pattern is given up as dense.
#[test]
fn operations_without_a_rule_are_conservative_and_the_limit_holds() {
    let u = Var::leaf(Tensor::vector(vec![0.3, -0.2, 0.5]));
    let f = record::logsumexp(&u).unwrap();
    let pattern = hessian_pattern(&f, std::slice::from_ref(&u), 1 << 20).unwrap().unwrap();
    assert_eq!(pattern.len(), 6);
    assert_covers(&f, std::slice::from_ref(&u), &pattern);
    assert!(hessian_pattern(&f, &[u], 4).unwrap().is_none());
}

/// c() and t() carry each element's dependence to its new place.
#[test]
fn concatenation_and_transpose_move_dependence_with_the_numbers() {
    let u = Var::leaf(Tensor::vector(vec![0.3, -0.2, 0.5, 0.9]));
    let a = record::gather(&u, vec![0, 1]).unwrap();
    let b = record::gather(&u, vec![2, 3]).unwrap();
    let joined = record::concat(&[a, c(vec![1.0]), b], Shape::vector(5)).unwrap();
    let m = record::gather_shaped(&joined, vec![0, 1, 3, 4], Shape::matrix(2, 2)).unwrap();
    let mt = record::transpose(&m).unwrap();
    // m = [u0 u2; u1 u3], so m' = [u0 u1; u2 u3]: its first column (u0, u2)
    // times its second (u1, u3) couples u0 with u1 and u2 with u3 (a transpose
    // that left the numbers in place would couple u0 with u2 instead)
    let col = record::gather(&mt, vec![0, 1]).unwrap();
    let other = record::gather(&mt, vec![2, 3]).unwrap();
    let f = record::sum(&record::binary("*", &col, &other).unwrap()).unwrap();
    let pattern = hessian_pattern(&f, std::slice::from_ref(&u), 1 << 20).unwrap().unwrap();
    assert_covers(&f, std::slice::from_ref(&u), &pattern);
    assert_eq!(pattern, vec![(0, 0), (1, 0), (1, 1), (2, 2), (3, 2), (3, 3)]);
}
