//! Values and operations: each call records one node and returns it to R.

use extendr_api::prelude::*;
use extendr_api::{Error, Result};
use femtograd_engine::tape::graph::graph_of;
use femtograd_engine::tape::reachable;
use femtograd_engine::{backward, record, Var};

use crate::convert::{data_from_r, operand_from_r, r_error, shape_from_r, tensor_from_r, tensor_to_r, var_from_r, var_to_r};

// A leaf; `constant` leaves receive no gradient (plain numbers in an
// expression). `data` is a double vector (any attributes are ignored).
#[extendr]
fn fg_leaf(data: Robj, dim: Robj, constant: bool) -> Result<Robj> {
    let t = tensor_from_r(data_from_r(&data, "data")?, &dim)?;
    Ok(var_to_r(&if constant { Var::constant(t) } else { Var::leaf(t) }, None))
}

// Copies of the leaves among `params` (the same numbers on new tapes;
// anything else is returned as it is). A whole-function derivative records
// f on these, so the caller's values do not collect every call's nodes.
#[extendr]
fn fg_fresh_leaves(params: List) -> Result<List> {
    let copies = params
        .values()
        .map(|p| {
            let v = var_from_r(&p)?;
            Ok(if v.is_leaf() {
                let copy = Var::leaf(v.value());
                if let Some(label) = v.label() {
                    copy.set_label(&label);
                }
                var_to_r(&copy, None)
            } else {
                p
            })
        })
        .collect::<Result<Vec<Robj>>>()?;
    Ok(List::from_values(copies))
}

// TRUE if `root` depends on any of `params` (a function that reached the
// caller's own values through a closure rather than its argument).
#[extendr]
fn fg_depends_on(root: Robj, params: List) -> Result<bool> {
    let root = var_from_r(&root)?;
    let (cell, r) = root.resolve();
    // Positions first: resolving a handle borrows the tape.
    let mut positions = Vec::new();
    for p in params.values() {
        positions.extend(var_from_r(&p)?.index_relative_to(&cell).filter(|&i| i <= r));
    }
    let live = reachable(&cell.tape(), r);
    Ok(positions.into_iter().any(|i| live[i]))
}

// TRUE if the pointer still refers to a live node.
#[extendr]
fn fg_is_live(x: Robj) -> bool {
    var_from_r(&x).is_ok()
}

#[extendr]
fn fg_grad(x: Robj) -> Result<Robj> {
    let v = var_from_r(&x)?;
    Ok(tensor_to_r(&v.value(), &v.grad()))
}

// Reductions and shape operations of one argument, by name.
#[extendr]
fn fg_reduce(name: &str, x: Robj) -> Result<Robj> {
    let v = var_from_r(&x)?;
    let out = match name {
        "sum" => record::sum(&v),
        "mean" => record::mean(&v),
        "prod" => record::prod(&v),
        "logsumexp" => record::logsumexp(&v),
        "t" => record::transpose(&v),
        "cumsum" => record::cumsum(&v),
        _ => return Err(Error::Other(format!("unknown reduction '{name}'"))),
    };
    Ok(var_to_r(&out.map_err(r_error)?, Some(&x)))
}

#[extendr]
fn fg_matmul(a: Robj, b: Robj) -> Result<Robj> {
    let out = record::matmul(&operand_from_r(&a)?, &operand_from_r(&b)?).map_err(r_error)?;
    Ok(var_to_r(&out, Some(if a.is_external_pointer() { &a } else { &b })))
}

// solve(a, b) = a^-1 b; either may be plain numbers (a constant).
#[extendr]
fn fg_solve(a: Robj, b: Robj) -> Result<Robj> {
    let out = record::solve(&operand_from_r(&a)?, &operand_from_r(&b)?).map_err(r_error)?;
    Ok(var_to_r(&out, Some(if a.is_external_pointer() { &a } else { &b })))
}

// log |det a|.
#[extendr]
fn fg_logdet(a: Robj) -> Result<Robj> {
    Ok(var_to_r(&record::logdet(&var_from_r(&a)?).map_err(r_error)?, Some(&a)))
}

// chol(a): the upper triangular R with a = R'R, as R's chol.
#[extendr]
fn fg_chol(a: Robj) -> Result<Robj> {
    Ok(var_to_r(&record::chol(&var_from_r(&a)?).map_err(r_error)?, Some(&a)))
}

// x[i] with 1-based positions (validated in R), as a vector or, when `dim`
// is given, an array of that shape.
#[extendr]
fn fg_gather(x: Robj, positions: &[i32], dim: Robj) -> Result<Robj> {
    let zero_based = positions.iter().map(|&p| (p - 1) as usize).collect();
    let v = var_from_r(&x)?;
    let out = if dim.is_null() {
        record::gather(&v, zero_based)
    } else {
        record::gather_shaped(&v, zero_based, shape_from_r(&dim)?)
    };
    Ok(var_to_r(&out.map_err(r_error)?, Some(&x)))
}

// The numbers of a list of operands (values or plain numbers), one after
// another, as an array of shape `dim` (a length or c(rows, cols)).
#[extendr]
fn fg_concat(parts: List, dim: Robj) -> Result<Robj> {
    let vars = parts.values().map(|p| operand_from_r(&p)).collect::<Result<Vec<_>>>()?;
    let owner = parts.values().find(|p| p.is_external_pointer());
    let out = record::concat(&vars, shape_from_r(&dim)?).map_err(r_error)?;
    Ok(var_to_r(&out, owner.as_ref()))
}

// Names the node of a value in views of the graph (`val(x, label = )`).
#[extendr]
fn fg_set_label(x: Robj, label: &str) -> Result<()> {
    var_from_r(&x)?.set_label(label);
    Ok(())
}

// The graph behind a value, column by column: per node its kind, operation,
// label (NA if none), tape position (NA for a constant of the pool), value
// and gradient (R numbers with their dim); per edge the 1-based graph
// positions of its ends and which argument of `to` it is.
#[extendr]
fn fg_graph(x: Robj) -> Result<List> {
    let g = graph_of(&var_from_r(&x)?);
    let kind: Vec<&str> = g.nodes.iter().map(|n| n.kind.name()).collect();
    let operation: Vec<&str> = g.nodes.iter().map(|n| n.operation).collect();
    let label: Strings = g.nodes.iter().map(|n| n.label.as_deref().map_or(Rstr::na(), Rstr::from)).collect();
    let position: Integers =
        g.nodes.iter().map(|n| n.position.map_or(Rint::na(), |p| Rint::from(p as i32 + 1))).collect();
    let value = List::from_values(g.nodes.iter().map(|n| tensor_to_r(&n.value, n.value.data.as_slice())));
    let gradient = List::from_values(g.nodes.iter().map(|n| tensor_to_r(&n.value, &n.gradient)));
    let from: Vec<i32> = g.edges.iter().map(|e| e.from as i32 + 1).collect();
    let to: Vec<i32> = g.edges.iter().map(|e| e.to as i32 + 1).collect();
    let argument: Vec<i32> = g.edges.iter().map(|e| e.argument as i32 + 1).collect();
    Ok(list!(
        kind = kind,
        operation = operation,
        label = label,
        position = position,
        value = value,
        gradient = gradient,
        from = from,
        to = to,
        argument = argument
    ))
}

#[extendr]
fn fg_backward(x: Robj) -> Result<()> {
    backward::backward(&var_from_r(&x)?).map_err(r_error)
}

#[extendr]
fn fg_zero_grad(x: Robj) -> Result<()> {
    backward::zero_grad(&var_from_r(&x)?);
    Ok(())
}

extendr_module! {
    mod graph;
    fn fg_leaf;
    fn fg_fresh_leaves;
    fn fg_depends_on;
    fn fg_is_live;
    fn fg_grad;
    fn fg_reduce;
    fn fg_matmul;
    fn fg_solve;
    fn fg_logdet;
    fn fg_chol;
    fn fg_gather;
    fn fg_concat;
    fn fg_set_label;
    fn fg_graph;
    fn fg_backward;
    fn fg_zero_grad;
}
