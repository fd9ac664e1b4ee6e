//! `binary:logistic`: the log loss of two classes on a logit margin; the base margin is the logit of the
//! weighted positive rate, and a `base_score` is a probability.

use super::{Loss, weighted_mean};
use crate::stats::sigmoid;

/// `binary:logistic`.
pub(crate) struct Logistic;

impl Loss for Logistic {
    fn classifies(&self) -> bool {
        true
    }

    fn check_classes(&self, n_classes: usize) -> crate::Result<()> {
        if n_classes != 2 {
            return Err(crate::Error::Data(format!("binary:logistic needs two classes, found {n_classes}")));
        }
        Ok(())
    }

    fn margin_of_score(&self, score: f64, _outputs: usize) -> Vec<f64> {
        vec![(score / (1.0 - score)).ln()]
    }

    fn base_margin(&self, y: &[f64], w: &[f64], _outputs: usize) -> Vec<f64> {
        let m = weighted_mean(y, w).clamp(1e-6, 1.0 - 1e-6);
        vec![(m / (1.0 - m)).ln()]
    }

    fn xgboost_objective(&self, _outputs: usize) -> serde_json::Value {
        serde_json::json!({"name": "binary:logistic", "reg_loss_param": {"scale_pos_weight": "1"}})
    }

    fn score_of_margin(&self, m: f64) -> f64 {
        1.0 / (1.0 + (-m).exp())
    }

    /// Two columns: the probabilities of class 0 and class 1.
    fn transform(&self, margin: &ndarray::Array2<f32>) -> ndarray::Array2<f32> {
        let mut out = ndarray::Array2::<f32>::zeros((margin.nrows(), 2));
        for (i, m) in margin.column(0).iter().enumerate() {
            let p1 = sigmoid(f64::from(*m)) as f32;
            out[[i, 0]] = 1.0 - p1;
            out[[i, 1]] = p1;
        }
        out
    }

    fn grad_hess(&self, m: f64, y: f64) -> (f32, f32) {
        let p = sigmoid(m);
        ((p - y) as f32, (p * (1.0 - p)).max(1e-16) as f32)
    }
}
