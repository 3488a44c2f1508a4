//! Column-major arrays with R's notion of shape: a vector has one extent, a
//! matrix two. Data is laid out exactly as R lays it out, so crossing the
//! boundary is at most a copy, never a transposition; and large R vectors
//! are not even copied but lent (see `Data`).

use std::any::Any;
use std::fmt;
use std::ops::Deref;
use std::rc::Rc;

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

/// The numbers of an array (or of a kernel's observations), read-only and
/// cheap to clone: a vector of its own, or memory lent by whoever made it,
/// kept alive by a handle on its owner. The bindings lend R's own vectors,
/// so that turning a large data vector or design matrix into a value (at
/// every recording of a log-likelihood) does not copy it: a copy costs
/// little in itself, but its fresh pages cost more, and the copies stay
/// alive until R's garbage collector frees the graphs holding them.
#[derive(Clone)]
pub struct Data {
    ptr: *const f64,
    len: usize,
    _owner: Rc<dyn Any>,
}

impl Data {
    /// Numbers in memory owned by `owner`.
    ///
    /// # Safety
    /// `ptr` must point to `len` initialised numbers (or be any non-null,
    /// aligned pointer when `len` is 0) that stay valid, and are not
    /// modified, for as long as `owner` (or a clone of it) is alive.
    pub unsafe fn lent(ptr: *const f64, len: usize, owner: Rc<dyn Any>) -> Data {
        Data { ptr, len, _owner: owner }
    }

    pub fn as_slice(&self) -> &[f64] {
        // SAFETY: the contract of `lent` (or a Vec that `_owner` holds).
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl From<Vec<f64>> for Data {
    fn from(v: Vec<f64>) -> Data {
        let (ptr, len) = (v.as_ptr(), v.len());
        // SAFETY: moving the Vec into the Rc does not move its buffer, and
        // nothing mutates it afterwards.
        unsafe { Data::lent(ptr, len, Rc::new(v)) }
    }
}

impl Default for Data {
    fn default() -> Data {
        Vec::new().into()
    }
}

impl From<&[f64]> for Data {
    fn from(v: &[f64]) -> Data {
        v.to_vec().into()
    }
}

impl FromIterator<f64> for Data {
    fn from_iter<I: IntoIterator<Item = f64>>(iter: I) -> Data {
        iter.into_iter().collect::<Vec<f64>>().into()
    }
}

impl Deref for Data {
    type Target = [f64];
    #[inline]
    fn deref(&self) -> &[f64] {
        self.as_slice()
    }
}

impl<'a> IntoIterator for &'a Data {
    type Item = &'a f64;
    type IntoIter = std::slice::Iter<'a, f64>;
    fn into_iter(self) -> Self::IntoIter {
        self.as_slice().iter()
    }
}

impl fmt::Debug for Data {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_slice().fmt(f)
    }
}

impl PartialEq for Data {
    fn eq(&self, other: &Data) -> bool {
        self.as_slice() == other.as_slice()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub shape: Shape,
    pub data: Data,
}

impl Tensor {
    pub fn new(shape: Shape, data: impl Into<Data>) -> Result<Self> {
        let data = data.into();
        if shape.numel() != data.len() {
            bail!("array: shape {} needs {} numbers, got {}", shape, shape.numel(), data.len());
        }
        Ok(Tensor { shape, data })
    }
    pub fn scalar(x: f64) -> Self {
        Tensor { shape: Shape::scalar(), data: vec![x].into() }
    }
    pub fn vector(data: impl Into<Data>) -> Self {
        let data = data.into();
        Tensor { shape: Shape::vector(data.len()), data }
    }
    pub fn matrix(rows: usize, cols: usize, data: impl Into<Data>) -> Result<Self> {
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
