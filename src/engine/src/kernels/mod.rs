//! Fused log-likelihood kernels: sum_i log f(x_i; theta_i) as one graph node.
//!
//! Spelled out with elementwise operations, a log-likelihood records a
//! handful of n-vector nodes (differences, quotients, squares, logs, the sum),
//! each holding values, tangents and second-order adjoints for all n
//! observations. A kernel holds the data itself and visits each observation
//! once per sweep, with no storage per observation beyond the data and
//! constants derived from them once; and its values use the
//! careful formulas R's d<dist>(log = TRUE) uses (see `saddle`), which a
//! composition of elementwise operations would not.
//!
//! A distribution states only its per-observation log-density and the first
//! and second partial derivatives with respect to its K parameters
//! (`Density`). `Fused` turns that into a `Rule`, with g_i and H_i those
//! partials at observation i:
//!   value:    y               = sum_i l_i
//!   vjp:      thetabar_a     += ybar g_ia                 (summed over i when theta_a is a scalar)
//!   jvp:      ydot            = sum_i sum_a g_ia thetadot_a
//!   vjp_dot:  thetabar_dot_a += g_ia ybar_dot + ybar sum_b H_iab thetadot_b
//! and, per observation rather than summed (the scores, for sandwich
//! standard errors),
//!   observation_jvp: ldot_i   = sum_a g_ia thetadot_a
//!
//! A kernel may carry non-negative observation weights w_i (the bootstrap
//! resamples observations by giving them multinomial counts as weights):
//! then l_i, g_i and H_i above are w_i times the unweighted ones, so the
//! value, gradient, Hessian and scores are those of sum_i w_i l_i. An
//! observation of weight 0 is skipped altogether: it contributes exactly
//! nothing, even where its log-density is -Inf or its partials NaN.

pub mod continuous;
pub mod discrete;
pub mod regression;
pub mod saddle;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod weights_and_scores_tests;

use std::fmt::Debug;

use crate::batch::Batch;
use crate::node::Var;
use crate::rule::{Rule, Site};
use crate::tensor::Tensor;
use crate::{bail, Result};

/// First and second partial derivatives of one observation's log-density
/// with respect to the K parameters. `hess` must be symmetric: the Hessian's
/// symmetry is then exact, whatever order the sweeps add things up in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Partials<const K: usize> {
    pub grad: [f64; K],
    pub hess: [[f64; K]; K],
}

impl Partials<1> {
    pub fn one(g: f64, h: f64) -> Self {
        Partials { grad: [g], hess: [[h]] }
    }
}

impl Partials<2> {
    pub fn two(g: [f64; 2], h11: f64, h12: f64, h22: f64) -> Self {
        Partials { grad: g, hess: [[h11, h12], [h12, h22]] }
    }
}

impl<const K: usize> Partials<K> {
    fn zero() -> Self {
        Partials { grad: [0.0; K], hess: [[0.0; K]; K] }
    }

    fn scaled(mut self, w: f64) -> Self {
        self.grad.iter_mut().for_each(|g| *g *= w);
        self.hess.iter_mut().flatten().for_each(|h| *h *= w);
        self
    }
}

/// The per-observation log-density of a distribution with K parameters.
/// The data (and constants derived from them) live in the implementing
/// struct; the parameters arrive as their values at observation i.
pub trait Density<const K: usize>: Debug + 'static {
    /// The R-level function name, which starts every error message.
    const NAME: &'static str;
    /// Parameter names, as the R function calls its arguments.
    const PARAMS: [&'static str; K];
    /// What the error messages call the data.
    const DATA: &'static str = "x";

    /// Number of observations n.
    fn observations(&self) -> usize;

    /// log f(x_i; theta); -Inf when theta is outside the parameter space.
    fn log_density(&self, i: usize, theta: [f64; K]) -> f64;

    /// First partials, and second partials when `hessian` is true (the
    /// reverse sweep alone needs no Hessian, and for some distributions it
    /// costs a trigamma per observation). Outside the parameter space the
    /// values may be NaN or infinite, but computing them must not panic.
    fn partials(&self, i: usize, theta: [f64; K], hessian: bool) -> Partials<K>;
}

/// A `Rule` from a `Density`: inputs are the K parameter nodes, each a scalar
/// (shared by all observations) or one value per observation; the output is
/// the scalar log-likelihood.
#[derive(Debug)]
pub struct Fused<D, const K: usize> {
    density: D,
    /// One non-negative weight per observation; `None` is all ones.
    weights: Option<Vec<f64>>,
}

impl<D: Density<K>, const K: usize> Fused<D, K> {
    pub fn new(density: D) -> Self {
        Fused { density, weights: None }
    }

    /// The same kernel with observation weights (`None`: unweighted), which
    /// must be finite, non-negative and one per observation.
    pub fn with_weights(self, weights: Option<Vec<f64>>) -> Result<Self> {
        if let Some(w) = &weights {
            let n = self.density.observations();
            if w.len() != n {
                bail!("{}: weights has length {} but {} has length {n}", D::NAME, w.len(), D::DATA);
            }
            if let Some(i) = w.iter().position(|&v| !(v.is_finite() && v >= 0.0)) {
                bail!("{}: weights[{}] = {} is not a non-negative number", D::NAME, i + 1, show(w[i]));
            }
        }
        Ok(Fused { weights, ..self })
    }

    pub fn density(&self) -> &D {
        &self.density
    }

    pub fn weights(&self) -> Option<&[f64]> {
        self.weights.as_deref()
    }

    /// Weight of observation i (1 when unweighted).
    #[inline]
    fn weight(&self, i: usize) -> f64 {
        self.weights.as_ref().map_or(1.0, |w| w[i])
    }

    /// The partials of observation i, times its weight; zero, without
    /// evaluating them, when the weight is zero.
    #[inline]
    fn partials(&self, i: usize, theta: [f64; K], hessian: bool) -> Partials<K> {
        let w = self.weight(i);
        if w == 1.0 {
            self.density.partials(i, theta, hessian)
        } else if w == 0.0 {
            Partials::zero()
        } else {
            self.density.partials(i, theta, hessian).scaled(w)
        }
    }

    /// Checks the parameters' lengths; true where a parameter has one value
    /// per observation rather than one shared value.
    fn layout(&self, inputs: &[&Tensor]) -> Result<[bool; K]> {
        if inputs.len() != K {
            bail!("{}: needs {} ({}), got {}", D::NAME, count(K), D::PARAMS.join(", "), inputs.len());
        }
        let n = self.density.observations();
        let mut per_obs = [false; K];
        for (a, input) in inputs.iter().enumerate() {
            let len = input.numel();
            if len != 1 && len != n {
                bail!("{}: {} has length {} but {} has length {}", D::NAME, D::PARAMS[a], len, D::DATA, n);
            }
            per_obs[a] = len != 1;
        }
        Ok(per_obs)
    }
}

/// Observations per block in the forward-mode and second-order sweeps: the
/// partials of a block are computed once and then used for every
/// direction, column by column, so that the n x dirs tangents and adjoints
/// are read and written in order (one observation at a time across all
/// directions would stride through memory), while the buffer stays small.
const BLOCK: usize = 512;

impl<D: Density<K>, const K: usize> Fused<D, K> {
    /// The partials of observations start.. (at most BLOCK of them) into `block`.
    fn fill(&self, block: &mut Vec<Partials<K>>, inputs: &[&Tensor], per_obs: &[bool; K], start: usize, hessian: bool) {
        let end = (start + BLOCK).min(self.density.observations());
        block.clear();
        block.extend((start..end).map(|i| self.partials(i, theta_at(inputs, per_obs, i), hessian)));
    }
}

/// Shapes were checked when the node was recorded; the sweeps only need to
/// know which parameters are per observation.
fn per_observation<const K: usize>(inputs: &[&Tensor]) -> [bool; K] {
    std::array::from_fn(|a| inputs[a].numel() != 1)
}

#[inline]
fn position(per_obs: bool, i: usize) -> usize {
    if per_obs {
        i
    } else {
        0
    }
}

#[inline]
fn theta_at<const K: usize>(inputs: &[&Tensor], per_obs: &[bool; K], i: usize) -> [f64; K] {
    std::array::from_fn(|a| inputs[a].data[position(per_obs[a], i)])
}

fn count(k: usize) -> String {
    if k == 1 {
        "1 parameter".to_string()
    } else {
        format!("{k} parameters")
    }
}

impl<D: Density<K>, const K: usize> Rule for Fused<D, K> {
    fn name(&self) -> &'static str {
        D::NAME
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let per_obs = self.layout(inputs)?;
        let mut total = Compensated::default();
        for i in 0..self.density.observations() {
            let w = self.weight(i);
            if w != 0.0 {
                let l = self.density.log_density(i, theta_at(inputs, &per_obs, i));
                total.add(if w == 1.0 { l } else { w * l });
            }
        }
        Ok(Tensor::scalar(total.sum()))
    }

    fn vjp(&self, site: &Site, out_adj: &[f64], needs: &[bool]) -> Vec<Option<Vec<f64>>> {
        let per_obs = per_observation::<K>(site.inputs);
        let ybar = out_adj[0];
        let mut bars: Vec<Option<Vec<f64>>> =
            (0..K).map(|a| needs[a].then(|| vec![0.0; site.inputs[a].numel()])).collect();
        if bars.iter().all(Option::is_none) {
            return bars;
        }
        for i in 0..self.density.observations() {
            let g = self.partials(i, theta_at(site.inputs, &per_obs, i), false).grad;
            for (a, bar) in bars.iter_mut().enumerate() {
                if let Some(bar) = bar {
                    bar[position(per_obs[a], i)] += ybar * g[a];
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
        let mut out = Batch::zeros(1, dirs);
        let mut block = Vec::with_capacity(BLOCK.min(self.density.observations()));
        for start in (0..self.density.observations()).step_by(BLOCK) {
            self.fill(&mut block, site.inputs, &per_obs, start, false);
            for (a, t) in tangents.iter().enumerate() {
                let Some(t) = t else { continue };
                for (k, o) in out.data.iter_mut().enumerate() {
                    let t = t.col(k);
                    *o += block
                        .iter()
                        .enumerate()
                        .map(|(j, p)| p.grad[a] * t[position(per_obs[a], start + j)])
                        .sum::<f64>();
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
        let ybar = out_adj[0];
        let mut outs: Vec<Option<Batch>> =
            (0..K).map(|a| needs[a].then(|| Batch::zeros(site.inputs[a].numel(), dirs))).collect();
        if outs.iter().all(Option::is_none) {
            return outs;
        }
        let mut block = Vec::with_capacity(BLOCK.min(self.density.observations()));
        for start in (0..self.density.observations()).step_by(BLOCK) {
            self.fill(&mut block, site.inputs, &per_obs, start, true);
            for (a, out) in outs.iter_mut().enumerate() {
                let Some(out) = out else { continue };
                for k in 0..dirs {
                    let ybar_dot = out_adj_dot.map(|yd| yd.data[k]);
                    let t_cols: [Option<&[f64]>; K] = std::array::from_fn(|b| tangents[b].map(|t| t.col(k)));
                    let col = out.col_mut(k);
                    for (j, p) in block.iter().enumerate() {
                        let i = start + j;
                        // Terms whose tangent is absent are skipped, not
                        // multiplied by zero: a partial may be NaN or
                        // infinite where the density is singular.
                        let mut curvature = 0.0;
                        for (b, t) in t_cols.iter().enumerate() {
                            if let Some(t) = t {
                                curvature += p.hess[a][b] * t[position(per_obs[b], i)];
                            }
                        }
                        let mut v = ybar * curvature;
                        if let Some(w) = ybar_dot {
                            v += p.grad[a] * w;
                        }
                        col[position(per_obs[a], i)] += v;
                    }
                }
            }
        }
        outs
    }

    fn observations(&self) -> Option<usize> {
        Some(self.density.observations())
    }

    fn observation_jvp(&self, site: &Site, tangents: &[Option<&Batch>], dirs: usize) -> Option<Batch> {
        let n = self.density.observations();
        let per_obs = per_observation::<K>(site.inputs);
        let mut out = Batch::zeros(n, dirs);
        let mut block = Vec::with_capacity(BLOCK.min(n));
        for start in (0..n).step_by(BLOCK) {
            self.fill(&mut block, site.inputs, &per_obs, start, false);
            for (a, t) in tangents.iter().enumerate() {
                let Some(t) = t else { continue };
                for k in 0..dirs {
                    let (t, col) = (t.col(k), out.col_mut(k));
                    for (j, p) in block.iter().enumerate() {
                        col[start + j] += p.grad[a] * t[position(per_obs[a], start + j)];
                    }
                }
            }
        }
        Some(out)
    }
}

/// Neumaier's compensated sum: R adds up `sum(d...(log = TRUE))` in long
/// double, so a plain double sum over a million terms could differ from it
/// in the 12th digit.
#[derive(Default)]
struct Compensated {
    plain: f64,
    compensation: f64,
}

impl Compensated {
    fn add(&mut self, x: f64) {
        let t = self.plain + x;
        self.compensation += if self.plain.abs() >= x.abs() { (self.plain - t) + x } else { (x - t) + self.plain };
        self.plain = t;
    }
    fn sum(&self) -> f64 {
        // Infinities make the compensation NaN; the plain sum is then right.
        if self.plain.is_finite() {
            self.plain + self.compensation
        } else {
            self.plain
        }
    }
}

/// The data a kernel is recorded with: observations `x` (or y), for the
/// binomial the number of trials `size` (length 1 or length of x), and
/// optionally one non-negative weight per observation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KernelData {
    pub x: Vec<f64>,
    pub size: Option<Vec<f64>>,
    pub weights: Option<Vec<f64>>,
}

impl KernelData {
    pub fn new(x: Vec<f64>) -> Self {
        KernelData { x, size: None, weights: None }
    }
    pub fn with_size(x: Vec<f64>, size: Vec<f64>) -> Self {
        KernelData { x, size: Some(size), weights: None }
    }
    /// The same data with observation weights (`None`: unweighted).
    pub fn weighted(self, weights: Option<Vec<f64>>) -> Self {
        KernelData { weights, ..self }
    }
}

const KERNEL_NAMES: &[&str] = &[
    "normal",
    "exponential",
    "poisson",
    "binomial",
    "bernoulli",
    "gamma",
    "beta",
    "negbinom",
    "weibull",
    "pareto",
    "bernoulli_logit",
    "poisson_log",
];

/// The distribution names `record_kernel` accepts.
pub fn kernel_names() -> &'static [&'static str] {
    KERNEL_NAMES
}

/// Records the log-likelihood node of distribution `name` (see
/// `kernel_names`) with parameter nodes `params`, in the order the R
/// function takes them, and the data in `data`. Errors name the R function
/// (`loglik_<name>`): a wrong number of parameters, data outside the
/// support (with its 1-based index), or a parameter whose length is
/// neither 1 nor the number of observations; weights that are not one
/// finite non-negative number per observation.
pub fn record_kernel(name: &str, params: &[Var], data: KernelData) -> Result<Var> {
    use continuous::*;
    use discrete::*;
    use regression::*;
    if !KERNEL_NAMES.contains(&name) {
        bail!("unknown log-likelihood kernel '{name}' (known: {})", KERNEL_NAMES.join(", "));
    }
    let KernelData { x, size, weights } = data;
    if size.is_some() && name != "binomial" {
        bail!("loglik_{name}: size is only used by the binomial kernel");
    }
    match name {
        "normal" => fused(params, weights, || Normal::new(x)),
        "exponential" => fused(params, weights, || Exponential::new(x)),
        "poisson" => fused(params, weights, || Poisson::new(x)),
        "binomial" => {
            let Some(size) = size else { bail!("loglik_binomial: size (the number of trials) is missing") };
            fused(params, weights, || Binomial::new(x, size))
        }
        "bernoulli" => fused(params, weights, || Bernoulli::new(x)),
        "gamma" => fused(params, weights, || Gamma::new(x)),
        "beta" => fused(params, weights, || Beta::new(x)),
        "negbinom" => fused(params, weights, || NegBinom::new(x)),
        "weibull" => fused(params, weights, || Weibull::new(x)),
        "pareto" => fused(params, weights, || Pareto::new(x)),
        "bernoulli_logit" => fused(params, weights, || BernoulliLogit::new(x)),
        "poisson_log" => fused(params, weights, || PoissonLog::new(x)),
        _ => bail!("loglik_{name}: listed in kernel_names() but not implemented"),
    }
}

/// Checks the parameter count before `make` validates the data, so that a
/// call with the wrong arguments is reported as such; then the weights.
fn fused<D: Density<K>, const K: usize>(
    params: &[Var],
    weights: Option<Vec<f64>>,
    make: impl FnOnce() -> Result<D>,
) -> Result<Var> {
    if params.len() != K {
        bail!("{}: needs {} ({}), got {}", D::NAME, count(K), D::PARAMS.join(", "), params.len());
    }
    Var::apply(Box::new(Fused::new(make()?).with_weights(weights)?), params.to_vec())
}

/// A number as R prints it in a message (Inf, NaN; no trailing ".0").
fn show(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else if x.is_infinite() {
        if x > 0.0 {
            "Inf".into()
        } else {
            "-Inf".into()
        }
    } else if x != 0.0 && (x.abs() >= 1e15 || x.abs() < 1e-4) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

fn outside(kernel: &str, data: &str, i: usize, x: f64, support: &str) -> crate::Error {
    crate::Error::new(format!("{kernel}: {data}[{}] = {} is outside the support ({support})", i + 1, show(x)))
}

/// Errors at the first observation for which `inside` is false. Non-finite
/// data (NA arrives as NaN) are always outside.
pub(crate) fn check_support(
    kernel: &str,
    data: &str,
    x: &[f64],
    support: &str,
    inside: impl Fn(f64) -> bool,
) -> Result<()> {
    match x.iter().position(|&v| !(v.is_finite() && inside(v))) {
        Some(i) => Err(outside(kernel, data, i, x[i], support)),
        None => Ok(()),
    }
}

/// A non-negative integer as R's density functions accept one: within
/// 1e-7 (relative) of an integer, which it is then rounded to.
pub(crate) fn as_count(v: f64) -> Option<f64> {
    if !v.is_finite() || v < 0.0 {
        return None;
    }
    let r = v.round();
    ((v - r).abs() <= 1e-7 * r.max(1.0)).then_some(r)
}

/// Validates counts (non-negative integers) and rounds them.
pub(crate) fn counts(kernel: &str, data: &str, mut x: Vec<f64>) -> Result<Vec<f64>> {
    for (i, v) in x.iter_mut().enumerate() {
        match as_count(*v) {
            Some(r) => *v = r,
            None => return Err(outside(kernel, data, i, *v, "non-negative integers")),
        }
    }
    Ok(x)
}

/// Validates 0/1 outcomes.
pub(crate) fn binary_outcomes(kernel: &str, data: &str, x: &[f64]) -> Result<Vec<bool>> {
    check_support(kernel, data, x, "0 or 1", |v| v == 0.0 || v == 1.0)?;
    Ok(x.iter().map(|&v| v == 1.0).collect())
}

/// k / d, but 0 when k is 0: a term with a zero count contributes nothing,
/// even where its denominator vanishes (p = 0 with no successes).
#[inline]
pub(crate) fn ratio(k: f64, d: f64) -> f64 {
    if k == 0.0 {
        0.0
    } else {
        k / d
    }
}
