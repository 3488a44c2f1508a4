//! Elementwise functions of one argument. Each function states its value and
//! its first and second derivatives in one match arm; `Rule` for all of them
//! follows from the chain rule:
//!   vjp:      xbar      = f'(x) ybar
//!   jvp:      xdot      -> f'(x) xdot
//!   vjp_dot:  xbar_dot  = f'(x) ybar_dot + f''(x) xdot ybar
//!   as operations (`jvp_graph`): f'(x) xdot with f' written with the
//!   engine's own functions (`tangent_graph`), so that it can be
//!   differentiated again.

use std::f64::consts::PI;

use crate::batch::Batch;
use crate::hessian_pattern::{Dependence, Pairs, Set};
use crate::normal;
use crate::record::{binary, unary};
use crate::replay::{compare_values, Side};
use crate::rule::{input_value, Partials, Rule, Site};
use crate::special::{digamma, ln_gamma, polygamma, tetragamma, trigamma};
use crate::tape::{Comparison, Operand, Var};
use crate::tensor::Tensor;
use crate::{bail, Result};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Unary {
    Neg,
    Exp,
    Log,
    Log1p,
    Expm1,
    Sqrt,
    Abs,
    Sin,
    Cos,
    Tan,
    Tanh,
    Sinh,
    Cosh,
    Lgamma,
    Digamma,
    Trigamma,
    /// psigamma(x, 2) and psigamma(x, 3): R's psigamma up to deriv = 3.
    Tetragamma,
    Pentagamma,
    Sigmoid,
    Softplus,
    LogSigmoid,
    Logit,
    Atan,
    Asin,
    Acos,
    /// The standard normal distribution function.
    Pnorm,
    /// Its log, accurate far into the lower tail.
    LogPnorm,
    /// Its inverse.
    Qnorm,
}

/// log(1 + exp(x)) without overflow.
pub fn softplus(x: f64) -> f64 {
    if x > 0.0 { x + (-x).exp().ln_1p() } else { x.exp().ln_1p() }
}

/// 1 / (1 + exp(-x)) without overflow.
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

impl Unary {
    pub const ALL: [Unary; 28] = {
        use Unary::*;
        [
            Neg, Exp, Log, Log1p, Expm1, Sqrt, Abs, Sin, Cos, Tan, Tanh, Sinh, Cosh, Lgamma, Digamma, Trigamma, Tetragamma,
            Pentagamma, Sigmoid, Softplus,
            LogSigmoid, Logit, Atan, Asin, Acos, Pnorm, LogPnorm, Qnorm,
        ]
    };

    pub fn from_name(name: &str) -> Option<Unary> {
        use Unary::*;
        Some(match name {
            "neg" => Neg,
            "exp" => Exp,
            "log" => Log,
            "log1p" => Log1p,
            "expm1" => Expm1,
            "sqrt" => Sqrt,
            "abs" => Abs,
            "sin" => Sin,
            "cos" => Cos,
            "tan" => Tan,
            "tanh" => Tanh,
            "sinh" => Sinh,
            "cosh" => Cosh,
            "lgamma" => Lgamma,
            "digamma" => Digamma,
            "trigamma" => Trigamma,
            "tetragamma" => Tetragamma,
            "pentagamma" => Pentagamma,
            "sigmoid" => Sigmoid,
            "softplus" => Softplus,
            "log_sigmoid" => LogSigmoid,
            "logit" => Logit,
            "atan" => Atan,
            "asin" => Asin,
            "acos" => Acos,
            "pnorm" => Pnorm,
            "log_pnorm" => LogPnorm,
            "qnorm" => Qnorm,
            _ => return None,
        })
    }

    pub fn value(self, x: f64) -> f64 {
        use Unary::*;
        match self {
            Neg => -x,
            Exp => x.exp(),
            Log => x.ln(),
            Log1p => x.ln_1p(),
            Expm1 => x.exp_m1(),
            Sqrt => x.sqrt(),
            Abs => x.abs(),
            Sin => x.sin(),
            Cos => x.cos(),
            Tan => x.tan(),
            Tanh => x.tanh(),
            Sinh => x.sinh(),
            Cosh => x.cosh(),
            Lgamma => ln_gamma(x),
            Digamma => digamma(x),
            Trigamma => trigamma(x),
            Tetragamma => tetragamma(x),
            Pentagamma => polygamma(3, x),
            Sigmoid => sigmoid(x),
            Softplus => softplus(x),
            LogSigmoid => -softplus(-x),
            Logit => (x / (1.0 - x)).ln(),
            Atan => x.atan(),
            Asin => x.asin(),
            Acos => x.acos(),
            Pnorm => normal::pnorm(x),
            LogPnorm => normal::log_pnorm(x),
            Qnorm => normal::qnorm(x),
        }
    }

    /// (f'(x), f''(x)), given x and y = f(x).
    pub fn derivatives(self, x: f64, y: f64) -> (f64, f64) {
        use Unary::*;
        match self {
            Neg => (-1.0, 0.0),
            Exp => (y, y),
            Log => (1.0 / x, -1.0 / (x * x)),
            Log1p => {
                let d = 1.0 / (1.0 + x);
                (d, -d * d)
            }
            Expm1 => (y + 1.0, y + 1.0),
            Sqrt => (0.5 / y, -0.25 / (y * y * y)),
            // The kink at 0 gets derivative 0, as sign(0) = 0 in R.
            Abs => (x.signum() * f64::from(x != 0.0), 0.0),
            Sin => (x.cos(), -y),
            Cos => (-x.sin(), -y),
            Tan => {
                let d = 1.0 + y * y;
                (d, 2.0 * y * d)
            }
            Tanh => {
                let d = 1.0 - y * y;
                (d, -2.0 * y * d)
            }
            Sinh => (x.cosh(), y),
            Cosh => (x.sinh(), y),
            Lgamma => (digamma(x), trigamma(x)),
            Digamma => (trigamma(x), tetragamma(x)),
            Trigamma => (tetragamma(x), polygamma(3, x)),
            Tetragamma => (polygamma(3, x), polygamma(4, x)),
            Pentagamma => (polygamma(4, x), polygamma(5, x)),
            Sigmoid => {
                let d = y * (1.0 - y);
                (d, d * (1.0 - 2.0 * y))
            }
            Softplus => {
                let s = sigmoid(x);
                (s, s * (1.0 - s))
            }
            LogSigmoid => {
                let s = sigmoid(-x);
                (s, -s * (1.0 - s))
            }
            Logit => {
                let q = x * (1.0 - x);
                (1.0 / q, (2.0 * x - 1.0) / (q * q))
            }
            Atan => {
                let d = 1.0 / (1.0 + x * x);
                (d, -2.0 * x * d * d)
            }
            Asin | Acos => {
                let r = 1.0 / (1.0 - x * x);
                let d = r.sqrt();
                let sign = if self == Asin { 1.0 } else { -1.0 };
                (sign * d, sign * x * d * r)
            }
            Pnorm => {
                let d = normal::dnorm(x);
                (d, -x * d)
            }
            LogPnorm => {
                let m = normal::mills(x);
                (m, -m * (x + m))
            }
            // q(p) with Phi(q) = p: q' = 1 / phi(q), q'' = q / phi(q)^2.
            Qnorm => {
                let r = 1.0 / normal::dnorm(y);
                (r, y * r * r)
            }
        }
    }

    pub fn label(self) -> &'static str {
        use Unary::*;
        match self {
            Neg => "-",
            Exp => "exp",
            Log => "log",
            Log1p => "log1p",
            Expm1 => "expm1",
            Sqrt => "sqrt",
            Abs => "abs",
            Sin => "sin",
            Cos => "cos",
            Tan => "tan",
            Tanh => "tanh",
            Sinh => "sinh",
            Cosh => "cosh",
            Lgamma => "lgamma",
            Digamma => "digamma",
            Trigamma => "trigamma",
            Tetragamma => "tetragamma",
            Pentagamma => "pentagamma",
            Sigmoid => "sigmoid",
            Softplus => "softplus",
            LogSigmoid => "log_sigmoid",
            Logit => "logit",
            Atan => "atan",
            Asin => "asin",
            Acos => "acos",
            Pnorm => "pnorm",
            LogPnorm => "log_pnorm",
            Qnorm => "qnorm",
        }
    }
}

/// sign(x) as plain numbers (0 at 0, as R's sign), read from the recorded
/// values of `x`. Both comparisons are kept as guards (see `Guard`): a
/// replay that moves an element of x across 0 is refused, instead of
/// keeping a derivative of the wrong sign.
fn recorded_sign(x: &Var) -> Result<Var> {
    let zero = || Side::Numbers(vec![0.0]);
    let above = compare_values(Comparison::Greater, Side::Var(x.clone()), zero());
    let below = compare_values(Comparison::Less, Side::Var(x.clone()), zero());
    let sign = above.iter().zip(&below).map(|(a, b)| f64::from(*a == Some(true)) - f64::from(*b == Some(true))).collect::<Vec<_>>();
    Ok(Var::constant(Tensor::new(x.value().shape, sign)?))
}

impl Unary {
    /// f'(x) t recorded with the engine's operations, given x, y = f(x)
    /// and the tangent t; the same numbers as `derivatives(x, y).0 * t`.
    fn tangent_graph(self, x: &Var, y: &Var, t: &Var) -> Result<Var> {
        use Unary::*;
        let times = |d: Var| binary("*", &d, t);
        let over = |d: Var| binary("/", t, &d);
        let square = |v: &Var| binary("*", v, v);
        match self {
            Neg => unary("neg", t),
            Exp => binary("*", y, t),
            Log => binary("/", t, x),
            Log1p => over(binary("+", x, 1.0)?),
            Expm1 => times(binary("+", y, 1.0)?),
            Sqrt => over(binary("*", y, 2.0)?),
            Abs => times(recorded_sign(x)?),
            Sin => times(unary("cos", x)?),
            Cos => times(unary("neg", &unary("sin", x)?)?),
            Tan => times(binary("+", &square(y)?, 1.0)?),
            Tanh => times(binary("-", 1.0, &square(y)?)?),
            Sinh => times(unary("cosh", x)?),
            Cosh => times(unary("sinh", x)?),
            Lgamma => times(unary("digamma", x)?),
            Digamma => times(unary("trigamma", x)?),
            Trigamma => times(unary("tetragamma", x)?),
            Tetragamma => times(unary("pentagamma", x)?),
            Pentagamma => bail!(
                "pentagamma: no forward-mode rule as operations: its derivative psigamma(x, 4) \
                 is not an operation of the engine"
            ),
            Sigmoid => times(binary("*", y, &binary("-", 1.0, y)?)?),
            Softplus => times(unary("sigmoid", x)?),
            LogSigmoid => times(unary("sigmoid", &unary("neg", x)?)?),
            Logit => over(binary("*", x, &binary("-", 1.0, x)?)?),
            Atan => over(binary("+", &square(x)?, 1.0)?),
            Asin => over(unary("sqrt", &binary("-", 1.0, &square(x)?)?)?),
            Acos => unary("neg", &over(unary("sqrt", &binary("-", 1.0, &square(x)?)?)?)?),
            // phi(x) = exp(-x^2 / 2) / sqrt(2 pi).
            Pnorm => times(binary("*", &unary("exp", &binary("*", &square(x)?, -0.5)?)?, 1.0 / (2.0 * PI).sqrt())?),
            // phi(x) / Phi(x) = exp(-x^2 / 2 - log Phi(x)) / sqrt(2 pi): no
            // underflow far in the lower tail, where both are tiny.
            LogPnorm => {
                let exponent = binary("-", &binary("*", &square(x)?, -0.5)?, y)?;
                times(binary("*", &unary("exp", &exponent)?, 1.0 / (2.0 * PI).sqrt())?)
            }
            // 1 / phi(q) = sqrt(2 pi) exp(q^2 / 2) at q = qnorm(p).
            Qnorm => times(binary("*", &unary("exp", &binary("*", &square(y)?, 0.5)?)?, (2.0 * PI).sqrt())?),
        }
    }
}

impl Rule for Unary {
    fn name(&self) -> &'static str {
        self.label()
    }

    fn dependence(&self, _site: &Site, inputs: &[Option<&[Set]>], _fixed: &[bool], pairs: &mut Pairs) -> Dependence {
        let x = inputs[0]?;
        if *self != Unary::Neg {
            for s in x {
                pairs.square(s);
            }
        }
        Some(x.to_vec())
    }

    fn jvp_graph(&self, inputs: &[Operand], output: &Var, tangents: &[Option<Var>]) -> Result<Option<Var>> {
        let Some(t) = &tangents[0] else { return Ok(None) };
        self.tangent_graph(input_value(self.label(), &inputs[0])?, output, t).map(Some)
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let x = inputs[0];
        Ok(Tensor { shape: x.shape, data: x.data.iter().map(|&v| self.value(v)).collect() })
    }

    fn scalar_partials(&self, inputs: &[f64], output: f64) -> Option<Partials> {
        let (a, aa) = self.derivatives(inputs[0], output);
        Some(Partials { a, aa, ..Partials::default() })
    }

    fn elementwise(&self) -> Option<crate::rule::Elementwise> {
        Some(crate::rule::Elementwise::Unary(*self))
    }

    fn scalar_value(&self, inputs: &[f64]) -> Option<f64> {
        Some(self.value(inputs[0]))
    }

    fn vjp(&self, site: &Site, out_adj: &[f64], needs: &[bool]) -> Vec<Option<Vec<f64>>> {
        if !needs[0] {
            return vec![None];
        }
        let (x, y) = (&site.inputs[0].data, &site.output.data);
        vec![Some((0..x.len()).map(|i| self.derivatives(x[i], y[i]).0 * out_adj[i]).collect())]
    }

    fn jvp(&self, site: &Site, tangents: &[Option<&Batch>], dirs: usize) -> Option<Batch> {
        let t = tangents[0]?;
        let (x, y) = (&site.inputs[0].data, &site.output.data);
        let d1: Vec<f64> = (0..x.len()).map(|i| self.derivatives(x[i], y[i]).0).collect();
        let mut out = Batch::zeros(x.len(), dirs);
        for k in 0..dirs {
            for ((o, &t), &d) in out.col_mut(k).iter_mut().zip(t.col(k)).zip(&d1) {
                *o = d * t;
            }
        }
        Some(out)
    }

    fn vjp_dot(
        &self,
        site: &Site,
        tangents: &[Option<&Batch>],
        out_adj: &[f64],
        out_adj_dot: Option<&Batch>,
        needs: &[bool],
        dirs: usize,
    ) -> Vec<Option<Batch>> {
        if !needs[0] {
            return vec![None];
        }
        let (x, y) = (&site.inputs[0].data, &site.output.data);
        let n = x.len();
        let derivs: Vec<(f64, f64)> = (0..n).map(|i| self.derivatives(x[i], y[i])).collect();
        let mut out = Batch::zeros(n, dirs);
        for k in 0..dirs {
            let col = out.col_mut(k);
            if let Some(yd) = out_adj_dot {
                for ((o, &(d1, _)), &ydi) in col.iter_mut().zip(&derivs).zip(yd.col(k)) {
                    *o += d1 * ydi;
                }
            }
            if let Some(t) = tangents[0] {
                for (((o, &(_, d2)), &ti), &yi) in col.iter_mut().zip(&derivs).zip(t.col(k)).zip(out_adj) {
                    *o += d2 * ti * yi;
                }
            }
        }
        vec![Some(out)]
    }
}
