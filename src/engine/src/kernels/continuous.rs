//! Densities of continuous distributions. Values follow R's d<dist>(log =
//! TRUE) including its limits at x = 0; logs of the data are taken once, when
//! the node is recorded.

use std::cell::OnceCell;

use super::saddle::{dbinom_log, dpois_log, ln_beta, LN_SQRT_2PI};
use super::{check_support, Density, Moments, Partials};
use crate::special::{digamma, trigamma};
use crate::tensor::Data;
use crate::Result;

/// Normal(mu, sigma): dnorm. With shared mu and sigma, the log-likelihood
/// and its derivatives depend on the data only through the sums of
/// x - mu and (x - mu)^2, which follow from the moments of the data.
#[derive(Debug)]
pub struct Normal {
    x: Data,
    moments: OnceCell<Moments>,
}

impl Normal {
    pub fn new(x: Data) -> Result<Self> {
        check_support(Self::NAME, "x", &x, "finite numbers", |_| true)?;
        Ok(Normal { x, moments: OnceCell::new() })
    }
}

impl Density<2> for Normal {
    const NAME: &'static str = "loglik_normal";
    const PARAMS: [&'static str; 2] = ["mu", "sigma"];

    fn observations(&self) -> usize {
        self.x.len()
    }

    fn log_density(&self, i: usize, [mu, sigma]: [f64; 2]) -> f64 {
        if sigma <= 0.0 {
            return f64::NEG_INFINITY;
        }
        // Standardising first keeps (x - mu)^2 from overflowing when sigma is large too.
        let z = (self.x[i] - mu) / sigma;
        -(LN_SQRT_2PI + 0.5 * z * z + sigma.ln())
    }

    fn partials(&self, i: usize, [mu, sigma]: [f64; 2], _hessian: bool) -> Partials<2> {
        let r = 1.0 / sigma;
        let z = (self.x[i] - mu) * r;
        let r2 = r * r;
        Partials::two([z * r, (z * z - 1.0) * r], -r2, -2.0 * z * r2, (1.0 - 3.0 * z * z) * r2)
    }

    fn shared(&self, [mu, sigma]: [f64; 2], weights: Option<&[f64]>) -> Option<(f64, Partials<2>)> {
        if !(sigma > 0.0 && sigma.is_finite() && mu.is_finite()) {
            return None;
        }
        let moments = self.moments.get_or_init(|| Moments::of(&self.x, weights));
        // s1 = sum w (x - mu), q = sum w z^2, z = (x - mu) / sigma.
        let (s1, s2) = moments.about(mu);
        let w = moments.total;
        let r = 1.0 / sigma;
        let q = s2 * r * r;
        let value = -(w * (LN_SQRT_2PI + sigma.ln()) + 0.5 * q);
        let r2 = r * r;
        let sums = Partials::two([s1 * r2, (q - w) * r], -w * r2, -2.0 * s1 * r2 * r, (w - 3.0 * q) * r2);
        let finite = value.is_finite() && sums.grad.iter().chain(sums.hess.iter().flatten()).all(|v| v.is_finite());
        finite.then_some((value, sums))
    }
}

/// Exponential(rate): dexp. With a shared rate, the log-likelihood and its
/// derivatives depend on the data only through the sum of x.
#[derive(Debug)]
pub struct Exponential {
    x: Data,
    moments: OnceCell<Moments>,
}

impl Exponential {
    pub fn new(x: Data) -> Result<Self> {
        check_support(Self::NAME, "x", &x, "non-negative numbers", |v| v >= 0.0)?;
        Ok(Exponential { x, moments: OnceCell::new() })
    }
}

impl Density<1> for Exponential {
    const NAME: &'static str = "loglik_exponential";
    const PARAMS: [&'static str; 1] = ["rate"];

    fn observations(&self) -> usize {
        self.x.len()
    }

    fn log_density(&self, i: usize, [rate]: [f64; 1]) -> f64 {
        if rate <= 0.0 {
            return f64::NEG_INFINITY;
        }
        rate.ln() - rate * self.x[i]
    }

    fn partials(&self, i: usize, [rate]: [f64; 1], _hessian: bool) -> Partials<1> {
        let r = 1.0 / rate;
        Partials::one(r - self.x[i], -r * r)
    }

    fn shared(&self, [rate]: [f64; 1], weights: Option<&[f64]>) -> Option<(f64, Partials<1>)> {
        if !(rate > 0.0 && rate.is_finite()) {
            return None;
        }
        let moments = self.moments.get_or_init(|| Moments::of(&self.x, weights));
        let (w, r) = (moments.total, 1.0 / rate);
        // The gradient sum_i w (1/rate - x) about 1/rate, where it does not
        // cancel near the maximum (1/rate = mean).
        let value = w * rate.ln() - rate * moments.about(0.0).0;
        let sums = Partials::one(-moments.about(r).0, -w * r * r);
        (value.is_finite() && sums.grad[0].is_finite() && sums.hess[0][0].is_finite()).then_some((value, sums))
    }
}

/// Gamma(shape, rate): dgamma(x, shape, rate). x = 0 is in the support, as
/// in R: the density there is +Inf for shape < 1, rate for shape = 1 and 0
/// for shape > 1 (log-density +Inf, log(rate), -Inf).
#[derive(Debug)]
pub struct Gamma {
    x: Data,
    log_x: Vec<f64>,
}

impl Gamma {
    pub fn new(x: Data) -> Result<Self> {
        check_support(Self::NAME, "x", &x, "non-negative numbers", |v| v >= 0.0)?;
        let log_x = x.iter().map(|v| v.ln()).collect();
        Ok(Gamma { x, log_x })
    }
}

impl Density<2> for Gamma {
    const NAME: &'static str = "loglik_gamma";
    const PARAMS: [&'static str; 2] = ["shape", "rate"];

    fn observations(&self) -> usize {
        self.x.len()
    }

    fn log_density(&self, i: usize, [shape, rate]: [f64; 2]) -> f64 {
        if shape <= 0.0 || rate <= 0.0 {
            return f64::NEG_INFINITY;
        }
        let x = self.x[i];
        if x == 0.0 {
            return if shape < 1.0 {
                f64::INFINITY
            } else if shape > 1.0 {
                f64::NEG_INFINITY
            } else {
                rate.ln()
            };
        }
        // f(x) = rate * dpois(shape - 1; rate x): the Poisson saddle point
        // keeps the value accurate for large shapes, where shape log(rate x)
        // and lgamma(shape) nearly cancel. Below shape 1 the equivalent
        // dpois(shape; rate x) * shape / x keeps the Poisson count positive.
        let lambda = rate * x;
        if shape < 1.0 {
            let ratio = shape / x;
            let log_ratio = if ratio.is_finite() { ratio.ln() } else { shape.ln() - self.log_x[i] };
            dpois_log(shape, lambda) + log_ratio
        } else {
            dpois_log(shape - 1.0, lambda) + rate.ln()
        }
    }

    fn partials(&self, i: usize, theta: [f64; 2], hessian: bool) -> Partials<2> {
        self.partials_at(theta, hessian)(i)
    }

    fn partials_at(&self, [shape, rate]: [f64; 2], hessian: bool) -> impl Fn(usize) -> Partials<2> + '_ {
        let r = 1.0 / rate;
        let shared = rate.ln() - digamma(shape);
        let h11 = if hessian { -trigamma(shape) } else { 0.0 };
        move |i| {
            let g = [shared + self.log_x[i], shape * r - self.x[i]];
            if !hessian {
                return Partials::two(g, 0.0, 0.0, 0.0);
            }
            Partials::two(g, h11, r, -shape * r * r)
        }
    }
}

/// Beta(alpha, beta): dbeta. The data must lie strictly inside (0, 1): at
/// the end points the log-density is infinite for most parameter values
/// and its derivatives are not defined.
#[derive(Debug)]
pub struct Beta {
    x: Data,
    log_x: Vec<f64>,
    /// log(1 - x), through log1p so that x near 0 keeps its digits.
    log_1mx: Vec<f64>,
}

impl Beta {
    pub fn new(x: Data) -> Result<Self> {
        check_support(Self::NAME, "x", &x, "numbers strictly between 0 and 1", |v| v > 0.0 && v < 1.0)?;
        let log_x = x.iter().map(|v| v.ln()).collect();
        let log_1mx = x.iter().map(|v| (-v).ln_1p()).collect();
        Ok(Beta { x, log_x, log_1mx })
    }
}

impl Density<2> for Beta {
    const NAME: &'static str = "loglik_beta";
    const PARAMS: [&'static str; 2] = ["alpha", "beta"];

    fn observations(&self) -> usize {
        self.x.len()
    }

    fn log_density(&self, i: usize, [a, b]: [f64; 2]) -> f64 {
        if a <= 0.0 || b <= 0.0 {
            return f64::NEG_INFINITY;
        }
        if a <= 2.0 || b <= 2.0 {
            (a - 1.0) * self.log_x[i] + (b - 1.0) * self.log_1mx[i] - ln_beta(a, b)
        } else {
            // Both large: (a + b - 1) dbinom(a - 1; a + b - 2, x) avoids the
            // cancellation between the powers of x and lbeta.
            let x = self.x[i];
            (a + b - 1.0).ln() + dbinom_log(a - 1.0, a + b - 2.0, x, 1.0 - x)
        }
    }

    fn partials(&self, i: usize, theta: [f64; 2], hessian: bool) -> Partials<2> {
        self.partials_at(theta, hessian)(i)
    }

    fn partials_at(&self, [a, b]: [f64; 2], hessian: bool) -> impl Fn(usize) -> Partials<2> + '_ {
        let (psi_a, psi_b, psi_ab) = (digamma(a), digamma(b), digamma(a + b));
        let h = if hessian {
            let t_ab = trigamma(a + b);
            [t_ab - trigamma(a), t_ab, t_ab - trigamma(b)]
        } else {
            [0.0; 3]
        };
        move |i| {
            let g = [self.log_x[i] - psi_a + psi_ab, self.log_1mx[i] - psi_b + psi_ab];
            Partials::two(g, h[0], h[1], h[2])
        }
    }
}

/// Weibull(shape, scale): dweibull. x = 0 is in the support, as in R (the
/// log-density there is +Inf, -log(scale) or -Inf as shape is below, at or
/// above 1; its derivatives are infinite or NaN).
#[derive(Debug)]
pub struct Weibull {
    x: Data,
    log_x: Vec<f64>,
}

impl Weibull {
    pub fn new(x: Data) -> Result<Self> {
        check_support(Self::NAME, "x", &x, "non-negative numbers", |v| v >= 0.0)?;
        let log_x = x.iter().map(|v| v.ln()).collect();
        Ok(Weibull { x, log_x })
    }
}

impl Density<2> for Weibull {
    const NAME: &'static str = "loglik_weibull";
    const PARAMS: [&'static str; 2] = ["shape", "scale"];

    fn observations(&self) -> usize {
        self.x.len()
    }

    fn log_density(&self, i: usize, [k, scale]: [f64; 2]) -> f64 {
        if k <= 0.0 || scale <= 0.0 {
            return f64::NEG_INFINITY;
        }
        if self.x[i] == 0.0 {
            return if k < 1.0 {
                f64::INFINITY
            } else if k > 1.0 {
                f64::NEG_INFINITY
            } else {
                -scale.ln()
            };
        }
        // In logs, (x/scale)^k cannot overflow before the exponential does.
        let lz = self.log_x[i] - scale.ln();
        k.ln() - scale.ln() + (k - 1.0) * lz - (k * lz).exp()
    }

    fn partials(&self, i: usize, [k, scale]: [f64; 2], hessian: bool) -> Partials<2> {
        let lz = self.log_x[i] - scale.ln();
        let t = (k * lz).exp(); // (x / scale)^k
                                // t log(x/scale) -> 0 as x -> 0; keep it 0 rather than 0 * -Inf.
        let tl = if t == 0.0 { 0.0 } else { t * lz };
        let r = 1.0 / scale;
        let g = [1.0 / k + lz - tl, k * r * (t - 1.0)];
        if !hessian {
            return Partials::two(g, 0.0, 0.0, 0.0);
        }
        Partials::two(g, -1.0 / (k * k) - tl * lz, r * (t - 1.0 + k * tl), -k * r * r * (t - 1.0 + k * t))
    }
}

/// Pareto(alpha, x_min): alpha x_min^alpha / x^(alpha + 1) for x >= x_min.
/// x_min is a parameter, so x < x_min is not a data error: the
/// log-likelihood is -Inf there, and the derivatives are those of the
/// formula (only meaningful where x >= x_min).
#[derive(Debug)]
pub struct Pareto {
    x: Data,
    log_x: Vec<f64>,
}

impl Pareto {
    pub fn new(x: Data) -> Result<Self> {
        check_support(Self::NAME, "x", &x, "positive numbers", |v| v > 0.0)?;
        let log_x = x.iter().map(|v| v.ln()).collect();
        Ok(Pareto { x, log_x })
    }
}

impl Density<2> for Pareto {
    const NAME: &'static str = "loglik_pareto";
    const PARAMS: [&'static str; 2] = ["alpha", "x_min"];

    fn observations(&self) -> usize {
        self.x.len()
    }

    fn log_density(&self, i: usize, [alpha, x_min]: [f64; 2]) -> f64 {
        if alpha <= 0.0 || x_min <= 0.0 || self.x[i] < x_min {
            return f64::NEG_INFINITY;
        }
        alpha.ln() + alpha * x_min.ln() - (alpha + 1.0) * self.log_x[i]
    }

    fn partials(&self, i: usize, [alpha, x_min]: [f64; 2], _hessian: bool) -> Partials<2> {
        let r = 1.0 / x_min;
        Partials::two([1.0 / alpha + x_min.ln() - self.log_x[i], alpha * r], -1.0 / (alpha * alpha), r, -alpha * r * r)
    }
}
