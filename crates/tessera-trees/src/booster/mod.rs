//! An XGBoost-class histogram gradient booster (the first part of "Trees II"): second-order Taylor
//! expansion of the loss, gradient and hessian sums per quantile bin, XGBoost's regularised gain and leaf
//! weights (`lambda`, `alpha`, `gamma`, `min_child_weight`, `max_delta_step`), histogram subtraction (the
//! smaller child is built, its sibling is the parent minus it), features in parallel, depth-wise growth,
//! sparsity-aware splits (missing values learn a default direction), row and column subsampling, and the
//! objectives `reg:squarederror`, `reg:absoluteerror`, `reg:pseudohubererror`, `binary:logistic`,
//! `multi:softprob` and `count:poisson`, with evaluation sets and early stopping.
//!
//! Also: loss-guided growth (`max_leaves`), quantile bins of the sample weights (`max_bin`), monotone
//! constraints, categorical splits (XGBoost's `enable_categorical`), TreeSHAP, XGBoost `model.json` both
//! ways, and custom objectives.
//!
//! Read top-down: [`HistGradientBooster`] and [`FittedBooster`] here; `params.rs` the parameters and their
//! check; `fit.rs` the boosting loop ([`FitOptions`]); `objective/` one `Loss` implementation per objective;
//! `grow.rs` one tree (a `Grower`), `gain.rs` XGBoost's leaf weight and gain, `hist.rs` a node's
//! histogram, `partition.rs` the rows of each node kept contiguous with their bin codes; `xgboost/`
//! XGBoost's model format.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::ClassLabels;
use crate::error::{Error, Result, invalid, shape};
use crate::error::{bad_model, check_boosted_trees, model_agrees, model_bounded};
use crate::estimator::{Estimator, Model, check_predict};
use crate::metrics;
use crate::stats::argmax;
use crate::tree::Tree;
use crate::tree::batch::{PREDICT_CHUNK, rows_of};

mod fit;
mod gain;
mod grow;
mod hist;
mod objective;
mod params;
mod partition;
mod xgboost;

pub use fit::FitOptions;
pub use objective::{EvalMetric, Objective};
pub use params::{BoosterParams, GrowPolicy};
pub use xgboost::{
    XgboostModel, booster_from_xgboost_json, booster_to_xgboost_json, load_xgboost_json, read_xgboost_json,
};

/// A custom objective: gradients and hessians per row from the current margins and the labels.
pub type GradHess<'a> = dyn Fn(&[f64], &[f64]) -> (Vec<f32>, Vec<f32>) + Sync + 'a;

/// One evaluation set: a name and its rows and labels.
pub type EvalSet<'a> = (&'a str, ArrayView2<'a, f32>, ArrayView1<'a, f32>);

/// The histogram booster (XGBoost's `hist` method, with XGBoost's parameter names in [`BoosterParams`]).
///
/// Fit with [`HistGradientBooster::fit`], or with evaluation sets and early stopping through
/// [`HistGradientBooster::fit_eval`] / [`HistGradientBooster::fit_with`]; the fitted [`FittedBooster`]
/// predicts labels, probabilities, raw margins, leaf indices and TreeSHAP contributions, and saves as
/// tessera's JSON or XGBoost's `model.json`.
///
/// ```
/// use tessera_datasets::{load_breast_cancer, train_test_split};
/// use tessera_trees::{BoosterParams, HistGradientBooster, Model, Objective, metrics};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (train, test) = train_test_split(&load_breast_cancer(), 0.25, 0, true)?;
/// let (fit, valid) = train_test_split(&train, 0.2, 1, true)?;
/// let booster = HistGradientBooster {
///     params: BoosterParams { objective: Objective::Logistic, n_estimators: 500, ..Default::default() },
/// };
/// // Stop once the validation log loss has not improved for 20 rounds.
/// let model = booster.fit_eval(
///     fit.features(),
///     fit.targets(),
///     None,
///     &[("valid", valid.features(), valid.targets())],
///     Some(20),
///     |_, _| {},
/// )?;
/// // Predictions use the best round, as XGBoost's scikit-learn API does.
/// assert!(model.use_best && model.rounds_in_use() < 500);
/// let accuracy = metrics::accuracy(test.targets(), model.predict(test.features())?.view())?;
/// assert!(accuracy > 0.9);
/// // XGBoost's own `Booster.load_model` reads this, best iteration included.
/// let json = tessera_trees::booster_to_xgboost_json(&model, None);
/// assert!(json.contains("best_iteration"));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct HistGradientBooster {
    /// Its hyperparameters.
    pub params: BoosterParams,
}

/// A fitted booster: base margins, trees (round-major, one per output) and the evaluation history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedBooster {
    /// The objective it was trained with.
    pub objective: Objective,
    /// Initial margin per output.
    pub base_margin: Vec<f32>,
    /// Trees, round-major: round `m`, output `k` is `trees[m * n_outputs + k]`. Leaf values include the
    /// learning rate.
    pub trees: Vec<Tree>,
    /// Outputs (classes for `multi:softprob`, else 1).
    pub n_outputs: usize,
    /// Class labels (classification objectives).
    pub labels: Option<ClassLabels>,
    /// Feature columns at fit time.
    pub n_features: usize,
    /// The round with the best first evaluation metric (early stopping), if evaluation sets were given.
    pub best_iteration: Option<usize>,
    /// The first evaluation set's metric at `best_iteration`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_score: Option<f64>,
    /// Whether predictions use the model as it was at `best_iteration` (rounds after it are kept but not
    /// used), as XGBoost's scikit-learn API and LightGBM do after early stopping. Fitting with
    /// `early_stopping_rounds` sets it; set it to `false` to predict with every round.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub use_best: bool,
    /// Per evaluation set and round: the metric value.
    pub eval_history: Vec<(String, Vec<f64>)>,
    /// Per feature: number of splits, total gain (without XGBoost's 1/2, as it stores it), total cover.
    pub split_stats: Vec<[f64; 3]>,
}

impl HistGradientBooster {
    /// Fits without evaluation sets.
    pub fn fit(&self, x: ArrayView2<'_, f32>, y: ArrayView1<'_, f32>) -> Result<FittedBooster> {
        self.fit_eval(x, y, None, &[], None, |_, _| {})
    }

    /// Fits with optional sample weights and evaluation sets. The first set's metric drives early stopping
    /// (`early_stopping_rounds`) and `best_iteration`; `progress(round, metrics)` is called after each round
    /// with the evaluation metric of every set.
    pub fn fit_eval(
        &self,
        x: ArrayView2<'_, f32>,
        y: ArrayView1<'_, f32>,
        w: Option<ArrayView1<'_, f32>>,
        eval_sets: &[EvalSet<'_>],
        early_stopping_rounds: Option<usize>,
        progress: impl FnMut(usize, &[(String, f64)]),
    ) -> Result<FittedBooster> {
        let mut progress = progress;
        self.fit_with(
            x,
            y,
            FitOptions { weights: w, eval_sets, early_stopping_rounds, progress: Some(&mut progress) },
        )
    }

    /// Fits with [`FitOptions`]: sample weights, evaluation sets, early stopping and progress.
    pub fn fit_with(
        &self,
        x: ArrayView2<'_, f32>,
        y: ArrayView1<'_, f32>,
        options: FitOptions<'_>,
    ) -> Result<FittedBooster> {
        if self.params.objective == Objective::Custom {
            return Err(invalid(
                "objective",
                "a built-in objective (custom ones train through fit_custom)",
                "custom",
            ));
        }
        fit::fit(&self.params, x, y, options, None)
    }

    /// Fits with a custom objective: `grad_hess(margins, labels)` returns one gradient and one hessian per
    /// row at the current raw margins. The model predicts raw margins (base margin `base_score`, default 0);
    /// evaluation sets report RMSE of the margins.
    pub fn fit_custom(
        &self,
        x: ArrayView2<'_, f32>,
        y: ArrayView1<'_, f32>,
        grad_hess: &GradHess<'_>,
    ) -> Result<FittedBooster> {
        let mut params = self.params.clone();
        params.objective = Objective::Custom;
        fit::fit(&params, x, y, FitOptions::default(), Some(grad_hess))
    }
}

impl Estimator for HistGradientBooster {
    type Model = FittedBooster;

    fn fit_weighted(
        &self,
        x: ArrayView2<'_, f32>,
        y: ArrayView1<'_, f32>,
        w: Option<ArrayView1<'_, f32>>,
    ) -> Result<FittedBooster> {
        self.fit_with(x, y, FitOptions { weights: w, ..Default::default() })
    }

    fn with_seed(&self, seed: u64) -> Self {
        let mut c = self.clone();
        c.params.seed = seed;
        c
    }
}

impl HistGradientBooster {
    /// Whether the objective makes this a classifier (`binary:logistic`, `multi:softprob`).
    pub fn is_classifier(&self) -> bool {
        self.params.objective.loss(0.0).classifies()
    }
}

impl FittedBooster {
    /// The number of boosting rounds the model holds.
    pub fn n_rounds(&self) -> usize {
        self.trees.len() / self.n_outputs.max(1)
    }

    /// The rounds predictions use: up to and including `best_iteration` when [`FittedBooster::use_best`]
    /// is set (after early stopping), else all of them.
    pub fn rounds_in_use(&self) -> usize {
        match self.best_iteration {
            Some(best) if self.use_best => (best + 1).min(self.n_rounds()),
            _ => self.n_rounds(),
        }
    }

    /// The trees predictions use ([`FittedBooster::rounds_in_use`] rounds).
    fn trees_in_use(&self) -> &[Tree] {
        &self.trees[..self.rounds_in_use() * self.n_outputs]
    }

    /// Raw margins (`n x n_outputs`) using the first `rounds` rounds (`None`: the rounds in use, see
    /// [`FittedBooster::rounds_in_use`]); leaf values are added in f32, one tree at a time in order, onto
    /// the base margin, as XGBoost does.
    pub fn predict_margin(&self, x: ArrayView2<'_, f32>, rounds: Option<usize>) -> Result<Array2<f32>> {
        check_predict(self, x)?;
        let k = self.n_outputs;
        let rounds = rounds.unwrap_or(self.rounds_in_use()).min(self.n_rounds());
        let trees = &self.trees[..rounds * k];
        let blocks: Vec<Vec<f32>> = x
            .axis_chunks_iter(Axis(0), PREDICT_CHUNK)
            .into_par_iter()
            .map(|chunk| {
                let owned: Vec<std::borrow::Cow<'_, [f32]>> = rows_of(chunk).collect();
                let rows: Vec<&[f32]> = owned.iter().map(|r| r.as_ref()).collect();
                // One margin column per output; each tree adds its leaf values in order (f32, as XGBoost).
                let mut per_output: Vec<Vec<f32>> =
                    self.base_margin.iter().map(|&b| vec![b; rows.len()]).collect();
                // One scan for missing values lets every tree walk skip the missing-value rule.
                let any_nan = chunk.iter().any(|v| v.is_nan());
                for (t, tree) in trees.iter().enumerate() {
                    let out = &mut per_output[t % k];
                    match (tree.depth() <= 8, any_nan) {
                        (true, true) => tree.add_scores_shallow(&rows, out),
                        (true, false) => tree.add_scores_shallow_present(&rows, out),
                        (false, true) => tree.add_scores(&rows, out),
                        (false, false) => tree.add_scores_present(&rows, out),
                    }
                }
                let mut out = Vec::with_capacity(rows.len() * k);
                for i in 0..rows.len() {
                    out.extend(per_output.iter().map(|c| c[i]));
                }
                out
            })
            .collect();
        Array2::from_shape_vec((x.nrows(), k), blocks.concat())
            .map_err(|e| shape("assembled predictions", "consistent block shapes", e))
    }

    /// Per-feature contributions to the margin (TreeSHAP), as XGBoost's `pred_contribs`: for each output
    /// `k`, columns `k * (d + 1) .. k * (d + 1) + d` hold the features' SHAP values and column
    /// `k * (d + 1) + d` the bias (base margin plus the trees' expected values); each group sums to the
    /// row's margin for that output.
    pub fn predict_contributions(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        check_predict(self, x)?;
        let (k, d) = (self.n_outputs, self.n_features);
        let rows: Vec<Vec<f32>> = x
            .axis_chunks_iter(Axis(0), 256)
            .into_par_iter()
            .flat_map_iter(|chunk| {
                rows_of(chunk)
                    .map(|row| {
                        let mut phi = vec![0.0f64; k * (d + 1)];
                        for o in 0..k {
                            phi[o * (d + 1) + d] += f64::from(self.base_margin[o]);
                        }
                        for (t, tree) in self.trees_in_use().iter().enumerate() {
                            let o = t % k;
                            crate::tree::shap::add_tree_shap(
                                tree,
                                &row,
                                &mut phi[o * (d + 1)..(o + 1) * (d + 1)],
                            );
                        }
                        phi.into_iter().map(|v| v as f32).collect::<Vec<f32>>()
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        Array2::from_shape_vec((x.nrows(), k * (d + 1)), rows.concat())
            .map_err(|e| shape("assembled predictions", "consistent block shapes", e))
    }

    /// Leaf index of every row in every tree (`n x trees`), as XGBoost's `pred_leaf`.
    pub fn predict_leaf(&self, x: ArrayView2<'_, f32>) -> Result<Array2<u32>> {
        check_predict(self, x)?;
        let trees = self.trees_in_use();
        let mut out = Array2::<u32>::zeros((x.nrows(), trees.len()));
        for (i, row) in rows_of(x).enumerate() {
            for (t, tree) in trees.iter().enumerate() {
                out[[i, t]] = tree.leaf_index(&row) as u32;
            }
        }
        Ok(out)
    }

    /// Feature importance: `weight` (splits), `gain` (mean gain per split) or `cover` (mean hessian).
    /// A model loaded from XGBoost's file has no split statistics: every importance is then 0.
    pub fn feature_importance(&self, kind: &str) -> Result<Vec<f64>> {
        if !["weight", "gain", "cover"].contains(&kind) {
            return Err(invalid("importance_type", "one of weight, gain, cover", format!("`{kind}`")));
        }
        if self.split_stats.is_empty() {
            return Ok(vec![0.0; self.n_features]);
        }
        self.split_stats
            .iter()
            .map(|s| match kind {
                "weight" => Ok(s[0]),
                "gain" => Ok(if s[0] > 0.0 { s[1] / s[0] } else { 0.0 }),
                "cover" => Ok(if s[0] > 0.0 { s[2] / s[0] } else { 0.0 }),
                other => Err(invalid("importance_type", "one of weight, gain, cover", format!("`{other}`"))),
            })
            .collect()
    }

    fn transform(&self, margin: &Array2<f32>) -> Array2<f32> {
        self.objective.loss(0.0).transform(margin)
    }
}

impl Model for FittedBooster {
    fn validate(&self) -> Result<()> {
        let k = self.n_outputs;
        if k == 0 {
            return Err(bad_model("n_outputs", "at least 1", 0));
        }
        match (&self.labels, self.objective) {
            (Some(l), Objective::Logistic) => {
                l.validate("labels", Some(2))?;
                model_agrees("n_outputs", k, 1, "binary:logistic has one margin")?;
            }
            (Some(l), Objective::Softprob) => l.validate("labels", Some(k))?,
            (None, Objective::Logistic | Objective::Softprob) => {
                return Err(bad_model("labels", "class labels for a classification objective", "none"));
            }
            (Some(_), _) => {
                return Err(bad_model("labels", "none for a regression objective", "class labels"));
            }
            (None, _) => model_agrees("n_outputs", k, 1, "a regression objective has one margin")?,
        }
        if let Objective::PseudoHuber { slope } = self.objective
            && !(slope.is_finite() && slope > 0.0)
        {
            return Err(bad_model("objective.slope", "a finite number > 0", slope));
        }
        model_agrees("base_margin", self.base_margin.len(), k, "one per output")?;
        let limit = f64::from(crate::tree::VALUE_LIMIT);
        model_bounded("base_margin", self.base_margin.iter().map(|&m| f64::from(m)), limit)?;
        // A booster of no rounds (only base margins) is a valid model; otherwise whole rounds.
        if !self.trees.is_empty() {
            check_boosted_trees(&self.trees, k, self.n_features)?;
        }
        if !self.split_stats.is_empty() {
            model_agrees("split_stats", self.split_stats.len(), self.n_features, "one per feature, or none")?;
        }
        if let Some(best) = self.best_iteration
            && best >= self.trees.len() / k
        {
            return Err(bad_model("best_iteration", format!("a round below {}", self.trees.len() / k), best));
        }
        Ok(())
    }

    fn predict(&self, x: ArrayView2<'_, f32>) -> Result<Array1<f32>> {
        let out = self.transform(&self.predict_margin(x, None)?);
        Ok(match &self.labels {
            Some(l) => out.outer_iter().map(|r| l.classes[argmax(&r.to_vec())]).collect(),
            None => out.column(0).to_owned(),
        })
    }

    fn n_features(&self) -> usize {
        self.n_features
    }

    fn classes(&self) -> Option<&[f32]> {
        self.labels.as_ref().map(|l| l.classes.as_slice())
    }

    fn predict_proba(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        if self.labels.is_none() {
            return Err(Error::Unsupported("a regression booster has no class probabilities".into()));
        }
        Ok(self.transform(&self.predict_margin(x, None)?))
    }
}

/// Metrics XGBoost can print for an evaluation set, computed from predictions.
pub fn booster_metric(
    name: &str,
    model: &FittedBooster,
    x: ArrayView2<'_, f32>,
    y: ArrayView1<'_, f32>,
) -> Result<f64> {
    let pred = model.predict(x)?;
    match name {
        "rmse" => metrics::rmse(y, pred.view()),
        "mae" => metrics::mae(y, pred.view()),
        "error" => Ok(1.0 - metrics::accuracy(y, pred.view())?),
        "logloss" | "mlogloss" => {
            let classes = model
                .classes()
                .ok_or_else(|| invalid("metric", "a regression metric for a regressor", name))?;
            metrics::log_loss(y, model.predict_proba(x)?.view(), classes)
        }
        "auc" => {
            let classes = model
                .classes()
                .ok_or_else(|| invalid("metric", "a regression metric for a regressor", name))?;
            metrics::roc_auc(y, model.predict_proba(x)?.column(1), classes[1])
        }
        other => {
            Err(invalid("metric", "one of rmse, mae, error, logloss, mlogloss, auc", format!("`{other}`")))
        }
    }
}

/// Adds each leaf's value to output `k` of the margins of its rows (`by_leaf`: ascending row ids and the
#[cfg(test)]
mod tests {
    use super::*;
    use crate::booster::gain::Gain;

    #[test]
    fn leaf_weights_follow_xgboost_formulas() {
        let p = BoosterParams { lambda: 2.0, alpha: 1.0, ..Default::default() };
        // w = -T(G) / (H + lambda), T soft-thresholds by alpha.
        assert!((Gain::of(&p).leaf_weight(5.0, 3.0) - (-(5.0 - 1.0) / 5.0)).abs() < 1e-12);
        assert_eq!(Gain::of(&p).leaf_weight(0.5, 3.0), 0.0);
        let clipped = BoosterParams { max_delta_step: 0.1, ..Default::default() };
        assert_eq!(Gain::of(&clipped).leaf_weight(-100.0, 1.0), 0.1);
    }
}
