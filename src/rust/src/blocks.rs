//! The Laplace approximation's sparse pieces: the structural pattern of the
//! Hessian of a recorded joint density in its random effects, and algebra
//! on matrices with that pattern, block by independent block (the engine's
//! `hessian_pattern.rs` and `blocks.rs`). A pattern travels between R and
//! Rust as 0-based (row, col) vectors of its lower-triangle entries; a
//! matrix with it as the numbers at those entries.

use std::cell::RefCell;
use std::rc::Rc;

use extendr_api::prelude::*;
use extendr_api::Result;
use femtograd_engine::blocks::BlockPattern;
use femtograd_engine::hessian_pattern::hessian_pattern;

use crate::convert::{r_error, var_from_r, vars_from_r};

// The pattern of the Hessian of `root` in the leaves `random`, or NULL
// when it would hold more than `limit` pairs (then dense).
#[extendr]
fn fg_hessian_pattern(root: Robj, random: List, limit: f64) -> Result<Robj> {
    let found = hessian_pattern(&var_from_r(&root)?, &vars_from_r(&random)?, limit as usize).map_err(r_error)?;
    Ok(match found {
        None => Robj::from(()),
        Some(pairs) => {
            let row: Vec<i32> = pairs.iter().map(|&(i, _)| i as i32).collect();
            let col: Vec<i32> = pairs.iter().map(|&(_, j)| j as i32).collect();
            list!(row = row, col = col).into()
        }
    })
}

/// The last pattern built, with what it learnt (its sparse blocks'
/// symbolic analyses): a Laplace fit solves, inverts and traces matrices of
/// one pattern at every point.
struct LastPattern {
    q: i32,
    row: Vec<i32>,
    col: Vec<i32>,
    pattern: Rc<BlockPattern>,
}

thread_local! {
    static LAST_PATTERN: RefCell<Option<LastPattern>> = const { RefCell::new(None) };
}

fn pattern(q: i32, row: &[i32], col: &[i32]) -> Result<Rc<BlockPattern>> {
    if q < 0 || row.len() != col.len() || row.iter().chain(col).any(|&v| v < 0) {
        return Err(Error::Other("block pattern: rows and columns must be non-negative and as many".into()));
    }
    let cached = LAST_PATTERN.with(|last| {
        last.borrow().as_ref().filter(|l| l.q == q && l.row == row && l.col == col).map(|l| Rc::clone(&l.pattern))
    });
    if let Some(p) = cached {
        return Ok(p);
    }
    let pairs = row.iter().zip(col).map(|(&i, &j)| (i as u32, j as u32)).collect();
    let p = Rc::new(BlockPattern::new(q as usize, pairs).map_err(r_error)?);
    LAST_PATTERN.with(|last| {
        *last.borrow_mut() = Some(LastPattern { q, row: row.to_vec(), col: col.to_vec(), pattern: Rc::clone(&p) })
    });
    Ok(p)
}

// The colour of each column (0-based), the number of blocks and the largest.
#[extendr]
fn fg_block_structure(q: i32, row: &[i32], col: &[i32]) -> Result<Robj> {
    let p = pattern(q, row, col)?;
    let colour: Vec<i32> = p.colours().into_iter().map(|c| c as i32).collect();
    Ok(list!(colour = colour, blocks = p.n_blocks() as i32, largest = p.largest_block() as i32).into())
}

// Solves A X = B for A given on the pattern; also log det A.
#[extendr]
fn fg_block_solve(q: i32, row: &[i32], col: &[i32], values: &[f64], rhs: RMatrix<f64>) -> Result<Robj> {
    let p = pattern(q, row, col)?;
    if rhs.nrows() != q as usize {
        return Err(Error::Other(format!("block solve: the right-hand side has {} rows, not {q}", rhs.nrows())));
    }
    let factor = p.factor(values).map_err(r_error)?;
    let mut x = rhs.data().to_vec();
    factor.solve(&mut x, rhs.ncols());
    let solution = RMatrix::new_matrix(rhs.nrows(), rhs.ncols(), |i, j| x[i + j * rhs.nrows()]);
    Ok(list!(solution = solution, log_det = factor.log_det()).into())
}

// The entries of A^-1 at the pattern's pairs.
#[extendr]
fn fg_block_inverse(q: i32, row: &[i32], col: &[i32], values: &[f64]) -> Result<Vec<f64>> {
    let p = pattern(q, row, col)?;
    Ok(p.factor(values).map_err(r_error)?.inverse_on_pattern())
}

// tr(A^-1 T_l A^-1 T_k) for the columns T_l of `ts` (each on the pattern).
#[extendr]
fn fg_block_traces(q: i32, row: &[i32], col: &[i32], values: &[f64], ts: RMatrix<f64>) -> Result<Robj> {
    let p = pattern(q, row, col)?;
    let factor = p.factor(values).map_err(r_error)?;
    let n = ts.nrows();
    let columns: Vec<&[f64]> = ts.data().chunks(n.max(1)).take(ts.ncols()).collect();
    let t = columns.len();
    let out = factor.trace_products(&columns).map_err(r_error)?;
    Ok(RMatrix::new_matrix(t, t, |i, j| out[i + j * t]).into())
}

extendr_module! {
    mod blocks;
    fn fg_hessian_pattern;
    fn fg_block_structure;
    fn fg_block_solve;
    fn fg_block_inverse;
    fn fg_block_traces;
}
