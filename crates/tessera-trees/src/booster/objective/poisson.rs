//! `count:poisson`: the Poisson negative log likelihood on a log margin; labels must be non-negative, the
//! hessian carries `max_delta_step` (XGBoost's default 0.7 for this objective), and a `base_score` is a
//! mean count.

use super::{Loss, MarginMetric, metric, weighted_mean};
use crate::error::{Error, Result};

/// `count:poisson`.
pub(crate) struct Poisson {
    /// The resolved `max_delta_step`.
    pub max_delta_step: f64,
}

impl Loss for Poisson {
    fn check_labels(&self, y: ndarray::ArrayView1<'_, f32>) -> Result<()> {
        if y.iter().any(|&v| v < 0.0) {
            return Err(Error::Data("count:poisson needs non-negative labels".into()));
        }
        Ok(())
    }

    fn margin_of_score(&self, score: f64, _outputs: usize) -> Vec<f64> {
        vec![score.ln()]
    }

    fn base_margin(&self, y: &[f64], w: &[f64], _outputs: usize) -> Vec<f64> {
        vec![weighted_mean(y, w).max(1e-6).ln()]
    }

    fn xgboost_objective(&self, _outputs: usize) -> serde_json::Value {
        serde_json::json!({"name": "count:poisson", "poisson_regression_param": {"max_delta_step": "0.699999988"}})
    }

    fn score_of_margin(&self, m: f64) -> f64 {
        m.exp()
    }

    /// The mean count, `exp(margin)`.
    fn transform(&self, margin: &ndarray::Array2<f32>) -> ndarray::Array2<f32> {
        margin.mapv(f32::exp)
    }

    fn grad_hess(&self, m: f64, y: f64) -> (f32, f32) {
        ((m.exp() - y) as f32, (m + self.max_delta_step).exp() as f32)
    }

    fn margin_metric(&self) -> Option<MarginMetric> {
        Some(metric::poisson_nloglik)
    }
}
