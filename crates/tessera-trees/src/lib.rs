//! # tessera-trees
//!
//! Decision trees and their ensembles, measured against scikit-learn, XGBoost and LightGBM. The crate is
//! laid out by family, each layer standing only on the ones below it (checked by `cargo xtask tidy`):
//!
//! | folder | what it holds |
//! |---|---|
//! | `tree/` | the fitted [`Tree`] (flat nodes, batch prediction, importances, validated serialized form), TreeSHAP |
//! | `binning/` | quantile bin codes shared by CART and the booster, edge guides, fixed-width code rows |
//! | `cart/` | [`DecisionTreeClassifier`] / [`DecisionTreeRegressor`]: parameters, training data, growth, split search, criteria, pruning |
//! | `ensemble/` | [`RandomForestClassifier`], Extra Trees, [`Bagging`], AdaBoost, [`GradientBoostingRegressor`] (Friedman), [`StackingClassifier`], [`VotingEnsemble`], linear meta-learners |
//! | `booster/` | [`HistGradientBooster`] (XGBoost's `hist` algorithm): parameters, gain, growth, partition, histograms, objectives, XGBoost `model.json` |
//!
//! Beside them: the [`Estimator`]/[`Model`] vocabulary every model implements (so ensembles take any
//! estimator, the booster included), one [`Error`] whose variants name the parameter or input, metrics,
//! permutation importance and versioned JSON persistence ([`save_model`], [`load_model`]). Every
//! hyperparameter is checked once before fitting; every enum parses from the reference library's names
//! (`"entropy".parse::<Criterion>()`, `"binary:logistic".parse::<Objective>()`).
//!
//! A CART tree:
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
//!
//! Ensembles of trees, and a stack of a forest and the booster:
//!
//! ```
//! use tessera_datasets::{load_breast_cancer, train_test_split};
//! use tessera_trees::{
//!     AnyEstimator, BoosterParams, Estimator, HistGradientBooster, Model, Objective, RandomForestClassifier,
//!     StackingClassifier, metrics,
//! };
//!
//! let (train, test) = train_test_split(&load_breast_cancer(), 0.3, 0, true).unwrap();
//! let forest = RandomForestClassifier::new().n_estimators(50).fit_dataset(&train).unwrap();
//! let booster = HistGradientBooster {
//!     params: BoosterParams { objective: Objective::Logistic, n_estimators: 50, ..Default::default() },
//! };
//! let stack = StackingClassifier::new(vec![
//!     ("forest".into(), AnyEstimator::RandomForestClassifier(RandomForestClassifier::new().n_estimators(30))),
//!     ("booster".into(), AnyEstimator::HistGradientBooster(booster)),
//! ])
//! .fit_dataset(&train)
//! .unwrap();
//! for predicted in [forest.predict(test.features()).unwrap(), stack.predict(test.features()).unwrap()] {
//!     assert!(metrics::accuracy(test.targets(), predicted.view()).unwrap() > 0.9);
//! }
//! ```
//!
//! The histogram booster with an evaluation set and early stopping:
//!
//! ```
//! use tessera_datasets::{load_diabetes, train_test_split};
//! use tessera_trees::{BoosterParams, FitOptions, HistGradientBooster, Model, metrics};
//!
//! let (train, valid) = train_test_split(&load_diabetes(), 0.3, 0, false).unwrap();
//! let booster = HistGradientBooster {
//!     params: BoosterParams { n_estimators: 300, learning_rate: 0.05, max_depth: 3, ..Default::default() },
//! };
//! let sets = [("valid", valid.features(), valid.targets())];
//! let options = FitOptions { eval_sets: &sets, early_stopping_rounds: Some(20), ..Default::default() };
//! let model = booster.fit_with(train.features(), train.targets(), options).unwrap();
//! assert!(model.best_iteration.is_some());
//! let rmse = metrics::rmse(valid.targets(), model.predict(valid.features()).unwrap().view()).unwrap();
//! assert!(rmse < 70.0);
//! ```
//!
//! A bad parameter is an error naming it:
//!
//! ```
//! use tessera_trees::{Error, Estimator, GradientBoostingRegressor};
//!
//! let mut gb = GradientBoostingRegressor::new();
//! gb.params.learning_rate = f64::INFINITY;
//! let x = ndarray::array![[1.0f32], [2.0], [3.0]];
//! let err = gb.fit(x.view(), ndarray::array![1.0f32, 2.0, 3.0].view()).unwrap_err();
//! assert!(matches!(err, Error::InvalidParameter { ref name, .. } if name == "learning_rate"));
//! ```
//!
//! Large nodes are split with quantile histograms (255 bins) and small ones exactly, so training scales
//! to millions of rows while small problems get exact CART splits.

// `!(x > 0.0)` is deliberate in parameter checks: it rejects NaN as well as out-of-range values.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

mod any;
mod binning;
mod booster;
mod cart;
mod check;
pub use check::MAX_ESTIMATORS;
mod data;
mod ensemble;
mod error;
mod estimator;
mod file;
mod inspection;
pub mod metrics;
mod persist;
mod stats;
mod tree;

pub use any::{AnyEstimator, AnyModel};
pub use booster::{
    BoosterParams, EvalMetric, EvalSet, FitOptions, FittedBooster, GrowPolicy, HistGradientBooster,
    Objective, XgboostModel, booster_from_xgboost_json, booster_metric, booster_to_xgboost_json,
    load_xgboost_json, read_xgboost_json,
};
pub use cart::{
    Criterion, DecisionTreeClassifier, DecisionTreeRegressor, FittedTree, MaxFeatures, Splitter, TreeParams,
};
pub use data::{ClassLabels, TARGET_LIMIT};
pub use ensemble::{
    AdaBoostClassifier, AdaBoostParams, AdaBoostRegressor, Bagging, BaggingClassifier, BaggingParams,
    BaggingRegressor, ExtraTreesClassifier, ExtraTreesRegressor, FittedAdaBoostClassifier,
    FittedAdaBoostRegressor, FittedBagging, FittedForest, FittedGradientBoosting, FittedLogistic,
    FittedRidge, FittedStacking, FittedVoting, ForestParams, GbLoss, GbParams, GradientBoostingClassifier,
    GradientBoostingRegressor, LogisticRegression, R2Loss, RandomForestClassifier, RandomForestRegressor,
    Ridge, StackingClassifier, StackingParams, StackingRegressor, Voting, VotingEnsemble,
};
pub use error::{Error, Result};
pub use estimator::{Estimator, Model, Prepared};
pub use inspection::{PermutationImportance, permutation_importance};
pub use persist::{
    FORMAT_VERSION, MAX_MODEL_BYTES, load_model, model_from_json, model_kind, model_to_json, read_model_text,
    save_model,
};
pub use tree::{Tree, VALUE_LIMIT, is_category};
