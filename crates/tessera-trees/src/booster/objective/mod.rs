//! The histogram booster's objectives (XGBoost's definitions): [`Objective`], the names models store; the
//! `Loss` trait with one implementation per file (labels, base margin, gradients, leaf refit, default
//! metric); and the evaluation metrics ([`EvalMetric`]).

use ndarray::{Array2, ArrayView1};
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

mod absolute_error;
mod custom;
mod logistic;
mod poisson;
mod pseudo_huber;
mod softprob;
mod squared_error;

pub(crate) use custom::Custom;

/// A metric of margins against labels.
pub(crate) type MarginMetric = fn(&[f64], ArrayView1<'_, f32>) -> f64;

/// One objective's definitions, one implementation per file: what the labels must be, the base margin,
/// the gradients, whether leaves are refitted, and the default evaluation metric. [`Objective`] names them
/// (and is what models store); [`Objective::loss`] gives the implementation.
pub(crate) trait Loss: Sync {
    /// Whether the labels are classes (encoded as indices before fitting).
    fn classifies(&self) -> bool {
        false
    }

    /// Checks the labels (regression objectives with a restricted range).
    fn check_labels(&self, y: ArrayView1<'_, f32>) -> Result<()> {
        let _ = y;
        Ok(())
    }

    /// Checks the number of classes a classifier's labels hold.
    fn check_classes(&self, n_classes: usize) -> Result<()> {
        let _ = n_classes;
        Ok(())
    }

    /// The number of outputs (trees per round) for `n_classes` classes (1 for regression).
    fn outputs(&self, n_classes: usize) -> usize {
        let _ = n_classes;
        1
    }

    /// The base margin for a user's `base_score` (a probability for logistic, a mean for Poisson).
    fn margin_of_score(&self, score: f64, outputs: usize) -> Vec<f64> {
        vec![score; outputs]
    }

    /// The base margin estimated from labels `y` and weights `w`, as XGBoost does.
    fn base_margin(&self, y: &[f64], w: &[f64], outputs: usize) -> Vec<f64>;

    /// Gradient and hessian at margin `m` for label `y` (single-output objectives).
    fn grad_hess(&self, m: f64, y: f64) -> (f32, f32);

    /// Weighted (gradient, hessian) pairs per output at `margin` (`n x outputs`, row-major): one parallel
    /// pass over the rows for single-output objectives.
    fn pairs(
        &self,
        margin: &[f64],
        y: &[f64],
        weights: &[f64],
        outputs: usize,
    ) -> Result<Vec<Vec<[f32; 2]>>> {
        let _ = outputs;
        let pairs = (0..y.len())
            .into_par_iter()
            .map(|i| {
                let (g, h) = self.grad_hess(margin[i], y[i]);
                let w = weights[i] as f32;
                [g * w, h * w]
            })
            .collect();
        Ok(vec![pairs])
    }

    /// XGBoost's `learner.objective` block for a model with `outputs` outputs (its name and parameters).
    fn xgboost_objective(&self, outputs: usize) -> serde_json::Value;

    /// The base score XGBoost stores for base margin `m` (a probability for logistic, a mean for Poisson):
    /// the inverse of [`Loss::margin_of_score`].
    fn score_of_margin(&self, m: f64) -> f64 {
        m
    }

    /// Predictions from margins (`n x outputs`): the margins themselves, or class probabilities
    /// (`n x classes`), or means (Poisson).
    fn transform(&self, margin: &Array2<f32>) -> Array2<f32> {
        margin.clone()
    }

    /// Whether each leaf is refitted to the weighted median residual of its rows (absolute error).
    fn refits_leaves(&self) -> bool {
        false
    }

    /// A regression objective's default evaluation metric on margins (lower is better); `None` for
    /// classifiers, whose default is the log loss.
    fn margin_metric(&self) -> Option<MarginMetric> {
        None
    }

    /// The default evaluation metric (lower is better).
    fn default_metric(
        &self,
        margin: &[f64],
        y: ArrayView1<'_, f32>,
        outputs: usize,
        labels: Option<&ClassLabels>,
    ) -> Result<f64> {
        match self.margin_metric() {
            Some(metric) => Ok(metric(margin, y)),
            None => metric::log_loss(margin, y, outputs, labels),
        }
    }
}

impl Objective {
    /// The implementation of a built-in objective (`Custom` has none of its own: its gradients come
    /// from the user, see [`Custom`]); `max_delta_step` is the resolved parameter (Poisson's hessian).
    pub(crate) fn loss(self, max_delta_step: f64) -> Box<dyn Loss> {
        match self {
            Objective::SquaredError => Box::new(squared_error::SquaredError),
            Objective::AbsoluteError => Box::new(absolute_error::AbsoluteError),
            Objective::PseudoHuber { slope } => Box::new(pseudo_huber::PseudoHuber { slope }),
            Objective::Logistic => Box::new(logistic::Logistic),
            Objective::Softprob => Box::new(softprob::Softprob),
            Objective::Poisson => Box::new(poisson::Poisson { max_delta_step }),
            // Raw margins, RMSE, zero base margin: what a custom objective's model predicts.
            Objective::Custom => Box::new(squared_error::SquaredError),
        }
    }
}

/// `[g * w, h * w]` per row.
pub(crate) fn weighted_pairs(g: &[f32], h: &[f32], weights: &[f64]) -> Vec<[f32; 2]> {
    g.par_iter()
        .zip(h.par_iter())
        .zip(weights.par_iter())
        .map(|((&g, &h), &w)| [g * w as f32, h * w as f32])
        .collect()
}

/// `sum w y / sum w`.
fn weighted_mean(y: &[f64], w: &[f64]) -> f64 {
    let sw: f64 = w.iter().sum();
    (0..y.len()).map(|i| w[i] * y[i]).sum::<f64>() / sw
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
                metric::log_loss(margin, y, outputs, labels)
            }
            EvalMetric::PoissonNloglik => {
                if obj != Objective::Poisson {
                    return unsupported();
                }
                Ok(metric::poisson_nloglik(margin, y))
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

/// The default metrics, on margins.
pub(crate) mod metric {
    use ndarray::ArrayView1;

    use crate::data::ClassLabels;
    use crate::error::{Error, Result};
    use crate::stats::sigmoid;

    /// Root mean squared error of the margins.
    pub(crate) fn rmse(margin: &[f64], y: ArrayView1<'_, f32>) -> f64 {
        (margin.iter().zip(y).map(|(m, &t)| (m - f64::from(t)).powi(2)).sum::<f64>() / y.len() as f64).sqrt()
    }

    /// Mean absolute error of the margins.
    pub(crate) fn mae(margin: &[f64], y: ArrayView1<'_, f32>) -> f64 {
        margin.iter().zip(y).map(|(m, &t)| (m - f64::from(t)).abs()).sum::<f64>() / y.len() as f64
    }

    /// Poisson negative log likelihood of log margins (without the constant `log y!`).
    pub(crate) fn poisson_nloglik(margin: &[f64], y: ArrayView1<'_, f32>) -> f64 {
        margin.iter().zip(y).map(|(m, &t)| m.exp() - f64::from(t) * m).sum::<f64>() / y.len() as f64
    }

    /// Binary (one output, logit) or multiclass (softmax over `outputs`) log loss.
    pub(crate) fn log_loss(
        margin: &[f64],
        y: ArrayView1<'_, f32>,
        outputs: usize,
        labels: Option<&ClassLabels>,
    ) -> Result<f64> {
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
        Ok(total / y.len() as f64)
    }
}
