//! Conversions between R objects and engine types, and engine errors to R
//! errors. A value crosses the boundary as its numbers (column-major, as R
//! stores them) plus its `dim`, so no transposition ever happens; a large
//! vector is not even copied, but lent to the engine (`data_from_r`).

use extendr_api::prelude::*;
use extendr_api::{Error, Result};
use femtograd_engine::{Data, Shape, Tensor, Var};

use crate::handle::{tape_of, var_from_sexp, var_to_sexp};

/// An engine error as an extendr error (raised in R by the generated wrapper).
pub fn r_error(e: femtograd_engine::Error) -> Error {
    Error::Other(e.0)
}

/// Vectors shorter than this are copied rather than lent: protecting an R
/// object costs more than copying a few thousand numbers.
const LEND_FROM: usize = 4096;

/// An R vector lent to the engine. Holding the `Robj` protects it from R's
/// garbage collector, and the protection is a reference to it (it sits in
/// extendr's list of protected objects): R copies a vector before modifying
/// it in place whenever anything else references it, so its numbers cannot
/// change while the engine reads them. Dropped, like the nodes that hold
/// it, on R's thread (by the finaliser of a tape, or within a call).
struct Lent(#[allow(dead_code)] Robj);

/// The numbers of a double vector `x` (its attributes are ignored): lent
/// when it is long, copied when it is short. `what` names it in errors.
pub fn data_from_r(x: &Robj, what: &str) -> Result<Data> {
    let Some(slice) = x.as_real_slice() else {
        return Err(Error::Other(format!("internal error: {what} must be a double vector")));
    };
    if slice.len() < LEND_FROM {
        return Ok(Data::from(slice));
    }
    let (ptr, len) = (slice.as_ptr(), slice.len());
    // SAFETY: the numbers belong to `x`, which `Lent` keeps alive and
    // unmodified (see there) for as long as the data is held.
    Ok(unsafe { Data::lent(ptr, len, Box::new(Lent(x.clone()))) })
}

/// Builds an engine array from R numbers and an optional `dim` (integer).
pub fn tensor_from_r(data: Data, dim: &Robj) -> Result<Tensor> {
    let shape = if dim.is_null() { Shape::vector(data.len()) } else { shape_from_r(dim)? };
    Tensor::new(shape, data).map_err(r_error)
}

/// A shape from R's extents: a length, or c(rows, cols) (integers).
pub fn shape_from_r(dim: &Robj) -> Result<Shape> {
    let dims: Vec<usize> = match dim.as_integer_vector() {
        Some(d) if d.iter().all(|&v| v >= 0) => d.iter().map(|&v| v as usize).collect(),
        _ => return Err(Error::Other("val: dim must be a vector of non-negative integers".into())),
    };
    Shape::from_dims(&dims).ok_or_else(|| {
        Error::Other(format!("val: arrays of {} dimensions are not supported; use a vector or a matrix", dims.len()))
    })
}

/// The numbers of an engine array as an R numeric with its `dim`.
pub fn tensor_to_r(t: &Tensor, data: &[f64]) -> Robj {
    let mut r: Robj = data.iter().cloned().collect_robj();
    if t.shape.is_matrix() {
        let dims: Vec<i32> = t.shape.dims().iter().map(|&d| d as i32).collect();
        r.set_attrib("dim", dims).expect("setting dim on a fresh numeric vector");
    }
    r
}

/// A value handle on `v` for R (see `handle.rs`); `near` is a value the
/// node was computed from, whose tape pointer the new handle shares.
pub fn var_to_r(v: &Var, near: Option<&Robj>) -> Robj {
    // SAFETY: `near` is a live R object; the new handle is protected by the
    // returned Robj.
    unsafe {
        let tape = near.and_then(|r| tape_of(r.get()));
        Robj::from_sexp(var_to_sexp(v, tape))
    }
}

/// The node behind a value handle (an R error for anything else, or for
/// a handle restored by `readRDS`).
pub fn var_from_r(robj: &Robj) -> Result<Var> {
    // SAFETY: robj is a live R object.
    unsafe { var_from_sexp(robj.get()) }.map_err(Error::Other)
}

/// An operand of an operation: a femtograd value, or plain numbers (a
/// double vector, with a `dim` for a matrix) that become a constant node
/// here, so R need not wrap them in a value of their own first.
pub fn operand_from_r(robj: &Robj) -> Result<Var> {
    if robj.is_external_pointer() {
        return var_from_r(robj);
    }
    let t = tensor_from_r(data_from_r(robj, "an operand")?, &robj.get_attrib("dim").unwrap_or_else(|| ().into()))?;
    Ok(Var::constant(t))
}

/// The nodes of an R list of external pointers.
pub fn vars_from_r(list: &List) -> Result<Vec<Var>> {
    list.values().map(|r| var_from_r(&r)).collect()
}
