//! One enum over every estimator and every fitted model of this crate, so heterogeneous ensembles
//! (stacking, voting) and the CLI can hold, fit and save any of them.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::booster::{FittedBooster, HistGradientBooster};
use crate::cart::{DecisionTreeClassifier, DecisionTreeRegressor, FittedTree};
use crate::ensemble::{
    AdaBoostClassifier, AdaBoostRegressor, ExtraTreesClassifier, ExtraTreesRegressor,
    FittedAdaBoostClassifier, FittedAdaBoostRegressor, FittedBagging, FittedForest, FittedGradientBoosting,
    FittedLogistic, FittedRidge, FittedStacking, FittedVoting, GradientBoostingClassifier,
    GradientBoostingRegressor, LogisticRegression, RandomForestClassifier, RandomForestRegressor, Ridge,
};
use crate::error::Result;
use crate::estimator::{Estimator, Model, Prepared};

/// Any estimator of this crate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AnyEstimator {
    /// A CART classifier.
    DecisionTreeClassifier(DecisionTreeClassifier),
    /// A CART regressor.
    DecisionTreeRegressor(DecisionTreeRegressor),
    /// A random forest classifier.
    RandomForestClassifier(RandomForestClassifier),
    /// A random forest regressor.
    RandomForestRegressor(RandomForestRegressor),
    /// An extra trees classifier.
    ExtraTreesClassifier(ExtraTreesClassifier),
    /// An extra trees regressor.
    ExtraTreesRegressor(ExtraTreesRegressor),
    /// SAMME AdaBoost over trees.
    AdaBoostClassifier(AdaBoostClassifier),
    /// AdaBoost.R2 over trees.
    AdaBoostRegressor(AdaBoostRegressor),
    /// Logistic regression.
    LogisticRegression(LogisticRegression),
    /// Ridge regression.
    Ridge(Ridge),
    /// Gradient boosting classifier.
    GradientBoostingClassifier(GradientBoostingClassifier),
    /// Gradient boosting regressor.
    GradientBoostingRegressor(GradientBoostingRegressor),
    /// The histogram booster (a classifier or a regressor by its objective).
    HistGradientBooster(HistGradientBooster),
}

/// Any fitted model of this crate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AnyModel {
    /// A fitted tree.
    Tree(FittedTree),
    /// A fitted forest.
    Forest(FittedForest),
    /// A fitted SAMME classifier.
    AdaBoostClassifier(FittedAdaBoostClassifier<FittedTree>),
    /// A fitted AdaBoost.R2 regressor.
    AdaBoostRegressor(FittedAdaBoostRegressor<FittedTree>),
    /// A fitted logistic regression.
    Logistic(FittedLogistic),
    /// A fitted ridge regression.
    Ridge(FittedRidge),
    /// A fitted bagging ensemble of trees.
    Bagging(FittedBagging<FittedTree>),
    /// A fitted stacking ensemble.
    Stacking(FittedStacking),
    /// A fitted voting ensemble.
    Voting(FittedVoting),
    /// A fitted gradient boosting model.
    GradientBoosting(FittedGradientBoosting),
    /// A fitted histogram booster.
    Booster(FittedBooster),
}

macro_rules! dispatch_model {
    ($self:expr, $m:ident => $e:expr) => {
        match $self {
            AnyModel::Tree($m) => $e,
            AnyModel::Forest($m) => $e,
            AnyModel::AdaBoostClassifier($m) => $e,
            AnyModel::AdaBoostRegressor($m) => $e,
            AnyModel::Logistic($m) => $e,
            AnyModel::Ridge($m) => $e,
            AnyModel::Bagging($m) => $e,
            AnyModel::Stacking($m) => $e,
            AnyModel::Voting($m) => $e,
            AnyModel::GradientBoosting($m) => $e,
            AnyModel::Booster($m) => $e,
        }
    };
}

impl Model for AnyModel {
    fn validate(&self) -> Result<()> {
        dispatch_model!(self, m => m.validate())
    }

    fn predict(&self, x: ArrayView2<'_, f32>) -> Result<Array1<f32>> {
        dispatch_model!(self, m => m.predict(x))
    }

    fn n_features(&self) -> usize {
        dispatch_model!(self, m => m.n_features())
    }

    fn classes(&self) -> Option<&[f32]> {
        dispatch_model!(self, m => m.classes())
    }

    fn predict_proba(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        dispatch_model!(self, m => m.predict_proba(x))
    }
}

impl AnyEstimator {
    /// Whether this estimator is a classifier.
    pub fn is_classifier(&self) -> bool {
        matches!(
            self,
            AnyEstimator::DecisionTreeClassifier(_)
                | AnyEstimator::RandomForestClassifier(_)
                | AnyEstimator::ExtraTreesClassifier(_)
                | AnyEstimator::AdaBoostClassifier(_)
                | AnyEstimator::LogisticRegression(_)
                | AnyEstimator::GradientBoostingClassifier(_)
        ) || matches!(self, AnyEstimator::HistGradientBooster(b) if b.is_classifier())
    }
}

impl Estimator for AnyEstimator {
    type Model = AnyModel;

    fn fit_weighted(
        &self,
        x: ArrayView2<'_, f32>,
        y: ArrayView1<'_, f32>,
        w: Option<ArrayView1<'_, f32>>,
    ) -> Result<AnyModel> {
        Ok(match self {
            AnyEstimator::DecisionTreeClassifier(e) => AnyModel::Tree(e.fit_weighted(x, y, w)?),
            AnyEstimator::DecisionTreeRegressor(e) => AnyModel::Tree(e.fit_weighted(x, y, w)?),
            AnyEstimator::RandomForestClassifier(e) => AnyModel::Forest(e.fit_weighted(x, y, w)?),
            AnyEstimator::RandomForestRegressor(e) => AnyModel::Forest(e.fit_weighted(x, y, w)?),
            AnyEstimator::ExtraTreesClassifier(e) => AnyModel::Forest(e.fit_weighted(x, y, w)?),
            AnyEstimator::ExtraTreesRegressor(e) => AnyModel::Forest(e.fit_weighted(x, y, w)?),
            AnyEstimator::AdaBoostClassifier(e) => AnyModel::AdaBoostClassifier(e.fit_weighted(x, y, w)?),
            AnyEstimator::AdaBoostRegressor(e) => AnyModel::AdaBoostRegressor(e.fit_weighted(x, y, w)?),
            AnyEstimator::LogisticRegression(e) => AnyModel::Logistic(e.fit_weighted(x, y, w)?),
            AnyEstimator::Ridge(e) => AnyModel::Ridge(e.fit_weighted(x, y, w)?),
            AnyEstimator::GradientBoostingClassifier(e) => {
                AnyModel::GradientBoosting(e.fit_weighted(x, y, w)?)
            }
            AnyEstimator::GradientBoostingRegressor(e) => {
                AnyModel::GradientBoosting(e.fit_weighted(x, y, w)?)
            }
            AnyEstimator::HistGradientBooster(e) => AnyModel::Booster(e.fit_weighted(x, y, w)?),
        })
    }

    fn fit_prepared(&self, data: &Prepared<'_>, w: Option<ArrayView1<'_, f32>>) -> Result<AnyModel> {
        match self {
            AnyEstimator::DecisionTreeClassifier(e) => Ok(AnyModel::Tree(e.fit_prepared(data, w)?)),
            AnyEstimator::DecisionTreeRegressor(e) => Ok(AnyModel::Tree(e.fit_prepared(data, w)?)),
            _ => self.fit_weighted(data.x(), data.y(), w),
        }
    }

    fn with_seed(&self, seed: u64) -> Self {
        match self {
            AnyEstimator::DecisionTreeClassifier(e) => {
                AnyEstimator::DecisionTreeClassifier(e.with_seed(seed))
            }
            AnyEstimator::DecisionTreeRegressor(e) => AnyEstimator::DecisionTreeRegressor(e.with_seed(seed)),
            AnyEstimator::RandomForestClassifier(e) => {
                AnyEstimator::RandomForestClassifier(e.with_seed(seed))
            }
            AnyEstimator::RandomForestRegressor(e) => AnyEstimator::RandomForestRegressor(e.with_seed(seed)),
            AnyEstimator::ExtraTreesClassifier(e) => AnyEstimator::ExtraTreesClassifier(e.with_seed(seed)),
            AnyEstimator::ExtraTreesRegressor(e) => AnyEstimator::ExtraTreesRegressor(e.with_seed(seed)),
            AnyEstimator::AdaBoostClassifier(e) => AnyEstimator::AdaBoostClassifier(e.with_seed(seed)),
            AnyEstimator::AdaBoostRegressor(e) => AnyEstimator::AdaBoostRegressor(e.with_seed(seed)),
            AnyEstimator::LogisticRegression(e) => AnyEstimator::LogisticRegression(e.with_seed(seed)),
            AnyEstimator::Ridge(e) => AnyEstimator::Ridge(e.with_seed(seed)),
            AnyEstimator::GradientBoostingClassifier(e) => {
                AnyEstimator::GradientBoostingClassifier(e.with_seed(seed))
            }
            AnyEstimator::GradientBoostingRegressor(e) => {
                AnyEstimator::GradientBoostingRegressor(e.with_seed(seed))
            }
            AnyEstimator::HistGradientBooster(e) => AnyEstimator::HistGradientBooster(e.with_seed(seed)),
        }
    }
}
