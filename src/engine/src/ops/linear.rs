//! Operations linear in their one input: their derivative rules all come
//! from `Linear` (see `rule.rs`); here each states only y = L x, x += L'y,
//! and how to record itself on another value (its tangent as operations).

use std::rc::Rc;

use ndarray::{ArrayView2, ArrayViewMut2, ShapeBuilder};

use crate::hessian_pattern::Set;

use crate::record;
use crate::rule::{Linear, LinearOp};
use crate::tape::Var;
use crate::tensor::{Shape, Tensor};
use crate::{bail, Result};

/// sum(x): a scalar.
#[derive(Debug)]
pub struct Sum;

impl LinearOp for Sum {
    fn name(&self) -> &'static str {
        "sum"
    }
    fn record(&self, x: &Var) -> Result<Var> {
        record::sum(x)
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
    fn record(&self, x: &Var) -> Result<Var> {
        record::mean(x)
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
    fn record(&self, x: &Var) -> Result<Var> {
        record::transpose(x)
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
        let mut into = column_major_mut(x, self.rows, self.cols);
        into += &column_major(y, self.cols, self.rows).t();
    }
    fn dependence(&self, x: &[Set], _output_len: usize) -> Vec<Set> {
        // y[j, i] = x[i, j]
        let mut y = Vec::with_capacity(x.len());
        for i in 0..self.rows {
            for j in 0..self.cols {
                y.push(Rc::clone(&x[i + j * self.rows]));
            }
        }
        y
    }
}

/// y = x' for a rows x cols column-major x: ndarray's transposed view does
/// the strided walk, and assign() picks the copy order.
fn transpose_into(x: &[f64], rows: usize, cols: usize, y: &mut [f64]) {
    column_major_mut(y, cols, rows).assign(&column_major(x, rows, cols).t());
}

fn column_major(data: &[f64], rows: usize, cols: usize) -> ArrayView2<'_, f64> {
    ArrayView2::from_shape((rows, cols).f(), data).expect("a column-major array of known size")
}

fn column_major_mut(data: &mut [f64], rows: usize, cols: usize) -> ArrayViewMut2<'_, f64> {
    ArrayViewMut2::from_shape((rows, cols).f(), data).expect("a column-major array of known size")
}

/// x[positions] for 0-based positions into x's numbers (column-major, so a
/// matrix's m[i, j], rev(), rep(), diag(m), reshaping and reordering are all
/// gathers): gathers forward, scatters back. The result is a vector, or has
/// the given shape.
#[derive(Debug)]
pub struct Gather {
    positions: Vec<usize>,
    shape: Option<Shape>,
}

impl Gather {
    pub fn new(positions: Vec<usize>) -> Self {
        Gather { positions, shape: None }
    }
    pub fn shaped(positions: Vec<usize>, shape: Shape) -> Result<Self> {
        if shape.numel() != positions.len() {
            bail!("[: a {} result needs {} positions, got {}", shape, shape.numel(), positions.len());
        }
        Ok(Gather { positions, shape: Some(shape) })
    }
}

impl LinearOp for Gather {
    fn name(&self) -> &'static str {
        "["
    }
    fn record(&self, x: &Var) -> Result<Var> {
        Var::apply(std::rc::Rc::new(Linear(Gather { positions: self.positions.clone(), shape: self.shape })), &[x.into()])
    }
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let n = x.numel();
        if let Some(&bad) = self.positions.iter().find(|&&p| p >= n) {
            bail!("[: index {} is out of range for {}", bad + 1, x.shape);
        }
        let data: Vec<f64> = self.positions.iter().map(|&p| x.data[p]).collect();
        match self.shape {
            Some(shape) => Tensor::new(shape, data),
            None => Ok(Tensor::vector(data)),
        }
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
    fn dependence(&self, x: &[Set], _output_len: usize) -> Vec<Set> {
        self.positions.iter().map(|&p| Rc::clone(&x[p])).collect()
    }
}

/// Cumulative sums along a vector (or a matrix's numbers, as R's cumsum).
#[derive(Debug)]
pub struct CumSum;

impl LinearOp for CumSum {
    fn name(&self) -> &'static str {
        "cumsum"
    }
    fn record(&self, x: &Var) -> Result<Var> {
        record::cumsum(x)
    }
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut y = vec![0.0; x.numel()];
        self.apply(&x.data, &mut y);
        Ok(Tensor::vector(y))
    }
    fn apply(&self, x: &[f64], y: &mut [f64]) {
        let mut total = 0.0;
        for (o, v) in y.iter_mut().zip(x) {
            total += v;
            *o = total;
        }
    }
    fn apply_transpose(&self, y: &[f64], x: &mut [f64]) {
        // x_j += sum_{i >= j} y_i: a cumulative sum from the end.
        let mut total = 0.0;
        for (o, v) in x.iter_mut().zip(y).rev() {
            total += v;
            *o += total;
        }
    }
}
