//! Cholesky factors of sparse symmetric positive definite matrices, with
//! what the Laplace approximation reads from them: log det, solves, the
//! entries of the inverse on the factor's pattern (Takahashi's recurrence),
//! and the derivative of those entries along a change of the matrix (the
//! same recurrences in forward mode), which gives tr(W A W B) for sparse
//! A and B without forming W = A^-1.
//!
//! This is for one large block of random effects that all meet but each
//! only a few others (a random walk, an autoregressive or spatial field):
//! its factor stays sparse where its inverse is dense. The factor's pattern
//! is found symbolically once per matrix (each column's rows are its own
//! and those its children in the elimination tree pass up); the numbers
//! then by a left-looking factorisation. The rows and columns are first
//! reordered by faer's approximate minimum degree ordering, to keep the
//! factor's fill small (a field on a grid); a chain stays a chain.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::sparse::linalg::amd;
use faer::sparse::SymbolicSparseColMatRef;

use crate::{bail, Result};

#[derive(Clone)]
pub struct SparseCholesky {
    n: usize,
    /// The matrix is factorised as P A P': index i of A is `order[i]` in L.
    order: Vec<usize>,
    /// The factor L's pattern, column by column: the diagonal first, then
    /// the rows below it in increasing order.
    col_ptr: Vec<usize>,
    row_idx: Vec<usize>,
    /// For each row i: the columns k < i with L[i, k] in the pattern, and
    /// where that entry sits.
    row_entries: Vec<Vec<(usize, usize)>>,
    /// Where each lower-triangle entry (i, j) of the matrix given lands in L.
    entry_at: Vec<usize>,
    values: Vec<f64>,
}

/// faer's approximate minimum degree ordering of the pattern: `order[i]`
/// is the new place of index i.
fn fill_reducing_order(n: usize, entries: &[(usize, usize)]) -> Result<Vec<usize>> {
    // the whole symmetric pattern, column by column
    let mut columns: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(i, j) in entries {
        columns[j].push(i);
        if i != j {
            columns[i].push(j);
        }
    }
    let mut col_ptr = Vec::with_capacity(n + 1);
    let mut row_idx = Vec::new();
    col_ptr.push(0usize);
    for column in &mut columns {
        column.sort_unstable();
        column.dedup();
        row_idx.extend_from_slice(column);
        col_ptr.push(row_idx.len());
    }
    let pattern = SymbolicSparseColMatRef::new_checked(n, n, &col_ptr, None, &row_idx);
    let (mut new_to_old, mut old_to_new) = (vec![0usize; n], vec![0usize; n]);
    let mut memory = MemBuffer::new(amd::order_scratch::<usize>(n, row_idx.len()));
    amd::order(&mut new_to_old, &mut old_to_new, pattern, amd::Control::default(), MemStack::new(&mut memory))
        .map_err(|e| crate::Error::new(format!("sparse Cholesky: the fill-reducing ordering failed ({e:?})")))?;
    Ok(old_to_new)
}

impl SparseCholesky {
    /// The pattern of L for an n x n matrix with these lower-triangle
    /// entries (row >= column; the diagonal must be among them).
    pub fn symbolic(n: usize, entries: &[(usize, usize)]) -> Result<SparseCholesky> {
        let mut has_diagonal = vec![false; n];
        for &(i, j) in entries {
            if i >= n || j > i {
                bail!("sparse Cholesky: entry ({}, {}) is not in the lower triangle of a {n} x {n} matrix", i + 1, j + 1);
            }
            if i == j {
                has_diagonal[i] = true;
            }
        }
        if let Some(j) = has_diagonal.iter().position(|&d| !d) {
            bail!("sparse Cholesky: the diagonal entry ({0}, {0}) is missing", j + 1);
        }
        let order = fill_reducing_order(n, entries)?;
        let mut below: Vec<Vec<usize>> = vec![Vec::new(); n];
        for &(i, j) in entries {
            let (pi, pj) = (order[i], order[j]);
            if pi != pj {
                below[pi.min(pj)].push(pi.max(pj));
            }
        }
        let mut col_ptr = vec![0; n + 1];
        let mut row_idx = Vec::new();
        for j in 0..n {
            let mut rows = std::mem::take(&mut below[j]);
            rows.sort_unstable();
            rows.dedup();
            // the parent in the elimination tree inherits the rest
            if let Some((&parent, rest)) = rows.split_first() {
                below[parent].extend_from_slice(rest);
            }
            row_idx.push(j);
            row_idx.extend_from_slice(&rows);
            col_ptr[j + 1] = row_idx.len();
        }
        let mut row_entries: Vec<Vec<(usize, usize)>> = vec![Vec::new(); n];
        for k in 0..n {
            for p in col_ptr[k] + 1..col_ptr[k + 1] {
                row_entries[row_idx[p]].push((k, p));
            }
        }
        let mut factor = SparseCholesky { n, order, col_ptr, row_idx, row_entries, entry_at: Vec::new(), values: Vec::new() };
        factor.entry_at = entries
            .iter()
            .map(|&(i, j)| {
                let (pi, pj) = (factor.order[i], factor.order[j]);
                factor.position(pi.max(pj), pi.min(pj)).expect("an entry of the matrix is in L's pattern")
            })
            .collect();
        Ok(factor)
    }

    /// Where L[i, j] (i >= j) sits, if it is in the pattern.
    fn position(&self, i: usize, j: usize) -> Option<usize> {
        let (start, end) = (self.col_ptr[j], self.col_ptr[j + 1]);
        if i == j {
            return Some(start);
        }
        self.row_idx[start + 1..end].binary_search(&i).ok().map(|k| start + 1 + k)
    }

    /// The matrix's numbers (aligned with the entries given to `symbolic`)
    /// laid out on L's pattern, zeros where L has fill.
    fn scatter(&self, numbers: &[f64]) -> Vec<f64> {
        let mut a = vec![0.0; self.row_idx.len()];
        for (&at, &v) in self.entry_at.iter().zip(numbers) {
            a[at] = v;
        }
        a
    }

    /// Factorises the matrix with these numbers; an error at the first
    /// pivot that is not positive (the matrix's 0-based index of it).
    pub fn factor(&mut self, numbers: &[f64]) -> std::result::Result<(), usize> {
        let mut l = self.scatter(numbers);
        let mut x = vec![0.0; self.n];
        for j in 0..self.n {
            let (start, end) = (self.col_ptr[j], self.col_ptr[j + 1]);
            for p in start..end {
                x[self.row_idx[p]] = l[p];
            }
            for &(k, at) in &self.row_entries[j] {
                let ljk = l[at];
                for p in at..self.col_ptr[k + 1] {
                    x[self.row_idx[p]] -= l[p] * ljk;
                }
            }
            let d = x[j];
            if !(d > 0.0 && d.is_finite()) {
                return Err(self.order.iter().position(|&o| o == j).unwrap_or(j));
            }
            let ljj = d.sqrt();
            l[start] = ljj;
            for p in start + 1..end {
                l[p] = x[self.row_idx[p]] / ljj;
            }
            for p in start..end {
                x[self.row_idx[p]] = 0.0;
            }
        }
        self.values = l;
        Ok(())
    }

    fn diagonal(&self, j: usize) -> f64 {
        self.values[self.col_ptr[j]]
    }

    pub fn log_det(&self) -> f64 {
        (0..self.n).map(|j| 2.0 * self.diagonal(j).ln()).sum()
    }

    /// Solves A x = b in place.
    pub fn solve_in_place(&self, b: &mut [f64]) {
        let mut x = vec![0.0; self.n];
        for (i, &v) in b.iter().enumerate() {
            x[self.order[i]] = v;
        }
        for j in 0..self.n {
            let xj = x[j] / self.diagonal(j);
            x[j] = xj;
            for p in self.col_ptr[j] + 1..self.col_ptr[j + 1] {
                x[self.row_idx[p]] -= self.values[p] * xj;
            }
        }
        for j in (0..self.n).rev() {
            let mut s = x[j];
            for p in self.col_ptr[j] + 1..self.col_ptr[j + 1] {
                s -= self.values[p] * x[self.row_idx[p]];
            }
            x[j] = s / self.diagonal(j);
        }
        for (i, v) in b.iter_mut().enumerate() {
            *v = x[self.order[i]];
        }
    }

    /// The derivative of L along a change `d_numbers` of the matrix (the
    /// factorisation's loop in forward mode).
    fn factor_tangent(&self, d_numbers: &[f64]) -> Vec<f64> {
        let l = &self.values;
        let mut dl = self.scatter(d_numbers);
        let mut dx = vec![0.0; self.n];
        for j in 0..self.n {
            let (start, end) = (self.col_ptr[j], self.col_ptr[j + 1]);
            for p in start..end {
                dx[self.row_idx[p]] = dl[p];
            }
            for &(k, at) in &self.row_entries[j] {
                let (ljk, dljk) = (l[at], dl[at]);
                for p in at..self.col_ptr[k + 1] {
                    dx[self.row_idx[p]] -= dl[p] * ljk + l[p] * dljk;
                }
            }
            let ljj = l[start];
            let dljj = dx[j] / (2.0 * ljj);
            dl[start] = dljj;
            for p in start + 1..end {
                dl[p] = (dx[self.row_idx[p]] - l[p] * dljj) / ljj;
            }
            for p in start..end {
                dx[self.row_idx[p]] = 0.0;
            }
        }
        dl
    }

    /// W = A^-1 on L's pattern (Takahashi's recurrence, from the last
    /// column back), and with `dl` (L's derivative along a change of A) the
    /// derivative of those entries as well.
    fn selected_inverse(&self, dl: Option<&[f64]>) -> (Vec<f64>, Option<Vec<f64>>) {
        let l = &self.values;
        let mut z = vec![0.0; l.len()];
        let mut dz = dl.map(|_| vec![0.0; l.len()]);
        let lookup = |i: usize, k: usize| self.position(i.max(k), i.min(k)).expect("Takahashi's recurrence stays on L's pattern");
        for j in (0..self.n).rev() {
            let (start, end) = (self.col_ptr[j], self.col_ptr[j + 1]);
            let ljj = l[start];
            let dljj = dl.map_or(0.0, |dl| dl[start]);
            // off the diagonal: Z[i, j] = -(1 / L_jj) sum_k L[k, j] Z[i, k]
            for p in start + 1..end {
                let i = self.row_idx[p];
                let (mut s, mut ds) = (0.0, 0.0);
                for q in start + 1..end {
                    let at = lookup(i, self.row_idx[q]);
                    s += l[q] * z[at];
                    if let (Some(dl), Some(dz)) = (dl, dz.as_ref()) {
                        ds += dl[q] * z[at] + l[q] * dz[at];
                    }
                }
                z[p] = -s / ljj;
                if let Some(dz) = dz.as_mut() {
                    dz[p] = -ds / ljj + s * dljj / (ljj * ljj);
                }
            }
            // the diagonal: Z[j, j] = 1 / L_jj^2 - (1 / L_jj) sum_k L[k, j] Z[k, j]
            let (mut s, mut ds) = (0.0, 0.0);
            for q in start + 1..end {
                s += l[q] * z[q];
                if let (Some(dl), Some(dz)) = (dl, dz.as_ref()) {
                    ds += dl[q] * z[q] + l[q] * dz[q];
                }
            }
            z[start] = 1.0 / (ljj * ljj) - s / ljj;
            if let Some(dz) = dz.as_mut() {
                dz[start] = -2.0 * dljj / (ljj * ljj * ljj) - ds / ljj + s * dljj / (ljj * ljj);
            }
        }
        (z, dz)
    }

    /// The entries of A^-1 at the matrix's own entries (those given to `symbolic`).
    pub fn inverse_at_entries(&self) -> Vec<f64> {
        let (z, _) = self.selected_inverse(None);
        self.entry_at.iter().map(|&at| z[at]).collect()
    }

    /// tr(W T_l W T_k) for the symmetric matrices T_l given at the
    /// matrix's entries (W = A^-1): with dZ_l the derivative of W's entries
    /// along A -> A + T_l, which is -(W T_l W) there,
    ///   tr(W T_l W T_k) = -sum over entries of dZ_l T_k (twice off the diagonal).
    pub fn trace_products(&self, entries: &[(usize, usize)], ts: &[&[f64]]) -> Vec<f64> {
        let t = ts.len();
        let mut out = vec![0.0; t * t];
        for (l, tl) in ts.iter().enumerate() {
            let dl = self.factor_tangent(tl);
            let (_, dz) = self.selected_inverse(Some(&dl));
            let dz = dz.expect("a derivative was asked for");
            for (k, tk) in ts.iter().enumerate() {
                out[l + k * t] = -entries
                    .iter()
                    .zip(&self.entry_at)
                    .zip(tk.iter())
                    .map(|((&(i, j), &at), &v)| if i == j { dz[at] * v } else { 2.0 * dz[at] * v })
                    .sum::<f64>();
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tridiagonal matrix plus a long-range coupling (0, 5) that makes
    /// fill, against dense algebra.
    fn example() -> (usize, Vec<(usize, usize)>, Vec<f64>, Vec<f64>) {
        let n = 7;
        let mut entries = Vec::new();
        let mut values = Vec::new();
        for j in 0..n {
            entries.push((j, j));
            values.push(4.0 + j as f64 * 0.3);
            if j + 1 < n {
                entries.push((j + 1, j));
                values.push(-1.0 + 0.1 * j as f64);
            }
        }
        entries.push((5, 0));
        values.push(0.7);
        let mut dense = vec![0.0; n * n];
        for (&(i, j), &v) in entries.iter().zip(&values) {
            dense[i + j * n] = v;
            dense[j + i * n] = v;
        }
        (n, entries, values, dense)
    }

    #[test]
    fn factor_log_det_solve_and_selected_inverse_match_dense_algebra() {
        let (n, entries, values, dense) = example();
        let mut f = SparseCholesky::symbolic(n, &entries).unwrap();
        f.factor(&values).unwrap();
        let log_det: f64 = crate::linalg::symmetric_eigenvalues(&dense).unwrap().iter().map(|l| l.ln()).sum();
        assert!((f.log_det() - log_det).abs() < 1e-12);
        let w = crate::linalg::inverse_spd(&dense).unwrap();
        let b: Vec<f64> = (0..n).map(|i| (i as f64).sin()).collect();
        let mut x = b.clone();
        f.solve_in_place(&mut x);
        for i in 0..n {
            let expected: f64 = (0..n).map(|k| w[i + n * k] * b[k]).sum();
            assert!((x[i] - expected).abs() < 1e-12);
        }
        for (&(i, j), z) in entries.iter().zip(f.inverse_at_entries()) {
            assert!((z - w[i + n * j]).abs() < 1e-12, "W[{i}, {j}]");
        }
    }

    #[test]
    fn trace_products_match_dense_products() {
        let (n, entries, values, dense) = example();
        let mut f = SparseCholesky::symbolic(n, &entries).unwrap();
        f.factor(&values).unwrap();
        let w = crate::linalg::inverse_spd(&dense).unwrap();
        let t1: Vec<f64> = (0..entries.len()).map(|k| (k as f64 * 0.37).cos()).collect();
        let t2: Vec<f64> = (0..entries.len()).map(|k| (k as f64 * 0.91).sin()).collect();
        let to_dense = |t: &[f64]| {
            let mut d = vec![0.0; n * n];
            for (&(i, j), &v) in entries.iter().zip(t) {
                d[i + j * n] = v;
                d[j + i * n] = v;
            }
            d
        };
        let mul = |a: &[f64], b: &[f64]| {
            let mut c = vec![0.0; n * n];
            for i in 0..n {
                for j in 0..n {
                    c[i + n * j] = (0..n).map(|k| a[i + n * k] * b[k + n * j]).sum();
                }
            }
            c
        };
        let (d1, d2) = (to_dense(&t1), to_dense(&t2));
        let got = f.trace_products(&entries, &[&t1, &t2]);
        for (l, dl) in [&d1, &d2].iter().enumerate() {
            for (k, dk) in [&d1, &d2].iter().enumerate() {
                let prod = mul(&mul(&w, dl), &mul(&w, dk));
                let trace: f64 = (0..n).map(|i| prod[i + n * i]).sum();
                assert!((got[l + 2 * k] - trace).abs() < 1e-12, "({l}, {k}): {} vs {trace}", got[l + 2 * k]);
            }
        }
    }

    /// A field on a 12 x 12 grid (each point meets its four neighbours),
    /// where the order matters for the fill: against dense algebra.
    #[test]
    fn a_grid_is_factorised_in_a_fill_reducing_order() {
        let side = 12;
        let n = side * side;
        let mut entries = Vec::new();
        let mut values = Vec::new();
        for j in 0..n {
            entries.push((j, j));
            values.push(4.5);
            if j % side + 1 < side {
                entries.push((j + 1, j));
                values.push(-1.0);
            }
            if j + side < n {
                entries.push((j + side, j));
                values.push(-1.0);
            }
        }
        let mut dense = vec![0.0; n * n];
        for (&(i, j), &v) in entries.iter().zip(&values) {
            dense[i + j * n] = v;
            dense[j + i * n] = v;
        }
        let mut f = SparseCholesky::symbolic(n, &entries).unwrap();
        f.factor(&values).unwrap();
        let log_det: f64 = crate::linalg::symmetric_eigenvalues(&dense).unwrap().iter().map(|l| l.ln()).sum();
        assert!((f.log_det() - log_det).abs() < 1e-10 * log_det.abs());
        let w = crate::linalg::inverse_spd(&dense).unwrap();
        for (&(i, j), z) in entries.iter().zip(f.inverse_at_entries()) {
            assert!((z - w[i + n * j]).abs() < 1e-12);
        }
        let mut x: Vec<f64> = (0..n).map(|i| (i as f64 * 0.1).cos()).collect();
        let b = x.clone();
        f.solve_in_place(&mut x);
        for i in 0..n {
            let expected: f64 = (0..n).map(|k| w[i + n * k] * b[k]).sum();
            assert!((x[i] - expected).abs() < 1e-12);
        }
        // in the natural order the band fills in: 1794 entries in L (each
        // column holds the next `side` rows); the ordering leaves 1035
        assert!(f.row_idx.len() < 1300, "{} entries in L", f.row_idx.len());
    }

    #[test]
    fn a_matrix_that_is_not_positive_definite_is_refused_at_its_pivot() {
        let entries = vec![(0, 0), (1, 0), (1, 1)];
        let mut f = SparseCholesky::symbolic(2, &entries).unwrap();
        assert_eq!(f.factor(&[1.0, 2.0, 1.0]), Err(1));
        assert!(SparseCholesky::symbolic(2, &[(0, 0), (1, 0)]).is_err(), "a missing diagonal entry");
    }
}
