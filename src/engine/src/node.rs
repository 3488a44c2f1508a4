//! The recorded graph. A `Var` is a shared handle on a node; each node owns
//! handles on its inputs, so the graph lives exactly as long as something
//! (an R object) references its output, and is freed when that goes.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::rc::Rc;

use crate::rule::Rule;
use crate::tensor::Tensor;
use crate::Result;

#[derive(Debug)]
pub struct Node {
    value: Tensor,
    rule: Option<Box<dyn Rule>>,
    inputs: Vec<Var>,
    /// False for constants (plain numbers mixed into an expression): no
    /// adjoint is computed for them, which also keeps NaN partials such as
    /// d(a^b)/db at a < 0 out of the sweeps when b is a constant.
    requires_grad: bool,
    grad: RefCell<Option<Vec<f64>>>,
}

#[derive(Debug, Clone)]
pub struct Var(Rc<Node>);

impl Var {
    /// A leaf that receives gradients (what `val()` makes).
    pub fn leaf(value: Tensor) -> Var {
        Var(Rc::new(Node { value, rule: None, inputs: Vec::new(), requires_grad: true, grad: RefCell::new(None) }))
    }

    /// A leaf that never receives gradients (a plain number in an expression).
    pub fn constant(value: Tensor) -> Var {
        Var(Rc::new(Node { value, rule: None, inputs: Vec::new(), requires_grad: false, grad: RefCell::new(None) }))
    }

    /// Records an operation on `inputs`, computing its value now.
    pub fn apply(rule: Box<dyn Rule>, inputs: Vec<Var>) -> Result<Var> {
        let value = {
            let values: Vec<&Tensor> = inputs.iter().map(|v| v.value()).collect();
            rule.forward(&values)?
        };
        let requires_grad = inputs.iter().any(|v| v.requires_grad());
        Ok(Var(Rc::new(Node { value, rule: Some(rule), inputs, requires_grad, grad: RefCell::new(None) })))
    }

    pub fn value(&self) -> &Tensor {
        &self.0.value
    }
    pub fn rule(&self) -> Option<&dyn Rule> {
        self.0.rule.as_deref()
    }
    pub fn inputs(&self) -> &[Var] {
        &self.0.inputs
    }
    pub fn is_leaf(&self) -> bool {
        self.0.rule.is_none()
    }
    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad
    }
    /// Identity of the node (two handles on one node share it).
    pub fn id(&self) -> usize {
        Rc::as_ptr(&self.0) as usize
    }
    /// The accumulated gradient, zeros if no backward pass has reached it.
    pub fn grad(&self) -> Vec<f64> {
        self.0.grad.borrow().clone().unwrap_or_else(|| vec![0.0; self.0.value.numel()])
    }
    pub fn accumulate_grad(&self, g: &[f64]) {
        let mut slot = self.0.grad.borrow_mut();
        match slot.as_mut() {
            Some(acc) => acc.iter_mut().zip(g).for_each(|(a, b)| *a += b),
            None => *slot = Some(g.to_vec()),
        }
    }
    pub fn zero_grad(&self) {
        *self.0.grad.borrow_mut() = None;
    }
}

/// Hashes node identities (addresses) with one multiply instead of SipHash:
/// the keys are not attacker-controlled, and the sweeps look up every node
/// of the graph, so the default hasher was a large share of backward().
#[derive(Default)]
pub struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_usize(&mut self, n: usize) {
        // Fibonacci hashing; the rotation moves the well-mixed high bits
        // down to where HashMap takes its bucket index from.
        self.0 = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(26);
    }
}

/// A map keyed by node identity.
pub type NodeMap<V> = HashMap<usize, V, BuildHasherDefault<AddressHasher>>;

/// Every node reachable from `root`, inputs before the nodes that use them.
/// Iterative depth-first search: a chain of 10^6 operations must not
/// overflow the stack.
pub fn topological_order(root: &Var) -> Vec<Var> {
    let mut order = Vec::new();
    let mut state: NodeMap<bool> = NodeMap::default(); // false: on stack, true: done
    let mut stack: Vec<(Var, usize)> = vec![(root.clone(), 0)];
    state.insert(root.id(), false);
    while let Some((node, next_input)) = stack.pop() {
        if let Some(child) = node.inputs().get(next_input).cloned() {
            stack.push((node, next_input + 1));
            if !state.contains_key(&child.id()) {
                state.insert(child.id(), false);
                stack.push((child, 0));
            }
        } else {
            state.insert(node.id(), true);
            order.push(node);
        }
    }
    order
}

/// Position of each node in a topological order, keyed by node identity.
pub fn index_of(order: &[Var]) -> NodeMap<usize> {
    order.iter().enumerate().map(|(i, v)| (v.id(), i)).collect()
}

impl Drop for Node {
    /// Dropping the head of a long chain would recurse once per node through
    /// `Rc`'s destructor. Instead, inputs that this node holds the last
    /// handle on are unlinked onto an explicit stack and dropped one by one.
    fn drop(&mut self) {
        let mut pending: Vec<Var> = std::mem::take(&mut self.inputs);
        while let Some(var) = pending.pop() {
            if let Ok(mut node) = Rc::try_unwrap(var.0) {
                pending.append(&mut node.inputs);
            }
        }
    }
}

/// How many observations the log-likelihood kernels under `root` sum over
/// (the largest, if several kernels see different data); `None` when no
/// kernel is involved.
pub fn observation_count(root: &Var) -> Option<usize> {
    kernel_observations(root).into_iter().map(|(_, n)| n).max()
}

/// Every log-likelihood kernel under `root` (each node once), with its
/// name and number of observations, inputs before the nodes that use them.
pub fn kernel_observations(root: &Var) -> Vec<(&'static str, usize)> {
    topological_order(root)
        .iter()
        .filter_map(|v| v.rule().and_then(|r| r.observations().map(|n| (r.name(), n))))
        .collect()
}
