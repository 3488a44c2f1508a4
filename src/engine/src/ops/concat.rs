//! Concatenation: the numbers of several inputs, one after another, as one
//! vector or matrix. With `Gather` it writes every rearrangement that mixes
//! values: c(), cbind() (a column-major matrix is its columns in order),
//! rbind(), x[i] <- v, ifelse(), pmax(). It is linear in all its inputs at
//! once, so each input's adjoint is its slice of the output's adjoint, and
//! the second-order rule passes the adjoint's derivative back the same way.
//! Its tangent as operations is the concatenation of the inputs' tangents
//! (zeros for an input that does not move).

use std::rc::Rc;

use crate::batch::Batch;
use crate::hessian_pattern::{empty, Dependence, Pairs, Set};
use crate::record;
use crate::rule::{input_value, Rule, Site};
use crate::tape::{Operand, Var};
use crate::tensor::{Shape, Tensor};
use crate::{bail, Result};

#[derive(Debug)]
pub struct Concat {
    shape: Shape,
}

impl Concat {
    /// The result's shape: its numbers are the inputs' numbers in order.
    pub fn new(shape: Shape) -> Self {
        Concat { shape }
    }

    /// Where each input's numbers start in the output.
    fn offsets(site: &Site) -> Vec<usize> {
        site.inputs
            .iter()
            .scan(0, |start, x| {
                let here = *start;
                *start += x.numel();
                Some(here)
            })
            .collect()
    }

    /// Each input's slice of an output-sized column.
    fn slices(site: &Site, column: &[f64], needs: &[bool]) -> Vec<Option<Vec<f64>>> {
        Concat::offsets(site)
            .into_iter()
            .zip(site.inputs)
            .zip(needs)
            .map(|((start, x), &need)| need.then(|| column[start..start + x.numel()].to_vec()))
            .collect()
    }
}

impl Rule for Concat {
    fn name(&self) -> &'static str {
        "c"
    }

    fn dependence(&self, site: &Site, inputs: &[Option<&[Set]>], _fixed: &[bool], _pairs: &mut Pairs) -> Dependence {
        let none = empty();
        let mut out = Vec::with_capacity(site.output.numel());
        for (value, deps) in site.inputs.iter().zip(inputs) {
            match deps {
                Some(d) => out.extend(d.iter().cloned()),
                None => out.extend((0..value.numel()).map(|_| Rc::clone(&none))),
            }
        }
        Some(out)
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let total: usize = inputs.iter().map(|x| x.numel()).sum();
        if total != self.shape.numel() {
            bail!("c: a {} result needs {}, the inputs hold {total}", self.shape, crate::error::count_of(self.shape.numel(), "number"));
        }
        let mut data = Vec::with_capacity(total);
        for x in inputs {
            data.extend_from_slice(&x.data);
        }
        Tensor::new(self.shape, data)
    }

    fn vjp(&self, site: &Site, out_adj: &[f64], needs: &[bool]) -> Vec<Option<Vec<f64>>> {
        Concat::slices(site, out_adj, needs)
    }

    fn jvp_graph(&self, inputs: &[Operand], _output: &Var, tangents: &[Option<Var>]) -> Result<Option<Var>> {
        if tangents.iter().all(Option::is_none) {
            return Ok(None);
        }
        let parts = inputs
            .iter()
            .zip(tangents)
            .map(|(input, t)| match t {
                Some(t) => Ok(t.clone()),
                None => {
                    let shape = input_value("c", input)?.value().shape;
                    Ok(Var::constant(Tensor::new(shape, vec![0.0; shape.numel()])?))
                }
            })
            .collect::<Result<Vec<Var>>>()?;
        record::concat(&parts, self.shape).map(Some)
    }

    fn jvp(&self, site: &Site, tangents: &[Option<&Batch>], dirs: usize) -> Option<Batch> {
        if tangents.iter().all(Option::is_none) {
            return None;
        }
        let mut out = Batch::zeros(site.output.numel(), dirs);
        for ((start, x), t) in Concat::offsets(site).into_iter().zip(site.inputs).zip(tangents) {
            if let Some(t) = t {
                for k in 0..dirs {
                    out.col_mut(k)[start..start + x.numel()].copy_from_slice(t.col(k));
                }
            }
        }
        Some(out)
    }

    fn vjp_dot(
        &self,
        site: &Site,
        _tangents: &[Option<&Batch>],
        _out_adj: &[f64],
        out_adj_dot: Option<&Batch>,
        needs: &[bool],
        dirs: usize,
    ) -> Vec<Option<Batch>> {
        let Some(yd) = out_adj_dot else { return vec![None; site.inputs.len()] };
        Concat::offsets(site)
            .into_iter()
            .zip(site.inputs)
            .zip(needs)
            .map(|((start, x), &need)| {
                need.then(|| {
                    let mut out = Batch::zeros(x.numel(), dirs);
                    for k in 0..dirs {
                        out.col_mut(k).copy_from_slice(&yd.col(k)[start..start + x.numel()]);
                    }
                    out
                })
            })
            .collect()
    }
}
