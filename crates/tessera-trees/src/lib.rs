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

mod any;
mod binning;
mod booster;
mod cart;
mod check;
mod data;
mod ensemble;
mod error;
mod estimator;
mod inspection;
pub mod metrics;
mod persist;
mod stats;
mod tree;

pub use any::{AnyEstimator, AnyModel};
pub use booster::{
    BoosterParams, EvalMetric, EvalSet, FitOptions, FittedBooster, GrowPolicy, HistGradientBooster,
    Objective, booster_from_xgboost_json, booster_metric, booster_to_xgboost_json, load_xgboost_json,
};
pub use cart::{
    Criterion, DecisionTreeClassifier, DecisionTreeRegressor, FittedTree, MaxFeatures, Splitter, TreeParams,
};
pub use data::ClassLabels;
pub use ensemble::{
    AdaBoostClassifier, AdaBoostRegressor, Bagging, BaggingClassifier, BaggingRegressor,
    ExtraTreesClassifier, ExtraTreesRegressor, FittedAdaBoostClassifier, FittedAdaBoostRegressor,
    FittedBagging, FittedForest, FittedGradientBoosting, FittedLogistic, FittedRidge, FittedStacking,
    FittedVoting, ForestParams, GbLoss, GbParams, GradientBoostingClassifier, GradientBoostingRegressor,
    LogisticRegression, R2Loss, RandomForestClassifier, RandomForestRegressor, Ridge, StackingClassifier,
    StackingParams, StackingRegressor, Voting, VotingEnsemble,
};
pub use error::{Error, Result};
pub use estimator::{Estimator, Model, Prepared};
pub use inspection::{PermutationImportance, permutation_importance};
pub use persist::{FORMAT_VERSION, load_model, model_from_json, model_kind, model_to_json, save_model};
pub use tree::{Tree, is_category};
