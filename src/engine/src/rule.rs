//! The contract every operation fulfils. An operation declares, in one
//! place, its value, its vector-Jacobian product (reverse mode), its
//! Jacobian-vector product (forward tangents) and its second-order rule: the
//! derivative of its VJP along the tangents. The sweeps in `backward.rs` and
//! `second_order.rs` know nothing else about operations.
//!
//! An operation may also state its forward mode *as operations*
//! (`jvp_graph`): the tangent of its output recorded on the tape with the
//! engine's own operations, from its inputs, its output and its inputs'
//! tangents, all of them values of the tape. The sweep in `directional.rs`
//! uses it to record the directional derivative D f(x)[v] of a recorded
//! f as an ordinary value, which every sweep can differentiate again:
//! its gradient is H v, its Hessian holds third derivatives, and the
//! directional derivative of it fourth ones. The contract:
//!   - the tangent is a function of the inputs (and of the output, itself
//!     a function of them) that equals `jvp`'s numbers wherever the rule's
//!     derivatives exist, and stays right when a replay moves the inputs:
//!     what it reads from the recorded numbers (the sign in `abs`) is kept
//!     as a guard, so that a replay that changes it is refused;
//!   - a tangent may be returned in any shape that broadcasts to the
//!     output's (the same numbers in another layout, or one number for
//!     all): the sweep lays it out as the output;
//!   - `None` is a zero tangent; an operation with no such rule (the fused
//!     log-likelihood kernels, the pointwise log-densities) refuses with
//!     an error naming it, never a wrong number.

use std::fmt::Debug;
use std::rc::Rc;

use crate::batch::Batch;
use crate::hessian_pattern::{conservative, Dependence, Pairs, Set};
use crate::tape::{Operand, Var};
use crate::tensor::Tensor;
use crate::Result;

/// First and second partial derivatives of z = g(a, b) at one point (for
/// an operation of one input, only `a` and `aa`). Those involving an input
/// that is a constant may be NaN (d(a^b)/db at a < 0): the sweeps use a
/// partial only when its input carries a derivative.
#[derive(Debug, Clone, Copy, Default)]
pub struct Partials {
    pub a: f64,
    pub b: f64,
    pub aa: f64,
    pub ab: f64,
    pub bb: f64,
}

/// An elementwise operation on scalars by its kind, for code that
/// evaluates many of them without a dynamic call each (see
/// `tape::scalar_program`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Elementwise {
    Binary(crate::ops::Binary),
    Unary(crate::ops::Unary),
}

impl Elementwise {
    /// The value at `x` (the second number unused by a unary operation).
    #[inline]
    pub fn value(self, x: [f64; 2]) -> f64 {
        match self {
            Elementwise::Binary(b) => b.value(x[0], x[1]),
            Elementwise::Unary(u) => u.value(x[0]),
        }
    }

    /// The partials at `x` given the output `y` (as `scalar_partials`).
    #[inline]
    pub fn partials(self, x: [f64; 2], y: f64) -> Partials {
        match self {
            Elementwise::Binary(b) => b.partials(x[0], x[1], y),
            Elementwise::Unary(u) => {
                let (a, aa) = u.derivatives(x[0], y);
                Partials { a, aa, ..Partials::default() }
            }
        }
    }

    pub fn arity(self) -> usize {
        match self {
            Elementwise::Binary(_) => 2,
            Elementwise::Unary(_) => 1,
        }
    }
}

/// What a rule sees of the recorded node: its inputs' values and its own value.
pub struct Site<'a> {
    pub inputs: &'a [&'a Tensor],
    pub output: &'a Tensor,
}

pub trait Rule: Debug {
    /// Short name used in error messages (`"+"`, `"exp"`, `"%*%"`).
    fn name(&self) -> &'static str;

    /// The value of the operation; checks shapes and reports mismatches.
    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor>;

    /// Reverse mode: each input's adjoint contribution given the output
    /// adjoint `out_adj`. Entries are `None` where `needs[i]` is false.
    fn vjp(&self, site: &Site, out_adj: &[f64], needs: &[bool]) -> Vec<Option<Vec<f64>>>;

    /// Forward mode: the output's tangents from the inputs' tangents (`None`
    /// means zero). Returns `None` when every input tangent is zero.
    fn jvp(&self, site: &Site, tangents: &[Option<&Batch>], dirs: usize) -> Option<Batch>;

    /// Second order: the derivative of `vjp(out_adj)` along the tangents, with
    /// `out_adj_dot` the derivative of the output adjoint (`None` is zero).
    /// This is what a forward-over-reverse sweep accumulates into each input.
    fn vjp_dot(
        &self,
        site: &Site,
        tangents: &[Option<&Batch>],
        out_adj: &[f64],
        out_adj_dot: Option<&Batch>,
        needs: &[bool],
        dirs: usize,
    ) -> Vec<Option<Batch>>;

    /// Forward mode as operations (see the module's comment): the tangent
    /// of `output` recorded on the tape, given the node's `inputs` (values,
    /// or the scalar constants mixed in) and their tangents (`None` is
    /// zero; a constant has none). `Ok(None)` when the tangent is zero.
    fn jvp_graph(&self, _inputs: &[Operand], _output: &Var, _tangents: &[Option<Var>]) -> Result<Option<Var>> {
        Err(crate::Error::new(format!(
            "{}: no forward-mode rule as operations, so derivatives of third and higher order \
             (a directional derivative recorded on the tape) are not available through it; \
             write this part of the model with arithmetic and elementwise functions",
            self.name()
        )))
    }

    /// Hessian sparsity (see `sweeps/hessian_pattern.rs`): given the
    /// parameter sets of each input's elements (`None` for an input that
    /// depends on no parameter; `fixed` marks inputs whose numbers no
    /// replay can change, whose zeros are therefore structural), the sets
    /// of the output's elements, after adding to `pairs` every pair the
    /// operation's second derivatives can couple. The default assumes the
    /// worst: each output element depends on everything, all of it coupled.
    fn dependence(&self, site: &Site, inputs: &[Option<&[Set]>], _fixed: &[bool], pairs: &mut Pairs) -> Dependence {
        conservative(site.output.numel(), inputs, false, pairs)
    }

    /// Fast path for elementwise operations on scalars (models written as
    /// loops): the first and second partial derivatives of the output with
    /// respect to its one or two (scalar) inputs, given the output. `None`
    /// where the rule has no such path.
    fn scalar_partials(&self, _inputs: &[f64], _output: f64) -> Option<Partials> {
        None
    }

    /// Fast path for elementwise operations on scalars: the value, for
    /// replays. `None` where the rule has no such path.
    fn scalar_value(&self, _inputs: &[f64]) -> Option<f64> {
        None
    }

    /// The rule as an elementwise operation (`Binary` and `Unary` only):
    /// its value and partials on scalars are those of `scalar_value` and
    /// `scalar_partials`.
    fn elementwise(&self) -> Option<Elementwise> {
        None
    }

    /// Called before a replay evaluates the node again at new inputs: a
    /// rule that keeps what it computed from its inputs (partials, sums)
    /// must drop it here.
    fn forget(&self) {}

    /// For the log-densities of a distribution (a kernel's pointwise
    /// node): the kernel that is their sum, made from the same density
    /// (its data already checked) and taking no observation weights,
    /// exactly like the sum it stands in for. `None` for every other operation.
    fn sum_kernel(&self) -> Option<Rc<dyn Rule>> {
        None
    }

    /// For log-likelihood kernels that take observation weights (a
    /// `loglik_*` call): how many observations the node sums over. The
    /// bootstrap and case weights are read from here.
    fn observations(&self) -> Option<usize> {
        None
    }

    /// For log-likelihood kernels, weighted or not (a `loglik_*` call or a
    /// `sum(d...(log = TRUE))`): how many observations' log-densities the
    /// node sums. `nobs()` and the per-observation scores count these (see
    /// `sweeps/terms.rs`).
    fn covers(&self) -> Option<usize> {
        self.observations()
    }

    /// For `observation_ids()`: the ids of the observations of the term it
    /// tags (see `ops/observation_ids.rs`). `None` for every other node.
    fn observation_ids(&self) -> Option<&[u32]> {
        None
    }

    /// For log-likelihood kernels of discrete distributions: how many
    /// observations have a fitted probability of numerically 1 for what
    /// was observed (a probability of 0 or 1, a Poisson mean of 0). At a
    /// maximum that means the likelihood keeps increasing towards a
    /// parameter at infinity (separation in a logistic regression), where
    /// standard errors mean nothing. `None` for every other operation.
    fn saturated(&self, _site: &Site) -> Option<usize> {
        None
    }

    /// For log-likelihood kernels: the forward tangents observation by
    /// observation, an n x dirs batch whose (i, k) entry is the derivative
    /// of observation i's (weighted) log-density along direction k,
    ///   sum_a g_ia thetadot_a[i, k].
    /// Summed over i it is `jvp`; with the identity as directions it is the
    /// matrix of per-observation scores. `None` for every other operation.
    fn observation_jvp(&self, _site: &Site, _tangents: &[Option<&Batch>], _dirs: usize) -> Option<Batch> {
        None
    }
}

/// The value behind an input of a node, for the rules' `jvp_graph`:
/// operations that take only values (not the scalar constants of the
/// tape's pool) read their inputs with it.
pub fn input_value<'a>(op: &str, input: &'a Operand) -> Result<&'a Var> {
    match input {
        Operand::Var(v) => Ok(v),
        Operand::Scalar(_) => Err(crate::Error::new(format!("internal error: {op}: an input is a plain number, not a value"))),
    }
}

/// An operation that is linear in its single input: y = L x. Its VJP is the
/// transpose, its JVP is L itself, and its second-order rule is just the
/// transpose applied to the second-order adjoint. Sums, means, transposes and
/// indexing are all of this kind.
pub trait LinearOp: Debug {
    fn name(&self) -> &'static str;
    /// The same operation recorded on another value of the input's shape
    /// (the tangent of y = L x is L xdot).
    fn record(&self, x: &Var) -> Result<Var>;
    fn forward(&self, x: &Tensor) -> Result<Tensor>;
    /// y = L x, for one column of length numel(x).
    fn apply(&self, x: &[f64], y: &mut [f64]);
    /// x += L' y, for one column of length numel(y).
    fn apply_transpose(&self, y: &[f64], x: &mut [f64]);
    /// Hessian sparsity: the parameter sets of y's elements given x's
    /// (a linear operation couples nothing). By default every element of y
    /// depends on all of x, as a sum's does.
    fn dependence(&self, x: &[Set], output_len: usize) -> Vec<Set> {
        vec![crate::hessian_pattern::union(x); output_len]
    }
}

/// Adapter that turns a `LinearOp` into a full `Rule`.
#[derive(Debug)]
pub struct Linear<L: LinearOp>(pub L);

impl<L: LinearOp> Rule for Linear<L> {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        self.0.forward(inputs[0])
    }
    fn vjp(&self, site: &Site, out_adj: &[f64], needs: &[bool]) -> Vec<Option<Vec<f64>>> {
        if !needs[0] {
            return vec![None];
        }
        let mut x = vec![0.0; site.inputs[0].numel()];
        self.0.apply_transpose(out_adj, &mut x);
        vec![Some(x)]
    }
    fn jvp_graph(&self, _inputs: &[Operand], _output: &Var, tangents: &[Option<Var>]) -> Result<Option<Var>> {
        tangents[0].as_ref().map(|t| self.0.record(t)).transpose()
    }
    fn dependence(&self, site: &Site, inputs: &[Option<&[Set]>], _fixed: &[bool], _pairs: &mut Pairs) -> Dependence {
        inputs[0].map(|x| self.0.dependence(x, site.output.numel()))
    }
    fn jvp(&self, site: &Site, tangents: &[Option<&Batch>], dirs: usize) -> Option<Batch> {
        let t = tangents[0]?;
        let mut out = Batch::zeros(site.output.numel(), dirs);
        for k in 0..dirs {
            self.0.apply(t.col(k), out.col_mut(k));
        }
        Some(out)
    }
    fn vjp_dot(
        &self,
        site: &Site,
        _tangents: &[Option<&Batch>],
        _out_adj: &[f64],
        out_adj_dot: Option<&Batch>,
        needs: &[bool],
        dirs: usize,
    ) -> Vec<Option<Batch>> {
        match out_adj_dot {
            Some(yd) if needs[0] => {
                let mut out = Batch::zeros(site.inputs[0].numel(), dirs);
                for k in 0..dirs {
                    self.0.apply_transpose(yd.col(k), out.col_mut(k));
                }
                vec![Some(out)]
            }
            _ => vec![None],
        }
    }
}
