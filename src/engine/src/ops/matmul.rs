//! Matrix product C = A B (R's %*%), with faer's kernels on column-major
//! views (for the tall, thin shapes of regressions, X %*% beta and X' M,
//! about twice as fast as the blocked kernels of ndarray/matrixmultiply,
//! which copy both operands into packed panels first). A vector on the left
//! is a row when it matches the right operand's rows (as in R), otherwise a
//! column; on the right it is a column.
//!   vjp:      Abar += Cbar B',  Bbar += A' Cbar
//!   jvp:      Cdot  = Adot B + A Bdot
//!   vjp_dot:  Abar_dot += Cbar_dot B' + Cbar Bdot'
//!             Bbar_dot += A' Cbar_dot + Adot' Cbar
//!   as operations: Adot %*% B + A %*% Bdot.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};

use std::rc::Rc;

use crate::batch::Batch;
use crate::hessian_pattern::{conservative, empty, union, Dependence, Pairs, Set};
use crate::record;
use crate::rule::{input_value, Rule, Site};
use crate::tape::{Operand, Var};
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

/// A column-major slice as a rows x cols matrix (also for solve.rs).
pub(crate) fn view(data: &[f64], rows: usize, cols: usize) -> MatRef<'_, f64> {
    MatRef::from_column_major_slice(data, rows, cols)
}

pub(crate) fn view_mut(data: &mut [f64], rows: usize, cols: usize) -> MatMut<'_, f64> {
    MatMut::from_column_major_slice_mut(data, rows, cols)
}

/// c += a b, single-threaded.
fn gemm(c: MatMut<'_, f64>, a: MatRef<'_, f64>, b: MatRef<'_, f64>) {
    gemm_scaled(c, a, b, 1.0);
}

/// c += alpha a b, single-threaded.
pub(crate) fn gemm_scaled(c: MatMut<'_, f64>, a: MatRef<'_, f64>, b: MatRef<'_, f64>, alpha: f64) {
    matmul(c, Accum::Add, a, b, alpha, Par::Seq);
}

/// Where each direction of a tangent of B (k x n per direction) has a
/// single entry 1 and zeros elsewhere, or is zero: the (row, column) of
/// that entry for each direction (`None` for a zero direction); `None` if
/// any direction is otherwise. A parameter leaf's tangents are of this kind
/// (columns of the identity), and A Bdot then just copies columns of A.
fn unit_directions(bd: &Batch, k: usize) -> Option<Vec<Option<(usize, usize)>>> {
    (0..bd.dirs)
        .map(|d| {
            let mut unit = None;
            for (q, &v) in bd.col(d).iter().enumerate() {
                if v == 0.0 {
                    continue;
                }
                if v != 1.0 || unit.is_some() {
                    return None;
                }
                unit = Some((q % k, q / k));
            }
            Some(unit)
        })
        .collect()
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

    /// c_ij = sum_k a_ik b_kj depends on a_ik where b_kj can be non-zero
    /// and on b_kj where a_ik can (a zero of fixed data is a structural
    /// zero: Z %*% u with a data matrix Z keeps Z's sparsity), and couples
    /// a_ik with b_kj.
    fn dependence(&self, site: &Site, inputs: &[Option<&[Set]>], fixed: &[bool], pairs: &mut Pairs) -> Dependence {
        let (a, b) = (site.inputs[0], site.inputs[1]);
        let Ok(((m, k), (_, n))) = operand_dims(&a.shape, &b.shape) else {
            return conservative(site.output.numel(), inputs, false, pairs);
        };
        let none = [empty()];
        let a_deps = inputs[0].unwrap_or(&none);
        let b_deps = inputs[1].unwrap_or(&none);
        let set_a = |i: usize, l: usize| if inputs[0].is_some() { &a_deps[i + l * m] } else { &none[0] };
        let set_b = |l: usize, j: usize| if inputs[1].is_some() { &b_deps[l + j * k] } else { &none[0] };
        let can_be_nonzero = |x: &Tensor, is_fixed: bool, at: usize| !is_fixed || x.data[at] != 0.0;
        let mut out = Vec::with_capacity(m * n);
        for j in 0..n {
            for i in 0..m {
                let mut sets: Vec<&Set> = Vec::new();
                for l in 0..k {
                    let (sa, sb) = (set_a(i, l), set_b(l, j));
                    if !sa.is_empty() && can_be_nonzero(b, fixed[1], l + j * k) {
                        sets.push(sa);
                    }
                    if !sb.is_empty() && can_be_nonzero(a, fixed[0], i + l * m) {
                        sets.push(sb);
                    }
                    pairs.product(sa, sb);
                }
                out.push(match sets.len() {
                    0 => empty(),
                    1 => Rc::clone(sets[0]),
                    _ => union(sets),
                });
            }
        }
        Some(out)
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let ((m, k), (_, n)) = operand_dims(&inputs[0].shape, &inputs[1].shape)?;
        let mut c = vec![0.0; m * n];
        gemm(view_mut(&mut c, m, n), view(&inputs[0].data, m, k), view(&inputs[1].data, k, n));
        Tensor::matrix(m, n, c)
    }

    fn jvp_graph(&self, inputs: &[Operand], _output: &Var, tangents: &[Option<Var>]) -> Result<Option<Var>> {
        let (a, b) = (input_value("%*%", &inputs[0])?, input_value("%*%", &inputs[1])?);
        let from_a = tangents[0].as_ref().map(|ad| record::matmul(ad, b)).transpose()?;
        let from_b = tangents[1].as_ref().map(|bd| record::matmul(a, bd)).transpose()?;
        match (from_a, from_b) {
            (Some(x), Some(y)) => record::binary("+", &x, &y).map(Some),
            (x, y) => Ok(x.or(y)),
        }
    }

    fn vjp(&self, site: &Site, out_adj: &[f64], needs: &[bool]) -> Vec<Option<Vec<f64>>> {
        let Dims { m, k, n } = MatMul::dims(site);
        let (a, b) = (view(&site.inputs[0].data, m, k), view(&site.inputs[1].data, k, n));
        let cbar = view(out_adj, m, n);
        let abar = needs[0].then(|| {
            let mut out = vec![0.0; m * k];
            gemm(view_mut(&mut out, m, k), cbar, b.transpose());
            out
        });
        let bbar = needs[1].then(|| {
            let mut out = vec![0.0; k * n];
            gemm(view_mut(&mut out, k, n), a.transpose(), cbar);
            out
        });
        vec![abar, bbar]
    }

    fn jvp(&self, site: &Site, tangents: &[Option<&Batch>], dirs: usize) -> Option<Batch> {
        let Dims { m, k, n } = MatMul::dims(site);
        let (a, b) = (view(&site.inputs[0].data, m, k), view(&site.inputs[1].data, k, n));
        let mut out = Batch::zeros(m * n, dirs);
        if let Some(bd) = tangents[1] {
            match unit_directions(bd, k) {
                // Columns of the identity: copies of columns of A (exactly
                // what the product gives, without the k multiply-adds per
                // entry).
                Some(units) => {
                    for (d, unit) in units.into_iter().enumerate() {
                        if let Some((j, l)) = unit {
                            out.col_mut(d)[l * m..(l + 1) * m].copy_from_slice(&site.inputs[0].data[j * m..(j + 1) * m]);
                        }
                    }
                }
                // All directions at once: [Bdot_1 ... Bdot_d] is k x (n d).
                None => gemm(view_mut(&mut out.data, m, n * dirs), a, view(&bd.data, k, n * dirs)),
            }
        }
        if let Some(ad) = tangents[0] {
            for d in 0..dirs {
                gemm(view_mut(out.col_mut(d), m, n), view(ad.col(d), m, k), b);
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
                if let Some(cd) = out_adj_dot {
                    gemm(view_mut(out.col_mut(d), m, k), view(cd.col(d), m, n), b.transpose());
                }
                if let Some(bd) = tangents[1] {
                    gemm(view_mut(out.col_mut(d), m, k), cbar, view(bd.col(d), k, n).transpose());
                }
            }
            out
        });
        let bbar = needs[1].then(|| {
            let mut out = Batch::zeros(k * n, dirs);
            if let Some(cd) = out_adj_dot {
                // All directions at once: A' [Cdot_1 ... Cdot_d].
                gemm(view_mut(&mut out.data, k, n * dirs), a.transpose(), view(&cd.data, m, n * dirs));
            }
            if let Some(ad) = tangents[0] {
                for d in 0..dirs {
                    gemm(view_mut(out.col_mut(d), k, n), view(ad.col(d), m, k).transpose(), cbar);
                }
            }
            out
        });
        vec![abar, bbar]
    }
}
