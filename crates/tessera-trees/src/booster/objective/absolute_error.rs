//! `reg:absoluteerror`: the absolute error; the base margin is the weighted median label, and each leaf
//! is refitted to the weighted median residual of its rows (XGBoost's adaptive tree).

use super::{Loss, MarginMetric, metric};
use crate::stats::weighted_quantile;

/// `reg:absoluteerror`.
pub(crate) struct AbsoluteError;

impl Loss for AbsoluteError {
    fn base_margin(&self, y: &[f64], w: &[f64], _outputs: usize) -> Vec<f64> {
        vec![weighted_quantile(&mut y.iter().copied().zip(w.iter().copied()).collect::<Vec<_>>(), 0.5)]
    }

    fn xgboost_objective(&self, _outputs: usize) -> serde_json::Value {
        serde_json::json!({"name": "reg:absoluteerror"})
    }

    fn grad_hess(&self, m: f64, y: f64) -> (f32, f32) {
        ((m - y).signum() as f32, 1.0)
    }

    fn refits_leaves(&self) -> bool {
        true
    }

    fn margin_metric(&self) -> Option<MarginMetric> {
        Some(metric::mae)
    }
}
