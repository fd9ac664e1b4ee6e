//! `reg:pseudohubererror`: the pseudo-Huber loss with slope `delta`, `delta^2 (sqrt(1 + (z/delta)^2) - 1)`.

use super::{Loss, MarginMetric, metric, weighted_mean};

/// `reg:pseudohubererror` with `huber_slope`.
pub(crate) struct PseudoHuber {
    /// The slope (delta).
    pub slope: f64,
}

impl Loss for PseudoHuber {
    fn base_margin(&self, y: &[f64], w: &[f64], _outputs: usize) -> Vec<f64> {
        vec![weighted_mean(y, w)]
    }

    fn xgboost_objective(&self, _outputs: usize) -> serde_json::Value {
        serde_json::json!({"name": "reg:pseudohubererror", "pseudo_huber_param": {"huber_slope": self.slope.to_string()}})
    }

    fn grad_hess(&self, m: f64, y: f64) -> (f32, f32) {
        let slope = self.slope;
        let z = m - y;
        let scale = (1.0 + (z / slope).powi(2)).sqrt();
        ((z / scale) as f32, (slope * slope / ((slope * slope + z * z) * scale)) as f32)
    }

    fn margin_metric(&self) -> Option<MarginMetric> {
        Some(metric::rmse)
    }
}
