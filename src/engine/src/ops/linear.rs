//! Operations linear in their one input: their derivative rules all come
//! from `Linear` (see `rule.rs`); here each states only y = L x and x += L'y.

use crate::rule::LinearOp;
use crate::tensor::{Shape, Tensor};
use crate::{bail, Result};

/// sum(x): a scalar.
#[derive(Debug)]
pub struct Sum;

impl LinearOp for Sum {
    fn name(&self) -> &'static str {
        "sum"
    }
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(Tensor::scalar(x.data.iter().sum()))
    }
    fn apply(&self, x: &[f64], y: &mut [f64]) {
        y[0] = x.iter().sum();
    }
    fn apply_transpose(&self, y: &[f64], x: &mut [f64]) {
        x.iter_mut().for_each(|v| *v += y[0]);
    }
}

/// mean(x): a scalar.
#[derive(Debug)]
pub struct Mean;

impl LinearOp for Mean {
    fn name(&self) -> &'static str {
        "mean"
    }
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if x.numel() == 0 {
            bail!("mean: the argument has no elements");
        }
        Ok(Tensor::scalar(x.data.iter().sum::<f64>() / x.numel() as f64))
    }
    fn apply(&self, x: &[f64], y: &mut [f64]) {
        y[0] = x.iter().sum::<f64>() / x.len() as f64;
    }
    fn apply_transpose(&self, y: &[f64], x: &mut [f64]) {
        let w = y[0] / x.len() as f64;
        x.iter_mut().for_each(|v| *v += w);
    }
}

/// t(x): a vector becomes a 1 x n matrix, as in R. Built for the shape of
/// its input, since the sweeps need the input's extents.
#[derive(Debug)]
pub struct Transpose {
    rows: usize,
    cols: usize,
}

impl Transpose {
    pub fn for_shape(shape: &Shape) -> Self {
        let (rows, cols) = shape.as_matrix();
        Transpose { rows, cols }
    }
}

impl LinearOp for Transpose {
    fn name(&self) -> &'static str {
        "t"
    }
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if x.shape.as_matrix() != (self.rows, self.cols) {
            bail!("t: built for {}x{}, applied to {}", self.rows, self.cols, x.shape);
        }
        let mut y = vec![0.0; x.numel()];
        transpose_into(&x.data, self.rows, self.cols, &mut y);
        Tensor::matrix(self.cols, self.rows, y)
    }
    fn apply(&self, x: &[f64], y: &mut [f64]) {
        transpose_into(x, self.rows, self.cols, y);
    }
    fn apply_transpose(&self, y: &[f64], x: &mut [f64]) {
        // y is cols x rows; its transpose is added into x (rows x cols).
        for i in 0..self.rows {
            for j in 0..self.cols {
                x[i + j * self.rows] += y[j + i * self.cols];
            }
        }
    }
}

fn transpose_into(x: &[f64], rows: usize, cols: usize, y: &mut [f64]) {
    for i in 0..rows {
        for j in 0..cols {
            y[j + i * cols] = x[i + j * rows];
        }
    }
}

/// x[i] for a vector of 0-based positions: gathers forward, scatters back.
#[derive(Debug)]
pub struct Gather {
    positions: Vec<usize>,
}

impl Gather {
    pub fn new(positions: Vec<usize>) -> Self {
        Gather { positions }
    }
}

impl LinearOp for Gather {
    fn name(&self) -> &'static str {
        "["
    }
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let n = x.numel();
        if let Some(&bad) = self.positions.iter().find(|&&p| p >= n) {
            bail!("[: index {} is out of range for {}", bad + 1, x.shape);
        }
        Ok(Tensor::vector(self.positions.iter().map(|&p| x.data[p]).collect::<Vec<f64>>()))
    }
    fn apply(&self, x: &[f64], y: &mut [f64]) {
        for (o, &p) in y.iter_mut().zip(&self.positions) {
            *o = x[p];
        }
    }
    fn apply_transpose(&self, y: &[f64], x: &mut [f64]) {
        for (&v, &p) in y.iter().zip(&self.positions) {
            x[p] += v;
        }
    }
}
