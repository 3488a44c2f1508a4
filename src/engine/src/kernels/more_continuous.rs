//! Location-scale densities beyond the normal: the lognormal (a normal in
//! log x), Student's t with location, scale and degrees of freedom, and the
//! logistic. Values follow R's dlnorm, dt and dlogis (log = TRUE).

use std::cell::OnceCell;

use super::continuous::Normal;
use super::saddle::{bd0, stirlerr, LN_SQRT_2PI};
use super::{blocked_sums, check_support, Density, Partials};
use crate::special::{digamma_half_step, trigamma};
use crate::tensor::Data;
use crate::Result;

/// Lognormal(meanlog, sdlog): dlnorm. log x is normal, so the density is
/// the normal one of log x, less log x (the Jacobian, which depends on the
/// data alone): the partials are the normal's, and so is the shortcut for
/// shared parameters. x = 0 has density 0 whatever the parameters, so the
/// data must be positive.
#[derive(Debug)]
pub struct Lognormal {
    /// The normal density of log x.
    log_normal: Normal,
    log_x: Vec<f64>,
    /// sum_i w_i log x_i, for the shortcut (the weights are the kernel's
    /// own at every call, so it is computed once).
    weighted_log_sum: OnceCell<f64>,
}

impl Lognormal {
    pub fn new(x: Data) -> Result<Self> {
        check_support(Self::NAME, "x", &x, "positive numbers", |v| v > 0.0)?;
        let log_x: Vec<f64> = x.iter().map(|v| v.ln()).collect();
        Ok(Lognormal { log_normal: Normal::new(log_x.clone().into())?, log_x, weighted_log_sum: OnceCell::new() })
    }
}

impl Density<2> for Lognormal {
    const NAME: &'static str = "loglik_lognormal";
    const PARAMS: [&'static str; 2] = ["meanlog", "sdlog"];

    fn observations(&self) -> usize {
        self.log_x.len()
    }

    fn log_density(&self, i: usize, theta: [f64; 2]) -> f64 {
        self.log_normal.log_density(i, theta) - self.log_x[i]
    }

    fn partials(&self, i: usize, theta: [f64; 2], hessian: bool) -> Partials<2> {
        self.log_normal.partials(i, theta, hessian)
    }

    fn shared(&self, theta: [f64; 2], weights: Option<&[f64]>) -> Option<(f64, Partials<2>)> {
        let (value, sums) = self.log_normal.shared(theta, weights)?;
        let log_sum = *self.weighted_log_sum.get_or_init(|| match weights {
            None => blocked_sums(self.log_x.len(), |i| [self.log_x[i]])[0],
            Some(w) => blocked_sums(self.log_x.len(), |i| [w[i] * self.log_x[i]])[0],
        });
        Some((value - log_sum, sums))
    }
}

/// Student's t with location mu, scale sigma and nu degrees of freedom:
/// dt((x - mu) / sigma, nu, log = TRUE) - log(sigma). nu = Inf is the
/// normal, as in R.
#[derive(Debug)]
pub struct StudentT {
    x: Data,
}

impl StudentT {
    pub fn new(x: Data) -> Result<Self> {
        check_support(Self::NAME, "x", &x, "finite numbers", |_| true)?;
        Ok(StudentT { x })
    }
}

/// log of the standard t density with nu degrees of freedom at z. Written
/// out, lgamma((nu + 1)/2) - lgamma(nu/2) and (nu + 1)/2 log(1 + z^2/nu) are
/// large and nearly cancel for large nu; with a = nu/2 and b = a + 1/2,
///   lgamma(b) - lgamma(a) = stirlerr(b) - stirlerr(a) - bd0(a, b) + log(a)/2,
///   (nu/2) log(1 + z^2/nu) = z^2/2 - bd0(a, (nu + z^2)/2),
/// where stirlerr and bd0 (see `saddle`) are small and accurate, as in R's dt.
fn dt_log(z: f64, nu: f64) -> f64 {
    if nu == f64::INFINITY {
        return -(LN_SQRT_2PI + 0.5 * z * z);
    }
    let a = 0.5 * nu;
    let constant = stirlerr(a + 0.5) - stirlerr(a) - bd0(a, a + 0.5);
    let z2n = z * z / nu;
    // half_log = log(1 + z^2/nu)/2, power = (nu/2) log(1 + z^2/nu).
    let (half_log, power) = if z2n > 1.0 / f64::EPSILON {
        // 1 + z^2/nu is z^2/nu in doubles.
        let half_log = z.abs().ln() - 0.5 * nu.ln();
        (half_log, nu * half_log)
    } else if z2n > 0.2 {
        let half_log = 0.5 * z2n.ln_1p();
        (half_log, nu * half_log)
    } else {
        (0.5 * z2n.ln_1p(), 0.5 * z * z - bd0(a, 0.5 * (nu + z * z)))
    };
    constant - power - (LN_SQRT_2PI + half_log)
}

impl Density<3> for StudentT {
    const NAME: &'static str = "loglik_t";
    const PARAMS: [&'static str; 3] = ["location", "scale", "df"];

    fn observations(&self) -> usize {
        self.x.len()
    }

    fn log_density(&self, i: usize, [mu, sigma, nu]: [f64; 3]) -> f64 {
        if sigma <= 0.0 || nu <= 0.0 {
            return f64::NEG_INFINITY;
        }
        dt_log((self.x[i] - mu) / sigma, nu) - sigma.ln()
    }

    fn partials(&self, i: usize, theta: [f64; 3], hessian: bool) -> Partials<3> {
        self.partials_at(theta, hessian)(i)
    }

    fn partials_at(&self, [mu, sigma, nu]: [f64; 3], hessian: bool) -> impl Fn(usize) -> Partials<3> + '_ {
        // With z = (x - mu)/sigma and D = nu + z^2, the log-density is
        //   C(nu) - log(sigma) - (nu + 1)/2 log(1 + z^2/nu),
        // whose partials in z and sigma are rational in z; in nu the
        // polygammas of C(nu) depend on nu alone, computed once here.
        let r = 1.0 / sigma;
        // (psi((nu + 1)/2) - psi(nu/2))/2, accurate for large nu, where
        // the gradient in nu is O(1/nu^2) and a plain difference of the
        // digammas would bury it in rounding.
        let psi = 0.5 * digamma_half_step(0.5 * nu);
        let tri = if hessian { 0.25 * (trigamma(0.5 * (nu + 1.0)) - trigamma(0.5 * nu)) } else { 0.0 };
        let nu1 = nu + 1.0;
        move |i| {
            let z = (self.x[i] - mu) * r;
            let z2 = z * z;
            let d = nu + z2;
            let grad = [
                nu1 * z * r / d,
                (nu1 * z2 / d - 1.0) * r,
                // (z^2 - 1)/D = (nu + 1) z^2/(nu D) - 1/nu, without the cancellation.
                psi - 0.5 * (z2 / nu).ln_1p() + 0.5 * (z2 - 1.0) / d,
            ];
            if !hessian {
                return Partials { grad, hess: [[0.0; 3]; 3] };
            }
            let (r2, d2) = (r * r, d * d);
            let h_mm = -nu1 * (nu - z2) * r2 / d2;
            let h_ms = -2.0 * nu * nu1 * z * r2 / d2;
            let h_mn = z * (z2 - 1.0) * r / d2;
            let h_ss = (1.0 - nu1 * z2 * (d + 2.0 * nu) / d2) * r2;
            let h_sn = z2 * (z2 - 1.0) * r / d2;
            let h_nn = tri + (z2 * z2 + nu) / (2.0 * nu * d2);
            Partials { grad, hess: [[h_mm, h_ms, h_mn], [h_ms, h_ss, h_sn], [h_mn, h_sn, h_nn]] }
        }
    }
}

/// Logistic(location, scale): dlogis. With z = (x - location)/scale, the
/// log-density -|z| - log(scale) - 2 log1p(exp(-|z|)) is even in z, and
/// exp(-|z|) neither overflows nor loses the tail.
#[derive(Debug)]
pub struct Logistic {
    x: Data,
}

impl Logistic {
    pub fn new(x: Data) -> Result<Self> {
        check_support(Self::NAME, "x", &x, "finite numbers", |_| true)?;
        Ok(Logistic { x })
    }
}

impl Density<2> for Logistic {
    const NAME: &'static str = "loglik_logis";
    const PARAMS: [&'static str; 2] = ["location", "scale"];

    fn observations(&self) -> usize {
        self.x.len()
    }

    fn log_density(&self, i: usize, [mu, sigma]: [f64; 2]) -> f64 {
        if sigma <= 0.0 {
            return f64::NEG_INFINITY;
        }
        let z = ((self.x[i] - mu) / sigma).abs();
        -(z + sigma.ln() + 2.0 * (-z).exp().ln_1p())
    }

    fn partials(&self, i: usize, [mu, sigma]: [f64; 2], _hessian: bool) -> Partials<2> {
        // d/dz log f = -tanh(z/2) and d2/dz2 = -(1 - tanh^2(z/2))/2, with
        // tanh(z/2) = sign(z) (1 - e)/(1 + e) and 1 - tanh^2 = 4e/(1 + e)^2
        // for e = exp(-|z|): no cancellation in the tails.
        let r = 1.0 / sigma;
        let z = (self.x[i] - mu) * r;
        let e = (-z.abs()).exp();
        let f = 1.0 + e;
        let t = (1.0 - e) / f * z.signum();
        let sech2 = 4.0 * e / (f * f);
        let r2 = r * r;
        Partials::two(
            [t * r, (z * t - 1.0) * r],
            -0.5 * sech2 * r2,
            -(t + 0.5 * z * sech2) * r2,
            (1.0 - 2.0 * z * t - 0.5 * z * z * sech2) * r2,
        )
    }
}
