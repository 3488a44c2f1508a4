//! Per-observation scores: the gradient of each observation's log-density
//! with respect to the parameters, for sandwich (Huber-White) standard
//! errors.
//!
//! A graph knows only its total; the observations live in the terms of the
//! log-likelihood (see `terms.rs`): kernels (`loglik_*` calls and
//! `sum(d...(log = TRUE))`), which give their per-observation tangents
//! (`Rule::observation_jvp`), and sums of vectors of per-observation terms
//! computed from data, whose rows are the tangents of the vector. Both come
//! from the same forward sweep the Hessian starts from, with the identity
//! as directions: an n x p matrix whose row i is observation i's score.
//! Every term that depends on the parameters must be one of these;
//! constants may be added or subtracted.
//!
//! Rows: by default every term covers observations of its own, so the rows
//! of the terms are stacked in recording order (a censored model: the
//! uncensored kernel's rows, then the censored sum's). Terms tagged by `observation_ids()` cover the
//! observations with their ids: their rows are added up per id (two
//! outcomes of each subject), one row per distinct id, in increasing id
//! order, after the untagged rows. The rows always add up to the gradient.

use std::collections::BTreeMap;

use crate::batch::Batch;
use crate::rule::Site;
use crate::second_order::{tangents, Tangents};
use crate::tape::Var;
use crate::tensor::{Shape, Tensor};
use crate::terms::{elements_input, terms, Kind};
use crate::{bail, Result};

const CALLER: &str = "observation_scores";

/// The n x p matrix (column-major) of per-observation scores of the scalar
/// `root` with respect to `params` (see the module's notes for its rows):
/// they add up to the gradient of `root`. Errors unless every term of
/// `root` that depends on the parameters has per-observation scores.
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
    let found = terms(&tape, r, |pos| tangents[pos].is_some());
    if found.is_empty() {
        bail!("{CALLER}: no log-likelihood kernel depends on the parameters");
    }
    // untagged terms' rows, stacked; tagged terms' rows by id
    let mut stacked: Vec<Batch> = Vec::new();
    let mut by_id: BTreeMap<u32, Vec<f64>> = BTreeMap::new();
    for term in &found {
        let node = tape.node(term.pos);
        let Some(rule) = node.rule.as_ref() else {
            bail!("{CALLER}: a parameter is added to the log-likelihood directly");
        };
        let own = match term.kind {
            Kind::Kernel => {
                let values = tape.input_values(term.pos);
                let inputs: Vec<&Tensor> = values.iter().collect();
                let input_tangents: Vec<Option<&Batch>> =
                    tape.inputs(term.pos).map(|input| input.node().and_then(|j| tangents[j].as_ref())).collect();
                let site = Site { inputs: &inputs, output: &node.value };
                rule.observation_jvp(&site, &input_tangents, dirs)
            }
            Kind::Elements => elements_input(&tape, term.pos).and_then(|(v, _)| tangents[v].clone()),
            Kind::Other => None,
        };
        let Some(mut own) = own else {
            bail!(
                "{CALLER}: the kernels' sum passes through '{}' on its way to the log-likelihood; \
                 scores need a plain sum of kernels (constants may be added or subtracted)",
                rule.name()
            );
        };
        if term.times != 1.0 {
            own.data.iter_mut().for_each(|s| *s *= term.times);
        }
        match &term.ids {
            None => stacked.push(own),
            Some(ids) => {
                for (i, &id) in ids.iter().enumerate() {
                    let row = by_id.entry(id).or_insert_with(|| vec![0.0; p]);
                    row.iter_mut().enumerate().for_each(|(k, s)| *s += own.data[i + k * own.rows]);
                }
            }
        }
    }
    let n = stacked.iter().map(|b| b.rows).sum::<usize>() + by_id.len();
    let mut data = Vec::new();
    if data.try_reserve_exact(n * p).is_err() {
        bail!("{CALLER}: cannot allocate the {n} x {p} matrix of scores");
    }
    for k in 0..p {
        for b in &stacked {
            data.extend_from_slice(b.col(k));
        }
        data.extend(by_id.values().map(|row| row[k]));
    }
    Tensor::new(Shape::matrix(n, p), data)
}
