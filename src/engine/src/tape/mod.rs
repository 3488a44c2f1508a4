//! The tape: every operation recorded in order into one arena.
//!
//! Recording order is a topological order (an operation's inputs exist
//! before it), so the sweeps walk the tape by index, backwards or forwards,
//! with no sorting, no hash maps and no recursion. A node holds its value
//! (a scalar inline, an array behind one shared buffer), its rule, and the
//! positions of its inputs in a shared edge list; a scalar constant mixed
//! into an operation (`y + 1e-6`) is not a node at all but an entry of the
//! tape's constant pool, referred to by a tagged edge.
//!
//! A `Var` is a light handle: the tape it was recorded on and its position
//! there. Each `val()` starts a tape of its own; an operation on values of
//! two tapes appends the smaller tape to the larger one, and the smaller
//! becomes a forwarding stub (`Slot::Merged`) so that handles on it still
//! find their nodes. A tape is freed when the last handle that reaches it
//! (directly or through a stub) is gone.
//!
//! `record.rs` holds the entry points that append operations by name. A
//! tape can also be replayed (`replay.rs`): its parameter leaves are given
//! new values and every node that depends on them is evaluated again, in
//! Rust. What R learnt from values while recording (a comparison, the
//! numbers of a value) is kept as a `Guard`, checked after each replay.

pub mod graph;
pub mod record;
pub mod replay;
pub mod scalar_program;
#[cfg(test)]
mod replay_tests;

use std::cell::{Ref, RefCell, RefMut};
use std::rc::Rc;

use crate::rule::{Rule, Site};
use crate::sweeps::adjoints::Adjoints;
use crate::tensor::Tensor;
use crate::{bail, Result};

/// Edges with this bit set refer to the constant pool, not to a node.
const CONSTANT_EDGE: u32 = 1 << 31;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A value made by `val()`: receives gradients.
    Leaf,
    /// Plain numbers mixed into an expression: no gradient.
    Constant,
    /// The result of an operation.
    Operation,
}

pub struct Node {
    pub value: Tensor,
    pub rule: Option<Rc<dyn Rule>>,
    first_input: u32,
    n_inputs: u16,
    pub kind: Kind,
    /// False for nodes that depend on no leaf: no adjoint is computed for
    /// them, which also keeps NaN partials such as d(a^b)/db at a < 0 out
    /// of the sweeps when b is a constant.
    pub requires_grad: bool,
    /// The rule as an elementwise operation, when it is one
    /// (`Rule::elementwise`), read once at recording: the reverse sweep over
    /// a tape of scalars then needs no dynamic call per node.
    pub elementwise: Option<crate::rule::Elementwise>,
}

/// An input of a node: another node, or a scalar constant of the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    Node(usize),
    Constant(usize),
}

impl Input {
    fn from_edge(edge: u32) -> Input {
        if edge & CONSTANT_EDGE != 0 {
            Input::Constant((edge & !CONSTANT_EDGE) as usize)
        } else {
            Input::Node(edge as usize)
        }
    }
    /// The node, if the input is one.
    pub fn node(self) -> Option<usize> {
        match self {
            Input::Node(i) => Some(i),
            Input::Constant(_) => None,
        }
    }
}

/// A comparison operator, as recorded by a guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Less,
    LessEqual,
    Greater,
    GreaterEqual,
    Equal,
    NotEqual,
}

impl Comparison {
    pub fn from_name(name: &str) -> Option<Comparison> {
        Some(match name {
            "<" => Comparison::Less,
            "<=" => Comparison::LessEqual,
            ">" => Comparison::Greater,
            ">=" => Comparison::GreaterEqual,
            "==" => Comparison::Equal,
            "!=" => Comparison::NotEqual,
            _ => return None,
        })
    }
    pub fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Comparison::Less => a < b,
            Comparison::LessEqual => a <= b,
            Comparison::Greater => a > b,
            Comparison::GreaterEqual => a >= b,
            Comparison::Equal => a == b,
            Comparison::NotEqual => a != b,
        }
    }
}

/// What a recording learnt from the values of nodes. A replay that
/// changes what a guard saw would not follow the R code, so it is refused
/// and the model is recorded again.
#[derive(Debug, Clone)]
pub enum Guard {
    /// `a op b` (elementwise, R's recycling) gave `outcome`; `a` and `b`
    /// are nodes or, when `None`, the recorded plain numbers.
    Compare { op: Comparison, a: GuardOperand, b: GuardOperand, outcome: Vec<Option<bool>> },
    /// R read the numbers of `node` (`value_of()`, `as.double()`, ...):
    /// they must be the same, bit for bit.
    Numbers { node: usize, value: Vec<f64> },
}

#[derive(Debug, Clone)]
pub enum GuardOperand {
    Node(usize),
    Numbers(Vec<f64>),
}

impl GuardOperand {
    fn shifted(self, offset: usize) -> GuardOperand {
        match self {
            GuardOperand::Node(i) => GuardOperand::Node(i + offset),
            numbers => numbers,
        }
    }
    fn node(&self) -> Option<usize> {
        match self {
            GuardOperand::Node(i) => Some(*i),
            GuardOperand::Numbers(_) => None,
        }
    }
}

impl Guard {
    fn shifted(self, offset: usize) -> Guard {
        match self {
            Guard::Compare { op, a, b, outcome } => {
                Guard::Compare { op, a: a.shifted(offset), b: b.shifted(offset), outcome }
            }
            Guard::Numbers { node, value } => Guard::Numbers { node: node + offset, value },
        }
    }
    /// The nodes whose values the guard looked at.
    pub fn nodes(&self) -> impl Iterator<Item = usize> + '_ {
        let (a, b) = match self {
            Guard::Compare { a, b, .. } => (a.node(), b.node()),
            Guard::Numbers { node, .. } => (Some(*node), None),
        };
        a.into_iter().chain(b)
    }
}

#[derive(Default)]
pub struct Tape {
    nodes: Vec<Node>,
    edges: Vec<u32>,
    constants: Vec<f64>,
    /// What `backward()` accumulated on each node.
    grads: Adjoints,
    guards: Vec<Guard>,
    /// Names given to nodes (`val(3, label = "x")`), for views of the
    /// graph only: few nodes have one, so they are kept apart from `nodes`.
    labels: Vec<(usize, Rc<str>)>,
}

impl Tape {
    pub fn len(&self) -> usize {
        self.nodes.len()
    }
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
    #[inline]
    pub fn node(&self, i: usize) -> &Node {
        &self.nodes[i]
    }
    pub fn node_mut(&mut self, i: usize) -> &mut Node {
        &mut self.nodes[i]
    }
    #[inline]
    pub fn inputs(&self, i: usize) -> impl ExactSizeIterator<Item = Input> + '_ {
        let n = &self.nodes[i];
        let start = n.first_input as usize;
        self.edges[start..start + n.n_inputs as usize].iter().map(|&e| Input::from_edge(e))
    }
    /// The value of an input (a cheap copy: scalars are inline, arrays shared).
    pub fn input_value(&self, input: Input) -> Tensor {
        match input {
            Input::Node(j) => self.nodes[j].value.clone(),
            Input::Constant(c) => Tensor::scalar(self.constants[c]),
        }
    }
    /// The numbers of node `i`'s inputs when it has one or two and each is
    /// a scalar (the common case of models written as loops), without
    /// building tensors; `None` otherwise.
    #[inline]
    pub fn scalar_inputs(&self, i: usize) -> Option<([f64; 2], usize)> {
        let mut x = [0.0; 2];
        let inputs = self.inputs(i);
        let n = inputs.len();
        if n > 2 {
            return None;
        }
        for (k, input) in inputs.enumerate() {
            x[k] = match input {
                Input::Node(j) => {
                    let v = &self.nodes[j].value;
                    if !v.is_scalar() {
                        return None;
                    }
                    v.data[0]
                }
                Input::Constant(c) => self.constants[c],
            };
        }
        Some((x, n))
    }
    /// The values of node `i`'s inputs.
    pub fn input_values(&self, i: usize) -> Vec<Tensor> {
        self.inputs(i).map(|input| self.input_value(input)).collect()
    }
    /// Whether an input carries a gradient.
    pub fn input_requires_grad(&self, input: Input) -> bool {
        input.node().is_some_and(|j| self.nodes[j].requires_grad)
    }
    /// The name given to node `i`, if any.
    pub fn label(&self, i: usize) -> Option<&str> {
        self.labels.iter().rev().find(|(j, _)| *j == i).map(|(_, l)| &**l)
    }
    /// Names node `i` (replacing an earlier name).
    pub fn set_label(&mut self, i: usize, label: &str) {
        self.labels.retain(|(j, _)| *j != i);
        self.labels.push((i, Rc::from(label)));
    }
    /// Every named node and its name.
    pub fn labels(&self) -> impl Iterator<Item = (usize, &str)> + '_ {
        self.labels.iter().map(|(i, l)| (*i, &**l))
    }
    pub fn guards(&self) -> &[Guard] {
        &self.guards
    }
    pub fn add_guard(&mut self, guard: Guard) {
        self.guards.push(guard);
    }

    /// Bytes held by the tape's arrays (not counting shared array data).
    pub fn bytes(&self) -> usize {
        use std::mem::size_of;
        self.nodes.capacity() * size_of::<Node>()
            + self.edges.capacity() * size_of::<u32>()
            + self.constants.capacity() * size_of::<f64>()
            + self.grads.bytes()
    }

    /// Puts a scalar constant in the pool; the edge that refers to it.
    fn push_constant(&mut self, x: f64) -> Result<u32> {
        if self.constants.len() >= CONSTANT_EDGE as usize {
            bail!("tape: too many constants in one recording");
        }
        self.constants.push(x);
        Ok(CONSTANT_EDGE | (self.constants.len() - 1) as u32)
    }

    fn push(&mut self, value: Tensor, rule: Option<Rc<dyn Rule>>, inputs: &[u32], kind: Kind, requires_grad: bool) -> Result<usize> {
        if self.nodes.len() >= CONSTANT_EDGE as usize {
            bail!("tape: more than {} operations in one recording", CONSTANT_EDGE);
        }
        let first_input = self.edges.len() as u32;
        self.edges.extend_from_slice(inputs);
        let elementwise = rule.as_ref().and_then(|r| r.elementwise());
        self.nodes.push(Node { value, rule, first_input, n_inputs: inputs.len() as u16, kind, requires_grad, elementwise });
        Ok(self.nodes.len() - 1)
    }

    /// Appends every node of `other` (its positions shifted by our length).
    fn append(&mut self, other: Tape) -> usize {
        let offset = self.nodes.len();
        let edge_offset = self.edges.len() as u32;
        let constant_offset = self.constants.len() as u32;
        self.edges.extend(other.edges.iter().map(|&e| {
            if e & CONSTANT_EDGE != 0 {
                e + constant_offset
            } else {
                e + offset as u32
            }
        }));
        self.constants.extend_from_slice(&other.constants);
        self.nodes.extend(other.nodes.into_iter().map(|mut n| {
            n.first_input += edge_offset;
            n
        }));
        self.grads.append(offset, other.grads);
        self.guards.extend(other.guards.into_iter().map(|g| g.shifted(offset)));
        self.labels.extend(other.labels.into_iter().map(|(i, l)| (i + offset, l)));
        offset
    }

    /// The accumulated gradient of node `i`, zeros if none reached it.
    pub fn grad(&self, i: usize) -> Vec<f64> {
        self.grads.get(i).map_or_else(|| vec![0.0; self.nodes[i].value.numel()], <[f64]>::to_vec)
    }
    /// Adds a reverse sweep's adjoints to the nodes' gradients. The first
    /// pass over a tape hands its adjoints over whole: over a long chain,
    /// copying them would cost as much as the sweep.
    pub fn accumulate_grads(&mut self, adjoints: Adjoints) {
        if self.grads.is_empty() {
            self.grads = adjoints;
            return;
        }
        self.grads.reserve(adjoints.len());
        for i in 0..adjoints.len() {
            if let Some(a) = adjoints.get(i) {
                self.grads.accumulate(i, a);
            }
        }
    }
    pub fn zero_grad(&mut self, i: usize) {
        self.grads.clear(i);
    }
}

/// A tape, or where it went when it was appended to another.
enum Slot {
    Own(Tape),
    Merged { into: Rc<TapeCell>, offset: usize },
}

pub struct TapeCell(RefCell<Slot>);

impl TapeCell {
    fn new() -> Rc<TapeCell> {
        Rc::new(TapeCell(RefCell::new(Slot::Own(Tape::default()))))
    }

    /// The tape this cell's nodes live on now, and where they start there.
    pub fn resolve(self: &Rc<Self>) -> (Rc<TapeCell>, usize) {
        let mut cell = Rc::clone(self);
        let mut offset = 0;
        loop {
            let next = match &*cell.0.borrow() {
                Slot::Own(_) => None,
                Slot::Merged { into, offset: o } => Some((Rc::clone(into), *o)),
            };
            match next {
                None => return (cell, offset),
                Some((into, o)) => {
                    cell = into;
                    offset += o;
                }
            }
        }
    }

    /// The tape of a resolved cell (see `resolve`).
    pub fn tape(&self) -> Ref<'_, Tape> {
        Ref::map(self.0.borrow(), |slot| match slot {
            Slot::Own(t) => t,
            Slot::Merged { .. } => unreachable!("tape(): the cell was not resolved"),
        })
    }
    pub fn tape_mut(&self) -> RefMut<'_, Tape> {
        RefMut::map(self.0.borrow_mut(), |slot| match slot {
            Slot::Own(t) => t,
            Slot::Merged { .. } => unreachable!("tape_mut(): the cell was not resolved"),
        })
    }
}

impl Drop for TapeCell {
    /// Dropping a stub drops its handle on the next tape; a long chain of
    /// stubs is unlinked iteratively rather than by recursion.
    fn drop(&mut self) {
        let mut next = match std::mem::replace(self.0.get_mut(), Slot::Own(Tape::default())) {
            Slot::Merged { into, .. } => Some(into),
            Slot::Own(_) => None,
        };
        while let Some(cell) = next.take() {
            if let Ok(mut inner) = Rc::try_unwrap(cell) {
                if let Slot::Merged { into, .. } = std::mem::replace(inner.0.get_mut(), Slot::Own(Tape::default())) {
                    next = Some(into);
                }
            }
        }
    }
}

/// A handle on a node: its tape and its position there.
#[derive(Clone)]
pub struct Var {
    cell: Rc<TapeCell>,
    index: usize,
}

impl std::fmt::Debug for Var {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (cell, i) = self.resolve();
        let tape = cell.tape();
        let node = tape.node(i);
        write!(f, "Var(#{i} {:?} {})", node.kind, node.value.shape)
    }
}

impl Var {
    /// A handle on node `index` of the tape in `cell` (as that cell numbers
    /// its nodes). The bindings rebuild handles this way.
    pub fn at(cell: Rc<TapeCell>, index: usize) -> Result<Var> {
        let v = Var { cell, index };
        let (root, i) = v.resolve();
        if i >= root.tape().len() {
            bail!("internal error: a value refers to node {} of a tape of {}", i, root.tape().len());
        }
        Ok(v)
    }

    /// A leaf that receives gradients (what `val()` makes), on a tape of its own.
    pub fn leaf(value: Tensor) -> Var {
        Var::alone(value, Kind::Leaf)
    }

    /// Plain numbers that never receive gradients, on a tape of their own.
    pub fn constant(value: Tensor) -> Var {
        Var::alone(value, Kind::Constant)
    }

    fn alone(value: Tensor, kind: Kind) -> Var {
        let cell = TapeCell::new();
        let index = cell.tape_mut().push(value, None, &[], kind, kind == Kind::Leaf).expect("an empty tape has room");
        Var { cell, index }
    }

    /// The tape the node lives on now, and its position there.
    pub fn resolve(&self) -> (Rc<TapeCell>, usize) {
        let (cell, offset) = self.cell.resolve();
        (cell, self.index + offset)
    }

    /// The cell this handle was made on (not resolved) and its position
    /// there, which the bindings store in an R value.
    pub fn cell(&self) -> &Rc<TapeCell> {
        &self.cell
    }
    pub fn local_index(&self) -> usize {
        self.index
    }

    /// This node's position relative to `cell`, if `cell` resolves to the
    /// same tape: a handle on `cell` with that position reaches this node.
    pub fn index_relative_to(&self, cell: &Rc<TapeCell>) -> Option<usize> {
        let (root, i) = self.resolve();
        let (other_root, offset) = cell.resolve();
        (Rc::ptr_eq(&root, &other_root) && i >= offset).then(|| i - offset)
    }

    /// `apply` for an elementwise rule (its value on scalars is
    /// `Rule::scalar_value`). One or two scalar inputs on one tape, the
    /// common case of models written as loops, are recorded without
    /// building tensors or vectors; anything else goes through `apply`.
    pub fn apply_elementwise(rule: Rc<dyn Rule>, inputs: &[Operand]) -> Result<Var> {
        match Var::record_scalar(&rule, inputs)? {
            Some(v) => Ok(v),
            None => Var::apply(rule, inputs),
        }
    }

    fn record_scalar(rule: &Rc<dyn Rule>, inputs: &[Operand]) -> Result<Option<Var>> {
        let n = inputs.len();
        if n == 0 || n > 2 {
            return Ok(None);
        }
        let mut root: Option<Rc<TapeCell>> = None;
        let mut positions = [0usize; 2];
        for (k, input) in inputs.iter().enumerate() {
            if let Operand::Var(v) = input {
                let (r, i) = v.resolve();
                match &root {
                    Some(existing) if !Rc::ptr_eq(existing, &r) => return Ok(None), // tapes to unite first
                    Some(_) => {}
                    None => root = Some(r),
                }
                positions[k] = i;
            }
        }
        let Some(root) = root else { return Ok(None) };
        let mut tape = root.tape_mut();
        let mut x = [0.0; 2];
        let mut requires_grad = false;
        for (k, input) in inputs.iter().enumerate() {
            x[k] = match input {
                Operand::Var(_) => {
                    let node = &tape.nodes[positions[k]];
                    if node.value.numel() != 1 || node.value.shape.is_matrix() {
                        return Ok(None);
                    }
                    requires_grad |= node.requires_grad;
                    node.value.data[0]
                }
                Operand::Scalar(c) => *c,
            };
        }
        let Some(value) = rule.scalar_value(&x[..n]) else { return Ok(None) };
        let mut edges = [0u32; 2];
        for (k, input) in inputs.iter().enumerate() {
            edges[k] = match input {
                Operand::Var(_) => positions[k] as u32,
                Operand::Scalar(c) => tape.push_constant(*c)?,
            };
        }
        let index = tape.push(Tensor::scalar(value), Some(Rc::clone(rule)), &edges[..n], Kind::Operation, requires_grad)?;
        drop(tape);
        Ok(Some(Var { cell: root, index }))
    }

    /// Records an operation on `inputs` (values of any tapes, or scalar
    /// constants), computing its value now. Inputs on different tapes are
    /// first brought onto one.
    pub fn apply(rule: Rc<dyn Rule>, inputs: &[Operand]) -> Result<Var> {
        let root = unite(inputs);
        // Positions first: resolving a handle borrows the tape.
        let positions: Vec<Option<usize>> = inputs
            .iter()
            .map(|input| match input {
                Operand::Var(v) => Some(v.index_relative_to(&root).expect("inputs were united")),
                Operand::Scalar(_) => None,
            })
            .collect();
        let mut tape = root.tape_mut();
        let mut edges: Vec<u32> = Vec::with_capacity(inputs.len());
        let mut requires_grad = false;
        for (input, position) in inputs.iter().zip(positions) {
            match input {
                Operand::Var(_) => {
                    let i = position.expect("a value has a position");
                    requires_grad |= tape.nodes[i].requires_grad;
                    edges.push(i as u32);
                }
                Operand::Scalar(x) => edges.push(tape.push_constant(*x)?),
            }
        }
        let value = {
            let values: Vec<Tensor> = edges.iter().map(|&e| tape.input_value(Input::from_edge(e))).collect();
            let refs: Vec<&Tensor> = values.iter().collect();
            rule.forward(&refs)?
        };
        let index = tape.push(value, Some(rule), &edges, Kind::Operation, requires_grad)?;
        drop(tape);
        Ok(Var { cell: root, index })
    }

    pub fn value(&self) -> Tensor {
        let (cell, i) = self.resolve();
        let v = cell.tape().nodes[i].value.clone();
        v
    }
    pub fn is_leaf(&self) -> bool {
        self.kind() == Kind::Leaf
    }
    pub fn kind(&self) -> Kind {
        let (cell, i) = self.resolve();
        let k = cell.tape().nodes[i].kind;
        k
    }
    pub fn requires_grad(&self) -> bool {
        let (cell, i) = self.resolve();
        let r = cell.tape().nodes[i].requires_grad;
        r
    }
    /// Name of the node's operation (`None` for leaves and constants).
    pub fn rule_name(&self) -> Option<&'static str> {
        let (cell, i) = self.resolve();
        let name = cell.tape().nodes[i].rule.as_ref().map(|r| r.name());
        name
    }
    /// The name given to the node, if any.
    pub fn label(&self) -> Option<String> {
        let (cell, i) = self.resolve();
        let label = cell.tape().label(i).map(str::to_string);
        label
    }
    /// Names the node in views of the graph (`graph::graph_of`).
    pub fn set_label(&self, label: &str) {
        let (cell, i) = self.resolve();
        cell.tape_mut().set_label(i, label);
    }
    /// The accumulated gradient, zeros if no backward pass has reached it.
    pub fn grad(&self) -> Vec<f64> {
        let (cell, i) = self.resolve();
        let g = cell.tape().grad(i);
        g
    }
    /// Records that R saw this node's numbers (see `Guard::Numbers`); a
    /// node that depends on no leaf cannot change, and needs no guard.
    pub fn guard_numbers(&self) {
        let (cell, i) = self.resolve();
        let mut tape = cell.tape_mut();
        if tape.nodes[i].requires_grad {
            let value = tape.nodes[i].value.data.to_vec();
            tape.guards.push(Guard::Numbers { node: i, value });
        }
    }
    /// Same node?
    pub fn same_node(&self, other: &Var) -> bool {
        let (a, i) = self.resolve();
        let (b, j) = other.resolve();
        Rc::ptr_eq(&a, &b) && i == j
    }
}

/// An input of an operation being recorded.
#[derive(Clone, Debug)]
pub enum Operand {
    Var(Var),
    Scalar(f64),
}

impl From<&Var> for Operand {
    fn from(v: &Var) -> Operand {
        Operand::Var(v.clone())
    }
}

impl From<f64> for Operand {
    fn from(x: f64) -> Operand {
        Operand::Scalar(x)
    }
}

impl From<Var> for Operand {
    fn from(v: Var) -> Operand {
        Operand::Var(v)
    }
}

/// Brings the tapes of `vars` onto one (the largest; the others are
/// appended to it) and returns it. With no values among the inputs, a new
/// tape.
pub fn unite(inputs: &[Operand]) -> Rc<TapeCell> {
    let mut roots: Vec<Rc<TapeCell>> = Vec::new();
    for input in inputs {
        if let Operand::Var(v) = input {
            let (root, _) = v.cell.resolve();
            if !roots.iter().any(|r| Rc::ptr_eq(r, &root)) {
                roots.push(root);
            }
        }
    }
    // The first of the largest, so that tapes of equal length keep the
    // order in which their values were used.
    let Some(largest) = roots.iter().fold(None::<&Rc<TapeCell>>, |best, r| match best {
        Some(b) if b.tape().len() >= r.tape().len() => Some(b),
        _ => Some(r),
    }).cloned() else {
        return TapeCell::new();
    };
    for other in roots.iter().filter(|r| !Rc::ptr_eq(r, &largest)) {
        let moved = match std::mem::replace(&mut *other.0.borrow_mut(), Slot::Own(Tape::default())) {
            Slot::Own(t) => t,
            Slot::Merged { .. } => unreachable!("roots are resolved"),
        };
        let offset = largest.tape_mut().append(moved);
        *other.0.borrow_mut() = Slot::Merged { into: Rc::clone(&largest), offset };
    }
    largest
}

pub use crate::sweeps::terms::observation_count;

/// Every log-likelihood kernel that `root` depends on, with its name and
/// number of observations, in recording order.
pub fn kernel_observations(root: &Var) -> Vec<(&'static str, usize)> {
    let (cell, r) = root.resolve();
    let tape = cell.tape();
    let reached = reachable(&tape, r);
    (0..=r)
        .filter(|&i| reached[i])
        .filter_map(|i| tape.nodes[i].rule.as_ref().and_then(|rule| rule.observations().map(|n| (rule.name(), n))))
        .collect()
}

/// Every discrete log-likelihood kernel that `root` depends on and that has
/// observations with a fitted probability of numerically 1 (see
/// `Rule::saturated`), with its name and the number of such observations.
pub fn saturated_observations(root: &Var) -> Vec<(&'static str, usize)> {
    let (cell, r) = root.resolve();
    let tape = cell.tape();
    let reached = reachable(&tape, r);
    (0..=r)
        .filter(|&i| reached[i])
        .filter_map(|i| {
            let rule = tape.nodes[i].rule.as_ref()?;
            rule.observations()?;
            let values = tape.input_values(i);
            let inputs: Vec<&Tensor> = values.iter().collect();
            let count = rule.saturated(&Site { inputs: &inputs, output: &tape.nodes[i].value })?;
            (count > 0).then(|| (rule.name(), count))
        })
        .collect()
}

/// Which nodes of `tape` the node `root` depends on (itself included),
/// indexed by position up to `root`.
pub fn reachable(tape: &Tape, root: usize) -> Vec<bool> {
    reachable_from(tape, &[root])
}

/// Which nodes any of `roots` depends on (the roots included), indexed by
/// position up to the last root.
pub fn reachable_from(tape: &Tape, roots: &[usize]) -> Vec<bool> {
    let Some(&last) = roots.iter().max() else { return Vec::new() };
    let mut reached = vec![false; last + 1];
    for &r in roots {
        reached[r] = true;
    }
    for i in (0..=last).rev() {
        if reached[i] {
            for input in tape.inputs(i) {
                if let Input::Node(j) = input {
                    reached[j] = true;
                }
            }
        }
    }
    reached
}
