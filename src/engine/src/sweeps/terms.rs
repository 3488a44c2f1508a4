//! Which observations a log-likelihood covers: its terms. `nobs()` counts
//! them and the per-observation scores (`scores.rs`) have one row each.
//!
//! The log-likelihood is read as a sum: from the root down, `+`, `-` (the
//! second input with the opposite sign) and `sum` of a single number pass
//! through; the first node that is none of these and depends on the
//! parameters is a term. A term is
//!
//! * a **kernel**: a `loglik_*` call or a `sum(d...(log = TRUE))` density
//!   sum (`Rule::covers`), covering its n observations;
//! * **elements**: `sum(v)` of a vector computed from data (some data
//!   vector of the same length enters `v`, or the log-densities of a
//!   d-function over data of that length), each element one observation's
//!   log-likelihood (the censored part of a tobit, `sum(pnorm(...,
//!   log.p = TRUE))`); a sum of a vector with no data of its length in it
//!   (a penalty `sum(beta^2)`, a prior over a vector parameter) is not;
//! * **other**: anything else (a penalty, `2 * loglik`, a mixture of whole
//!   kernels). It covers the observations of the kernels under it and has
//!   no per-observation scores.
//!
//! By default every kernel and elements term covers observations of its
//! own, disjoint from the other terms': `nobs()` is the sum of their sizes
//! and their score rows are stacked. A term tagged by `observation_ids()`
//! (see `ops/observation_ids.rs`) covers the observations with its ids
//! instead, shared with every other term tagged with the same ids: those
//! count once, and their scores add up per id.

use std::collections::{BTreeSet, HashSet};

use crate::tape::{reachable_from, Input, Kind as NodeKind, Tape, Var};

/// What a term is (see the module's notes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Kernel,
    Elements,
    Other,
}

/// One term of a log-likelihood.
#[derive(Debug, Clone)]
pub struct Term {
    /// The term's node (for a tagged term, the node under the tag).
    pub pos: usize,
    pub kind: Kind,
    /// How many times, and with which sign, the term enters the sum.
    pub times: f64,
    /// The ids of its observations, if tagged.
    pub ids: Option<Vec<u32>>,
}

/// How many observations node `pos` covers as a kernel or elements term,
/// or `None` if it is neither.
pub fn term_size(tape: &Tape, pos: usize) -> Option<usize> {
    term_kind(tape, pos).and_then(|kind| match kind {
        Kind::Kernel => tape.node(pos).rule.as_ref()?.covers(),
        Kind::Elements => Some(elements_input(tape, pos)?.1),
        Kind::Other => None,
    })
}

fn term_kind(tape: &Tape, pos: usize) -> Option<Kind> {
    let rule = tape.node(pos).rule.as_ref()?;
    if rule.covers().is_some() {
        Some(Kind::Kernel)
    } else if elements_input(tape, pos).is_some() {
        Some(Kind::Elements)
    } else {
        None
    }
}

/// For `sum(v)` of a vector computed from data: v's node and length.
///
/// "From data": walking from v through nodes of v's length (elementwise
/// operations; a scalar parameter broadcast into them is not followed),
/// a plain data vector, or the log-densities of a d-function over data (a
/// kernel's pointwise form, which holds the data itself), is reached. The
/// walk stays within v's own elementwise computation, so a model with many
/// such sums (a loop over groups) costs time in proportion to its size.
/// A vector of whole kernels (`sum(c(ll1, ll2))`) is not: its elements
/// are scalars.
pub fn elements_input(tape: &Tape, pos: usize) -> Option<(usize, usize)> {
    if tape.node(pos).rule.as_ref()?.name() != "sum" {
        return None;
    }
    let mut inputs = tape.inputs(pos);
    let (Some(Input::Node(v)), None) = (inputs.next(), inputs.next()) else { return None };
    let n = tape.node(v).value.numel();
    if n < 2 {
        return None;
    }
    let mut seen = HashSet::from([v]);
    let mut stack = vec![v];
    while let Some(i) = stack.pop() {
        let node = tape.node(i);
        if node.kind == NodeKind::Constant || node.rule.as_ref().is_some_and(|r| r.name().starts_with("loglik_")) {
            return Some((v, n));
        }
        for input in tape.inputs(i) {
            if let Input::Node(j) = input {
                if tape.node(j).value.numel() == n && seen.insert(j) {
                    stack.push(j);
                }
            }
        }
    }
    None
}

/// The terms of the scalar node `root` of `tape` that depend on the
/// parameters (`depends(pos)`), in recording order.
pub fn terms(tape: &Tape, root: usize, depends: impl Fn(usize) -> bool) -> Vec<Term> {
    let mut times = vec![0.0; root + 1];
    times[root] = 1.0;
    let mut out = Vec::new();
    for pos in (0..=root).rev() {
        if times[pos] == 0.0 || !depends(pos) {
            continue;
        }
        let node = tape.node(pos);
        let inputs: Vec<Input> = tape.inputs(pos).collect();
        let name = node.rule.as_ref().map(|r| r.name());
        let passes = match name {
            Some("+") => true,
            Some("-") => inputs.len() == 2,
            Some("sum") => tape.input_value(inputs[0]).numel() == 1,
            _ => false,
        };
        if passes {
            for (k, input) in inputs.iter().enumerate() {
                if let Input::Node(j) = *input {
                    let sign = if name == Some("-") && k == 1 { -1.0 } else { 1.0 };
                    times[j] += sign * times[pos];
                }
            }
            continue;
        }
        let tagged = node.rule.as_ref().and_then(|r| r.observation_ids().map(<[u32]>::to_vec));
        let (at, ids) = match (tagged, inputs.first()) {
            (Some(ids), Some(Input::Node(j))) => (*j, Some(ids)),
            _ => (pos, None),
        };
        let kind = term_kind(tape, at).unwrap_or(Kind::Other);
        out.push(Term { pos: at, kind, times: times[pos], ids });
    }
    out.reverse();
    out
}

/// How many observations the log-likelihood `root` covers (see the
/// module's notes); `None` when it has no kernel or elements term and no
/// kernel under another term.
pub fn observation_count(root: &Var) -> Option<usize> {
    let (cell, r) = root.resolve();
    let tape = cell.tape();
    let found = terms(&tape, r, |pos| tape.node(pos).requires_grad);
    let mut total = 0;
    let mut ids = BTreeSet::new();
    let mut counted = HashSet::new();
    let mut others = Vec::new();
    for term in &found {
        if let Some(tagged) = &term.ids {
            ids.extend(tagged.iter().copied());
            continue;
        }
        match term.kind {
            Kind::Kernel | Kind::Elements => {
                if counted.insert(term.pos) {
                    total += term_size(&tape, term.pos).unwrap_or(0);
                }
            }
            Kind::Other => others.push(term.pos),
        }
    }
    // the kernels under the other terms, each once, in one walk
    let under = reachable_from(&tape, &others);
    for (i, reached) in under.iter().enumerate() {
        let covers = tape.node(i).rule.as_ref().and_then(|rule| rule.covers());
        if let (true, Some(n)) = (*reached, covers) {
            if counted.insert(i) {
                total += n;
            }
        }
    }
    total += ids.len();
    (total > 0).then_some(total)
}
