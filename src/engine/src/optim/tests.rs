//! The optimisers on closed-form log-likelihoods (hand-derived gradients and
//! Hessians) and on one built from the engine's graph.

use super::{maximize, Control, Method, Objective, Outcome};
use crate::backward::value_and_gradient;
use crate::tape::Var;
use crate::record::{binary, sum, unary};
use crate::second_order::second_order;
use crate::tensor::Tensor;
use crate::{bail, Result};

const LN_2PI: f64 = 1.8378770664093453;

/// A 64-bit linear congruential generator (Knuth's MMIX constants): the
/// data sets below are the same on every platform and every run.
struct Lcg(u64);

impl Lcg {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    /// Box-Muller.
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// The seed example's data: 200 draws from N(5, 2^2).
fn normal_data() -> Vec<f64> {
    let mut rng = Lcg(20240601);
    (0..200).map(|_| 5.0 + 2.0 * rng.normal()).collect()
}

/// The closed-form MLE (mean, sqrt(mean squared deviation)).
fn normal_mle(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// Sum of (x - mu) and of (x - mu)^2.
fn moments(x: &[f64], mu: f64) -> (f64, f64) {
    x.iter().fold((0.0, 0.0), |(s1, s2), v| (s1 + (v - mu), s2 + (v - mu).powi(2)))
}

/// Normal log-likelihood in (mu, log sigma), derivatives by hand:
/// l = -n/2 log(2 pi) - n s - S / (2 e^{2s}), S = sum (x - mu)^2,
/// dl/dmu = D / e^{2s} (D = sum (x - mu)), dl/ds = -n + S / e^{2s},
/// d2l/dmu2 = -n / e^{2s}, d2l/dmu ds = -2 D / e^{2s}, d2l/ds2 = -2 S / e^{2s}.
struct NormalLogSigma {
    x: Vec<f64>,
    calls: usize,
}

impl NormalLogSigma {
    fn new() -> Self {
        NormalLogSigma { x: normal_data(), calls: 0 }
    }
    fn parts(&self, theta: &[f64]) -> (f64, f64, f64, f64, f64) {
        let n = self.x.len() as f64;
        let (mu, s) = (theta[0], theta[1]);
        let (d, ss) = moments(&self.x, mu);
        let v = (2.0 * s).exp();
        (n, s, d, ss, v)
    }
}

impl Objective for NormalLogSigma {
    fn value(&mut self, theta: &[f64]) -> Result<f64> {
        self.calls += 1;
        let (n, s, _, ss, v) = self.parts(theta);
        Ok(-0.5 * n * LN_2PI - n * s - ss / (2.0 * v))
    }
    fn gradient(&mut self, theta: &[f64]) -> Result<(f64, Vec<f64>)> {
        let f = self.value(theta)?;
        let (n, _, d, ss, v) = self.parts(theta);
        Ok((f, vec![d / v, -n + ss / v]))
    }
    fn hessian(&mut self, theta: &[f64]) -> Result<(f64, Vec<f64>, Vec<f64>)> {
        let (f, g) = self.gradient(theta)?;
        let (n, _, d, ss, v) = self.parts(theta);
        let cross = -2.0 * d / v;
        Ok((f, g, vec![-n / v, cross, cross, -2.0 * ss / v]))
    }
}

/// Normal log-likelihood in (mu, sigma): NaN for sigma < 0 (log of a
/// negative number), which the search must step around.
/// l = -n/2 log(2 pi) - n log sigma - S / (2 sigma^2),
/// dl/dsigma = -n / sigma + S / sigma^3, d2l/dsigma2 = n / sigma^2 - 3 S / sigma^4,
/// d2l/dmu dsigma = -2 D / sigma^3.
struct NormalSigma {
    x: Vec<f64>,
    non_finite: usize,
}

impl Objective for NormalSigma {
    fn value(&mut self, theta: &[f64]) -> Result<f64> {
        let n = self.x.len() as f64;
        let (mu, sigma) = (theta[0], theta[1]);
        let (_, ss) = moments(&self.x, mu);
        let f = -0.5 * n * LN_2PI - n * sigma.ln() - ss / (2.0 * sigma * sigma);
        if !f.is_finite() {
            self.non_finite += 1;
        }
        Ok(f)
    }
    fn gradient(&mut self, theta: &[f64]) -> Result<(f64, Vec<f64>)> {
        let f = self.value(theta)?;
        let n = self.x.len() as f64;
        let (mu, sigma) = (theta[0], theta[1]);
        let (d, ss) = moments(&self.x, mu);
        Ok((f, vec![d / (sigma * sigma), -n / sigma + ss / sigma.powi(3)]))
    }
    fn hessian(&mut self, theta: &[f64]) -> Result<(f64, Vec<f64>, Vec<f64>)> {
        let (f, g) = self.gradient(theta)?;
        let n = self.x.len() as f64;
        let (mu, sigma) = (theta[0], theta[1]);
        let (d, ss) = moments(&self.x, mu);
        let cross = -2.0 * d / sigma.powi(3);
        Ok((f, g, vec![-n / (sigma * sigma), cross, cross, n / (sigma * sigma) - 3.0 * ss / sigma.powi(4)]))
    }
}

/// Rosenbrock's banana, negated: maximum 0 at (1, 1).
struct Rosenbrock;

impl Objective for Rosenbrock {
    fn value(&mut self, t: &[f64]) -> Result<f64> {
        Ok(-(100.0 * (t[1] - t[0] * t[0]).powi(2) + (1.0 - t[0]).powi(2)))
    }
    fn gradient(&mut self, t: &[f64]) -> Result<(f64, Vec<f64>)> {
        let (x, y) = (t[0], t[1]);
        Ok((self.value(t)?, vec![400.0 * x * (y - x * x) + 2.0 * (1.0 - x), -200.0 * (y - x * x)]))
    }
    fn hessian(&mut self, t: &[f64]) -> Result<(f64, Vec<f64>, Vec<f64>)> {
        let (f, g) = self.gradient(t)?;
        let (x, y) = (t[0], t[1]);
        let hxy = 400.0 * x;
        Ok((f, g, vec![-(1200.0 * x * x - 400.0 * y + 2.0), hxy, hxy, -200.0]))
    }
}

/// Logistic regression on 100 deterministic observations with an intercept
/// and two covariates: l = sum y eta - log(1 + e^eta), gradient X'(y - pi),
/// Hessian -X' diag(pi (1 - pi)) X.
struct Logistic {
    x: Vec<[f64; 3]>,
    y: Vec<f64>,
}

impl Logistic {
    fn new() -> Self {
        let mut rng = Lcg(7);
        let beta = [0.5, -1.0, 2.0];
        let mut x = Vec::new();
        let mut y = Vec::new();
        for _ in 0..100 {
            let row = [1.0, 4.0 * rng.uniform() - 2.0, rng.normal()];
            let eta: f64 = row.iter().zip(&beta).map(|(a, b)| a * b).sum();
            y.push(if rng.uniform() < 1.0 / (1.0 + (-eta).exp()) { 1.0 } else { 0.0 });
            x.push(row);
        }
        Logistic { x, y }
    }
    fn eta(&self, row: &[f64; 3], b: &[f64]) -> f64 {
        row.iter().zip(b).map(|(a, b)| a * b).sum()
    }
}

/// log(1 + e^z) without overflow.
fn softplus(z: f64) -> f64 {
    if z > 0.0 {
        z + (-z).exp().ln_1p()
    } else {
        z.exp().ln_1p()
    }
}

impl Objective for Logistic {
    fn value(&mut self, b: &[f64]) -> Result<f64> {
        Ok(self
            .x
            .iter()
            .zip(&self.y)
            .map(|(row, y)| {
                let eta = self.eta(row, b);
                y * eta - softplus(eta)
            })
            .sum())
    }
    fn gradient(&mut self, b: &[f64]) -> Result<(f64, Vec<f64>)> {
        let mut g = vec![0.0; 3];
        for (row, y) in self.x.iter().zip(&self.y) {
            let pi = 1.0 / (1.0 + (-self.eta(row, b)).exp());
            for j in 0..3 {
                g[j] += row[j] * (y - pi);
            }
        }
        Ok((self.value(b)?, g))
    }
    fn hessian(&mut self, b: &[f64]) -> Result<(f64, Vec<f64>, Vec<f64>)> {
        let (f, g) = self.gradient(b)?;
        let mut h = vec![0.0; 9];
        for row in &self.x {
            let pi = 1.0 / (1.0 + (-self.eta(row, b)).exp());
            let w = pi * (1.0 - pi);
            for j in 0..3 {
                for i in 0..3 {
                    h[i + 3 * j] -= w * row[i] * row[j];
                }
            }
        }
        Ok((f, g, h))
    }
}

/// The normal log-likelihood in (mu, log sigma) recorded on the engine's
/// graph at every call, differentiated by the reverse sweep (gradient) and
/// forward-over-reverse (Hessian): what the R bindings do, minus R.
struct GraphNormal {
    x: Vec<f64>,
}

impl GraphNormal {
    fn record(&self, theta: &[f64]) -> Result<(Var, Vec<Var>)> {
        let n = self.x.len() as f64;
        let constant = |v: f64| Var::constant(Tensor::scalar(v));
        let mu = Var::leaf(Tensor::scalar(theta[0]));
        let log_sigma = Var::leaf(Tensor::scalar(theta[1]));
        let x = Var::constant(Tensor::vector(self.x.clone()));
        let z = binary("/", &binary("-", &x, &mu)?, &unary("exp", &log_sigma)?)?;
        let ss = sum(&binary("^", &z, &constant(2.0))?)?;
        let ll = binary("+", &binary("*", &constant(-n), &log_sigma)?, &binary("*", &constant(-0.5), &ss)?)?;
        let ll = binary("-", &ll, &constant(0.5 * n * LN_2PI))?;
        Ok((ll, vec![mu, log_sigma]))
    }
}

impl Objective for GraphNormal {
    fn value(&mut self, theta: &[f64]) -> Result<f64> {
        Ok(self.record(theta)?.0.value().data[0])
    }
    fn gradient(&mut self, theta: &[f64]) -> Result<(f64, Vec<f64>)> {
        let (ll, params) = self.record(theta)?;
        value_and_gradient(&ll, &params)
    }
    fn hessian(&mut self, theta: &[f64]) -> Result<(f64, Vec<f64>, Vec<f64>)> {
        let (ll, params) = self.record(theta)?;
        let so = second_order(&ll, &params, None)?;
        Ok((so.value, so.gradient, so.hessian_times.into_data()))
    }
}

fn fit(objective: &mut dyn Objective, start: &[f64], method: Method) -> Outcome {
    maximize(objective, start, method, &Control::default())
        .unwrap_or_else(|e| panic!("{method}: unexpected error: {e}"))
}

fn assert_close(label: &str, got: &[f64], want: &[f64], tol: f64) {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol, "{label}: parameter {} is {g}, expected {w} (off by {:e})", i + 1, (g - w).abs());
    }
}

/// Newton and the quasi-Newton methods use gradients to home in and reach
/// 1e-7 easily; steepest ascent relies on comparing values, which stops
/// being informative at about sqrt(2 eps |f| / curvature), ~1e-7 here.
fn tolerance(method: Method) -> f64 {
    if method == Method::Gradient {
        1e-6
    } else {
        1e-7
    }
}

fn assert_converged(label: &str, out: &Outcome) {
    assert!(out.converged, "{label}: did not converge: {} ({out:?})", out.message);
    assert!(out.message.starts_with("converged"), "{label}: {}", out.message);
}

#[test]
fn optim_normal_seed_example_every_method() {
    let x = normal_data();
    let (mean, sd) = normal_mle(&x);
    for method in Method::ALL {
        let mut obj = NormalLogSigma::new();
        let out = fit(&mut obj, &[0.0, 0.0], method);
        assert_converged(method.name(), &out);
        assert_close(method.name(), &out.par, &[mean, sd.ln()], tolerance(method));
        // The Hessian at the optimum: diag(-n / sigma^2, -2n) in closed form.
        let h = out.hessian.as_ref().expect("the Hessian at the optimum");
        assert_close(method.name(), h, &[-200.0 / (sd * sd), 0.0, 0.0, -400.0], 1e-3);
        assert!(out.gradient.iter().all(|g| g.abs() < 1e-4), "{method}: gradient {:?}", out.gradient);
        assert!(out.evaluations >= out.iterations);
        let vcov = crate::linalg::inverse_spd(&h.iter().map(|v| -v).collect::<Vec<_>>()).unwrap();
        assert!((vcov[0] - sd * sd / 200.0).abs() < 1e-8, "{method}: var(mu) = {}", vcov[0]);
    }
}

#[test]
fn optim_newton_seed_example_needs_the_safeguard() {
    // At (0, 0) -H = [[200, 2D], [2D, 2S]] with D = sum x, S = sum x^2: not
    // positive definite (200 * 2S < 4 D^2 whenever mean^2 > var/..., here by
    // far), so the raw Newton step is not an ascent direction.
    let mut obj = NormalLogSigma::new();
    let (_, g, h) = obj.hessian(&[0.0, 0.0]).unwrap();
    let neg_h: Vec<f64> = h.iter().map(|v| -v).collect();
    assert!(!crate::linalg::is_positive_definite(&neg_h));

    // Undamped Newton, theta <- theta + H^{-1}(-g), goes astray.
    let mut theta = vec![0.0, 0.0];
    let mut naive_ok = true;
    for _ in 0..100 {
        let (f, g, h) = obj.hessian(&theta).unwrap();
        let det = h[0] * h[3] - h[1] * h[2];
        let d = [-(h[3] * g[0] - h[2] * g[1]) / det, -(-h[1] * g[0] + h[0] * g[1]) / det];
        theta = vec![theta[0] + d[0], theta[1] + d[1]];
        if !f.is_finite() || !theta.iter().all(|t| t.is_finite()) {
            naive_ok = false;
            break;
        }
    }
    let (mean, sd) = normal_mle(&obj.x);
    naive_ok = naive_ok && (theta[0] - mean).abs() < 1e-6 && (theta[1] - sd.ln()).abs() < 1e-6;
    assert!(!naive_ok, "undamped Newton was expected to fail from (0, 0) but reached {theta:?}");

    // The safeguarded step goes uphill and the search converges quickly.
    let d = crate::linalg::ascent_direction(&neg_h, &g);
    assert!(g[0] * d[0] + g[1] * d[1] > 0.0);
    let mut obj = NormalLogSigma::new();
    let out = fit(&mut obj, &[0.0, 0.0], Method::Newton);
    assert_converged("newton", &out);
    assert_close("newton", &out.par, &[mean, sd.ln()], 1e-10);
    assert!(out.iterations <= 30, "{} iterations", out.iterations);
    assert_eq!(out.evaluations, obj.calls, "every call to the objective is counted");
}

#[test]
fn optim_graph_objective_every_method() {
    let x = normal_data();
    let (mean, sd) = normal_mle(&x);
    let mut graph = GraphNormal { x: x.clone() };
    let mut closed = NormalLogSigma::new();
    // The graph agrees with the hand-derived derivatives.
    let (fg, gg, hg) = graph.hessian(&[1.0, 0.3]).unwrap();
    let (fc, gc, hc) = closed.hessian(&[1.0, 0.3]).unwrap();
    assert!((fg - fc).abs() < 1e-9 * fc.abs());
    assert_close("graph gradient", &gg, &gc, 1e-8);
    assert_close("graph Hessian", &hg, &hc, 1e-8);
    for method in Method::ALL {
        let out = fit(&mut graph, &[0.0, 0.0], method);
        assert_converged(method.name(), &out);
        assert_close(method.name(), &out.par, &[mean, sd.ln()], tolerance(method));
    }
}

#[test]
fn optim_rosenbrock() {
    for method in [Method::Newton, Method::Bfgs, Method::Lbfgs] {
        let out = fit(&mut Rosenbrock, &[-1.2, 1.0], method);
        assert_converged(method.name(), &out);
        assert_close(method.name(), &out.par, &[1.0, 1.0], 1e-6);
    }
    // Steepest ascent crawls along the valley; it still only goes uphill.
    let out = maximize(
        &mut Rosenbrock,
        &[-1.2, 1.0],
        Method::Gradient,
        &Control { max_iter: Some(500), ..Control::default() },
    )
    .unwrap();
    assert!(out.value > -24.2 + 20.0, "value {}", out.value);
}

#[test]
fn optim_logistic_regression_methods_agree() {
    let newton = fit(&mut Logistic::new(), &[0.0, 0.0, 0.0], Method::Newton);
    assert_converged("newton", &newton);
    assert!(newton.gradient.iter().all(|g| g.abs() < 1e-9), "{:?}", newton.gradient);
    // Roughly the coefficients that generated the data.
    assert_close("newton", &newton.par, &[0.5, -1.0, 2.0], 1.0);
    for method in [Method::Bfgs, Method::Lbfgs, Method::Gradient] {
        let out = fit(&mut Logistic::new(), &[0.0, 0.0, 0.0], method);
        assert_converged(method.name(), &out);
        assert_close(method.name(), &out.par, &newton.par, 1e-6);
        assert!((out.value - newton.value).abs() < 1e-10);
    }
}

#[test]
fn optim_non_finite_start_is_an_error() {
    for method in Method::ALL {
        for start in [[0.0, -1.0], [0.0, 0.0]] {
            let mut obj = NormalSigma { x: normal_data(), non_finite: 0 };
            let err = maximize(&mut obj, &start, method, &Control::default()).unwrap_err();
            assert_eq!(err.0, "fit: the log-likelihood is not finite at the starting values", "{method}");
        }
    }
    let err = maximize(&mut Rosenbrock, &[f64::NAN, 0.0], Method::Newton, &Control::default()).unwrap_err();
    assert!(err.0.contains("starting value 1"), "{err}");
    let err = maximize(&mut Rosenbrock, &[], Method::Newton, &Control::default()).unwrap_err();
    assert!(err.0.contains("no parameters"), "{err}");
}

#[test]
fn optim_nan_outside_the_domain_is_stepped_around() {
    let x = normal_data();
    let (mean, sd) = normal_mle(&x);
    for method in Method::ALL {
        let mut non_finite = 0;
        for start in [[0.0, 1.0], [10.0, 0.5], [5.0, 30.0]] {
            let mut obj = NormalSigma { x: x.clone(), non_finite: 0 };
            let out = fit(&mut obj, &start, method);
            let label = format!("{method} from {start:?}");
            assert_converged(&label, &out);
            assert_close(&label, &out.par, &[mean, sd], 1e-6);
            non_finite += obj.non_finite;
        }
        assert!(non_finite > 0, "{method} never tried sigma <= 0, so this test tests nothing for it");
    }
}

#[test]
fn optim_iteration_limit_is_not_an_error() {
    for method in Method::ALL {
        let control = Control { max_iter: Some(2), ..Control::default() };
        let out = maximize(&mut NormalLogSigma::new(), &[0.0, 0.0], method, &control).unwrap();
        assert!(!out.converged, "{method}: {}", out.message);
        assert_eq!(out.iterations, 2, "{method}");
        assert!(out.message.contains("iteration limit (max_iter = 2)"), "{method}: {}", out.message);
        assert!(out.hessian.is_some() && out.value.is_finite());
    }
    let control = Control { max_iter: Some(0), ..Control::default() };
    let out = maximize(&mut Rosenbrock, &[0.0, 0.0], Method::Newton, &control).unwrap();
    assert!(!out.converged);
    assert_eq!(out.par, vec![0.0, 0.0]);
}

/// f(x, y) = -(x^2 - 1)^2 - y^2: maxima at (+-1, 0), a saddle at (0, 0).
struct DoubleWell;

impl Objective for DoubleWell {
    fn value(&mut self, t: &[f64]) -> Result<f64> {
        Ok(-(t[0] * t[0] - 1.0).powi(2) - t[1] * t[1])
    }
    fn gradient(&mut self, t: &[f64]) -> Result<(f64, Vec<f64>)> {
        Ok((self.value(t)?, vec![-4.0 * t[0] * (t[0] * t[0] - 1.0), -2.0 * t[1]]))
    }
    fn hessian(&mut self, t: &[f64]) -> Result<(f64, Vec<f64>, Vec<f64>)> {
        let (f, g) = self.gradient(t)?;
        Ok((f, g, vec![-(12.0 * t[0] * t[0] - 4.0), 0.0, 0.0, -2.0]))
    }
}

#[test]
fn optim_indefinite_hessian_near_a_saddle() {
    // At (0.2, 0.01): g = (0.768, -0.02), H = diag(3.52, -2). The raw
    // Newton step -H^{-1} g = (-0.218, -0.01) has g'd = -0.167 < 0: it heads
    // for the saddle. The safeguarded step goes uphill.
    let start = [0.2, 0.01];
    let (_, g, h) = DoubleWell.hessian(&start).unwrap();
    let raw = [-g[0] / h[0], -g[1] / h[3]];
    assert!(g[0] * raw[0] + g[1] * raw[1] < 0.0);
    let neg_h: Vec<f64> = h.iter().map(|v| -v).collect();
    let d = crate::linalg::ascent_direction(&neg_h, &g);
    assert!(g[0] * d[0] + g[1] * d[1] > 0.0);

    let out = fit(&mut DoubleWell, &start, Method::Newton);
    assert_converged("newton", &out);
    assert_close("newton", &out.par, &[1.0, 0.0], 1e-8);

    // Started exactly at the saddle (zero gradient), Newton leaves along the
    // direction of upward curvature instead of declaring convergence.
    let out = fit(&mut DoubleWell, &[0.0, 0.0], Method::Newton);
    assert_converged("newton at the saddle", &out);
    assert!((out.par[0].abs() - 1.0).abs() < 1e-8 && out.par[1].abs() < 1e-8, "{:?}", out.par);
    assert!(out.iterations >= 1);

    // The first-order methods only see the zero gradient there and stop at
    // once; the Hessian in the outcome shows it is no maximum.
    let out = fit(&mut DoubleWell, &[0.0, 0.0], Method::Bfgs);
    assert!(out.converged && out.iterations == 0);
    let neg_h: Vec<f64> = out.hessian.unwrap().iter().map(|v| -v).collect();
    assert!(!crate::linalg::is_positive_definite(&neg_h));
}

#[test]
fn optim_method_names() {
    for method in Method::ALL {
        assert_eq!(Method::from_name(method.name()).unwrap(), method);
        assert_eq!(method.name().parse::<Method>().unwrap(), method);
    }
    assert_eq!(Method::default(), Method::Newton);
    let err = Method::from_name("nelder-mead").unwrap_err();
    assert_eq!(
        err.0,
        "fit: unknown method \"nelder-mead\"; valid methods are \"newton\", \"bfgs\", \"lbfgs\", \"gradient\""
    );
}

#[test]
fn optim_control_defaults_and_validation() {
    let c = Control::default();
    assert_eq!((c.max_iter, c.gtol, c.ftol, c.memory, c.max_halvings), (None, 1e-8, 1e-12, 10, 50));
    assert_eq!(c.max_iter_for(Method::Newton), 100);
    assert_eq!(c.max_iter_for(Method::Gradient), 10000);
    let bad = [
        Control { memory: 0, ..Control::default() },
        Control { gtol: -1.0, ..Control::default() },
        Control { ftol: f64::NAN, ..Control::default() },
    ];
    for control in bad {
        assert!(maximize(&mut Rosenbrock, &[0.0, 0.0], Method::Lbfgs, &control).is_err(), "{control:?}");
    }
}

/// Fails on the n-th call; returns a gradient of the wrong length if asked.
struct Faulty {
    calls: usize,
    fail_at: usize,
    short_gradient: bool,
}

impl Objective for Faulty {
    fn value(&mut self, t: &[f64]) -> Result<f64> {
        self.calls += 1;
        if self.calls == self.fail_at {
            bail!("an error in the R callback");
        }
        Ok(-(t[0] - 1.0).powi(2) - (t[1] + 2.0).powi(2))
    }
    fn gradient(&mut self, t: &[f64]) -> Result<(f64, Vec<f64>)> {
        let f = self.value(t)?;
        if self.short_gradient {
            return Ok((f, vec![0.0]));
        }
        Ok((f, vec![-2.0 * (t[0] - 1.0), -2.0 * (t[1] + 2.0)]))
    }
    fn hessian(&mut self, t: &[f64]) -> Result<(f64, Vec<f64>, Vec<f64>)> {
        let (f, g) = self.gradient(t)?;
        Ok((f, g, vec![-2.0, 0.0, 0.0, -2.0]))
    }
}

#[test]
fn optim_objective_errors_propagate() {
    for method in Method::ALL {
        let mut ok = Faulty { calls: 0, fail_at: 0, short_gradient: false };
        let out = fit(&mut ok, &[5.0, 5.0], method);
        assert_converged(method.name(), &out);
        assert_close(method.name(), &out.par, &[1.0, -2.0], tolerance(method));
        let mut faulty = Faulty { calls: 0, fail_at: 2, short_gradient: false };
        let err = maximize(&mut faulty, &[5.0, 5.0], method, &Control::default()).unwrap_err();
        assert_eq!(err.0, "an error in the R callback");
        let mut short = Faulty { calls: 0, fail_at: 0, short_gradient: true };
        let err = maximize(&mut short, &[5.0, 5.0], method, &Control::default()).unwrap_err();
        assert_eq!(err.0, "fit: the gradient has length 1 but there are 2 parameters");
    }
}
