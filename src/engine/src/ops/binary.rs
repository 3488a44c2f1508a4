//! Elementwise functions of two arguments, with R-style strict broadcasting
//! (see `Broadcast`). Each function states its value and its partial
//! derivatives up to second order in one place; the rules follow:
//!   vjp:      abar     += g_a zbar                  (summed where a is broadcast)
//!   jvp:      zdot      = g_a adot + g_b bdot
//!   vjp_dot:  abar_dot += g_a zbar_dot + zbar (g_aa adot + g_ab bdot)
//!             bbar_dot += g_b zbar_dot + zbar (g_ab adot + g_bb bdot)
//!   as operations (`jvp_graph`): the same g_a adot + g_b bdot, with the
//!   partials written with the engine's operations (see `tangent_term`).

use std::rc::Rc;

use crate::batch::Batch;
use crate::hessian_pattern::{element, empty, union, Dependence, Pairs, Set};
use crate::record::{binary, unary};
use crate::rule::{Partials, Rule, Site};
use crate::tape::{Operand, Var};
use crate::tensor::{Broadcast, Tensor};
use crate::Result;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Binary {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
}

impl Binary {
    pub fn from_name(name: &str) -> Option<Binary> {
        Some(match name {
            "+" => Binary::Add,
            "-" => Binary::Sub,
            "*" => Binary::Mul,
            "/" => Binary::Div,
            "^" => Binary::Pow,
            _ => return None,
        })
    }

    pub fn value(self, a: f64, b: f64) -> f64 {
        match self {
            Binary::Add => a + b,
            Binary::Sub => a - b,
            Binary::Mul => a * b,
            Binary::Div => a / b,
            Binary::Pow => pow(a, b),
        }
    }

    /// The partials at (a, b) with z = g(a, b). Those with respect to b of
    /// a^b involve log(a); they are only used when b is not a constant.
    pub fn partials(self, a: f64, b: f64, z: f64) -> Partials {
        match self {
            Binary::Add => Partials { a: 1.0, b: 1.0, aa: 0.0, ab: 0.0, bb: 0.0 },
            Binary::Sub => Partials { a: 1.0, b: -1.0, aa: 0.0, ab: 0.0, bb: 0.0 },
            Binary::Mul => Partials { a: b, b: a, aa: 0.0, ab: 1.0, bb: 0.0 },
            Binary::Div => {
                let r = 1.0 / b;
                Partials { a: r, b: -a * r * r, aa: 0.0, ab: -r * r, bb: 2.0 * a * r * r * r }
            }
            Binary::Pow => {
                let la = a.ln();
                // x^2, the usual square, without calling pow(): x^1 and x^0
                // are exactly x and 1
                let (a_bm1, a_bm2) = if b == 2.0 { (a, 1.0) } else { (pow(a, b - 1.0), pow(a, b - 2.0)) };
                // A zero coefficient makes its term zero, also where the
                // power is infinite (x^0 and x^1 at x = 0: derivatives 0
                // and 1, second derivatives 0), as the polynomial's are.
                let times = |c: f64, p: f64| if c == 0.0 { 0.0 } else { c * p };
                Partials {
                    a: times(b, a_bm1),
                    b: z * la,
                    aa: times(b * (b - 1.0), a_bm2),
                    ab: a_bm1 * (1.0 + b * la),
                    bb: z * la * la,
                }
            }
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Binary::Add => "+",
            Binary::Sub => "-",
            Binary::Mul => "*",
            Binary::Div => "/",
            Binary::Pow => "^",
        }
    }
}

/// R's `^` (R_pow): x^2 is x * x, every other power is the C library's
/// pow(), which is correctly rounded and defines integer powers of negative
/// bases and x^0 = 1. Repeated multiplication (powi) is not: it lost 9e-8
/// relative accuracy at 1.00000001^2e9 and underflowed 2^-1074 to 0 by
/// forming 1 / 2^1074.
fn pow(a: f64, b: f64) -> f64 {
    if b == 2.0 {
        a * a
    } else {
        a.powf(b)
    }
}

impl Binary {
    fn layout<'a>(&self, site: &Site<'a>) -> (Broadcast, &'a [f64], &'a [f64]) {
        let (a, b) = (site.inputs[0], site.inputs[1]);
        let (_, bc) = Broadcast::of(self.label(), &a.shape, &b.shape).expect("shapes were checked in forward");
        (bc, &a.data, &b.data)
    }

    /// The layout and each output element's partials, computed once for
    /// all directions.
    fn elementwise_partials(&self, site: &Site) -> (Broadcast, Vec<Partials>) {
        let (bc, a, b) = self.layout(site);
        let z = &site.output.data;
        let partials = (0..bc.len).map(|i| self.partials(a[bc.ia(i)], b[bc.ib(i)], z[i])).collect();
        (bc, partials)
    }
}

/// Where an input's adjoint terms go: its entry at each element's
/// position, or, for an input broadcast from a scalar, its one entry, with
/// the terms summed in a register (in the same order) rather than through
/// memory, where each addition would wait for the one before.
struct AdjointSink<'a> {
    out: Option<&'a mut [f64]>,
    scalar: bool,
    sum: f64,
}

impl<'a> AdjointSink<'a> {
    fn new(out: Option<&'a mut [f64]>, scalar: bool) -> AdjointSink<'a> {
        AdjointSink { out, scalar, sum: 0.0 }
    }
    #[inline]
    fn wanted(&self) -> bool {
        self.out.is_some()
    }
    #[inline]
    fn add(&mut self, i: usize, x: f64) {
        if self.scalar {
            self.sum += x;
        } else if let Some(out) = self.out.as_mut() {
            out[i] += x;
        }
    }
    fn finish(self) {
        if let (true, Some(out)) = (self.scalar, self.out) {
            out[0] += self.sum;
        }
    }
}

/// log(a) for the tangent of a^b along b: a value, or a plain number
/// when a is one.
fn log_of(a: &Operand) -> Result<Operand> {
    Ok(match a {
        Operand::Var(v) => Operand::Var(unary("log", v)?),
        Operand::Scalar(x) => Operand::Scalar(x.ln()),
    })
}

impl Binary {
    /// g_a adot (`wrt_a`) or g_b bdot recorded with operations, given the
    /// inputs a, b, the output z and the tangent t. `None` where the term
    /// is zero (x^0 along x). Its shape broadcasts to z's (for + and -
    /// a scalar's tangent stays a scalar: the sweep lays it out).
    fn tangent_term(self, a: &Operand, b: &Operand, z: &Var, t: &Var, wrt_a: bool) -> Result<Option<Var>> {
        let term = match (self, wrt_a) {
            (Binary::Add, _) | (Binary::Sub, true) => t.clone(),
            (Binary::Sub, false) => unary("neg", t)?,
            (Binary::Mul, true) => binary("*", t, b.clone())?,
            (Binary::Mul, false) => binary("*", a.clone(), t)?,
            (Binary::Div, true) => binary("/", t, b.clone())?,
            // d(a / b)/db = -a / b^2 = -z / b.
            (Binary::Div, false) => unary("neg", &binary("/", &binary("*", z, t)?, b.clone())?)?,
            // b a^(b - 1); a constant exponent stays a plain number, and a
            // zero one gives no term (as the numeric rule, where a^-1 may
            // be infinite).
            (Binary::Pow, true) => match b {
                Operand::Scalar(e) if *e == 0.0 => return Ok(None),
                Operand::Scalar(e) => binary("*", &binary("*", &binary("^", a.clone(), e - 1.0)?, *e)?, t)?,
                // An exponent that is a value: b a^(b - 1) as it stands, so
                // a zero exponent at a zero base gives 0 * Inf = NaN there
                // (the numeric rule's 0); it stays right when b moves.
                Operand::Var(e) => {
                    let slope = binary("*", e, &binary("^", a.clone(), &binary("-", e, 1.0)?)?)?;
                    binary("*", &slope, t)?
                }
            },
            // z log(a).
            (Binary::Pow, false) => binary("*", &binary("*", z, log_of(a)?)?, t)?,
        };
        Ok(Some(term))
    }
}

impl Rule for Binary {
    fn name(&self) -> &'static str {
        self.label()
    }

    /// a + b and a - b couple nothing, a * b couples a with b (g_ab), a / b
    /// also b with itself (g_bb), a^b everything (g_aa, g_ab, g_bb).
    fn dependence(&self, site: &Site, inputs: &[Option<&[Set]>], _fixed: &[bool], pairs: &mut Pairs) -> Dependence {
        let none = [empty()];
        let a = inputs[0].unwrap_or(&none);
        let b = inputs[1].unwrap_or(&none);
        let mut out = Vec::with_capacity(site.output.numel());
        for k in 0..site.output.numel() {
            let (sa, sb) = (element(a, k), element(b, k));
            match self {
                Binary::Add | Binary::Sub => {}
                Binary::Mul => pairs.product(sa, sb),
                Binary::Div => {
                    pairs.product(sa, sb);
                    pairs.square(sb);
                }
                Binary::Pow => pairs.square(&union([sa, sb])),
            }
            out.push(if sb.is_empty() {
                Rc::clone(sa)
            } else if sa.is_empty() {
                Rc::clone(sb)
            } else {
                union([sa, sb])
            });
        }
        Some(out)
    }

    fn jvp_graph(&self, inputs: &[Operand], output: &Var, tangents: &[Option<Var>]) -> Result<Option<Var>> {
        let (a, b) = (&inputs[0], &inputs[1]);
        let from_a = match &tangents[0] {
            Some(t) => self.tangent_term(a, b, output, t, true)?,
            None => None,
        };
        let from_b = match &tangents[1] {
            Some(t) => self.tangent_term(a, b, output, t, false)?,
            None => None,
        };
        match (from_a, from_b) {
            (Some(x), Some(y)) => binary("+", &x, &y).map(Some),
            (x, y) => Ok(x.or(y)),
        }
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let (a, b) = (inputs[0], inputs[1]);
        if a.is_scalar() && b.is_scalar() && !a.shape.is_matrix() && !b.shape.is_matrix() {
            return Ok(Tensor::scalar(self.value(a.data[0], b.data[0])));
        }
        let (shape, bc) = Broadcast::of(self.label(), &a.shape, &b.shape)?;
        let data = (0..bc.len).map(|i| self.value(a.data[bc.ia(i)], b.data[bc.ib(i)])).collect();
        Ok(Tensor { shape, data })
    }

    fn scalar_partials(&self, inputs: &[f64], output: f64) -> Option<Partials> {
        Some(self.partials(inputs[0], inputs[1], output))
    }

    fn elementwise(&self) -> Option<crate::rule::Elementwise> {
        Some(crate::rule::Elementwise::Binary(*self))
    }

    fn scalar_value(&self, inputs: &[f64]) -> Option<f64> {
        Some(self.value(inputs[0], inputs[1]))
    }

    fn vjp(&self, site: &Site, out_adj: &[f64], needs: &[bool]) -> Vec<Option<Vec<f64>>> {
        let (bc, a, b) = self.layout(site);
        let z = &site.output.data;
        let mut abar = needs[0].then(|| vec![0.0; a.len()]);
        let mut bbar = needs[1].then(|| vec![0.0; b.len()]);
        let mut into_a = AdjointSink::new(abar.as_deref_mut(), bc.a_scalar);
        let mut into_b = AdjointSink::new(bbar.as_deref_mut(), bc.b_scalar);
        for i in 0..bc.len {
            let (ia, ib) = (bc.ia(i), bc.ib(i));
            let g = self.partials(a[ia], b[ib], z[i]);
            if into_a.wanted() {
                into_a.add(ia, g.a * out_adj[i]);
            }
            if into_b.wanted() {
                into_b.add(ib, g.b * out_adj[i]);
            }
        }
        into_a.finish();
        into_b.finish();
        vec![abar, bbar]
    }

    fn jvp(&self, site: &Site, tangents: &[Option<&Batch>], dirs: usize) -> Option<Batch> {
        let (bc, partials) = self.elementwise_partials(site);
        let mut out = Batch::zeros(bc.len, dirs);
        // direction by direction, each a contiguous column (the same sums
        // in the same order as element by element)
        for k in 0..dirs {
            let (ta, tb) = (tangents[0].map(|t| t.col(k)), tangents[1].map(|t| t.col(k)));
            for (i, (o, g)) in out.col_mut(k).iter_mut().zip(&partials).enumerate() {
                let mut v = 0.0;
                if let Some(ta) = ta {
                    v += g.a * ta[bc.ia(i)];
                }
                if let Some(tb) = tb {
                    v += g.b * tb[bc.ib(i)];
                }
                *o = v;
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
        let (bc, partials) = self.elementwise_partials(site);
        let (na, nb) = (site.inputs[0].numel(), site.inputs[1].numel());
        let mut abar = needs[0].then(|| Batch::zeros(na, dirs));
        let mut bbar = needs[1].then(|| Batch::zeros(nb, dirs));
        // direction by direction (each entry receives its terms in the same
        // order as element by element)
        for k in 0..dirs {
            let zd_col = out_adj_dot.map(|t| t.col(k));
            let (ta, tb) = (tangents[0].map(|t| t.col(k)), tangents[1].map(|t| t.col(k)));
            let mut into_a = AdjointSink::new(abar.as_mut().map(|m| m.col_mut(k)), bc.a_scalar);
            let mut into_b = AdjointSink::new(bbar.as_mut().map(|m| m.col_mut(k)), bc.b_scalar);
            for (i, (g, &zbar)) in partials.iter().zip(out_adj).enumerate() {
                let (ia, ib) = (bc.ia(i), bc.ib(i));
                let zd = zd_col.map_or(0.0, |t| t[i]);
                let ad = ta.map(|t| t[ia]);
                let bd = tb.map(|t| t[ib]);
                // Terms with a zero tangent are skipped, not multiplied by
                // zero: a partial may be NaN there (log of a negative base).
                let curvature = |with_a: f64, with_b: f64| {
                    ad.map_or(0.0, |d| with_a * d) + bd.map_or(0.0, |d| with_b * d)
                };
                if into_a.wanted() {
                    into_a.add(ia, g.a * zd + zbar * curvature(g.aa, g.ab));
                }
                if into_b.wanted() {
                    into_b.add(ib, g.b * zd + zbar * curvature(g.ab, g.bb));
                }
            }
            into_a.finish();
            into_b.finish();
        }
        vec![abar, bbar]
    }
}
