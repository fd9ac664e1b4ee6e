//! # tessera-trees
//!
//! Decision trees and their ensembles, measured against scikit-learn:
//!
//! - [`DecisionTreeClassifier`] / [`DecisionTreeRegressor`]: CART with gini, entropy, squared and absolute
//!   error; depth, leaf-size, impurity-decrease, `max_features` and best-first `max_leaf_nodes` limits;
//!   cost-complexity pruning; missing values (NaN) sent to the side that lowers impurity;
//! - [`Model`]/[`Estimator`]: the vocabulary every model implements, so ensembles take any estimator;
//! - [`metrics`]: accuracy, log loss, ROC AUC, RMSE, MAE, R², confusion matrix;
//! - versioned JSON persistence ([`save_model`], [`load_model`]).
//!
//! Large nodes are split with quantile histograms (255 bins) and small ones exactly, so training scales
//! to millions of rows while small problems get exact CART splits.
//!
//! ```
//! use tessera_datasets::{load_iris, train_test_split};
//! use tessera_trees::{DecisionTreeClassifier, Estimator, Model, metrics};
//!
//! let (train, test) = train_test_split(&load_iris(), 0.3, 0, true).unwrap();
//! let tree = DecisionTreeClassifier::new().max_depth(3).fit_dataset(&train).unwrap();
//! let acc = metrics::accuracy(test.targets(), tree.predict(test.features()).unwrap().view()).unwrap();
//! assert!(acc > 0.9);
//! ```

// `!(x > 0.0)` is deliberate in parameter checks: it rejects NaN as well as out-of-range values.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

mod adaboost;
mod any;
mod bagging;
mod binning;
mod booster;
mod booster_grow;
mod booster_objective;
mod booster_partition;
mod criterion;
mod data;
mod decision_tree;
mod ensemble;
mod error;
mod estimator;
mod forest;
mod gbdt;
mod grow;
mod inspection;
mod linear;
mod mae;
pub mod metrics;
mod params;
mod persist;
mod prune;
mod shap;
mod split;
mod stats;
mod tree;
mod xgboost_json;

pub use adaboost::{
    AdaBoostClassifier, AdaBoostRegressor, FittedAdaBoostClassifier, FittedAdaBoostRegressor, R2Loss,
};
pub use any::{AnyEstimator, AnyModel};
pub use bagging::{Bagging, BaggingClassifier, BaggingRegressor, FittedBagging};
pub use booster::{
    BoosterParams, EvalMetric, EvalSet, FittedBooster, GrowPolicy, HistGradientBooster, Objective,
    booster_metric,
};
pub use criterion::Criterion;
pub use data::ClassLabels;
pub use decision_tree::{DecisionTreeClassifier, DecisionTreeRegressor, FittedTree, TreeParams};
pub use ensemble::{
    FittedStacking, FittedVoting, StackingClassifier, StackingParams, StackingRegressor, Voting,
    VotingEnsemble,
};
pub use error::{Error, Result};
pub use estimator::{Estimator, Model};
pub use forest::{
    ExtraTreesClassifier, ExtraTreesRegressor, FittedForest, ForestParams, RandomForestClassifier,
    RandomForestRegressor,
};
pub use gbdt::{
    FittedGradientBoosting, GbLoss, GbParams, GradientBoostingClassifier, GradientBoostingRegressor,
};
pub use inspection::{PermutationImportance, permutation_importance};
pub use linear::{FittedLogistic, FittedRidge, LogisticRegression, Ridge};
pub use params::{MaxFeatures, Splitter};
pub use persist::{FORMAT_VERSION, load_model, model_from_json, model_kind, model_to_json, save_model};
pub use tree::{Tree, is_category};
pub use xgboost_json::{booster_from_xgboost_json, booster_to_xgboost_json, load_xgboost_json};
