//! Forward mode as a graph transformation: the directional derivative
//! D f(x)[v] of a recorded value f, recorded on f's own tape as ordinary
//! operations (each node's `Rule::jvp_graph`), so that it is a value like
//! any other and every sweep can differentiate it again:
//!   - its gradient (`backward`) is H v;
//!   - its Hessian (`second_order`) is T(v)_ij = sum_k f_ijk v_k;
//!   - the directional derivative of it along w, D(D f[v])[w] = v' H w,
//!     has third derivatives as its gradient and fourth ones, contracted
//!     with v and w, as its Hessian.
//!
//! This is what the Laplace approximation's exact outer gradient and
//! Hessian need (nested tapes in TMB/CppAD, jvp-of-grad in JAX).
//!
//! The walk visits, in recording order, only the nodes f depends on, and
//! only up to f: what it appends while walking lies after f and is never
//! visited. A node none of whose inputs moves has no tangent (`None`); an
//! operation with no forward rule as operations refuses with its name.

use std::rc::Rc;

use crate::record;
use crate::second_order::parameter_offsets;
use crate::tape::{reachable, Input, Operand, TapeCell, Var};
use crate::tensor::{Shape, Tensor};
use crate::{bail, Result};

const CALLER: &str = "directional_derivative";

/// D root(params)[direction]: the derivative of `root` (any shape) when
/// the parameter leaves move along `direction` (one value per parameter,
/// with as many numbers), recorded on root's tape. Directions may be
/// constants, or values that themselves receive derivatives. Applying it
/// to its own result gives derivatives of higher order.
pub fn directional_derivative(root: &Var, params: &[Var], direction: &[Var]) -> Result<Var> {
    if params.len() != direction.len() {
        bail!("{CALLER}: {} parameters but {} directions", params.len(), direction.len());
    }
    for (i, (p, d)) in params.iter().zip(direction).enumerate() {
        let (ps, ds) = (p.value().shape, d.value().shape);
        if ps.numel() != ds.numel() {
            bail!("{CALLER}: direction {} is {ds} but parameter {} is {ps}", i + 1, i + 1);
        }
    }
    let (cell, r) = root.resolve();
    // Checks that the parameters are distinct leaves; then which of them
    // sits at each position of the tape up to root.
    parameter_offsets(CALLER, &cell, r + 1, params)?;
    let mut parameter_at: Vec<Option<usize>> = vec![None; r + 1];
    for (k, p) in params.iter().enumerate() {
        if let Some(at) = p.index_relative_to(&cell).filter(|&at| at <= r) {
            parameter_at[at] = Some(k);
        }
    }
    let live = reachable(&cell.tape(), r);
    let mut tangents: Vec<Option<Var>> = vec![None; r + 1];
    for pos in (0..=r).filter(|&pos| live[pos]) {
        let Some((rule, inputs)) = read_node(&cell, pos) else {
            tangents[pos] = match parameter_at[pos] {
                Some(k) => Some(laid_out(direction[k].clone(), Var::at(Rc::clone(&cell), pos)?.value().shape)?),
                None => None,
            };
            continue;
        };
        let input_tangents: Vec<Option<Var>> =
            inputs.iter().map(|input| input.as_ref().ok().and_then(|&j| tangents[j].clone())).collect();
        if input_tangents.iter().all(Option::is_none) {
            continue;
        }
        let operands = inputs
            .iter()
            .map(|input| match *input {
                Ok(j) => Var::at(Rc::clone(&cell), j).map(Operand::Var),
                Err(c) => Ok(Operand::Scalar(c)),
            })
            .collect::<Result<Vec<Operand>>>()?;
        let output = Var::at(Rc::clone(&cell), pos)?;
        let tangent = rule
            .jvp_graph(&operands, &output, &input_tangents)
            .map_err(|e| crate::Error::new(format!("{CALLER}: {e}")))?;
        tangents[pos] = tangent.map(|t| laid_out(t, output.value().shape)).transpose()?;
    }
    match tangents.pop().flatten() {
        Some(t) => Ok(t),
        None => {
            let shape = root.value().shape;
            Ok(Var::constant(Tensor::new(shape, vec![0.0; shape.numel()])?))
        }
    }
}

/// A node's inputs: a node's position (`Ok`) or a constant's number (`Err`).
type NodeInputs = Vec<std::result::Result<usize, f64>>;

/// The rule of node `pos` of `cell` (positions as `cell` numbers them) and
/// its inputs; `None` for leaves and constants. Read afresh for every node: recording
/// a tangent may append `cell`'s tape to a larger one, which shifts where
/// its nodes sit there (but not where they sit relative to `cell`).
fn read_node(cell: &Rc<TapeCell>, pos: usize) -> Option<(Rc<dyn crate::rule::Rule>, NodeInputs)> {
    let (root, offset) = cell.resolve();
    let tape = root.tape();
    let rule = tape.node(pos + offset).rule.clone()?;
    let inputs = tape
        .inputs(pos + offset)
        .map(|input| match input {
            Input::Node(j) => Ok(j - offset),
            Input::Constant(_) => Err(tape.input_value(input).data[0]),
        })
        .collect();
    Some((rule, inputs))
}

/// A tangent laid out as its node: the same numbers in the node's shape,
/// or one number repeated (a scalar broadcast by + or -).
fn laid_out(t: Var, shape: Shape) -> Result<Var> {
    let have = t.value().shape;
    if have == shape {
        return Ok(t);
    }
    let n = shape.numel();
    let positions = if have.numel() == n {
        (0..n).collect()
    } else if have.numel() == 1 {
        vec![0; n]
    } else {
        bail!("internal error: {CALLER}: a tangent of shape {have} for a value of shape {shape}");
    };
    record::gather_shaped(&t, positions, shape)
}
