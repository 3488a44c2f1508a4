//! How a value looks to R: a light handle on a node of a tape.
//!
//! A tape is owned by R through one external pointer per tape (tag
//! `femtograd_tape`), whose address is an `Rc<TapeCell>` and whose finaliser
//! drops it. A value is another external pointer (tag `femtograd_value`)
//! whose address field holds the node's position plus one (never a real
//! address) and whose protected field is the tape's pointer. A value
//! therefore costs R one small object and no finaliser; the tape lives
//! while any value refers to it, and its memory is returned with the last.
//!
//! A handle restored by `readRDS` has NULL addresses, and one that was not
//! made here has another tag: both are errors, never dereferenced.

use std::cell::OnceCell;
use std::ffi::{c_void, CStr};
use std::rc::Rc;

use extendr_api::SEXP;
use extendr_ffi::{
    cetype_t, R_CHAR, R_ClassSymbol, R_ClearExternalPtr, R_ExternalPtrAddr, R_ExternalPtrProtected,
    R_ExternalPtrTag, R_MakeExternalPtr, R_NilValue, R_PreserveObject, R_RegisterCFinalizerEx, Rboolean,
    Rf_allocVector, Rf_getAttrib, Rf_install, Rf_mkCharLenCE, Rf_protect, Rf_setAttrib, Rf_unprotect,
    SET_STRING_ELT, SEXPTYPE, STRING_ELT, TYPEOF,
};
use femtograd_engine::tape::TapeCell;
use femtograd_engine::Var;

// SEXP is an opaque pointer that only R dereferences, so the lint about
// SEXPREC's layout does not apply.
#[allow(improper_ctypes)]
extern "C" {
    // Parts of R's C API that extendr-ffi does not declare.
    fn SET_S4_OBJECT(x: SEXP);
    fn Rf_errorcall(call: SEXP, format: *const std::os::raw::c_char, ...) -> !;
}

/// R objects made once per session: two symbols (never collected) and the
/// class vector every value shares (preserved).
struct Constants {
    value_tag: SEXP,
    tape_tag: SEXP,
    class: SEXP,
}

thread_local! {
    static CONSTANTS: OnceCell<Constants> = const { OnceCell::new() };
}

fn constants<T>(f: impl FnOnce(&Constants) -> T) -> T {
    CONSTANTS.with(|cell| {
        f(cell.get_or_init(|| unsafe {
            let class = Rf_allocVector(SEXPTYPE::STRSXP, 1);
            R_PreserveObject(class);
            SET_STRING_ELT(class, 0, mk_char("femtograd_value"));
            Constants {
                value_tag: Rf_install(c"femtograd_value".as_ptr()),
                tape_tag: Rf_install(c"femtograd_tape".as_ptr()),
                class,
            }
        }))
    })
}

/// An R string (CHARSXP) from UTF-8 text.
pub unsafe fn mk_char(s: &str) -> SEXP {
    Rf_mkCharLenCE(s.as_ptr().cast(), s.len() as i32, cetype_t::CE_UTF8)
}

/// Raises an R error with `msg` (as `stop(msg, call. = FALSE)` would).
/// The message is moved into R's memory first, so that no Rust value with
/// a destructor is alive when R jumps out of this frame.
pub fn raise(msg: String) -> ! {
    unsafe {
        let text = Rf_protect(mk_char(&msg));
        drop(msg);
        Rf_errorcall(R_NilValue, c"%s".as_ptr(), R_CHAR(text));
    }
}

const RESTORED: &str = "this femtograd value is no longer valid: it was saved and restored (e.g. with \
                        saveRDS/readRDS), and the graph behind it does not survive that; create it again with val()";

/// Whether `x` is a value handle made by this package (live or restored).
pub unsafe fn is_handle(x: SEXP) -> bool {
    TYPEOF(x) == SEXPTYPE::EXTPTRSXP && constants(|c| R_ExternalPtrTag(x) == c.value_tag)
}

/// The tape cell an R tape pointer owns (a new strong reference to it).
unsafe fn cell_of(tape: SEXP) -> Result<Rc<TapeCell>, String> {
    if TYPEOF(tape) != SEXPTYPE::EXTPTRSXP || constants(|c| R_ExternalPtrTag(tape) != c.tape_tag) {
        return Err("internal error: a femtograd value without its tape".into());
    }
    let ptr = R_ExternalPtrAddr(tape) as *const TapeCell;
    if ptr.is_null() {
        return Err(RESTORED.into());
    }
    // SAFETY: a non-NULL tape pointer holds one strong count of an
    // Rc<TapeCell> (see `new_tape`), released only by its finaliser, which
    // clears the address first.
    Rc::increment_strong_count(ptr);
    Ok(Rc::from_raw(ptr))
}

/// The node a value handle refers to.
pub unsafe fn var_from_sexp(x: SEXP) -> Result<Var, String> {
    if !is_handle(x) {
        return Err("expected a femtograd value".into());
    }
    let position = R_ExternalPtrAddr(x) as usize;
    if position == 0 {
        return Err(RESTORED.into());
    }
    Var::at(cell_of(R_ExternalPtrProtected(x))?, position - 1).map_err(|e| e.0)
}

unsafe extern "C" fn finalize_tape(tape: SEXP) {
    let ptr = R_ExternalPtrAddr(tape) as *const TapeCell;
    if !ptr.is_null() {
        R_ClearExternalPtr(tape);
        // Dropping a tape runs no R code, except releasing R vectors it
        // borrowed, which is safe during garbage collection.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(Rc::from_raw(ptr))));
    }
}

/// A new R tape pointer owning one strong count of `cell` (unprotected).
unsafe fn new_tape(cell: Rc<TapeCell>) -> SEXP {
    let tape = R_MakeExternalPtr(Rc::into_raw(cell) as *mut c_void, constants(|c| c.tape_tag), R_NilValue);
    Rf_protect(tape);
    R_RegisterCFinalizerEx(tape, Some(finalize_tape), Rboolean::FALSE);
    Rf_unprotect(1);
    tape
}

/// A value handle on `v`. `near` is the tape pointer of a value the node
/// was computed from (the tapes of an operation's inputs are united, so it
/// reaches the result's tape): the handle shares it, and no new tape
/// pointer or finaliser is made. Without one (a new leaf), a new tape
/// pointer is made.
pub unsafe fn var_to_sexp(v: &Var, near: Option<SEXP>) -> SEXP {
    let shared = near.and_then(|tape| {
        let cell = cell_of(tape).ok()?;
        v.index_relative_to(&cell).map(|i| (tape, i))
    });
    let (tape, position) = match shared {
        Some(found) => found,
        None => (new_tape(Rc::clone(v.cell())), v.local_index()),
    };
    Rf_protect(tape);
    let handle = Rf_protect(R_MakeExternalPtr((position + 1) as *mut c_void, constants(|c| c.value_tag), tape));
    Rf_setAttrib(handle, R_ClassSymbol, constants(|c| c.class));
    // R 4.2's %*% dispatches only on S4 objects (see R/ops.R).
    SET_S4_OBJECT(handle);
    Rf_unprotect(2);
    handle
}

/// The tape pointer of a value handle (to pass as `near`).
pub unsafe fn tape_of(x: SEXP) -> Option<SEXP> {
    is_handle(x).then(|| R_ExternalPtrProtected(x))
}

/// A short description of an R object's class for error messages.
pub unsafe fn class_name(x: SEXP) -> String {
    let class = Rf_getAttrib(x, R_ClassSymbol);
    if TYPEOF(class) == SEXPTYPE::STRSXP {
        return CStr::from_ptr(R_CHAR(STRING_ELT(class, 0))).to_string_lossy().into_owned();
    }
    match TYPEOF(x) {
        SEXPTYPE::REALSXP => "numeric",
        SEXPTYPE::INTSXP => "integer",
        SEXPTYPE::LGLSXP => "logical",
        SEXPTYPE::STRSXP => "character",
        SEXPTYPE::VECSXP => "list",
        SEXPTYPE::NILSXP => "NULL",
        SEXPTYPE::CLOSXP | SEXPTYPE::BUILTINSXP | SEXPTYPE::SPECIALSXP => "function",
        SEXPTYPE::EXTPTRSXP => "externalptr",
        _ => "unknown",
    }
    .to_string()
}
