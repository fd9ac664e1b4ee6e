//! A user's objective: gradients and hessians from a function of the margins and labels
//! (`HistGradientBooster::fit_custom`); the model predicts raw margins, starting from `base_score` or 0.

use super::{Loss, MarginMetric, metric, weighted_pairs};
use crate::booster::GradHess;
use crate::error::{Result, shape};

/// A custom objective around the user's gradient function.
pub(crate) struct Custom<'a> {
    /// `grad_hess(margins, labels)`: one gradient and one hessian per row.
    pub grad_hess: &'a GradHess<'a>,
}

impl Loss for Custom<'_> {
    fn base_margin(&self, _y: &[f64], _w: &[f64], _outputs: usize) -> Vec<f64> {
        vec![0.0]
    }

    /// A custom objective's margins are written as `reg:squarederror`, whose prediction is the margin.
    fn xgboost_objective(&self, _outputs: usize) -> serde_json::Value {
        serde_json::json!({"name": "reg:squarederror", "reg_loss_param": {"scale_pos_weight": "1"}})
    }

    /// Not used: the user's function gives every row's pair at once ([`Loss::pairs`]).
    fn grad_hess(&self, _m: f64, _y: f64) -> (f32, f32) {
        (0.0, 0.0)
    }

    fn pairs(
        &self,
        margin: &[f64],
        y: &[f64],
        weights: &[f64],
        _outputs: usize,
    ) -> Result<Vec<Vec<[f32; 2]>>> {
        let n = y.len();
        let (g, h) = (self.grad_hess)(margin, y);
        if g.len() != n || h.len() != n {
            return Err(shape(
                "gradients/hessians from the custom objective",
                format!("{n} each (one per row)"),
                format!("{} and {}", g.len(), h.len()),
            ));
        }
        Ok(vec![weighted_pairs(&g, &h, weights)])
    }

    fn margin_metric(&self) -> Option<MarginMetric> {
        Some(metric::rmse)
    }
}
