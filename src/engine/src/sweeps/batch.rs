//! A batch of directions: `dirs` column vectors of length `rows`, stored
//! column-major (direction k is `data[k*rows .. (k+1)*rows]`). Tangents and
//! second-order adjoints of a node with n elements are n x p batches, one
//! column per direction of the Hessian.
//!
//! Those batches are large (8 MB at n = 1e5, p = 10) and short-lived: every
//! Hessian allocates them afresh, and fresh memory costs a page fault per
//! 4 KB page, more than the arithmetic on it. While an optimiser runs
//! (`reuse_buffers`), the buffers of dropped batches are kept and handed to
//! the next Hessian's batches instead.
//!
//! A batch the allocator cannot provide (check_batch_size in second_order.rs
//! refuses sizes beyond 16 GiB, but less can fail too: a small machine, a
//! limited address space) must not abort R. Large batches are allocated
//! fallibly; a failure unwinds (without the panic hook, so nothing is
//! printed) with an `AllocationFailed` payload up to the sweep's entry
//! point, which `fallible` turns into an error "cannot allocate ...". Every
//! public function that runs a sweep goes through `fallible`, so the
//! unwinding never leaves the engine.

use std::cell::RefCell;

use crate::{Error, Result};

/// The payload of the unwinding from a batch the allocator could not
/// provide: how many numbers it would have held.
#[derive(Debug)]
pub struct AllocationFailed {
    pub numbers: usize,
}

/// Runs `sweep`, turning an allocation failure of a batch inside it into
/// the error "`caller`: cannot allocate ...". Other panics go on unwinding.
pub fn fallible<T>(caller: &str, sweep: impl FnOnce() -> Result<T>) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(sweep)) {
        Ok(result) => result,
        Err(payload) => match payload.downcast::<AllocationFailed>() {
            Ok(failed) => Err(Error::new(format!(
                "{caller}: cannot allocate {:.2} GB for the derivatives' tangents ({} numbers): out of memory; \
                 with this many parameter elements or observations use gradient() or hessian_vector() instead",
                failed.numbers as f64 * 8e-9,
                failed.numbers
            ))),
            Err(other) => std::panic::resume_unwind(other),
        },
    }
}

/// `len` zeros; a large buffer is asked for fallibly (see the module's
/// notes), as zeroed memory straight from the allocator, as `vec!` does.
fn zeroed(len: usize) -> Vec<f64> {
    if len < (1 << 15) {
        return vec![0.0; len];
    }
    let failed = || std::panic::resume_unwind(Box::new(AllocationFailed { numbers: len }));
    let Ok(layout) = std::alloc::Layout::array::<f64>(len) else { failed() };
    // SAFETY: the layout has a non-zero size (len >= 2^15); a non-null
    // pointer from the global allocator with the layout of `len` f64s,
    // zeroed (0.0 is all bits zero), is exactly what Vec::from_raw_parts
    // takes for length and capacity `len`.
    unsafe {
        let ptr = std::alloc::alloc_zeroed(layout) as *mut f64;
        if ptr.is_null() {
            failed();
        }
        Vec::from_raw_parts(ptr, len, len)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub rows: usize,
    pub dirs: usize,
    pub data: Vec<f64>,
}

impl Batch {
    pub fn zeros(rows: usize, dirs: usize) -> Self {
        Batch { rows, dirs, data: spare::take(rows * dirs) }
    }
    /// The numbers, column-major.
    pub fn into_data(mut self) -> Vec<f64> {
        std::mem::take(&mut self.data)
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

impl Drop for Batch {
    fn drop(&mut self) {
        spare::give(std::mem::take(&mut self.data));
    }
}

/// Keeps the buffers of dropped batches for reuse until the returned guard
/// is dropped (then frees them). Guards nest; buffers are kept while any is
/// alive. The optimisers hold one, so that each Newton step's Hessian reuses
/// the memory of the previous one.
pub fn reuse_buffers() -> impl Drop {
    spare::enable()
}

mod spare {
    use super::RefCell;

    /// Buffers shorter than this are left to the allocator.
    const KEEP_FROM: usize = 1 << 15;
    /// At most this many spare buffers are kept ...
    const MAX_COUNT: usize = 8;
    /// ... holding at most this many numbers in all (256 MB).
    const MAX_NUMBERS: usize = 1 << 25;

    #[derive(Default)]
    struct Spare {
        /// Guards alive.
        users: usize,
        buffers: Vec<Vec<f64>>,
    }

    thread_local! {
        static SPARE: RefCell<Spare> = RefCell::new(Spare::default());
    }

    pub(super) struct Guard;

    impl Drop for Guard {
        fn drop(&mut self) {
            let _ = SPARE.try_with(|s| {
                let mut s = s.borrow_mut();
                s.users -= 1;
                if s.users == 0 {
                    s.buffers = Vec::new();
                }
            });
        }
    }

    pub(super) fn enable() -> Guard {
        SPARE.with(|s| s.borrow_mut().users += 1);
        Guard
    }

    /// A zeroed buffer of `len` numbers: a spare one if one fits (the
    /// smallest that does, and no more than twice as large), else new.
    pub(super) fn take(len: usize) -> Vec<f64> {
        if len >= KEEP_FROM {
            let spare = SPARE.try_with(|s| {
                let mut s = s.borrow_mut();
                let fits = |v: &Vec<f64>| v.capacity() >= len && v.capacity() <= 2 * len;
                let best = s.buffers.iter().enumerate().filter(|(_, v)| fits(v)).min_by_key(|(_, v)| v.capacity());
                best.map(|(i, _)| i).map(|i| s.buffers.swap_remove(i))
            });
            if let Ok(Some(mut v)) = spare {
                v.clear();
                v.resize(len, 0.0);
                return v;
            }
        }
        super::zeroed(len)
    }

    /// Keeps `v` for reuse if a guard is alive and it is large enough,
    /// dropping the oldest spares beyond the limits.
    pub(super) fn give(v: Vec<f64>) {
        if v.capacity() < KEEP_FROM || v.capacity() > MAX_NUMBERS {
            return;
        }
        let _ = SPARE.try_with(|s| {
            let mut s = s.borrow_mut();
            if s.users == 0 {
                return;
            }
            s.buffers.push(v);
            while s.buffers.len() > MAX_COUNT || s.buffers.iter().map(Vec::capacity).sum::<usize>() > MAX_NUMBERS {
                s.buffers.remove(0);
            }
        });
    }
}

/// Adds `src` into an optional accumulator, taking ownership when empty.
pub fn accumulate(acc: &mut Option<Batch>, src: Batch) {
    match acc {
        Some(a) => a.add_assign(&src),
        None => *acc = Some(src),
    }
}
