//! Forward-over-reverse for tapes of scalars: the models written as R
//! loops (an AR(1) likelihood over 500 time points is 4500 scalar nodes).
//!
//! The general sweeps keep one batch of tangents and one of second-order
//! adjoints per node, each a small heap allocation; over thousands of
//! scalar nodes those allocations cost more than the arithmetic. When every
//! node the output depends on is a scalar whose rule has scalar partials,
//! this sweep keeps the tangents and second-order adjoints of all nodes in
//! two dense arrays (node-major, one entry per direction) instead. It
//! computes exactly what `second_order` computes through
//! `scalar_partials`/`scalar_tangent`/`scalar_second_order`, in the same
//! order, so the results agree to the last bit.

use crate::batch::Batch;
use crate::rule::Partials;
use crate::tape::{reachable, Tape};

/// Gradient and H * directions (p x d) of scalar node `root`, or `None`
/// when some node it depends on is not a scalar with scalar partials (the
/// general sweeps then take over). `offsets` gives, by position, where each
/// parameter's element sits in the parameter vector.
pub(crate) fn scalar_tape_second_order(
    tape: &Tape,
    root: usize,
    offsets: &[Option<usize>],
    p: usize,
    directions: &Batch,
) -> Option<(Vec<f64>, Batch)> {
    let dirs = directions.dirs;
    let live = reachable(tape, root);
    if !(0..=root).all(|pos| !live[pos] || tape.node(pos).value.is_scalar()) {
        return None;
    }

    // Forward: which nodes move with the parameters, their partials and
    // their tangents (row `pos` of `tangent`, `dirs` wide).
    let mut moves = vec![false; root + 1];
    let mut partials = vec![Partials::default(); root + 1];
    // (through Batch, so that an allocation the allocator refuses is an error)
    let mut tangent = Batch::zeros(dirs, root + 1).into_data();
    for pos in (0..=root).filter(|&pos| live[pos]) {
        let node = tape.node(pos);
        let Some(rule) = node.rule.as_ref() else {
            if let Some(offset) = offsets[pos] {
                moves[pos] = true;
                for k in 0..dirs {
                    tangent[pos * dirs + k] = directions.col(k)[offset];
                }
            }
            continue;
        };
        if !tape.inputs(pos).any(|input| input.node().is_some_and(|j| moves[j])) {
            continue;
        }
        let (x, n) = tape.scalar_inputs(pos)?;
        let d = rule.scalar_partials(&x[..n], node.value.data[0])?;
        partials[pos] = d;
        moves[pos] = true;
        let (done, rest) = tangent.split_at_mut(pos * dirs);
        let out = &mut rest[..dirs];
        for (k, input) in tape.inputs(pos).enumerate() {
            // Only inputs that move: a partial with respect to a constant may be NaN.
            let Some(j) = input.node().filter(|&j| moves[j]) else { continue };
            let w = if k == 0 { d.a } else { d.b };
            out.iter_mut().zip(&done[j * dirs..(j + 1) * dirs]).for_each(|(o, t)| *o += w * t);
        }
    }

    // Reverse: adjoints and second-order adjoints, from the output down.
    let mut adjoint = vec![0.0; root + 1];
    let mut reached = vec![false; root + 1];
    let mut adjoint_dot = Batch::zeros(dirs, root + 1).into_data();
    adjoint[root] = 1.0;
    reached[root] = true;
    for pos in (0..=root).rev() {
        if !(moves[pos] && reached[pos]) || tape.node(pos).rule.is_none() {
            continue;
        }
        let mut inputs = [None; 2];
        for (k, input) in tape.inputs(pos).enumerate() {
            inputs[k] = input.node().filter(|&j| moves[j]);
        }
        let mut arrays = DenseArrays { adjoint: &mut adjoint, reached: &mut reached, adjoint_dot: &mut adjoint_dot, tangent: &tangent, dirs };
        arrays.reverse_step(pos, &partials[pos], inputs);
    }

    let mut gradient = vec![0.0; p];
    let mut hessian_times = Batch::zeros(p, dirs);
    for (pos, offset) in offsets.iter().enumerate().take(root + 1) {
        let Some(offset) = *offset else { continue };
        if !reached[pos] {
            continue;
        }
        gradient[offset] = adjoint[pos];
        for k in 0..dirs {
            hessian_times.col_mut(k)[offset] = adjoint_dot[pos * dirs + k];
        }
    }
    Some((gradient, hessian_times))
}

/// Forward-over-reverse over scalars in dense arrays indexed by position
/// (`dirs` entries per position for the tangents and for the adjoints'
/// derivatives), here and in `tape::scalar_program`.
pub(crate) struct DenseArrays<'a> {
    pub adjoint: &'a mut [f64],
    pub reached: &'a mut [bool],
    pub adjoint_dot: &'a mut [f64],
    pub tangent: &'a [f64],
    pub dirs: usize,
}

impl DenseArrays<'_> {
    /// The reverse step at `pos`, whose partials are `d` and whose inputs
    /// that move are at `inputs`: each such input receives g * d_i in its
    /// adjoint and g_dot * d_i + g * sum_j d_ij t_j in its derivative.
    pub(crate) fn reverse_step(&mut self, pos: usize, d: &Partials, inputs: [Option<usize>; 2]) {
        let dirs = self.dirs;
        let g = self.adjoint[pos];
        let first = [d.a, d.b];
        let second = [[d.aa, d.ab], [d.ab, d.bb]];
        let (below, from_pos) = self.adjoint_dot.split_at_mut(pos * dirs);
        let g_dot = &from_pos[..dirs];
        for k in 0..2 {
            let Some(i) = inputs[k] else { continue };
            self.adjoint[i] += g * first[k];
            self.reached[i] = true;
            let dot = &mut below[i * dirs..(i + 1) * dirs];
            dot.iter_mut().zip(g_dot).for_each(|(o, x)| *o += first[k] * x);
            for (m, j) in inputs.iter().enumerate() {
                let Some(j) = *j else { continue };
                let w = g * second[k][m];
                dot.iter_mut().zip(&self.tangent[j * dirs..(j + 1) * dirs]).for_each(|(o, t)| *o += w * t);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::batch::Batch;
    use crate::record::{binary, unary};
    use crate::second_order::{general_second_order, second_order};
    use crate::tape::Var;
    use crate::tensor::Tensor;

    /// An AR(1) log-likelihood written as a loop of scalar operations, with
    /// constants mixed in, a parameter used twice in one node and a node
    /// that does not depend on the parameters at all.
    fn ar1(params: &[Var], y: &[f64]) -> Var {
        let (mu, phi, log_sigma) = (&params[0], &params[1], &params[2]);
        let sigma = unary("exp", log_sigma).unwrap();
        let mut ll = binary("*", 0.0, &binary("*", mu, mu).unwrap()).unwrap();
        for t in 1..y.len() {
            let lag = binary("-", y[t - 1], mu).unwrap();
            let e = binary("-", &binary("-", y[t], mu).unwrap(), &binary("*", phi, &lag).unwrap()).unwrap();
            let z = binary("/", &e, &sigma).unwrap();
            let term = binary("+", log_sigma, &binary("*", 0.5, &binary("^", &z, 2.0).unwrap()).unwrap()).unwrap();
            ll = binary("-", &ll, &term).unwrap();
        }
        ll
    }

    fn ar1_closed_form(theta: [f64; 3], y: &[f64]) -> (Vec<f64>, Vec<f64>) {
        // ll = -sum_t [ls + e_t^2 / (2 s^2)], e_t = (y_t - mu) - phi (y_{t-1} - mu)
        let [mu, phi, ls] = theta;
        let s2 = (2.0 * ls).exp();
        let (mut g, mut h) = (vec![0.0; 3], vec![0.0; 9]);
        for t in 1..y.len() {
            let lag = y[t - 1] - mu;
            let e = (y[t] - mu) - phi * lag;
            let de = [-(1.0 - phi), -lag, 0.0];
            // d e / d mu d phi = 1; the rest of e's second partials are 0.
            let q = e * e / s2;
            g[0] -= e * de[0] / s2;
            g[1] -= e * de[1] / s2;
            g[2] += q - 1.0;
            for a in 0..2 {
                for b in 0..2 {
                    let dd = if a != b { 1.0 } else { 0.0 };
                    h[a + 3 * b] -= (de[a] * de[b] + e * dd) / s2;
                }
                h[a + 3 * 2] += 2.0 * e * de[a] / s2;
                h[2 + 3 * a] += 2.0 * e * de[a] / s2;
            }
            h[8] -= 2.0 * q;
        }
        (g, h)
    }

    #[test]
    fn a_loop_of_scalars_gives_the_closed_form_hessian() {
        let y: Vec<f64> = (0..60).map(|i| (i as f64 * 0.7).sin() + 0.1 * i as f64).collect();
        let theta = [0.3, 0.5, -0.2];
        let params: Vec<Var> = theta.iter().map(|&x| Var::leaf(Tensor::scalar(x))).collect();
        let so = second_order(&ar1(&params, &y), &params, None).unwrap();
        let (g, h) = ar1_closed_form(theta, &y);
        for (a, b) in so.gradient.iter().zip(&g) {
            assert!((a - b).abs() <= 1e-9 * (1.0 + b.abs()), "gradient {a} vs closed form {b}");
        }
        for (a, b) in so.hessian_times.data.iter().zip(&h) {
            assert!((a - b).abs() <= 1e-9 * (1.0 + b.abs()), "Hessian {a} vs closed form {b}");
        }
    }

    #[test]
    fn the_scalar_sweep_agrees_with_the_general_sweeps_to_the_bit() {
        let y: Vec<f64> = (0..25).map(|i| (i as f64 * 1.3).cos()).collect();
        let params: Vec<Var> = [0.1, -0.4, 0.2].iter().map(|&x| Var::leaf(Tensor::scalar(x))).collect();
        // x^0 and x^1 at 0, and a base that is a negative constant, keep
        // their NaN partials with respect to constants out of both sweeps.
        let zero = Var::leaf(Tensor::scalar(0.0));
        let mut all = params.clone();
        all.push(zero.clone());
        let extra = binary("+", &binary("^", &zero, 0.0).unwrap(), &binary("^", &zero, 1.0).unwrap()).unwrap();
        let extra = binary("+", &extra, &binary("^", -2.0, &params[0]).unwrap()).unwrap();
        let root = binary("+", &ar1(&params, &y), &extra).unwrap();
        let directions = Batch { rows: 4, dirs: 2, data: vec![1.0, -2.0, 0.5, 3.0, 0.0, 1.0, -1.0, 2.0] };
        for d in [None, Some(&directions)] {
            let fast = second_order(&root, &all, d).unwrap();
            let general = general_second_order("hessian", &root, &all, d).unwrap();
            assert_eq!(fast.value.to_bits(), general.value.to_bits());
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&fast.gradient), bits(&general.gradient));
            assert_eq!(bits(&fast.hessian_times.data), bits(&general.hessian_times.data));
        }
    }
}
