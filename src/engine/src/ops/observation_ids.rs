//! `observation_ids(loglik, id)`: the identity on a scalar log-likelihood
//! term, tagged with the ids of the observations it covers.
//!
//! By default every term of a log-likelihood (a kernel, a density sum, the
//! sum of a vector of per-observation terms; see `sweeps/terms.rs`) covers
//! observations of its own, disjoint from the other terms'. A tagged term
//! says instead which observations it covers: its i-th observation is the
//! one with id `ids[i]`, and terms tagged with the same id are parts of one
//! observation (two outcomes of one subject). `nobs()` counts the distinct
//! ids, and the per-observation scores of the tagged terms are added up per
//! id. The values and derivatives pass through unchanged.

use crate::batch::Batch;
use crate::hessian_pattern::{Dependence, Pairs, Set};
use crate::rule::{Partials, Rule, Site};
use crate::sweeps::terms::term_size;
use crate::tape::Var;
use crate::tensor::Tensor;
use crate::{bail, Result};

#[derive(Debug)]
pub struct ObservationIds {
    /// One positive id per observation of the tagged term.
    pub ids: Vec<u32>,
}

impl Rule for ObservationIds {
    /// The identity: each element keeps what it depends on.
    fn dependence(&self, _site: &Site, inputs: &[Option<&[Set]>], _fixed: &[bool], _pairs: &mut Pairs) -> Dependence {
        inputs[0].map(<[Set]>::to_vec)
    }

    fn name(&self) -> &'static str {
        "observation_ids"
    }
    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        if !inputs[0].is_scalar() {
            bail!("observation_ids: loglik must be a scalar log-likelihood, got {}", inputs[0].shape);
        }
        Ok(inputs[0].clone())
    }
    fn vjp(&self, _site: &Site, out_adj: &[f64], needs: &[bool]) -> Vec<Option<Vec<f64>>> {
        vec![needs[0].then(|| out_adj.to_vec())]
    }
    fn jvp(&self, _site: &Site, tangents: &[Option<&Batch>], dirs: usize) -> Option<Batch> {
        let t = tangents[0]?;
        let mut out = Batch::zeros(t.rows, dirs);
        out.data.copy_from_slice(&t.data);
        Some(out)
    }
    fn vjp_dot(
        &self,
        _site: &Site,
        _tangents: &[Option<&Batch>],
        _out_adj: &[f64],
        out_adj_dot: Option<&Batch>,
        needs: &[bool],
        dirs: usize,
    ) -> Vec<Option<Batch>> {
        match out_adj_dot {
            Some(d) if needs[0] => {
                let mut out = Batch::zeros(d.rows, dirs);
                out.data.copy_from_slice(&d.data);
                vec![Some(out)]
            }
            _ => vec![None],
        }
    }
    fn scalar_partials(&self, _inputs: &[f64], _output: f64) -> Option<Partials> {
        Some(Partials { a: 1.0, ..Partials::default() })
    }
    fn scalar_value(&self, inputs: &[f64]) -> Option<f64> {
        Some(inputs[0])
    }
    fn observation_ids(&self) -> Option<&[u32]> {
        Some(&self.ids)
    }
}

/// Tags `loglik`, a term that covers observations (see `term_size`), with
/// one id per observation. Errors name the function and the sizes.
pub fn observation_ids(loglik: &Var, ids: Vec<u32>) -> Result<Var> {
    let (cell, pos) = loglik.resolve();
    let size = {
        let tape = cell.tape();
        if !tape.node(pos).value.is_scalar() {
            bail!("observation_ids: loglik must be a scalar log-likelihood, got {}", tape.node(pos).value.shape);
        }
        term_size(&tape, pos)
    };
    let Some(n) = size else {
        bail!(
            "observation_ids: loglik must be a loglik_* kernel, a sum(d...(log = TRUE)) or the sum() of a vector of \
             per-observation log-likelihoods computed from data"
        );
    };
    if ids.len() != n {
        bail!("observation_ids: id has length {} but loglik covers {}", ids.len(), crate::error::count_of(n, "observation"));
    }
    if let Some(i) = ids.iter().position(|&id| id == 0) {
        bail!("observation_ids: id[{}] = 0; ids are positive whole numbers", i + 1);
    }
    Var::apply(std::rc::Rc::new(ObservationIds { ids }), &[loglik.clone().into()])
}
