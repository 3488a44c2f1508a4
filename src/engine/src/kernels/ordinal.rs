//! The ordinal logistic (cumulative logit, proportional odds) model of
//! `MASS::polr` as one node: for y_i in categories 1..K,
//!   P(y_i <= k) = F(zeta_k - eta_i),  F the logistic distribution function,
//! with cut points zeta_1 < ... < zeta_{K-1} (zeta_0 = -Inf, zeta_K = Inf),
//! and the log-likelihood sum_i w_i log(F(a_i) - F(b_i)), a_i = zeta_{y_i} - eta_i,
//! b_i = zeta_{y_i - 1} - eta_i.
//!
//! Its inputs are the linear predictor eta (one value per observation, or
//! one shared) and the K - 1 cut points, which every observation shares but
//! each uses only two of; so it is a rule of its own rather than a
//! `Density`. Observation i depends on three numbers, (eta_i, zeta_{y_i},
//! zeta_{y_i - 1}) (fewer in the end categories), and every sweep works on
//! that local gradient and Hessian, scattered to the inputs.

use super::regression::sigmoids;
use crate::batch::Batch;
use crate::ops::unary::softplus;
use crate::rule::{Rule, Site};
use crate::tensor::Tensor;
use crate::{bail, Result};

const NAME: &str = "loglik_polr";

#[derive(Debug)]
pub struct OrdinalLogit {
    /// Categories, 1..=levels.
    y: Vec<usize>,
    levels: usize,
    weights: Option<Vec<f64>>,
}

/// Where one of an observation's three local numbers lives in the inputs.
#[derive(Clone, Copy)]
enum Slot {
    Eta(usize),
    Zeta(usize),
}

/// One observation's local variables (eta_i, upper cut point, lower cut
/// point; `None` for an end category's missing one), its weighted gradient
/// and Hessian in them.
struct Local {
    slots: [Option<Slot>; 3],
    grad: [f64; 3],
    hess: [[f64; 3]; 3],
}

impl OrdinalLogit {
    /// `y` holds categories 1..=levels (whole numbers), `levels` >= 2.
    pub fn new(y: &[f64], levels: usize, weights: Option<Vec<f64>>) -> Result<Self> {
        if levels < 2 {
            bail!("{NAME}: an ordinal response needs at least 2 categories, got {levels}");
        }
        let mut cats = Vec::with_capacity(y.len());
        for (i, &v) in y.iter().enumerate() {
            if !(v >= 1.0 && v <= levels as f64 && v == v.trunc()) {
                bail!("{NAME}: y[{}] = {} is not a category from 1 to {levels}", i + 1, crate::error::show_number(v));
            }
            cats.push(v as usize);
        }
        if let Some(w) = &weights {
            if w.len() != cats.len() {
                bail!("{NAME}: weights has length {} but y has length {}", w.len(), cats.len());
            }
            if let Some(i) = w.iter().position(|&v| !(v.is_finite() && v >= 0.0)) {
                bail!("{NAME}: weights[{}] = {} is not a non-negative number", i + 1, crate::error::show_number(w[i]));
            }
        }
        Ok(OrdinalLogit { y: cats, levels, weights })
    }

    fn weight(&self, i: usize) -> f64 {
        self.weights.as_ref().map_or(1.0, |w| w[i])
    }

    fn check(&self, inputs: &[&Tensor]) -> Result<()> {
        if inputs.len() != 2 {
            bail!("{NAME}: needs 2 inputs (eta, zeta), got {}", inputs.len());
        }
        let (n, eta) = (self.y.len(), inputs[0].numel());
        if eta != 1 && eta != n {
            bail!("{NAME}: eta has length {eta} but y has length {n}");
        }
        if inputs[1].numel() != self.levels - 1 {
            bail!("{NAME}: zeta has length {} but y has {} categories (needs {})",
                  inputs[1].numel(), self.levels, crate::error::count_of(self.levels - 1, "cut point"));
        }
        Ok(())
    }

    /// The cut points around observation i's category: (upper, lower),
    /// with their positions in zeta.
    fn cuts(&self, i: usize, zeta: &[f64]) -> (Option<(usize, f64)>, Option<(usize, f64)>) {
        let c = self.y[i];
        let upper = (c < self.levels).then(|| (c - 1, zeta[c - 1]));
        let lower = (c > 1).then(|| (c - 2, zeta[c - 2]));
        (upper, lower)
    }

    fn log_prob(&self, i: usize, inputs: &[&Tensor]) -> f64 {
        let eta = inputs[0].data[if inputs[0].numel() == 1 { 0 } else { i }];
        let (upper, lower) = self.cuts(i, &inputs[1].data);
        log_interval(upper.map(|(_, z)| z - eta), lower.map(|(_, z)| z - eta))
    }

    fn local(&self, i: usize, inputs: &[&Tensor]) -> Local {
        let shared = inputs[0].numel() == 1;
        let eta = inputs[0].data[if shared { 0 } else { i }];
        let (upper, lower) = self.cuts(i, &inputs[1].data);
        let a = upper.map(|(_, z)| z - eta);
        let b = lower.map(|(_, z)| z - eta);
        let p = log_interval(a, b).exp();
        // d log P / da = f(a) / P, d log P / db = -f(b) / P, and their
        // derivatives, with f = F (1 - F) and f' = f (1 - 2F).
        let (fa, dfa) = a.map_or((0.0, 0.0), density_and_slope);
        let (fb, dfb) = b.map_or((0.0, 0.0), density_and_slope);
        let (ga, gb) = (fa / p, -fb / p);
        let (haa, hbb, hab) = (dfa / p - ga * ga, -dfb / p - gb * gb, -ga * gb);
        // Local variables (eta, zeta_upper, zeta_lower): a = zeta_upper - eta,
        // b = zeta_lower - eta.
        let w = self.weight(i);
        let grad = [-(ga + gb) * w, ga * w, gb * w];
        let hess = [
            [(haa + 2.0 * hab + hbb) * w, -(haa + hab) * w, -(hab + hbb) * w],
            [-(haa + hab) * w, haa * w, hab * w],
            [-(hab + hbb) * w, hab * w, hbb * w],
        ];
        let slots = [
            Some(Slot::Eta(if shared { 0 } else { i })),
            upper.map(|(j, _)| Slot::Zeta(j)),
            lower.map(|(j, _)| Slot::Zeta(j)),
        ];
        Local { slots, grad, hess }
    }
}

/// f(x) = F(x) F(-x) and f'(x) = f(x) (F(-x) - F(x)), F the logistic
/// distribution function.
fn density_and_slope(x: f64) -> (f64, f64) {
    let (p, q) = sigmoids(x);
    let f = p * q;
    (f, f * (q - p))
}

/// log(F(a) - F(b)) for b < a (`None`: b = -Inf, a = +Inf), computed in
/// the tail where it is small: from the upper tail when b > 0, where
/// F(a) - F(b) = F(-b) - F(-a). -Inf when b >= a (cut points out of order).
fn log_interval(a: Option<f64>, b: Option<f64>) -> f64 {
    let log_f = |x: f64| -softplus(-x); // log F(x)
    let log_s = |x: f64| -softplus(x); // log F(-x)
    match (a, b) {
        (None, None) => 0.0,
        (Some(a), None) => log_f(a),
        (None, Some(b)) => log_s(b),
        (Some(a), Some(b)) => {
            if b >= a {
                return f64::NEG_INFINITY;
            }
            if b > 0.0 {
                let (hi, lo) = (log_s(b), log_s(a));
                hi + log1mexp(hi - lo)
            } else {
                let (hi, lo) = (log_f(a), log_f(b));
                hi + log1mexp(hi - lo)
            }
        }
    }
}

/// log(1 - exp(-d)) for d > 0, accurate for small and large d.
fn log1mexp(d: f64) -> f64 {
    if d < std::f64::consts::LN_2 {
        (-(-d).exp_m1()).ln()
    } else {
        (-(-d).exp()).ln_1p()
    }
}

/// The local tangent of one direction: the tangents of the three local
/// numbers (0 where absent or not a variable).
fn local_tangent(slots: &[Option<Slot>; 3], tangents: &[Option<&Batch>], k: usize) -> [f64; 3] {
    std::array::from_fn(|s| match slots[s] {
        Some(Slot::Eta(j)) => tangents[0].map_or(0.0, |t| t.col(k)[j]),
        Some(Slot::Zeta(j)) => tangents[1].map_or(0.0, |t| t.col(k)[j]),
        None => 0.0,
    })
}

impl Rule for OrdinalLogit {
    fn name(&self) -> &'static str {
        NAME
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        self.check(inputs)?;
        let total = (0..self.y.len())
            .map(|i| {
                let w = self.weight(i);
                if w == 0.0 {
                    0.0
                } else {
                    w * self.log_prob(i, inputs)
                }
            })
            .sum();
        Ok(Tensor::scalar(total))
    }

    fn vjp(&self, site: &Site, out_adj: &[f64], needs: &[bool]) -> Vec<Option<Vec<f64>>> {
        let mut bars: Vec<Option<Vec<f64>>> =
            (0..2).map(|a| needs[a].then(|| vec![0.0; site.inputs[a].numel()])).collect();
        let ybar = out_adj[0];
        for i in (0..self.y.len()).filter(|&i| self.weight(i) != 0.0) {
            let local = self.local(i, site.inputs);
            for (slot, g) in local.slots.iter().zip(local.grad) {
                scatter(&mut bars, *slot, ybar * g);
            }
        }
        bars
    }

    fn jvp(&self, site: &Site, tangents: &[Option<&Batch>], dirs: usize) -> Option<Batch> {
        if tangents.iter().all(Option::is_none) {
            return None;
        }
        let mut out = Batch::zeros(1, dirs);
        for i in (0..self.y.len()).filter(|&i| self.weight(i) != 0.0) {
            let local = self.local(i, site.inputs);
            for k in 0..dirs {
                let t = local_tangent(&local.slots, tangents, k);
                out.data[k] += (0..3).map(|s| local.grad[s] * t[s]).sum::<f64>();
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
        let mut outs: Vec<Option<Batch>> =
            (0..2).map(|a| needs[a].then(|| Batch::zeros(site.inputs[a].numel(), dirs))).collect();
        let ybar = out_adj[0];
        for i in (0..self.y.len()).filter(|&i| self.weight(i) != 0.0) {
            let local = self.local(i, site.inputs);
            for k in 0..dirs {
                let t = local_tangent(&local.slots, tangents, k);
                let yd = out_adj_dot.map_or(0.0, |b| b.data[k]);
                for s in 0..3 {
                    let curvature: f64 = (0..3).map(|r| local.hess[s][r] * t[r]).sum();
                    let v = ybar * curvature + local.grad[s] * yd;
                    match local.slots[s] {
                        Some(Slot::Eta(j)) => add_col(&mut outs[0], j, k, v),
                        Some(Slot::Zeta(j)) => add_col(&mut outs[1], j, k, v),
                        None => {}
                    }
                }
            }
        }
        outs
    }

    fn observations(&self) -> Option<usize> {
        Some(self.y.len())
    }

    fn observation_jvp(&self, site: &Site, tangents: &[Option<&Batch>], dirs: usize) -> Option<Batch> {
        let n = self.y.len();
        let mut out = Batch::zeros(n, dirs);
        for i in (0..n).filter(|&i| self.weight(i) != 0.0) {
            let local = self.local(i, site.inputs);
            for k in 0..dirs {
                let t = local_tangent(&local.slots, tangents, k);
                out.col_mut(k)[i] = (0..3).map(|s| local.grad[s] * t[s]).sum();
            }
        }
        Some(out)
    }
}

fn scatter(bars: &mut [Option<Vec<f64>>], slot: Option<Slot>, v: f64) {
    match slot {
        Some(Slot::Eta(j)) => {
            if let Some(bar) = &mut bars[0] {
                bar[j] += v;
            }
        }
        Some(Slot::Zeta(j)) => {
            if let Some(bar) = &mut bars[1] {
                bar[j] += v;
            }
        }
        None => {}
    }
}

fn add_col(out: &mut Option<Batch>, j: usize, k: usize, v: f64) {
    if let Some(out) = out {
        out.col_mut(k)[j] += v;
    }
}
