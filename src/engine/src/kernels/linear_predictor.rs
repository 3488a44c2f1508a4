//! A regression's log-likelihood as one node: sum_i w_i log f(y_i; eta_i)
//! with the linear predictor eta = X beta, X a constant n x p design and f a
//! one-parameter density on the linear-predictor scale (`regression.rs`).
//!
//! Recorded as `X %*% beta` followed by the kernel, a second-order sweep
//! with the identity as directions carries n x p tangents and second-order
//! adjoints through the product (X itself, then diag(h) X, then X' times
//! that): some 50 MB of memory traffic at n = 1e5, p = 10, most of it fresh
//! pages. As one node the sweeps only need, with g_i and h_i the kernel's
//! first and second partials at eta_i,
//!   value:    y        = sum_i w_i log f(y_i; eta_i)
//!   vjp:      betabar += ybar X' g
//!   jvp:      ydot     = (X' g)' betadot
//!   vjp_dot:  betabar_dot += (X' g) ybar_dot + ybar X' diag(h) X betadot
//! and X' g and X' diag(h) X (p x p) come from one pass over X, which the
//! node keeps (its input never changes). Per observation (the scores):
//!   observation_jvp: ldot_i = g_i (X betadot)_i.

use std::cell::RefCell;

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};

use super::{compensated_sum, Density, Fused, BLOCK};
use crate::error::there_are;
use crate::batch::Batch;
use crate::rule::{Rule, Site};
use crate::tensor::Tensor;
use crate::{bail, Result};

#[derive(Debug)]
pub struct LinearPredictor<D> {
    kernel: Fused<D, 1>,
    /// The design X, n x p.
    design: Tensor,
    /// A known term of each observation's linear predictor (glm's offset).
    offset: Option<Vec<f64>>,
    cache: RefCell<Cache>,
}

#[derive(Debug, Default)]
struct Cache {
    /// eta = X beta, from the forward pass.
    eta: Vec<f64>,
    /// X' g.
    score: Option<Vec<f64>>,
    /// X' diag(h) X, p x p column-major.
    information: Option<Vec<f64>>,
}

fn view(data: &[f64], rows: usize, cols: usize) -> MatRef<'_, f64> {
    MatRef::from_column_major_slice(data, rows, cols)
}

fn view_mut(data: &mut [f64], rows: usize, cols: usize) -> MatMut<'_, f64> {
    MatMut::from_column_major_slice_mut(data, rows, cols)
}

/// c += a b, single-threaded.
fn gemm(c: MatMut<'_, f64>, a: MatRef<'_, f64>, b: MatRef<'_, f64>) {
    matmul(c, Accum::Add, a, b, 1.0, Par::Seq);
}

impl<D: Density<1>> LinearPredictor<D> {
    /// The kernel `kernel` at eta = `design` beta; the design must be a
    /// matrix with one row per observation of the kernel.
    pub fn new(kernel: Fused<D, 1>, design: Tensor) -> Result<Self> {
        let n = kernel.density().observations();
        let (rows, _) = design.shape.as_matrix();
        if !design.shape.is_matrix() || rows != n {
            bail!("{}: X must be a matrix with one row per observation ({n}), got {}", D::NAME, design.shape);
        }
        Ok(LinearPredictor { kernel, design, offset: None, cache: RefCell::new(Cache::default()) })
    }

    /// The same regression with eta = X beta + `offset` (one finite number
    /// per observation; `None`: no offset).
    pub fn with_offset(self, offset: Option<Vec<f64>>) -> Result<Self> {
        if let Some(o) = &offset {
            let n = self.dims().0;
            if o.len() != n {
                bail!("{}: offset has length {} but there {}", D::NAME, o.len(), there_are(n, "observation"));
            }
            if let Some(i) = o.iter().position(|v| !v.is_finite()) {
                bail!("{}: offset[{}] = {} is not a finite number", D::NAME, i + 1, crate::error::show_number(o[i]));
            }
        }
        Ok(LinearPredictor { offset, ..self })
    }

    /// eta = X beta (+ offset) for coefficients `beta` of the right length.
    fn linear_predictor(&self, beta: &[f64]) -> Vec<f64> {
        let (n, p) = self.dims();
        let mut eta = match &self.offset {
            Some(o) => o.clone(),
            None => vec![0.0; n],
        };
        gemm(view_mut(&mut eta, n, 1), view(&self.design.data, n, p), view(beta, p, 1));
        eta
    }

    fn dims(&self) -> (usize, usize) {
        self.design.shape.as_matrix()
    }

    /// g (and h, when `hessian`) at every observation's eta.
    fn partials(&self, hessian: bool) -> (Vec<f64>, Vec<f64>) {
        let cache = self.cache.borrow();
        let n = cache.eta.len();
        let mut g = vec![0.0; n];
        let mut h = if hessian { vec![0.0; n] } else { Vec::new() };
        for (i, &eta) in cache.eta.iter().enumerate() {
            let p = self.kernel.partials(i, [eta], hessian);
            g[i] = p.grad[0];
            if hessian {
                h[i] = p.hess[0][0];
            }
        }
        (g, h)
    }

    /// X' v, p numbers.
    fn xt(&self, v: &[f64]) -> Vec<f64> {
        let (n, p) = self.dims();
        let mut out = vec![0.0; p];
        gemm(view_mut(&mut out, p, 1), view(&self.design.data, n, p).transpose(), view(v, n, 1));
        out
    }

    /// X' g, from the cache or computed (without the second partials).
    fn score(&self) -> Vec<f64> {
        if let Some(s) = &self.cache.borrow().score {
            return s.clone();
        }
        let score = self.xt(&self.partials(false).0);
        self.cache.borrow_mut().score = Some(score.clone());
        score
    }

    /// X' g and X' diag(h) X, from the cache or computed together.
    fn score_and_information(&self) -> (Vec<f64>, Vec<f64>) {
        {
            let cache = self.cache.borrow();
            if let (Some(s), Some(info)) = (&cache.score, &cache.information) {
                return (s.clone(), info.clone());
            }
        }
        let (n, p) = self.dims();
        let (g, h) = self.partials(true);
        let score = self.xt(&g);
        // X' diag(h) X block by block of rows: X_b' (h_b * X_b), with the
        // scaled rows in a small buffer instead of an n x p matrix.
        let x = &self.design.data;
        let mut information = vec![0.0; p * p];
        let mut scaled = vec![0.0; BLOCK.min(n) * p];
        for start in (0..n).step_by(BLOCK) {
            let len = BLOCK.min(n - start);
            for j in 0..p {
                let (column, out) = (&x[j * n + start..j * n + start + len], &mut scaled[j * len..(j + 1) * len]);
                out.iter_mut().zip(column.iter().zip(&h[start..start + len])).for_each(|(o, (x, h))| *o = h * x);
            }
            let block = MatRef::from_column_major_slice_with_stride(&x[start..], len, p, n);
            gemm(view_mut(&mut information, p, p), block.transpose(), view(&scaled[..len * p], len, p));
        }
        let mut cache = self.cache.borrow_mut();
        cache.score = Some(score.clone());
        cache.information = Some(information.clone());
        (score, information)
    }
}

impl<D: Density<1>> Rule for LinearPredictor<D> {
    fn name(&self) -> &'static str {
        D::NAME
    }

    /// eta, the score and the information belong to the old beta.
    fn forget(&self) {
        *self.cache.borrow_mut() = Cache::default();
        self.kernel.forget();
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let (n, p) = self.dims();
        if inputs.len() != 1 {
            bail!("{}: needs 1 parameter (beta), got {}", D::NAME, inputs.len());
        }
        let beta = inputs[0];
        if beta.numel() != p {
            bail!("{}: beta has length {} but X has {}", D::NAME, beta.numel(), crate::error::count_of(p, "column"));
        }
        let eta = self.linear_predictor(&beta.data);
        let value = compensated_sum(n, |i| self.kernel.weighted_log_density(i, [eta[i]]));
        self.cache.borrow_mut().eta = eta;
        Ok(Tensor::scalar(value))
    }

    fn vjp(&self, _site: &Site, out_adj: &[f64], needs: &[bool]) -> Vec<Option<Vec<f64>>> {
        if !needs[0] {
            return vec![None];
        }
        let ybar = out_adj[0];
        vec![Some(self.score().into_iter().map(|s| ybar * s).collect())]
    }

    fn jvp(&self, _site: &Site, tangents: &[Option<&Batch>], dirs: usize) -> Option<Batch> {
        let t = tangents[0]?;
        // The start of a second-order sweep: the information with the score.
        let (score, _) = self.score_and_information();
        let mut out = Batch::zeros(1, dirs);
        for (k, o) in out.data.iter_mut().enumerate() {
            *o = score.iter().zip(t.col(k)).map(|(s, t)| s * t).sum();
        }
        Some(out)
    }

    fn vjp_dot(
        &self,
        _site: &Site,
        tangents: &[Option<&Batch>],
        out_adj: &[f64],
        out_adj_dot: Option<&Batch>,
        needs: &[bool],
        dirs: usize,
    ) -> Vec<Option<Batch>> {
        if !needs[0] {
            return vec![None];
        }
        let (_, p) = self.dims();
        let ybar = out_adj[0];
        let (score, information) = self.score_and_information();
        let mut out = Batch::zeros(p, dirs);
        if let Some(t) = tangents[0] {
            // ybar I betadot, all directions at once.
            gemm(view_mut(&mut out.data, p, dirs), view(&information, p, p), view(&t.data, p, dirs));
            out.data.iter_mut().for_each(|v| *v *= ybar);
        }
        if let Some(yd) = out_adj_dot {
            for k in 0..dirs {
                out.col_mut(k).iter_mut().zip(&score).for_each(|(o, s)| *o += s * yd.data[k]);
            }
        }
        vec![Some(out)]
    }

    fn observations(&self) -> Option<usize> {
        Some(self.dims().0)
    }

    fn saturated(&self, site: &Site) -> Option<usize> {
        let p = self.dims().1;
        let beta = site.inputs.first().filter(|b| b.numel() == p)?;
        let eta = self.linear_predictor(&beta.data);
        self.kernel.saturated_at(|i| [eta[i]])
    }

    fn observation_jvp(&self, _site: &Site, tangents: &[Option<&Batch>], dirs: usize) -> Option<Batch> {
        let (n, p) = self.dims();
        let mut out = Batch::zeros(n, dirs);
        if let Some(t) = tangents[0] {
            gemm(view_mut(&mut out.data, n, dirs), view(&self.design.data, n, p), view(&t.data, p, dirs));
            let (g, _) = self.partials(false);
            for k in 0..dirs {
                out.col_mut(k).iter_mut().zip(&g).for_each(|(o, g)| *o *= g);
            }
        }
        Some(out)
    }
}
