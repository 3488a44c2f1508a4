//! Replay: a model recorded once is evaluated again at new parameter values
//! in Rust, without calling R.
//!
//! The parameter leaves get the new numbers, and every node that depends on
//! them (in recording order, which is a topological order) is evaluated
//! again by its rule. What the recording learnt from values (`Guard`s: a
//! comparison that steered an `if`, numbers R read) is then checked: if a
//! guard no longer holds, the R code would have taken another path, and the
//! replay reports it so the caller records the model again in R.

use std::cell::RefCell;
use std::rc::Rc;

use crate::tape::scalar_program::ScalarProgram;
use crate::tape::{reachable_from, Guard, GuardOperand, Tape, TapeCell, Var};
use crate::tensor::{Shape, Tensor};
use crate::{bail, Result};

/// A recorded scalar function of parameter leaves.
#[derive(Clone, Debug)]
pub struct Recording {
    root: Var,
    params: Vec<Var>,
    /// The recording as a scalar program, when it is one (see
    /// `scalar_program`), for the tape it was compiled on.
    program: Rc<RefCell<Option<Compiled>>>,
}

struct Compiled {
    /// The tape, the root's position and the number of guards it was
    /// compiled for: a tape appended to another, or given more guards,
    /// needs a new program.
    cell: Rc<TapeCell>,
    root: usize,
    guards: usize,
    program: Option<Rc<ScalarProgram>>,
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Compiled(root {}, {} guards, program: {})", self.root, self.guards, self.program.is_some())
    }
}

/// What a replay found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replayed {
    /// The tape now holds the model at the new parameters.
    Done,
    /// A guard failed: the recording does not describe the model there.
    GuardFailed,
}

impl Recording {
    /// `root` must be a scalar, and `params` distinct leaves.
    pub fn new(root: Var, params: Vec<Var>) -> Result<Recording> {
        if !root.value().is_scalar() {
            bail!("replay: the recorded output must be a scalar, got {}", root.value().shape);
        }
        for (i, p) in params.iter().enumerate() {
            if !p.is_leaf() {
                bail!("replay: parameter {} is not a leaf value", i + 1);
            }
            if params[..i].iter().any(|q| q.same_node(p)) {
                bail!("replay: parameter {} appears twice", i + 1);
            }
        }
        Ok(Recording { root, params, program: Rc::default() })
    }

    /// The scalar program of this recording on its tape as it is now
    /// (compiled on first use), or `None` when it is not one.
    fn program(&self) -> Option<Rc<ScalarProgram>> {
        let (cell, root) = self.root.resolve();
        let guards = cell.tape().guards().len();
        let mut slot = self.program.borrow_mut();
        if let Some(c) = slot.as_ref() {
            if Rc::ptr_eq(&c.cell, &cell) && c.root == root && c.guards == guards {
                return c.program.clone();
            }
        }
        let positions: Vec<Option<usize>> = self.params.iter().map(|p| p.index_relative_to(&cell)).collect();
        let theta: Vec<f64> = self.params.iter().flat_map(|p| p.value().data.to_vec()).collect();
        let program = {
            let tape = cell.tape();
            let guarded: Vec<usize> = tape.guards().iter().flat_map(|g| g.nodes()).collect();
            (theta.len() == positions.len())
                .then(|| ScalarProgram::compile(&tape, root, &guarded, &positions, &theta))
                .flatten()
                .map(Rc::new)
        };
        *slot = Some(Compiled { cell, root, guards, program: program.clone() });
        program
    }

    /// Value and gradient at the point the tape holds.
    pub fn value_and_gradient(&self) -> Result<(f64, Vec<f64>)> {
        match self.program() {
            Some(program) => Ok((program.value(), program.gradient())),
            None => crate::backward::value_and_gradient(&self.root, &self.params),
        }
    }

    /// Value, gradient and Hessian (column-major) at the point the tape holds.
    pub fn value_gradient_hessian(&self) -> Result<(f64, Vec<f64>, Vec<f64>)> {
        match self.program() {
            Some(program) => {
                let (gradient, hessian) = program.gradient_and_hessian();
                Ok((program.value(), gradient, hessian))
            }
            None => {
                let so = crate::second_order::second_order(&self.root, &self.params, None)?;
                Ok((so.value, so.gradient, so.hessian_times.into_data()))
            }
        }
    }

    pub fn root(&self) -> &Var {
        &self.root
    }
    pub fn params(&self) -> &[Var] {
        &self.params
    }
    /// Number of parameter elements.
    pub fn len(&self) -> usize {
        self.params.iter().map(|p| p.value().numel()).sum()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sets the parameters to `theta` (their elements concatenated) and
    /// evaluates again everything that depends on them.
    pub fn replay(&self, theta: &[f64]) -> Result<Replayed> {
        if theta.len() != self.len() {
            bail!("replay: {} for {}", crate::error::count_of(theta.len(), "number"), crate::error::count_of(self.len(), "parameter element"));
        }
        if let Some(program) = self.program() {
            let (cell, _) = self.root.resolve();
            let mut tape = cell.tape_mut();
            program.replay(theta, &mut tape);
            let holds = tape.guards().iter().all(|g| guard_holds(&tape, g));
            return Ok(if holds { Replayed::Done } else { Replayed::GuardFailed });
        }
        let (cell, root) = self.root.resolve();
        // Positions and sizes first: resolving a handle borrows the tape.
        let placed: Vec<(Option<usize>, usize)> =
            self.params.iter().map(|p| (p.index_relative_to(&cell), p.value().numel())).collect();
        let mut tape = cell.tape_mut();
        let mut dirty = vec![false; tape.len()];
        let mut at = 0;
        for (position, n) in placed {
            // A parameter on another tape does not enter the model.
            if let Some(i) = position {
                let node = tape.node_mut(i);
                node.value = Tensor { shape: node.value.shape, data: theta[at..at + n].into() };
                dirty[i] = true;
            }
            at += n;
        }
        // Only what the model's output and the guards depend on is
        // evaluated again; the rest of the tape (other recordings from the
        // same values) keeps its old numbers and is never read here.
        let mut roots: Vec<usize> = tape.guards().iter().flat_map(|g| g.nodes()).collect();
        roots.push(root);
        let live = reachable_from(&tape, &roots);
        for pos in (0..live.len()).filter(|&pos| live[pos]) {
            let Some(rule) = tape.node(pos).rule.clone() else { continue };
            if !tape.inputs(pos).any(|input| input.node().is_some_and(|j| dirty[j])) {
                continue;
            }
            dirty[pos] = true;
            let value = evaluate(&tape, pos, &*rule)?;
            tape.node_mut(pos).value = value;
        }
        let holds = tape.guards().iter().all(|g| !g.nodes().any(|i| dirty[i]) || guard_holds(&tape, g));
        Ok(if holds { Replayed::Done } else { Replayed::GuardFailed })
    }
}

/// The value of node `pos` from its inputs' current values.
fn evaluate(tape: &Tape, pos: usize, rule: &dyn crate::rule::Rule) -> Result<Tensor> {
    if tape.node(pos).value.shape == Shape::scalar() {
        if let Some(y) = tape.scalar_inputs(pos).and_then(|(x, n)| rule.scalar_value(&x[..n])) {
            return Ok(Tensor::scalar(y));
        }
    }
    rule.forget();
    let values = tape.input_values(pos);
    let refs: Vec<&Tensor> = values.iter().collect();
    rule.forward(&refs)
}

fn operand_numbers(tape: &Tape, operand: &GuardOperand) -> Vec<f64> {
    match operand {
        GuardOperand::Node(i) => tape.node(*i).value.data.to_vec(),
        GuardOperand::Numbers(x) => x.clone(),
    }
}

/// Elementwise `a op b` with R's recycling; NA (`None`) where a number is NaN.
pub fn compare(op: crate::tape::Comparison, a: &[f64], b: &[f64]) -> Vec<Option<bool>> {
    if a.is_empty() || b.is_empty() {
        return Vec::new();
    }
    let n = a.len().max(b.len());
    (0..n)
        .map(|i| {
            let (x, y) = (a[i % a.len()], b[i % b.len()]);
            (!x.is_nan() && !y.is_nan()).then(|| op.holds(x, y))
        })
        .collect()
}

fn guard_holds(tape: &Tape, guard: &Guard) -> bool {
    match guard {
        Guard::Compare { op, a, b, outcome } => {
            compare(*op, &operand_numbers(tape, a), &operand_numbers(tape, b)) == *outcome
        }
        Guard::Numbers { node, value } => {
            let now = &tape.node(*node).value.data;
            now.len() == value.len() && now.iter().zip(value).all(|(x, y)| x.to_bits() == y.to_bits())
        }
    }
}

/// One side of a comparison R asked for: a value, or plain numbers.
#[derive(Debug, Clone)]
pub enum Side {
    Var(Var),
    Numbers(Vec<f64>),
}

/// `a op b` elementwise (R's recycling, NA where a number is NaN), as R's
/// comparison operators compute it. When a side depends on a leaf, the
/// outcome is kept as a guard: a replay that changes it is refused.
pub fn compare_values(op: crate::tape::Comparison, a: Side, b: Side) -> Vec<Option<bool>> {
    let vars: Vec<crate::tape::Operand> = [&a, &b]
        .into_iter()
        .filter_map(|s| match s {
            Side::Var(v) => Some(v.into()),
            Side::Numbers(_) => None,
        })
        .collect();
    let cell = crate::tape::unite(&vars);
    // Positions first: resolving a handle borrows the tape.
    let operand = |side: Side| match side {
        Side::Var(v) => GuardOperand::Node(v.index_relative_to(&cell).expect("the tapes were united")),
        Side::Numbers(x) => GuardOperand::Numbers(x),
    };
    let (a, b) = (operand(a), operand(b));
    let mut tape = cell.tape_mut();
    let depends = [&a, &b].iter().any(|o| matches!(o, GuardOperand::Node(i) if tape.node(*i).requires_grad));
    let outcome = compare(op, &operand_numbers(&tape, &a), &operand_numbers(&tape, &b));
    if depends {
        tape.add_guard(Guard::Compare { op, a, b, outcome: outcome.clone() });
    }
    outcome
}
