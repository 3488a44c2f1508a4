//! The four methods' main loops.

use std::collections::VecDeque;

use super::line_search::{backtrack, weak_wolfe, C1};
use super::{dot, finish, norm2, small_change, step, Control, Evaluator, Outcome, Point, Stop};
use crate::linalg::{ascent_direction_kind, is_positive_definite, symmetric_eigen, DirectionKind};
use crate::Result;

/// -H has an eigenvalue below -SADDLE_TOL * max |lambda|: H curves upwards
/// there, so a stationary point is a saddle (or minimum), not a maximum.
/// Far above rounding noise in a Hessian, far below genuine curvature.
const SADDLE_TOL: f64 = 1e-8;

/// Skip a quasi-Newton update unless s'y > CURVATURE_TOL * |s| |y|: the
/// update needs s'y > 0 to keep the approximation positive definite, and a
/// margin above rounding to keep it well conditioned.
const CURVATURE_TOL: f64 = 1e-10;

/// A change in f of at most NOISE * max(|f|, 1) is rounding error.
const NOISE: f64 = 10.0 * f64::EPSILON;

fn iteration_limit(max_iter: usize, x: &Point) -> Stop {
    Stop::failed(format!(
        "the iteration limit (max_iter = {max_iter}) was reached; the scaled gradient is {:.3e}",
        x.scaled_gradient()
    ))
}

fn small_gradient(x: &Point, control: &Control) -> Option<Stop> {
    let sg = x.scaled_gradient();
    (sg <= control.gtol)
        .then(|| Stop::converged(format!("the scaled gradient {sg:.3e} is at most gtol = {:e}", control.gtol)))
}

fn small_change_stop(old: f64, x: &Point, control: &Control) -> Option<Stop> {
    small_change(old, x.value, control.ftol).then(|| {
        Stop::converged(format!(
            "the log-likelihood changed by {:.3e} in the last iteration, at most ftol = {:e} relative to its size \
             (scaled gradient {:.3e})",
            (x.value - old).abs(),
            control.ftol,
            x.scaled_gradient()
        ))
    })
}

fn line_search_failed(x: &Point, control: &Control) -> Stop {
    Stop::failed(format!(
        "no step along the search direction increased the log-likelihood (after {} shortenings); \
         the scaled gradient is {:.3e}",
        control.max_halvings,
        x.scaled_gradient()
    ))
}

// ---------------------------------------------------------------------------
// Newton

pub(super) fn newton(ev: &mut Evaluator<'_>, start: &[f64], control: &Control, max_iter: usize) -> Result<Outcome> {
    let (f, g, mut h) = ev.hessian(start)?;
    let mut x = Point::start(start, f, g)?;
    let mut iterations = 0;
    let stop = loop {
        let neg_h: Vec<f64> = h.iter().map(|v| -v).collect();
        if let Some(stop) = small_gradient(&x, control) {
            // Stationary. A maximum unless H curves upwards somewhere; then
            // step along that direction rather than stop at a saddle.
            if iterations < max_iter {
                if let Some((next, h_next)) = escape_saddle(ev, &x, &neg_h, control)? {
                    x = next;
                    h = h_next;
                    iterations += 1;
                    continue;
                }
            }
            break stop;
        }
        if iterations >= max_iter {
            break iteration_limit(max_iter, &x);
        }
        let (d, kind) = ascent_direction_kind(&neg_h, &x.gradient);
        let slope = dot(&x.gradient, &d);
        if !(slope > 0.0 && slope.is_finite()) {
            // Only rounding can get here (g != 0 and d is an ascent
            // direction in exact arithmetic).
            break line_search_failed(&x, control);
        }
        // Half the Newton decrement g'(-H)^{-1}g predicts the gain of the
        // Newton step. Below ftol there is nothing left to gain but that
        // step itself: take it, then stop.
        if kind == DirectionKind::Newton && 0.5 * slope <= control.ftol * x.value.abs().max(1.0) {
            let theta = step(&x.theta, 1.0, &d);
            let f = ev.value(&theta)?;
            if f.is_finite() && f >= x.value {
                let (f, g, h_next) = ev.hessian(&theta)?;
                if f.is_finite() && g.iter().all(|v| v.is_finite()) {
                    x = Point { theta, value: f, gradient: g };
                    h = h_next;
                    iterations += 1;
                }
            }
            break Stop::converged(format!(
                "the predicted gain of a Newton step ({:.3e}) is at most ftol = {:e} relative to the log-likelihood \
                 (scaled gradient {:.3e})",
                0.5 * slope,
                control.ftol,
                x.scaled_gradient()
            ));
        }
        match backtrack(ev, &x, &d, slope, 1.0, control.max_halvings, true)? {
            Some((next, h_next, _)) => {
                x = next;
                h = h_next.expect("backtrack returns the Hessian when asked");
                iterations += 1;
            }
            None => break line_search_failed(&x, control),
        }
    };
    finish(ev, x, Some(h), iterations, stop)
}

/// At a stationary point where -H has a clearly negative eigenvalue mu
/// (eigenvector v), f(x + a v) ~ f(x) + a g'v + a^2 |mu| / 2 increases
/// whichever the sign of a: step along v (oriented uphill by g), backtracking
/// from a = max(1, max |theta_i|) until at least C1 of that predicted gain is
/// realised. `None` if x is not a saddle or no step gains.
fn escape_saddle(
    ev: &mut Evaluator<'_>,
    x: &Point,
    neg_h: &[f64],
    control: &Control,
) -> Result<Option<(Point, Vec<f64>)>> {
    if is_positive_definite(neg_h) {
        return Ok(None);
    }
    let Some((values, vectors)) = symmetric_eigen(neg_h) else { return Ok(None) };
    let p = x.theta.len();
    let largest = values.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    let mu = values[0];
    if mu >= -SADDLE_TOL * largest {
        return Ok(None);
    }
    let mut v = vectors[..p].to_vec();
    if dot(&v, &x.gradient) < 0.0 {
        v.iter_mut().for_each(|vi| *vi = -*vi);
    }
    let gv = dot(&v, &x.gradient);
    let mut alpha = x.theta.iter().fold(1.0_f64, |m, t| m.max(t.abs()));
    for _ in 0..=control.max_halvings {
        let theta = step(&x.theta, alpha, &v);
        let f = ev.value(&theta)?;
        let predicted = alpha * gv + 0.5 * alpha * alpha * mu.abs();
        if f.is_finite() && f > x.value && f - x.value >= C1 * predicted {
            let (f, g, h) = ev.hessian(&theta)?;
            if f.is_finite() && g.iter().all(|v| v.is_finite()) {
                return Ok(Some((Point { theta, value: f, gradient: g }, h)));
            }
        }
        alpha *= 0.5;
    }
    Ok(None)
}

// ---------------------------------------------------------------------------
// Steepest ascent

pub(super) fn gradient(ev: &mut Evaluator<'_>, start: &[f64], control: &Control, max_iter: usize) -> Result<Outcome> {
    let (f, g) = ev.gradient(start)?;
    let mut x = Point::start(start, f, g)?;
    // The first trial moves theta by at most 1; afterwards each search starts
    // from twice the last accepted step length, so the length adapts both
    // ways.
    let mut alpha = 1.0 / norm2(&x.gradient).max(1.0);
    let mut iterations = 0;
    let stop = loop {
        if let Some(stop) = small_gradient(&x, control) {
            break stop;
        }
        if iterations >= max_iter {
            break iteration_limit(max_iter, &x);
        }
        let d = x.gradient.clone();
        let slope = dot(&d, &d);
        match backtrack(ev, &x, &d, slope, 2.0 * alpha, control.max_halvings, false)? {
            Some((next, _, a)) => {
                // No ftol test here: convergence is linear, and a small
                // change per step says little about the distance to the
                // maximum (in Rosenbrock's valley steps change f by 1e-13
                // while still 1e-3 away from it). But once a step changes f
                // by no more than rounding, comparing values can no longer
                // guide the search: stop.
                let old = x.value;
                x = next;
                alpha = a;
                iterations += 1;
                if (x.value - old).abs() <= NOISE * x.value.abs().max(1.0) {
                    let sg = x.scaled_gradient();
                    let message = format!(
                        "the last step changed the log-likelihood by {:.3e}, within rounding error, so it cannot be \
                         increased measurably; the scaled gradient is {sg:.3e}",
                        (x.value - old).abs()
                    );
                    break if sg <= control.gtol.sqrt() { Stop::converged(message) } else { Stop::failed(message) };
                }
            }
            None => break line_search_failed(&x, control),
        }
    };
    finish(ev, x, None, iterations, stop)
}

// ---------------------------------------------------------------------------
// Quasi-Newton

/// An approximation of (-H)^{-1}, positive definite by construction.
trait InverseHessian {
    /// (-H)^{-1} g: the search direction.
    fn direction(&self, g: &[f64]) -> Vec<f64>;
    /// Incorporates the step s and the change y = g_old - g_new of the
    /// gradient (the change in the gradient of -f), given s'y > 0.
    fn update(&mut self, s: Vec<f64>, y: Vec<f64>, sy: f64);
    /// Back to the identity.
    fn reset(&mut self);
    /// True while no update has been made since construction or reset.
    fn fresh(&self) -> bool;
}

/// BFGS: the full p x p inverse approximation, column-major.
struct Dense {
    p: usize,
    h: Vec<f64>,
    fresh: bool,
}

impl Dense {
    fn new(p: usize) -> Dense {
        let mut d = Dense { p, h: Vec::new(), fresh: true };
        d.reset();
        d
    }
    fn times(&self, v: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; self.p];
        for (column, vj) in self.h.chunks_exact(self.p).zip(v) {
            out.iter_mut().zip(column).for_each(|(o, hij)| *o += hij * vj);
        }
        out
    }
}

impl InverseHessian for Dense {
    fn direction(&self, g: &[f64]) -> Vec<f64> {
        self.times(g)
    }
    fn update(&mut self, s: Vec<f64>, y: Vec<f64>, sy: f64) {
        let p = self.p;
        if self.fresh {
            // Scale the identity to the curvature just observed before the
            // first update (Nocedal and Wright, eq. 6.20).
            let gamma = sy / dot(&y, &y);
            self.h.iter_mut().for_each(|v| *v *= gamma);
        }
        // H+ = (I - rho s y') H (I - rho y s') + rho s s'
        //    = H - rho (s (Hy)' + (Hy) s') + (rho^2 y'Hy + rho) s s'
        let rho = 1.0 / sy;
        let hy = self.times(&y);
        let c = rho * rho * dot(&y, &hy) + rho;
        for j in 0..p {
            for i in 0..p {
                self.h[i + j * p] += -rho * (s[i] * hy[j] + hy[i] * s[j]) + c * s[i] * s[j];
            }
        }
        self.fresh = false;
    }
    fn reset(&mut self) {
        let p = self.p;
        self.h = vec![0.0; p * p];
        for i in 0..p {
            self.h[i + i * p] = 1.0;
        }
        self.fresh = true;
    }
    fn fresh(&self) -> bool {
        self.fresh
    }
}

/// L-BFGS: the last `memory` pairs (s, y, 1 / s'y), applied by the
/// two-loop recursion with initial matrix (s'y / y'y) I from the newest pair.
struct Limited {
    memory: usize,
    pairs: VecDeque<(Vec<f64>, Vec<f64>, f64)>,
}

impl InverseHessian for Limited {
    fn direction(&self, g: &[f64]) -> Vec<f64> {
        let mut q = g.to_vec();
        let mut a = vec![0.0; self.pairs.len()];
        for (k, (s, y, rho)) in self.pairs.iter().enumerate().rev() {
            a[k] = rho * dot(s, &q);
            q.iter_mut().zip(y).for_each(|(qi, yi)| *qi -= a[k] * yi);
        }
        if let Some((_, y, rho)) = self.pairs.back() {
            let gamma = 1.0 / (rho * dot(y, y));
            q.iter_mut().for_each(|qi| *qi *= gamma);
        }
        for (k, (s, y, rho)) in self.pairs.iter().enumerate() {
            let b = rho * dot(y, &q);
            q.iter_mut().zip(s).for_each(|(qi, si)| *qi += (a[k] - b) * si);
        }
        q
    }
    fn update(&mut self, s: Vec<f64>, y: Vec<f64>, sy: f64) {
        if self.pairs.len() == self.memory {
            self.pairs.pop_front();
        }
        self.pairs.push_back((s, y, 1.0 / sy));
    }
    fn reset(&mut self) {
        self.pairs.clear();
    }
    fn fresh(&self) -> bool {
        self.pairs.is_empty()
    }
}

pub(super) fn bfgs(ev: &mut Evaluator<'_>, start: &[f64], control: &Control, max_iter: usize) -> Result<Outcome> {
    quasi_newton(ev, start, control, max_iter, &mut Dense::new(start.len()))
}

pub(super) fn lbfgs(ev: &mut Evaluator<'_>, start: &[f64], control: &Control, max_iter: usize) -> Result<Outcome> {
    let mut approx = Limited { memory: control.memory, pairs: VecDeque::new() };
    quasi_newton(ev, start, control, max_iter, &mut approx)
}

fn quasi_newton(
    ev: &mut Evaluator<'_>,
    start: &[f64],
    control: &Control,
    max_iter: usize,
    approx: &mut dyn InverseHessian,
) -> Result<Outcome> {
    let (f, g) = ev.gradient(start)?;
    let mut x = Point::start(start, f, g)?;
    let mut iterations = 0;
    let stop = loop {
        if let Some(stop) = small_gradient(&x, control) {
            break stop;
        }
        if iterations >= max_iter {
            break iteration_limit(max_iter, &x);
        }
        let mut d = approx.direction(&x.gradient);
        let mut slope = dot(&x.gradient, &d);
        if !(slope > 0.0 && slope.is_finite()) {
            // Rounding has spoilt the approximation: start afresh.
            approx.reset();
            d = approx.direction(&x.gradient);
            slope = dot(&x.gradient, &d);
        }
        // Without curvature information the first trial moves theta by at
        // most 1; with it, the unit quasi-Newton step comes first.
        let alpha0 = if approx.fresh() { 1.0 / norm2(&d).max(1.0) } else { 1.0 };
        let next = match weak_wolfe(ev, &x, &d, slope, alpha0, control.max_halvings)? {
            Some(next) => next,
            // Retry once along the gradient before giving up.
            None if !approx.fresh() => {
                approx.reset();
                continue;
            }
            None => break line_search_failed(&x, control),
        };
        let s: Vec<f64> = next.theta.iter().zip(&x.theta).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = x.gradient.iter().zip(&next.gradient).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        if sy > CURVATURE_TOL * norm2(&s) * norm2(&y) {
            approx.update(s, y, sy);
        }
        let old = x.value;
        x = next;
        iterations += 1;
        if let Some(stop) = small_change_stop(old, &x, control) {
            break stop;
        }
    };
    finish(ev, x, None, iterations, stop)
}
