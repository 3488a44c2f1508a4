//! Whole-graph derivatives: gradient, Hessian, Hessian-vector product and
//! Jacobian of a recorded output with respect to a list of leaf values, and
//! the directional derivative recorded as a value (internal for now).

use extendr_api::prelude::*;
use extendr_api::Result;
use femtograd_engine::backward::value_and_gradient;
use femtograd_engine::batch::Batch;
use femtograd_engine::directional::directional_derivative;
use femtograd_engine::second_order::{jacobian, second_order};

use crate::convert::{operand_from_r, r_error, var_from_r, var_to_r, vars_from_r};

#[extendr]
fn fg_gradient(root: Robj, params: List) -> Result<Robj> {
    let (value, gradient) = value_and_gradient(&var_from_r(&root)?, &vars_from_r(&params)?).map_err(r_error)?;
    Ok(list!(value = value, gradient = gradient).into())
}

// value, gradient and the p x p Hessian (column-major, as an R matrix).
#[extendr]
fn fg_hessian(root: Robj, params: List) -> Result<Robj> {
    let so = second_order(&var_from_r(&root)?, &vars_from_r(&params)?, None).map_err(r_error)?;
    let p = so.gradient.len();
    let hessian = RMatrix::new_matrix(p, p, |i, j| so.hessian_times.col(j)[i]);
    Ok(list!(value = so.value, gradient = so.gradient, hessian = hessian).into())
}

// H v without forming H: one tangent direction through the same sweeps.
#[extendr]
fn fg_hessian_vector(root: Robj, params: List, v: &[f64]) -> Result<Robj> {
    let direction = Batch::from_data(v.len(), 1, v.to_vec());
    let so = second_order(&var_from_r(&root)?, &vars_from_r(&params)?, Some(&direction)).map_err(r_error)?;
    Ok(list!(value = so.value, gradient = so.gradient, hessian_vector = so.hessian_times.into_data()).into())
}

// H D for the columns of a p x k matrix D, in one batch of k directions.
#[extendr]
fn fg_hessian_times(root: Robj, params: List, directions: RMatrix<f64>) -> Result<Robj> {
    let (rows, dirs) = (directions.nrows(), directions.ncols());
    let batch = Batch::from_data(rows, dirs, directions.data().to_vec());
    let so = second_order(&var_from_r(&root)?, &vars_from_r(&params)?, Some(&batch)).map_err(r_error)?;
    let p = so.gradient.len();
    let times = RMatrix::new_matrix(p, dirs, |i, j| so.hessian_times.col(j)[i]);
    Ok(list!(value = so.value, gradient = so.gradient, hessian_times = times).into())
}

#[extendr]
fn fg_jacobian(root: Robj, params: List) -> Result<Robj> {
    let j = jacobian(&var_from_r(&root)?, &vars_from_r(&params)?).map_err(r_error)?;
    let (m, p) = j.shape.as_matrix();
    Ok(RMatrix::new_matrix(m, p, |i, k| j.data[i + k * m]).into())
}

// D root[direction] recorded on root's tape as a value, which every
// derivative can differentiate again (third and fourth derivatives);
// `direction` holds one value or plain numbers per parameter.
#[extendr]
fn fg_directional_derivative(root: Robj, params: List, direction: List) -> Result<Robj> {
    let direction = direction.values().map(|d| operand_from_r(&d)).collect::<Result<Vec<_>>>()?;
    let d = directional_derivative(&var_from_r(&root)?, &vars_from_r(&params)?, &direction).map_err(r_error)?;
    Ok(var_to_r(&d, Some(&root)))
}

extendr_module! {
    mod derivatives;
    fn fg_directional_derivative;
    fn fg_gradient;
    fn fg_hessian;
    fn fg_hessian_vector;
    fn fg_hessian_times;
    fn fg_jacobian;
}
