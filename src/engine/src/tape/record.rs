//! Recording operations by name: the entry points the bindings call. Each
//! appends a node to the tape of its inputs, or returns an error naming the
//! operation and the shapes.

use std::rc::Rc;

use crate::ops::{Binary, Chol, Concat, CumSum, Gather, LogDet, LogSumExp, MatMul, Mean, Prod, Solve, Sum, Transpose, Unary};
use crate::rule::{Linear, Rule};
use crate::tape::{Input, Operand, Var};
use crate::tensor::Shape;
use crate::{bail, Result};

thread_local! {
    /// The elementwise rules hold no state, so every node of one kind
    /// shares one instance: recording a scalar operation allocates nothing
    /// for its rule.
    static BINARY: Vec<(Binary, Rc<dyn Rule>)> =
        ["+", "-", "*", "/", "^"].iter().filter_map(|n| Binary::from_name(n)).map(|b| (b, Rc::new(b) as Rc<dyn Rule>)).collect();
    static UNARY: Vec<(Unary, Rc<dyn Rule>)> = Unary::ALL.iter().map(|&u| (u, Rc::new(u) as Rc<dyn Rule>)).collect();
}

pub fn unary(name: &str, x: &Var) -> Result<Var> {
    let Some(op) = Unary::from_name(name) else { bail!("unknown elementwise function '{name}'") };
    let rule = UNARY.with(|rules| rules.iter().find(|(u, _)| *u == op).map(|(_, r)| Rc::clone(r)));
    Var::apply_elementwise(rule.expect("every unary function has a shared rule"), &[x.into()])
}

pub fn binary(name: &str, a: impl Into<Operand>, b: impl Into<Operand>) -> Result<Var> {
    let Some(op) = Binary::from_name(name) else { bail!("unknown arithmetic operator '{name}'") };
    let rule = BINARY.with(|rules| rules.iter().find(|(o, _)| *o == op).map(|(_, r)| Rc::clone(r)));
    Var::apply_elementwise(rule.expect("every operator has a shared rule"), &[a.into(), b.into()])
}

pub fn sum(x: &Var) -> Result<Var> {
    Var::apply(Rc::new(Linear(Sum)), &[x.into()])
}

/// `sum(x)` of the log-densities `x` of a distribution (a kernel's
/// pointwise node) as that distribution's kernel on the same inputs, which
/// a replay evaluates from sums of the data; `None` when `x` is anything
/// else.
pub fn sum_as_kernel(x: &Var) -> Result<Option<Var>> {
    let (cell, i) = x.resolve();
    let (rule, inputs) = {
        let tape = cell.tape();
        let Some(rule) = tape.node(i).rule.as_ref().and_then(|r| r.sum_kernel()) else { return Ok(None) };
        let inputs: Vec<Input> = tape.inputs(i).collect();
        let inputs: Vec<std::result::Result<usize, f64>> = inputs
            .into_iter()
            .map(|input| match input {
                Input::Node(j) => Ok(j),
                Input::Constant(_) => Err(tape.input_value(input).data[0]),
            })
            .collect();
        (rule, inputs)
    };
    let operands = inputs
        .into_iter()
        .map(|input| match input {
            Ok(j) => Var::at(Rc::clone(&cell), j).map(Operand::Var),
            Err(c) => Ok(Operand::Scalar(c)),
        })
        .collect::<Result<Vec<Operand>>>()?;
    Var::apply(rule, &operands).map(Some)
}

pub fn mean(x: &Var) -> Result<Var> {
    Var::apply(Rc::new(Linear(Mean)), &[x.into()])
}

pub fn prod(x: &Var) -> Result<Var> {
    Var::apply(Rc::new(Prod), &[x.into()])
}

pub fn logsumexp(x: &Var) -> Result<Var> {
    Var::apply(Rc::new(LogSumExp), &[x.into()])
}

pub fn matmul(a: &Var, b: &Var) -> Result<Var> {
    Var::apply(Rc::new(MatMul), &[a.into(), b.into()])
}

/// A^-1 B for a square A (B a vector or a matrix).
pub fn solve(a: &Var, b: &Var) -> Result<Var> {
    Var::apply(Rc::new(Solve), &[a.into(), b.into()])
}

/// log |det A| for a square A.
pub fn logdet(a: &Var) -> Result<Var> {
    Var::apply(Rc::new(LogDet), &[a.into()])
}

/// The upper triangular R with A = R'R for a symmetric positive-definite A
/// (R's chol(A)).
pub fn chol(a: &Var) -> Result<Var> {
    Var::apply(Rc::new(Chol), &[a.into()])
}

pub fn transpose(x: &Var) -> Result<Var> {
    Var::apply(Rc::new(Linear(Transpose::for_shape(&x.value().shape))), &[x.into()])
}

/// x[positions] with 0-based positions.
pub fn gather(x: &Var, positions: Vec<usize>) -> Result<Var> {
    Var::apply(Rc::new(Linear(Gather::new(positions))), &[x.into()])
}

/// x[positions] (0-based) as an array of the given shape.
pub fn gather_shaped(x: &Var, positions: Vec<usize>, shape: Shape) -> Result<Var> {
    Var::apply(Rc::new(Linear(Gather::shaped(positions, shape)?)), &[x.into()])
}

/// The numbers of `parts`, one after another, as an array of the given shape.
pub fn concat(parts: &[Var], shape: Shape) -> Result<Var> {
    if parts.is_empty() {
        bail!("c: nothing to concatenate");
    }
    let operands: Vec<Operand> = parts.iter().map(Operand::from).collect();
    Var::apply(Rc::new(Concat::new(shape)), &operands)
}

pub fn cumsum(x: &Var) -> Result<Var> {
    Var::apply(Rc::new(Linear(CumSum)), &[x.into()])
}
