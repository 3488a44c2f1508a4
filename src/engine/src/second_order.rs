//! Forward-over-reverse: exact Hessians (and Hessian-vector products and
//! Jacobians) from one recorded graph.
//!
//! A forward sweep pushes tangents from the parameter leaves, one column per
//! direction; a reverse sweep then carries both the ordinary adjoint and its
//! derivative along each direction (the second-order adjoint). At the
//! parameters, the second-order adjoints are the Hessian times the
//! directions. With the identity as directions that is the full Hessian,
//! batched over all p directions in one pair of sweeps.

use crate::batch::{accumulate, accumulate_vec, Batch};
use crate::node::{index_of, topological_order, NodeMap, Var};
use crate::rule::Site;
use crate::tensor::{Shape, Tensor};
use crate::{bail, Result};

/// Value, gradient and second-order product of a scalar function.
#[derive(Debug, Clone)]
pub struct SecondOrder {
    pub value: f64,
    pub gradient: Vec<f64>,
    /// H * D as a p x d column-major matrix (D the directions).
    pub hessian_times: Batch,
}

/// Checks that `params` are distinct leaves and returns the offset of each
/// parameter's first element in the concatenated parameter vector.
fn parameter_offsets(caller: &str, params: &[Var]) -> Result<(NodeMap<usize>, usize)> {
    let mut offsets = NodeMap::default();
    let mut p = 0;
    for (i, v) in params.iter().enumerate() {
        if !v.is_leaf() {
            bail!("{caller}: parameter {} is the result of an operation, not a leaf value", i + 1);
        }
        if offsets.insert(v.id(), p).is_some() {
            bail!("{caller}: parameter {} appears twice in the parameter list", i + 1);
        }
        p += v.value().numel();
    }
    Ok((offsets, p))
}

/// Tangents of every node in `order` when the parameters move along the
/// columns of `directions` (p x d). `None` means the node does not depend on
/// any parameter.
fn forward_sweep(
    order: &[Var],
    offsets: &NodeMap<usize>,
    directions: &Batch,
) -> Vec<Option<Batch>> {
    let index = index_of(order);
    let dirs = directions.dirs;
    let mut tangents: Vec<Option<Batch>> = Vec::with_capacity(order.len());
    for node in order {
        let tangent = match (node.rule(), offsets.get(&node.id())) {
            (None, Some(&offset)) => {
                let n = node.value().numel();
                let mut t = Batch::zeros(n, dirs);
                for k in 0..dirs {
                    t.col_mut(k).copy_from_slice(&directions.col(k)[offset..offset + n]);
                }
                Some(t)
            }
            (None, None) => None,
            (Some(rule), _) => {
                let inputs: Vec<&Tensor> = node.inputs().iter().map(|v| v.value()).collect();
                let input_tangents: Vec<Option<&Batch>> =
                    node.inputs().iter().map(|v| tangents[index[&v.id()]].as_ref()).collect();
                if input_tangents.iter().all(Option::is_none) {
                    None
                } else {
                    let site = Site { inputs: &inputs, output: node.value() };
                    rule.jvp(&site, &input_tangents, dirs)
                }
            }
        };
        tangents.push(tangent);
    }
    tangents
}

/// The p x p identity: one direction per parameter element.
fn identity(p: usize) -> Batch {
    let mut eye = Batch::zeros(p, p);
    for k in 0..p {
        eye.col_mut(k)[k] = 1.0;
    }
    eye
}

/// The graph of `root` after a forward sweep: its nodes in topological
/// order, the position of each, and their tangents.
pub(crate) struct Tangents {
    pub order: Vec<Var>,
    pub index: NodeMap<usize>,
    /// Offset of each parameter (by node identity) in the parameter vector.
    pub offsets: NodeMap<usize>,
    pub tangents: Vec<Option<Batch>>,
    /// Number of parameter elements.
    pub p: usize,
    /// Number of directions (p for the identity).
    pub dirs: usize,
}

/// The forward sweep every second-order and forward-mode quantity starts
/// from: checks the parameters and pushes `directions` (p x d; `None` is
/// the identity) from them through the graph of `root`.
pub(crate) fn tangents(caller: &str, root: &Var, params: &[Var], directions: Option<&Batch>) -> Result<Tangents> {
    let (offsets, p) = parameter_offsets(caller, params)?;
    let eye;
    let directions = match directions {
        Some(d) => {
            if d.rows != p {
                bail!("{caller}: direction has length {} but there are {} parameters", d.rows, p);
            }
            d
        }
        None => {
            eye = identity(p);
            &eye
        }
    };
    let order = topological_order(root);
    let index = index_of(&order);
    let tangents = forward_sweep(&order, &offsets, directions);
    Ok(Tangents { order, index, offsets, tangents, p, dirs: directions.dirs })
}

/// Value, gradient and H * directions of a scalar `root` with respect to
/// `params`. `directions` is p x d; `None` means the identity (the full
/// Hessian, d = p).
pub fn second_order(root: &Var, params: &[Var], directions: Option<&Batch>) -> Result<SecondOrder> {
    let caller = if directions.is_some() { "hessian_vector" } else { "hessian" };
    if !root.value().is_scalar() {
        bail!("{caller}: the function must return a scalar, got {}", root.value().shape);
    }
    let identity_directions = directions.is_none();
    let Tangents { order, index, offsets, tangents, p, dirs } = tangents(caller, root, params, directions)?;

    // Only nodes that depend on a parameter carry adjoints that matter.
    let mut adj: Vec<Option<Vec<f64>>> = vec![None; order.len()];
    let mut adj_dot: Vec<Option<Batch>> = vec![None; order.len()];
    adj[order.len() - 1] = Some(vec![1.0]);
    for pos in (0..order.len()).rev() {
        let node = &order[pos];
        let Some(rule) = node.rule() else { continue };
        let Some(out_adj) = adj[pos].take() else { continue };
        let out_adj_dot = adj_dot[pos].take();
        let inputs: Vec<&Tensor> = node.inputs().iter().map(|v| v.value()).collect();
        let input_tangents: Vec<Option<&Batch>> =
            node.inputs().iter().map(|v| tangents[index[&v.id()]].as_ref()).collect();
        let needs: Vec<bool> = input_tangents.iter().map(Option::is_some).collect();
        if !needs.iter().any(|&b| b) {
            continue;
        }
        let site = Site { inputs: &inputs, output: node.value() };
        let first = rule.vjp(&site, &out_adj, &needs);
        let second = rule.vjp_dot(&site, &input_tangents, &out_adj, out_adj_dot.as_ref(), &needs, dirs);
        for ((input, c1), c2) in node.inputs().iter().zip(first).zip(second) {
            let i = index[&input.id()];
            if let Some(c) = c1 {
                accumulate_vec(&mut adj[i], c);
            }
            if let Some(c) = c2 {
                accumulate(&mut adj_dot[i], c);
            }
        }
    }

    let mut gradient = Vec::with_capacity(p);
    let mut hessian_times = Batch::zeros(p, dirs);
    for param in params {
        let n = param.value().numel();
        let offset = offsets[&param.id()];
        match index.get(&param.id()) {
            Some(&i) => {
                match &adj[i] {
                    Some(a) => gradient.extend_from_slice(a),
                    None => gradient.extend(std::iter::repeat(0.0).take(n)),
                }
                if let Some(hd) = &adj_dot[i] {
                    for k in 0..dirs {
                        hessian_times.col_mut(k)[offset..offset + n].copy_from_slice(hd.col(k));
                    }
                }
            }
            None => gradient.extend(std::iter::repeat(0.0).take(n)),
        }
    }
    if identity_directions {
        symmetrize(&mut hessian_times);
    }
    Ok(SecondOrder { value: root.value().data[0], gradient, hessian_times })
}

/// The two triangles of a forward-over-reverse Hessian come from different
/// sums and can differ in the last bit; their mean is exactly symmetric,
/// which `isSymmetric()` and Cholesky-based code downstream rely on.
fn symmetrize(h: &mut Batch) {
    let p = h.rows;
    for j in 0..p {
        for i in (j + 1)..p {
            let mean = 0.5 * (h.data[i + j * p] + h.data[j + i * p]);
            h.data[i + j * p] = mean;
            h.data[j + i * p] = mean;
        }
    }
}

/// Jacobian of a (vector- or matrix-valued) `root` with respect to `params`
/// by forward mode: one tangent sweep with the identity as directions. The
/// result is m x p, m = numel(root), column-major.
pub fn jacobian(root: &Var, params: &[Var]) -> Result<Tensor> {
    let Tangents { mut tangents, p, .. } = tangents("jacobian", root, params, None)?;
    let m = root.value().numel();
    let data = tangents.pop().flatten().map(Batch::into_data).unwrap_or_else(|| vec![0.0; m * p]);
    Tensor::new(Shape::matrix(m, p), data)
}
