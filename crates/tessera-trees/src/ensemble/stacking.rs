//! Heterogeneous ensembles (scikit-learn's `StackingClassifier` / `StackingRegressor` and
//! `VotingClassifier` / `VotingRegressor`) over [`AnyEstimator`]s.
//!
//! Stacking fits each base estimator K times on K-fold training parts (stratified for classifiers) and
//! collects its out-of-fold predictions: class probabilities for classifiers (the first column dropped for
//! two classes, as scikit-learn does), values for regressors. The meta learner (logistic or ridge
//! regression by default) is fitted on those columns, plus the original features with `passthrough`. The
//! base estimators are then refitted on all rows for prediction.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis, concatenate};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use tessera_datasets::{KFold, StratifiedKFold};

use super::linear::{LogisticRegression, Ridge};
use crate::any::{AnyEstimator, AnyModel};
use crate::check;
use crate::data::{ClassLabels, check_fit_input};
use crate::error::{Error, Result, invalid, shape};
use crate::error::{bad_model, model_agrees, model_finite};
use crate::estimator::{Estimator, Model, aligned_output, check_predict};
use crate::stats::argmax;

/// Stacking hyperparameters shared by the classifier and the regressor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackingParams {
    /// Named base estimators.
    pub estimators: Vec<(String, AnyEstimator)>,
    /// The meta learner.
    pub final_estimator: AnyEstimator,
    /// Folds for the out-of-fold predictions (at least 2).
    pub cv: usize,
    /// Also feed the original features to the meta learner.
    pub passthrough: bool,
    /// Seed for the fold shuffle and the estimators.
    pub seed: u64,
}

/// A stacking classifier (default meta learner: logistic regression).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackingClassifier {
    /// Its hyperparameters.
    pub params: StackingParams,
}

/// A stacking regressor (default meta learner: ridge regression).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackingRegressor {
    /// Its hyperparameters.
    pub params: StackingParams,
}

impl StackingClassifier {
    /// Stacks `estimators` under a logistic regression, 5 stratified folds.
    pub fn new(estimators: Vec<(String, AnyEstimator)>) -> Self {
        StackingClassifier {
            params: StackingParams {
                estimators,
                final_estimator: AnyEstimator::LogisticRegression(LogisticRegression::default()),
                cv: 5,
                passthrough: false,
                seed: 0,
            },
        }
    }
}

impl StackingRegressor {
    /// Stacks `estimators` under a ridge regression, 5 folds.
    pub fn new(estimators: Vec<(String, AnyEstimator)>) -> Self {
        StackingRegressor {
            params: StackingParams {
                estimators,
                final_estimator: AnyEstimator::Ridge(Ridge::default()),
                cv: 5,
                passthrough: false,
                seed: 0,
            },
        }
    }
}

/// A fitted stacking ensemble.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedStacking {
    /// The base models, refitted on all rows.
    pub base: Vec<(String, AnyModel)>,
    /// The meta model.
    pub meta: Box<AnyModel>,
    /// All class labels (classifiers only).
    pub classes: Option<Vec<f32>>,
    /// Whether the original features feed the meta model.
    pub passthrough: bool,
    /// Feature columns at fit time.
    pub n_features: usize,
}

/// The meta-feature columns one base model contributes for `x`.
fn meta_columns(model: &AnyModel, x: ArrayView2<'_, f32>, classes: Option<&[f32]>) -> Result<Array2<f32>> {
    let out = aligned_output(model, x, classes)?;
    // Two classes: the second column carries all the information (scikit-learn drops the first).
    Ok(if classes.is_some_and(|c| c.len() == 2) { out.slice_move(ndarray::s![.., 1..]) } else { out })
}

impl StackingParams {
    fn fit(
        &self,
        x: ArrayView2<'_, f32>,
        y: ArrayView1<'_, f32>,
        w: Option<ArrayView1<'_, f32>>,
        classify: bool,
    ) -> Result<FittedStacking> {
        check::at_least("estimators", self.estimators.len(), 1)?;
        check::at_least("cv", self.cv, 2)?;
        let weights = check_fit_input(x, y, w)?;
        let classes = if classify { Some(ClassLabels::fit(y)?.0.classes) } else { None };
        let labels = y.to_vec();
        let folds = if classify {
            StratifiedKFold { n_splits: self.cv, shuffle: true, seed: self.seed }.split(&labels)
        } else {
            KFold { n_splits: self.cv, shuffle: true, seed: self.seed }.split(x.nrows())
        }
        .map_err(|e| invalid("cv", "at most as many folds as rows (and members of each class)", e))?;
        let columns_per = classes.as_ref().map_or(1, |c| if c.len() == 2 { 1 } else { c.len() });
        // Out-of-fold predictions of every base estimator, then the base estimators refitted on all rows.
        let per_base: Vec<(Array2<f32>, AnyModel)> = self
            .estimators
            .par_iter()
            .enumerate()
            .map(|(b, (_, est))| {
                let est = est.with_seed(self.seed.wrapping_add(b as u64));
                let mut oof = Array2::<f32>::zeros((x.nrows(), columns_per));
                for fold in &folds {
                    let xt = x.select(Axis(0), &fold.train);
                    let yt = y.select(Axis(0), &fold.train);
                    let wt: Array1<f32> = fold.train.iter().map(|&r| weights[r]).collect();
                    let m = est.fit_weighted(xt.view(), yt.view(), Some(wt.view()))?;
                    let xv = x.select(Axis(0), &fold.test);
                    let cols = meta_columns(&m, xv.view(), classes.as_deref())?;
                    for (k, &r) in fold.test.iter().enumerate() {
                        oof.row_mut(r).assign(&cols.row(k));
                    }
                }
                let full = est.fit_weighted(x, y, Some(ArrayView1::from(&weights)))?;
                Ok((oof, full))
            })
            .collect::<Result<_>>()?;
        let mut blocks: Vec<ArrayView2<'_, f32>> = per_base.iter().map(|(o, _)| o.view()).collect();
        if self.passthrough {
            blocks.push(x);
        }
        let meta_x = concatenate(Axis(1), &blocks)
            .map_err(|e| shape("assembled predictions", "consistent block shapes", e))?;
        let meta = self.final_estimator.fit_weighted(meta_x.view(), y, Some(ArrayView1::from(&weights)))?;
        let base = self.estimators.iter().zip(per_base).map(|((n, _), (_, m))| (n.clone(), m)).collect();
        Ok(FittedStacking {
            base,
            meta: Box::new(meta),
            classes,
            passthrough: self.passthrough,
            n_features: x.ncols(),
        })
    }
}

impl FittedStacking {
    /// The meta learner's input for `x`.
    pub fn meta_features(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        check_predict(self, x)?;
        let cols: Vec<Array2<f32>> = self
            .base
            .iter()
            .map(|(_, m)| meta_columns(m, x, self.classes.as_deref()))
            .collect::<Result<_>>()?;
        let mut blocks: Vec<ArrayView2<'_, f32>> = cols.iter().map(|c| c.view()).collect();
        if self.passthrough {
            blocks.push(x);
        }
        concatenate(Axis(1), &blocks)
            .map_err(|e| shape("assembled predictions", "consistent block shapes", e))
    }
}

/// Class labels of an ensemble, when it has them.
fn check_classes(classes: Option<&[f32]>) -> Result<()> {
    match classes {
        Some(c) => crate::data::check_labels("classes", c, None),
        None => Ok(()),
    }
}

impl Model for FittedStacking {
    fn validate(&self) -> Result<()> {
        if self.base.is_empty() {
            return Err(bad_model("base", "at least one base model", 0));
        }
        check_classes(self.classes.as_deref())?;
        for (i, (_, m)) in self.base.iter().enumerate() {
            m.validate()?;
            model_agrees(
                format_args!("base[{i}].n_features"),
                m.n_features(),
                self.n_features,
                "the model's",
            )?;
        }
        self.meta.validate()?;
        // Each base model gives one column per class (one for two classes, as in `meta_columns`) or one
        // prediction; passthrough adds the original features.
        let per_base = match self.classes.as_deref() {
            Some(c) if c.len() > 2 => c.len(),
            _ => 1,
        };
        let expected = self.base.len() * per_base + if self.passthrough { self.n_features } else { 0 };
        model_agrees("meta.n_features", self.meta.n_features(), expected, "the base models' columns")
    }

    fn predict(&self, x: ArrayView2<'_, f32>) -> Result<Array1<f32>> {
        self.meta.predict(self.meta_features(x)?.view())
    }

    fn n_features(&self) -> usize {
        self.n_features
    }

    fn classes(&self) -> Option<&[f32]> {
        self.classes.as_deref()
    }

    fn predict_proba(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        self.meta.predict_proba(self.meta_features(x)?.view())
    }
}

macro_rules! stacking_estimator {
    ($name:ident, $classify:literal) => {
        impl Estimator for $name {
            type Model = FittedStacking;

            fn fit_weighted(
                &self,
                x: ArrayView2<'_, f32>,
                y: ArrayView1<'_, f32>,
                w: Option<ArrayView1<'_, f32>>,
            ) -> Result<FittedStacking> {
                self.params.fit(x, y, w, $classify)
            }

            fn with_seed(&self, seed: u64) -> Self {
                let mut c = self.clone();
                c.params.seed = seed;
                c
            }
        }
    };
}

stacking_estimator!(StackingClassifier, true);
stacking_estimator!(StackingRegressor, false);

/// How a voting classifier combines its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Voting {
    /// Weighted majority of the predicted labels.
    Hard,
    /// Argmax of the weighted average of the class probabilities.
    Soft,
}

/// A voting classifier (hard or soft) or regressor (weighted mean) over named estimators.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VotingEnsemble {
    /// Named members.
    pub estimators: Vec<(String, AnyEstimator)>,
    /// Hard or soft voting (classifiers only).
    pub voting: Voting,
    /// Member weights (default: equal).
    pub weights: Option<Vec<f64>>,
    /// Seed for the members.
    pub seed: u64,
}

impl VotingEnsemble {
    /// Equal-weight voting of `estimators`.
    pub fn new(estimators: Vec<(String, AnyEstimator)>, voting: Voting) -> Self {
        VotingEnsemble { estimators, voting, weights: None, seed: 0 }
    }
}

/// A fitted voting ensemble.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedVoting {
    /// The fitted members.
    pub members: Vec<(String, AnyModel)>,
    /// Member weights.
    pub weights: Vec<f64>,
    /// Hard or soft voting.
    pub voting: Voting,
    /// All class labels (classifiers only).
    pub classes: Option<Vec<f32>>,
    /// Feature columns at fit time.
    pub n_features: usize,
}

impl Estimator for VotingEnsemble {
    type Model = FittedVoting;

    fn fit_weighted(
        &self,
        x: ArrayView2<'_, f32>,
        y: ArrayView1<'_, f32>,
        w: Option<ArrayView1<'_, f32>>,
    ) -> Result<FittedVoting> {
        check::at_least("estimators", self.estimators.len(), 1)?;
        let weights = match &self.weights {
            Some(v) if v.len() != self.estimators.len() => {
                return Err(invalid(
                    "weights",
                    format!("{} weights (one per estimator)", self.estimators.len()),
                    v.len(),
                ));
            }
            Some(v) => v.clone(),
            None => vec![1.0; self.estimators.len()],
        };
        let classify = self.estimators[0].1.is_classifier();
        if self.estimators.iter().any(|(_, e)| e.is_classifier() != classify) {
            return Err(invalid("estimators", "all classifiers or all regressors", "a mix"));
        }
        check_fit_input(x, y, w)?;
        let classes = if classify { Some(ClassLabels::fit(y)?.0.classes) } else { None };
        let members = self
            .estimators
            .par_iter()
            .enumerate()
            .map(|(i, (n, e))| {
                Ok((n.clone(), e.with_seed(self.seed.wrapping_add(i as u64)).fit_weighted(x, y, w)?))
            })
            .collect::<Result<_>>()?;
        Ok(FittedVoting { members, weights, voting: self.voting, classes, n_features: x.ncols() })
    }

    fn with_seed(&self, seed: u64) -> Self {
        let mut c = self.clone();
        c.seed = seed;
        c
    }
}

impl FittedVoting {
    fn soft(&self, x: ArrayView2<'_, f32>, all: &[f32]) -> Result<Array2<f32>> {
        let mut acc = Array2::<f32>::zeros((x.nrows(), all.len()));
        let total: f64 = self.weights.iter().sum();
        for ((_, m), &w) in self.members.iter().zip(&self.weights) {
            acc.scaled_add((w / total) as f32, &aligned_output(m, x, Some(all))?);
        }
        Ok(acc)
    }
}

impl Model for FittedVoting {
    fn validate(&self) -> Result<()> {
        if self.members.is_empty() {
            return Err(bad_model("members", "at least one member", 0));
        }
        check_classes(self.classes.as_deref())?;
        model_agrees("weights", self.weights.len(), self.members.len(), "one weight per member")?;
        model_finite("weights", self.weights.iter().copied())?;
        if !(self.weights.iter().sum::<f64>() > 0.0) {
            return Err(bad_model("weights", "a positive total", self.weights.iter().sum::<f64>()));
        }
        for (i, (_, m)) in self.members.iter().enumerate() {
            m.validate()?;
            model_agrees(
                format_args!("members[{i}].n_features"),
                m.n_features(),
                self.n_features,
                "the model's",
            )?;
        }
        Ok(())
    }

    fn predict(&self, x: ArrayView2<'_, f32>) -> Result<Array1<f32>> {
        check_predict(self, x)?;
        let total: f64 = self.weights.iter().sum();
        match (&self.classes, self.voting) {
            (None, _) => {
                let mut acc = Array1::<f32>::zeros(x.nrows());
                for ((_, m), &w) in self.members.iter().zip(&self.weights) {
                    acc.scaled_add((w / total) as f32, &m.predict(x)?);
                }
                Ok(acc)
            }
            (Some(all), Voting::Soft) => {
                Ok(self.soft(x, all)?.outer_iter().map(|r| all[argmax(&r.to_vec())]).collect())
            }
            (Some(all), Voting::Hard) => {
                let mut votes = Array2::<f32>::zeros((x.nrows(), all.len()));
                for ((_, m), &w) in self.members.iter().zip(&self.weights) {
                    for (i, p) in m.predict(x)?.iter().enumerate() {
                        if let Some(k) = all.iter().position(|a| a == p) {
                            votes[[i, k]] += w as f32;
                        }
                    }
                }
                Ok(votes.outer_iter().map(|r| all[argmax(&r.to_vec())]).collect())
            }
        }
    }

    fn n_features(&self) -> usize {
        self.n_features
    }

    fn classes(&self) -> Option<&[f32]> {
        self.classes.as_deref()
    }

    fn predict_proba(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        check_predict(self, x)?;
        match (&self.classes, self.voting) {
            (Some(all), Voting::Soft) => self.soft(x, all),
            (Some(_), Voting::Hard) => {
                Err(Error::Unsupported("hard voting has no probabilities; use Voting::Soft".into()))
            }
            (None, _) => Err(Error::Unsupported("a voting regressor has no class probabilities".into())),
        }
    }
}
