//! Reverse mode: one sweep down the tape from a scalar output to every node
//! it depends on.

use crate::adjoints::Adjoints;
use crate::rule::Site;
use crate::tape::{Input, Tape, Var};
use crate::tensor::Tensor;
use crate::{bail, Result};

/// Seeds d(root)/d(root) = 1 and accumulates the gradient of `root` into
/// every node reachable from it (gradients add up across calls, as in
/// micrograd and PyTorch; `zero_grad` resets them).
pub fn backward(root: &Var) -> Result<()> {
    let (cell, r) = root.resolve();
    let adjoints = reverse_sweep(&cell.tape(), r)?;
    cell.tape_mut().accumulate_grads(adjoints);
    Ok(())
}

/// Clears the gradients of every node `root` depends on.
pub fn zero_grad(root: &Var) {
    let (cell, r) = root.resolve();
    let reached = crate::tape::reachable(&cell.tape(), r);
    let mut tape = cell.tape_mut();
    for (i, _) in reached.iter().enumerate().filter(|(_, &on)| on) {
        tape.zero_grad(i);
    }
}

/// Value and gradient of a scalar `root` with respect to `params`, without
/// touching the gradients stored on the nodes. The gradient is the
/// concatenation of each parameter's (column-major) gradient.
pub fn value_and_gradient(root: &Var, params: &[Var]) -> Result<(f64, Vec<f64>)> {
    let (cell, r) = root.resolve();
    let tape = cell.tape();
    let adjoints = reverse_sweep(&tape, r)?;
    let mut grad = Vec::new();
    for p in params {
        let n = p.value().numel();
        match p.index_relative_to(&cell).and_then(|i| adjoints.get(i)) {
            Some(a) => grad.extend_from_slice(a),
            None => grad.extend(std::iter::repeat(0.0).take(n)),
        }
    }
    Ok((tape.node(r).value.data[0], grad))
}

/// The adjoint of every node up to `root` (by position); none where no
/// gradient flows.
pub(crate) fn reverse_sweep(tape: &Tape, root: usize) -> Result<Adjoints> {
    let out = &tape.node(root).value;
    if !out.is_scalar() {
        bail!("backward: the output must be a scalar, got {}", out.shape);
    }
    let mut adj = Adjoints::new(root + 1);
    adj.add_scalar(root, 1.0);
    for pos in (0..=root).rev() {
        let node = tape.node(pos);
        let (Some(rule), Some(out_adj)) = (node.rule.as_ref(), adj.get(pos)) else { continue };
        // Scalars through an elementwise operation: the partials alone, with
        // no arrays to build (the common case of models written as loops).
        if node.value.is_scalar() {
            let g = out_adj[0];
            let scalar = tape.scalar_inputs(pos).and_then(|(x, n)| match node.elementwise {
                Some(op) => Some(op.partials(x, node.value.data[0])),
                None => rule.scalar_partials(&x[..n], node.value.data[0]),
            });
            if let Some(d) = scalar {
                for (k, input) in tape.inputs(pos).enumerate() {
                    if let Input::Node(j) = input {
                        if tape.node(j).requires_grad {
                            adj.add_scalar(j, g * if k == 0 { d.a } else { d.b });
                        }
                    }
                }
                continue;
            }
        }
        let values = tape.input_values(pos);
        let inputs: Vec<&Tensor> = values.iter().collect();
        let needs: Vec<bool> = tape.inputs(pos).map(|input| tape.input_requires_grad(input)).collect();
        let site = Site { inputs: &inputs, output: &node.value };
        let contributions = rule.vjp(&site, out_adj, &needs);
        for (input, contribution) in tape.inputs(pos).zip(contributions) {
            if let (Input::Node(j), Some(c)) = (input, contribution) {
                adj.add(j, c);
            }
        }
    }
    Ok(adj)
}
