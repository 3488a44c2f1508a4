//! Fused log-likelihood kernels, the optimiser behind fit(), and what
//! sandwich standard errors and the bootstrap ask of the kernels. The
//! optimiser runs in the engine; it calls back into R only to record the
//! log-likelihood when a replay of its recording cannot be trusted.

use extendr_api::prelude::*;
use extendr_api::{Error, Result};
use femtograd_engine::kernels::{record_kernel, record_ordinal, record_regression, Form, KernelData};
use femtograd_engine::linalg::{covariance_from_information, inverse_spd};
use femtograd_engine::replay::{Recording, Replayed};
use femtograd_engine::tape::{kernel_observations, observation_count, saturated_observations};
use femtograd_engine::record::sum_as_kernel;
use femtograd_engine::optim::{maximize, Control, Method, Objective};
use femtograd_engine::error::{na_real, show_number};
use femtograd_engine::scores::observation_scores;
use femtograd_engine::Var;

use crate::convert::{data_from_r, r_error, tensor_from_r, var_from_r, var_to_r, vars_from_r};

// One kernel node; `size` is NULL except for the binomial, `weights` NULL
// except while the bootstrap refits. `form` is "counted" (a loglik_* call),
// "uncounted" (standing in for the sum of a density written in R: it reports
// no observations) or "pointwise" (the log-density of each observation).
#[extendr]
fn fg_kernel(
    name: &str,
    params: List,
    x: Robj,
    size: Nullable<Vec<f64>>,
    weights: Nullable<Vec<f64>>,
    form: &str,
) -> Result<Robj> {
    let x = data_from_r(&x, "x")?;
    let data = match size {
        Nullable::NotNull(s) => KernelData::with_size(x, s),
        Nullable::Null => KernelData::new(x),
    };
    let form = match form {
        "counted" => Form::Counted,
        "uncounted" => Form::Uncounted,
        "pointwise" => Form::Pointwise,
        _ => return Err(Error::Other(format!("fg_kernel: unknown form '{form}'"))),
    };
    let data = data.recorded_as(form);
    let weights = match weights {
        Nullable::NotNull(w) => Some(w),
        Nullable::Null => None,
    };
    let out = record_kernel(name, &vars_from_r(&params)?, data.weighted(weights)).map_err(r_error)?;
    let near = params.values().next();
    Ok(var_to_r(&out, near.as_ref()))
}

// sum(x) of a distribution's log-densities x (a kernel's pointwise node)
// as that distribution's kernel, sharing its checked data; NULL when x is
// any other value.
#[extendr]
fn fg_sum_as_kernel(x: Robj) -> Result<Robj> {
    match sum_as_kernel(&var_from_r(&x)?).map_err(r_error)? {
        Some(sum) => Ok(var_to_r(&sum, Some(&x))),
        None => Ok(r!(NULL)),
    }
}

// A regression's log-likelihood as one node: kernel `name` at the linear
// predictor X %*% beta (+ `offset`), X a double matrix (with its `dim`),
// responses `y` (double), out of `size` trials for a grouped logistic
// regression; `weights` NULL unless the fit is weighted.
#[extendr]
fn fg_regression(
    name: &str,
    beta: Robj,
    x: Robj,
    dim: Robj,
    y: Robj,
    size: Nullable<Vec<f64>>,
    offset: Nullable<Vec<f64>>,
    weights: Nullable<Vec<f64>>,
) -> Result<Robj> {
    let design = tensor_from_r(data_from_r(&x, "X")?, &dim)?;
    let optional = |v: Nullable<Vec<f64>>| match v {
        Nullable::NotNull(v) => Some(v),
        Nullable::Null => None,
    };
    let y = data_from_r(&y, "y")?;
    let data = match optional(size) {
        Some(size) => KernelData::with_size(y, size),
        None => KernelData::new(y),
    };
    let data = data.weighted(optional(weights));
    let node = record_regression(name, &var_from_r(&beta)?, design, optional(offset), data).map_err(r_error)?;
    Ok(var_to_r(&node, Some(&beta)))
}

// The ordinal logistic regression (MASS::polr) as one node: linear
// predictor `eta`, cut points `zeta`, categories `y` in 1..levels (double),
// `weights` NULL unless the fit is weighted.
#[extendr]
fn fg_ordinal(eta: Robj, zeta: Robj, y: Vec<f64>, levels: i32, weights: Nullable<Vec<f64>>) -> Result<Robj> {
    let weights = match weights {
        Nullable::NotNull(w) => Some(w),
        Nullable::Null => None,
    };
    let levels = usize::try_from(levels).map_err(|_| Error::Other("loglik_polr: levels must be positive".into()))?;
    let node = record_ordinal(&var_from_r(&eta)?, &var_from_r(&zeta)?, &y, levels, weights).map_err(r_error)?;
    Ok(var_to_r(&node, Some(&eta)))
}

// The n x p matrix of per-observation scores of a log-likelihood that is a
// sum of kernels.
#[extendr]
fn fg_observation_scores(root: Robj, params: List) -> Result<Robj> {
    let s = observation_scores(&var_from_r(&root)?, &vars_from_r(&params)?).map_err(r_error)?;
    let (n, p) = s.shape.as_matrix();
    Ok(RMatrix::new_matrix(n, p, |i, k| s.data[i + k * n]).into())
}

// `loglik` tagged with the ids of its observations (see observation_ids()
// in R); `ids` were checked in R to be positive whole numbers below 2^32.
#[extendr]
fn fg_observation_ids(loglik: Robj, ids: Vec<f64>) -> Result<Robj> {
    let ids: Vec<u32> = ids.iter().map(|&id| id as u32).collect();
    let out = femtograd_engine::ops::observation_ids::observation_ids(&var_from_r(&loglik)?, ids).map_err(r_error)?;
    Ok(var_to_r(&out, Some(&loglik)))
}

// The number of observations of each kernel under `root`, named by kernel.
#[extendr]
fn fg_kernel_observations(root: Robj) -> Result<Robj> {
    let kernels = kernel_observations(&var_from_r(&root)?);
    let mut counts: Robj = kernels.iter().map(|&(_, n)| n as f64).collect_robj();
    let names: Vec<&str> = kernels.iter().map(|&(name, _)| name).collect();
    counts.set_names(names)?;
    Ok(counts)
}

/// A p x p column-major matrix for R, or NULL.
fn square_or_null(p: usize, m: Option<Vec<f64>>) -> Robj {
    match m {
        Some(v) => RMatrix::new_matrix(p, p, |i, j| v[i + j * p]).into(),
        None => r!(NULL),
    }
}

// Inverse of a symmetric positive definite matrix (NULL if it is not).
#[extendr]
fn fg_inverse_spd(a: RMatrix<f64>) -> Robj {
    square_or_null(a.nrows(), inverse_spd(a.data()))
}

// The covariance of the estimates from the information matrix (NULL when
// it is not positive definite or is numerically singular).
#[extendr]
fn fg_covariance(information: RMatrix<f64>) -> Robj {
    square_or_null(information.nrows(), covariance_from_information(information.data()))
}

/// The log-likelihood as the optimiser sees it. `record(theta)` is an R
/// closure returning `list(output = <value>, params = <list of leaves>)`, or
/// an error condition if the user's function failed. The function is
/// recorded once; at each new point the recording is replayed in Rust, and
/// R is called again only when a guard fails (the R code would take
/// another path there) or the replay itself fails.
struct RecordedLoglik {
    record: Function,
    /// FALSE: call R at every new point (the reference replays are tested
    /// against).
    replay: bool,
    /// The recording and the point its tape holds now: a line search
    /// evaluates the value at the point Newton then wants the Hessian of,
    /// and the tape already holds both.
    current: Option<(Vec<f64>, Recording)>,
    /// How often R was called, for `fit()$recordings`.
    recordings: usize,
}

impl RecordedLoglik {
    /// The recording, replayed at `theta` (or recorded there by R).
    fn at(&mut self, theta: &[f64]) -> femtograd_engine::Result<&Recording> {
        let replayed = match &mut self.current {
            Some((at, recording)) => {
                if at.as_slice() != theta {
                    at.clear();
                    if self.replay && recording.replay(theta).is_ok_and(|r| r == Replayed::Done) {
                        at.extend_from_slice(theta);
                    }
                }
                at.as_slice() == theta
            }
            None => false,
        };
        if !replayed {
            let recording = self.call_r(theta)?;
            self.recordings += 1;
            self.current = Some((theta.to_vec(), recording));
        }
        Ok(&self.current.as_ref().expect("a recording was just made or replayed").1)
    }

    fn call_r(&self, theta: &[f64]) -> femtograd_engine::Result<Recording> {
        let fail = |msg: String| femtograd_engine::Error::new(msg);
        let out = self.record.call(pairlist!(theta.to_vec())).map_err(|e| fail(format!("fit: {e}")))?;
        if out.inherits("condition") {
            let msg = out.dollar("message").ok().and_then(|m| m.as_str().map(String::from)).unwrap_or_default();
            return Err(fail(format!("fit: the log-likelihood function failed: {msg}")));
        }
        let list: List = out.try_into().map_err(|_| fail("fit: internal error: record() must return a list".into()))?;
        let output = list.dollar("output").map_err(|e| fail(e.to_string()))?;
        let params: List = list
            .dollar("params")
            .and_then(|p| p.try_into())
            .map_err(|e: Error| fail(e.to_string()))?;
        let root = var_from_r(&output).map_err(|e| fail(e.to_string()))?;
        let leaves = vars_from_r(&params).map_err(|e| fail(e.to_string()))?;
        Recording::new(root, leaves).map_err(|e| fail(format!("fit: {e}")))
    }
}

impl Objective for RecordedLoglik {
    fn value(&mut self, theta: &[f64]) -> femtograd_engine::Result<f64> {
        Ok(self.at(theta)?.root().value().data[0])
    }
    fn gradient(&mut self, theta: &[f64]) -> femtograd_engine::Result<(f64, Vec<f64>)> {
        self.at(theta)?.value_and_gradient()
    }
    fn hessian(&mut self, theta: &[f64]) -> femtograd_engine::Result<(f64, Vec<f64>, Vec<f64>)> {
        self.at(theta)?.value_gradient_hessian()
    }
}

/// The optimiser's settings, and whether to replay recordings.
fn control_from_r(control: &List) -> Result<(Control, bool)> {
    let mut c = Control::default();
    let mut replay = true;
    for (name, value) in control.iter() {
        if name == "replay" {
            replay = value
                .as_bool()
                .ok_or_else(|| Error::Other("fit: control$replay must be TRUE or FALSE".into()))?;
            continue;
        }
        let number = value
            .as_real()
            // an integer NA is R's NA, not the integer that stands for it
            .or_else(|| value.as_integer().map(|i| if i == i32::MIN { na_real() } else { f64::from(i) }))
            .ok_or_else(|| Error::Other(format!("fit: control${name} must be a single number")))?;
        // Counts are whole numbers from 0 (1 for memory) to a billion;
        // tolerances finite and not negative. NA, Inf and fractions are
        // errors rather than an endless loop or a silent rounding.
        let count = |least: f64| -> Result<usize> {
            if number.is_finite() && number == number.trunc() && (least..=1e9).contains(&number) {
                Ok(number as usize)
            } else {
                Err(Error::Other(format!(
                    "fit: control${name} must be a whole number from {least} to 1e9, got {}",
                    show_number(number)
                )))
            }
        };
        let tolerance = || -> Result<f64> {
            if number.is_finite() && number >= 0.0 {
                Ok(number)
            } else {
                Err(Error::Other(format!(
                    "fit: control${name} must be a finite number >= 0, got {}",
                    show_number(number)
                )))
            }
        };
        match name {
            "max_iter" => c.max_iter = Some(count(0.0)?),
            "gtol" => c.gtol = tolerance()?,
            "ftol" => c.ftol = tolerance()?,
            "memory" => c.memory = count(1.0)?,
            "max_halvings" => c.max_halvings = count(0.0)?,
            other => {
                return Err(Error::Other(format!(
                    "fit: unknown control setting '{other}' (known: max_iter, gtol, ftol, memory, max_halvings, replay)"
                )))
            }
        }
    }
    Ok((c, replay))
}

#[extendr]
fn fg_maximize(record: Function, start: &[f64], method: &str, control: List) -> Result<Robj> {
    let method = Method::from_name(method).map_err(r_error)?;
    let (control, replay) = control_from_r(&control)?;
    let mut objective = RecordedLoglik { record, replay, current: None, recordings: 0 };
    let out = maximize(&mut objective, start, method, &control).map_err(r_error)?;
    let root = objective.at(&out.par).map_err(r_error)?.root().clone();
    let summary = observation_summary(&root);
    Ok(list!(
        par = out.par.clone(),
        value = out.value,
        gradient = out.gradient.clone(),
        hessian = hessian_to_r(&out),
        iterations = out.iterations as i32,
        evaluations = out.evaluations as i32,
        converged = out.converged,
        message = out.message.clone(),
        observations = summary.0,
        saturated = summary.1,
        recordings = objective.recordings as i32
    )
    .into())
}

fn hessian_to_r(out: &femtograd_engine::optim::Outcome) -> Robj {
    square_or_null(out.par.len(), out.hessian.clone())
}

/// The number of observations of the kernels under `root` (NA if none)
/// and, by kernel name, how many of their fitted probabilities are
/// numerically 0 or 1 (see warn_on_saturation() in R).
fn observation_summary(root: &Var) -> (Robj, Robj) {
    let observations = match observation_count(root) {
        Some(n) => r!(n as f64),
        None => r!(NA_REAL),
    };
    let saturated = saturated_observations(root);
    let saturated: Robj = List::from_names_and_values(
        saturated.iter().map(|(name, _)| *name),
        saturated.iter().map(|(_, n)| *n as f64),
    )
    .map(Robj::from)
    .unwrap_or_else(|_| r!(NULL));
    (observations, saturated)
}

// What fg_maximize() reports about a recording's observations, for a
// log-likelihood recorded outside it (a data shard's, on a worker).
#[extendr]
fn fg_observation_summary(root: Robj) -> Result<Robj> {
    let (observations, saturated) = observation_summary(&var_from_r(&root)?);
    Ok(list!(observations = observations, saturated = saturated).into())
}

// Replays the recording of `root` against the leaves `params` at `theta`:
// TRUE when the tape now holds the model there, FALSE when R must record it
// again (a guard failed, or the replay could not be evaluated).
#[extendr]
fn fg_replay(root: Robj, params: List, theta: &[f64]) -> Result<bool> {
    let recording = Recording::new(var_from_r(&root)?, vars_from_r(&params)?).map_err(r_error)?;
    Ok(recording.replay(theta).is_ok_and(|r| r == Replayed::Done))
}

/// A log-likelihood whose value and derivatives R computes and hands over as
/// numbers: `evaluate(theta, order)` returns `list(value, gradient, hessian)`
/// (the derivatives up to `order`, 0 to 2), or an error condition. A sum
/// over data shards evaluated on a cluster is one. The last point's numbers
/// are kept, since Newton asks for the Hessian where the line search has
/// just taken the value.
struct EvaluatedLoglik {
    evaluate: Function,
    /// The last point, the highest order evaluated there, and its numbers.
    last: Option<(Vec<f64>, i32, f64, Vec<f64>, Vec<f64>)>,
    calls: usize,
}

impl EvaluatedLoglik {
    fn at(&mut self, theta: &[f64], order: i32) -> femtograd_engine::Result<(f64, Vec<f64>, Vec<f64>)> {
        if let Some((at, have, value, gradient, hessian)) = &self.last {
            if at.as_slice() == theta && *have >= order {
                return Ok((*value, gradient.clone(), hessian.clone()));
            }
        }
        let fail = |msg: String| femtograd_engine::Error::new(msg);
        self.calls += 1;
        let out = self.evaluate.call(pairlist!(theta.to_vec(), order)).map_err(|e| fail(format!("fit: {e}")))?;
        if out.inherits("condition") {
            let msg = out.dollar("message").ok().and_then(|m| m.as_str().map(String::from)).unwrap_or_default();
            return Err(fail(format!("fit: the log-likelihood function failed: {msg}")));
        }
        let p = theta.len();
        let numbers = |name: &str, len: usize| -> femtograd_engine::Result<Vec<f64>> {
            let v = out.dollar(name).ok().and_then(|v| v.as_real_vector()).unwrap_or_default();
            if v.len() != len {
                return Err(fail(format!("fit: internal error: evaluate() gave {} numbers for {name}, not {len}", v.len())));
            }
            Ok(v)
        };
        let value = numbers("value", 1)?[0];
        let gradient = if order >= 1 { numbers("gradient", p)? } else { Vec::new() };
        let hessian = if order >= 2 { numbers("hessian", p * p)? } else { Vec::new() };
        self.last = Some((theta.to_vec(), order, value, gradient.clone(), hessian.clone()));
        Ok((value, gradient, hessian))
    }
}

impl Objective for EvaluatedLoglik {
    fn value(&mut self, theta: &[f64]) -> femtograd_engine::Result<f64> {
        Ok(self.at(theta, 0)?.0)
    }
    fn gradient(&mut self, theta: &[f64]) -> femtograd_engine::Result<(f64, Vec<f64>)> {
        let (value, gradient, _) = self.at(theta, 1)?;
        Ok((value, gradient))
    }
    fn hessian(&mut self, theta: &[f64]) -> femtograd_engine::Result<(f64, Vec<f64>, Vec<f64>)> {
        self.at(theta, 2)
    }
}

// The optimiser of fg_maximize() on a log-likelihood that R evaluates
// itself (see EvaluatedLoglik). `recordings` counts the calls of evaluate();
// there is no recording here to report observations from.
#[extendr]
fn fg_maximize_evaluated(evaluate: Function, start: &[f64], method: &str, control: List) -> Result<Robj> {
    let method = Method::from_name(method).map_err(r_error)?;
    let (control, _replay) = control_from_r(&control)?;
    let mut objective = EvaluatedLoglik { evaluate, last: None, calls: 0 };
    let out = maximize(&mut objective, start, method, &control).map_err(r_error)?;
    Ok(list!(
        par = out.par.clone(),
        value = out.value,
        gradient = out.gradient.clone(),
        hessian = hessian_to_r(&out),
        iterations = out.iterations as i32,
        evaluations = out.evaluations as i32,
        converged = out.converged,
        message = out.message.clone(),
        recordings = objective.calls as i32
    )
    .into())
}

extendr_module! {
    mod likelihood;
    fn fg_kernel;
    fn fg_sum_as_kernel;
    fn fg_regression;
    fn fg_ordinal;
    fn fg_observation_scores;
    fn fg_kernel_observations;
    fn fg_observation_ids;
    fn fg_inverse_spd;
    fn fg_covariance;
    fn fg_maximize;
    fn fg_observation_summary;
    fn fg_replay;
    fn fg_maximize_evaluated;
}
