//! Reverse mode: one sweep from a scalar output back to every node it
//! depends on.

use crate::batch::accumulate_vec;
use crate::node::{index_of, topological_order, Var};
use crate::rule::Site;
use crate::tensor::Tensor;
use crate::{bail, Result};

/// Seeds d(root)/d(root) = 1 and accumulates the gradient of `root` into
/// every node reachable from it (gradients add up across calls, as in
/// micrograd and PyTorch; `zero_grad` resets them).
pub fn backward(root: &Var) -> Result<()> {
    let order = topological_order(root);
    let adjoints = reverse_sweep(root, &order)?;
    for (node, adj) in order.iter().zip(adjoints) {
        if let Some(a) = adj {
            node.accumulate_grad(&a);
        }
    }
    Ok(())
}

/// Clears the gradients of every node reachable from `root`.
pub fn zero_grad(root: &Var) {
    for node in topological_order(root) {
        node.zero_grad();
    }
}

/// Value and gradient of a scalar `root` with respect to `params`, without
/// touching the gradients stored on the nodes. The gradient is the
/// concatenation of each parameter's (column-major) gradient.
pub fn value_and_gradient(root: &Var, params: &[Var]) -> Result<(f64, Vec<f64>)> {
    let order = topological_order(root);
    let adjoints = reverse_sweep(root, &order)?;
    let index = index_of(&order);
    let mut grad = Vec::new();
    for p in params {
        match index.get(&p.id()).and_then(|&i| adjoints[i].as_ref()) {
            Some(a) => grad.extend_from_slice(a),
            None => grad.extend(std::iter::repeat(0.0).take(p.value().numel())),
        }
    }
    Ok((root.value().data[0], grad))
}

/// The adjoint of every node in `order` (indexed alike); `None` where no
/// gradient flows.
fn reverse_sweep(root: &Var, order: &[Var]) -> Result<Vec<Option<Vec<f64>>>> {
    if !root.value().is_scalar() {
        bail!("backward: the output must be a scalar, got {}", root.value().shape);
    }
    let index = index_of(order);
    let mut adj: Vec<Option<Vec<f64>>> = vec![None; order.len()];
    adj[order.len() - 1] = Some(vec![1.0]);
    for pos in (0..order.len()).rev() {
        let node = &order[pos];
        let (Some(rule), Some(out_adj)) = (node.rule(), adj[pos].as_ref()) else { continue };
        let inputs: Vec<&Tensor> = node.inputs().iter().map(|v| v.value()).collect();
        let needs: Vec<bool> = node.inputs().iter().map(|v| v.requires_grad()).collect();
        let site = Site { inputs: &inputs, output: node.value() };
        let contributions = rule.vjp(&site, out_adj, &needs);
        for (input, contribution) in node.inputs().iter().zip(contributions) {
            if let Some(c) = contribution {
                accumulate_vec(&mut adj[index[&input.id()]], c);
            }
        }
    }
    Ok(adj)
}
