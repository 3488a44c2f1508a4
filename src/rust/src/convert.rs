//! Conversions between R objects and engine types, and engine errors to R
//! errors. A value crosses the boundary as its numbers (column-major, as R
//! stores them) plus its `dim`, so no transposition ever happens; a large
//! vector is not even copied, but lent to the engine (`data_from_r`).

use std::rc::Rc;

use extendr_api::prelude::*;
use extendr_api::{Error, Result};
use femtograd_engine::{Data, Shape, Tensor, Var};

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
/// it, on R's thread (by the finaliser of a value, or within a call).
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
    Ok(unsafe { Data::lent(ptr, len, Rc::new(Lent(x.clone()))) })
}

/// Builds an engine array from R numbers and an optional `dim` (integer).
pub fn tensor_from_r(data: Data, dim: &Robj) -> Result<Tensor> {
    let shape = if dim.is_null() {
        Shape::vector(data.len())
    } else {
        let dims: Vec<usize> = match dim.as_integer_vector() {
            Some(d) => d.iter().map(|&v| v as usize).collect(),
            None => return Err(Error::Other("val: dim must be an integer vector".into())),
        };
        if dims.len() > 2 {
            return Err(Error::Other(format!("val: arrays of {} dimensions are not supported; use a vector or a matrix", dims.len())));
        }
        Shape(dims)
    };
    Tensor::new(shape, data).map_err(r_error)
}

/// The numbers of an engine array as an R numeric with its `dim`.
pub fn tensor_to_r(t: &Tensor, data: &[f64]) -> Robj {
    let mut r: Robj = data.iter().cloned().collect_robj();
    if t.shape.is_matrix() {
        let dims: Vec<i32> = t.shape.0.iter().map(|&d| d as i32).collect();
        r.set_attrib("dim", dims).expect("setting dim on a fresh numeric vector");
    }
    r
}

// SEXP is an opaque pointer that only R dereferences, so the lint about
// SEXPREC's layout does not apply.
#[allow(improper_ctypes)]
extern "C" {
    // Part of R's C API (Rinternals.h); extendr does not wrap it.
    fn SET_S4_OBJECT(x: extendr_api::SEXP);
}

/// Wraps a node in an external pointer that R owns, already dressed as an
/// R value: class "femtograd_value" and the S4 bit, which R 4.2's `%*%`
/// needs to dispatch (see R/ops.R). Doing it here, not in R, saves most of
/// the per-operation cost of the R wrapper.
pub fn var_to_r(v: Var) -> Robj {
    let mut robj: Robj = ExternalPtr::new(v).into();
    robj.set_class(["femtograd_value"]).expect("setting the class of a fresh external pointer");
    // SAFETY: robj is a live, protected R object owned by this function.
    unsafe { SET_S4_OBJECT(robj.get_mut()) };
    robj
}

/// The node behind an external pointer. A pointer restored by `readRDS` is
/// NULL: that is an R error, never a dereference.
pub fn var_from_r(robj: &Robj) -> Result<Var> {
    if !robj.is_external_pointer() {
        return Err(Error::Other("expected a femtograd value (an external pointer)".into()));
    }
    if unsafe { robj.external_ptr_addr::<std::ffi::c_void>() }.is_null() {
        return Err(Error::Other(
            "this femtograd value is no longer valid: it was saved and restored (e.g. with saveRDS/readRDS), \
             and the graph behind it does not survive that; create it again with val()"
                .into(),
        ));
    }
    let ptr: &ExternalPtr<Var> = robj
        .try_into()
        .map_err(|_| Error::Other("expected a femtograd value, got another external pointer".into()))?;
    Ok(ptr.try_addr()?.clone())
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
