//! `reg:squarederror`: half the squared error; the base margin is the weighted mean label.

use super::{Loss, metric, weighted_mean};
use crate::data::ClassLabels;
use crate::error::Result;

/// `reg:squarederror`.
pub(crate) struct SquaredError;

impl Loss for SquaredError {
    fn base_margin(&self, y: &[f64], w: &[f64], _outputs: usize) -> Vec<f64> {
        vec![weighted_mean(y, w)]
    }

    fn grad_hess(&self, m: f64, y: f64) -> (f32, f32) {
        ((m - y) as f32, 1.0)
    }

    fn default_metric(
        &self,
        margin: &[f64],
        y: ndarray::ArrayView1<'_, f32>,
        _: usize,
        _: Option<&ClassLabels>,
    ) -> Result<f64> {
        Ok(metric::rmse(margin, y))
    }
}
