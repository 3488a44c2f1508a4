//! Line searches along an ascent direction d from an accepted point x, with
//! slope g'd > 0. A trial whose value (or gradient) is not finite counts as
//! a failed trial: the step is shortened, never an error.

use super::{all_finite, dot, step, Evaluator, Point};
use crate::Result;

/// Sufficient increase (Armijo): f(x + a d) >= f(x) + C1 a g'd.
pub(super) const C1: f64 = 1e-4;
/// Weak Wolfe curvature: g(x + a d)'d <= C2 g'd.
pub(super) const C2: f64 = 0.9;

/// An accepted point, its Hessian if asked for, and the step length.
pub(super) type Accepted = (Point, Option<Vec<f64>>, f64);

/// Backtracking by halving from `alpha0` until the Armijo condition holds.
/// Trials call only `value`; the accepted point is then completed with
/// `gradient` (or `hessian` when `with_hessian`), and a point whose gradient
/// is not finite is rejected too. Returns the point, its Hessian if asked
/// for, and the step length; `None` after `max_halvings` halvings.
pub(super) fn backtrack(
    ev: &mut Evaluator<'_>,
    x: &Point,
    d: &[f64],
    slope: f64,
    alpha0: f64,
    max_halvings: usize,
    with_hessian: bool,
) -> Result<Option<Accepted>> {
    let mut alpha = alpha0;
    for _ in 0..=max_halvings {
        let theta = step(&x.theta, alpha, d);
        let f = ev.value(&theta)?;
        if f.is_finite() && f >= x.value + C1 * alpha * slope {
            let (f, g, h) = if with_hessian {
                let (f, g, h) = ev.hessian(&theta)?;
                (f, g, Some(h))
            } else {
                let (f, g) = ev.gradient(&theta)?;
                (f, g, None)
            };
            if f.is_finite() && all_finite(&g) {
                return Ok(Some((Point { theta, value: f, gradient: g }, h, alpha)));
            }
        }
        alpha *= 0.5;
    }
    Ok(None)
}

/// A step satisfying the weak Wolfe conditions (sufficient increase, and the
/// slope along d has dropped to at most C2 times its initial value), by
/// bracketing: double the step while both hold except the curvature
/// condition, bisect once a failed trial bounds it above (Lewis and
/// Overton's scheme). Every trial calls `gradient`. If the budget of
/// `max_halvings` shortenings (or as many lengthenings) runs out, the longest
/// step found with sufficient increase is returned (Armijo only); `None` if
/// there is none.
pub(super) fn weak_wolfe(
    ev: &mut Evaluator<'_>,
    x: &Point,
    d: &[f64],
    slope: f64,
    alpha0: f64,
    max_halvings: usize,
) -> Result<Option<Point>> {
    let (mut lo, mut hi) = (0.0_f64, f64::INFINITY);
    let mut alpha = alpha0;
    let (mut shortened, mut lengthened) = (0, 0);
    let mut best: Option<Point> = None;
    loop {
        let theta = step(&x.theta, alpha, d);
        let (f, g) = ev.gradient(&theta)?;
        let usable = f.is_finite() && all_finite(&g);
        if !usable || f < x.value + C1 * alpha * slope {
            hi = alpha;
            shortened += 1;
            if shortened > max_halvings {
                break;
            }
        } else if dot(&g, d) > C2 * slope {
            lo = alpha;
            best = Some(Point { theta, value: f, gradient: g });
            lengthened += 1;
            if lengthened > max_halvings {
                break;
            }
        } else {
            return Ok(Some(Point { theta, value: f, gradient: g }));
        }
        alpha = if hi.is_finite() { 0.5 * (lo + hi) } else { 2.0 * alpha };
    }
    Ok(best)
}
