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

pub mod beta_binomial;
pub mod continuous;
pub mod discrete;
pub mod linear_predictor;
pub mod more_continuous;
pub mod negbinom_mu;
pub mod ordinal;
pub mod pointwise;
pub mod regression;
pub mod saddle;
pub mod zero_inflated;

#[cfg(test)]
mod linear_predictor_tests;
#[cfg(test)]
mod more_kernels_tests;
#[cfg(test)]
mod ordinal_tests;
#[cfg(test)]
mod pointwise_tests;
#[cfg(test)]
mod sweep_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod weights_and_scores_tests;

use std::cell::RefCell;
use std::fmt::Debug;
use std::ops::Add;
use std::rc::Rc;

use crate::batch::Batch;
use crate::tape::{Operand, Var};
use crate::rule::{Rule, Site};
use crate::tensor::{Data, Tensor};
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

impl<const K: usize> Add for Partials<K> {
    type Output = Self;
    #[inline]
    fn add(mut self, other: Self) -> Self {
        for a in 0..K {
            self.grad[a] += other.grad[a];
            for b in 0..K {
                self.hess[a][b] += other.hess[a][b];
            }
        }
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
    /// Whether the log-density is the log of a probability (a discrete
    /// distribution): then an observation whose log-density is numerically
    /// 0 has a fitted probability of 1, see `Rule::saturated`.
    const DISCRETE: bool = false;

    /// Number of observations n.
    fn observations(&self) -> usize;

    /// log f(x_i; theta); -Inf when theta is outside the parameter space.
    fn log_density(&self, i: usize, theta: [f64; K]) -> f64;

    /// First partials, and second partials when `hessian` is true (the
    /// reverse sweep alone needs no Hessian, and for some distributions it
    /// costs a trigamma per observation). Outside the parameter space the
    /// values may be NaN or infinite, but computing them must not panic.
    fn partials(&self, i: usize, theta: [f64; K], hessian: bool) -> Partials<K>;

    /// The partials of observation i, as `partials` gives them, for a theta
    /// shared by all observations, as a function of i: a density can
    /// compute what depends on theta alone (a digamma of a shape, say) once
    /// here, instead of once per observation in the loop over them. The
    /// default calls `partials`.
    fn partials_at(&self, theta: [f64; K], hessian: bool) -> impl Fn(usize) -> Partials<K> + '_ {
        move |i| self.partials(i, theta, hessian)
    }

    /// A shortcut for when every parameter is shared (one value for all
    /// observations): the log-likelihood and its partials, summed over the
    /// observations (each times its weight, if `weights` are given; they
    /// are the kernel's own at every call), from statistics of the data
    /// that the density computes once, so that each evaluation costs O(1)
    /// instead of a pass over the data. `None`, the default, sums
    /// observation by observation; a density that has the shortcut returns
    /// `None` too where it would not be accurate (say outside the parameter
    /// space). Its sums must equal the observation-by-observation ones up
    /// to rounding.
    fn shared(&self, _theta: [f64; K], _weights: Option<&[f64]>) -> Option<(f64, Partials<K>)> {
        None
    }
}

/// Moments of data about their (weighted) mean, from which the shared-
/// parameter log-likelihood of some densities follows (see
/// `Density::shared`). Kept about the mean so that sums of squares about
/// any other point do not cancel.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Moments {
    /// sum_i w_i (n when unweighted).
    pub total: f64,
    /// The weighted mean c, as rounded.
    pub center: f64,
    /// sum_i w_i (x_i - c): zero but for the rounding of c.
    pub first: f64,
    /// sum_i w_i (x_i - c)^2.
    pub second: f64,
}

impl Moments {
    /// Two passes over `x`: the weighted mean, then the sums about it.
    pub(crate) fn of(x: &[f64], weights: Option<&[f64]>) -> Moments {
        let n = x.len();
        let (total, sum) = match weights {
            None => (n as f64, blocked_sums(n, |i| [x[i]])[0]),
            Some(w) => {
                let [total, sum] = blocked_sums(n, |i| [w[i], w[i] * x[i]]);
                (total, sum)
            }
        };
        let center = if total > 0.0 { sum / total } else { 0.0 };
        let [first, second] = match weights {
            None => blocked_sums(n, |i| {
                let d = x[i] - center;
                [d, d * d]
            }),
            Some(w) => blocked_sums(n, |i| {
                let d = x[i] - center;
                [w[i] * d, w[i] * d * d]
            }),
        };
        Moments { total, center, first, second }
    }

    /// sum_i w_i (x_i - a) and sum_i w_i (x_i - a)^2.
    pub(crate) fn about(&self, a: f64) -> (f64, f64) {
        let d = self.center - a;
        (self.first + self.total * d, self.second + 2.0 * d * self.first + self.total * d * d)
    }
}

/// A `Rule` from a `Density`: inputs are the K parameter nodes, each a scalar
/// (shared by all observations) or one value per observation; the output is
/// the scalar log-likelihood.
#[derive(Debug)]
pub struct Fused<D, const K: usize> {
    /// Shared with the pointwise node of the same density, when the kernel
    /// is the sum of its log-densities (see `Rule::sum_kernel`).
    density: Rc<D>,
    /// One non-negative weight per observation; `None` is all ones.
    weights: Option<Vec<f64>>,
    /// Whether the node reports its observations for weights (the
    /// bootstrap, case weights). A kernel that stands in for the sum of a
    /// density written in R (`sum(dnorm(x, ..., log = TRUE))`) does not:
    /// weights never reach that sum. Both cover their observations for
    /// nobs() and the per-observation scores (`Rule::covers`).
    counted: bool,
    /// Partials already computed. A recorded node's inputs never change, so
    /// neither do its partials: the three sweeps of a Hessian (jvp, vjp,
    /// vjp_dot) evaluate them once instead of three times.
    cache: RefCell<Cache<K>>,
}

/// What `Fused` keeps between sweeps.
#[derive(Debug)]
struct Cache<const K: usize> {
    /// When every parameter is a scalar: the partials summed over the
    /// observations, which is all any sweep needs then (K + K^2 numbers,
    /// kept for the node's lifetime). The flag says whether the second
    /// partials are in the sum (a gradient alone does not need them).
    sums: Option<(Partials<K>, bool)>,
    /// When some parameter has one value per observation: the partials of
    /// every observation, with second partials. Filled by `jvp` (the start
    /// of a second-order sweep) when it is no larger than the tangents the
    /// sweep carries anyway, dropped by `vjp_dot` (the sweep's end). Without
    /// it, each sweep computes the partials again, block by block.
    table: Option<Rc<Table<K>>>,
}

impl<const K: usize> Default for Cache<K> {
    fn default() -> Self {
        Cache { sums: None, table: None }
    }
}

/// The partials of consecutive observations, one column per partial (so
/// that the loops over observations run over contiguous slices): of all
/// observations, or of one block.
#[derive(Debug)]
struct Table<const K: usize> {
    grad: [Vec<f64>; K],
    /// H_ab in `hess[a][b]` for a <= b (empty for a > b, and when built
    /// without second partials).
    hess: [[Vec<f64>; K]; K],
}

/// Number of columns of a table with second partials.
const fn table_columns(k: usize) -> usize {
    k + k * (k + 1) / 2
}

/// Rows start..end of a table.
struct Rows<'a, const K: usize> {
    grad: [&'a [f64]; K],
    hess: [[&'a [f64]; K]; K],
}

impl<const K: usize> Rows<'_, K> {
    /// H_ab, either order.
    #[inline]
    fn hess(&self, a: usize, b: usize) -> &[f64] {
        if a <= b {
            self.hess[a][b]
        } else {
            self.hess[b][a]
        }
    }
}

impl<const K: usize> Table<K> {
    fn zeros(len: usize, hessian: bool) -> Self {
        Table {
            grad: std::array::from_fn(|_| vec![0.0; len]),
            hess: std::array::from_fn(|a| std::array::from_fn(|b| if hessian && a <= b { vec![0.0; len] } else { Vec::new() })),
        }
    }

    fn rows(&self, start: usize, end: usize) -> Rows<'_, K> {
        fn slice(v: &[f64], start: usize, end: usize) -> &[f64] {
            if v.is_empty() {
                v
            } else {
                &v[start..end]
            }
        }
        Rows {
            grad: std::array::from_fn(|a| &self.grad[a][start..end]),
            hess: std::array::from_fn(|a| std::array::from_fn(|b| slice(&self.hess[a][b], start, end))),
        }
    }
}

impl<D: Density<K>, const K: usize> Fused<D, K> {
    pub fn new(density: D) -> Self {
        Fused::sharing(Rc::new(density))
    }

    pub(crate) fn sharing(density: Rc<D>) -> Self {
        Fused { density, weights: None, counted: true, cache: RefCell::new(Cache::default()) }
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

    /// `Rule::saturated` with the parameters of observation i given by
    /// `theta(i)`: the observations (of non-zero weight) whose fitted
    /// probability is numerically 1; `None` for continuous densities.
    pub(crate) fn saturated_at(&self, theta: impl Fn(usize) -> [f64; K]) -> Option<usize> {
        if !D::DISCRETE {
            return None;
        }
        let count = (0..self.density.observations())
            .filter(|&i| self.weight(i) > 0.0 && self.density.log_density(i, theta(i)) > -SATURATED)
            .count();
        Some(count)
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
    #[inline(always)]
    fn partials(&self, i: usize, theta: [f64; K], hessian: bool) -> Partials<K> {
        self.weighted(i, |i| self.density.partials(i, theta, hessian))
    }

    /// `partials(i)` times the weight of observation i; zero, without
    /// evaluating it, when the weight is zero.
    #[inline(always)]
    fn weighted(&self, i: usize, partials: impl Fn(usize) -> Partials<K>) -> Partials<K> {
        let w = self.weight(i);
        if w == 1.0 {
            partials(i)
        } else if w == 0.0 {
            Partials::zero()
        } else {
            partials(i).scaled(w)
        }
    }

    /// Checks the parameters' lengths; true where a parameter has one value
    /// per observation rather than one shared value.
    fn layout(&self, inputs: &[&Tensor]) -> Result<[bool; K]> {
        layout_of(&*self.density, inputs)
    }
}

/// Which of the K parameter inputs have one value per observation (the
/// others are scalars); an error names any other length.
pub(crate) fn layout_of<D: Density<K>, const K: usize>(density: &D, inputs: &[&Tensor]) -> Result<[bool; K]> {
    if inputs.len() != K {
        bail!("{}: needs {} ({}), got {}", D::NAME, count(K), D::PARAMS.join(", "), inputs.len());
    }
    let n = density.observations();
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

/// A fitted probability within this of 1 counts as 1 (glm()'s threshold for
/// "fitted probabilities numerically 0 or 1": 10 machine epsilons).
const SATURATED: f64 = 10.0 * f64::EPSILON;

/// Observations per block in the forward-mode and second-order sweeps: the
/// partials of a block are computed once and then used for every
/// direction, column by column, so that the n x dirs tangents and adjoints
/// are read and written in order (one observation at a time across all
/// directions would stride through memory), while the buffer stays small.
/// Sums over the observations are also formed block by block (a sum per
/// block, then the sum of those), which keeps their rounding error near
/// (BLOCK + n / BLOCK) rather than n machine epsilons.
const BLOCK: usize = 512;

/// Independent running sums within a block: one running sum waits for the
/// previous addition to finish at every observation; several interleave.
const LANES: usize = 4;

impl<D: Density<K>, const K: usize> Fused<D, K> {
    /// The partials of observations start..end into rows 0..end-start of `table`.
    fn fill(&self, table: &mut Table<K>, inputs: &[&Tensor], per_obs: &[bool; K], start: usize, end: usize, hessian: bool) {
        for (row, i) in (start..end).enumerate() {
            let p = self.partials(i, theta_at(inputs, per_obs, i), hessian);
            for a in 0..K {
                table.grad[a][row] = p.grad[a];
                if hessian {
                    for b in a..K {
                        table.hess[a][b][row] = p.hess[a][b];
                    }
                }
            }
        }
    }

    /// Calls `f(start, rows)` for each block of observations, in order, with
    /// their partials: slices of `table` if given, otherwise computed into a
    /// buffer one block at a time.
    fn blocks(
        &self,
        table: Option<&Table<K>>,
        inputs: &[&Tensor],
        per_obs: &[bool; K],
        hessian: bool,
        mut f: impl FnMut(usize, &Rows<'_, K>),
    ) {
        let n = self.density.observations();
        let mut buffer = None;
        for start in (0..n).step_by(BLOCK) {
            let end = (start + BLOCK).min(n);
            match table {
                Some(table) => f(start, &table.rows(start, end)),
                None => {
                    let buffer = buffer.get_or_insert_with(|| Table::zeros(BLOCK.min(n), hessian));
                    self.fill(buffer, inputs, per_obs, start, end, hessian);
                    f(start, &buffer.rows(0, end - start));
                }
            }
        }
    }

    /// The cached table (with second partials) if there is one.
    fn table(&self) -> Option<Rc<Table<K>>> {
        self.cache.borrow().table.clone()
    }

    /// The (weighted) log-density of observation i; 0, without evaluating
    /// it, when the weight is zero.
    #[inline(always)]
    fn weighted_log_density(&self, i: usize, theta: [f64; K]) -> f64 {
        let w = self.weight(i);
        if w == 1.0 {
            self.density.log_density(i, theta)
        } else if w == 0.0 {
            0.0
        } else {
            w * self.density.log_density(i, theta)
        }
    }

    /// The partials summed over all observations, every parameter being the
    /// scalar `theta`: from the cache if it holds them (with the second
    /// partials when `hessian`), otherwise in one pass, then cached.
    fn sums(&self, theta: [f64; K], hessian: bool) -> Partials<K> {
        if let Some((sums, with_hessian)) = self.cache.borrow().sums {
            if with_hessian || !hessian {
                return sums;
            }
        }
        if let Some((_, sums)) = self.density.shared(theta, self.weights.as_deref()) {
            self.cache.borrow_mut().sums = Some((sums, true));
            return sums;
        }
        let at = self.density.partials_at(theta, hessian);
        let n = self.density.observations();
        let mut total = Partials::zero();
        for start in (0..n).step_by(BLOCK) {
            let end = (start + BLOCK).min(n);
            // The unweighted loop calls the density directly, so that the
            // compiler sees through it (and hoists what depends on theta only).
            total = total
                + match self.weights {
                    None => sum_block(start, end, &at),
                    Some(_) => sum_block(start, end, |i| self.weighted(i, &at)),
                };
        }
        self.cache.borrow_mut().sums = Some((total, hessian));
        total
    }

    /// The table of every observation's partials with second partials,
    /// built and cached when a second-order sweep with `dirs` directions
    /// starts, if it is no larger than the tangents that sweep carries (n x
    /// dirs): it then saves computing the partials twice more (in vjp and
    /// vjp_dot) at a memory cost the sweep pays anyway. A sweep with fewer
    /// directions computes them again, block by block, without the n-row
    /// buffers.
    fn start_sweep(&self, inputs: &[&Tensor], per_obs: &[bool; K], dirs: usize) -> Option<Rc<Table<K>>> {
        if let Some(table) = self.table() {
            return Some(table);
        }
        if dirs < table_columns(K) {
            return None;
        }
        let n = self.density.observations();
        let mut table = Table::zeros(n, true);
        self.fill(&mut table, inputs, per_obs, 0, n, true);
        let table = Rc::new(table);
        self.cache.borrow_mut().table = Some(Rc::clone(&table));
        Some(table)
    }
}

/// The sum of f(i) over start..end, in LANES interleaved running sums.
#[inline]
fn sum_block<const K: usize>(start: usize, end: usize, f: impl Fn(usize) -> Partials<K>) -> Partials<K> {
    let mut lanes = [Partials::<K>::zero(); LANES];
    let mut i = start;
    while i + LANES <= end {
        for (l, lane) in lanes.iter_mut().enumerate() {
            *lane = *lane + f(i + l);
        }
        i += LANES;
    }
    for (lane, j) in lanes.iter_mut().zip(i..end) {
        *lane = *lane + f(j);
    }
    let [a, b, c, d] = lanes;
    (a + b) + (c + d)
}

/// sum_i f(i) for i in 0..n, M sums at once: LANES interleaved running sums
/// within each block, the blocks' sums added up with compensation.
fn blocked_sums<const M: usize>(n: usize, f: impl Fn(usize) -> [f64; M]) -> [f64; M] {
    let mut totals = [Compensated::default(); M];
    for start in (0..n).step_by(BLOCK) {
        let end = (start + BLOCK).min(n);
        let mut lanes = [[0.0; M]; LANES];
        let mut i = start;
        while i + LANES <= end {
            for (l, lane) in lanes.iter_mut().enumerate() {
                let v = f(i + l);
                for m in 0..M {
                    lane[m] += v[m];
                }
            }
            i += LANES;
        }
        for (lane, j) in lanes.iter_mut().zip(i..end) {
            let v = f(j);
            for m in 0..M {
                lane[m] += v[m];
            }
        }
        for (m, total) in totals.iter_mut().enumerate() {
            total.add((lanes[0][m] + lanes[1][m]) + (lanes[2][m] + lanes[3][m]));
        }
    }
    std::array::from_fn(|m| totals[m].sum())
}

/// sum_i x_i y_i (sum_i x_i when `y` is `None`) over one block, in LANES
/// interleaved running sums.
#[inline]
fn dot_block(x: &[f64], y: Option<&[f64]>) -> f64 {
    let mut lanes = [0.0; LANES];
    let term = |i: usize| match y {
        Some(y) => x[i] * y[i],
        None => x[i],
    };
    let mut i = 0;
    while i + LANES <= x.len() {
        for (l, lane) in lanes.iter_mut().enumerate() {
            *lane += term(i + l);
        }
        i += LANES;
    }
    for (lane, j) in lanes.iter_mut().zip(i..x.len()) {
        *lane += term(j);
    }
    (lanes[0] + lanes[1]) + (lanes[2] + lanes[3])
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

    /// The cached partials belong to the old parameter values.
    fn forget(&self) {
        *self.cache.borrow_mut() = Cache::default();
    }

    fn saturated(&self, site: &Site) -> Option<usize> {
        if !self.counted {
            return None;
        }
        let per_obs = self.layout(site.inputs).ok()?;
        self.saturated_at(|i| theta_at(site.inputs, &per_obs, i))
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let per_obs = self.layout(inputs)?;
        let n = self.density.observations();
        let total = if per_obs.contains(&true) {
            compensated_sum(n, |i| self.weighted_log_density(i, theta_at(inputs, &per_obs, i)))
        } else {
            let theta = theta_at(inputs, &per_obs, 0);
            if let Some((value, _)) = self.density.shared(theta, self.weights.as_deref()) {
                return Ok(Tensor::scalar(value));
            }
            match self.weights {
                None => compensated_sum(n, |i| self.density.log_density(i, theta)),
                Some(_) => compensated_sum(n, |i| self.weighted_log_density(i, theta)),
            }
        };
        Ok(Tensor::scalar(total))
    }

    fn vjp(&self, site: &Site, out_adj: &[f64], needs: &[bool]) -> Vec<Option<Vec<f64>>> {
        let per_obs = per_observation::<K>(site.inputs);
        let ybar = out_adj[0];
        let mut bars: Vec<Option<Vec<f64>>> =
            (0..K).map(|a| needs[a].then(|| vec![0.0; site.inputs[a].numel()])).collect();
        if bars.iter().all(Option::is_none) {
            return bars;
        }
        if !per_obs.contains(&true) {
            let g = self.sums(theta_at(site.inputs, &per_obs, 0), false).grad;
            for (a, bar) in bars.iter_mut().enumerate() {
                if let Some(bar) = bar {
                    bar[0] += ybar * g[a];
                }
            }
            return bars;
        }
        // Within a second-order sweep the table may be there already.
        let table = self.table();
        self.blocks(table.as_deref(), site.inputs, &per_obs, false, |start, rows| {
            for (a, bar) in bars.iter_mut().enumerate() {
                let Some(bar) = bar else { continue };
                let g = rows.grad[a];
                if per_obs[a] {
                    bar[start..start + g.len()].iter_mut().zip(g).for_each(|(b, g)| *b += ybar * g);
                } else {
                    bar[0] += ybar * dot_block(g, None);
                }
            }
        });
        bars
    }

    fn jvp(&self, site: &Site, tangents: &[Option<&Batch>], dirs: usize) -> Option<Batch> {
        if tangents.iter().all(Option::is_none) {
            return None;
        }
        let per_obs = per_observation::<K>(site.inputs);
        let mut out = Batch::zeros(1, dirs);
        // A forward sweep over a kernel is (nearly always) the start of a
        // second-order one: compute the second partials now, with the first.
        if !per_obs.contains(&true) {
            let g = self.sums(theta_at(site.inputs, &per_obs, 0), true).grad;
            for (a, t) in tangents.iter().enumerate() {
                let Some(t) = t else { continue };
                for (k, o) in out.data.iter_mut().enumerate() {
                    *o += g[a] * t.col(k)[0];
                }
            }
            return Some(out);
        }
        let table = self.start_sweep(site.inputs, &per_obs, dirs);
        self.blocks(table.as_deref(), site.inputs, &per_obs, false, |start, rows| {
            for (a, t) in tangents.iter().enumerate() {
                let Some(t) = t else { continue };
                let g = rows.grad[a];
                let g_sum = (!per_obs[a]).then(|| dot_block(g, None));
                for (k, o) in out.data.iter_mut().enumerate() {
                    *o += match g_sum {
                        Some(g_sum) => g_sum * t.col(k)[0],
                        None => dot_block(g, Some(&t.col(k)[start..start + g.len()])),
                    };
                }
            }
        });
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
        // Terms whose tangent is absent are skipped, not multiplied by zero:
        // a partial may be NaN or infinite where the density is singular.
        if !per_obs.contains(&true) {
            let p = self.sums(theta_at(site.inputs, &per_obs, 0), true);
            for (a, out) in outs.iter_mut().enumerate() {
                let Some(out) = out else { continue };
                for k in 0..dirs {
                    let mut curvature = 0.0;
                    for (b, t) in tangents.iter().enumerate() {
                        if let Some(t) = t {
                            curvature += p.hess[a][b] * t.col(k)[0];
                        }
                    }
                    let mut v = ybar * curvature;
                    if let Some(yd) = out_adj_dot {
                        v += p.grad[a] * yd.data[k];
                    }
                    out.col_mut(k)[0] += v;
                }
            }
            return outs;
        }
        let table = self.table();
        let mut curvature = [0.0; BLOCK];
        self.blocks(table.as_deref(), site.inputs, &per_obs, true, |start, rows| {
            let len = rows.grad[0].len();
            let curvature = &mut curvature[..len];
            for (a, out) in outs.iter_mut().enumerate() {
                let Some(out) = out else { continue };
                let g = rows.grad[a];
                for k in 0..dirs {
                    // sum_b H_iab thetadot_b for the observations of the block.
                    curvature.fill(0.0);
                    for (b, t) in tangents.iter().enumerate() {
                        let Some(t) = t else { continue };
                        let (h, t) = (rows.hess(a, b), t.col(k));
                        if per_obs[b] {
                            curvature.iter_mut().zip(h).zip(&t[start..start + len]).for_each(|((c, h), t)| *c += h * t);
                        } else {
                            let t = t[0];
                            curvature.iter_mut().zip(h).for_each(|(c, h)| *c += h * t);
                        }
                    }
                    let col = out.col_mut(k);
                    let ybar_dot = out_adj_dot.map(|yd| yd.data[k]);
                    match (per_obs[a], ybar_dot) {
                        (true, Some(w)) => col[start..start + len]
                            .iter_mut()
                            .zip(curvature.iter().zip(g))
                            .for_each(|(c, (h, g))| *c += ybar * h + g * w),
                        (true, None) => col[start..start + len].iter_mut().zip(curvature.iter()).for_each(|(c, h)| *c += ybar * h),
                        (false, Some(w)) => curvature.iter().zip(g).for_each(|(h, g)| col[0] += ybar * h + g * w),
                        (false, None) => curvature.iter().for_each(|h| col[0] += ybar * h),
                    }
                }
            }
        });
        // The end of the second-order sweep that needed the table.
        self.cache.borrow_mut().table = None;
        outs
    }

    fn observations(&self) -> Option<usize> {
        self.counted.then(|| self.density.observations())
    }

    fn covers(&self) -> Option<usize> {
        Some(self.density.observations())
    }

    fn observation_jvp(&self, site: &Site, tangents: &[Option<&Batch>], dirs: usize) -> Option<Batch> {
        let n = self.density.observations();
        let per_obs = per_observation::<K>(site.inputs);
        let mut out = Batch::zeros(n, dirs);
        let table = self.table();
        self.blocks(table.as_deref(), site.inputs, &per_obs, false, |start, rows| {
            for (a, t) in tangents.iter().enumerate() {
                let Some(t) = t else { continue };
                let g = rows.grad[a];
                for k in 0..dirs {
                    let (t, col) = (t.col(k), out.col_mut(k));
                    let col = &mut col[start..start + g.len()];
                    if per_obs[a] {
                        col.iter_mut().zip(g).zip(&t[start..start + g.len()]).for_each(|((c, g), t)| *c += g * t);
                    } else {
                        let t = t[0];
                        col.iter_mut().zip(g).for_each(|(c, g)| *c += g * t);
                    }
                }
            }
        });
        // The forward sweep this follows may have filled the table for a
        // Hessian that is not coming: do not keep it with the graph.
        self.cache.borrow_mut().table = None;
        Some(out)
    }
}

/// sum_i f(i) for i in 0..n, in LANES interleaved compensated sums.
fn compensated_sum(n: usize, f: impl Fn(usize) -> f64) -> f64 {
    let mut lanes: [Compensated; LANES] = Default::default();
    let mut i = 0;
    while i + LANES <= n {
        for (l, lane) in lanes.iter_mut().enumerate() {
            lane.add(f(i + l));
        }
        i += LANES;
    }
    for (lane, j) in lanes.iter_mut().zip(i..n) {
        lane.add(f(j));
    }
    if lanes.iter().all(|l| l.plain.is_finite()) {
        let mut total = Compensated::default();
        for lane in &lanes {
            total.add(lane.plain);
            total.add(lane.compensation);
        }
        total.sum()
    } else {
        // Infinities (or NaN): the compensations are meaningless; the plain
        // sums carry the answer, as in `Compensated::sum`.
        lanes.iter().map(|l| l.plain).sum()
    }
}

/// Neumaier's compensated sum: R adds up `sum(d...(log = TRUE))` in long
/// double, so a plain double sum over a million terms could differ from it
/// in the 12th digit.
#[derive(Default, Clone, Copy)]
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

/// The data a kernel is recorded with: observations `x` (or y; shared, not
/// copied, by the densities that keep them as they are), for the
/// binomial the number of trials `size` (length 1 or length of x), and
/// optionally one non-negative weight per observation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KernelData {
    pub x: Data,
    pub size: Option<Vec<f64>>,
    pub weights: Option<Vec<f64>>,
    /// What node to record: the sum, counted or not, or the log-densities.
    pub form: Form,
}

/// The node `record_kernel` records from a density and its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Form {
    /// The log-likelihood, which reports its observations (a loglik_* call).
    #[default]
    Counted,
    /// The log-likelihood, reporting none (see `Fused::counted`).
    Uncounted,
    /// The vector of log-densities, one per observation (see `Pointwise`).
    Pointwise,
}

impl KernelData {
    pub fn new(x: impl Into<Data>) -> Self {
        KernelData { x: x.into(), size: None, weights: None, form: Form::Counted }
    }
    pub fn with_size(x: impl Into<Data>, size: Vec<f64>) -> Self {
        KernelData { x: x.into(), size: Some(size), weights: None, form: Form::Counted }
    }
    /// The same data with observation weights (`None`: unweighted).
    pub fn weighted(self, weights: Option<Vec<f64>>) -> Self {
        KernelData { weights, ..self }
    }
    /// The same data for another form of node.
    pub fn recorded_as(self, form: Form) -> Self {
        KernelData { form, ..self }
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
    "lognormal",
    "t",
    "logis",
    "negbinom_mu",
    "zip",
    "zinb",
    "betabinom",
];

/// The kernels whose data include a number of trials, `size`.
const WITH_TRIALS: &[&str] = &["binomial", "betabinom"];

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
    use beta_binomial::*;
    use continuous::*;
    use discrete::*;
    use more_continuous::*;
    use negbinom_mu::*;
    use regression::*;
    use zero_inflated::*;
    if !KERNEL_NAMES.contains(&name) {
        bail!("unknown log-likelihood kernel '{name}' (known: {})", KERNEL_NAMES.join(", "));
    }
    let KernelData { x, size, weights, form } = data;
    if size.is_some() && !WITH_TRIALS.contains(&name) {
        bail!("loglik_{name}: size is only used by the binomial and beta-binomial kernels");
    }
    match name {
        "normal" => fused(params, weights, form, || Normal::new(x)),
        "exponential" => fused(params, weights, form, || Exponential::new(x)),
        "poisson" => fused(params, weights, form, || Poisson::new(x.to_vec())),
        "binomial" => {
            let Some(size) = size else { bail!("loglik_binomial: size (the number of trials) is missing") };
            fused(params, weights, form, || Binomial::new(x.to_vec(), size))
        }
        "bernoulli" => fused(params, weights, form, || Bernoulli::new(x.to_vec())),
        "gamma" => fused(params, weights, form, || Gamma::new(x)),
        "beta" => fused(params, weights, form, || Beta::new(x)),
        "negbinom" => fused(params, weights, form, || NegBinom::new(x.to_vec())),
        "weibull" => fused(params, weights, form, || Weibull::new(x)),
        "pareto" => fused(params, weights, form, || Pareto::new(x)),
        "bernoulli_logit" => fused(params, weights, form, || BernoulliLogit::new(x.to_vec())),
        "poisson_log" => fused(params, weights, form, || PoissonLog::new(x.to_vec())),
        "lognormal" => fused(params, weights, form, || Lognormal::new(x)),
        "t" => fused(params, weights, form, || StudentT::new(x)),
        "logis" => fused(params, weights, form, || Logistic::new(x)),
        "negbinom_mu" => fused(params, weights, form, || NegBinomMu::new(x.to_vec())),
        "zip" => fused(params, weights, form, || ZeroInflatedPoisson::new(x.to_vec())),
        "zinb" => fused(params, weights, form, || ZeroInflatedNegBinom::new(x.to_vec())),
        "betabinom" => {
            let Some(size) = size else { bail!("loglik_betabinom: size (the number of trials) is missing") };
            fused(params, weights, form, || BetaBinomial::new(x.to_vec(), size))
        }
        _ => bail!("loglik_{name}: listed in kernel_names() but not implemented"),
    }
}

/// The kernels `record_regression` accepts.
const REGRESSION_NAMES: &[&str] = &["bernoulli_logit", "poisson_log"];

/// Records a regression's log-likelihood as one node: kernel `name`
/// ("bernoulli_logit" or "poisson_log") at the linear predictor
/// `design %*% beta` (see `linear_predictor`), with the responses in
/// `data.x` and optional observation weights. Errors as `record_kernel`'s,
/// and when the design is not a matrix with one row per response.
pub fn record_regression(name: &str, beta: &Var, design: Tensor, offset: Option<Vec<f64>>, data: KernelData) -> Result<Var> {
    use linear_predictor::LinearPredictor;
    use regression::*;
    fn linear<D: Density<1>>(
        beta: &Var,
        design: Tensor,
        offset: Option<Vec<f64>>,
        weights: Option<Vec<f64>>,
        make: impl FnOnce() -> Result<D>,
    ) -> Result<Var> {
        let rule = LinearPredictor::new(Fused::new(make()?).with_weights(weights)?, design)?.with_offset(offset)?;
        Var::apply(std::rc::Rc::new(rule), &[beta.into()])
    }
    let KernelData { x, size, weights, .. } = data;
    match (name, size) {
        // successes out of trials, as glm(cbind(y, size - y) ~ ...)
        ("bernoulli_logit", Some(size)) => linear(beta, design, offset, weights, || BinomialLogit::new(x.to_vec(), size)),
        ("bernoulli_logit", None) => linear(beta, design, offset, weights, || BernoulliLogit::new(x.to_vec())),
        ("poisson_log", None) => linear(beta, design, offset, weights, || PoissonLog::new(x.to_vec())),
        ("poisson_log", Some(_)) => bail!("loglik_poisson_log: size is only used by the logistic regression"),
        _ => bail!("unknown regression kernel '{name}' (known: {})", REGRESSION_NAMES.join(", ")),
    }
}

/// Records the ordinal logistic regression's log-likelihood (`MASS::polr`,
/// see `ordinal`) as one node: linear predictor `eta` (one value per
/// observation, or shared), the `levels - 1` cut points `zeta`, categories
/// `y` in 1..=levels, optional observation weights.
pub fn record_ordinal(eta: &Var, zeta: &Var, y: &[f64], levels: usize, weights: Option<Vec<f64>>) -> Result<Var> {
    let rule = ordinal::OrdinalLogit::new(y, levels, weights)?;
    Var::apply(Rc::new(rule), &[eta.into(), zeta.into()])
}

/// Checks the parameter count before `make` validates the data, so that a
/// call with the wrong arguments is reported as such; then the weights.
fn fused<D: Density<K>, const K: usize>(
    params: &[Var],
    weights: Option<Vec<f64>>,
    form: Form,
    make: impl FnOnce() -> Result<D>,
) -> Result<Var> {
    if params.len() != K {
        bail!("{}: needs {} ({}), got {}", D::NAME, count(K), D::PARAMS.join(", "), params.len());
    }
    let inputs: Vec<Operand> = params.iter().map(Operand::from).collect();
    let rule: std::rc::Rc<dyn Rule> = match form {
        Form::Pointwise => {
            if weights.is_some() {
                bail!("{}: the log-densities of each observation take no weights", D::NAME);
            }
            std::rc::Rc::new(pointwise::Pointwise::new(make()?))
        }
        Form::Counted | Form::Uncounted => {
            std::rc::Rc::new(Fused { counted: form == Form::Counted, ..Fused::new(make()?).with_weights(weights)? })
        }
    };
    Var::apply(rule, &inputs)
}

/// A number as R prints it in a message (NA, NaN, Inf; no trailing ".0").
pub(crate) use crate::error::show_number as show;

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
    let ok = |v: f64| v.is_finite() & inside(v);
    // Chunk by chunk without stopping early (a loop the compiler
    // vectorises); the offending index is looked for only in a bad chunk.
    const CHUNK: usize = 256;
    let bad = x.chunks(CHUNK).position(|c| !c.iter().fold(true, |all, &v| all & ok(v)));
    match bad.and_then(|c| x[c * CHUNK..].iter().position(|&v| !ok(v)).map(|i| c * CHUNK + i)) {
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
