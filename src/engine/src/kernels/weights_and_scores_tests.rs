//! Observation weights and per-observation scores of the kernels: weighted
//! kernels against the same data with observations repeated and against
//! finite differences; scores against central differences of each
//! observation's log-density, written out independently (or, where the
//! written-out form loses digits, the kernel's own value for that
//! observation alone); and the graphs scores are refused for.

use super::tests::{cases, closed_observation, design, kernel, rel_close, value, Case};
use super::{record_kernel, KernelData};
use crate::backward::value_and_gradient;
use crate::ops::observation_ids::observation_ids;
use crate::tape::{kernel_observations, observation_count, Var};
use crate::record;
use crate::scores::observation_scores;
use crate::second_order::second_order;
use crate::tensor::Tensor;
use crate::testing::{check, check_scores, leaves, s, v};

/// `pattern` repeated to length n.
fn cycle(pattern: &[f64], n: usize) -> Vec<f64> {
    pattern.iter().cycle().take(n).cloned().collect()
}

fn one_hot(n: usize, i: usize) -> Vec<f64> {
    (0..n).map(|j| f64::from(j == i)).collect()
}

fn weighted(data: &KernelData, w: &[f64]) -> KernelData {
    data.clone().weighted(Some(w.to_vec()))
}

/// Observation i's log-density as the kernel computes it: the kernel with
/// weight 1 on observation i and 0 on the others.
fn kernel_observation(c: &Case, params: &[Tensor], i: usize) -> f64 {
    value(c.name, &weighted(&c.data, &one_hot(c.data.x.len(), i)), params)
}

fn scores_of(root: &Var, params: &[Var]) -> Tensor {
    observation_scores(root, params).unwrap()
}

fn score_error(root: &Var, params: &[Var]) -> String {
    observation_scores(root, params).unwrap_err().0
}

// ---- weights ----

/// Data, and parameters with one value per observation, with observation i
/// repeated w[i] times.
fn repeated(c: &Case, w: &[f64]) -> (KernelData, Vec<Tensor>) {
    let n = c.data.x.len();
    let rep = |values: &[f64]| -> Vec<f64> {
        (0..n).flat_map(|i| std::iter::repeat_n(values[i], w[i] as usize)).collect()
    };
    let per_obs = |values: &[f64]| if values.len() == 1 { values.to_vec() } else { rep(values) };
    let data = KernelData {
        x: rep(&c.data.x).into(),
        size: c.data.size.as_deref().map(per_obs),
        weights: None,
        form: super::Form::Counted,
    };
    let params = c.params.iter().map(|t| Tensor::vector(per_obs(&t.data))).collect();
    (data, params)
}

#[test]
fn integer_weights_equal_repeated_observations() {
    for c in cases() {
        let w = cycle(&[2.0, 0.0, 1.0, 3.0, 1.0], c.data.x.len());
        let (data, params) = repeated(&c, &w);
        let got = value(c.name, &weighted(&c.data, &w), &c.params);
        let want = value(c.name, &data, &params);
        assert!(rel_close(got, want, 1e-12), "{}: weighted {got:.17}, repeated {want:.17}", c.label);
        // With shared parameters, gradient and Hessian are directly comparable.
        if c.params.iter().all(|t| t.numel() == 1) {
            let a = leaves(&c.params);
            let b = leaves(&params);
            let sa = second_order(&kernel(c.name, &weighted(&c.data, &w))(&a), &a, None).unwrap();
            let sb = second_order(&kernel(c.name, &data)(&b), &b, None).unwrap();
            for (x, y) in sa.gradient.iter().zip(&sb.gradient) {
                assert!(rel_close(*x, *y, 1e-12), "{}: gradient {x} vs {y}", c.label);
            }
            for (x, y) in sa.hessian_times.data.iter().zip(&sb.hessian_times.data) {
                assert!(rel_close(*x, *y, 1e-12), "{}: Hessian {x} vs {y}", c.label);
            }
        }
    }
}

#[test]
fn weighted_derivatives_match_finite_differences() {
    for c in cases().into_iter().filter(|c| c.fd) {
        let w = cycle(&[0.5, 2.0, 0.0, 1.25, 3.0], c.data.x.len());
        let data = weighted(&c.data, &w);
        check(c.label, &kernel(c.name, &data), &c.params);
        let n = data.x.len();
        let obs = |i: usize, p: &[Tensor]| w[i] * kernel_observation(&c, p, i);
        check_scores(c.label, &kernel(c.name, &data), &obs, n, &c.params);
    }
}

#[test]
fn weighted_scores_are_the_weights_times_the_scores() {
    let c = cases().into_iter().find(|c| c.label == "gamma, vector shape").unwrap();
    let w = [0.5, 2.0, 0.0, 1.25, 3.0];
    let params = leaves(&c.params);
    let plain = scores_of(&kernel(c.name, &c.data)(&params), &params);
    let with_w = scores_of(&kernel(c.name, &weighted(&c.data, &w))(&params), &params);
    let n = w.len();
    for (j, (a, b)) in plain.data.iter().zip(&with_w.data).enumerate() {
        assert!(rel_close(w[j % n] * a, *b, 1e-14), "score {j}: {a} * {} vs {b}", w[j % n]);
    }
}

#[test]
fn a_zero_weight_removes_an_observation_even_an_impossible_one() {
    // x_min = 1.2 puts x = 0.9 outside the support: log-density -Inf.
    let x = vec![1.5, 2.2, 0.9];
    let params = [s(2.1), s(1.2)];
    assert_eq!(value("pareto", &KernelData::new(x.clone()), &params), f64::NEG_INFINITY);
    let dropped = KernelData::new(x).weighted(Some(vec![1.0, 1.0, 0.0]));
    let kept = KernelData::new(vec![1.5, 2.2]);
    assert_eq!(value("pareto", &dropped, &params), value("pareto", &kept, &params));
    let (a, b) = (leaves(&params), leaves(&params));
    let sa = second_order(&kernel("pareto", &dropped)(&a), &a, None).unwrap();
    let sb = second_order(&kernel("pareto", &kept)(&b), &b, None).unwrap();
    assert_eq!(sa.gradient, sb.gradient);
    assert_eq!(sa.hessian_times, sb.hessian_times);
    let scores = scores_of(&kernel("pareto", &dropped)(&a), &a);
    assert_eq!(scores.data[2], 0.0);
    assert_eq!(scores.data[5], 0.0);
}

#[test]
fn bad_weights_are_errors_naming_the_kernel() {
    let error = |name: &str, data: KernelData, params: &[Tensor]| {
        record_kernel(name, &leaves(params), data).unwrap_err().0
    };
    let x = || KernelData::new(vec![1.0, 2.0, 3.0]);
    assert_eq!(
        error("normal", x().weighted(Some(vec![1.0, 1.0])), &[s(0.0), s(1.0)]),
        "loglik_normal: weights has length 2 but x has length 3"
    );
    assert_eq!(
        error("exponential", x().weighted(Some(vec![1.0, -1.0, 1.0])), &[s(1.0)]),
        "loglik_exponential: weights[2] = -1 is not a non-negative number"
    );
    assert_eq!(
        error("poisson", x().weighted(Some(vec![1.0, 1.0, f64::NAN])), &[s(1.0)]),
        "loglik_poisson: weights[3] = NaN is not a non-negative number"
    );
    assert_eq!(
        error("bernoulli_logit", KernelData::new(vec![0.0, 1.0]).weighted(Some(vec![f64::INFINITY, 1.0])), &[s(0.0)]),
        "loglik_logistic: weights[1] = Inf is not a non-negative number"
    );
    assert_eq!(
        error("bernoulli_logit", KernelData::new(vec![0.0, 1.0]).weighted(Some(vec![1.0])), &[s(0.0)]),
        "loglik_logistic: weights has length 1 but y has length 2"
    );
}

// ---- scores ----

#[test]
fn scores_match_finite_differences_of_each_observation() {
    for c in cases().into_iter().filter(|c| c.fd) {
        let n = c.data.x.len();
        let f = kernel(c.name, &c.data);
        // The written-out log-density where it keeps its digits...
        if c.closed_tol <= 1e-12 {
            let closed = |i: usize, p: &[Tensor]| closed_observation(c.name, &c.data, p, i);
            check_scores(c.label, &f, &closed, n, &c.params);
        }
        // ...and the kernel's own value for one observation everywhere.
        let alone = |i: usize, p: &[Tensor]| kernel_observation(&c, p, i);
        check_scores(c.label, &f, &alone, n, &c.params);
    }
}

fn normal_density(x: f64, mu: f64, sigma: f64) -> f64 {
    let z = (x - mu) / sigma;
    -0.5 * (2.0 * std::f64::consts::PI).ln() - sigma.ln() - 0.5 * z * z
}

#[test]
fn scores_flow_through_operations_on_the_parameters() {
    // sigma = exp(log_sigma): the scores of (mu, log_sigma).
    let x = vec![1.2, -0.3, 2.5, 0.7, 1.9];
    let f = {
        let x = x.clone();
        move |p: &[Var]| {
            let sigma = record::unary("exp", &p[1]).unwrap();
            record_kernel("normal", &[p[0].clone(), sigma], KernelData::new(x.clone())).unwrap()
        }
    };
    let obs = |i: usize, p: &[Tensor]| normal_density(x[i], p[0].data[0], p[1].data[0].exp());
    check_scores("normal(mu, exp(log_sigma))", &f, &obs, 5, &[s(0.8), s(0.3)]);

    // Logistic regression: row i is (y_i - p_i) x_i.
    let z = [-1.5, -0.7, 0.1, 0.4, 1.3, 2.2];
    let y = vec![0.0, 1.0, 0.0, 1.0, 1.0, 1.0];
    let xm = design(&z);
    let g = {
        let (xm, y) = (xm.clone(), y.clone());
        move |p: &[Var]| {
            let eta = record::matmul(&Var::constant(xm.clone()), &p[0]).unwrap();
            record_kernel("bernoulli_logit", &[eta], KernelData::new(y.clone())).unwrap()
        }
    };
    let obs = |i: usize, p: &[Tensor]| {
        let eta = p[0].data[0] + p[0].data[1] * z[i];
        y[i] * eta - eta.exp().ln_1p()
    };
    check_scores("bernoulli_logit(X %*% beta)", &g, &obs, 6, &[v(&[0.3, 0.8])]);
    let beta = leaves(&[v(&[0.3, 0.8])]);
    let scores = scores_of(&g(&beta), &beta);
    for (i, &zi) in z.iter().enumerate() {
        let r = y[i] - 1.0 / (1.0 + (-(0.3 + 0.8 * zi)).exp());
        assert!(rel_close(scores.data[i], r, 1e-14) && rel_close(scores.data[6 + i], r * zi, 1e-14));
    }

    // One node as two parameters: Pareto with alpha = x_min = t.
    let xp = vec![1.5, 2.2, 3.7];
    let h = {
        let xp = xp.clone();
        move |p: &[Var]| record_kernel("pareto", &[p[0].clone(), p[0].clone()], KernelData::new(xp.clone())).unwrap()
    };
    let obs = |i: usize, p: &[Tensor]| {
        let t = p[0].data[0];
        t.ln() + t * t.ln() - (t + 1.0) * xp[i].ln()
    };
    check_scores("pareto(t, t)", &h, &obs, 3, &[s(1.2)]);
}

#[test]
fn scores_of_a_sum_of_kernels_add_up_per_observation() {
    // A joint likelihood of two measurements on each of five units (the
    // kernels tagged with the units' ids), wrapped in sum() of a scalar
    // (what R's sum(a, b) records), plus a constant and a kernel that does
    // not depend on the parameters (other data).
    let x = vec![1.2, -0.3, 2.5, 0.7, 1.9];
    let k = vec![0.0, 3.0, 1.0, 7.0, 2.0];
    let units = || (1..=5).collect::<Vec<u32>>();
    let f = {
        let (x, k) = (x.clone(), k.clone());
        move |p: &[Var]| {
            let a = record_kernel("normal", &[p[0].clone(), p[1].clone()], KernelData::new(x.clone())).unwrap();
            let b = record_kernel("poisson", &[p[2].clone()], KernelData::new(k.clone())).unwrap();
            let a = observation_ids(&a, units()).unwrap();
            let b = observation_ids(&b, units()).unwrap();
            let fixed = [Var::constant(s(1.0))];
            let other = record_kernel("exponential", &fixed, KernelData::new(vec![0.5, 1.0])).unwrap();
            let ab = record::sum(&record::binary("+", &a, &b).unwrap()).unwrap();
            let c = record::binary("+", &ab, &Var::constant(s(3.0))).unwrap();
            record::binary("+", &other, &c).unwrap()
        }
    };
    let obs = |i: usize, p: &[Tensor]| {
        let lambda = p[2].data[0];
        normal_density(x[i], p[0].data[0], p[1].data[0]) + k[i] * lambda.ln() - lambda
            - crate::special::ln_gamma(k[i] + 1.0)
    };
    check_scores("normal + poisson", &f, &obs, 5, &[s(0.8), s(1.3), s(2.4)]);
    assert_eq!(observation_count(&f(&leaves(&[s(0.8), s(1.3), s(2.4)]))), Some(5));

    // Untagged, the kernels cover observations of their own: the normal's
    // five rows, then the Poisson's five.
    let g = {
        let (x, k) = (x.clone(), k.clone());
        move |p: &[Var]| {
            let a = record_kernel("normal", &[p[0].clone(), p[1].clone()], KernelData::new(x.clone())).unwrap();
            let b = record_kernel("poisson", &[p[2].clone()], KernelData::new(k.clone())).unwrap();
            record::binary("+", &a, &b).unwrap()
        }
    };
    let stacked = |i: usize, p: &[Tensor]| {
        let lambda = p[2].data[0];
        if i < 5 {
            normal_density(x[i], p[0].data[0], p[1].data[0])
        } else {
            k[i - 5] * lambda.ln() - lambda - crate::special::ln_gamma(k[i - 5] + 1.0)
        }
    };
    check_scores("normal, then poisson", &g, &stacked, 10, &[s(0.8), s(1.3), s(2.4)]);
    assert_eq!(observation_count(&g(&leaves(&[s(0.8), s(1.3), s(2.4)]))), Some(10));

    // The same kernel twice counts twice.
    let single = |p: &[Var]| record_kernel("normal", p, KernelData::new(x.clone())).unwrap();
    let twice = |p: &[Var]| {
        let ll = single(p);
        record::binary("+", &ll, &ll).unwrap()
    };
    let at = leaves(&[s(0.8), s(1.3)]);
    let once = scores_of(&single(&at), &at);
    let two = scores_of(&twice(&at), &at);
    assert!(once.data.iter().zip(&two.data).all(|(a, b)| 2.0 * a == *b));
}

#[test]
fn scores_need_a_sum_of_terms_with_observations() {
    let x = KernelData::new(vec![1.2, -0.3, 2.5, 0.7, 1.9]);
    let p = leaves(&[s(0.8), s(1.3)]);
    let ll = record_kernel("normal", &p, x.clone()).unwrap();

    let doubled = record::binary("*", &Var::constant(s(2.0)), &ll).unwrap();
    assert_eq!(
        score_error(&doubled, &p),
        "observation_scores: the kernels' sum passes through '*' on its way to the log-likelihood; \
         scores need a plain sum of kernels (constants may be added or subtracted)"
    );
    // Subtracting a constant leaves the scores as they are.
    let shifted = record::binary("-", &ll, &Var::constant(s(5.0))).unwrap();
    assert_eq!(scores_of(&shifted, &p).data, scores_of(&ll, &p).data);

    // A log-likelihood written without kernels, a sum of elementwise terms
    // over data: each element is an observation, d/dp0 (y_i - p0)^2 =
    // -2 (y_i - p0) and nothing in p1.
    let diff = record::binary("-", &Var::constant(v(&[1.0, 2.0])), &p[0]).unwrap();
    let plain = record::sum(&record::binary("*", &diff, &diff).unwrap()).unwrap();
    assert_eq!(scores_of(&plain, &p).data.to_vec(), vec![-2.0 * (1.0 - 0.8), -2.0 * (2.0 - 0.8), 0.0, 0.0]);
    assert_eq!(observation_count(&plain), Some(2));
    // A sum over a vector with no data of its length in it (a penalty on a
    // vector parameter) covers no observations and has no scores.
    let beta = leaves(&[v(&[0.5, -1.0])]);
    let penalty = record::sum(&record::binary("*", &beta[0], &beta[0]).unwrap()).unwrap();
    assert_eq!(observation_count(&penalty), None);
    assert!(score_error(&penalty, &beta).contains("passes through 'sum'"));

    let penalised = record::binary("+", &ll, &p[0]).unwrap();
    assert_eq!(score_error(&penalised, &p), "observation_scores: a parameter is added to the log-likelihood directly");

    let rate = leaves(&[s(0.7)]);
    let other = record_kernel("exponential", &rate, KernelData::new(vec![0.5, 1.0, 2.0])).unwrap();
    let both = record::binary("+", &ll, &other).unwrap();
    let all: Vec<Var> = p.iter().chain(&rate).cloned().collect();
    // Kernels over different data: their rows are stacked in recording
    // order, each kernel's rows its own scores.
    let stacked = scores_of(&both, &all);
    assert_eq!(stacked.shape.as_matrix(), (8, 3));
    let (alone_other, alone_ll) = (scores_of(&other, &rate), scores_of(&ll, &p));
    for i in 0..5 {
        assert_eq!(stacked.data[i], alone_ll.data[i]);
        assert_eq!(stacked.data[i + 8], alone_ll.data[i + 5]);
        assert_eq!(stacked.data[i + 16], 0.0);
    }
    for i in 0..3 {
        assert_eq!(stacked.data[5 + i + 16], alone_other.data[i]);
        assert_eq!(stacked.data[5 + i], 0.0);
    }
    assert_eq!(observation_count(&both), Some(8));
    assert_eq!(kernel_observations(&both), vec![("loglik_normal", 5), ("loglik_exponential", 3)]);
    // Tagging checks its ids against the term's observations.
    assert_eq!(
        observation_ids(&ll, vec![1, 2, 3]).unwrap_err().0,
        "observation_ids: id has length 3 but loglik covers 5 observations"
    );
    assert_eq!(observation_ids(&ll, vec![1, 2, 0, 4, 5]).unwrap_err().0, "observation_ids: id[3] = 0; ids are positive whole numbers");
    assert!(observation_ids(&doubled, vec![1; 5]).unwrap_err().0.starts_with("observation_ids: loglik must be a loglik_* kernel"));

    assert_eq!(score_error(&other, &p), "observation_scores: no log-likelihood kernel depends on the parameters");
    let vector = record::binary("*", &p[0], &Var::constant(v(&[1.0, 2.0]))).unwrap();
    assert_eq!(score_error(&vector, &p), "observation_scores: the log-likelihood must be a scalar, got vector[2]");
    let twice = vec![p[0].clone(), p[0].clone()];
    assert_eq!(score_error(&ll, &twice), "observation_scores: parameter 2 appears twice in the parameter list");
}

#[test]
fn scores_of_a_large_regression_are_its_residuals_times_the_design() {
    // Many observations: the blocks of the kernel's sweep line up.
    let n = 1300;
    let z: Vec<f64> = (0..n).map(|i| ((i * 7919) % 1000) as f64 / 250.0 - 2.0).collect();
    let y: Vec<f64> = z.iter().enumerate().map(|(i, &zi)| ((i * 31) % 17) as f64 + zi.max(0.0).floor()).collect();
    let beta = leaves(&[v(&[0.4, 0.3])]);
    let eta = record::matmul(&Var::constant(design(&z)), &beta[0]).unwrap();
    let ll = record_kernel("poisson_log", &[eta], KernelData::new(y.clone())).unwrap();
    let scores = scores_of(&ll, &beta);
    let grad = value_and_gradient(&ll, &beta).unwrap().1;
    for i in 0..n {
        // y - mu cancels where mu is close to y: compare on the scale of y.
        let (mu, scale) = ((0.4 + 0.3 * z[i]).exp(), 1.0 + y[i]);
        let r = y[i] - mu;
        assert!((scores.data[i] - r).abs() <= 1e-14 * scale, "row {i}: {} vs {r}", scores.data[i]);
        assert!((scores.data[n + i] - r * z[i]).abs() <= 1e-14 * scale * 2.0, "row {i}, z");
    }
    let total: f64 = scores.data[..n].iter().sum();
    assert!(rel_close(total, grad[0], 1e-10));
}
