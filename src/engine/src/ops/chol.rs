//! Cholesky factor of a symmetric positive-definite matrix, as R's chol(A):
//! the upper triangular R with A = R'R (zeros below the diagonal). Like R,
//! the value reads only the upper triangle of A; the derivatives take A as
//! symmetric, so that the adjoint of A is symmetric and gradients are right
//! for any symmetric A built from parameters (A = B B' + D, covariance
//! matrices of random effects).
//!
//! With L = R' (lower), M = L^-1 and Φ(X) the lower triangle of X with its
//! diagonal halved:
//!   jvp:      Ldot = L Φ(M Adot M'),  Rdot = Ldot'   (Adot symmetrised first)
//!   vjp:      Lbar = Rbar',  P = Φ(L' Lbar),  S = M' P M,  Abar = (S + S')/2
//!   vjp_dot:  Mdot = -M Ldot M,  Pdot = Φ(Ldot' Lbar + L' Lbar_dot),
//!             Sdot = Mdot' P M + M' Pdot M + M' P Mdot
//!             Abar_dot = (Sdot + Sdot')/2
//! The matrices are small, so M is formed explicitly and every step is a
//! product of n x n matrices.
//!
//! As operations (`jvp_graph`), with S = (Adot + Adot')/2:
//!   C = solve(L, t(solve(L, S)))  (= M S M'),   Rdot = t(C * W) %*% R
//! where W is the constant mask of Φ (1 below the diagonal, 1/2 on it).

use faer::MatRef;

use crate::batch::Batch;
use crate::ops::matmul::{gemm_scaled, view, view_mut};
use crate::record;
use crate::rule::{Rule, Site};
use crate::tape::{Operand, Var};
use crate::tensor::Tensor;
use crate::{bail, Result};

#[derive(Debug)]
pub struct Chol;

/// The upper triangular R with A = R'R, from the upper triangle of A
/// (column by column: R[i, j] = (A[i, j] - sum_{k<i} R[k, i] R[k, j]) / R[i, i]).
fn factor(a: &[f64], n: usize) -> Result<Vec<f64>> {
    let mut r = vec![0.0; n * n];
    for j in 0..n {
        for i in 0..=j {
            let s = a[i + j * n] - (0..i).map(|k| r[k + i * n] * r[k + j * n]).sum::<f64>();
            if i < j {
                r[i + j * n] = s / r[i + i * n];
            } else if s > 0.0 && s.is_finite() {
                r[j + j * n] = s.sqrt();
            } else {
                bail!("chol: the {n} x {n} matrix is not positive definite");
            }
        }
    }
    Ok(r)
}

/// X', n x n.
fn transpose(x: &[f64], n: usize) -> Vec<f64> {
    (0..n * n).map(|q| x[q / n + (q % n) * n]).collect()
}

/// L^-1 for a lower triangular L, by forward substitution on the identity.
fn inverse_lower(l: &[f64], n: usize) -> Vec<f64> {
    let mut m = vec![0.0; n * n];
    for c in 0..n {
        let col = &mut m[c * n..(c + 1) * n];
        col[c] = 1.0;
        for i in c..n {
            col[i] = (col[i] - (c..i).map(|k| l[i + k * n] * col[k]).sum::<f64>()) / l[i + i * n];
        }
    }
    m
}

/// Φ(X) in place: the lower triangle with the diagonal halved.
fn phi(x: &mut [f64], n: usize) {
    for j in 0..n {
        x[j + j * n] *= 0.5;
        x[j * n..j * n + j].fill(0.0);
    }
}

/// (X + X')/2, n x n.
fn symmetrise(x: &[f64], n: usize) -> Vec<f64> {
    let xt = transpose(x, n);
    x.iter().zip(&xt).map(|(a, b)| 0.5 * (a + b)).collect()
}

/// c += alpha a b for n x n operands.
fn add_product(c: &mut [f64], n: usize, a: MatRef<'_, f64>, b: MatRef<'_, f64>, alpha: f64) {
    gemm_scaled(view_mut(c, n, n), a, b, alpha);
}

/// a b c for n x n operands.
fn product3(n: usize, a: MatRef<'_, f64>, b: MatRef<'_, f64>, c: MatRef<'_, f64>) -> Vec<f64> {
    let mut ab = vec![0.0; n * n];
    add_product(&mut ab, n, a, b, 1.0);
    let mut out = vec![0.0; n * n];
    add_product(&mut out, n, view(&ab, n, n), c, 1.0);
    out
}

/// What every rule needs of the factor: n, L = R' and M = L^-1.
struct Factor {
    n: usize,
    l: Vec<f64>,
    m: Vec<f64>,
}

impl Factor {
    fn of(site: &Site) -> Factor {
        let n = site.output.shape.as_matrix().0;
        let l = transpose(&site.output.data, n);
        let m = inverse_lower(&l, n);
        Factor { n, l, m }
    }

    /// Ldot = L Φ(M sym(Adot) M') for one direction.
    fn l_dot(&self, a_dot: &[f64]) -> Vec<f64> {
        let n = self.n;
        let m = view(&self.m, n, n);
        let mut c = product3(n, m, view(&symmetrise(a_dot, n), n, n), m.transpose());
        phi(&mut c, n);
        let mut out = vec![0.0; n * n];
        add_product(&mut out, n, view(&self.l, n, n), view(&c, n, n), 1.0);
        out
    }
}

impl Rule for Chol {
    fn name(&self) -> &'static str {
        "chol"
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let a = inputs[0];
        let (rows, cols) = a.shape.as_matrix();
        // R's chol takes a number as a 1 x 1 matrix.
        if rows != cols || !(a.shape.is_matrix() || a.numel() == 1) {
            bail!("chol: a must be a square matrix, got {}", a.shape);
        }
        Tensor::matrix(rows, rows, factor(&a.data, rows)?)
    }

    fn jvp_graph(&self, _inputs: &[Operand], output: &Var, tangents: &[Option<Var>]) -> Result<Option<Var>> {
        let Some(ad) = &tangents[0] else { return Ok(None) };
        let n = output.value().shape.as_matrix().0;
        let s = record::binary("*", &record::binary("+", ad, &record::transpose(ad)?)?, 0.5)?;
        let l = record::transpose(output)?;
        let c = record::solve(&l, &record::transpose(&record::solve(&l, &s)?)?)?;
        let mut mask = vec![0.0; n * n];
        for j in 0..n {
            mask[j + j * n] = 0.5;
            mask[j * n + j + 1..(j + 1) * n].fill(1.0);
        }
        let phi_c = record::binary("*", &c, Var::constant(Tensor::matrix(n, n, mask)?))?;
        record::matmul(&record::transpose(&phi_c)?, output).map(Some)
    }

    fn vjp(&self, site: &Site, out_adj: &[f64], needs: &[bool]) -> Vec<Option<Vec<f64>>> {
        if !needs[0] {
            return vec![None];
        }
        let f = Factor::of(site);
        let n = f.n;
        // L' Lbar = (Rbar L)', so P = Φ((Rbar L)').
        let mut p = vec![0.0; n * n];
        add_product(&mut p, n, view(&f.l, n, n).transpose(), view(out_adj, n, n).transpose(), 1.0);
        phi(&mut p, n);
        let m = view(&f.m, n, n);
        let s = product3(n, m.transpose(), view(&p, n, n), m);
        vec![Some(symmetrise(&s, n))]
    }

    fn jvp(&self, site: &Site, tangents: &[Option<&Batch>], dirs: usize) -> Option<Batch> {
        let a_dot = tangents[0]?;
        let f = Factor::of(site);
        let mut out = Batch::zeros(f.n * f.n, dirs);
        for d in 0..dirs {
            out.col_mut(d).copy_from_slice(&transpose(&f.l_dot(a_dot.col(d)), f.n));
        }
        Some(out)
    }

    fn vjp_dot(
        &self,
        site: &Site,
        tangents: &[Option<&Batch>],
        out_adj: &[f64],
        out_adj_dot: Option<&Batch>,
        needs: &[bool],
        dirs: usize,
    ) -> Vec<Option<Batch>> {
        if !needs[0] || (tangents[0].is_none() && out_adj_dot.is_none()) {
            return vec![None];
        }
        let f = Factor::of(site);
        let n = f.n;
        let (l, m) = (view(&f.l, n, n), view(&f.m, n, n));
        let l_bar = view(out_adj, n, n).transpose();
        let mut p = vec![0.0; n * n];
        add_product(&mut p, n, l.transpose(), l_bar, 1.0);
        phi(&mut p, n);
        let p = view(&p, n, n);
        let mut out = Batch::zeros(n * n, dirs);
        for d in 0..dirs {
            let mut s_dot = vec![0.0; n * n];
            let mut p_dot = vec![0.0; n * n];
            if let Some(rbar_dot) = out_adj_dot {
                add_product(&mut p_dot, n, l.transpose(), view(rbar_dot.col(d), n, n).transpose(), 1.0);
            }
            if let Some(a_dot) = tangents[0] {
                let l_dot = f.l_dot(a_dot.col(d));
                let l_dot = view(&l_dot, n, n);
                add_product(&mut p_dot, n, l_dot.transpose(), l_bar, 1.0);
                // Mdot' P M + M' P Mdot, with -Mdot = M Ldot M.
                let neg_m_dot = product3(n, m, l_dot, m);
                let neg_m_dot = view(&neg_m_dot, n, n);
                let left = product3(n, neg_m_dot.transpose(), p, m);
                let right = product3(n, m.transpose(), p, neg_m_dot);
                s_dot.iter_mut().zip(left.iter().zip(&right)).for_each(|(s, (a, b))| *s -= a + b);
            }
            phi(&mut p_dot, n);
            let mid = product3(n, m.transpose(), view(&p_dot, n, n), m);
            s_dot.iter_mut().zip(&mid).for_each(|(s, x)| *s += x);
            out.col_mut(d).copy_from_slice(&symmetrise(&s_dot, n));
        }
        vec![Some(out)]
    }
}
