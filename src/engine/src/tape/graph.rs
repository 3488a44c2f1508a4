//! The recorded graph behind a value, as plain data for views of it
//! (`graph_of()`, `plot()`, `to_dot()` in R).
//!
//! The graph is what the sweeps see: the nodes a value depends on, in
//! recording order (so every node comes after its inputs), and an edge
//! from each input to the operation that used it. A scalar constant of
//! the tape's pool (the `2` of `x^2`) has no node on the tape; here each
//! use of one becomes a node of its own, placed just before the operation,
//! so that a view shows every operand.

use std::collections::HashMap;

use super::{reachable, Input, Kind, Var};
use crate::tensor::Tensor;

/// What a node of the graph is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// A value made by `val()`.
    Leaf,
    /// Plain numbers mixed into an expression (a constant node or a
    /// constant of the pool).
    Constant,
    /// The result of an operation.
    Operation,
}

impl NodeKind {
    pub fn name(self) -> &'static str {
        match self {
            NodeKind::Leaf => "leaf",
            NodeKind::Constant => "constant",
            NodeKind::Operation => "operation",
        }
    }
}

#[derive(Debug, Clone)]
pub struct GraphNode {
    pub kind: NodeKind,
    /// The rule's name (`"+"`, `"exp"`), or the kind for leaves and constants.
    pub operation: &'static str,
    pub label: Option<String>,
    /// Position on the tape (`None` for a constant of the pool).
    pub position: Option<usize>,
    pub value: Tensor,
    /// The accumulated gradient (zeros where no backward pass reached).
    pub gradient: Vec<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphEdge {
    /// Positions in `Graph::nodes`.
    pub from: usize,
    pub to: usize,
    /// Which argument of `to` the edge is (0 for the first).
    pub argument: usize,
}

#[derive(Debug, Clone)]
pub struct Graph {
    pub nodes: Vec<GraphNode>,
    pub edges: Vec<GraphEdge>,
}

/// The graph that `root` depends on, `root` last.
pub fn graph_of(root: &Var) -> Graph {
    let (cell, r) = root.resolve();
    let tape = cell.tape();
    let reached = reachable(&tape, r);
    let labels: HashMap<usize, &str> = tape.labels().filter(|&(i, _)| i <= r && reached[i]).collect();
    // The graph's position of each reached tape node.
    let mut at: Vec<usize> = vec![usize::MAX; r + 1];
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    for i in (0..=r).filter(|&i| reached[i]) {
        let node = tape.node(i);
        let mut inputs = Vec::new();
        for input in tape.inputs(i) {
            match input {
                Input::Node(j) => inputs.push(at[j]),
                Input::Constant(_) => {
                    let value = tape.input_value(input);
                    nodes.push(GraphNode {
                        kind: NodeKind::Constant,
                        operation: "constant",
                        label: None,
                        position: None,
                        gradient: vec![0.0],
                        value,
                    });
                    inputs.push(nodes.len() - 1);
                }
            }
        }
        let (kind, operation) = match node.kind {
            Kind::Leaf => (NodeKind::Leaf, "leaf"),
            Kind::Constant => (NodeKind::Constant, "constant"),
            Kind::Operation => (NodeKind::Operation, node.rule.as_ref().map_or("operation", |rule| rule.name())),
        };
        at[i] = nodes.len();
        nodes.push(GraphNode {
            kind,
            operation,
            label: labels.get(&i).map(|l| l.to_string()),
            position: Some(i),
            value: node.value.clone(),
            gradient: tape.grad(i),
        });
        edges.extend(inputs.into_iter().enumerate().map(|(argument, from)| GraphEdge { from, to: at[i], argument }));
    }
    Graph { nodes, edges }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{backward, record};

    fn ops(g: &Graph) -> Vec<&str> {
        g.nodes.iter().map(|n| n.operation).collect()
    }

    #[test]
    fn the_graph_of_x_times_y_plus_x() {
        let x = Var::leaf(Tensor::scalar(3.0));
        let y = Var::leaf(Tensor::scalar(4.0));
        x.set_label("x");
        let xy = record::binary("*", &x, &y).unwrap();
        let z = record::binary("+", &xy, &x).unwrap();
        backward::backward(&z).unwrap();
        let g = graph_of(&z);
        assert_eq!(g.nodes.len(), 4);
        assert_eq!(g.nodes.iter().filter(|n| n.kind == NodeKind::Leaf).count(), 2);
        assert_eq!(ops(&g).iter().filter(|o| **o != "leaf").copied().collect::<Vec<_>>(), vec!["*", "+"]);
        let id = |op: &str, value: f64| {
            g.nodes.iter().position(|n| n.operation == op && n.value.data[0] == value).unwrap()
        };
        let (ix, iy, im, ip) = (id("leaf", 3.0), id("leaf", 4.0), id("*", 12.0), id("+", 15.0));
        let mut edges: Vec<(usize, usize, usize)> = g.edges.iter().map(|e| (e.from, e.to, e.argument)).collect();
        edges.sort();
        let mut expected = vec![(ix, im, 0), (iy, im, 1), (im, ip, 0), (ix, ip, 1)];
        expected.sort();
        assert_eq!(edges, expected);
        assert_eq!(g.nodes[ix].label.as_deref(), Some("x"));
        assert_eq!(g.nodes[iy].label, None);
        assert_eq!(g.nodes[ix].gradient, vec![5.0]);
        assert_eq!(g.nodes[iy].gradient, vec![3.0]);
        assert_eq!(ip, g.nodes.len() - 1);
    }

    #[test]
    fn pool_constants_are_nodes_and_unreached_nodes_are_left_out() {
        let x = Var::leaf(Tensor::scalar(3.0));
        let unused = Var::leaf(Tensor::scalar(7.0));
        unused.set_label("unused");
        let _other = record::binary("*", &unused, &x).unwrap();
        let sq = record::binary("^", &x, 2.0).unwrap();
        let g = graph_of(&sq);
        assert_eq!(ops(&g), vec!["leaf", "constant", "^"]);
        assert_eq!(g.nodes[1].value.data[0], 2.0);
        assert_eq!(g.nodes[1].position, None);
        assert_eq!(g.edges, vec![GraphEdge { from: 0, to: 2, argument: 0 }, GraphEdge { from: 1, to: 2, argument: 1 }]);
        assert!(g.nodes.iter().all(|n| n.label.is_none()));
    }

    #[test]
    fn labels_follow_a_tape_that_was_appended_to_another() {
        let a = Var::leaf(Tensor::scalar(1.0));
        let b = Var::leaf(Tensor::scalar(2.0));
        let big = record::binary("+", &a, &b).unwrap();
        let c = Var::leaf(Tensor::scalar(5.0));
        c.set_label("c");
        let z = record::binary("*", &big, &c).unwrap();
        let g = graph_of(&z);
        let labelled: Vec<_> = g.nodes.iter().filter_map(|n| n.label.as_deref().map(|l| (l, n.value.data[0]))).collect();
        assert_eq!(labelled, vec![("c", 5.0)]);
        assert_eq!(c.label().as_deref(), Some("c"));
    }
}
