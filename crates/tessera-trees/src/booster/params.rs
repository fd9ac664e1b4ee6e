//! The booster's hyperparameters ([`BoosterParams`], named and defaulted as XGBoost's) and their check.

use serde::{Deserialize, Serialize};

use super::objective::{EvalMetric, Objective};
use crate::binning::CODES;
use crate::check;
use crate::error::{Result, invalid};

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

impl std::str::FromStr for GrowPolicy {
    type Err = crate::Error;

    /// `depthwise` or `lossguide` (XGBoost's names).
    fn from_str(s: &str) -> Result<Self> {
        check::choice(
            "grow_policy",
            s,
            &[("depthwise", GrowPolicy::Depthwise), ("lossguide", GrowPolicy::Lossguide)],
        )
    }
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
    /// Checks every parameter once, before fitting (the rules of [`crate::check`]), and resolves the
    /// objective-dependent defaults: the checked form growth runs on.
    pub(super) fn check(&self) -> Result<BoosterParams> {
        check::n_estimators(self.n_estimators)?;
        check::learning_rate(self.learning_rate)?;
        if self.max_depth == 0 && (self.max_leaves == 0 || self.grow_policy == GrowPolicy::Depthwise) {
            return Err(invalid(
                "max_depth",
                ">= 1, or 0 (unlimited) with grow_policy lossguide and max_leaves > 0",
                self.max_depth,
            ));
        }
        if let Some(c) = self.monotone_constraints.iter().find(|c| !(-1..=1).contains(*c)) {
            return Err(invalid("monotone_constraints", "entries -1, 0 or 1", c));
        }
        check::at_least("max_cat_to_onehot", self.max_cat_to_onehot, 1)?;
        check::at_least("max_cat_threshold", self.max_cat_threshold, 1)?;
        if !(2..=CODES).contains(&self.max_bin) {
            return Err(invalid("max_bin", format!("an integer in 2..={CODES}"), self.max_bin));
        }
        check::fraction("subsample", self.subsample)?;
        check::fraction("colsample_bytree", self.colsample_bytree)?;
        check::fraction("colsample_bylevel", self.colsample_bylevel)?;
        check::fraction("colsample_bynode", self.colsample_bynode)?;
        check::non_negative("lambda", self.lambda)?;
        check::non_negative("alpha", self.alpha)?;
        check::non_negative("gamma", self.gamma)?;
        check::non_negative("min_child_weight", self.min_child_weight)?;
        check::non_negative("max_delta_step", self.max_delta_step)?;
        if let Objective::PseudoHuber { slope } = self.objective {
            check::positive("huber_slope", slope)?;
        }
        if let Some(b) = self.base_score {
            match self.objective {
                Objective::Logistic if !(b > 0.0 && b < 1.0) => {
                    return Err(invalid("base_score", "a probability in (0, 1) for binary:logistic", b));
                }
                Objective::Poisson => drop(check::positive("base_score", b)?),
                _ if !b.is_finite() => return Err(invalid("base_score", "a finite number", b)),
                _ => {}
            }
        }
        let mut resolved = self.clone();
        // XGBoost caps Poisson leaf weights at 0.7 unless told otherwise.
        if self.objective == Objective::Poisson && self.max_delta_step == 0.0 {
            resolved.max_delta_step = 0.7;
        }
        Ok(resolved)
    }
}
