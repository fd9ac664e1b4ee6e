//! The histogram booster's objectives (XGBoost's definitions): gradients and hessians, quantile and
//! sigmoid helpers, and each objective's default evaluation metric.

use ndarray::ArrayView1;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::ClassLabels;
use crate::error::{Error, Result};
use crate::stats::sigmoid;

/// The learning objective, with XGBoost's names and definitions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// `reg:squarederror`.
    SquaredError,
    /// `reg:absoluteerror` (leaf values re-fitted to the median residual).
    AbsoluteError,
    /// `reg:pseudohubererror` with `huber_slope`.
    PseudoHuber {
        /// The slope (delta) of the pseudo-Huber loss.
        slope: f64,
    },
    /// `binary:logistic`.
    Logistic,
    /// `multi:softprob` (one tree per class and round).
    Softprob,
    /// `count:poisson`.
    Poisson,
    /// A user-supplied gradient and hessian (see `HistGradientBooster::fit_custom`); predicts raw margins.
    Custom,
}

impl Objective {
    /// Parses XGBoost's objective names.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "reg:squarederror" => Objective::SquaredError,
            "reg:absoluteerror" => Objective::AbsoluteError,
            "reg:pseudohubererror" => Objective::PseudoHuber { slope: 1.0 },
            "binary:logistic" => Objective::Logistic,
            "multi:softprob" => Objective::Softprob,
            "count:poisson" => Objective::Poisson,
            _ => return None,
        })
    }
}

/// Gradients and hessians of the objective at `margin` (`n x outputs`, row-major) for labels `y`
/// (class indices for classification).
pub(crate) fn grad_hess(
    obj: Objective,
    margin: &[f64],
    y: &[f64],
    outputs: usize,
    max_delta_step: f64,
) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
    let n = y.len();
    if obj != Objective::Softprob {
        // Single-output objectives: rows in parallel (the logistic and Poisson ones call exp per row).
        let (g, h): (Vec<f32>, Vec<f32>) =
            (0..n).into_par_iter().map(|i| single_grad_hess(obj, margin[i], y[i], max_delta_step)).unzip();
        return (vec![g], vec![h]);
    }
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
    (g, h)
}

/// Gradient and hessian of a single-output objective at margin `m` for label `y`.
fn single_grad_hess(obj: Objective, m: f64, y: f64, max_delta_step: f64) -> (f32, f32) {
    match obj {
        Objective::SquaredError => ((m - y) as f32, 1.0),
        Objective::AbsoluteError => ((m - y).signum() as f32, 1.0),
        Objective::PseudoHuber { slope } => {
            let z = m - y;
            let scale = (1.0 + (z / slope).powi(2)).sqrt();
            ((z / scale) as f32, (slope * slope / ((slope * slope + z * z) * scale)) as f32)
        }
        Objective::Logistic => {
            let p = sigmoid(m);
            ((p - y) as f32, (p * (1.0 - p)).max(1e-16) as f32)
        }
        Objective::Poisson => ((m.exp() - y) as f32, (m + max_delta_step).exp() as f32),
        // Custom gradients come from the caller (HistGradientBooster::fit_custom); softprob is multi-output.
        Objective::Custom | Objective::Softprob => (0.0, 0.0),
    }
}

/// The default metric of an objective (lower is better): rmse, mae, logloss, mlogloss, poisson-nloglik.
pub(crate) fn eval_metric(
    obj: Objective,
    margin: &[f64],
    y: ArrayView1<'_, f32>,
    outputs: usize,
    labels: Option<&ClassLabels>,
) -> Result<f64> {
    let n = y.len();
    Ok(match obj {
        Objective::SquaredError | Objective::PseudoHuber { .. } | Objective::Custom => {
            (margin.iter().zip(y).map(|(m, &t)| (m - f64::from(t)).powi(2)).sum::<f64>() / n as f64).sqrt()
        }
        Objective::AbsoluteError => {
            margin.iter().zip(y).map(|(m, &t)| (m - f64::from(t)).abs()).sum::<f64>() / n as f64
        }
        Objective::Poisson => {
            margin.iter().zip(y).map(|(m, &t)| m.exp() - f64::from(t) * m).sum::<f64>() / n as f64
        }
        Objective::Logistic | Objective::Softprob => {
            let labels = labels.ok_or_else(|| Error::Data("classification metric without labels".into()))?;
            let mut total = 0.0;
            for (i, &t) in y.iter().enumerate() {
                let k = labels
                    .index_of(t)
                    .ok_or_else(|| Error::Data(format!("eval label {t} was not seen in training")))?
                    as usize;
                let p = if outputs == 1 {
                    let p1 = sigmoid(margin[i]);
                    if k == 1 { p1 } else { 1.0 - p1 }
                } else {
                    let row = &margin[i * outputs..(i + 1) * outputs];
                    let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let sum: f64 = row.iter().map(|v| (v - max).exp()).sum();
                    (row[k] - max).exp() / sum
                };
                total -= p.clamp(1e-15, 1.0).ln();
            }
            total / n as f64
        }
    })
}
