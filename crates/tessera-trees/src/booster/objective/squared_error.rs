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

    fn xgboost_objective(&self, _outputs: usize) -> serde_json::Value {
        serde_json::json!({"name": "reg:squarederror", "reg_loss_param": {"scale_pos_weight": "1"}})
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
