//! A batch of directions: `dirs` column vectors of length `rows`, stored
//! column-major (direction k is `data[k*rows .. (k+1)*rows]`). Tangents and
//! second-order adjoints of a node with n elements are n x p batches, one
//! column per direction of the Hessian.

#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub rows: usize,
    pub dirs: usize,
    pub data: Vec<f64>,
}

impl Batch {
    pub fn zeros(rows: usize, dirs: usize) -> Self {
        Batch { rows, dirs, data: vec![0.0; rows * dirs] }
    }
    pub fn from_data(rows: usize, dirs: usize, data: Vec<f64>) -> Self {
        debug_assert_eq!(data.len(), rows * dirs);
        Batch { rows, dirs, data }
    }
    #[inline]
    pub fn col(&self, k: usize) -> &[f64] {
        &self.data[k * self.rows..(k + 1) * self.rows]
    }
    #[inline]
    pub fn col_mut(&mut self, k: usize) -> &mut [f64] {
        let r = self.rows;
        &mut self.data[k * r..(k + 1) * r]
    }
    /// Adds `other` into `self`; both must have the same size.
    pub fn add_assign(&mut self, other: &Batch) {
        for (a, b) in self.data.iter_mut().zip(&other.data) {
            *a += b;
        }
    }
}

/// Adds `src` into an optional accumulator, taking ownership when empty.
pub fn accumulate(acc: &mut Option<Batch>, src: Batch) {
    match acc {
        Some(a) => a.add_assign(&src),
        None => *acc = Some(src),
    }
}

/// Adds a plain vector into an optional accumulator.
pub fn accumulate_vec(acc: &mut Option<Vec<f64>>, src: Vec<f64>) {
    match acc {
        Some(a) => a.iter_mut().zip(&src).for_each(|(x, y)| *x += y),
        None => *acc = Some(src),
    }
}
