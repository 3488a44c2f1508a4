//! Forward-over-reverse: exact Hessians (and Hessian-vector products and
//! Jacobians) from one recorded graph.
//!
//! A forward sweep pushes tangents from the parameter leaves, one column per
//! direction; a reverse sweep then carries both the ordinary adjoint and its
//! derivative along each direction (the second-order adjoint). At the
//! parameters, the second-order adjoints are the Hessian times the
//! directions. With the identity as directions that is the full Hessian,
//! batched over all p directions in one pair of sweeps.

use std::rc::Rc;

use crate::adjoints::Adjoints;
use crate::batch::{accumulate, fallible, Batch};
use crate::scalar_tape::scalar_tape_second_order;
use crate::rule::{Partials, Rule, Site};
use crate::tape::{reachable, Input, Tape, TapeCell, Var};
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

/// Checks that `params` are distinct leaves of the tape of `cell` and
/// returns, for each position of that tape, the offset of the parameter
/// that sits there (if any) in the concatenated parameter vector, and p.
pub(crate) fn parameter_offsets(caller: &str, cell: &Rc<TapeCell>, len: usize, params: &[Var]) -> Result<(Vec<Option<usize>>, usize)> {
    let mut offsets = vec![None; len];
    let mut p = 0;
    for (i, v) in params.iter().enumerate() {
        if !v.is_leaf() {
            bail!("{caller}: parameter {} is the result of an operation, not a leaf value", i + 1);
        }
        // A parameter on another tape does not enter the output: its
        // derivatives are zero, and it has no position here.
        if let Some(at) = v.index_relative_to(cell).filter(|&at| at < len) {
            if offsets[at].is_some() {
                bail!("{caller}: parameter {} appears twice in the parameter list", i + 1);
            }
            offsets[at] = Some(p);
        } else if params[..i].iter().any(|w| w.same_node(v)) {
            bail!("{caller}: parameter {} appears twice in the parameter list", i + 1);
        }
        p += v.value().numel();
    }
    Ok((offsets, p))
}

/// Tangents of every node up to `root` when the parameters move along the
/// columns of `directions` (p x d). `None` means the node does not depend on
/// any parameter.
///
/// Only nodes `root` depends on are visited: a tape also holds whatever
/// else was recorded from the same values (earlier calls with a value the
/// user keeps), and pushing tangents through those would cost time in
/// proportion to the whole history.
///
/// Scalar nodes on the fast path also return their partials, which the
/// reverse sweep needs again (`None` for every other node).
fn forward_sweep(
    tape: &Tape,
    root: usize,
    offsets: &[Option<usize>],
    directions: &Batch,
) -> (Vec<Option<Batch>>, Vec<Option<Partials>>) {
    let dirs = directions.dirs;
    let live = reachable(tape, root);
    let mut tangents: Vec<Option<Batch>> = Vec::with_capacity(root + 1);
    let mut partials: Vec<Option<Partials>> = vec![None; root + 1];
    for (pos, offset) in offsets.iter().enumerate().take(root + 1) {
        let node = tape.node(pos);
        if !live[pos] {
            tangents.push(None);
            continue;
        }
        // A node none of whose inputs moves with the parameters has no
        // tangent, and no derivative flows through it.
        let moves = |tangents: &[Option<Batch>]| tape.inputs(pos).any(|i| i.node().is_some_and(|j| tangents[j].is_some()));
        let tangent = match (node.rule.as_ref(), offset) {
            (Some(_), _) if !moves(&tangents) => None,
            (None, Some(offset)) => {
                let n = node.value.numel();
                let mut t = Batch::zeros(n, dirs);
                for k in 0..dirs {
                    t.col_mut(k).copy_from_slice(&directions.col(k)[*offset..*offset + n]);
                }
                Some(t)
            }
            (None, None) => None,
            (Some(rule), _) => match scalar_partials(tape, pos, &**rule) {
                Some(d) => {
                    partials[pos] = Some(d);
                    scalar_tangent(tape, pos, &d, &tangents, dirs)
                }
                None => {
                    let input_tangents: Vec<Option<&Batch>> =
                        tape.inputs(pos).map(|input| input.node().and_then(|j| tangents[j].as_ref())).collect();
                    let values = tape.input_values(pos);
                    let inputs: Vec<&Tensor> = values.iter().collect();
                    let site = Site { inputs: &inputs, output: &node.value };
                    rule.jvp(&site, &input_tangents, dirs)
                }
            },
        };
        tangents.push(tangent);
    }
    (tangents, partials)
}

/// The partials of a scalar node whose one or two inputs are scalars, for
/// the sweeps' fast path (models written as loops); `None` for any other
/// node, which takes its rule's general path.
fn scalar_partials(tape: &Tape, pos: usize, rule: &dyn Rule) -> Option<Partials> {
    let node = tape.node(pos);
    if !node.value.is_scalar() {
        return None;
    }
    let (x, n) = tape.scalar_inputs(pos)?;
    rule.scalar_partials(&x[..n], node.value.data[0])
}

/// The tangent node `pos` with partials `d`: the sum of its inputs'
/// tangents weighted by the first partials (only inputs that have one: a
/// partial with respect to a constant may be NaN).
fn scalar_tangent(tape: &Tape, pos: usize, d: &Partials, tangents: &[Option<Batch>], dirs: usize) -> Option<Batch> {
    let mut out: Option<Batch> = None;
    for (k, input) in tape.inputs(pos).enumerate() {
        let Some(t) = input.node().and_then(|j| tangents[j].as_ref()) else { continue };
        let w = if k == 0 { d.a } else { d.b };
        let o = out.get_or_insert_with(|| Batch::zeros(1, dirs));
        o.data.iter_mut().zip(&t.data).for_each(|(o, t)| *o += w * t);
    }
    out
}

/// The p x p identity: one direction per parameter element. Refused
/// before allocating when it cannot fit in memory.
fn identity(caller: &str, p: usize) -> Result<Batch> {
    check_batch_size(caller, p, p)?;
    let mut eye = Batch::zeros(p, p);
    for k in 0..p {
        eye.col_mut(k)[k] = 1.0;
    }
    Ok(eye)
}

/// Batches of tangents are rows x dirs numbers per node: refuse sizes that
/// cannot be allocated instead of aborting the process when the allocator
/// fails (a Hessian of a 1e5-element parameter needs 80 GB per node).
pub(crate) fn check_batch_size(caller: &str, rows: usize, dirs: usize) -> Result<()> {
    const MAX_NUMBERS: usize = 1 << 31; // 16 GiB of doubles
    match rows.checked_mul(dirs) {
        Some(n) if n <= MAX_NUMBERS => Ok(()),
        _ => bail!(
            "{caller}: cannot allocate {rows} x {dirs} tangents ({:.1} GB); \
             with this many parameter elements use gradient() or hessian_vector() instead",
            rows as f64 * dirs as f64 * 8e-9
        ),
    }
}

/// The tape of `root` after a forward sweep: its position, the offset of
/// each parameter by position, and the tangents of every node up to it.
pub(crate) struct Tangents {
    pub cell: Rc<TapeCell>,
    pub root: usize,
    pub offsets: Vec<Option<usize>>,
    pub tangents: Vec<Option<Batch>>,
    /// The partials of the scalar nodes on the fast path, by position.
    pub partials: Vec<Option<Partials>>,
    /// Number of parameter elements.
    pub p: usize,
    /// Number of directions (p for the identity).
    pub dirs: usize,
}

/// The forward sweep every second-order and forward-mode quantity starts
/// from: checks the parameters and pushes `directions` (p x d; `None` is
/// the identity) from them through the tape of `root`.
pub(crate) fn tangents(caller: &str, root: &Var, params: &[Var], directions: Option<&Batch>) -> Result<Tangents> {
    let (cell, r) = root.resolve();
    let (offsets, p) = parameter_offsets(caller, &cell, r + 1, params)?;
    let eye;
    let directions = match directions {
        Some(d) => {
            if d.rows != p {
                bail!("{caller}: direction has length {} but there {}", d.rows, crate::error::there_are(p, "parameter"));
            }
            d
        }
        None => {
            eye = identity(caller, p)?;
            &eye
        }
    };
    let tape = cell.tape();
    let widest = (0..=r).map(|i| tape.node(i).value.numel()).max().unwrap_or(1);
    check_batch_size(caller, widest, directions.dirs)?;
    let (tangents, partials) = forward_sweep(&tape, r, &offsets, directions);
    drop(tape);
    Ok(Tangents { cell, root: r, offsets, tangents, partials, p, dirs: directions.dirs })
}

/// Value, gradient and H * directions of a scalar `root` with respect to
/// `params`. `directions` is p x d; `None` means the identity (the full
/// Hessian, d = p).
/// A batch the allocator cannot provide is an error, not an abort.
pub fn second_order(root: &Var, params: &[Var], directions: Option<&Batch>) -> Result<SecondOrder> {
    let caller = if directions.is_some() { "hessian_vector" } else { "hessian" };
    fallible(caller, || second_order_sweeps(caller, root, params, directions))
}

fn second_order_sweeps(caller: &str, root: &Var, params: &[Var], directions: Option<&Batch>) -> Result<SecondOrder> {
    let out = root.value();
    if !out.is_scalar() {
        bail!("{caller}: the function must return a scalar, got {}", out.shape);
    }
    let identity_directions = directions.is_none();
    if let Some((gradient, mut hessian_times)) = scalar_tape(caller, root, params, directions)? {
        if identity_directions {
            symmetrize(&mut hessian_times);
        }
        return Ok(SecondOrder { value: out.data[0], gradient, hessian_times });
    }
    general_second_order(caller, root, params, directions)
}

/// `second_order` by the general sweeps, whatever the nodes' shapes.
pub(crate) fn general_second_order(
    caller: &str,
    root: &Var,
    params: &[Var],
    directions: Option<&Batch>,
) -> Result<SecondOrder> {
    let out = root.value();
    let identity_directions = directions.is_none();
    let Tangents { cell, root: r, offsets, tangents, partials, p, dirs } = tangents(caller, root, params, directions)?;
    let tape = cell.tape();

    // Only nodes that depend on a parameter carry adjoints that matter.
    let mut adj = Adjoints::new(r + 1);
    let mut adj_dot: Vec<Option<Batch>> = vec![None; r + 1];
    adj.add_scalar(r, 1.0);
    for pos in (0..=r).rev() {
        let node = tape.node(pos);
        let Some(rule) = node.rule.as_ref() else { continue };
        if adj.get(pos).is_none() {
            continue;
        }
        let out_adj_dot = adj_dot[pos].take();
        if let Some(d) = partials[pos] {
            let g = adj.get(pos).map_or(0.0, |a| a[0]);
            scalar_second_order(&tape, pos, &d, g, out_adj_dot.as_ref(), &tangents, &mut adj, &mut adj_dot, dirs);
            continue;
        }
        let Some(out_adj) = adj.take(pos) else { continue };
        let input_tangents: Vec<Option<&Batch>> =
            tape.inputs(pos).map(|input| input.node().and_then(|j| tangents[j].as_ref())).collect();
        let needs: Vec<bool> = input_tangents.iter().map(Option::is_some).collect();
        if !needs.iter().any(|&b| b) {
            continue;
        }
        let values = tape.input_values(pos);
        let inputs: Vec<&Tensor> = values.iter().collect();
        let site = Site { inputs: &inputs, output: &node.value };
        let first = rule.vjp(&site, &out_adj, &needs);
        let second = rule.vjp_dot(&site, &input_tangents, &out_adj, out_adj_dot.as_ref(), &needs, dirs);
        for ((input, c1), c2) in tape.inputs(pos).zip(first).zip(second) {
            let Input::Node(i) = input else { continue };
            if let Some(c) = c1 {
                adj.add(i, c);
            }
            if let Some(c) = c2 {
                accumulate(&mut adj_dot[i], c);
            }
        }
    }

    let mut gradient = vec![0.0; p];
    let mut hessian_times = Batch::zeros(p, dirs);
    for (pos, offset) in offsets.iter().enumerate() {
        let Some(offset) = *offset else { continue };
        let n = tape.node(pos).value.numel();
        if let Some(a) = adj.get(pos) {
            gradient[offset..offset + n].copy_from_slice(a);
        }
        if let Some(hd) = &adj_dot[pos] {
            for k in 0..dirs {
                hessian_times.col_mut(k)[offset..offset + n].copy_from_slice(hd.col(k));
            }
        }
    }
    if identity_directions {
        symmetrize(&mut hessian_times);
    }
    Ok(SecondOrder { value: out.data[0], gradient, hessian_times })
}

/// Gradient and H * directions by the sweep for tapes of scalars, when
/// everything `root` depends on is a scalar with scalar partials (a model
/// written as a loop); `None` otherwise.
fn scalar_tape(caller: &str, root: &Var, params: &[Var], directions: Option<&Batch>) -> Result<Option<(Vec<f64>, Batch)>> {
    let (cell, r) = root.resolve();
    let (offsets, p) = parameter_offsets(caller, &cell, r + 1, params)?;
    let eye;
    let directions = match directions {
        Some(d) if d.rows != p => bail!("{caller}: direction has length {} but there are {} parameters", d.rows, p),
        Some(d) => d,
        None => {
            eye = identity(caller, p)?;
            &eye
        }
    };
    let tape = cell.tape();
    Ok(scalar_tape_second_order(&tape, r, &offsets, p, directions))
}

/// The reverse step of forward-over-reverse at a scalar node with
/// partials `d`, output adjoint `g` and its derivative `g_dot`: each input
/// that depends on a parameter receives g * d_i in its adjoint and
///   g_dot * d_i + g * sum_j d_ij t_j
/// in its second-order adjoint (t_j the inputs' tangents), which is what
/// the rules' `vjp` and `vjp_dot` compute, without building arrays.
#[allow(clippy::too_many_arguments)]
fn scalar_second_order(
    tape: &Tape,
    pos: usize,
    d: &Partials,
    g: f64,
    g_dot: Option<&Batch>,
    tangents: &[Option<Batch>],
    adj: &mut Adjoints,
    adj_dot: &mut [Option<Batch>],
    dirs: usize,
) {
    let mut inputs = [None; 2];
    for (k, input) in tape.inputs(pos).enumerate() {
        inputs[k] = input.node().filter(|&j| tangents[j].is_some());
    }
    let first = [d.a, d.b];
    let second = [[d.aa, d.ab], [d.ab, d.bb]];
    for k in 0..2 {
        let Some(i) = inputs[k] else { continue };
        adj.add_scalar(i, g * first[k]);
        let mut dot = adj_dot[i].take().unwrap_or_else(|| Batch::zeros(1, dirs));
        if let Some(gd) = g_dot {
            dot.data.iter_mut().zip(&gd.data).for_each(|(o, x)| *o += first[k] * x);
        }
        for (m, j) in inputs.iter().enumerate() {
            let Some(t) = j.and_then(|j| tangents[j].as_ref()) else { continue };
            let w = g * second[k][m];
            dot.data.iter_mut().zip(&t.data).for_each(|(o, x)| *o += w * x);
        }
        adj_dot[i] = Some(dot);
    }
}

/// The two triangles of a forward-over-reverse Hessian come from different
/// sums and can differ in the last bit; their mean is exactly symmetric,
/// which `isSymmetric()` and Cholesky-based code downstream rely on.
pub(crate) fn symmetrize(h: &mut Batch) {
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
    fallible("jacobian", || jacobian_sweep(root, params))
}

fn jacobian_sweep(root: &Var, params: &[Var]) -> Result<Tensor> {
    let Tangents { mut tangents, p, .. } = tangents("jacobian", root, params, None)?;
    let m = root.value().numel();
    check_batch_size("jacobian", m, p)?;
    let data = tangents.pop().flatten().unwrap_or_else(|| Batch::zeros(m, p)).into_data();
    Tensor::new(Shape::matrix(m, p), data)
}
