//! Per-observation scores: the gradient of each observation's log-density
//! with respect to the parameters, for sandwich (Huber-White) standard
//! errors.
//!
//! A graph knows only its total; the observations live inside the
//! log-likelihood kernels. So the log-likelihood must be a sum of kernel
//! nodes: from the root down, every node that depends on the parameters
//! must be a `+`, a `-` of a constant, or a `sum` of a single number
//! (which is how R's `sum(a, b)` arrives) until a kernel is reached. Each kernel then gives
//! its per-observation tangents (`Rule::observation_jvp`) from the same
//! forward sweep the Hessian starts from, with the identity as directions:
//! an n x p matrix whose row i is observation i's score. Kernels over the
//! same observations add up (a joint likelihood of several parts of one
//! observation); kernels over different numbers of observations have no
//! common rows and are an error.

use crate::batch::Batch;
use crate::tape::{Input, Tape, Var};
use crate::rule::Site;
use crate::second_order::{tangents, Tangents};
use crate::tensor::{Shape, Tensor};
use crate::{bail, Result};

const CALLER: &str = "observation_scores";

/// Nodes the scores pass through unchanged: `a + b`, `a - c` with `c` not
/// depending on the parameters, and `sum(x)` of a single number.
fn passes_sum(tape: &Tape, pos: usize, depends: impl Fn(Input) -> bool) -> bool {
    let inputs: Vec<Input> = tape.inputs(pos).collect();
    match tape.node(pos).rule.as_ref().map(|r| r.name()) {
        Some("+") => true,
        Some("-") => inputs.len() == 2 && !depends(inputs[1]),
        Some("sum") => tape.input_value(inputs[0]).numel() == 1,
        _ => false,
    }
}

/// The n x p matrix (column-major) of per-observation scores of the scalar
/// `root` with respect to `params`: row i is the gradient of observation
/// i's log-density, summed over the kernels, and the rows add up to the
/// gradient of `root`. Errors unless `root` is a sum of log-likelihood
/// kernels over the same observations (parts that do not depend on the
/// parameters may be added too).
pub fn observation_scores(root: &Var, params: &[Var]) -> Result<Tensor> {
    crate::batch::fallible(CALLER, || scores_sweep(root, params))
}

fn scores_sweep(root: &Var, params: &[Var]) -> Result<Tensor> {
    let out = root.value();
    if !out.is_scalar() {
        bail!("{CALLER}: the log-likelihood must be a scalar, got {}", out.shape);
    }
    let Tangents { cell, root: r, tangents, p, dirs, .. } = tangents(CALLER, root, params, None)?;
    let tape = cell.tape();
    let depends = |input: Input| input.node().is_some_and(|j| tangents[j].is_some());

    // How many times each node enters the sum: a node used twice (ll + ll)
    // counts twice. Visited from the root down, so a node's count is
    // complete before it passes it on.
    let mut times = vec![0.0; r + 1];
    times[r] = 1.0;
    let mut scores: Option<(Batch, &'static str)> = None;
    for pos in (0..=r).rev() {
        if times[pos] == 0.0 || tangents[pos].is_none() {
            continue; // not in the sum, or does not depend on the parameters
        }
        let node = tape.node(pos);
        let Some(rule) = node.rule.as_ref() else {
            bail!("{CALLER}: a parameter is added to the log-likelihood directly");
        };
        if passes_sum(&tape, pos, depends) {
            for input in tape.inputs(pos) {
                if let Input::Node(j) = input {
                    times[j] += times[pos];
                }
            }
            continue;
        }
        let values = tape.input_values(pos);
        let inputs: Vec<&Tensor> = values.iter().collect();
        let input_tangents: Vec<Option<&Batch>> =
            tape.inputs(pos).map(|input| input.node().and_then(|j| tangents[j].as_ref())).collect();
        let site = Site { inputs: &inputs, output: &node.value };
        let Some(mut own) = rule.observation_jvp(&site, &input_tangents, dirs) else {
            bail!(
                "{CALLER}: the kernels' sum passes through '{}' on its way to the log-likelihood; \
                 scores need a plain sum of kernels (constants may be added or subtracted)",
                rule.name()
            );
        };
        if times[pos] != 1.0 {
            own.data.iter_mut().for_each(|s| *s *= times[pos]);
        }
        match &mut scores {
            None => scores = Some((own, rule.name())),
            Some((total, first)) => {
                if total.rows != own.rows {
                    bail!(
                        "{CALLER}: the kernels see different numbers of observations ({first}: {}, {}: {})",
                        total.rows,
                        rule.name(),
                        own.rows
                    );
                }
                total.add_assign(&own);
            }
        }
    }
    let Some((scores, _)) = scores else { bail!("{CALLER}: no log-likelihood kernel depends on the parameters") };
    Tensor::new(Shape::matrix(scores.rows, p), scores.into_data())
}
