//! The per-operation entry points: called by R's `Ops`, `length` and `dim`
//! methods of values straight through `.Call`, without extendr's argument
//! conversion (its protection bookkeeping costs more than a scalar
//! operation itself). R finds them through external pointers tagged
//! "native symbol", which `.Call` accepts in place of a registered routine
//! (`fg_native_routines`). Each catches panics and raises engine errors as
//! R errors naming the operation and the shapes.

use std::ffi::{c_void, CStr};

use extendr_api::prelude::*;
use extendr_api::SEXP;
use extendr_ffi::{
    R_CHAR, R_DimSymbol, R_MakeExternalPtr, R_NaInt, R_NilValue, Rf_allocVector, Rf_getAttrib, Rf_install,
    Rf_protect, Rf_setAttrib, Rf_unprotect, Rf_xlength, INTEGER, LOGICAL, REAL, SEXPTYPE, STRING_ELT, TYPEOF,
};
use femtograd_engine::record;
use femtograd_engine::replay::{compare_values, Side};
use femtograd_engine::tape::Comparison;
use femtograd_engine::{Operand, Tensor, Var};

use crate::convert::{data_from_r, tensor_from_r};
use crate::handle::{class_name, is_handle, raise, tape_of, var_from_sexp, var_to_sexp};

type Outcome = Result<SEXP, String>;

/// Runs `body`, turning a panic into an error and an error into an R error.
fn guarded(body: impl FnOnce() -> Outcome) -> SEXP {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
        Ok(Ok(sexp)) => sexp,
        Ok(Err(msg)) => raise(msg),
        Err(_) => raise("femtograd: internal error (a panic in the engine); please report it".into()),
    }
}

unsafe fn string(x: SEXP) -> Result<&'static str, String> {
    if TYPEOF(x) != SEXPTYPE::STRSXP || Rf_xlength(x) < 1 {
        return Err("internal error: expected an operator name".into());
    }
    CStr::from_ptr(R_CHAR(STRING_ELT(x, 0))).to_str().map_err(|_| "internal error: operator name".into())
}

/// Plain numbers as an operand of `op`: a double, integer or logical vector
/// or matrix. A lone number without `dim` becomes an entry of the tape's
/// constant pool; anything longer a constant node.
unsafe fn numbers(op: &str, x: SEXP) -> Result<Operand, String> {
    let kind = TYPEOF(x);
    let has_dim = Rf_getAttrib(x, R_DimSymbol) != R_NilValue;
    let is_factor = class_name(x) == "factor";
    if !matches!(kind, SEXPTYPE::REALSXP | SEXPTYPE::INTSXP | SEXPTYPE::LGLSXP) || is_factor {
        return Err(format!(
            "{op}: expected numbers or a femtograd value, got an object of class '{}'",
            class_name(x)
        ));
    }
    if Rf_xlength(x) == 1 && !has_dim {
        let number = match kind {
            SEXPTYPE::REALSXP => *REAL(x),
            SEXPTYPE::INTSXP => integer(*INTEGER(x)),
            _ => integer(*LOGICAL(x)),
        };
        return Ok(Operand::Scalar(number));
    }
    let robj = Robj::from_sexp(x);
    let doubles: Robj = if kind == SEXPTYPE::REALSXP {
        robj.clone()
    } else {
        let n = Rf_xlength(x) as usize;
        let from: &[i32] = std::slice::from_raw_parts(if kind == SEXPTYPE::INTSXP { INTEGER(x) } else { LOGICAL(x) }, n);
        from.iter().map(|&i| integer(i)).collect_robj()
    };
    let dim = robj.get_attrib("dim").unwrap_or_else(|| ().into());
    let tensor = tensor_from_r(data_from_r(&doubles, op).map_err(|e| e.to_string())?, &dim)
        .map_err(|e| e.to_string().replacen("val:", &format!("{op}:"), 1))?;
    Ok(Operand::Var(Var::constant(tensor)))
}

fn integer(i: i32) -> f64 {
    if i == unsafe { R_NaInt } {
        f64::NAN
    } else {
        f64::from(i)
    }
}

unsafe fn operand(op: &str, x: SEXP) -> Result<Operand, String> {
    if is_handle(x) {
        Ok(Operand::Var(var_from_sexp(x)?))
    } else {
        numbers(op, x)
    }
}

const SUPPORTED: &str = "+ - * / ^ == != < <= >= >";

/// `Ops` of values: arithmetic records a node; a comparison returns plain
/// logicals and, when a side depends on a parameter, leaves a guard on the
/// tape (a replay that would change its outcome is refused). `e2` is NULL
/// for unary operators.
#[no_mangle]
pub unsafe extern "C" fn fg_native_ops(op: SEXP, e1: SEXP, e2: SEXP) -> SEXP {
    guarded(|| {
        let op = string(op)?;
        if TYPEOF(e2) == SEXPTYPE::NILSXP {
            return match op {
                "-" => record_result(record::unary("neg", &var_from_sexp(e1)?), e1, e1),
                "+" => Ok(e1),
                _ => Err(format!("{op}: not defined for femtograd values (supported: {SUPPORTED})")),
            };
        }
        if let Some(comparison) = Comparison::from_name(op) {
            return compare(comparison, op, e1, e2);
        }
        if !matches!(op, "+" | "-" | "*" | "/" | "^") {
            return Err(format!("{op}: not supported for femtograd values (supported: {SUPPORTED})"));
        }
        let out = record::binary(op, operand(op, e1)?, operand(op, e2)?);
        record_result(out, e1, e2)
    })
}

/// `Ops` for the arithmetic shortcuts of recorded functions (R/fast-arithmetic.R),
/// called when an operand is an S4 object: as `fg_native_ops` when one is
/// a value, NULL when neither is (R's own operator then dispatches on it).
#[no_mangle]
pub unsafe extern "C" fn fg_native_arithmetic(op: SEXP, e1: SEXP, e2: SEXP) -> SEXP {
    if !is_handle(e1) && !is_handle(e2) {
        return R_NilValue;
    }
    fg_native_ops(op, e1, e2)
}

unsafe fn record_result(out: femtograd_engine::Result<Var>, e1: SEXP, e2: SEXP) -> Outcome {
    let v = out.map_err(|e| e.0)?;
    Ok(var_to_sexp(&v, tape_of(e1).or_else(|| tape_of(e2))))
}

unsafe fn side(op: &str, x: SEXP) -> Result<(Side, Option<Tensor>), String> {
    match operand(op, x)? {
        Operand::Var(v) => {
            let value = v.value();
            Ok((Side::Var(v), Some(value)))
        }
        Operand::Scalar(s) => Ok((Side::Numbers(vec![s]), None)),
    }
}

unsafe fn compare(comparison: Comparison, op: &str, e1: SEXP, e2: SEXP) -> Outcome {
    let (a, va) = side(op, e1)?;
    let (b, vb) = side(op, e2)?;
    let outcome = compare_values(comparison, a, b);
    let out = Rf_protect(Rf_allocVector(SEXPTYPE::LGLSXP, outcome.len() as isize));
    let dest = std::slice::from_raw_parts_mut(LOGICAL(out), outcome.len());
    for (d, o) in dest.iter_mut().zip(&outcome) {
        *d = match o {
            Some(true) => 1,
            Some(false) => 0,
            None => R_NaInt,
        };
    }
    // A comparison with a matrix keeps its dim, as in R.
    if let Some(t) = [va, vb].into_iter().flatten().find(|t| t.shape.is_matrix() && t.numel() == outcome.len()) {
        set_dim(out, t.shape.dims());
    }
    Rf_unprotect(1);
    Ok(out)
}

unsafe fn set_dim(x: SEXP, dims: &[usize]) {
    let dim = Rf_protect(Rf_allocVector(SEXPTYPE::INTSXP, dims.len() as isize));
    for (k, &d) in dims.iter().enumerate() {
        *INTEGER(dim).add(k) = d as i32;
    }
    Rf_setAttrib(x, R_DimSymbol, dim);
    Rf_unprotect(1);
}

/// An elementwise function (`exp`, `log`, ...) of a value, by the engine's
/// name for it.
#[no_mangle]
pub unsafe extern "C" fn fg_native_math(name: SEXP, x: SEXP) -> SEXP {
    guarded(|| {
        let name = string(name)?;
        record_result(record::unary(name, &var_from_sexp(x)?), x, x)
    })
}

/// `length()` of a value: its shape is fixed when it is recorded, so
/// reading it leaves no guard.
#[no_mangle]
pub unsafe extern "C" fn fg_native_length(x: SEXP) -> SEXP {
    guarded(|| {
        let n = var_from_sexp(x)?.value().numel();
        let out = Rf_allocVector(SEXPTYPE::INTSXP, 1);
        *INTEGER(out) = n as i32;
        Ok(out)
    })
}

/// `dim()` of a value: NULL for a vector.
#[no_mangle]
pub unsafe extern "C" fn fg_native_dim(x: SEXP) -> SEXP {
    guarded(|| {
        let shape = var_from_sexp(x)?.value().shape;
        if !shape.is_matrix() {
            return Ok(R_NilValue);
        }
        let out = Rf_protect(Rf_allocVector(SEXPTYPE::INTSXP, 2));
        for (k, &d) in shape.dims().iter().enumerate() {
            *INTEGER(out).add(k) = d as i32;
        }
        Rf_unprotect(1);
        Ok(out)
    })
}

/// The numbers of a value (with `dim` for a matrix). With `guard` TRUE,
/// R is about to compute with them (`value_of()`, `as.double()`): the
/// recording then depends on them, and a replay that changes them is
/// refused. Printing passes FALSE.
#[no_mangle]
pub unsafe extern "C" fn fg_native_numbers(x: SEXP, guard: SEXP) -> SEXP {
    guarded(|| {
        let v = var_from_sexp(x)?;
        if TYPEOF(guard) == SEXPTYPE::LGLSXP && Rf_xlength(guard) == 1 && *LOGICAL(guard) == 1 {
            v.guard_numbers();
        }
        let value = v.value();
        let n = value.numel();
        let out = Rf_protect(Rf_allocVector(SEXPTYPE::REALSXP, n as isize));
        std::slice::from_raw_parts_mut(REAL(out), n).copy_from_slice(&value.data);
        if value.shape.is_matrix() {
            set_dim(out, value.shape.dims());
        }
        Rf_unprotect(1);
        Ok(out)
    })
}

/// A new leaf holding one double: fit()'s scalar parameters at every
/// recording, without `val()`'s checks (the caller passes plain doubles).
#[no_mangle]
pub unsafe extern "C" fn fg_native_scalar_leaf(x: SEXP) -> SEXP {
    guarded(|| {
        if TYPEOF(x) != SEXPTYPE::REALSXP || Rf_xlength(x) != 1 {
            return Err("internal error: a scalar leaf needs one double".into());
        }
        Ok(var_to_sexp(&Var::leaf(Tensor::scalar(*REAL(x))), None))
    })
}

/// An external pointer to a C routine, as `.Call` accepts it.
unsafe fn native_symbol(f: *const c_void) -> Robj {
    Robj::from_sexp(R_MakeExternalPtr(f as *mut c_void, Rf_install(c"native symbol".as_ptr()), R_NilValue))
}

// The entry points above, by name, for `.Call` (stored by .onLoad).
#[extendr]
fn fg_native_routines() -> Robj {
    unsafe {
        let ops = native_symbol(fg_native_ops as *const c_void);
        let arithmetic = native_symbol(fg_native_arithmetic as *const c_void);
        let scalar_leaf = native_symbol(fg_native_scalar_leaf as *const c_void);
        let math = native_symbol(fg_native_math as *const c_void);
        let length = native_symbol(fg_native_length as *const c_void);
        let dim = native_symbol(fg_native_dim as *const c_void);
        let numbers = native_symbol(fg_native_numbers as *const c_void);
        list!(ops = ops, arithmetic = arithmetic, scalar_leaf = scalar_leaf, math = math, length = length, dim = dim, numbers = numbers).into()
    }
}

extendr_module! {
    mod native;
    fn fg_native_routines;
}
