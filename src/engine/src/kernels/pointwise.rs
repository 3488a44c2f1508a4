//! The log-densities of a `Density`, one per observation, as one node.
//!
//! `Fused` is the sum of the log-densities; this is the vector itself, for
//! the models that do something with each observation's log-density before
//! adding up (a mixture's log(w f1 + (1 - w) f2), a zero-inflated count's
//! two cases, observation weights, a censored subset). Written in R, each
//! log-density is a handful of elementwise operations; here it is one pass
//! with the density's own first and second partials, so the value, the
//! gradient and the Hessian each cost one sweep over the observations.
//!
//! Output i is log f(x_i; theta_i), where theta_i takes each parameter's
//! element i (or its only element, when the parameter is shared). With
//! g_ia and H_iab the partials of output i:
//!   vjp:     thetabar_a[i] += ybar_i g_ia
//!   jvp:     ydot_i = sum_a g_ia thetadot_a[i]
//!   vjp_dot: thetabar_dot_a[i] += ybar_i sum_b H_iab thetadot_b[i] + g_ia ybar_dot_i
//! (the index [i] of a shared parameter being its only element).

use std::rc::Rc;

use crate::batch::Batch;
use crate::rule::{Rule, Site};
use crate::tensor::{Data, Shape, Tensor};
use crate::Result;

use super::{layout_of, per_observation, position, theta_at, Density, Fused};

#[derive(Debug)]
pub struct Pointwise<D, const K: usize> {
    density: Rc<D>,
}

impl<D: Density<K>, const K: usize> Pointwise<D, K> {
    pub fn new(density: D) -> Self {
        Pointwise { density: Rc::new(density) }
    }
}

impl<D: Density<K> + 'static, const K: usize> Rule for Pointwise<D, K> {
    fn name(&self) -> &'static str {
        D::NAME
    }

    fn sum_kernel(&self) -> Option<Rc<dyn Rule>> {
        Some(Rc::new(Fused { counted: false, ..Fused::sharing(Rc::clone(&self.density)) }))
    }

    /// The shapes are checked now; the log-densities are computed when
    /// first read. Most are never read: `sum()` of them records the
    /// density's kernel instead (see R's density_node()), and a pass over
    /// every observation at each recording would cost as much as the
    /// kernel's whole fit.
    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let per_obs = layout_of(&*self.density, inputs)?;
        let n = self.density.observations();
        let density = Rc::clone(&self.density);
        let inputs: Vec<Tensor> = inputs.iter().map(|&t| t.clone()).collect();
        let log_densities = move || {
            let inputs: Vec<&Tensor> = inputs.iter().collect();
            (0..n).map(|i| density.log_density(i, theta_at(&inputs, &per_obs, i))).collect::<Vec<f64>>()
        };
        let data = if n == 1 { log_densities().into() } else { Data::deferred(n, log_densities) };
        Tensor::new(Shape::vector(n), data)
    }

    fn vjp(&self, site: &Site, out_adj: &[f64], needs: &[bool]) -> Vec<Option<Vec<f64>>> {
        let per_obs = per_observation::<K>(site.inputs);
        let mut bars: Vec<Option<Vec<f64>>> =
            (0..K).map(|a| needs[a].then(|| vec![0.0; site.inputs[a].numel()])).collect();
        if bars.iter().all(Option::is_none) {
            return bars;
        }
        for (i, &ybar) in out_adj.iter().enumerate() {
            // An observation the output's user does not read adds nothing,
            // even where its partials are not finite.
            if ybar == 0.0 {
                continue;
            }
            let p = self.density.partials(i, theta_at(site.inputs, &per_obs, i), false);
            for (a, bar) in bars.iter_mut().enumerate() {
                if let Some(bar) = bar {
                    bar[position(per_obs[a], i)] += ybar * p.grad[a];
                }
            }
        }
        bars
    }

    fn jvp(&self, site: &Site, tangents: &[Option<&Batch>], dirs: usize) -> Option<Batch> {
        if tangents.iter().all(Option::is_none) {
            return None;
        }
        let per_obs = per_observation::<K>(site.inputs);
        let n = self.density.observations();
        let mut out = Batch::zeros(n, dirs);
        for i in 0..n {
            let p = self.density.partials(i, theta_at(site.inputs, &per_obs, i), false);
            for (a, t) in tangents.iter().enumerate() {
                let Some(t) = t else { continue };
                let at = position(per_obs[a], i);
                for k in 0..dirs {
                    out.col_mut(k)[i] += p.grad[a] * t.col(k)[at];
                }
            }
        }
        Some(out)
    }

    fn vjp_dot(
        &self,
        site: &Site,
        tangents: &[Option<&Batch>],
        out_adj: &[f64],
        out_adj_dot: Option<&Batch>,
        needs: &[bool],
        dirs: usize,
    ) -> Vec<Option<Batch>> {
        let per_obs = per_observation::<K>(site.inputs);
        let mut outs: Vec<Option<Batch>> =
            (0..K).map(|a| needs[a].then(|| Batch::zeros(site.inputs[a].numel(), dirs))).collect();
        if outs.iter().all(Option::is_none) {
            return outs;
        }
        for (i, &ybar) in out_adj.iter().enumerate() {
            let reads_dot = out_adj_dot.is_some_and(|yd| (0..dirs).any(|k| yd.col(k)[i] != 0.0));
            if ybar == 0.0 && !reads_dot {
                continue;
            }
            let p = self.density.partials(i, theta_at(site.inputs, &per_obs, i), true);
            for (a, out) in outs.iter_mut().enumerate() {
                let Some(out) = out else { continue };
                let at = position(per_obs[a], i);
                for k in 0..dirs {
                    let mut v = 0.0;
                    // Terms whose tangent is absent are skipped, not
                    // multiplied by zero: a partial may be NaN or infinite.
                    if ybar != 0.0 {
                        for (b, t) in tangents.iter().enumerate() {
                            if let Some(t) = t {
                                v += ybar * p.hess[a][b] * t.col(k)[position(per_obs[b], i)];
                            }
                        }
                    }
                    if let Some(yd) = out_adj_dot {
                        let w = yd.col(k)[i];
                        if w != 0.0 {
                            v += p.grad[a] * w;
                        }
                    }
                    out.col_mut(k)[at] += v;
                }
            }
        }
        outs
    }
}
