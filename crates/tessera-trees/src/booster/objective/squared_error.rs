//! `reg:squarederror`: half the squared error; the base margin is the weighted mean label.

use super::{Loss, MarginMetric, metric, weighted_mean};

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

    fn margin_metric(&self) -> Option<MarginMetric> {
        Some(metric::rmse)
    }
}
