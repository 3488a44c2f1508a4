//! Dense symmetric linear algebra for the optimisers and for standard
//! errors, on top of faer. Every matrix is p x p, column-major, as R stores
//! it, passed as a plain `&[f64]` of length p * p.
//!
//! The inputs are Hessians (or their negatives) from automatic
//! differentiation or from R callbacks: symmetric up to rounding. Each
//! function first symmetrises its input, (A + A') / 2, so the result does not
//! depend on which triangle faer reads. Non-finite entries never reach faer:
//! such a matrix is "not positive definite" and has no eigenvalues.

use faer::linalg::solvers::{DenseSolveCore, Solve};
use faer::{Mat, Side};

/// Eigenvalues of -H below `RELATIVE_FLOOR * max |lambda|` are raised to it
/// in the safeguarded direction: the step along a (nearly) flat direction is
/// at most 10^8 times the step along the stiffest one.
const RELATIVE_FLOOR: f64 = 1e-8;

/// Absolute floor for the same, so that a tiny spectrum cannot divide by zero.
const ABSOLUTE_FLOOR: f64 = 1e-300;

/// The order p of a p x p matrix stored in `a`. A length that is not a
/// square is a programming error in the caller, not a user error.
fn order(a: &[f64]) -> usize {
    let p = (a.len() as f64).sqrt().round() as usize;
    assert_eq!(p * p, a.len(), "linalg: a matrix of length {} is not square", a.len());
    p
}

fn all_finite(x: &[f64]) -> bool {
    x.iter().all(|v| v.is_finite())
}

/// (A + A') / 2 as a faer matrix.
fn symmetrised(a: &[f64], p: usize) -> Mat<f64> {
    Mat::from_fn(p, p, |i, j| 0.5 * (a[i + j * p] + a[j + i * p]))
}

fn to_column_major(m: &Mat<f64>) -> Vec<f64> {
    let (r, c) = (m.nrows(), m.ncols());
    let mut out = Vec::with_capacity(r * c);
    for j in 0..c {
        for i in 0..r {
            out.push(m[(i, j)]);
        }
    }
    out
}

/// True when the (symmetrised) matrix has finite entries and a Cholesky
/// factorisation, i.e. every pivot is strictly positive.
pub fn is_positive_definite(a: &[f64]) -> bool {
    let p = order(a);
    all_finite(a) && (p == 0 || symmetrised(a, p).llt(Side::Lower).is_ok())
}

/// Solves A x = b by Cholesky. `None` when A is not positive definite (or
/// has non-finite entries, or the solution overflows).
pub fn cholesky_solve(a: &[f64], b: &[f64]) -> Option<Vec<f64>> {
    let p = b.len();
    assert_eq!(a.len(), p * p, "cholesky_solve: matrix of length {} for a right-hand side of length {p}", a.len());
    if p == 0 {
        return Some(Vec::new());
    }
    if !all_finite(a) || !all_finite(b) {
        return None;
    }
    let llt = symmetrised(a, p).llt(Side::Lower).ok()?;
    let rhs = Mat::from_fn(p, 1, |i, _| b[i]);
    let x = llt.solve(&rhs);
    let x: Vec<f64> = (0..p).map(|i| x[(i, 0)]).collect();
    all_finite(&x).then_some(x)
}

/// The inverse of a symmetric positive definite matrix via its Cholesky
/// factor (column-major, exactly symmetric). `None` when A is not positive
/// definite. With A = -H at a maximum of the log-likelihood, this is the
/// estimated covariance matrix of the estimates.
pub fn inverse_spd(a: &[f64]) -> Option<Vec<f64>> {
    let p = order(a);
    if p == 0 {
        return Some(Vec::new());
    }
    if !all_finite(a) {
        return None;
    }
    let llt = symmetrised(a, p).llt(Side::Lower).ok()?;
    let inv = to_column_major(&llt.inverse());
    all_finite(&inv).then_some(inv)
}

/// The covariance matrix of the estimates from the information matrix
/// (-H at the maximum): its inverse, or `None` when it is not positive
/// definite or is singular to working precision (an eigenvalue at most
/// 1e-12 of the largest), where the inverse would be huge but finite
/// numbers that pass for standard errors.
pub fn covariance_from_information(information: &[f64]) -> Option<Vec<f64>> {
    let eigenvalues = symmetric_eigenvalues(information)?;
    let largest = eigenvalues.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let smallest = eigenvalues.iter().fold(f64::INFINITY, |m, v| m.min(v.abs()));
    if !eigenvalues.is_empty() && (largest == 0.0 || smallest <= largest * 1e-12) {
        return None;
    }
    inverse_spd(information)
}

/// Eigenvalues of the (symmetrised) matrix in increasing order, `None` if
/// an entry is not finite or the eigen-solver does not converge.
pub fn symmetric_eigenvalues(a: &[f64]) -> Option<Vec<f64>> {
    let p = order(a);
    if p == 0 {
        return Some(Vec::new());
    }
    if !all_finite(a) {
        return None;
    }
    symmetrised(a, p).self_adjoint_eigenvalues(Side::Lower).ok()
}

/// Eigenvalues (increasing) and eigenvectors (columns, column-major) of the
/// symmetrised matrix.
pub(crate) fn symmetric_eigen(a: &[f64]) -> Option<(Vec<f64>, Vec<f64>)> {
    let p = order(a);
    if p == 0 {
        return Some((Vec::new(), Vec::new()));
    }
    if !all_finite(a) {
        return None;
    }
    let evd = symmetrised(a, p).self_adjoint_eigen(Side::Lower).ok()?;
    let values: Vec<f64> = (0..p).map(|i| evd.S()[i]).collect();
    let vectors = to_column_major(&evd.U().to_owned());
    (all_finite(&values) && all_finite(&vectors)).then_some((values, vectors))
}

/// How an ascent direction was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectionKind {
    /// The Newton step: -H is positive definite and (-H) d = g.
    Newton,
    /// -H is not positive definite: eigenvalues replaced by
    /// max(|lambda|, delta).
    Modified,
    /// -H is unusable (non-finite, zero, or the eigen-solver failed): d = g.
    Gradient,
}

/// The ascent direction and how it was obtained.
pub(crate) fn ascent_direction_kind(neg_hessian: &[f64], gradient: &[f64]) -> (Vec<f64>, DirectionKind) {
    let p = gradient.len();
    assert_eq!(
        neg_hessian.len(),
        p * p,
        "ascent_direction: matrix of length {} for a gradient of length {p}",
        neg_hessian.len()
    );
    let steepest = || (gradient.to_vec(), DirectionKind::Gradient);
    if !all_finite(gradient) || !all_finite(neg_hessian) {
        return steepest();
    }
    if let Some(d) = cholesky_solve(neg_hessian, gradient) {
        return (d, DirectionKind::Newton);
    }
    let Some((values, vectors)) = symmetric_eigen(neg_hessian) else { return steepest() };
    let largest = values.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    if largest == 0.0 {
        return steepest();
    }
    let delta = (RELATIVE_FLOOR * largest).max(ABSOLUTE_FLOOR);
    // d = U diag(1 / max(|lambda|, delta)) U' g
    let mut d = vec![0.0; p];
    for (k, lambda) in values.iter().enumerate() {
        let u = &vectors[k * p..(k + 1) * p];
        let coef = u.iter().zip(gradient).map(|(a, b)| a * b).sum::<f64>() / lambda.abs().max(delta);
        for (di, ui) in d.iter_mut().zip(u) {
            *di += coef * ui;
        }
    }
    if all_finite(&d) {
        (d, DirectionKind::Modified)
    } else {
        steepest()
    }
}

/// A direction d along which the log-likelihood increases (g'd > 0 unless
/// g = 0), given the negative Hessian -H and the gradient g.
///
/// When -H is positive definite this is the Newton step, the solution of
/// (-H) d = g by Cholesky. Otherwise -H = U diag(lambda) U' is replaced by
/// U diag(max(|lambda|, delta)) U' with delta = 1e-8 * max |lambda| (and an
/// absolute floor): positive definite, so d is an ascent direction, and near
/// a saddle it moves away from it along the directions of positive
/// curvature instead of towards it as the plain Newton step does. If -H is
/// not finite or is zero, d = g (steepest ascent).
pub fn ascent_direction(neg_hessian: &[f64], gradient: &[f64]) -> Vec<f64> {
    ascent_direction_kind(neg_hessian, gradient).0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol * (1.0 + y.abs()))
    }

    fn dot(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    // A = [[4, 2], [2, 3]] (column-major [4, 2, 2, 3]); det = 8,
    // A^{-1} = [[3, -2], [-2, 4]] / 8.
    const A: [f64; 4] = [4.0, 2.0, 2.0, 3.0];

    #[test]
    fn linalg_cholesky_solve_2x2() {
        // A x = (2, 1): x = A^{-1} (2, 1) = (6 - 2, -4 + 4) / 8 = (0.5, 0).
        let x = cholesky_solve(&A, &[2.0, 1.0]).unwrap();
        assert!(close(&x, &[0.5, 0.0], 1e-14), "{x:?}");
        let x = cholesky_solve(&A, &[1.0, 1.0]).unwrap();
        assert!(close(&x, &[0.125, 0.25], 1e-14), "{x:?}");
    }

    #[test]
    fn linalg_cholesky_solve_3x3() {
        // A = L L' with L = [[2,0,0],[1,3,0],[0.5,1,1]]:
        // A = [[4,2,1],[2,10,3.5],[1,3.5,2.25]]. With x = (1,-1,2):
        // b = A x = (4-2+2, 2-10+7, 1-3.5+4.5) = (4, -1, 2).
        let a = [4.0, 2.0, 1.0, 2.0, 10.0, 3.5, 1.0, 3.5, 2.25];
        let x = cholesky_solve(&a, &[4.0, -1.0, 2.0]).unwrap();
        assert!(close(&x, &[1.0, -1.0, 2.0], 1e-12), "{x:?}");
    }

    #[test]
    fn linalg_not_positive_definite() {
        let indefinite = [1.0, 2.0, 2.0, 1.0]; // eigenvalues 3, -1
        assert!(cholesky_solve(&indefinite, &[1.0, 1.0]).is_none());
        assert!(inverse_spd(&indefinite).is_none());
        assert!(!is_positive_definite(&indefinite));
        let singular = [1.0, 1.0, 1.0, 1.0];
        assert!(!is_positive_definite(&singular));
        assert!(inverse_spd(&[-1.0]).is_none());
        assert!(!is_positive_definite(&[f64::NAN, 0.0, 0.0, 1.0]));
        assert!(cholesky_solve(&[1.0, 0.0, 0.0, f64::INFINITY], &[1.0, 1.0]).is_none());
        assert!(is_positive_definite(&A));
        assert!(is_positive_definite(&[]));
    }

    #[test]
    fn linalg_inverse_spd() {
        let inv = inverse_spd(&A).unwrap();
        assert!(close(&inv, &[0.375, -0.25, -0.25, 0.5], 1e-14), "{inv:?}");
        let inv = inverse_spd(&[4.0]).unwrap();
        assert!(close(&inv, &[0.25], 1e-15));
        // diag(2, 5, 10)
        let d = [2.0, 0.0, 0.0, 0.0, 5.0, 0.0, 0.0, 0.0, 10.0];
        let inv = inverse_spd(&d).unwrap();
        assert!(close(&inv, &[0.5, 0.0, 0.0, 0.0, 0.2, 0.0, 0.0, 0.0, 0.1], 1e-15), "{inv:?}");
    }

    #[test]
    fn linalg_symmetrises_its_input() {
        // Lower triangle 2, upper triangle 2.2: treated as 2.1 both ways.
        let a = [4.0, 2.0, 2.2, 3.0];
        let b = [4.0, 2.1, 2.1, 3.0];
        assert_eq!(inverse_spd(&a), inverse_spd(&b));
    }

    #[test]
    fn linalg_eigenvalues() {
        // [[2, 1], [1, 2]] has eigenvalues 1 and 3.
        let ev = symmetric_eigenvalues(&[2.0, 1.0, 1.0, 2.0]).unwrap();
        assert!(close(&ev, &[1.0, 3.0], 1e-14), "{ev:?}");
        let ev = symmetric_eigenvalues(&[1.0, 2.0, 2.0, 1.0]).unwrap();
        assert!(close(&ev, &[-1.0, 3.0], 1e-14), "{ev:?}");
        assert!(symmetric_eigenvalues(&[f64::NAN]).is_none());
    }

    #[test]
    fn linalg_ascent_direction_newton_when_positive_definite() {
        let (d, kind) = ascent_direction_kind(&A, &[2.0, 1.0]);
        assert_eq!(kind, DirectionKind::Newton);
        assert!(close(&d, &[0.5, 0.0], 1e-14), "{d:?}");
    }

    #[test]
    fn linalg_ascent_direction_indefinite() {
        // -H = diag(-4, 2) (a saddle: f curves up in x), g = (1, 1).
        // The Newton step solves (-H) d = g: d = (-0.25, 0.5), g'd = 0.25;
        // with g = (1, 0.1) it is d = (-0.25, 0.05), g'd = -0.245 < 0, a
        // descent direction. The safeguarded step uses |lambda| = (4, 2):
        // d = (0.25, 0.05), g'd = 0.255 > 0.
        let neg_h = [-4.0, 0.0, 0.0, 2.0];
        let (d, kind) = ascent_direction_kind(&neg_h, &[1.0, 0.1]);
        assert_eq!(kind, DirectionKind::Modified);
        assert!(close(&d, &[0.25, 0.05], 1e-14), "{d:?}");
        assert!(dot(&d, &[1.0, 0.1]) > 0.0);

        // Rotated: -H = [[1, 2], [2, 1]] = U diag(-1, 3) U' with
        // U = [[1, 1], [-1, 1]] / sqrt(2). Replacing -1 by 1 gives
        // U diag(1, 3) U' = [[2, 1], [1, 2]], whose inverse is
        // [[2, -1], [-1, 2]] / 3; with g = (1, 0), d = (2/3, -1/3).
        let (d, kind) = ascent_direction_kind(&[1.0, 2.0, 2.0, 1.0], &[1.0, 0.0]);
        assert_eq!(kind, DirectionKind::Modified);
        assert!(close(&d, &[2.0 / 3.0, -1.0 / 3.0], 1e-13), "{d:?}");
    }

    #[test]
    fn linalg_ascent_direction_singular_and_degenerate() {
        // -H = diag(1, 0): the zero eigenvalue is floored at 1e-8.
        let (d, kind) = ascent_direction_kind(&[1.0, 0.0, 0.0, 0.0], &[1.0, 1e-8]);
        assert_eq!(kind, DirectionKind::Modified);
        assert!(close(&d, &[1.0, 1.0], 1e-12), "{d:?}");
        // Zero or non-finite Hessian: steepest ascent.
        let (d, kind) = ascent_direction_kind(&[0.0; 4], &[1.0, -2.0]);
        assert_eq!(kind, DirectionKind::Gradient);
        assert_eq!(d, vec![1.0, -2.0]);
        let (d, kind) = ascent_direction_kind(&[f64::NAN, 0.0, 0.0, 1.0], &[1.0, -2.0]);
        assert_eq!(kind, DirectionKind::Gradient);
        assert_eq!(d, vec![1.0, -2.0]);
        assert_eq!(ascent_direction(&[], &[]), Vec::<f64>::new());
    }

    #[test]
    fn linalg_ascent_direction_is_always_ascent() {
        // A fixed spread of symmetric 3 x 3 matrices, definite and not.
        let mut state = 12345_u64;
        let mut next = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        };
        for _ in 0..200 {
            let mut a = [0.0; 9];
            for j in 0..3 {
                for i in 0..=j {
                    let v = 10.0 * next();
                    a[i + 3 * j] = v;
                    a[j + 3 * i] = v;
                }
            }
            let g = [next(), next(), next()];
            let d = ascent_direction(&a, &g);
            assert!(dot(&g, &d) > 0.0, "not an ascent direction: A = {a:?}, g = {g:?}, d = {d:?}");
        }
    }

    #[test]
    fn linalg_covariance_refuses_singular_information() {
        // A^{-1} = [[3, -2], [-2, 4]] / 8
        let v = covariance_from_information(&A).unwrap();
        assert!(close(&v, &[0.375, -0.25, -0.25, 0.5], 1e-14), "{v:?}");
        // positive definite by Cholesky's test, singular to working precision
        let nearly_singular = [1.0, 0.0, 0.0, 1e-14];
        assert!(inverse_spd(&nearly_singular).is_some());
        assert!(covariance_from_information(&nearly_singular).is_none());
        assert!(covariance_from_information(&[0.0, 0.0, 0.0, 0.0]).is_none());
        assert!(covariance_from_information(&[1.0, 2.0, 2.0, 1.0]).is_none()); // indefinite
        assert!(covariance_from_information(&[1.0, f64::NAN, f64::NAN, 1.0]).is_none());
    }
}
