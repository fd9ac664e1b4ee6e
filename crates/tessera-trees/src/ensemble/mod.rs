//! Ensembles of estimators: Random Forest and Extra Trees, Bagging, AdaBoost (SAMME, R2), Friedman's
//! gradient boosting, Stacking and Voting, and the linear meta-learners stacking uses. Stands on
//! [`crate::cart`]; stacking and voting hold any model through [`crate::AnyModel`].

mod adaboost;
mod bagging;
mod forest;
mod gbdt;
mod linear;
mod stacking;

pub use adaboost::{
    AdaBoostClassifier, AdaBoostParams, AdaBoostRegressor, FittedAdaBoostClassifier, FittedAdaBoostRegressor,
    R2Loss,
};
pub use bagging::{Bagging, BaggingClassifier, BaggingParams, BaggingRegressor, FittedBagging};
pub use forest::{
    ExtraTreesClassifier, ExtraTreesRegressor, FittedForest, ForestParams, RandomForestClassifier,
    RandomForestRegressor,
};
pub use gbdt::{
    FittedGradientBoosting, GbLoss, GbParams, GradientBoostingClassifier, GradientBoostingRegressor,
};
pub use linear::{FittedLogistic, FittedRidge, LogisticRegression, Ridge};
pub use stacking::{
    FittedStacking, FittedVoting, StackingClassifier, StackingParams, StackingRegressor, Voting,
    VotingEnsemble,
};
