//! The command-line arguments of `tessera trees` (clap definitions; the behaviour is in `trees.rs`).

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use tessera_trees::{Criterion, EvalMetric, GbLoss, GrowPolicy, MaxFeatures, Objective};

use crate::data::TaskArg;

/// `tessera trees ...`
#[derive(Debug, Subcommand)]
pub enum TreesCommand {
    /// Train a model on a CSV file and save it as JSON.
    Train(Box<TrainArgs>),
    /// Predict with a saved model; writes a CSV with a `prediction` column (or `proba_<class>` columns).
    Predict(PredictArgs),
    /// Evaluate a saved model on a labelled CSV file; prints the metrics as JSON.
    Eval(EvalArgs),
}

/// The model families `tessera trees train` offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModelKind {
    /// A single CART tree.
    #[value(alias = "tree", alias = "decision-tree")]
    Cart,
    /// Random Forest.
    #[value(alias = "random-forest", alias = "randomforest", alias = "random_forest")]
    Rf,
    /// Extra Trees.
    #[value(alias = "extratrees", alias = "extra_trees")]
    ExtraTrees,
    /// AdaBoost (SAMME for classes, R2 for values) over trees.
    Adaboost,
    /// Bagged trees.
    Bagging,
    /// Stacking of a random forest and extra trees under logistic or ridge regression.
    Stacking,
    /// Gradient boosting (Friedman): depth-3 trees fitted to the loss's negative gradient.
    #[value(alias = "gradient-boosting", alias = "gbm")]
    Gbdt,
    /// The XGBoost-class histogram booster (XGBoost's parameter names: --objective, --lambda, ...).
    #[value(alias = "xgboost", alias = "booster")]
    Hist,
}

/// Arguments of `tessera trees train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// The model family.
    #[arg(long, value_enum)]
    pub model: ModelKind,
    /// Training data: a CSV file with a header.
    #[arg(long)]
    pub data: PathBuf,
    /// The target column.
    #[arg(long)]
    pub target: String,
    /// The task (default: inferred from the target column).
    #[arg(long, value_enum)]
    pub task: Option<TaskArg>,
    /// Where to save the model (JSON, written atomically; `-` for stdout).
    #[arg(long)]
    pub out: PathBuf,
    /// Number of trees / boosting rounds / bagged members.
    #[arg(long)]
    pub n_estimators: Option<usize>,
    /// Maximum tree depth.
    #[arg(long)]
    pub max_depth: Option<usize>,
    /// Features per split: sqrt, log2, all, a fraction (0.5) or a count (3).
    #[arg(long)]
    pub max_features: Option<MaxFeatures>,
    /// Minimum rows to split a node.
    #[arg(long)]
    pub min_samples_split: Option<usize>,
    /// Minimum rows per leaf.
    #[arg(long)]
    pub min_samples_leaf: Option<usize>,
    /// Grow best-first to at most this many leaves.
    #[arg(long)]
    pub max_leaf_nodes: Option<usize>,
    /// Split criterion: gini, entropy, squared_error, absolute_error.
    #[arg(long)]
    pub criterion: Option<Criterion>,
    /// Cost-complexity pruning parameter.
    #[arg(long, allow_negative_numbers = true)]
    pub ccp_alpha: Option<f64>,
    /// AdaBoost / gradient boosting learning rate.
    #[arg(long, allow_negative_numbers = true)]
    pub learning_rate: Option<f64>,
    /// Gradient boosting loss: squared_error, absolute_error, huber, quantile (regression), log_loss.
    #[arg(long)]
    pub loss: Option<GbLoss>,
    /// Huber and quantile losses: the alpha quantile (default 0.9).
    #[arg(long, allow_negative_numbers = true)]
    pub alpha: Option<f64>,
    /// Gradient boosting: fraction of rows per round.
    #[arg(long, allow_negative_numbers = true)]
    pub subsample: Option<f64>,
    /// Histogram booster objective (XGBoost's names): reg:squarederror, reg:absoluteerror,
    /// reg:pseudohubererror, binary:logistic, multi:softprob, count:poisson.
    #[arg(long)]
    pub objective: Option<Objective>,
    /// Histogram booster: L2 regularisation of leaf weights.
    #[arg(long, allow_negative_numbers = true)]
    pub lambda: Option<f64>,
    /// Histogram booster: L1 regularisation of leaf weights (XGBoost's `alpha`; see --alpha for quantiles).
    #[arg(long = "reg-alpha", allow_negative_numbers = true)]
    pub reg_alpha: Option<f64>,
    /// Histogram booster: minimum loss reduction to split.
    #[arg(long, allow_negative_numbers = true)]
    pub gamma: Option<f64>,
    /// Histogram booster: minimum hessian sum per child.
    #[arg(long, allow_negative_numbers = true)]
    pub min_child_weight: Option<f64>,
    /// Histogram booster: fraction of features per tree.
    #[arg(long, allow_negative_numbers = true)]
    pub colsample_bytree: Option<f64>,
    /// Histogram booster: fraction of the tree's features drawn for each depth.
    #[arg(long, allow_negative_numbers = true)]
    pub colsample_bylevel: Option<f64>,
    /// Histogram booster: fraction of the level's features drawn for each node.
    #[arg(long, allow_negative_numbers = true)]
    pub colsample_bynode: Option<f64>,
    /// Histogram booster: monotone constraints per feature, XGBoost's syntax: "(1,0,-1)".
    #[arg(long)]
    pub monotone_constraints: Option<String>,
    /// Histogram booster: bins per feature (2..=256; cut points are weighted quantiles).
    #[arg(long)]
    pub max_bin: Option<usize>,
    /// Histogram booster: categorical feature columns, by name or 0-based index, comma-separated
    /// ("store,weekday"); their values must be integer categories >= 0 (empty cells are missing).
    #[arg(long)]
    pub categorical_features: Option<String>,
    /// Histogram booster: one-hot categorical splits below this many categories (default 4).
    #[arg(long)]
    pub max_cat_to_onehot: Option<usize>,
    /// Histogram booster: the most categories in one partition-based split's set (default 64).
    #[arg(long)]
    pub max_cat_threshold: Option<usize>,
    /// Histogram booster: metric of --eval-data and early stopping: rmse, mae, logloss, mlogloss,
    /// error, auc or poisson-nloglik (default: the objective's).
    #[arg(long)]
    pub eval_metric: Option<EvalMetric>,
    /// Histogram booster: maximum leaves per tree (with --grow-policy lossguide).
    #[arg(long)]
    pub max_leaves: Option<usize>,
    /// Histogram booster: depthwise (default) or lossguide.
    #[arg(long)]
    pub grow_policy: Option<GrowPolicy>,
    /// Histogram booster: a labelled CSV evaluated after every round (same target column).
    #[arg(long)]
    pub eval_data: Option<PathBuf>,
    /// Histogram booster: stop when the eval metric has not improved for this many rounds.
    #[arg(long)]
    pub early_stopping_rounds: Option<usize>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Model file format: tessera's, or (for `--model hist`) XGBoost's JSON schema, loadable by XGBoost.
    #[arg(long, value_enum, default_value_t = SaveFormat::Tessera)]
    pub save_format: SaveFormat,
    /// Forests: sample rows with replacement (true/false).
    #[arg(long)]
    pub bootstrap: Option<bool>,
    /// Forests and bagging: compute the out-of-bag score.
    #[arg(long)]
    pub oob_score: bool,
    /// Stacking: folds for the out-of-fold predictions (default 5).
    #[arg(long)]
    pub cv: Option<usize>,
    /// Stacking: also feed the original features to the meta learner.
    #[arg(long)]
    pub passthrough: bool,
    /// Random seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Columns to leave out of the features (ids, free text); repeat the flag or separate with commas.
    #[arg(long, value_delimiter = ',')]
    pub ignore: Vec<String>,
}

/// Formats `tessera trees train` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SaveFormat {
    /// tessera's versioned JSON (any model).
    Tessera,
    /// XGBoost's `model.json` schema (histogram booster only).
    Xgboost,
}

/// Arguments of `tessera trees predict`.
#[derive(Debug, Args)]
pub struct PredictArgs {
    /// A model saved by `tessera trees train`.
    #[arg(long)]
    pub model: PathBuf,
    /// The rows to predict: a CSV file with (at least) the training feature columns.
    #[arg(long)]
    pub data: PathBuf,
    /// Where to write the predictions (CSV, written atomically; `-` for stdout).
    #[arg(long)]
    pub out: PathBuf,
    /// Write class probabilities (`proba_<class>` columns) instead of labels.
    #[arg(long)]
    pub proba: bool,
    /// The model file's format (default: detected).
    #[arg(long, value_enum, default_value_t = ModelFormat::Auto)]
    pub format: ModelFormat,
    /// Predict with every boosting round, not the best one early stopping found.
    #[arg(long)]
    pub all_rounds: bool,
    /// A column of the file that is not a feature (the label, as `train` and `eval` name it): left out, so
    /// that a model without feature names (an XGBoost model trained from arrays) takes the remaining columns
    /// in order.
    #[arg(long)]
    pub target: Option<String>,
    /// Also write each feature's contribution to the margin (TreeSHAP; histogram booster and XGBoost models)
    /// as `contrib_<feature>` columns plus `bias` (per class `contrib_<class>_<feature>` for several classes).
    #[arg(long)]
    pub contributions: bool,
}

/// Model file formats `predict` and `eval` read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModelFormat {
    /// Detect from the content.
    Auto,
    /// A model saved by `tessera trees train`.
    Tessera,
    /// A `model.json` saved by XGBoost (gbtree).
    Xgboost,
}

/// Arguments of `tessera trees eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// A model saved by `tessera trees train`.
    #[arg(long)]
    pub model: PathBuf,
    /// Labelled rows: a CSV file with the feature columns and the target.
    #[arg(long)]
    pub data: PathBuf,
    /// The target column.
    #[arg(long)]
    pub target: String,
    /// The model file's format (default: detected).
    #[arg(long, value_enum, default_value_t = ModelFormat::Auto)]
    pub format: ModelFormat,
    /// Evaluate every boosting round, not the best one early stopping found.
    #[arg(long)]
    pub all_rounds: bool,
}
