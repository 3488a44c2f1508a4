//! Sparse symmetric positive definite matrices that split into independent
//! blocks: the negative Hessian H of a joint log density in its random
//! effects, where effects of different groups never meet in one term. The
//! blocks are the connected components of H's sparsity pattern
//! (`hessian_pattern`), so every operation here is exact: H^-1 has the same
//! blocks, and its entries within a block are all that tr(H^-1 A) ever
//! reads for an A with H's pattern.
//!
//! A block of a few effects (one group's) is a small dense matrix, handled
//! by plain loops; a large one (effects that all meet: crossed factors)
//! by faer's blocked dense routines; a large one whose effects each meet
//! only a few others (a random walk, a spatial field) by its sparse
//! Cholesky factor (`sparse_cholesky.rs`), whose inverse is never formed.
//!
//! Matrices are given by their lower-triangle entries (row >= column, the
//! diagonal included) in the order of the pattern's pairs.

use std::cell::OnceCell;

use faer::{Mat, Side};

use crate::sparse_cholesky::SparseCholesky;
use crate::{bail, Result};

/// Blocks larger than this are factorised and inverted by faer's blocked
/// dense routines, or kept sparse (see `is_sparse`); smaller ones, the
/// common case of a few effects per group, by the plain loops below, which
/// cost nothing to set up.
const LARGE_BLOCK: usize = 48;

/// A pattern: its pairs, and the blocks they make.
pub struct BlockPattern {
    q: usize,
    pairs: Vec<(u32, u32)>,
    /// The members of each block, in increasing order.
    blocks: Vec<Vec<usize>>,
    /// The pairs (their positions in `pairs`) within each block.
    pairs_of: Vec<Vec<usize>>,
    /// For each index: its place within its block.
    slot: Vec<usize>,
    /// The symbolic analysis (ordering, factor's pattern) of each sparse
    /// block, made at its first factorisation: a Laplace fit factorises
    /// matrices of one pattern many times.
    symbolic: Vec<OnceCell<SparseCholesky>>,
}

enum Factor {
    /// Lower triangular, column-major, m x m.
    Dense(Vec<f64>),
    Sparse(SparseCholesky),
}

/// The Cholesky factors of the blocks of a matrix with that pattern.
pub struct BlockFactor<'a> {
    pattern: &'a BlockPattern,
    factors: Vec<Factor>,
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

impl BlockPattern {
    /// The pattern of a q x q matrix from its lower-triangle pairs (0-based).
    pub fn new(q: usize, pairs: Vec<(u32, u32)>) -> Result<BlockPattern> {
        let mut parent: Vec<usize> = (0..q).collect();
        for &(i, j) in &pairs {
            let (i, j) = (i as usize, j as usize);
            if i >= q || j >= q || i < j {
                bail!("block pattern: entry ({}, {}) is not in the lower triangle of a {q} x {q} matrix", i + 1, j + 1);
            }
            let (ri, rj) = (find(&mut parent, i), find(&mut parent, j));
            if ri != rj {
                parent[ri.max(rj)] = ri.min(rj);
            }
        }
        let mut block_of = vec![usize::MAX; q];
        let mut slot = vec![0; q];
        let mut blocks: Vec<Vec<usize>> = Vec::new();
        let mut block_of_root = vec![usize::MAX; q];
        for i in 0..q {
            let root = find(&mut parent, i);
            if block_of_root[root] == usize::MAX {
                block_of_root[root] = blocks.len();
                blocks.push(Vec::new());
            }
            let b = block_of_root[root];
            block_of[i] = b;
            slot[i] = blocks[b].len();
            blocks[b].push(i);
        }
        let mut pairs_of: Vec<Vec<usize>> = vec![Vec::new(); blocks.len()];
        for (k, &(i, _)) in pairs.iter().enumerate() {
            pairs_of[block_of[i as usize]].push(k);
        }
        let symbolic = blocks.iter().map(|_| OnceCell::new()).collect();
        Ok(BlockPattern { q, pairs, blocks, pairs_of, slot, symbolic })
    }

    pub fn n_blocks(&self) -> usize {
        self.blocks.len()
    }

    pub fn largest_block(&self) -> usize {
        self.blocks.iter().map(Vec::len).max().unwrap_or(0)
    }

    /// Whether block b is kept sparse: large, and at most a tenth of its
    /// lower triangle in the pattern.
    fn is_sparse(&self, b: usize) -> bool {
        let m = self.blocks[b].len();
        m > LARGE_BLOCK && self.pairs_of[b].len() * 10 <= m * (m + 1) / 2
    }

    /// Block b's pairs in the block's own numbering.
    fn local_entries(&self, b: usize) -> Vec<(usize, usize)> {
        self.pairs_of[b]
            .iter()
            .map(|&k| {
                let (i, j) = self.pairs[k];
                (self.slot[i as usize], self.slot[j as usize])
            })
            .collect()
    }

    /// A colour per column such that two columns of one colour never have
    /// a non-zero in the same row: then H v, for v the indicator of a
    /// colour, holds each of those columns' entries apart (greedy colouring
    /// of the column intersection graph).
    pub fn colours(&self) -> Vec<u32> {
        let mut neighbours: Vec<Vec<usize>> = vec![Vec::new(); self.q];
        for &(i, j) in &self.pairs {
            let (i, j) = (i as usize, j as usize);
            neighbours[i].push(j);
            if i != j {
                neighbours[j].push(i);
            }
        }
        let mut colour = vec![u32::MAX; self.q];
        let mut taken_by: Vec<usize> = Vec::new();
        for j in 0..self.q {
            // colours of columns that share a row with j
            for &row in &neighbours[j] {
                for &k in &neighbours[row] {
                    if colour[k] != u32::MAX {
                        let c = colour[k] as usize;
                        if taken_by.len() <= c {
                            taken_by.resize(c + 1, usize::MAX);
                        }
                        taken_by[c] = j;
                    }
                }
            }
            let free = (0..).find(|&c| taken_by.get(c).is_none_or(|&t| t != j)).unwrap_or(0);
            colour[j] = free as u32;
        }
        colour
    }

    fn check_values(&self, values: &[f64]) -> Result<()> {
        if values.len() != self.pairs.len() {
            bail!("block pattern: {} values for a pattern of {} entries", values.len(), self.pairs.len());
        }
        Ok(())
    }

    /// Block b of `values` (aligned with the pairs) as a dense symmetric matrix.
    fn dense_block(&self, b: usize, values: &[f64]) -> Vec<f64> {
        let m = self.blocks[b].len();
        let mut dense = vec![0.0; m * m];
        for &k in &self.pairs_of[b] {
            let (i, j) = self.pairs[k];
            let (si, sj) = (self.slot[i as usize], self.slot[j as usize]);
            dense[si + sj * m] = values[k];
            dense[sj + si * m] = values[k];
        }
        dense
    }

    /// Block b's numbers, in the order of its pairs.
    fn block_values(&self, b: usize, values: &[f64]) -> Vec<f64> {
        self.pairs_of[b].iter().map(|&k| values[k]).collect()
    }

    /// The Cholesky factor of every block; an error naming the first
    /// effect whose pivot is not positive (the matrix is not positive definite).
    pub fn factor(&self, values: &[f64]) -> Result<BlockFactor<'_>> {
        self.check_values(values)?;
        let mut factors = Vec::with_capacity(self.blocks.len());
        for b in 0..self.blocks.len() {
            let m = self.blocks[b].len();
            let (factor, failed) = if self.is_sparse(b) {
                let analysis = match self.symbolic[b].get() {
                    Some(a) => a,
                    None => {
                        let a = SparseCholesky::symbolic(m, &self.local_entries(b))?;
                        self.symbolic[b].get_or_init(|| a)
                    }
                };
                let mut f = analysis.clone();
                let failed = f.factor(&self.block_values(b, values)).err();
                (Factor::Sparse(f), failed)
            } else {
                let mut a = self.dense_block(b, values);
                let failed = if m > LARGE_BLOCK { faer_cholesky_in_place(&mut a, m) } else { cholesky_in_place(&mut a, m) }.err();
                (Factor::Dense(a), failed)
            };
            if let Some(k) = failed {
                bail!("the matrix is not positive definite (pivot of element {})", self.blocks[b][k] + 1);
            }
            factors.push(factor);
        }
        Ok(BlockFactor { pattern: self, factors })
    }
}

/// Lower Cholesky factor of an m x m column-major matrix, in place (the
/// upper triangle is zeroed); `Err(k)` at a pivot k that is not positive.
fn cholesky_in_place(a: &mut [f64], m: usize) -> std::result::Result<(), usize> {
    for j in 0..m {
        let mut d = a[j + j * m];
        for k in 0..j {
            d -= a[j + k * m] * a[j + k * m];
        }
        if !(d > 0.0 && d.is_finite()) {
            return Err(j);
        }
        let d = d.sqrt();
        a[j + j * m] = d;
        for i in j + 1..m {
            let mut s = a[i + j * m];
            for k in 0..j {
                s -= a[i + k * m] * a[j + k * m];
            }
            a[i + j * m] = s / d;
        }
        for i in 0..j {
            a[i + j * m] = 0.0;
        }
    }
    Ok(())
}

/// The same by faer (blocked: for large blocks). Non-finite entries never
/// reach it; a failure is reported at the first pivot.
fn faer_cholesky_in_place(a: &mut [f64], m: usize) -> std::result::Result<(), usize> {
    if !a.iter().all(|v| v.is_finite()) {
        return Err(0);
    }
    let llt = Mat::from_fn(m, m, |i, j| a[i + j * m]).llt(Side::Lower).map_err(|_| 0usize)?;
    let l = llt.L();
    for j in 0..m {
        for i in 0..m {
            a[i + j * m] = if i >= j { l[(i, j)] } else { 0.0 };
        }
    }
    Ok(())
}

/// The inverse of L L' for a large block's L, by faer.
fn faer_inverse(l: &[f64], m: usize) -> Vec<f64> {
    let mut l_inverse = Mat::<f64>::zeros(m, m);
    faer::linalg::triangular_inverse::invert_lower_triangular(l_inverse.as_mut(), Mat::from_fn(m, m, |i, j| l[i + j * m]).as_ref(), faer::Par::Seq);
    let w = l_inverse.transpose() * &l_inverse;
    let mut out = vec![0.0; m * m];
    for j in 0..m {
        for i in 0..m {
            out[i + j * m] = w[(i, j)];
        }
    }
    out
}

/// Solves L L' x = b in place for one block's L.
fn cholesky_solve_in_place(l: &[f64], m: usize, x: &mut [f64]) {
    for i in 0..m {
        let mut s = x[i];
        for k in 0..i {
            s -= l[i + k * m] * x[k];
        }
        x[i] = s / l[i + i * m];
    }
    for i in (0..m).rev() {
        let mut s = x[i];
        for k in i + 1..m {
            s -= l[k + i * m] * x[k];
        }
        x[i] = s / l[i + i * m];
    }
}

/// A dense block's inverse from its factor.
fn dense_inverse(l: &[f64], m: usize) -> Vec<f64> {
    if m > LARGE_BLOCK {
        return faer_inverse(l, m);
    }
    let mut w = vec![0.0; m * m];
    for j in 0..m {
        let column = &mut w[j * m..(j + 1) * m];
        column[j] = 1.0;
        cholesky_solve_in_place(l, m, column);
    }
    w
}

impl BlockFactor<'_> {
    /// log det of the matrix.
    pub fn log_det(&self) -> f64 {
        self.factors
            .iter()
            .zip(&self.pattern.blocks)
            .map(|(factor, b)| match factor {
                Factor::Dense(l) => (0..b.len()).map(|i| 2.0 * l[i + i * b.len()].ln()).sum::<f64>(),
                Factor::Sparse(f) => f.log_det(),
            })
            .sum()
    }

    /// Solves A X = B for a q x cols column-major B, in place.
    pub fn solve(&self, rhs: &mut [f64], cols: usize) {
        let q = self.pattern.q;
        let mut x = Vec::new();
        for c in 0..cols {
            let column = &mut rhs[c * q..(c + 1) * q];
            for (members, factor) in self.pattern.blocks.iter().zip(&self.factors) {
                x.clear();
                x.extend(members.iter().map(|&i| column[i]));
                match factor {
                    Factor::Dense(l) => cholesky_solve_in_place(l, members.len(), &mut x),
                    Factor::Sparse(f) => f.solve_in_place(&mut x),
                }
                for (&i, &v) in members.iter().zip(&x) {
                    column[i] = v;
                }
            }
        }
    }

    /// The entries of A^-1 at the pattern's pairs.
    pub fn inverse_on_pattern(&self) -> Vec<f64> {
        let p = self.pattern;
        let mut out = vec![0.0; p.pairs.len()];
        for (b, factor) in self.factors.iter().enumerate() {
            match factor {
                Factor::Dense(l) => {
                    let m = p.blocks[b].len();
                    let w = dense_inverse(l, m);
                    for &k in &p.pairs_of[b] {
                        let (i, j) = p.pairs[k];
                        out[k] = w[p.slot[i as usize] + p.slot[j as usize] * m];
                    }
                }
                Factor::Sparse(f) => {
                    for (&k, w) in p.pairs_of[b].iter().zip(f.inverse_at_entries()) {
                        out[k] = w;
                    }
                }
            }
        }
        out
    }

    /// tr(A^-1 T_l A^-1 T_k) for every pair of the symmetric matrices T_l
    /// (given on the pattern, each aligned with its pairs): a t x t
    /// column-major matrix.
    pub fn trace_products(&self, ts: &[&[f64]]) -> Result<Vec<f64>> {
        let p = self.pattern;
        for tl in ts {
            p.check_values(tl)?;
        }
        let t = ts.len();
        let mut out = vec![0.0; t * t];
        for (b, factor) in self.factors.iter().enumerate() {
            let block = match factor {
                Factor::Dense(l) => dense_trace_products(&dense_inverse(l, p.blocks[b].len()), p, b, ts),
                Factor::Sparse(f) => {
                    let local: Vec<Vec<f64>> = ts.iter().map(|tl| p.block_values(b, tl)).collect();
                    let local: Vec<&[f64]> = local.iter().map(Vec::as_slice).collect();
                    f.trace_products(&p.local_entries(b), &local)
                }
            };
            for (o, v) in out.iter_mut().zip(block) {
                *o += v;
            }
        }
        Ok(out)
    }
}

/// tr(W T_l W T_k) within one dense block, W its inverse.
fn dense_trace_products(w: &[f64], p: &BlockPattern, b: usize, ts: &[&[f64]]) -> Vec<f64> {
    let m = p.blocks[b].len();
    let t = ts.len();
    // A_l = W T_l within the block
    let products: Vec<Vec<f64>> = ts
        .iter()
        .map(|tl| {
            let tl = p.dense_block(b, tl);
            let mut a = vec![0.0; m * m];
            for j in 0..m {
                for k in 0..m {
                    let tkj = tl[k + j * m];
                    if tkj != 0.0 {
                        for i in 0..m {
                            a[i + j * m] += w[i + k * m] * tkj;
                        }
                    }
                }
            }
            a
        })
        .collect();
    let mut out = vec![0.0; t * t];
    for l in 0..t {
        for k in 0..=l {
            let (al, ak) = (&products[l], &products[k]);
            let mut s = 0.0;
            for i in 0..m {
                for j in 0..m {
                    s += al[i + j * m] * ak[j + i * m];
                }
            }
            out[l + k * t] = s;
            out[k + l * t] = s;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two blocks {0, 2} and {1}, plus a lone {3}: a known SPD matrix.
    fn example() -> (BlockPattern, Vec<f64>, Vec<f64>) {
        let pairs = vec![(0, 0), (2, 0), (1, 1), (2, 2), (3, 3)];
        let values = vec![4.0, 1.0, 2.0, 3.0, 5.0];
        // the dense matrix, column-major 4 x 4
        let mut dense = vec![0.0; 16];
        for (&(i, j), &v) in pairs.iter().zip(&values) {
            dense[i as usize + 4 * j as usize] = v;
            dense[j as usize + 4 * i as usize] = v;
        }
        (BlockPattern::new(4, pairs).unwrap(), values, dense)
    }

    #[test]
    fn blocks_are_the_connected_components() {
        let (p, _, _) = example();
        assert_eq!(p.n_blocks(), 3);
        assert_eq!(p.largest_block(), 2);
        let colours = p.colours();
        assert_ne!(colours[0], colours[2], "columns 0 and 2 share rows");
        assert_eq!(colours[1], colours[0], "columns in different blocks can share a colour");
    }

    #[test]
    fn log_det_solve_and_inverse_match_the_dense_matrix() {
        let (p, values, dense) = example();
        let f = p.factor(&values).unwrap();
        let inverse = crate::linalg::inverse_spd(&dense).unwrap();
        // det = (4*3 - 1) * 2 * 5
        assert!((f.log_det() - (110.0f64).ln()).abs() < 1e-12);
        let mut b = vec![1.0, 2.0, 3.0, 4.0];
        f.solve(&mut b, 1);
        for i in 0..4 {
            let expected: f64 = (0..4).map(|k| inverse[i + 4 * k] * [1.0, 2.0, 3.0, 4.0][k]).sum();
            assert!((b[i] - expected).abs() < 1e-12);
        }
        for (&(i, j), w) in p.pairs.iter().zip(f.inverse_on_pattern()) {
            assert!((w - inverse[i as usize + 4 * j as usize]).abs() < 1e-12);
        }
    }

    #[test]
    fn trace_products_match_dense_products() {
        let (p, values, dense) = example();
        let f = p.factor(&values).unwrap();
        let w = crate::linalg::inverse_spd(&dense).unwrap();
        let t1 = vec![1.0, -0.5, 2.0, 0.3, 1.5];
        let t2 = vec![0.2, 0.7, -1.0, 2.0, 0.1];
        let to_dense = |t: &[f64]| {
            let mut d = vec![0.0; 16];
            for (&(i, j), &v) in p.pairs.iter().zip(t) {
                d[i as usize + 4 * j as usize] = v;
                d[j as usize + 4 * i as usize] = v;
            }
            d
        };
        let mul = |a: &[f64], b: &[f64]| {
            let mut c = vec![0.0; 16];
            for i in 0..4 {
                for j in 0..4 {
                    c[i + 4 * j] = (0..4).map(|k| a[i + 4 * k] * b[k + 4 * j]).sum();
                }
            }
            c
        };
        let (d1, d2) = (to_dense(&t1), to_dense(&t2));
        let got = f.trace_products(&[&t1, &t2]).unwrap();
        for (l, dl) in [&d1, &d2].iter().enumerate() {
            for (k, dk) in [&d1, &d2].iter().enumerate() {
                let prod = mul(&mul(&w, dl), &mul(&w, dk));
                let trace: f64 = (0..4).map(|i| prod[i + 4 * i]).sum();
                assert!((got[l + 2 * k] - trace).abs() < 1e-12, "({l}, {k}): {} vs {trace}", got[l + 2 * k]);
            }
        }
    }

    /// A block above LARGE_BLOCK goes through faer: the same answers.
    #[test]
    fn a_large_block_matches_dense_algebra() {
        let m = LARGE_BLOCK + 12;
        // A = B B' + m I, B with reproducible entries
        let b: Vec<f64> = (0..m * m).map(|k| ((k * 7919 % 1013) as f64 / 1013.0) - 0.5).collect();
        let mut dense = vec![0.0; m * m];
        for i in 0..m {
            for j in 0..m {
                dense[i + j * m] = (0..m).map(|k| b[i + k * m] * b[j + k * m]).sum::<f64>() + if i == j { m as f64 } else { 0.0 };
            }
        }
        let pairs: Vec<(u32, u32)> = (0..m).flat_map(|j| (j..m).map(move |i| (i as u32, j as u32))).collect();
        let values: Vec<f64> = pairs.iter().map(|&(i, j)| dense[i as usize + j as usize * m]).collect();
        let p = BlockPattern::new(m, pairs).unwrap();
        let f = p.factor(&values).unwrap();
        let log_det: f64 = crate::linalg::symmetric_eigenvalues(&dense).unwrap().iter().map(|l| l.ln()).sum();
        assert!((f.log_det() - log_det).abs() < 1e-9 * log_det.abs());
        let inverse = crate::linalg::inverse_spd(&dense).unwrap();
        for (&(i, j), w) in p.pairs.iter().zip(f.inverse_on_pattern()) {
            assert!((w - inverse[i as usize + m * j as usize]).abs() < 1e-12);
        }
        let mut x: Vec<f64> = (0..m).map(|i| i as f64).collect();
        f.solve(&mut x, 1);
        for i in 0..m {
            let expected: f64 = (0..m).map(|k| inverse[i + m * k] * k as f64).sum();
            assert!((x[i] - expected).abs() < 1e-10);
        }
    }

    /// A random walk's chain of 200 effects: one block, kept sparse; the
    /// same answers as dense algebra.
    #[test]
    fn a_large_sparse_block_matches_dense_algebra() {
        let m = 200;
        let mut pairs = Vec::new();
        let mut values = Vec::new();
        for j in 0..m {
            pairs.push((j as u32, j as u32));
            values.push(2.5 + (j % 7) as f64 * 0.1);
            if j + 1 < m {
                pairs.push((j as u32 + 1, j as u32));
                values.push(-1.0);
            }
        }
        let mut dense = vec![0.0; m * m];
        for (&(i, j), &v) in pairs.iter().zip(&values) {
            dense[i as usize + j as usize * m] = v;
            dense[j as usize + i as usize * m] = v;
        }
        let p = BlockPattern::new(m, pairs).unwrap();
        assert!(p.is_sparse(0));
        let f = p.factor(&values).unwrap();
        let log_det: f64 = crate::linalg::symmetric_eigenvalues(&dense).unwrap().iter().map(|l| l.ln()).sum();
        assert!((f.log_det() - log_det).abs() < 1e-9 * log_det.abs());
        let inverse = crate::linalg::inverse_spd(&dense).unwrap();
        for (&(i, j), w) in p.pairs.iter().zip(f.inverse_on_pattern()) {
            assert!((w - inverse[i as usize + m * j as usize]).abs() < 1e-12);
        }
        // tr(W T W T) for T = the pattern's own entries, against dense products
        let t: Vec<f64> = (0..p.pairs.len()).map(|k| (k as f64 * 0.3).sin()).collect();
        let mut td = vec![0.0; m * m];
        for (&(i, j), &v) in p.pairs.iter().zip(&t) {
            td[i as usize + j as usize * m] = v;
            td[j as usize + i as usize * m] = v;
        }
        let mut wt = vec![0.0; m * m];
        for i in 0..m {
            for j in 0..m {
                wt[i + m * j] = (0..m).map(|k| inverse[i + m * k] * td[k + m * j]).sum();
            }
        }
        let trace: f64 = (0..m).flat_map(|i| (0..m).map(move |j| (i, j))).map(|(i, j)| wt[i + m * j] * wt[j + m * i]).sum();
        let got = f.trace_products(&[&t]).unwrap()[0];
        assert!((got - trace).abs() < 1e-10 * trace.abs(), "{got} vs {trace}");
    }

    #[test]
    fn not_positive_definite_is_an_error() {
        let p = BlockPattern::new(2, vec![(0, 0), (1, 0), (1, 1)]).unwrap();
        assert!(p.factor(&[1.0, 2.0, 1.0]).is_err());
        assert!(BlockPattern::new(2, vec![(0, 1)]).is_err());
    }
}
