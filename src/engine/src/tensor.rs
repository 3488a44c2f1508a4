//! Column-major arrays with R's notion of shape: a vector has one extent, a
//! matrix two. Data is laid out exactly as R lays it out, so crossing the
//! boundary is at most a copy, never a transposition; and large R vectors
//! are not even copied but lent (see `Data`).

use std::any::Any;
use std::cell::{Cell, OnceCell};
use std::fmt;
use std::ops::Deref;
use std::rc::Rc;

use crate::{bail, Result};

/// The extents of an array: a vector (one extent) or a matrix (two). Small
/// and `Copy`, so that a scalar node of the tape needs no heap memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    dims: [usize; 2],
    matrix: bool,
}

impl Shape {
    pub fn vector(n: usize) -> Self {
        Shape { dims: [n, 1], matrix: false }
    }
    pub fn matrix(rows: usize, cols: usize) -> Self {
        Shape { dims: [rows, cols], matrix: true }
    }
    pub fn scalar() -> Self {
        Shape::vector(1)
    }
    /// From R's extents (`length` of a vector, or `dim`): one or two.
    pub fn from_dims(dims: &[usize]) -> Option<Self> {
        match *dims {
            [n] => Some(Shape::vector(n)),
            [r, c] => Some(Shape::matrix(r, c)),
            _ => None,
        }
    }
    /// The extents as R reports them: `[n]` or `[rows, cols]`.
    pub fn dims(&self) -> &[usize] {
        if self.matrix { &self.dims } else { &self.dims[..1] }
    }
    pub fn numel(&self) -> usize {
        self.dims[0] * self.dims[1]
    }
    pub fn is_matrix(&self) -> bool {
        self.matrix
    }
    /// Rows and columns when the array is read as a matrix: a vector is a column.
    pub fn as_matrix(&self) -> (usize, usize) {
        (self.dims[0], self.dims[1])
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.dims() {
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
/// cheap to clone: one number held inline (a scalar node of the tape needs
/// no heap memory), a vector of its own, or memory lent by whoever made it,
/// kept alive by a handle on its owner. The bindings lend R's own vectors,
/// so that turning a large data vector or design matrix into a value (at
/// every recording of a log-likelihood) does not copy it: a copy costs
/// little in itself, but its fresh pages cost more. Numbers that are
/// often never read can also be deferred: computed the first time they are.
#[derive(Clone)]
pub enum Data {
    Scalar(f64),
    Shared(Rc<Buffer>),
    Deferred(Rc<Deferred>),
}

/// Numbers computed when first read (see `Data::deferred`).
pub struct Deferred {
    len: usize,
    numbers: OnceCell<Vec<f64>>,
    compute: Cell<Option<DeferredComputation>>,
}

type DeferredComputation = Box<dyn FnOnce() -> Vec<f64>>;

/// Numbers on the heap, owned or lent.
pub struct Buffer {
    ptr: *const f64,
    len: usize,
    _owner: Box<dyn Any>,
}

impl Data {
    /// Numbers in memory owned by `owner`.
    ///
    /// # Safety
    /// `ptr` must point to `len` initialised numbers (or be any non-null,
    /// aligned pointer when `len` is 0) that stay valid, and are not
    /// modified, for as long as `owner` is alive.
    pub unsafe fn lent(ptr: *const f64, len: usize, owner: Box<dyn Any>) -> Data {
        Data::Shared(Rc::new(Buffer { ptr, len, _owner: owner }))
    }

    /// `len` numbers that `compute` gives the first time they are read. A
    /// node's value that is usually never read is made this way: the
    /// log-densities of `sum(dnorm(x, mu, sigma, log = TRUE))`, which the
    /// sum records as a kernel instead of reading them.
    pub fn deferred(len: usize, compute: impl FnOnce() -> Vec<f64> + 'static) -> Data {
        Data::Deferred(Rc::new(Deferred { len, numbers: OnceCell::new(), compute: Cell::new(Some(Box::new(compute))) }))
    }

    /// How many numbers there are, without computing deferred ones.
    #[inline]
    pub fn len(&self) -> usize {
        match self {
            Data::Scalar(_) => 1,
            Data::Shared(b) => b.len,
            Data::Deferred(d) => d.len,
        }
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[inline]
    pub fn as_slice(&self) -> &[f64] {
        match self {
            Data::Scalar(x) => std::slice::from_ref(x),
            // SAFETY: the contract of `lent` (or a Vec that `_owner` holds).
            Data::Shared(b) => unsafe { std::slice::from_raw_parts(b.ptr, b.len) },
            Data::Deferred(d) => d.numbers(),
        }
    }
}

impl Deferred {
    #[cold]
    fn compute(&self) -> Vec<f64> {
        // The computation is taken exactly once: only a computation that
        // read its own numbers could find it gone, and none does; NaNs
        // rather than a panic if that ever changed.
        let numbers = self.compute.take().map_or_else(Vec::new, |f| f());
        if numbers.len() == self.len {
            numbers
        } else {
            vec![f64::NAN; self.len]
        }
    }

    #[inline]
    fn numbers(&self) -> &[f64] {
        self.numbers.get_or_init(|| self.compute())
    }
}

impl From<Vec<f64>> for Data {
    fn from(v: Vec<f64>) -> Data {
        if v.len() == 1 {
            return Data::Scalar(v[0]);
        }
        let (ptr, len) = (v.as_ptr(), v.len());
        // SAFETY: moving the Vec into the Box does not move its buffer, and
        // nothing mutates it afterwards.
        unsafe { Data::lent(ptr, len, Box::new(v)) }
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
            bail!("array: shape {} needs {}, got {}", shape, crate::error::count_of(shape.numel(), "number"), data.len());
        }
        Ok(Tensor { shape, data })
    }
    pub fn scalar(x: f64) -> Self {
        Tensor { shape: Shape::scalar(), data: Data::Scalar(x) }
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
            *a
        } else if na == 1 {
            *b
        } else if nb == 1 {
            *a
        } else if na == nb && (!a.is_matrix() || !b.is_matrix()) {
            if a.is_matrix() { *a } else { *b }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn deferred_numbers_are_computed_once_when_first_read() {
        let runs = Rc::new(Cell::new(0));
        let counter = Rc::clone(&runs);
        let data = Data::deferred(3, move || {
            counter.set(counter.get() + 1);
            vec![1.0, 2.0, 3.0]
        });
        let t = Tensor::new(Shape::vector(3), data).unwrap();
        let copy = t.clone();
        assert_eq!(t.data.len(), 3);
        assert_eq!(runs.get(), 0, "neither the shape check nor len() computes them");
        assert_eq!(&t.data[..], &[1.0, 2.0, 3.0]);
        assert_eq!(copy.data[2], 3.0);
        assert_eq!(runs.get(), 1, "clones share the one computation");
    }
}
