//! Every kernel against R's own sum(d<dist>(..., log = TRUE)), against the
//! log-density written out independently here, and its gradient and Hessian
//! against central finite differences; then compositions with other
//! operations, parameters outside their domain, and the error messages.

// R's 17-digit output is pasted verbatim, so that it can be checked against
// R; the textbook X' W X sums read best with indices.
#![allow(clippy::excessive_precision, clippy::needless_range_loop)]

use super::saddle::{bd0, dbinom_log, dpois_log, ln_beta, stirlerr};
use super::{kernel_names, record_kernel, KernelData};
use crate::backward::value_and_gradient;
use crate::tape::Var;
use crate::record;
use crate::second_order::second_order;
use crate::special::ln_gamma;
use crate::tensor::Tensor;
use crate::testing::{check, leaves, s, v};


pub(super) fn rel_close(a: f64, b: f64, tol: f64) -> bool {
    a == b || (a - b).abs() <= tol * a.abs().max(b.abs())
}

/// The kernel as a function of its parameters, for the harness.
pub(super) fn kernel(name: &'static str, data: &KernelData) -> impl Fn(&[Var]) -> Var {
    let data = data.clone();
    move |p: &[Var]| record_kernel(name, p, data.clone()).unwrap()
}

pub(super) fn value(name: &str, data: &KernelData, params: &[Tensor]) -> f64 {
    let params: Vec<Var> = params.iter().cloned().map(Var::constant).collect();
    record_kernel(name, &params, data.clone()).unwrap().value().data[0]
}

// ---- the log-densities written out, independently of the kernels ----

/// log f(x; theta) for one observation, theta at that observation; `size`
/// is only read by the binomial.
pub(super) type Closed = fn(theta: &[f64], x: f64, size: f64) -> f64;

fn lchoose(n: f64, k: f64) -> f64 {
    ln_gamma(n + 1.0) - ln_gamma(k + 1.0) - ln_gamma(n - k + 1.0)
}

pub(super) fn closed_form(name: &str) -> Closed {
    match name {
        "normal" => |t, x, _| {
            let z = (x - t[0]) / t[1];
            -0.5 * (2.0 * std::f64::consts::PI).ln() - t[1].ln() - 0.5 * z * z
        },
        "exponential" => |t, x, _| t[0].ln() - t[0] * x,
        "poisson" => |t, x, _| x * t[0].ln() - t[0] - ln_gamma(x + 1.0),
        "binomial" => |t, x, n| lchoose(n, x) + x * t[0].ln() + (n - x) * (1.0 - t[0]).ln(),
        "bernoulli" => |t, x, _| x * t[0].ln() + (1.0 - x) * (1.0 - t[0]).ln(),
        "gamma" => |t, x, _| t[0] * t[1].ln() - ln_gamma(t[0]) + (t[0] - 1.0) * x.ln() - t[1] * x,
        "beta" => |t, x, _| {
            ln_gamma(t[0] + t[1]) - ln_gamma(t[0]) - ln_gamma(t[1])
                + (t[0] - 1.0) * x.ln()
                + (t[1] - 1.0) * (1.0 - x).ln()
        },
        "negbinom" => {
            |t, x, _| ln_gamma(x + t[0]) - ln_gamma(t[0]) - ln_gamma(x + 1.0) + t[0] * t[1].ln() + x * (1.0 - t[1]).ln()
        }
        "weibull" => |t, x, _| t[0].ln() - t[1].ln() + (t[0] - 1.0) * (x / t[1]).ln() - (x / t[1]).powf(t[0]),
        "pareto" => |t, x, _| t[0].ln() + t[0] * t[1].ln() - (t[0] + 1.0) * x.ln(),
        "bernoulli_logit" => |t, y, _| y * t[0] - t[0].exp().ln_1p(),
        "poisson_log" => |t, y, _| y * t[0] - t[0].exp() - ln_gamma(y + 1.0),
        "lognormal" => |t, x, _| {
            let z = (x.ln() - t[0]) / t[1];
            -0.5 * (2.0 * std::f64::consts::PI).ln() - t[1].ln() - x.ln() - 0.5 * z * z
        },
        "t" => |t, x, _| {
            let (z, nu) = ((x - t[0]) / t[1], t[2]);
            ln_gamma((nu + 1.0) / 2.0) - ln_gamma(nu / 2.0) - 0.5 * (nu * std::f64::consts::PI).ln() - t[1].ln()
                - (nu + 1.0) / 2.0 * (1.0 + z * z / nu).ln()
        },
        "logis" => |t, x, _| {
            let z = (x - t[0]) / t[1];
            -z - t[1].ln() - 2.0 * (1.0 + (-z).exp()).ln()
        },
        "negbinom_mu" => |t, x, _| negbinom_mu_closed(t[0], t[1], x),
        "zip" => |t, x, _| {
            let poisson = x * t[1].ln() - t[1] - ln_gamma(x + 1.0);
            if x == 0.0 {
                (t[0] + (1.0 - t[0]) * poisson.exp()).ln()
            } else {
                (1.0 - t[0]).ln() + poisson
            }
        },
        "zinb" => |t, x, _| {
            let nb = negbinom_mu_closed(t[1], t[2], x);
            if x == 0.0 {
                (t[0] + (1.0 - t[0]) * nb.exp()).ln()
            } else {
                (1.0 - t[0]).ln() + nb
            }
        },
        "betabinom" => |t, x, n| {
            let lbeta = |a: f64, b: f64| ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b);
            lchoose(n, x) + lbeta(x + t[0], n - x + t[1]) - lbeta(t[0], t[1])
        },
        _ => panic!("no closed form for {name}"),
    }
}

/// log dnbinom(x, size = r, mu = m) written out.
fn negbinom_mu_closed(r: f64, m: f64, x: f64) -> f64 {
    ln_gamma(x + r) - ln_gamma(r) - ln_gamma(x + 1.0) + r * (r / (r + m)).ln() + x * (m / (r + m)).ln()
}

/// The closed-form log-density of observation i, with the parameters at i.
pub(super) fn closed_observation(name: &str, data: &KernelData, params: &[Tensor], i: usize) -> f64 {
    let at = |t: &Tensor| t.data[if t.numel() == 1 { 0 } else { i }];
    let theta: Vec<f64> = params.iter().map(at).collect();
    let size = data.size.as_ref().map_or(f64::NAN, |sz| sz[if sz.len() == 1 { 0 } else { i }]);
    closed_form(name)(&theta, data.x[i], size)
}

fn closed_sum(name: &str, data: &KernelData, params: &[Tensor]) -> f64 {
    (0..data.x.len()).map(|i| closed_observation(name, data, params, i)).sum()
}

// ---- the cases ----

pub(super) struct Case {
    pub(super) label: &'static str,
    pub(super) name: &'static str,
    pub(super) data: KernelData,
    pub(super) params: Vec<Tensor>,
    /// sum(d<dist>(..., log = TRUE)) printed by R 4.2.2 with
    /// sprintf("%.17g") (the script is in the comment of `cases`).
    pub(super) r: f64,
    /// Tolerance against the closed form: the written-out formulas lose
    /// digits to cancellation for large counts and shapes, which is why the
    /// kernels use saddle-point forms there; R is the reference then.
    pub(super) closed_tol: f64,
    /// Whether to run the finite-difference check (not at huge counts,
    /// where differences of h = 1e-6 say nothing).
    pub(super) fd: bool,
}

fn case(label: &'static str, name: &'static str, data: KernelData, params: Vec<Tensor>, r: f64) -> Case {
    Case { label, name, data, params, r, closed_tol: 1e-12, fd: true }
}

/// Large counts: the closed form is only good to `closed_tol`, and finite
/// differences are not informative.
fn large(c: Case, closed_tol: f64) -> Case {
    Case { fd: false, ..loose(c, closed_tol) }
}

/// A case where the closed form itself is only good to `closed_tol`.
fn loose(c: Case, closed_tol: f64) -> Case {
    Case { closed_tol, ..c }
}

/// Reference values from R 4.2.2, e.g.
///   x <- c(1.2, -0.3, 2.5, 0.7, 1.9)
///   sprintf("%.17g", sum(dnorm(x, 0.8, 1.3, log = TRUE)))
/// and likewise for each case below with the same data and parameters
/// (pareto, which base R lacks, as sum(log(a) + a*log(xm) - (a+1)*log(x));
/// bernoulli_logit as dbinom(y, 1, plogis(eta)); poisson_log as
/// dpois(y, exp(eta)); t as dt((x - location)/scale, df, log = TRUE) -
/// log(scale); negbinom_mu as dnbinom(x, size = size, mu = mu); zip as
/// log(pi + (1 - pi) * dpois(0, lambda)) at zeros and log(1 - pi) +
/// dpois(x, lambda, log = TRUE) elsewhere; zinb likewise with
/// dnbinom(x, size = size, mu = mu); betabinom, which base R lacks, as
/// lchoose(size, x) + lbeta(x + alpha, size - x + beta) - lbeta(alpha,
/// beta), which emdbook::dbetabinom(x, prob = alpha/(alpha + beta), size,
/// theta = alpha + beta, log = TRUE) agrees with to 1e-15).
pub(super) fn cases() -> Vec<Case> {
    let d = KernelData::new;
    let ds = KernelData::with_size;
    let x_norm = [1.2, -0.3, 2.5, 0.7, 1.9];
    let x_pos = [0.5, 1.7, 0.2, 3.1, 2.2];
    let x_unit = [0.2, 0.55, 0.9, 0.35, 0.71];
    let counts = [0.0, 3.0, 1.0, 7.0, 2.0];
    let binary = [1.0, 0.0, 0.0, 1.0, 1.0];
    let nb_counts = [0.0, 3.0, 1.0, 7.0, 12.0];
    let rare = [0.0, 1.0, 2.0, 0.0, 3.0];
    let zi_counts = [0.0, 3.0, 0.0, 7.0, 2.0, 0.0];
    vec![
        case("normal, scalars", "normal", d(x_norm.to_vec()), vec![s(0.8), s(1.3)], -7.5278157635087481),
        case(
            "normal, vector mu",
            "normal",
            d(x_norm.to_vec()),
            vec![v(&[1.0, 0.2, 2.0, 0.5, 1.5]), s(1.3)],
            -6.1254488996034224,
        ),
        case("exponential, scalar", "exponential", d(vec![0.5, 1.7, 0.2, 3.1, 0.0]), vec![s(0.8)], -5.5157177565710489),
        case(
            "exponential, vector rate",
            "exponential",
            d(vec![0.5, 1.7, 0.2, 3.1, 0.0]),
            vec![v(&[0.8, 1.1, 0.5, 2.0, 0.3])],
            -9.9018061758358211,
        ),
        case("poisson, scalar", "poisson", d(counts.to_vec()), vec![s(2.4)], -11.628974425252716),
        case(
            "poisson, vector lambda",
            "poisson",
            d(counts.to_vec()),
            vec![v(&[0.5, 2.5, 1.5, 6.0, 3.0])],
            -6.6161898451901813,
        ),
        large(
            case(
                "poisson, large counts",
                "poisson",
                d(vec![1000.0, 1234.0, 5021.0, 99999.0]),
                vec![v(&[1010.0, 1200.0, 5000.0, 100100.0])],
                -21.327817790394821,
            ),
            1e-9,
        ),
        case(
            "binomial, scalar p, vector size",
            "binomial",
            ds(vec![0.0, 3.0, 5.0, 2.0, 7.0], vec![5.0, 6.0, 5.0, 4.0, 10.0]),
            vec![s(0.35)],
            -13.872170540115334,
        ),
        case(
            "binomial, vector p, scalar size",
            "binomial",
            ds(vec![0.0, 3.0, 5.0, 2.0, 7.0], vec![10.0]),
            vec![v(&[0.1, 0.3, 0.5, 0.25, 0.8])],
            -6.647008818236614,
        ),
        large(
            case(
                "binomial, large counts",
                "binomial",
                ds(vec![4000.0, 12345.0], vec![10000.0, 30000.0]),
                vec![s(0.41)],
                -12.386666516433731,
            ),
            1e-9,
        ),
        case("bernoulli, scalar", "bernoulli", d(binary.to_vec()), vec![s(0.6)], -3.3650583350462822),
        case(
            "bernoulli, vector p",
            "bernoulli",
            d(binary.to_vec()),
            vec![v(&[0.6, 0.2, 0.45, 0.9, 0.7])],
            -1.7938416354323796,
        ),
        case("gamma, scalars", "gamma", d(x_pos.to_vec()), vec![s(2.5), s(1.3)], -7.9320071016357145),
        case("gamma, shape below 1", "gamma", d(x_pos.to_vec()), vec![s(0.7), s(1.3)], -10.440432095999164),
        case(
            "gamma, vector shape",
            "gamma",
            d(x_pos.to_vec()),
            vec![v(&[2.5, 0.7, 1.0, 4.2, 3.3]), s(1.3)],
            -6.2865129981394912,
        ),
        loose(
            case(
                "gamma, large shape",
                "gamma",
                d(vec![2.9, 3.05, 3.1]),
                vec![s(3000.0), s(1000.0)],
                2.1941172749857367,
            ),
            1e-9,
        ),
        case("beta, scalars", "beta", d(x_unit.to_vec()), vec![s(2.5), s(1.7)], 0.24595499720011293),
        case("beta, parameters below 1", "beta", d(x_unit.to_vec()), vec![s(0.8), s(0.6)], -0.6113852357005789),
        large(
            case("beta, large parameters", "beta", d(x_unit.to_vec()), vec![s(150.0), s(220.0)], -389.83848243934631),
            1e-11,
        ),
        case(
            "beta, vector alpha",
            "beta",
            d(x_unit.to_vec()),
            vec![v(&[2.5, 0.8, 3.5, 12.0, 1.2]), s(1.7)],
            -8.0507756848411756,
        ),
        case("beta, one small one large", "beta", d(vec![0.001, 0.003]), vec![s(1.5), s(800.0)], 10.737885159432297),
        case(
            "negbinom, scalars",
            "negbinom",
            d(vec![0.0, 3.0, 1.0, 7.0, 12.0]),
            vec![s(2.3), s(0.3)],
            -13.755000368494096,
        ),
        case(
            "negbinom, vector r",
            "negbinom",
            d(vec![0.0, 3.0, 1.0, 7.0, 12.0]),
            vec![v(&[2.3, 0.5, 1.0, 7.5, 20.0]), s(0.3)],
            -20.482658181479451,
        ),
        large(
            case(
                "negbinom, large counts",
                "negbinom",
                d(vec![1500.0, 2700.0]),
                vec![s(40.0), s(0.02)],
                -16.918876529800649,
            ),
            1e-10,
        ),
        case("weibull, scalars", "weibull", d(x_pos.to_vec()), vec![s(1.8), s(1.5)], -7.6960420087215979),
        case(
            "weibull, vector scale",
            "weibull",
            d(x_pos.to_vec()),
            vec![s(1.8), v(&[1.5, 0.9, 2.0, 2.5, 1.1])],
            -8.8025462867134969,
        ),
        case("pareto, scalars", "pareto", d(vec![1.5, 2.2, 3.7, 1.1, 8.0]), vec![s(2.1), s(1.0)], -10.789035006134114),
        case(
            "pareto, vector x_min",
            "pareto",
            d(vec![1.5, 2.2, 3.7, 1.1, 8.0]),
            vec![s(2.1), v(&[1.2, 0.5, 3.0, 1.05, 2.0])],
            -7.9966145859079729,
        ),
        case(
            "bernoulli_logit, vector eta",
            "bernoulli_logit",
            d(binary.to_vec()),
            vec![v(&[0.3, -1.2, 2.0, -0.4, 1.1])],
            -4.1449163003649128,
        ),
        case("bernoulli_logit, scalar eta", "bernoulli_logit", d(binary.to_vec()), vec![s(0.4)], -3.365076261999763),
        case(
            "poisson_log, vector eta",
            "poisson_log",
            d(counts.to_vec()),
            vec![v(&[0.5, 1.1, -0.2, 1.9, 0.7])],
            -7.3813332083277032,
        ),
        case("poisson_log, scalar eta", "poisson_log", d(counts.to_vec()), vec![s(0.9)], -11.608083566638163),
        large(
            case(
                "poisson_log, large counts",
                "poisson_log",
                d(vec![10000.0, 25000.0]),
                vec![v(&[10100f64.ln(), 24900f64.ln()])],
                -12.203600877778896,
            ),
            1e-9,
        ),
        case("lognormal, scalars", "lognormal", d(x_pos.to_vec()), vec![s(0.3), s(0.9)], -7.6820297039347327),
        case(
            "lognormal, vector meanlog",
            "lognormal",
            d(x_pos.to_vec()),
            vec![v(&[0.1, 0.5, -1.0, 1.2, 0.7]), s(0.9)],
            -4.8416973372971386,
        ),
        case(
            "lognormal, vector sdlog",
            "lognormal",
            d(x_pos.to_vec()),
            vec![s(0.3), v(&[0.9, 0.4, 1.5, 0.7, 1.1])],
            -6.2542530629713893,
        ),
        case("t, scalars", "t", d(x_norm.to_vec()), vec![s(0.8), s(1.3), s(4.5)], -7.9408196170392733),
        case(
            "t, vector location and df",
            "t",
            d(x_norm.to_vec()),
            vec![v(&[1.0, 0.2, 2.0, 0.5, 1.5]), s(1.3), v(&[3.0, 4.5, 10.0, 2.2, 30.0])],
            -6.4386404296540158,
        ),
        case("t, df below 1", "t", d(x_norm.to_vec()), vec![s(0.8), s(0.6), s(0.7)], -9.1404045270275347),
        // lgamma of half a million loses digits in the closed form.
        large(case("t, large df", "t", d(x_norm.to_vec()), vec![s(0.8), s(1.3), s(1e6)], -7.527817645174272), 1e-8),
        case("t, far tails", "t", d(vec![1e5, -3e4, 2.5]), vec![s(0.8), s(1.3), s(2.5)], -76.082158390315982),
        case("logis, scalars", "logis", d(x_norm.to_vec()), vec![s(0.8), s(1.3)], -9.0162699744235297),
        case(
            "logis, vector location and scale",
            "logis",
            d(x_norm.to_vec()),
            vec![v(&[1.0, 0.2, 2.0, 0.5, 1.5]), v(&[1.3, 0.5, 2.0, 0.8, 1.1])],
            -7.3761893072312974,
        ),
        case("logis, far tails", "logis", d(vec![80.0, -95.0, 0.3]), vec![s(0.5), s(1.2)], -147.77352878658115),
        case("negbinom_mu, scalars", "negbinom_mu", d(nb_counts.to_vec()), vec![s(2.3), s(4.1)], -13.716914766679364),
        case(
            "negbinom_mu, vector mu",
            "negbinom_mu",
            d(nb_counts.to_vec()),
            vec![s(2.3), v(&[0.5, 2.5, 1.5, 6.0, 9.0])],
            -9.5071337881517639,
        ),
        case(
            "negbinom_mu, vector size",
            "negbinom_mu",
            d(nb_counts.to_vec()),
            vec![v(&[2.3, 0.5, 1.0, 7.5, 20.0]), s(4.1)],
            -15.78606612058751,
        ),
        case("negbinom_mu, small size", "negbinom_mu", d(nb_counts.to_vec()), vec![s(0.05), s(4.1)], -18.552598489834246),
        // Near the Poisson limit lgamma(x + size) - lgamma(size) cancels
        // in the closed form: R is the reference there. Finite differences
        // in the size see only rounding (its derivatives are checked in
        // `more_kernels_tests`).
        large(
            case("negbinom_mu, large size", "negbinom_mu", d(rare.to_vec()), vec![s(1e6), s(0.3)], -11.208741050784129),
            1e-8,
        ),
        large(
            case("negbinom_mu, huge size", "negbinom_mu", d(rare.to_vec()), vec![s(1e12), s(0.3)], -11.208743475741324),
            1e-2,
        ),
        large(
            case(
                "negbinom_mu, large counts",
                "negbinom_mu",
                d(vec![1500.0, 2700.0]),
                vec![s(40.0), s(2000.0)],
                -16.822750623868131,
            ),
            1e-10,
        ),
        case("zip, scalars", "zip", d(zi_counts.to_vec()), vec![s(0.3), s(2.4)], -11.810374752331395),
        case(
            "zip, vector lambda",
            "zip",
            d(zi_counts.to_vec()),
            vec![s(0.3), v(&[0.5, 2.5, 1.5, 6.0, 3.0, 0.8])],
            -7.6855952066380961,
        ),
        case(
            "zip, vector pi",
            "zip",
            d(zi_counts.to_vec()),
            vec![v(&[0.1, 0.3, 0.6, 0.2, 0.05, 0.4]), s(2.4)],
            -11.282064592030798,
        ),
        // On the boundary: finite differences would step outside it.
        large(case("zip, pi zero", "zip", d(zi_counts.to_vec()), vec![s(0.0), s(2.4)], -14.904443162606615), 1e-12),
        case("zinb, scalars", "zinb", d(zi_counts.to_vec()), vec![s(0.25), s(2.3), s(3.1)], -10.916216019437936),
        case(
            "zinb, vector mu",
            "zinb",
            d(zi_counts.to_vec()),
            vec![s(0.25), s(2.3), v(&[0.5, 2.5, 1.5, 6.0, 3.0, 0.8])],
            -8.6991275673866646,
        ),
        case(
            "zinb, vector pi and size",
            "zinb",
            d(zi_counts.to_vec()),
            vec![v(&[0.1, 0.3, 0.6, 0.2, 0.05, 0.4]), v(&[2.3, 0.5, 1.0, 7.5, 20.0, 4.0]), s(3.1)],
            -10.800440456501734,
        ),
        case(
            "betabinom, scalars, vector size",
            "betabinom",
            ds(vec![0.0, 3.0, 5.0, 2.0, 7.0], vec![5.0, 6.0, 5.0, 4.0, 10.0]),
            vec![s(2.5), s(1.7)],
            -9.7067177713759705,
        ),
        case(
            "betabinom, vector alpha, scalar size",
            "betabinom",
            ds(vec![0.0, 3.0, 5.0, 2.0, 7.0], vec![10.0]),
            vec![v(&[2.5, 0.8, 3.5, 12.0, 1.2]), s(1.7)],
            -18.906160889886543,
        ),
        large(
            case(
                "betabinom, large counts and shapes",
                "betabinom",
                ds(vec![400.0, 370.0], vec![1000.0]),
                vec![s(150.0), s(220.0)],
                -9.3328520598300884,
            ),
            1e-9,
        ),
    ]
}

#[test]
fn every_kernel_is_covered_with_scalar_and_vector_parameters() {
    let cases = cases();
    for name in kernel_names() {
        let of_kernel: Vec<&Case> = cases.iter().filter(|c| c.name == *name).collect();
        assert!(of_kernel.iter().any(|c| c.params.iter().all(|t| t.numel() == 1)), "{name}: no scalar case");
        assert!(of_kernel.iter().any(|c| c.params.iter().any(|t| t.numel() > 1)), "{name}: no vector case");
    }
}

#[test]
fn values_match_r() {
    for c in cases() {
        let got = value(c.name, &c.data, &c.params);
        assert!(rel_close(got, c.r, 1e-12), "{}: {got:.17} but R gives {:.17}", c.label, c.r);
    }
}

#[test]
fn values_match_the_closed_form() {
    for c in cases() {
        let got = value(c.name, &c.data, &c.params);
        let want = closed_sum(c.name, &c.data, &c.params);
        assert!(rel_close(got, want, c.closed_tol), "{}: {got:.17} but the closed form gives {want:.17}", c.label);
    }
}

#[test]
fn derivatives_match_finite_differences() {
    for c in cases().into_iter().filter(|c| c.fd) {
        check(c.label, &kernel(c.name, &c.data), &c.params);
    }
}

#[test]
fn scalar_gradient_is_the_sum_of_per_observation_gradients() {
    // The same point, once with a shared sigma and once with sigma repeated
    // per observation: the shared gradient and Hessian entries are sums.
    let data = KernelData::new(vec![1.2, -0.3, 2.5, 0.7]);
    let f = kernel("normal", &data);
    let shared = leaves(&[s(0.8), s(1.3)]);
    let per_obs = leaves(&[s(0.8), v(&[1.3; 4])]);
    let a = second_order(&f(&shared), &shared, None).unwrap();
    let b = second_order(&f(&per_obs), &per_obs, None).unwrap();
    assert!(rel_close(a.value, b.value, 1e-15));
    assert!(rel_close(a.gradient[1], b.gradient[1..].iter().sum(), 1e-14));
    let h_sigma: f64 = (1..5).flat_map(|j| (1..5).map(move |i| (i, j))).map(|(i, j)| b.hessian_times.col(j)[i]).sum();
    assert!(rel_close(a.hessian_times.col(1)[1], h_sigma, 1e-14));
}

// ---- compositions ----

#[test]
fn parameters_can_be_results_of_operations() {
    let data = KernelData::new(vec![1.2, -0.3, 2.5, 0.7, 1.9]);
    // sigma = exp(log_sigma), the usual unconstrained parametrisation.
    let f = {
        let data = data.clone();
        move |p: &[Var]| {
            let sigma = record::unary("exp", &p[1]).unwrap();
            record_kernel("normal", &[p[0].clone(), sigma], data.clone()).unwrap()
        }
    };
    check("normal(mu, exp(log_sigma))", &f, &[s(0.8), s(1.3f64.ln())]);
    let at = leaves(&[s(0.8), s(1.3f64.ln())]);
    assert!(rel_close(f(&at).value().data[0], -7.5278157635087481, 1e-12));

    // gamma with both parameters on the log scale, and per-observation shape.
    let g = |p: &[Var]| {
        let shape = record::unary("exp", &p[0]).unwrap();
        let rate = record::unary("exp", &p[1]).unwrap();
        record_kernel("gamma", &[shape, rate], KernelData::new(vec![0.5, 1.7, 0.2, 3.1, 2.2])).unwrap()
    };
    check("gamma(exp(a), exp(b))", &g, &[v(&[0.9, -0.3, 0.0, 1.4, 1.2]), s(0.26)]);

    // A node used for two parameters at once: Pareto with alpha = x_min.
    let h = |p: &[Var]| {
        record_kernel("pareto", &[p[0].clone(), p[0].clone()], KernelData::new(vec![1.5, 2.2, 3.7])).unwrap()
    };
    check("pareto(t, t)", &h, &[s(1.2)]);
}

#[test]
fn kernel_output_feeds_further_operations() {
    // exp(loglik / 10) * w: the kernel's output adjoint depends on its own
    // value and on another parameter, so ybar != 1 and ybar_dot != 0.
    let data = KernelData::new(vec![0.0, 3.0, 1.0, 7.0, 12.0]);
    let f = move |p: &[Var]| {
        let ll = record_kernel("negbinom", &[p[0].clone(), p[1].clone()], data.clone()).unwrap();
        let scaled = record::binary("*", &ll, &Var::constant(s(0.1))).unwrap();
        let e = record::unary("exp", &scaled).unwrap();
        record::binary("*", &e, &p[2]).unwrap()
    };
    check("exp(loglik_negbinom / 10) * w", &f, &[v(&[2.3, 0.5, 1.0, 7.5, 20.0]), s(0.3), s(1.7)]);
}

/// An n x 2 design matrix, column-major, with an intercept.
pub(super) fn design(z: &[f64]) -> Tensor {
    let n = z.len();
    let mut data = vec![1.0; n];
    data.extend_from_slice(z);
    Tensor::matrix(n, 2, data).unwrap()
}

#[test]
fn logistic_regression_through_a_matrix_product() {
    let z = [-1.5, -0.7, 0.1, 0.4, 1.3, 2.2];
    let y = vec![0.0, 1.0, 0.0, 1.0, 1.0, 1.0];
    let x = design(&z);
    let f = {
        let (x, y) = (x.clone(), y.clone());
        move |p: &[Var]| {
            let eta = record::matmul(&Var::constant(x.clone()), &p[0]).unwrap();
            record_kernel("bernoulli_logit", &[eta], KernelData::new(y.clone())).unwrap()
        }
    };
    let beta = [0.3, 0.8];
    check("bernoulli_logit(X %*% beta)", &f, &[v(&beta)]);

    // The textbook forms: gradient X'(y - mu), Hessian -X' diag(mu (1 - mu)) X.
    let params = leaves(&[v(&beta)]);
    let so = second_order(&f(&params), &params, None).unwrap();
    let (mut grad, mut hess) = ([0.0; 2], [[0.0; 2]; 2]);
    for (i, &zi) in z.iter().enumerate() {
        let row = [1.0, zi];
        let mu = 1.0 / (1.0 + (-(beta[0] + beta[1] * zi)).exp());
        for a in 0..2 {
            grad[a] += row[a] * (y[i] - mu);
            for b in 0..2 {
                hess[a][b] -= row[a] * row[b] * mu * (1.0 - mu);
            }
        }
    }
    for a in 0..2 {
        assert!(rel_close(so.gradient[a], grad[a], 1e-13), "gradient[{a}]");
        for b in 0..2 {
            assert!(rel_close(so.hessian_times.col(b)[a], hess[a][b], 1e-13), "hessian[{a},{b}]");
        }
    }
}

#[test]
fn poisson_regression_through_a_matrix_product() {
    let z = [-1.0, -0.2, 0.5, 0.9, 1.6];
    let y = vec![0.0, 2.0, 1.0, 4.0, 9.0];
    let x = design(&z);
    let f = {
        let (x, y) = (x.clone(), y.clone());
        move |p: &[Var]| {
            let eta = record::matmul(&Var::constant(x.clone()), &p[0]).unwrap();
            record_kernel("poisson_log", &[eta], KernelData::new(y.clone())).unwrap()
        }
    };
    let beta = [0.4, 0.9];
    check("poisson_log(X %*% beta)", &f, &[v(&beta)]);

    let params = leaves(&[v(&beta)]);
    let so = second_order(&f(&params), &params, None).unwrap();
    let mut hess = [[0.0; 2]; 2];
    for &zi in &z {
        let row = [1.0, zi];
        let mu = (beta[0] + beta[1] * zi).exp();
        for a in 0..2 {
            for b in 0..2 {
                hess[a][b] -= row[a] * row[b] * mu;
            }
        }
    }
    for a in 0..2 {
        for b in 0..2 {
            assert!(rel_close(so.hessian_times.col(b)[a], hess[a][b], 1e-13), "hessian[{a},{b}]");
        }
    }
}

#[test]
fn regression_kernels_are_stable_at_extreme_linear_predictors() {
    let y = KernelData::new(vec![1.0, 0.0, 1.0, 0.0]);
    let eta = v(&[800.0, -800.0, -40.0, 40.0]);
    let got = value("bernoulli_logit", &y, std::slice::from_ref(&eta));
    // -softplus(-800) - softplus(-800) - softplus(40) - softplus(40) = -80 - 2 log1p(exp(-40))
    assert!(rel_close(got, -80.0 - 2.0 * (-40f64).exp().ln_1p(), 1e-15), "{got}");
    let params = leaves(&[eta]);
    let so = second_order(&record_kernel("bernoulli_logit", &params, y).unwrap(), &params, None).unwrap();
    assert!(so.gradient.iter().all(|g| g.is_finite()));
    assert!(rel_close(so.gradient[2], 1.0, 1e-15) && rel_close(so.gradient[3], -1.0, 1e-15));
    assert!(so.hessian_times.data.iter().all(|h| h.is_finite()));

    let counts = KernelData::new(vec![0.0, 2.0]);
    let got = value("poisson_log", &counts, &[v(&[f64::NEG_INFINITY, 0.0])]);
    assert!(rel_close(got, -1.0 - 2f64.ln(), 1e-15), "{got}");
    assert_eq!(value("poisson_log", &counts, &[v(&[0.0, f64::INFINITY])]), f64::NEG_INFINITY);
    assert_eq!(bd0(3.0, f64::INFINITY), f64::INFINITY);
}

// ---- domain, support and shapes ----

#[test]
fn parameters_outside_their_domain_give_minus_infinity() {
    let x_pos = vec![0.5, 1.7, 0.2];
    let cases: Vec<(&str, KernelData, Vec<Tensor>)> = vec![
        ("normal", KernelData::new(vec![1.0, 2.0]), vec![s(0.0), s(-1.0)]),
        ("normal", KernelData::new(vec![1.0, 2.0]), vec![s(0.0), v(&[1.0, 0.0])]),
        ("exponential", KernelData::new(x_pos.clone()), vec![s(0.0)]),
        ("exponential", KernelData::new(x_pos.clone()), vec![s(-2.0)]),
        ("poisson", KernelData::new(vec![0.0, 3.0]), vec![s(-1.0)]),
        ("poisson", KernelData::new(vec![0.0, 3.0]), vec![s(0.0)]),
        ("binomial", KernelData::with_size(vec![1.0, 2.0], vec![3.0]), vec![s(1.2)]),
        ("binomial", KernelData::with_size(vec![1.0, 2.0], vec![3.0]), vec![v(&[0.5, -0.1])]),
        ("bernoulli", KernelData::new(vec![1.0, 0.0]), vec![s(1.5)]),
        ("gamma", KernelData::new(x_pos.clone()), vec![s(-1.0), s(1.0)]),
        ("gamma", KernelData::new(x_pos.clone()), vec![s(2.0), s(0.0)]),
        ("beta", KernelData::new(vec![0.3, 0.6]), vec![s(0.0), s(2.0)]),
        ("beta", KernelData::new(vec![0.3, 0.6]), vec![s(2.0), s(-3.0)]),
        ("negbinom", KernelData::new(vec![0.0, 4.0]), vec![s(-1.0), s(0.5)]),
        ("negbinom", KernelData::new(vec![0.0, 4.0]), vec![s(2.0), s(0.0)]),
        ("negbinom", KernelData::new(vec![0.0, 4.0]), vec![s(2.0), s(1.5)]),
        ("weibull", KernelData::new(x_pos.clone()), vec![s(0.0), s(1.0)]),
        ("weibull", KernelData::new(x_pos.clone()), vec![s(1.0), s(-1.0)]),
        ("pareto", KernelData::new(vec![1.5, 2.2]), vec![s(-1.0), s(1.0)]),
        ("pareto", KernelData::new(vec![1.5, 2.2]), vec![s(2.0), s(0.0)]),
        // x_min above the smallest observation: that observation is impossible.
        ("pareto", KernelData::new(vec![1.5, 2.2]), vec![s(2.0), s(1.6)]),
    ];
    for (name, data, params) in cases {
        let got = value(name, &data, &params);
        assert_eq!(got, f64::NEG_INFINITY, "{name} at {params:?}");
        // The derivative sweeps run there too (results may be NaN or infinite).
        let leaves = leaves(&params);
        let ll = record_kernel(name, &leaves, data).unwrap();
        value_and_gradient(&ll, &leaves).unwrap();
        second_order(&ll, &leaves, None).unwrap();
    }
}

#[test]
fn boundary_values_follow_r() {
    // dpois(0, 0) = 1; dgamma(0, 1, rate) = rate; dweibull(0, 1, scale) = 1/scale;
    // dnbinom(0, r, 1) = 1; dbinom(x, n, 0 or 1) is a point mass.
    assert_eq!(value("poisson", &KernelData::new(vec![0.0, 0.0]), &[s(0.0)]), 0.0);
    assert!(rel_close(value("gamma", &KernelData::new(vec![0.0, 1.5]), &[s(1.0), s(1.3)]), -1.4252714710650181, 1e-14));
    assert_eq!(value("gamma", &KernelData::new(vec![0.0]), &[s(0.5), s(1.3)]), f64::INFINITY);
    assert_eq!(value("gamma", &KernelData::new(vec![0.0]), &[s(2.0), s(1.3)]), f64::NEG_INFINITY);
    assert!(rel_close(value("weibull", &KernelData::new(vec![0.0]), &[s(1.0), s(2.0)]), -(2f64.ln()), 1e-15));
    assert_eq!(value("negbinom", &KernelData::new(vec![0.0, 0.0]), &[s(2.0), s(1.0)]), 0.0);
    assert_eq!(value("negbinom", &KernelData::new(vec![0.0, 1.0]), &[s(2.0), s(1.0)]), f64::NEG_INFINITY);
    assert_eq!(value("binomial", &KernelData::with_size(vec![0.0, 0.0], vec![4.0]), &[s(0.0)]), 0.0);
    assert_eq!(value("binomial", &KernelData::with_size(vec![4.0, 2.0], vec![4.0, 2.0]), &[s(1.0)]), 0.0);
    assert_eq!(value("bernoulli", &KernelData::new(vec![1.0, 0.0]), &[s(1.0)]), f64::NEG_INFINITY);
    // Zero counts keep the gradient finite at p = 0 (no 0/0).
    let params = leaves(&[s(0.0)]);
    let ll = record_kernel("binomial", &params, KernelData::with_size(vec![0.0, 0.0], vec![4.0, 3.0])).unwrap();
    assert_eq!(value_and_gradient(&ll, &params).unwrap().1, vec![-7.0]);
}

fn error(name: &str, data: KernelData, params: &[Tensor]) -> String {
    let params: Vec<Var> = params.iter().cloned().map(Var::leaf).collect();
    record_kernel(name, &params, data).unwrap_err().0
}

#[test]
fn long_data_outside_the_support_is_reported_at_its_first_bad_index() {
    // The check runs chunk by chunk: bad values inside, at the edges of and
    // across chunks are found, the first one reported.
    for (bad, at) in [(vec![700], 700), (vec![255], 255), (vec![256, 3], 3), (vec![999, 511, 512], 511), (vec![0], 0)] {
        let mut x = vec![0.5; 1000];
        for &i in &bad {
            x[i] = -1.0;
        }
        let got = error("exponential", KernelData::new(x), &[s(1.0)]);
        let want = format!("loglik_exponential: x[{}] = -1 is outside the support (non-negative numbers)", at + 1);
        assert_eq!(got, want);
    }
    let mut x = vec![0.5; 1000];
    x[600] = f64::NAN;
    assert_eq!(error("normal", KernelData::new(x), &[s(0.0), s(1.0)]), "loglik_normal: x[601] = NaN is outside the support (finite numbers)");
}

#[test]
fn data_outside_the_support_is_an_error_with_its_index() {
    let d = KernelData::new;
    let cases: Vec<(&str, KernelData, Vec<Tensor>, &str)> = vec![
        (
            "poisson",
            d(vec![1.0, 2.0, -1.0]),
            vec![s(1.0)],
            "loglik_poisson: x[3] = -1 is outside the support (non-negative integers)",
        ),
        (
            "poisson",
            d(vec![1.0, 2.5]),
            vec![s(1.0)],
            "loglik_poisson: x[2] = 2.5 is outside the support (non-negative integers)",
        ),
        (
            "negbinom",
            d(vec![f64::NAN]),
            vec![s(1.0), s(0.5)],
            "loglik_negbinom: x[1] = NaN is outside the support (non-negative integers)",
        ),
        (
            "poisson_log",
            d(vec![0.0, -2.0]),
            vec![s(0.0)],
            "loglik_poisson_log: y[2] = -2 is outside the support (non-negative integers)",
        ),
        (
            "bernoulli",
            d(vec![0.0, 1.0, 2.0]),
            vec![s(0.5)],
            "loglik_bernoulli: x[3] = 2 is outside the support (0 or 1)",
        ),
        (
            "bernoulli_logit",
            d(vec![1.0, 0.5]),
            vec![s(0.0)],
            "loglik_logistic: y[2] = 0.5 is outside the support (0 or 1)",
        ),
        (
            "beta",
            d(vec![0.5, 1.0]),
            vec![s(1.0), s(1.0)],
            "loglik_beta: x[2] = 1 is outside the support (numbers strictly between 0 and 1)",
        ),
        (
            "exponential",
            d(vec![-0.5]),
            vec![s(1.0)],
            "loglik_exponential: x[1] = -0.5 is outside the support (non-negative numbers)",
        ),
        (
            "gamma",
            d(vec![1.0, f64::INFINITY]),
            vec![s(1.0), s(1.0)],
            "loglik_gamma: x[2] = Inf is outside the support (non-negative numbers)",
        ),
        (
            "weibull",
            d(vec![1.0, 2.0, -3.0]),
            vec![s(1.0), s(1.0)],
            "loglik_weibull: x[3] = -3 is outside the support (non-negative numbers)",
        ),
        (
            "pareto",
            d(vec![1.0, 0.0]),
            vec![s(1.0), s(0.5)],
            "loglik_pareto: x[2] = 0 is outside the support (positive numbers)",
        ),
        (
            "normal",
            d(vec![1.0, f64::NAN]),
            vec![s(0.0), s(1.0)],
            "loglik_normal: x[2] = NaN is outside the support (finite numbers)",
        ),
        (
            "binomial",
            KernelData::with_size(vec![1.0, 5.0], vec![4.0]),
            vec![s(0.5)],
            "loglik_binomial: x[2] = 5 is outside the support (integers from 0 to size = 4)",
        ),
        (
            "binomial",
            KernelData::with_size(vec![1.0, 5.0], vec![6.0, 4.0]),
            vec![s(0.5)],
            "loglik_binomial: x[2] = 5 is outside the support (integers from 0 to size[2] = 4)",
        ),
        (
            "binomial",
            KernelData::with_size(vec![1.0, 2.0], vec![3.0, 2.5]),
            vec![s(0.5)],
            "loglik_binomial: size[2] = 2.5 is not a non-negative integer",
        ),
    ];
    for (name, data, params, want) in cases {
        assert_eq!(error(name, data, &params), want);
    }
}

#[test]
fn counts_within_r_tolerance_of_an_integer_are_rounded() {
    let exact = value("poisson", &KernelData::new(vec![3.0, 0.0]), &[s(2.0)]);
    let fuzzy = value("poisson", &KernelData::new(vec![3.0 + 1e-10, 1e-12]), &[s(2.0)]);
    assert_eq!(exact, fuzzy);
}

#[test]
fn shape_and_argument_errors_name_the_kernel() {
    let x: Vec<f64> = (0..200).map(|i| i as f64 / 10.0).collect();
    assert_eq!(
        error("normal", KernelData::new(x.clone()), &[v(&[1.0, 2.0, 3.0]), s(1.0)]),
        "loglik_normal: mu has length 3 but x has length 200"
    );
    assert_eq!(
        error("bernoulli_logit", KernelData::new(vec![0.0, 1.0]), &[v(&[1.0, 2.0, 3.0])]),
        "loglik_logistic: eta has length 3 but y has length 2"
    );
    assert_eq!(
        error("gamma", KernelData::new(vec![1.0, 2.0]), &[s(1.0), v(&[1.0, 2.0, 3.0])]),
        "loglik_gamma: rate has length 3 but x has length 2"
    );
    assert_eq!(
        error("normal", KernelData::new(x.clone()), &[s(1.0)]),
        "loglik_normal: needs 2 parameters (mu, sigma), got 1"
    );
    assert_eq!(
        error("poisson", KernelData::new(vec![1.0]), &[s(1.0), s(2.0)]),
        "loglik_poisson: needs 1 parameter (lambda), got 2"
    );
    assert_eq!(
        error("binomial", KernelData::with_size(vec![1.0, 2.0, 0.0], vec![3.0, 3.0]), &[s(0.5)]),
        "loglik_binomial: size has length 2 but x has length 3"
    );
    assert_eq!(
        error("binomial", KernelData::new(vec![1.0]), &[s(0.5)]),
        "loglik_binomial: size (the number of trials) is missing"
    );
    assert_eq!(
        error("poisson", KernelData::with_size(vec![1.0], vec![2.0]), &[s(0.5)]),
        "loglik_poisson: size is only used by the binomial and beta-binomial kernels"
    );
    let unknown = error("cauchy", KernelData::new(vec![1.0]), &[s(0.0), s(1.0)]);
    assert!(unknown.starts_with("unknown log-likelihood kernel 'cauchy' (known: normal, exponential,"), "{unknown}");
}

#[test]
fn kernels_report_their_number_of_observations() {
    for c in cases() {
        let params: Vec<Var> = c.params.iter().cloned().map(Var::leaf).collect();
        let n = c.data.x.len();
        let ll = record_kernel(c.name, &params, c.data).unwrap();
        // the logistic kernel is named after the R function that records it
        let name = if c.name == "bernoulli_logit" { "loglik_logistic".to_string() } else { format!("loglik_{}", c.name) };
        assert_eq!(crate::tape::kernel_observations(&ll), vec![(ll.rule_name().unwrap(), n)], "{}", c.label);
        assert_eq!(ll.rule_name().unwrap(), name);
        assert!(ll.value().is_scalar());
    }
    // No observations: the log-likelihood is an empty sum.
    let params = leaves(&[s(0.0), s(1.0)]);
    let ll = record_kernel("normal", &params, KernelData::new(vec![])).unwrap();
    assert_eq!(ll.value().data[0], 0.0);
    assert_eq!(value_and_gradient(&ll, &params).unwrap().1, vec![0.0, 0.0]);
}

#[test]
fn large_regression_stays_a_single_node() {
    // A logistic regression with 20000 observations: one kernel node on top
    // of one matrix product, and its Hessian agrees with X' W X.
    let n = 20_000;
    let z: Vec<f64> = (0..n).map(|i| ((i * 7919) % 1000) as f64 / 250.0 - 2.0).collect();
    let y: Vec<f64> =
        z.iter().enumerate().map(|(i, &zi)| f64::from((zi + 0.3 * ((i % 7) as f64 - 3.0)) > 0.0)).collect();
    let x = Var::constant(design(&z));
    let params = leaves(&[v(&[0.1, 1.2])]);
    let eta = record::matmul(&x, &params[0]).unwrap();
    let ll = record_kernel("bernoulli_logit", &[eta], KernelData::new(y)).unwrap();
    let (cell, root) = ll.resolve();
    assert_eq!(crate::tape::reachable(&cell.tape(), root).iter().filter(|&&r| r).count(), 4);
    let so = second_order(&ll, &params, None).unwrap();
    let mut h00 = 0.0;
    for &zi in &z {
        let mu = 1.0 / (1.0 + (-(0.1 + 1.2 * zi)).exp());
        h00 -= mu * (1.0 - mu);
    }
    assert!(rel_close(so.hessian_times.col(0)[0], h00, 1e-12));
}

// ---- the saddle-point pieces ----

#[test]
fn stirlerr_is_continuous_where_it_switches_method() {
    let direct = |n: f64| ln_gamma(n + 1.0) - (n + 0.5) * n.ln() + n - super::saddle::LN_SQRT_2PI;
    for n in [9.5, 10.0, 10.000001, 10.5, 12.0] {
        assert!((stirlerr(n) - direct(n)).abs() < 1e-14, "stirlerr({n})");
    }
    // stirlerr(n) ~ 1/(12 n)
    assert!(rel_close(stirlerr(1e6), 1.0 / 12e6, 1e-10));
}

#[test]
fn bd0_matches_its_definition_away_from_cancellation() {
    let direct = |x: f64, m: f64| x * (x / m).ln() + m - x;
    for (x, m) in [(3.0, 7.0), (10.0, 9.5), (100.0, 101.0), (0.5, 2.0)] {
        assert!(rel_close(bd0(x, m), direct(x, m), 1e-9), "bd0({x}, {m})");
    }
    assert_eq!(bd0(5.0, 5.0), 0.0);
    assert!(bd0(1e6, 1e6 + 1.0) > 0.0);
}

#[test]
fn saddle_point_probabilities_match_direct_formulas() {
    for (x, lambda) in [(0.0, 2.0), (1.0, 0.3), (4.0, 4.5), (17.0, 9.0)] {
        let direct = x * f64::ln(lambda) - lambda - ln_gamma(x + 1.0);
        assert!(rel_close(dpois_log(x, lambda), direct, 1e-13), "dpois({x}, {lambda})");
    }
    for (x, n, p) in [(0.0, 5.0, 0.3), (5.0, 5.0, 0.3), (2.0, 7.0, 0.6), (2.5, 6.5, 0.2)] {
        let direct =
            ln_gamma(n + 1.0) - ln_gamma(x + 1.0) - ln_gamma(n - x + 1.0) + x * f64::ln(p) + (n - x) * f64::ln(1.0 - p);
        assert!(rel_close(dbinom_log(x, n, p, 1.0 - p), direct, 1e-13), "dbinom({x}, {n}, {p})");
    }
    for (a, b) in [(0.5, 3.0), (2.0, 12.0), (1.5, 40.0), (11.0, 15.0), (30.0, 30.0)] {
        let direct = ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b);
        assert!(rel_close(ln_beta(a, b), direct, 1e-12), "lbeta({a}, {b})");
    }
}
