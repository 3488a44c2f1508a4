//! Matrix product C = A B (R's %*%), with ndarray's blocked kernels on
//! column-major views. A vector on the left is a row when it matches the
//! right operand's rows (as in R), otherwise a column; on the right it is a
//! column.
//!   vjp:      Abar += Cbar B',  Bbar += A' Cbar
//!   jvp:      Cdot  = Adot B + A Bdot
//!   vjp_dot:  Abar_dot += Cbar_dot B' + Cbar Bdot'
//!             Bbar_dot += A' Cbar_dot + Adot' Cbar

use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView2, ArrayViewMut2, ShapeBuilder};

use crate::batch::Batch;
use crate::rule::{Rule, Site};
use crate::tensor::{Shape, Tensor};
use crate::{bail, Result};

#[derive(Debug)]
pub struct MatMul;

/// (rows, cols) of each operand as %*% reads them.
fn operand_dims(a: &Shape, b: &Shape) -> Result<((usize, usize), (usize, usize))> {
    let b_dims = if b.is_matrix() {
        b.as_matrix()
    } else if !a.is_matrix() && a.numel() != b.numel() {
        // vector %*% vector of unequal length: R reads the right one as a row.
        (1, b.numel())
    } else {
        b.as_matrix()
    };
    let a_dims = if a.is_matrix() {
        a.as_matrix()
    } else if a.numel() == b_dims.0 {
        (1, a.numel())
    } else {
        (a.numel(), 1)
    };
    if a_dims.1 != b_dims.0 {
        bail!("%*%: non-conformable arguments: {} and {}", a, b);
    }
    Ok((a_dims, b_dims))
}

fn view(data: &[f64], rows: usize, cols: usize) -> ArrayView2<'_, f64> {
    ArrayView2::from_shape((rows, cols).f(), data).expect("column-major layout of known size")
}

fn view_mut(data: &mut [f64], rows: usize, cols: usize) -> ArrayViewMut2<'_, f64> {
    ArrayViewMut2::from_shape((rows, cols).f(), data).expect("column-major layout of known size")
}

struct Dims {
    m: usize,
    k: usize,
    n: usize,
}

impl MatMul {
    fn dims(site: &Site) -> Dims {
        let ((m, k), (_, n)) =
            operand_dims(&site.inputs[0].shape, &site.inputs[1].shape).expect("checked in forward");
        Dims { m, k, n }
    }
}

impl Rule for MatMul {
    fn name(&self) -> &'static str {
        "%*%"
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let ((m, k), (_, n)) = operand_dims(&inputs[0].shape, &inputs[1].shape)?;
        let mut c = vec![0.0; m * n];
        general_mat_mul(1.0, &view(&inputs[0].data, m, k), &view(&inputs[1].data, k, n), 0.0, &mut view_mut(&mut c, m, n));
        Tensor::matrix(m, n, c)
    }

    fn vjp(&self, site: &Site, out_adj: &[f64], needs: &[bool]) -> Vec<Option<Vec<f64>>> {
        let Dims { m, k, n } = MatMul::dims(site);
        let (a, b) = (view(&site.inputs[0].data, m, k), view(&site.inputs[1].data, k, n));
        let cbar = view(out_adj, m, n);
        let abar = needs[0].then(|| {
            let mut out = vec![0.0; m * k];
            general_mat_mul(1.0, &cbar, &b.t(), 0.0, &mut view_mut(&mut out, m, k));
            out
        });
        let bbar = needs[1].then(|| {
            let mut out = vec![0.0; k * n];
            general_mat_mul(1.0, &a.t(), &cbar, 0.0, &mut view_mut(&mut out, k, n));
            out
        });
        vec![abar, bbar]
    }

    fn jvp(&self, site: &Site, tangents: &[Option<&Batch>], dirs: usize) -> Option<Batch> {
        let Dims { m, k, n } = MatMul::dims(site);
        let (a, b) = (view(&site.inputs[0].data, m, k), view(&site.inputs[1].data, k, n));
        let mut out = Batch::zeros(m * n, dirs);
        if let Some(bd) = tangents[1] {
            // All directions at once: [Bdot_1 ... Bdot_d] is k x (n d).
            general_mat_mul(1.0, &a, &view(&bd.data, k, n * dirs), 1.0, &mut view_mut(&mut out.data, m, n * dirs));
        }
        if let Some(ad) = tangents[0] {
            for d in 0..dirs {
                general_mat_mul(1.0, &view(ad.col(d), m, k), &b, 1.0, &mut view_mut(out.col_mut(d), m, n));
            }
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
        let Dims { m, k, n } = MatMul::dims(site);
        let (a, b) = (view(&site.inputs[0].data, m, k), view(&site.inputs[1].data, k, n));
        let cbar = view(out_adj, m, n);
        let abar = needs[0].then(|| {
            let mut out = Batch::zeros(m * k, dirs);
            for d in 0..dirs {
                let mut o = view_mut(out.col_mut(d), m, k);
                if let Some(cd) = out_adj_dot {
                    general_mat_mul(1.0, &view(cd.col(d), m, n), &b.t(), 1.0, &mut o);
                }
                if let Some(bd) = tangents[1] {
                    general_mat_mul(1.0, &cbar, &view(bd.col(d), k, n).t(), 1.0, &mut o);
                }
            }
            out
        });
        let bbar = needs[1].then(|| {
            let mut out = Batch::zeros(k * n, dirs);
            if let Some(cd) = out_adj_dot {
                // All directions at once: A' [Cdot_1 ... Cdot_d].
                general_mat_mul(1.0, &a.t(), &view(&cd.data, m, n * dirs), 1.0, &mut view_mut(&mut out.data, k, n * dirs));
            }
            if let Some(ad) = tangents[0] {
                for d in 0..dirs {
                    general_mat_mul(1.0, &view(ad.col(d), m, k).t(), &cbar, 1.0, &mut view_mut(out.col_mut(d), k, n));
                }
            }
            out
        });
        vec![abar, bbar]
    }
}
