//! Nonlinear reductions to a scalar: prod and logsumexp. Their tangents as
//! operations: sum(e * xdot) with e_i = prod_{j != i} x_j (each a product
//! of the other elements, so zeros need no division), and
//! sum(exp(x - y) * xdot) with y = logsumexp(x).

use crate::batch::Batch;
use crate::record;
use crate::rule::{input_value, Rule, Site};
use crate::tape::{Operand, Var};
use crate::tensor::{Shape, Tensor};
use crate::{bail, Result};

/// The longest vector whose product has a tangent as operations: the
/// exclusive products take n - 1 numbers each, n^2 in all.
const PROD_GRAPH_MAX: usize = 4096;

/// prod(x). The partials e_i = prod_{j != i} x_j come from prefix and
/// suffix products, so zeros in x are handled exactly (no division).
#[derive(Debug)]
pub struct Prod;

/// e_i = prod_{j != i} x_j and, per direction, its derivative along xdot.
fn exclusive_products(x: &[f64], xdot: Option<&[f64]>) -> (Vec<f64>, Vec<f64>) {
    let n = x.len();
    // prefix[i] = prod_{j < i} x_j (with its tangent); suffix likewise.
    let (mut pre, mut pre_d) = (vec![1.0; n + 1], vec![0.0; n + 1]);
    let (mut suf, mut suf_d) = (vec![1.0; n + 1], vec![0.0; n + 1]);
    for i in 0..n {
        let d = xdot.map_or(0.0, |t| t[i]);
        pre[i + 1] = pre[i] * x[i];
        pre_d[i + 1] = pre_d[i] * x[i] + pre[i] * d;
    }
    for i in (0..n).rev() {
        let d = xdot.map_or(0.0, |t| t[i]);
        suf[i] = suf[i + 1] * x[i];
        suf_d[i] = suf_d[i + 1] * x[i] + suf[i + 1] * d;
    }
    let e = (0..n).map(|i| pre[i] * suf[i + 1]).collect();
    let e_dot = (0..n).map(|i| pre_d[i] * suf[i + 1] + pre[i] * suf_d[i + 1]).collect();
    (e, e_dot)
}

impl Rule for Prod {
    fn name(&self) -> &'static str {
        "prod"
    }
    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        Ok(Tensor::scalar(inputs[0].data.iter().product()))
    }
    fn jvp_graph(&self, inputs: &[Operand], _output: &Var, tangents: &[Option<Var>]) -> Result<Option<Var>> {
        let Some(t) = &tangents[0] else { return Ok(None) };
        let x = input_value("prod", &inputs[0])?;
        let n = x.value().numel();
        if n == 0 {
            return Ok(None);
        }
        if n > PROD_GRAPH_MAX {
            bail!(
                "prod: no forward-mode rule as operations for {n} elements (its cost grows as n^2; \
                 at most {PROD_GRAPH_MAX}); write the product of positive numbers as exp(sum(log(x)))"
            );
        }
        let exclusive = (0..n)
            .map(|i| record::prod(&record::gather(x, (0..n).filter(|&j| j != i).collect())?))
            .collect::<Result<Vec<Var>>>()?;
        let e = record::concat(&exclusive, Shape::vector(n))?;
        record::sum(&record::binary("*", &e, t)?).map(Some)
    }

    fn vjp(&self, site: &Site, out_adj: &[f64], needs: &[bool]) -> Vec<Option<Vec<f64>>> {
        if !needs[0] {
            return vec![None];
        }
        let (e, _) = exclusive_products(&site.inputs[0].data, None);
        vec![Some(e.iter().map(|v| v * out_adj[0]).collect())]
    }
    fn jvp(&self, site: &Site, tangents: &[Option<&Batch>], dirs: usize) -> Option<Batch> {
        let t = tangents[0]?;
        let (e, _) = exclusive_products(&site.inputs[0].data, None);
        let mut out = Batch::zeros(1, dirs);
        for k in 0..dirs {
            out.data[k] = e.iter().zip(t.col(k)).map(|(a, b)| a * b).sum();
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
        let x = &site.inputs[0].data;
        let mut out = Batch::zeros(x.len(), dirs);
        for k in 0..dirs {
            let (e, e_dot) = exclusive_products(x, tangents[0].map(|t| t.col(k)));
            let yd = out_adj_dot.map_or(0.0, |t| t.data[k]);
            for (i, o) in out.col_mut(k).iter_mut().enumerate() {
                *o = e[i] * yd + out_adj[0] * e_dot[i];
            }
        }
        vec![Some(out)]
    }
}

/// log(sum(exp(x))), shifted by max(x) so it neither overflows nor
/// underflows. Its gradient is softmax(x) = s, its Hessian diag(s) - s s'.
#[derive(Debug)]
pub struct LogSumExp;

fn softmax(x: &[f64], lse: f64) -> Vec<f64> {
    x.iter().map(|v| (v - lse).exp()).collect()
}

impl Rule for LogSumExp {
    fn name(&self) -> &'static str {
        "logsumexp"
    }
    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let x = &inputs[0].data;
        if x.is_empty() {
            bail!("logsumexp: the argument has no elements");
        }
        let m = x.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        if !m.is_finite() {
            // all -Inf gives -Inf; any +Inf gives +Inf; NaN propagates.
            return Ok(Tensor::scalar(if x.iter().any(|v| v.is_nan()) { f64::NAN } else { m }));
        }
        Ok(Tensor::scalar(m + x.iter().map(|v| (v - m).exp()).sum::<f64>().ln()))
    }
    fn jvp_graph(&self, inputs: &[Operand], output: &Var, tangents: &[Option<Var>]) -> Result<Option<Var>> {
        let Some(t) = &tangents[0] else { return Ok(None) };
        let x = input_value("logsumexp", &inputs[0])?;
        let softmax = record::unary("exp", &record::binary("-", x, output)?)?;
        record::sum(&record::binary("*", &softmax, t)?).map(Some)
    }

    fn vjp(&self, site: &Site, out_adj: &[f64], needs: &[bool]) -> Vec<Option<Vec<f64>>> {
        if !needs[0] {
            return vec![None];
        }
        let s = softmax(&site.inputs[0].data, site.output.data[0]);
        vec![Some(s.iter().map(|v| v * out_adj[0]).collect())]
    }
    fn jvp(&self, site: &Site, tangents: &[Option<&Batch>], dirs: usize) -> Option<Batch> {
        let t = tangents[0]?;
        let s = softmax(&site.inputs[0].data, site.output.data[0]);
        let mut out = Batch::zeros(1, dirs);
        for k in 0..dirs {
            out.data[k] = s.iter().zip(t.col(k)).map(|(a, b)| a * b).sum();
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
        let s = softmax(&site.inputs[0].data, site.output.data[0]);
        let mut out = Batch::zeros(s.len(), dirs);
        for k in 0..dirs {
            let yd = out_adj_dot.map_or(0.0, |t| t.data[k]);
            let td = tangents[0].map(|t| t.col(k));
            let s_dot_t = td.map_or(0.0, |t| s.iter().zip(t).map(|(a, b)| a * b).sum());
            for (i, o) in out.col_mut(k).iter_mut().enumerate() {
                let curvature = td.map_or(0.0, |t| s[i] * (t[i] - s_dot_t));
                *o = s[i] * yd + out_adj[0] * curvature;
            }
        }
        vec![Some(out)]
    }
}
