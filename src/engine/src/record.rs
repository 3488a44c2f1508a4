//! Recording operations by name: the entry points the bindings call. Each
//! returns a new node, or an error naming the operation and the shapes.

use crate::node::Var;
use crate::ops::{Binary, Gather, LogSumExp, MatMul, Mean, Prod, Sum, Transpose, Unary};
use crate::rule::Linear;
use crate::{bail, Result};

pub fn unary(name: &str, x: &Var) -> Result<Var> {
    let Some(op) = Unary::from_name(name) else { bail!("unknown elementwise function '{name}'") };
    Var::apply(Box::new(op), vec![x.clone()])
}

pub fn binary(name: &str, a: &Var, b: &Var) -> Result<Var> {
    let Some(op) = Binary::from_name(name) else { bail!("unknown arithmetic operator '{name}'") };
    Var::apply(Box::new(op), vec![a.clone(), b.clone()])
}

pub fn sum(x: &Var) -> Result<Var> {
    Var::apply(Box::new(Linear(Sum)), vec![x.clone()])
}

pub fn mean(x: &Var) -> Result<Var> {
    Var::apply(Box::new(Linear(Mean)), vec![x.clone()])
}

pub fn prod(x: &Var) -> Result<Var> {
    Var::apply(Box::new(Prod), vec![x.clone()])
}

pub fn logsumexp(x: &Var) -> Result<Var> {
    Var::apply(Box::new(LogSumExp), vec![x.clone()])
}

pub fn matmul(a: &Var, b: &Var) -> Result<Var> {
    Var::apply(Box::new(MatMul), vec![a.clone(), b.clone()])
}

pub fn transpose(x: &Var) -> Result<Var> {
    Var::apply(Box::new(Linear(Transpose::for_shape(&x.value().shape))), vec![x.clone()])
}

/// x[positions] with 0-based positions.
pub fn gather(x: &Var, positions: Vec<usize>) -> Result<Var> {
    Var::apply(Box::new(Linear(Gather::new(positions))), vec![x.clone()])
}
