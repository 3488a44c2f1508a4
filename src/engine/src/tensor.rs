//! Column-major arrays with R's notion of shape: a vector has one extent, a
//! matrix two. Data is laid out exactly as R lays it out, so crossing the
//! boundary is a copy, never a transposition.

use std::fmt;

use crate::{bail, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape(pub Vec<usize>);

impl Shape {
    pub fn vector(n: usize) -> Self {
        Shape(vec![n])
    }
    pub fn matrix(rows: usize, cols: usize) -> Self {
        Shape(vec![rows, cols])
    }
    pub fn scalar() -> Self {
        Shape(vec![1])
    }
    pub fn numel(&self) -> usize {
        self.0.iter().product()
    }
    pub fn is_matrix(&self) -> bool {
        self.0.len() == 2
    }
    /// Rows and columns when the array is read as a matrix: a vector is a column.
    pub fn as_matrix(&self) -> (usize, usize) {
        match self.0.as_slice() {
            [r, c] => (*r, *c),
            _ => (self.numel(), 1),
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [n] if *n == 1 => write!(f, "scalar"),
            [n] => write!(f, "vector[{n}]"),
            dims => {
                let parts: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
                write!(f, "matrix[{}]", parts.join("x"))
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub shape: Shape,
    pub data: Vec<f64>,
}

impl Tensor {
    pub fn new(shape: Shape, data: Vec<f64>) -> Result<Self> {
        if shape.numel() != data.len() {
            bail!("array: shape {} needs {} numbers, got {}", shape, shape.numel(), data.len());
        }
        Ok(Tensor { shape, data })
    }
    pub fn scalar(x: f64) -> Self {
        Tensor { shape: Shape::scalar(), data: vec![x] }
    }
    pub fn vector(data: Vec<f64>) -> Self {
        Tensor { shape: Shape::vector(data.len()), data }
    }
    pub fn matrix(rows: usize, cols: usize, data: Vec<f64>) -> Result<Self> {
        Tensor::new(Shape::matrix(rows, cols), data)
    }
    pub fn numel(&self) -> usize {
        self.data.len()
    }
    pub fn is_scalar(&self) -> bool {
        self.data.len() == 1
    }
}

/// How two operands of an elementwise operation line up, R-style but strict:
/// a length-one operand combines with anything; equal shapes combine
/// elementwise; a plain vector combines with a matrix of the same length
/// (the result keeps the matrix shape). Anything else is an error, never
/// silent recycling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Broadcast {
    pub len: usize,
    pub a_scalar: bool,
    pub b_scalar: bool,
}

impl Broadcast {
    pub fn of(op: &str, a: &Shape, b: &Shape) -> Result<(Shape, Broadcast)> {
        let (na, nb) = (a.numel(), b.numel());
        let out = if a == b {
            a.clone()
        } else if na == 1 {
            b.clone()
        } else if nb == 1 {
            a.clone()
        } else if na == nb && (a.0.len() == 1 || b.0.len() == 1) {
            if a.is_matrix() { a.clone() } else { b.clone() }
        } else {
            bail!("{op}: cannot combine shapes {a} and {b} (need equal shapes, or one of length 1)");
        };
        let len = out.numel();
        Ok((out, Broadcast { len, a_scalar: na == 1 && len != 1, b_scalar: nb == 1 && len != 1 }))
    }
    #[inline]
    pub fn ia(&self, i: usize) -> usize {
        if self.a_scalar { 0 } else { i }
    }
    #[inline]
    pub fn ib(&self, i: usize) -> usize {
        if self.b_scalar { 0 } else { i }
    }
}
