//! `multi:softprob`: the multinomial log loss, one tree per class and round; margins start at zero (as
//! XGBoost 3.2 does).

use super::{Loss, weighted_pairs};

/// `multi:softprob`.
pub(crate) struct Softprob;

impl Loss for Softprob {
    fn classifies(&self) -> bool {
        true
    }

    fn outputs(&self, n_classes: usize) -> usize {
        n_classes
    }

    fn base_margin(&self, _y: &[f64], _w: &[f64], outputs: usize) -> Vec<f64> {
        vec![0.0; outputs]
    }

    fn xgboost_objective(&self, outputs: usize) -> serde_json::Value {
        serde_json::json!({"name": "multi:softprob", "softmax_multiclass_param": {"num_class": outputs.to_string()}})
    }

    /// The softmax of each row.
    fn transform(&self, margin: &ndarray::Array2<f32>) -> ndarray::Array2<f32> {
        let mut out = margin.clone();
        for mut row in out.outer_iter_mut() {
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            row.mapv_inplace(|v| (v - max).exp());
            let s = row.sum();
            row.mapv_inplace(|v| v / s);
        }
        out
    }

    /// Not used: the gradients of all outputs come together from [`Loss::pairs`].
    fn grad_hess(&self, _m: f64, _y: f64) -> (f32, f32) {
        (0.0, 0.0)
    }

    fn pairs(
        &self,
        margin: &[f64],
        y: &[f64],
        weights: &[f64],
        outputs: usize,
    ) -> crate::Result<Vec<Vec<[f32; 2]>>> {
        let n = y.len();
        let mut g = vec![vec![0.0f32; n]; outputs];
        let mut h = vec![vec![0.0f32; n]; outputs];
        for i in 0..n {
            let row = &margin[i * outputs..(i + 1) * outputs];
            let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = row.iter().map(|v| (v - max).exp()).collect();
            let sum: f64 = e.iter().sum();
            for k in 0..outputs {
                let p = e[k] / sum;
                let t = if y[i] as usize == k { 1.0 } else { 0.0 };
                g[k][i] = (p - t) as f32;
                h[k][i] = (2.0 * p * (1.0 - p)).max(1e-16) as f32;
            }
        }
        Ok(g.iter().zip(&h).map(|(g, h)| weighted_pairs(g, h, weights)).collect())
    }
}
