//! A recording of scalar arithmetic compiled into a flat program, for the
//! replays of models written as R loops (an AR(1) likelihood over 500 time
//! points is 4500 scalar nodes, replayed and differentiated at every point
//! an optimiser visits).
//!
//! Replaying the tape itself re-reads each node through its rule (a
//! dynamic call, a tensor, a reference count) and the sweeps rebuild their
//! bookkeeping at every call. The program keeps only the nodes that move
//! with the parameters, in recording order, each as an operation code and
//! two operands (an earlier slot or a number fixed for the recording), and
//! keeps its work arrays between calls. It computes what the tape's replay
//! and `sweeps::scalar_tape` compute, with the same formulas in the same
//! order, and writes its values back onto the tape, which therefore still
//! holds the model at the new parameters.

use std::cell::RefCell;

use crate::batch::Batch;
use crate::rule::{Elementwise, Partials};
use crate::second_order::symmetrize;
use crate::sweeps::scalar_tape::DenseArrays;
use crate::tape::{reachable_from, Input, Tape};
use crate::tensor::Tensor;

/// An operand: the value of an earlier slot, or a number that does not
/// move with the parameters.
#[derive(Clone, Copy, Debug)]
enum Source {
    Slot(u32),
    Fixed(f64),
}

#[derive(Clone, Copy, Debug)]
struct Step {
    op: Elementwise,
    inputs: [Source; 2],
    /// The node's position on the tape (for writing its value back).
    position: usize,
}

impl Step {
    fn numbers(&self, values: &[f64]) -> [f64; 2] {
        self.inputs.map(|s| match s {
            Source::Slot(j) => values[j as usize],
            Source::Fixed(x) => x,
        })
    }
}

/// Work arrays kept between calls (sized on first use).
#[derive(Default, Debug)]
struct Work {
    partials: Vec<Partials>,
    tangent: Vec<f64>,
    adjoint: Vec<f64>,
    adjoint_dot: Vec<f64>,
    reached: Vec<bool>,
}

/// Slots 0..p hold the parameters (scalar leaves, in the recording's
/// order); slot p + k holds step k's value.
#[derive(Debug)]
pub struct ScalarProgram {
    p: usize,
    /// Each parameter's position on the tape (`None`: not on this tape, so
    /// it does not enter the model).
    params: Vec<Option<usize>>,
    steps: Vec<Step>,
    /// The output's slot, or its fixed value when it does not move.
    output: Source,
    values: RefCell<Vec<f64>>,
    work: RefCell<Work>,
}

impl ScalarProgram {
    /// The program of the nodes that `root` and `guarded` (the nodes guards
    /// read) depend on, with `params` the positions of the parameter leaves
    /// (all scalars) and `theta` their values now. `None` when a node that
    /// moves is not a scalar
    /// elementwise operation; the tape's own replay and sweeps are then used.
    pub fn compile(tape: &Tape, root: usize, guarded: &[usize], params: &[Option<usize>], theta: &[f64]) -> Option<ScalarProgram> {
        let mut roots = guarded.to_vec();
        roots.push(root);
        let live = reachable_from(tape, &roots);
        let mut slot_of: Vec<Option<u32>> = vec![None; live.len()];
        for (k, pos) in params.iter().enumerate() {
            let Some(pos) = *pos else { continue };
            let v = &tape.node(pos).value;
            if v.numel() != 1 || v.shape.is_matrix() {
                return None;
            }
            if pos < slot_of.len() {
                slot_of[pos] = Some(k as u32);
            }
        }
        let mut values = theta.to_vec();
        let mut steps = Vec::new();
        for pos in (0..live.len()).filter(|&pos| live[pos]) {
            let node = tape.node(pos);
            let Some(rule) = node.rule.as_ref() else { continue };
            let moves = tape.inputs(pos).any(|input| input.node().is_some_and(|j| slot_of[j].is_some()));
            if !moves {
                continue;
            }
            let op = rule.elementwise()?;
            if node.value.numel() != 1 || node.value.shape.is_matrix() || tape.inputs(pos).len() != op.arity() {
                return None;
            }
            let mut inputs = [Source::Fixed(0.0); 2];
            for (k, input) in tape.inputs(pos).enumerate() {
                inputs[k] = match input {
                    Input::Node(j) => match slot_of[j] {
                        Some(s) => Source::Slot(s),
                        None => {
                            let v = &tape.node(j).value;
                            if v.numel() != 1 || v.shape.is_matrix() {
                                return None;
                            }
                            Source::Fixed(v.data[0])
                        }
                    },
                    Input::Constant(_) => Source::Fixed(tape.input_value(input).data[0]),
                };
            }
            slot_of[pos] = Some((params.len() + steps.len()) as u32);
            values.push(node.value.data[0]);
            steps.push(Step { op, inputs, position: pos });
        }
        let output = match slot_of[root] {
            Some(s) => Source::Slot(s),
            None => Source::Fixed(tape.node(root).value.data[0]),
        };
        Some(ScalarProgram { p: params.len(), params: params.to_vec(), steps, output, values: RefCell::new(values), work: RefCell::default() })
    }

    /// Evaluates the program at `theta` and writes the values onto `tape`.
    pub fn replay(&self, theta: &[f64], tape: &mut Tape) {
        let mut values = self.values.borrow_mut();
        values[..self.p].copy_from_slice(theta);
        for (pos, &x) in self.params.iter().zip(theta) {
            if let Some(pos) = *pos {
                tape.node_mut(pos).value = Tensor::scalar(x);
            }
        }
        for (k, step) in self.steps.iter().enumerate() {
            let y = step.op.value(step.numbers(&values));
            values[self.p + k] = y;
            tape.node_mut(step.position).value = Tensor::scalar(y);
        }
    }

    pub fn value(&self) -> f64 {
        match self.output {
            Source::Slot(s) => self.values.borrow()[s as usize],
            Source::Fixed(x) => x,
        }
    }

    /// The gradient at the point of the last replay.
    pub fn gradient(&self) -> Vec<f64> {
        let Source::Slot(out) = self.output else { return vec![0.0; self.p] };
        let values = self.values.borrow();
        let mut guard = self.work.borrow_mut();
        let Work { adjoint, reached, .. } = &mut *guard;
        adjoint.clear();
        adjoint.resize(values.len(), 0.0);
        reached.clear();
        reached.resize(values.len(), false);
        adjoint[out as usize] = 1.0;
        reached[out as usize] = true;
        // Only steps the output reached pass their adjoint on, as in the
        // tape's sweep: a zero adjoint times a partial that is not finite
        // (a guard's node off the output's path) would otherwise be NaN.
        for (k, step) in self.steps.iter().enumerate().rev() {
            if !reached[self.p + k] {
                continue;
            }
            let g = adjoint[self.p + k];
            let x = step.numbers(&values);
            let d = step.op.partials(x, values[self.p + k]);
            for (i, w) in [d.a, d.b].into_iter().enumerate().take(step.op.arity()) {
                if let Source::Slot(j) = step.inputs[i] {
                    adjoint[j as usize] += g * w;
                    reached[j as usize] = true;
                }
            }
        }
        adjoint[..self.p].to_vec()
    }

    /// Gradient and Hessian (p x p, column-major) at the point of the last
    /// replay: forward tangents along each parameter, then adjoints and
    /// their derivatives from the output down, as `scalar_tape` computes
    /// them.
    pub fn gradient_and_hessian(&self) -> (Vec<f64>, Vec<f64>) {
        let p = self.p;
        let Source::Slot(out) = self.output else { return (vec![0.0; p], vec![0.0; p * p]) };
        let values = self.values.borrow();
        let mut guard = self.work.borrow_mut();
        let Work { partials, tangent, adjoint, adjoint_dot, reached } = &mut *guard;
        let n = values.len();
        partials.clear();
        partials.resize(self.steps.len(), Partials::default());
        tangent.clear();
        tangent.resize(n * p, 0.0);
        for k in 0..p {
            tangent[k * p + k] = 1.0;
        }
        for (k, step) in self.steps.iter().enumerate() {
            let x = step.numbers(&values);
            let d = step.op.partials(x, values[p + k]);
            partials[k] = d;
            let (done, rest) = tangent.split_at_mut((p + k) * p);
            let row = &mut rest[..p];
            for (i, w) in [d.a, d.b].into_iter().enumerate().take(step.op.arity()) {
                let Source::Slot(j) = step.inputs[i] else { continue };
                let j = j as usize;
                row.iter_mut().zip(&done[j * p..(j + 1) * p]).for_each(|(o, t)| *o += w * t);
            }
        }

        adjoint.clear();
        adjoint.resize(n, 0.0);
        adjoint_dot.clear();
        adjoint_dot.resize(n * p, 0.0);
        reached.clear();
        reached.resize(n, false);
        adjoint[out as usize] = 1.0;
        reached[out as usize] = true;
        for (k, step) in self.steps.iter().enumerate().rev() {
            let at = p + k;
            if !reached[at] {
                continue;
            }
            let mut inputs = [None; 2];
            for (i, source) in step.inputs.iter().enumerate().take(step.op.arity()) {
                if let Source::Slot(j) = source {
                    inputs[i] = Some(*j as usize);
                }
            }
            let mut arrays = DenseArrays { adjoint, reached, adjoint_dot, tangent, dirs: p };
            arrays.reverse_step(at, &partials[k], inputs);
        }
        let mut hessian = Batch::zeros(p, p);
        for k in 0..p {
            for (c, h) in hessian.col_mut(k).iter_mut().enumerate() {
                // row: parameter c; column: direction k
                *h = adjoint_dot[c * p + k];
            }
        }
        symmetrize(&mut hessian);
        (adjoint[..p].to_vec(), hessian.into_data())
    }
}

#[cfg(test)]
#[path = "scalar_program_tests.rs"]
mod tests;

