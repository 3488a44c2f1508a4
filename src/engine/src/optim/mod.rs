//! Maximum-likelihood optimisers: maximise a log-likelihood given as an
//! [`Objective`] (which the bindings implement by calling back into R).
//!
//! Four methods, all maximising:
//!
//! * `newton` (default): exact Hessian; the Newton step when -H is positive
//!   definite, otherwise a step from the eigen-decomposition of -H with
//!   eigenvalues replaced by max(|lambda|, delta), which always goes uphill
//!   (see [`crate::linalg::ascent_direction`]); backtracking line search.
//!   At a stationary point where H has a clearly positive eigenvalue (a
//!   saddle, not a maximum) it steps along that eigenvector instead of
//!   stopping.
//! * `bfgs`: quasi-Newton with a dense inverse-Hessian approximation.
//! * `lbfgs`: limited-memory BFGS (the last `memory` steps).
//! * `gradient`: steepest ascent with backtracking. Slow (linear
//!   convergence at a rate set by the conditioning of the Hessian); it is
//!   there for teaching, hence its large default `max_iter`.
//!
//! Which objective calls each method makes: Newton tries steps with `value`
//! and calls `hessian` at each accepted point; BFGS and L-BFGS call
//! `gradient` (value and gradient) at every trial, as their Wolfe line search
//! needs the slope; steepest ascent tries steps with `value` and calls
//! `gradient` at each accepted point. The first-order methods call `hessian`
//! once at the end, so that every outcome carries the Hessian at the optimum
//! (standard errors need it).
//!
//! Convergence is judged on the scaled gradient (see [`Control::gtol`]),
//! which every method tests; see [`Control::ftol`] for the other stops.
//!
//! Values that are NaN, -Inf or +Inf at a trial point (a parameter left its
//! domain) shorten the step like any other failed trial; they are never an
//! error. A non-finite value at the *starting* values is an error.
//! Not converging is not an error either: `converged` is false and
//! `message` says why.

mod line_search;
mod methods;

#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

use crate::{bail, Error, Result};

/// A log-likelihood to maximise. Each call may fail (an R error in a
/// callback); the error ends the optimisation. Values may be NaN or -Inf
/// outside the parameter domain.
pub trait Objective {
    /// The log-likelihood at `theta`.
    fn value(&mut self, theta: &[f64]) -> Result<f64>;
    /// The log-likelihood and its gradient at `theta`.
    fn gradient(&mut self, theta: &[f64]) -> Result<(f64, Vec<f64>)>;
    /// The log-likelihood, its gradient and its p x p Hessian (column-major)
    /// at `theta`.
    fn hessian(&mut self, theta: &[f64]) -> Result<(f64, Vec<f64>, Vec<f64>)>;
}

/// Optimisation method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Method {
    #[default]
    Newton,
    Bfgs,
    Lbfgs,
    Gradient,
}

impl Method {
    pub const ALL: [Method; 4] = [Method::Newton, Method::Bfgs, Method::Lbfgs, Method::Gradient];

    /// The name used on the R side.
    pub fn name(self) -> &'static str {
        match self {
            Method::Newton => "newton",
            Method::Bfgs => "bfgs",
            Method::Lbfgs => "lbfgs",
            Method::Gradient => "gradient",
        }
    }

    /// Parses "newton", "bfgs", "lbfgs" or "gradient".
    pub fn from_name(name: &str) -> Result<Method> {
        match Method::ALL.iter().find(|m| m.name() == name) {
            Some(&m) => Ok(m),
            None => {
                let valid: Vec<String> = Method::ALL.iter().map(|m| format!("\"{}\"", m.name())).collect();
                bail!("fit: unknown method \"{name}\"; valid methods are {}", valid.join(", "))
            }
        }
    }

    /// Iterations allowed when `Control::max_iter` is `None`: 100 for
    /// Newton (quadratic convergence: a well-posed problem needs a few
    /// dozen at most, so hitting 100 signals a problem), 1000 for the
    /// quasi-Newton methods (superlinear, but they must first learn the
    /// curvature), 10000 for steepest ascent (linear convergence, which on
    /// an ill-conditioned likelihood needs thousands of steps).
    pub fn default_max_iter(self) -> usize {
        match self {
            Method::Newton => 100,
            Method::Bfgs | Method::Lbfgs => 1000,
            Method::Gradient => 10000,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Method {
    type Err = Error;
    fn from_str(s: &str) -> Result<Method> {
        Method::from_name(s)
    }
}

/// Tuning of the optimisers.
#[derive(Debug, Clone, PartialEq)]
pub struct Control {
    /// Maximum number of iterations (accepted steps); `None` means
    /// [`Method::default_max_iter`].
    pub max_iter: Option<usize>,
    /// Convergence when the scaled gradient
    /// max_i |g_i| * max(|theta_i|, 1) / max(|f|, 1)
    /// is at most `gtol` (the relative gradient of R's `nlm`, which makes the
    /// test invariant to the units of the parameters and of the
    /// log-likelihood). Default 1e-8.
    pub gtol: f64,
    /// Relative tolerance on the log-likelihood, default 1e-12: BFGS and
    /// L-BFGS stop (converged) when an iteration changes f by at most
    /// ftol * max(|f|, 1); Newton stops when the predicted gain of a Newton
    /// step (half the Newton decrement) is below that, taking that last step
    /// first. Steepest ascent ignores it: its convergence is linear, so a
    /// small change per step does not mean it is close to the maximum. It
    /// stops on the gradient test, or when a step changes f by no more than
    /// rounding (10 machine epsilons relative), which counts as converged if
    /// the scaled gradient is at most sqrt(gtol).
    pub ftol: f64,
    /// Number of (s, y) pairs L-BFGS remembers. Default 10.
    pub memory: usize,
    /// Maximum number of times a line search shortens (or, for the Wolfe
    /// search, lengthens) the step. Default 50 (2^-50 ~ 1e-15).
    pub max_halvings: usize,
}

impl Default for Control {
    fn default() -> Self {
        Control { max_iter: None, gtol: 1e-8, ftol: 1e-12, memory: 10, max_halvings: 50 }
    }
}

impl Control {
    pub fn max_iter_for(&self, method: Method) -> usize {
        self.max_iter.unwrap_or_else(|| method.default_max_iter())
    }

    fn validate(&self) -> Result<()> {
        if !(self.gtol >= 0.0 && self.gtol.is_finite()) {
            bail!("fit: gtol must be a non-negative number, got {}", crate::error::show_number(self.gtol));
        }
        if !(self.ftol >= 0.0 && self.ftol.is_finite()) {
            bail!("fit: ftol must be a non-negative number, got {}", crate::error::show_number(self.ftol));
        }
        if self.memory == 0 {
            bail!("fit: the L-BFGS memory must be at least 1");
        }
        Ok(())
    }
}

/// Result of a maximisation.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The parameters at the end.
    pub par: Vec<f64>,
    /// The log-likelihood there.
    pub value: f64,
    /// Its gradient there.
    pub gradient: Vec<f64>,
    /// Its p x p Hessian there (column-major). Every method fills it in, from
    /// one final `hessian` call (Newton reuses the one it already has).
    pub hessian: Option<Vec<f64>>,
    /// Accepted steps.
    pub iterations: usize,
    /// Calls to the objective (value, gradient and hessian calls alike).
    pub evaluations: usize,
    pub converged: bool,
    /// Why the optimiser stopped.
    pub message: String,
}

/// Maximises `objective` from `start`.
///
/// Errors: invalid control settings, an empty or non-finite `start`, a
/// non-finite log-likelihood or gradient at `start`, an objective that
/// returns a gradient or Hessian of the wrong length, and any error the
/// objective itself returns. Everything else, including not converging,
/// is reported in the [`Outcome`].
pub fn maximize(objective: &mut dyn Objective, start: &[f64], method: Method, control: &Control) -> Result<Outcome> {
    control.validate()?;
    if start.is_empty() {
        bail!("fit: there are no parameters to estimate");
    }
    if let Some(i) = start.iter().position(|v| !v.is_finite()) {
        bail!("fit: starting value {} is not a finite number", i + 1);
    }
    let mut ev = Evaluator { objective, p: start.len(), evaluations: 0 };
    let max_iter = control.max_iter_for(method);
    // Each step's derivatives reuse the large buffers of the previous one's.
    let _buffers = crate::batch::reuse_buffers();
    match method {
        Method::Newton => methods::newton(&mut ev, start, control, max_iter),
        Method::Bfgs => methods::bfgs(&mut ev, start, control, max_iter),
        Method::Lbfgs => methods::lbfgs(&mut ev, start, control, max_iter),
        Method::Gradient => methods::gradient(&mut ev, start, control, max_iter),
    }
}

/// The objective with call counting and checks on what it returns.
pub(crate) struct Evaluator<'a> {
    objective: &'a mut dyn Objective,
    p: usize,
    evaluations: usize,
}

impl Evaluator<'_> {
    fn value(&mut self, theta: &[f64]) -> Result<f64> {
        self.evaluations += 1;
        self.objective.value(theta)
    }

    fn gradient(&mut self, theta: &[f64]) -> Result<(f64, Vec<f64>)> {
        self.evaluations += 1;
        let (f, g) = self.objective.gradient(theta)?;
        self.check_gradient(&g)?;
        Ok((f, g))
    }

    fn hessian(&mut self, theta: &[f64]) -> Result<(f64, Vec<f64>, Vec<f64>)> {
        self.evaluations += 1;
        let (f, g, h) = self.objective.hessian(theta)?;
        self.check_gradient(&g)?;
        if h.len() != self.p * self.p {
            bail!(
                "fit: the Hessian has {} entries but there are {} parameters (need {})",
                h.len(),
                self.p,
                self.p * self.p
            );
        }
        Ok((f, g, h))
    }

    fn check_gradient(&self, g: &[f64]) -> Result<()> {
        if g.len() != self.p {
            bail!("fit: the gradient has length {} but there {}", g.len(), crate::error::there_are(self.p, "parameter"));
        }
        Ok(())
    }
}

/// An accepted point: parameters, value and gradient, all finite.
#[derive(Debug, Clone)]
pub(crate) struct Point {
    theta: Vec<f64>,
    value: f64,
    gradient: Vec<f64>,
}

impl Point {
    /// The point at the starting values, or the starting-value error.
    fn start(theta: &[f64], value: f64, gradient: Vec<f64>) -> Result<Point> {
        if !value.is_finite() {
            bail!("fit: the log-likelihood is not finite at the starting values");
        }
        if !all_finite(&gradient) {
            bail!("fit: the gradient of the log-likelihood is not finite at the starting values");
        }
        Ok(Point { theta: theta.to_vec(), value, gradient })
    }

    /// max_i |g_i| * max(|theta_i|, 1) / max(|f|, 1).
    fn scaled_gradient(&self) -> f64 {
        let g = self.gradient.iter().zip(&self.theta).map(|(g, t)| g.abs() * t.abs().max(1.0)).fold(0.0, f64::max);
        g / self.value.abs().max(1.0)
    }
}

/// Why the main loop stopped.
pub(crate) struct Stop {
    converged: bool,
    message: String,
}

impl Stop {
    fn converged(message: String) -> Stop {
        Stop { converged: true, message: format!("converged: {message}") }
    }
    fn failed(message: String) -> Stop {
        Stop { converged: false, message: format!("not converged: {message}") }
    }
}

/// Builds the outcome at `x`; `hessian` is the Hessian at `x` if the method
/// has it, otherwise one final `hessian` call supplies value, gradient and
/// Hessian together.
fn finish(
    ev: &mut Evaluator<'_>,
    x: Point,
    hessian: Option<Vec<f64>>,
    iterations: usize,
    stop: Stop,
) -> Result<Outcome> {
    let (value, gradient, hessian) = match hessian {
        Some(h) => (x.value, x.gradient, h),
        None => ev.hessian(&x.theta)?,
    };
    Ok(Outcome {
        par: x.theta,
        value,
        gradient,
        hessian: Some(hessian),
        iterations,
        evaluations: ev.evaluations,
        converged: stop.converged,
        message: stop.message,
    })
}

fn all_finite(x: &[f64]) -> bool {
    x.iter().all(|v| v.is_finite())
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm2(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// theta + alpha * d
fn step(theta: &[f64], alpha: f64, d: &[f64]) -> Vec<f64> {
    theta.iter().zip(d).map(|(t, di)| t + alpha * di).collect()
}

/// Is the change from `old` to `new` at most ftol relative to the value?
fn small_change(old: f64, new: f64, ftol: f64) -> bool {
    (new - old).abs() <= ftol * new.abs().max(1.0)
}
