//! The booster's hyperparameters ([`BoosterParams`], named and defaulted as XGBoost's) and their check.

use serde::{Deserialize, Serialize};

use super::objective::{EvalMetric, Objective};
use crate::error::{Result, param};

/// Hyperparameters, named and defaulted as XGBoost's (`tree_method=hist`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoosterParams {
    /// The objective.
    pub objective: Objective,
    /// Boosting rounds.
    pub n_estimators: usize,
    /// Shrinkage (`eta`).
    pub learning_rate: f64,
    /// Maximum depth (0 = unlimited, for loss-guided growth).
    pub max_depth: usize,
    /// Maximum leaves per tree (0 = unlimited).
    pub max_leaves: usize,
    /// Depth-wise (XGBoost's default) or loss-guided (LightGBM-style, best split first) growth.
    pub grow_policy: GrowPolicy,
    /// L2 regularisation on leaf weights (`lambda`).
    pub lambda: f64,
    /// L1 regularisation on leaf weights (`alpha`).
    pub alpha: f64,
    /// Minimum loss reduction to split (`gamma`).
    pub gamma: f64,
    /// Minimum hessian sum in a child.
    pub min_child_weight: f64,
    /// Maximum absolute leaf weight before shrinkage (0 = none; Poisson defaults to 0.7).
    pub max_delta_step: f64,
    /// Fraction of rows per tree.
    pub subsample: f64,
    /// Fraction of features per tree.
    pub colsample_bytree: f64,
    /// Fraction of the tree's features drawn anew for each depth (`colsample_bylevel`).
    #[serde(default = "one")]
    pub colsample_bylevel: f64,
    /// Fraction of the level's features drawn anew for each node (`colsample_bynode`).
    #[serde(default = "one")]
    pub colsample_bynode: f64,
    /// Bins per feature (`max_bin`, 2..=256; one code is kept for missing values, so at most 255 hold
    /// present values). Cut points are quantiles of the sample weights when the fit has weights.
    #[serde(default = "default_max_bin")]
    pub max_bin: usize,
    /// Monotone constraints per feature (`monotone_constraints`): 1 increasing, -1 decreasing, 0 free;
    /// empty for none, else one per feature.
    #[serde(default)]
    pub monotone_constraints: Vec<i8>,
    /// The metric printed for evaluation sets and used for early stopping; `None` means the objective's
    /// default (rmse, mae, logloss, mlogloss, poisson-nloglik).
    #[serde(default)]
    pub eval_metric: Option<EvalMetric>,
    /// Features whose values are categories (non-negative integers below 2^24, NaN missing; beyond 255
    /// categories the rarest share one bin and so one side of every split), split by category sets
    /// as XGBoost's `enable_categorical` does: one category against the rest when the feature has fewer
    /// than `max_cat_to_onehot` categories, else a partition of the categories sorted by their gradient
    /// statistics. Empty for none.
    #[serde(default)]
    pub categorical_features: Vec<usize>,
    /// Below this many categories, categorical splits are one-hot (XGBoost's default 4).
    #[serde(default = "default_max_cat_to_onehot")]
    pub max_cat_to_onehot: usize,
    /// The most categories a partition-based split may put in its set (XGBoost's default 64).
    #[serde(default = "default_max_cat_threshold")]
    pub max_cat_threshold: usize,
    /// Initial margin; `None` estimates it from the data as XGBoost does.
    pub base_score: Option<f64>,
    /// Random seed.
    pub seed: u64,
}

impl Default for BoosterParams {
    fn default() -> Self {
        BoosterParams {
            objective: Objective::SquaredError,
            n_estimators: 100,
            learning_rate: 0.3,
            max_depth: 6,
            max_leaves: 0,
            grow_policy: GrowPolicy::Depthwise,
            lambda: 1.0,
            alpha: 0.0,
            gamma: 0.0,
            min_child_weight: 1.0,
            max_delta_step: 0.0,
            subsample: 1.0,
            colsample_bytree: 1.0,
            colsample_bylevel: 1.0,
            colsample_bynode: 1.0,
            max_bin: 256,
            eval_metric: None,
            monotone_constraints: Vec::new(),
            categorical_features: Vec::new(),
            max_cat_to_onehot: 4,
            max_cat_threshold: 64,
            base_score: None,
            seed: 0,
        }
    }
}

fn one() -> f64 {
    1.0
}

fn default_max_bin() -> usize {
    256
}

fn default_max_cat_to_onehot() -> usize {
    4
}

fn default_max_cat_threshold() -> usize {
    64
}

/// How trees grow (XGBoost's `grow_policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrowPolicy {
    /// Split every node of a level before the next level.
    Depthwise,
    /// Split the node with the largest loss reduction next (use with `max_leaves`).
    Lossguide,
}

impl BoosterParams {
    pub(super) fn check(&self) -> Result<()> {
        if self.n_estimators == 0 || !(self.learning_rate > 0.0) {
            return Err(param("the booster needs n_estimators >= 1 and learning_rate > 0"));
        }
        if self.max_depth == 0 && (self.max_leaves == 0 || self.grow_policy == GrowPolicy::Depthwise) {
            return Err(param("max_depth = 0 (unlimited) needs grow_policy lossguide with max_leaves > 0"));
        }
        if self.monotone_constraints.iter().any(|c| !(-1..=1).contains(c)) {
            return Err(param(format!(
                "monotone_constraints must be -1, 0 or 1, got {:?}",
                self.monotone_constraints
            )));
        }
        if self.max_cat_to_onehot == 0 || self.max_cat_threshold == 0 {
            return Err(param("max_cat_to_onehot and max_cat_threshold must be >= 1"));
        }
        if !(2..=256).contains(&self.max_bin) {
            return Err(param(format!("max_bin must be in 2..=256, got {}", self.max_bin)));
        }
        for (name, v) in [
            ("subsample", self.subsample),
            ("colsample_bytree", self.colsample_bytree),
            ("colsample_bylevel", self.colsample_bylevel),
            ("colsample_bynode", self.colsample_bynode),
        ] {
            if !(v > 0.0 && v <= 1.0) {
                return Err(param(format!("{name} must be in (0, 1], got {v}")));
            }
        }
        if !(self.lambda >= 0.0 && self.alpha >= 0.0 && self.gamma >= 0.0 && self.min_child_weight >= 0.0) {
            return Err(param("lambda, alpha, gamma and min_child_weight must be >= 0"));
        }
        Ok(())
    }
}
