//! Linear systems and log-determinants of a square matrix A, through its LU
//! factorisation with partial pivoting (the matrices of models written by
//! hand are small: covariance matrices of random effects, AR structures).
//!
//! Solve, Y = A^-1 B (R's solve(A, B); B a vector gives a vector):
//!   vjp:      Bbar = A^-T Ybar,  Abar = -Bbar Y'
//!   jvp:      Ydot = A^-1 (Bdot - Adot Y)
//!   vjp_dot:  Bbar_dot = A^-T (Ybar_dot - Adot' Bbar)
//!             Abar_dot = -(Bbar_dot Y' + Bbar Ydot')
//! LogDet, y = log |det A|:
//!   vjp:      Abar = ybar A^-T
//!   jvp:      ydot = sum_ij (A^-T)_ij Adot_ij  (= tr(A^-1 Adot))
//!   vjp_dot:  Abar_dot = ybar_dot A^-T - ybar A^-T Adot' A^-T
//! As operations (`jvp_graph`): Ydot = solve(A, Bdot - Adot %*% Y) and
//! ydot = sum(diag(solve(A, Adot))).

use crate::batch::Batch;
use crate::ops::matmul::{gemm_scaled, view, view_mut};
use crate::record;
use crate::rule::{input_value, Rule, Site};
use crate::tape::{Operand, Var};
use crate::tensor::Tensor;
use crate::{bail, Result};

/// P A = L U, packed: L below the diagonal (unit diagonal implied), U on
/// and above; `perm[i]` is the row of A in row i of P A.
struct Lu {
    n: usize,
    lu: Vec<f64>,
    perm: Vec<usize>,
}

impl Lu {
    fn new(a: &[f64], n: usize) -> Lu {
        let mut lu = a.to_vec();
        let mut perm: Vec<usize> = (0..n).collect();
        for k in 0..n {
            let pivot = (k..n).max_by(|&i, &j| lu[i + k * n].abs().total_cmp(&lu[j + k * n].abs())).unwrap_or(k);
            if pivot != k {
                for c in 0..n {
                    lu.swap(k + c * n, pivot + c * n);
                }
                perm.swap(k, pivot);
            }
            let d = lu[k + k * n];
            for i in k + 1..n {
                lu[i + k * n] /= d;
                let l = lu[i + k * n];
                for c in k + 1..n {
                    lu[i + c * n] -= l * lu[k + c * n];
                }
            }
        }
        Lu { n, lu, perm }
    }

    fn is_singular(&self) -> bool {
        (0..self.n).any(|k| self.lu[k + k * self.n] == 0.0 || !self.lu[k + k * self.n].is_finite())
    }

    /// x = A^-1 b for one column.
    fn solve(&self, b: &[f64]) -> Vec<f64> {
        let n = self.n;
        let mut x: Vec<f64> = self.perm.iter().map(|&p| b[p]).collect();
        for i in 0..n {
            for k in 0..i {
                x[i] -= self.lu[i + k * n] * x[k];
            }
        }
        for i in (0..n).rev() {
            for k in i + 1..n {
                x[i] -= self.lu[i + k * n] * x[k];
            }
            x[i] /= self.lu[i + i * n];
        }
        x
    }

    /// x = A^-T b for one column: U' L' P x = b.
    fn solve_transpose(&self, b: &[f64]) -> Vec<f64> {
        let n = self.n;
        let mut z = b.to_vec();
        for i in 0..n {
            for k in 0..i {
                z[i] -= self.lu[k + i * n] * z[k];
            }
            z[i] /= self.lu[i + i * n];
        }
        for i in (0..n).rev() {
            for k in i + 1..n {
                z[i] -= self.lu[k + i * n] * z[k];
            }
        }
        let mut x = vec![0.0; n];
        for (i, &p) in self.perm.iter().enumerate() {
            x[p] = z[i];
        }
        x
    }

    /// Column-by-column solves of an n x k matrix.
    fn solve_columns(&self, b: &[f64], transpose: bool) -> Vec<f64> {
        b.chunks(self.n).flat_map(|col| if transpose { self.solve_transpose(col) } else { self.solve(col) }).collect()
    }

    /// A^-T, n x n.
    fn inverse_transpose(&self) -> Vec<f64> {
        let n = self.n;
        let mut eye = vec![0.0; n * n];
        for i in 0..n {
            eye[i + i * n] = 1.0;
        }
        self.solve_columns(&eye, true)
    }

    fn log_abs_det(&self) -> f64 {
        (0..self.n).map(|k| self.lu[k + k * self.n].abs().ln()).sum()
    }
}

/// c (m x n) += alpha op(a) op(b), all column-major, with faer's product
/// (matmul.rs); `ta`, `tb` read a or b transposed (stored k x m, n x k).
#[allow(clippy::too_many_arguments)]
fn gemm(c: &mut [f64], a: &[f64], b: &[f64], m: usize, k: usize, n: usize, ta: bool, tb: bool, alpha: f64) {
    let a = if ta { view(a, k, m).transpose() } else { view(a, m, k) };
    let b = if tb { view(b, n, k).transpose() } else { view(b, k, n) };
    gemm_scaled(view_mut(c, m, n), a, b, alpha);
}

fn square_side(op: &str, a: &Tensor) -> Result<usize> {
    let (r, c) = a.shape.as_matrix();
    if !a.shape.is_matrix() || r != c {
        bail!("{op}: a must be a square matrix, got {}", a.shape);
    }
    Ok(r)
}

fn factor(op: &str, a: &Tensor) -> Result<Lu> {
    let n = square_side(op, a)?;
    let lu = Lu::new(&a.data, n);
    if lu.is_singular() {
        bail!("{op}: the {n} x {n} matrix is singular");
    }
    Ok(lu)
}

#[derive(Debug)]
pub struct Solve;

impl Solve {
    /// n and the number of right-hand sides.
    fn dims(site: &Site) -> (usize, usize) {
        let n = site.inputs[0].shape.as_matrix().0;
        (n, site.inputs[1].numel() / n)
    }
}

impl Rule for Solve {
    fn name(&self) -> &'static str {
        "solve"
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let (a, b) = (inputs[0], inputs[1]);
        let n = square_side("solve", a)?;
        let rows = if b.shape.is_matrix() { b.shape.as_matrix().0 } else { b.numel() };
        if rows != n {
            bail!("solve: a is {} but b is {}", a.shape, b.shape);
        }
        let lu = factor("solve", a)?;
        Tensor::new(b.shape, lu.solve_columns(&b.data, false))
    }

    fn jvp_graph(&self, inputs: &[Operand], output: &Var, tangents: &[Option<Var>]) -> Result<Option<Var>> {
        let a = input_value("solve", &inputs[0])?;
        // Adot Y is a matrix also when B is a vector: the sweep lays the
        // result out as Y.
        let moved_a = tangents[0].as_ref().map(|ad| record::matmul(ad, output)).transpose()?;
        let rhs = match (&tangents[1], moved_a) {
            (Some(bd), Some(ay)) => record::binary("-", bd, &ay)?,
            (Some(bd), None) => bd.clone(),
            (None, Some(ay)) => record::unary("neg", &ay)?,
            (None, None) => return Ok(None),
        };
        record::solve(a, &rhs).map(Some)
    }

    fn vjp(&self, site: &Site, out_adj: &[f64], needs: &[bool]) -> Vec<Option<Vec<f64>>> {
        let (n, k) = Solve::dims(site);
        let lu = Lu::new(&site.inputs[0].data, n);
        let bbar = lu.solve_columns(out_adj, true);
        let abar = needs[0].then(|| {
            let mut out = vec![0.0; n * n];
            gemm(&mut out, &bbar, &site.output.data, n, k, n, false, true, -1.0);
            out
        });
        vec![abar, needs[1].then_some(bbar)]
    }

    fn jvp(&self, site: &Site, tangents: &[Option<&Batch>], dirs: usize) -> Option<Batch> {
        let (n, k) = Solve::dims(site);
        let lu = Lu::new(&site.inputs[0].data, n);
        let mut out = Batch::zeros(n * k, dirs);
        for d in 0..dirs {
            let mut rhs = tangents[1].map_or_else(|| vec![0.0; n * k], |bd| bd.col(d).to_vec());
            if let Some(ad) = tangents[0] {
                gemm(&mut rhs, ad.col(d), &site.output.data, n, n, k, false, false, -1.0);
            }
            out.col_mut(d).copy_from_slice(&lu.solve_columns(&rhs, false));
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
        let (n, k) = Solve::dims(site);
        let lu = Lu::new(&site.inputs[0].data, n);
        let y = &site.output.data;
        let bbar = lu.solve_columns(out_adj, true);
        let ydot = tangents.iter().any(Option::is_some).then(|| self.jvp(site, tangents, dirs)).flatten();
        let mut abar_dot = needs[0].then(|| Batch::zeros(n * n, dirs));
        let mut bbar_dot = needs[1].then(|| Batch::zeros(n * k, dirs));
        for d in 0..dirs {
            let mut rhs = out_adj_dot.map_or_else(|| vec![0.0; n * k], |yd| yd.col(d).to_vec());
            if let Some(ad) = tangents[0] {
                gemm(&mut rhs, ad.col(d), &bbar, n, n, k, true, false, -1.0);
            }
            let bd = lu.solve_columns(&rhs, true);
            if let Some(out) = abar_dot.as_mut() {
                let col = out.col_mut(d);
                gemm(col, &bd, y, n, k, n, false, true, -1.0);
                if let Some(yd) = &ydot {
                    gemm(col, &bbar, yd.col(d), n, k, n, false, true, -1.0);
                }
            }
            if let Some(out) = bbar_dot.as_mut() {
                out.col_mut(d).copy_from_slice(&bd);
            }
        }
        vec![abar_dot, bbar_dot]
    }
}

#[derive(Debug)]
pub struct LogDet;

impl Rule for LogDet {
    fn name(&self) -> &'static str {
        "logdet"
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let lu = factor("logdet", inputs[0])?;
        Ok(Tensor::scalar(lu.log_abs_det()))
    }

    fn jvp_graph(&self, inputs: &[Operand], _output: &Var, tangents: &[Option<Var>]) -> Result<Option<Var>> {
        let Some(ad) = &tangents[0] else { return Ok(None) };
        let a = input_value("logdet", &inputs[0])?;
        let n = a.value().shape.as_matrix().0;
        let diagonal = record::gather(&record::solve(a, ad)?, (0..n).map(|i| i * (n + 1)).collect())?;
        record::sum(&diagonal).map(Some)
    }

    fn vjp(&self, site: &Site, out_adj: &[f64], needs: &[bool]) -> Vec<Option<Vec<f64>>> {
        if !needs[0] {
            return vec![None];
        }
        let n = site.inputs[0].shape.as_matrix().0;
        let inv_t = Lu::new(&site.inputs[0].data, n).inverse_transpose();
        vec![Some(inv_t.iter().map(|v| out_adj[0] * v).collect())]
    }

    fn jvp(&self, site: &Site, tangents: &[Option<&Batch>], dirs: usize) -> Option<Batch> {
        let ad = tangents[0]?;
        let n = site.inputs[0].shape.as_matrix().0;
        let inv_t = Lu::new(&site.inputs[0].data, n).inverse_transpose();
        let mut out = Batch::zeros(1, dirs);
        for d in 0..dirs {
            out.col_mut(d)[0] = inv_t.iter().zip(ad.col(d)).map(|(a, b)| a * b).sum();
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
        if !needs[0] {
            return vec![None];
        }
        let n = site.inputs[0].shape.as_matrix().0;
        let inv_t = Lu::new(&site.inputs[0].data, n).inverse_transpose();
        let mut out = Batch::zeros(n * n, dirs);
        for d in 0..dirs {
            let col = out.col_mut(d);
            if let Some(yd) = out_adj_dot {
                col.iter_mut().zip(&inv_t).for_each(|(o, v)| *o += yd.col(d)[0] * v);
            }
            if let Some(ad) = tangents[0] {
                // -ybar A^-T Adot' A^-T
                let mut left = vec![0.0; n * n];
                gemm(&mut left, &inv_t, ad.col(d), n, n, n, false, true, 1.0);
                gemm(col, &left, &inv_t, n, n, n, false, false, -out_adj[0]);
            }
        }
        vec![Some(out)]
    }
}
