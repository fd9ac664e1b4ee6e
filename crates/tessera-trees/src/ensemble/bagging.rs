//! Bagging (scikit-learn's `BaggingClassifier` / `BaggingRegressor`) over any estimator: each member is
//! fitted on a random sample of the rows (with replacement by default) and optionally of the features;
//! classifiers average the members' class probabilities, regressors their predictions.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use tessera_tensor::SeededRng;

use crate::cart::{DecisionTreeClassifier, DecisionTreeRegressor};
use crate::check;
use crate::data::{ClassLabels, check_fit_input};
use crate::error::{Error, Result};
use crate::error::{bad_model, model_agrees};
use crate::estimator::{Estimator, Model, aligned_output, check_predict};
use crate::stats::argmax;

/// Bagging over base estimator `E`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bagging<E> {
    /// The base estimator.
    pub estimator: E,
    /// Members, samples and seed (flattened into the same JSON object as before).
    #[serde(flatten)]
    pub params: BaggingParams,
}

/// Hyperparameters of bagging, named and defaulted as scikit-learn's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaggingParams {
    /// Number of members.
    pub n_estimators: usize,
    /// Rows drawn per member, as a fraction of the rows.
    pub max_samples: f64,
    /// Features drawn per member, as a fraction of the features.
    pub max_features: f64,
    /// Draw rows with replacement.
    pub bootstrap: bool,
    /// Draw features with replacement.
    pub bootstrap_features: bool,
    /// Compute the out-of-bag score (accuracy or R²).
    pub oob_score: bool,
    /// Random seed.
    pub seed: u64,
}

impl Default for BaggingParams {
    fn default() -> Self {
        BaggingParams {
            n_estimators: 10,
            max_samples: 1.0,
            max_features: 1.0,
            bootstrap: true,
            bootstrap_features: false,
            oob_score: false,
            seed: 0,
        }
    }
}

impl BaggingParams {
    /// Checks every parameter once, before fitting.
    fn check(&self) -> Result<()> {
        check::n_estimators(self.n_estimators)?;
        check::fraction("max_samples", self.max_samples)?;
        check::fraction("max_features", self.max_features)?;
        check::oob_needs_bootstrap(self.oob_score, self.bootstrap)
    }
}

/// Bagged classification trees (scikit-learn's `BaggingClassifier()` defaults).
pub type BaggingClassifier = Bagging<DecisionTreeClassifier>;
/// Bagged regression trees (scikit-learn's `BaggingRegressor()` defaults).
pub type BaggingRegressor = Bagging<DecisionTreeRegressor>;

impl<E> Bagging<E> {
    /// Bagging of `estimator` with scikit-learn's defaults (10 members, bootstrap rows, all features).
    pub fn new(estimator: E) -> Self {
        Bagging { estimator, params: BaggingParams::default() }
    }

    /// Sets the number of members.
    pub fn n_estimators(mut self, n: usize) -> Self {
        self.params.n_estimators = n;
        self
    }

    /// Computes the out-of-bag score while fitting.
    pub fn oob_score(mut self, on: bool) -> Self {
        self.params.oob_score = on;
        self
    }

    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.params.seed = seed;
        self
    }
}

impl<E: Estimator> Estimator for Bagging<E> {
    type Model = FittedBagging<E::Model>;

    fn fit_weighted(
        &self,
        x: ArrayView2<'_, f32>,
        y: ArrayView1<'_, f32>,
        w: Option<ArrayView1<'_, f32>>,
    ) -> Result<Self::Model> {
        self.params.check()?;
        let weights = check_fit_input(x, y, w)?;
        let (n, d) = x.dim();
        let n_rows = ((self.params.max_samples * n as f64).round() as usize).max(1);
        let n_feats = ((self.params.max_features * d as f64).round() as usize).max(1);
        let base = SeededRng::new(self.params.seed);
        let fitted: Vec<(E::Model, Vec<usize>, Vec<bool>)> = (0..self.params.n_estimators)
            .into_par_iter()
            .map(|i| {
                let mut rng = base.fork(i as u64);
                let feats = draw(&mut rng, d, n_feats, self.params.bootstrap_features);
                let rows = draw(&mut rng, n, n_rows, self.params.bootstrap);
                let mut in_bag = vec![false; n];
                rows.iter().for_each(|&r| in_bag[r] = true);
                let xs = x.select(Axis(0), &rows).select(Axis(1), &feats);
                let ys = y.select(Axis(0), &rows);
                let ws: Array1<f32> = rows.iter().map(|&r| weights[r]).collect();
                let model = self.estimator.with_seed(rng.next_u64()).fit_weighted(
                    xs.view(),
                    ys.view(),
                    Some(ws.view()),
                )?;
                Ok((model, feats, in_bag))
            })
            .collect::<Result<_>>()?;
        let classes =
            fitted[0].0.classes().map(|_| ClassLabels::fit(y).map(|(l, _)| l.classes)).transpose()?;
        let mut in_bags = Vec::with_capacity(fitted.len());
        let mut members = Vec::with_capacity(fitted.len());
        let mut features = Vec::with_capacity(fitted.len());
        for (m, f, b) in fitted {
            members.push(m);
            features.push(f);
            in_bags.push(b);
        }
        let mut model = FittedBagging { members, features, classes, n_features: d, oob_score: None };
        if self.params.oob_score {
            model.oob_score = Some(model.oob(x, y, &in_bags)?);
        }
        Ok(model)
    }

    fn with_seed(&self, seed: u64) -> Self {
        let mut c = self.clone();
        c.params.seed = seed;
        c
    }
}

/// `k` indices from `0..n`, with or without replacement.
fn draw(rng: &mut SeededRng, n: usize, k: usize, replace: bool) -> Vec<usize> {
    if replace {
        (0..k).map(|_| rng.below(n)).collect()
    } else {
        let mut all: Vec<usize> = (0..n).collect();
        for i in 0..k.min(n) {
            let j = i + rng.below(n - i);
            all.swap(i, j);
        }
        all.truncate(k.min(n));
        all.sort_unstable();
        all
    }
}

/// A fitted bagging ensemble.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedBagging<M> {
    /// The members.
    pub members: Vec<M>,
    /// The feature columns each member was fitted on.
    pub features: Vec<Vec<usize>>,
    /// All class labels (classifiers only).
    pub classes: Option<Vec<f32>>,
    /// Feature columns at fit time.
    pub n_features: usize,
    /// The out-of-bag score, when asked for.
    pub oob_score: Option<f64>,
}

impl<M: Model> FittedBagging<M> {
    /// One member's contribution for `x` (its feature subset): class probabilities aligned to all classes,
    /// or predictions as one column.
    fn member_output(&self, i: usize, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        let xs = x.select(Axis(1), &self.features[i]);
        aligned_output(&self.members[i], xs.view(), self.classes.as_deref())
    }

    fn average(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        check_predict(self, x)?;
        let outs: Vec<Array2<f32>> = (0..self.members.len())
            .into_par_iter()
            .map(|i| self.member_output(i, x))
            .collect::<Result<_>>()?;
        let mut sum = outs[0].clone();
        for o in &outs[1..] {
            sum += o;
        }
        Ok(sum / self.members.len() as f32)
    }

    fn oob(&self, x: ArrayView2<'_, f32>, y: ArrayView1<'_, f32>, in_bag: &[Vec<bool>]) -> Result<f64> {
        let outs: Vec<Array2<f32>> =
            (0..self.members.len()).map(|i| self.member_output(i, x)).collect::<Result<_>>()?;
        let (mut score_sum, mut count, mut ys, mut preds) = (0.0, 0usize, Vec::new(), Vec::new());
        for r in 0..x.nrows() {
            let mut acc = vec![0.0f32; outs[0].ncols()];
            let mut k = 0;
            for (o, bag) in outs.iter().zip(in_bag) {
                if !bag[r] {
                    k += 1;
                    acc.iter_mut().zip(o.row(r)).for_each(|(a, b)| *a += b);
                }
            }
            if k == 0 {
                continue;
            }
            count += 1;
            match &self.classes {
                Some(c) => score_sum += f64::from(u8::from(c[argmax(&acc)] == y[r])),
                None => {
                    ys.push(y[r]);
                    preds.push(acc[0] / k as f32);
                }
            }
        }
        if count == 0 {
            return Err(Error::Data("no row was out of bag; use more estimators for oob_score".into()));
        }
        match &self.classes {
            Some(_) => Ok(score_sum / count as f64),
            None => crate::metrics::r2(ArrayView1::from(&ys), ArrayView1::from(&preds)),
        }
    }
}

impl<M: Model> Model for FittedBagging<M> {
    fn validate(&self) -> Result<()> {
        if self.members.is_empty() {
            return Err(bad_model("members", "at least one member", 0));
        }
        model_agrees("features", self.features.len(), self.members.len(), "one feature list per member")?;
        if let Some(c) = &self.classes {
            crate::data::check_labels("classes", c, None)?;
        }
        for (i, (m, f)) in self.members.iter().zip(&self.features).enumerate() {
            m.validate()?;
            if let Some(j) = f.iter().find(|&&j| j >= self.n_features) {
                return Err(bad_model(
                    format!("features[{i}]"),
                    format!("columns below {}", self.n_features),
                    j,
                ));
            }
            model_agrees(
                format_args!("members[{i}].n_features"),
                m.n_features(),
                f.len(),
                "its feature list",
            )?;
        }
        Ok(())
    }

    fn predict(&self, x: ArrayView2<'_, f32>) -> Result<Array1<f32>> {
        let avg = self.average(x)?;
        Ok(match &self.classes {
            Some(c) => avg.outer_iter().map(|r| c[argmax(&r.to_vec())]).collect(),
            None => avg.column(0).to_owned(),
        })
    }

    fn n_features(&self) -> usize {
        self.n_features
    }

    fn classes(&self) -> Option<&[f32]> {
        self.classes.as_deref()
    }

    fn predict_proba(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        if self.classes.is_none() {
            return Err(Error::Unsupported("a bagging regressor has no class probabilities".into()));
        }
        self.average(x)
    }
}
