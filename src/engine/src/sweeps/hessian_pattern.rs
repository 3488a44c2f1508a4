//! The structural sparsity of a Hessian: which pairs of (random-effect)
//! parameters can have a non-zero second derivative, at any point, read
//! from the recording rather than from numbers at one point.
//!
//! One forward walk carries, for each element of each node, the set of
//! parameter elements it depends on (an index set, shared between elements
//! through `Rc` when they are the same set: a sum hands one set to all of
//! its users). Where an operation is nonlinear in inputs, it adds the
//! pairs of parameters its second derivatives can couple (`Rule::dependence`:
//! for z = g(a, b), the products of a's and b's sets that g_aa, g_ab and g_bb
//! can make non-zero). The union of those pairs over the recording holds
//! every non-zero of the Hessian (a superset: the classic forward index-set
//! propagation for Hessian sparsity, as in ADOL-C or CppAD's for_hes_sparsity).
//!
//! The Laplace approximation uses it to split the Hessian in the random
//! effects into independent blocks, and to evaluate the Hessian in a few
//! directions (one per colour of its columns) rather than one per effect.

use std::rc::Rc;

use crate::rule::Site;
use crate::second_order::parameter_offsets;
use crate::tape::{reachable, Kind, Var};
use crate::tensor::Tensor;
use crate::Result;

/// The parameter elements one element of a node depends on: sorted, distinct.
pub type Set = Rc<[u32]>;

/// For each element of a node, its set; `None` when the node depends on
/// none of the parameters.
pub type Dependence = Option<Vec<Set>>;

/// The pairs (row >= column) found so far; past `limit` of them the
/// pattern is given up as dense (the caller then treats every pair as one).
pub struct Pairs {
    pairs: Vec<(u32, u32)>,
    limit: usize,
    overflow: bool,
}

impl Pairs {
    fn new(limit: usize) -> Pairs {
        Pairs { pairs: Vec::new(), limit, overflow: false }
    }

    /// Every pair of an element of `a` and an element of `b`.
    pub fn product(&mut self, a: &[u32], b: &[u32]) {
        if self.overflow || a.is_empty() || b.is_empty() {
            return;
        }
        if self.pairs.len() + a.len() * b.len() > self.limit {
            self.overflow = true;
            self.pairs = Vec::new();
            return;
        }
        for &i in a {
            for &j in b {
                self.pairs.push(if i >= j { (i, j) } else { (j, i) });
            }
        }
    }

    /// Every pair within `a`.
    pub fn square(&mut self, a: &[u32]) {
        self.product(a, a);
    }
}

/// The union of some sets.
pub fn union<'a>(sets: impl IntoIterator<Item = &'a Set>) -> Set {
    let mut all: Vec<u32> = Vec::new();
    let mut last: Option<&Set> = None;
    for s in sets {
        // consecutive elements often share one set (after a sum, a gather)
        if last.is_some_and(|l| Rc::ptr_eq(l, s)) {
            continue;
        }
        all.extend_from_slice(s);
        last = Some(s);
    }
    all.sort_unstable();
    all.dedup();
    Rc::from(all)
}

/// The empty set, for elements of inputs that depend on no parameter.
pub fn empty() -> Set {
    Rc::from(Vec::new())
}

/// What an operation with no rule of its own may do: every element of its
/// output depends on everything any input depends on, and (unless it is
/// known to be linear) couples all of it.
pub fn conservative(output_len: usize, inputs: &[Option<&[Set]>], linear: bool, pairs: &mut Pairs) -> Dependence {
    if inputs.iter().all(|d| d.is_none()) {
        return None;
    }
    let all = union(inputs.iter().flatten().flat_map(|d| d.iter()));
    if !linear {
        pairs.square(&all);
    }
    Some(vec![all; output_len])
}

/// The sparsity of the Hessian of `root` in the parameter leaves
/// `params` (their elements numbered in order): the pairs (row >= column)
/// that can be non-zero, the diagonal always among them, sorted; `None`
/// when there would be more than `limit` of them before removing repeats
/// (a Hessian to be treated as dense).
pub fn hessian_pattern(root: &Var, params: &[Var], limit: usize) -> Result<Option<Vec<(u32, u32)>>> {
    let (cell, r) = root.resolve();
    let (offsets, p) = parameter_offsets("hessian_pattern", &cell, r + 1, params)?;
    let tape = cell.tape();
    let live = reachable(&tape, r);
    let mut deps: Vec<Dependence> = vec![None; r + 1];
    let mut pairs = Pairs::new(limit);
    for pos in (0..=r).filter(|&pos| live[pos]) {
        let node = tape.node(pos);
        deps[pos] = match (node.kind, &node.rule) {
            (Kind::Leaf, _) => offsets[pos].map(|offset| {
                (0..node.value.numel()).map(|e| Rc::from(vec![(offset + e) as u32])).collect()
            }),
            (Kind::Operation, Some(rule)) => {
                let input_deps: Vec<Option<&[Set]>> =
                    tape.inputs(pos).map(|input| input.node().and_then(|j| deps[j].as_deref())).collect();
                if input_deps.iter().all(|d| d.is_none()) {
                    None
                } else {
                    let fixed: Vec<bool> = tape.inputs(pos).map(|input| !tape.input_requires_grad(input)).collect();
                    let values = tape.input_values(pos);
                    let inputs: Vec<&Tensor> = values.iter().collect();
                    let site = Site { inputs: &inputs, output: &node.value };
                    rule.dependence(&site, &input_deps, &fixed, &mut pairs)
                }
            }
            _ => None,
        };
        if pairs.overflow {
            return Ok(None);
        }
    }
    let mut found = pairs.pairs;
    found.extend((0..p as u32).map(|i| (i, i)));
    found.sort_unstable_by_key(|&(i, j)| (j, i));
    found.dedup();
    Ok(Some(found))
}

/// Element k of an input of `len` elements broadcast to the output (a
/// single element is shared by all).
pub fn element(set: &[Set], k: usize) -> &Set {
    if set.len() == 1 {
        &set[0]
    } else {
        &set[k]
    }
}
