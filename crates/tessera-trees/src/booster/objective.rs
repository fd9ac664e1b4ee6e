//! The histogram booster's objectives (XGBoost's definitions): gradients and hessians, quantile and
//! sigmoid helpers, and each objective's default evaluation metric.

use ndarray::ArrayView1;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::ClassLabels;
use crate::error::{Error, Result, invalid};
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
    /// Parses XGBoost's objective names (`reg:pseudohubererror` with slope 1).
    pub fn parse(name: &str) -> Option<Self> {
        name.parse().ok()
    }
}

impl std::str::FromStr for Objective {
    type Err = Error;

    /// XGBoost's names: `reg:squarederror`, `reg:absoluteerror`, `reg:pseudohubererror` (slope 1),
    /// `binary:logistic`, `multi:softprob`, `count:poisson`.
    fn from_str(s: &str) -> Result<Self> {
        crate::check::choice(
            "objective",
            s,
            &[
                ("reg:squarederror", Objective::SquaredError),
                ("reg:absoluteerror", Objective::AbsoluteError),
                ("reg:pseudohubererror", Objective::PseudoHuber { slope: 1.0 }),
                ("binary:logistic", Objective::Logistic),
                ("multi:softprob", Objective::Softprob),
                ("count:poisson", Objective::Poisson),
            ],
        )
    }
}

/// Gradients and hessians of `multi:softprob` at `margin` (`n x outputs`, row-major) for class indices
/// `y`, per output.
fn softprob_grad_hess(margin: &[f64], y: &[f64], outputs: usize) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
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
    (g, h)
}

/// Weighted (gradient, hessian) pairs per output of the objective at `margin` (`n x outputs`, row-major)
/// for labels `y` (class indices for classification), as the tree growers take them; single-output
/// objectives in one parallel pass over the rows (the logistic and Poisson ones call exp per row).
pub(crate) fn grad_hess_pairs(
    obj: Objective,
    margin: &[f64],
    y: &[f64],
    weights: &[f64],
    outputs: usize,
    max_delta_step: f64,
) -> Vec<Vec<[f32; 2]>> {
    if obj != Objective::Softprob {
        let pairs = (0..y.len())
            .into_par_iter()
            .map(|i| {
                let (g, h) = single_grad_hess(obj, margin[i], y[i], max_delta_step);
                let w = weights[i] as f32;
                [g * w, h * w]
            })
            .collect();
        return vec![pairs];
    }
    let (g, h) = softprob_grad_hess(margin, y, outputs);
    g.iter().zip(&h).map(|(g, h)| weighted_pairs(g, h, weights)).collect()
}

/// `[g * w, h * w]` per row.
pub(crate) fn weighted_pairs(g: &[f32], h: &[f32], weights: &[f64]) -> Vec<[f32; 2]> {
    g.par_iter()
        .zip(h.par_iter())
        .zip(weights.par_iter())
        .map(|((&g, &h), &w)| [g * w as f32, h * w as f32])
        .collect()
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

/// Metrics of evaluation sets (XGBoost's `eval_metric` names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EvalMetric {
    /// Root mean squared error of the predictions.
    #[serde(rename = "rmse")]
    Rmse,
    /// Mean absolute error of the predictions.
    #[serde(rename = "mae")]
    Mae,
    /// Binary log loss.
    #[serde(rename = "logloss")]
    Logloss,
    /// Multiclass log loss.
    #[serde(rename = "mlogloss")]
    Mlogloss,
    /// Classification error rate (threshold 0.5 for binary, arg max for multiclass).
    #[serde(rename = "error")]
    Error,
    /// Area under the ROC curve (binary; higher is better).
    #[serde(rename = "auc")]
    Auc,
    /// Negative Poisson log likelihood.
    #[serde(rename = "poisson-nloglik")]
    PoissonNloglik,
}

impl std::str::FromStr for EvalMetric {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        crate::check::choice(
            "eval_metric",
            s,
            &[
                ("rmse", EvalMetric::Rmse),
                ("mae", EvalMetric::Mae),
                ("logloss", EvalMetric::Logloss),
                ("mlogloss", EvalMetric::Mlogloss),
                ("error", EvalMetric::Error),
                ("auc", EvalMetric::Auc),
                ("poisson-nloglik", EvalMetric::PoissonNloglik),
            ],
        )
    }
}

impl EvalMetric {
    /// Whether larger values are better (AUC); early stopping keeps the best round accordingly.
    pub fn higher_is_better(self) -> bool {
        self == EvalMetric::Auc
    }

    /// The metric of margins `margin` (`outputs` per row) against labels `y`.
    pub(crate) fn value(
        self,
        obj: Objective,
        margin: &[f64],
        y: ArrayView1<'_, f32>,
        outputs: usize,
        labels: Option<&ClassLabels>,
    ) -> Result<f64> {
        let classify = matches!(obj, Objective::Logistic | Objective::Softprob);
        let n = y.len().max(1) as f64;
        let class_of = |t: f32| -> Result<usize> {
            let labels = labels.ok_or_else(|| Error::Data("classification metric without labels".into()))?;
            labels
                .index_of(t)
                .map(|k| k as usize)
                .ok_or_else(|| Error::Data(format!("eval label {t} was not seen in training")))
        };
        let unsupported =
            || Err(invalid("eval_metric", format!("a metric of objective {obj:?}"), format!("{self:?}")));
        match self {
            EvalMetric::Rmse | EvalMetric::Mae => {
                if classify && outputs != 1 {
                    return unsupported();
                }
                let pred = |m: f64| match obj {
                    Objective::Logistic => sigmoid(m),
                    Objective::Poisson => m.exp(),
                    _ => m,
                };
                let mut total = 0.0;
                for (i, &t) in y.iter().enumerate() {
                    let target = if classify { class_of(t)? as f64 } else { f64::from(t) };
                    let e = pred(margin[i]) - target;
                    total += if self == EvalMetric::Rmse { e * e } else { e.abs() };
                }
                Ok(if self == EvalMetric::Rmse { (total / n).sqrt() } else { total / n })
            }
            EvalMetric::Logloss | EvalMetric::Mlogloss => {
                if !classify || (self == EvalMetric::Logloss) != (outputs == 1) {
                    return unsupported();
                }
                eval_metric(obj, margin, y, outputs, labels)
            }
            EvalMetric::PoissonNloglik => {
                if obj != Objective::Poisson {
                    return unsupported();
                }
                eval_metric(obj, margin, y, outputs, labels)
            }
            EvalMetric::Error => {
                if !classify {
                    return unsupported();
                }
                let mut wrong = 0usize;
                for (i, &t) in y.iter().enumerate() {
                    let predicted = if outputs == 1 {
                        usize::from(margin[i] > 0.0)
                    } else {
                        let row = &margin[i * outputs..(i + 1) * outputs];
                        (0..outputs).fold(0, |best, k| if row[k] > row[best] { k } else { best })
                    };
                    wrong += usize::from(predicted != class_of(t)?);
                }
                Ok(wrong as f64 / n)
            }
            EvalMetric::Auc => {
                if obj != Objective::Logistic {
                    return unsupported();
                }
                let positive: Vec<f32> =
                    y.iter().map(|&t| class_of(t).map(|k| k as f32)).collect::<Result<_>>()?;
                let scores: Vec<f32> = margin.iter().map(|&m| m as f32).collect();
                crate::metrics::roc_auc(ArrayView1::from(&positive[..]), ArrayView1::from(&scores[..]), 1.0)
            }
        }
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
