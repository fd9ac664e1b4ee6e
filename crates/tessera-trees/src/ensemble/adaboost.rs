//! AdaBoost (scikit-learn's `AdaBoostClassifier` / `AdaBoostRegressor`) over any base estimator.
//!
//! - Classification: SAMME (Zhu et al. 2009). Round `m` fits the base estimator to the weighted rows,
//!   computes its weighted error `err`, gets weight `alpha = lr * (ln((1 - err) / err) + ln(K - 1))` and
//!   multiplies the weights of the rows it got wrong by `exp(alpha)`. With two classes this is the classic
//!   discrete AdaBoost of Freund and Schapire (alpha twice the classic `0.5 ln((1-err)/err)`, which gives
//!   the same predictions and the same normalized weights).
//! - Regression: AdaBoost.R2 (Drucker 1997): each round fits a weighted bootstrap sample, losses are
//!   scaled to [0, 1] (linear, square or exponential), and the prediction is the weighted median.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use tessera_tensor::SeededRng;

use crate::cart::{DecisionTreeClassifier, DecisionTreeRegressor};
use crate::check;
use crate::data::{ClassLabels, check_fit_input};
use crate::error::{Error, Result, invalid, shape};
use crate::error::{bad_model, model_agrees, model_finite};
use crate::estimator::{Estimator, Model, check_predict};
use crate::stats::argmax;

/// SAMME AdaBoost classifier over base estimator `E` (default: depth-1 trees, i.e. stumps).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdaBoostClassifier<E = DecisionTreeClassifier> {
    /// The base estimator (must accept sample weights).
    pub estimator: E,
    /// Rounds, learning rate and seed (flattened into the same JSON object as before).
    #[serde(flatten)]
    pub params: AdaBoostParams,
}

/// Hyperparameters shared by both AdaBoost estimators, named and defaulted as scikit-learn's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdaBoostParams {
    /// Maximum number of boosting rounds.
    pub n_estimators: usize,
    /// Shrinks each round's weight.
    pub learning_rate: f64,
    /// Random seed (each round's estimator is reseeded from it; R2 also draws its weighted samples).
    pub seed: u64,
}

impl Default for AdaBoostParams {
    fn default() -> Self {
        AdaBoostParams { n_estimators: 50, learning_rate: 1.0, seed: 0 }
    }
}

impl AdaBoostParams {
    /// Checks every parameter once, before fitting.
    fn check(&self) -> Result<()> {
        check::n_estimators(self.n_estimators)?;
        check::learning_rate(self.learning_rate)?;
        Ok(())
    }
}

impl Default for AdaBoostClassifier {
    fn default() -> Self {
        AdaBoostClassifier {
            estimator: DecisionTreeClassifier::new().max_depth(1),
            params: AdaBoostParams::default(),
        }
    }
}

impl AdaBoostClassifier {
    /// scikit-learn's defaults: 50 stumps, learning rate 1.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<E> AdaBoostClassifier<E> {
    /// Boosts `estimator` instead of stumps.
    pub fn with_estimator<F>(self, estimator: F) -> AdaBoostClassifier<F> {
        AdaBoostClassifier { estimator, params: self.params }
    }

    /// Sets the number of rounds.
    pub fn n_estimators(mut self, n: usize) -> Self {
        self.params.n_estimators = n;
        self
    }

    /// Sets the learning rate.
    pub fn learning_rate(mut self, lr: f64) -> Self {
        self.params.learning_rate = lr;
        self
    }

    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.params.seed = seed;
        self
    }
}

impl<E: Estimator> Estimator for AdaBoostClassifier<E> {
    type Model = FittedAdaBoostClassifier<E::Model>;

    fn fit_weighted(
        &self,
        x: ArrayView2<'_, f32>,
        y: ArrayView1<'_, f32>,
        w: Option<ArrayView1<'_, f32>>,
    ) -> Result<Self::Model> {
        self.params.check()?;
        let mut weights: Vec<f64> = check_fit_input(x, y, w)?.into_iter().map(f64::from).collect();
        let (labels, _) = ClassLabels::fit(y)?;
        let k = labels.len() as f64;
        let mut rng = SeededRng::new(self.params.seed);
        let (mut estimators, mut alphas) = (Vec::new(), Vec::new());
        // Every round refits the same rows with new weights: the base estimator prepares them once.
        let prepared = self.estimator.prepare(x, y);
        for round in 0..self.params.n_estimators {
            let total: f64 = weights.iter().sum();
            weights.iter_mut().for_each(|v| *v /= total);
            let w32: Array1<f32> = weights.iter().map(|&v| v as f32).collect();
            let model = self.estimator.with_seed(rng.next_u64()).fit_prepared(&prepared, Some(w32.view()))?;
            let pred = model.predict(x)?;
            let wrong: Vec<bool> = pred.iter().zip(y).map(|(p, t)| p != t).collect();
            let err: f64 = weights.iter().zip(&wrong).filter(|(_, w)| **w).map(|(v, _)| v).sum();
            if err <= 0.0 {
                // A perfect round: it alone decides (scikit-learn stops here too).
                estimators.push(model);
                alphas.push(1.0);
                break;
            }
            if err >= 1.0 - 1.0 / k {
                if round == 0 {
                    return Err(Error::Data(format!(
                        "the base estimator's weighted error {err:.4} is no better than chance for {k} classes"
                    )));
                }
                break;
            }
            let alpha = self.params.learning_rate * (((1.0 - err) / err).ln() + (k - 1.0).ln());
            estimators.push(model);
            alphas.push(alpha);
            for (v, &bad) in weights.iter_mut().zip(&wrong) {
                if bad && *v > 0.0 {
                    *v *= alpha.exp();
                }
            }
            if !(alpha.is_finite() && weights.iter().sum::<f64>().is_finite()) {
                return Err(invalid(
                    "learning_rate",
                    format!(
                        "a rate small enough that the sample weights stay finite (round {} overflowed)",
                        estimators.len()
                    ),
                    self.params.learning_rate,
                ));
            }
        }
        Ok(FittedAdaBoostClassifier { estimators, alphas, labels, n_features: x.ncols() })
    }

    fn with_seed(&self, seed: u64) -> Self {
        let mut c = self.clone();
        c.params.seed = seed;
        c
    }
}

/// A fitted SAMME classifier: the rounds' estimators and weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedAdaBoostClassifier<M> {
    /// One estimator per round.
    pub estimators: Vec<M>,
    /// Each round's weight.
    pub alphas: Vec<f64>,
    /// The class labels.
    pub labels: ClassLabels,
    /// Feature columns at fit time.
    pub n_features: usize,
}

impl<M: Model> FittedAdaBoostClassifier<M> {
    /// Weighted class votes after each round, normalized by the total weight so far (`n x K` each).
    pub fn staged_votes(&self, x: ArrayView2<'_, f32>) -> Result<Vec<Array2<f64>>> {
        let mut out = Vec::with_capacity(self.estimators.len());
        self.votes(x, |v, total| out.push(v.mapv(|a| a / total)))?;
        Ok(out)
    }

    /// Final normalized votes (`n x K`), row blocks in parallel (each block runs every round).
    fn final_votes(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f64>> {
        check_predict(self, x)?;
        let blocks: Vec<Array2<f64>> = x
            .axis_chunks_iter(Axis(0), 4096)
            .into_par_iter()
            .map(|block| {
                self.votes(block, |_, _| {}).map(|(v, t)| if t > 0.0 { v.mapv(|a| a / t) } else { v })
            })
            .collect::<Result<_>>()?;
        let views: Vec<_> = blocks.iter().map(|b| b.view()).collect();
        ndarray::concatenate(Axis(0), &views)
            .map_err(|e| shape("assembled predictions", "consistent block shapes", e))
    }

    /// Accumulates weighted votes round by round, calling `each(votes, total_weight)` after every round.
    fn votes(
        &self,
        x: ArrayView2<'_, f32>,
        mut each: impl FnMut(&Array2<f64>, f64),
    ) -> Result<(Array2<f64>, f64)> {
        check_predict(self, x)?;
        let k = self.labels.len();
        let mut votes = Array2::<f64>::zeros((x.nrows(), k));
        let mut total = 0.0;
        for (m, &alpha) in self.estimators.iter().zip(&self.alphas) {
            let pred = m.predict(x)?;
            for (i, p) in pred.iter().enumerate() {
                if let Some(c) = self.labels.index_of(*p) {
                    votes[[i, c as usize]] += alpha;
                }
            }
            total += alpha;
            each(&votes, total);
        }
        Ok((votes, total))
    }

    /// Predictions after each round (scikit-learn's `staged_predict`).
    pub fn staged_predict(&self, x: ArrayView2<'_, f32>) -> Result<Vec<Array1<f32>>> {
        Ok(self.staged_votes(x)?.iter().map(|v| self.labels_of(v)).collect())
    }

    /// Class probabilities after each round (scikit-learn's `staged_predict_proba`).
    pub fn staged_predict_proba(&self, x: ArrayView2<'_, f32>) -> Result<Vec<Array2<f32>>> {
        Ok(self.staged_votes(x)?.iter().map(|v| self.proba_of(v)).collect())
    }

    fn labels_of(&self, votes: &Array2<f64>) -> Array1<f32> {
        votes
            .outer_iter()
            .map(|r| {
                let r32: Vec<f32> = r.iter().map(|&v| v as f32).collect();
                self.labels.classes[argmax(&r32)]
            })
            .collect()
    }

    /// scikit-learn's SAMME probabilities: a softmax of the normalized votes divided by `K - 1` (for two
    /// classes, of `(-d/2, d/2)` with `d` the vote difference).
    fn proba_of(&self, votes: &Array2<f64>) -> Array2<f32> {
        let k = self.labels.len();
        let mut out = Array2::<f32>::zeros(votes.dim());
        for (i, r) in votes.outer_iter().enumerate() {
            let scores: Vec<f64> = if k == 2 {
                let d = r[1] - r[0];
                vec![-d / 2.0, d / 2.0]
            } else {
                r.iter().map(|v| v / (k as f64 - 1.0)).collect()
            };
            let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let exp: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
            let sum: f64 = exp.iter().sum();
            for (j, e) in exp.iter().enumerate() {
                out[[i, j]] = (e / sum) as f32;
            }
        }
        out
    }
}

/// The rounds of a fitted AdaBoost model: at least one, one finite weight per estimator, each estimator
/// consistent and over the model's features.
fn check_rounds<M: Model>(estimators: &[M], alphas: &[f64], n_features: usize) -> Result<()> {
    if estimators.is_empty() {
        return Err(bad_model("estimators", "at least one estimator", 0));
    }
    model_agrees("alphas", alphas.len(), estimators.len(), "one weight per estimator")?;
    model_finite("alphas", alphas.iter().copied())?;
    for (i, m) in estimators.iter().enumerate() {
        m.validate()?;
        model_agrees(format_args!("estimators[{i}].n_features"), m.n_features(), n_features, "the model's")?;
    }
    Ok(())
}

impl<M: Model> Model for FittedAdaBoostClassifier<M> {
    fn validate(&self) -> Result<()> {
        self.labels.validate("labels", None)?;
        check_rounds(&self.estimators, &self.alphas, self.n_features)
    }

    fn predict(&self, x: ArrayView2<'_, f32>) -> Result<Array1<f32>> {
        Ok(self.labels_of(&self.final_votes(x)?))
    }

    fn n_features(&self) -> usize {
        self.n_features
    }

    fn classes(&self) -> Option<&[f32]> {
        Some(&self.labels.classes)
    }

    fn predict_proba(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        Ok(self.proba_of(&self.final_votes(x)?))
    }
}

/// The loss AdaBoost.R2 assigns to a row's error scaled to [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum R2Loss {
    /// `e`.
    Linear,
    /// `e^2`.
    Square,
    /// `1 - exp(-e)`.
    Exponential,
}

/// AdaBoost.R2 regressor over base estimator `E` (default: depth-3 regression trees).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdaBoostRegressor<E = DecisionTreeRegressor> {
    /// The base estimator.
    pub estimator: E,
    /// Rounds, learning rate and seed (flattened into the same JSON object as before).
    #[serde(flatten)]
    pub params: AdaBoostParams,
    /// How errors become losses.
    pub loss: R2Loss,
}

impl Default for AdaBoostRegressor {
    fn default() -> Self {
        AdaBoostRegressor {
            estimator: DecisionTreeRegressor::new().max_depth(3),
            params: AdaBoostParams::default(),
            loss: R2Loss::Linear,
        }
    }
}

impl AdaBoostRegressor {
    /// scikit-learn's defaults: 50 depth-3 trees, linear loss.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<E> AdaBoostRegressor<E> {
    /// Sets the number of rounds.
    pub fn n_estimators(mut self, n: usize) -> Self {
        self.params.n_estimators = n;
        self
    }

    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.params.seed = seed;
        self
    }
}

impl<E: Estimator> Estimator for AdaBoostRegressor<E> {
    type Model = FittedAdaBoostRegressor<E::Model>;

    fn fit_weighted(
        &self,
        x: ArrayView2<'_, f32>,
        y: ArrayView1<'_, f32>,
        w: Option<ArrayView1<'_, f32>>,
    ) -> Result<Self::Model> {
        self.params.check()?;
        let mut weights: Vec<f64> = check_fit_input(x, y, w)?.into_iter().map(f64::from).collect();
        let n = x.nrows();
        let mut rng = SeededRng::new(self.params.seed);
        let (mut estimators, mut alphas) = (Vec::new(), Vec::new());
        for round in 0..self.params.n_estimators {
            let total: f64 = weights.iter().sum();
            weights.iter_mut().for_each(|v| *v /= total);
            // A bootstrap sample drawn with the current weights (scikit-learn's R2 implementation).
            let cdf: Vec<f64> = weights
                .iter()
                .scan(0.0, |acc, &v| {
                    *acc += v;
                    Some(*acc)
                })
                .collect();
            let idx: Vec<usize> = (0..n)
                .map(|_| {
                    let u = rng.uniform_f64();
                    cdf.partition_point(|&c| c < u).min(n - 1)
                })
                .collect();
            let xs = x.select(Axis(0), &idx);
            let ys = y.select(Axis(0), &idx);
            let model = self.estimator.with_seed(rng.next_u64()).fit(xs.view(), ys.view())?;
            let pred = model.predict(x)?;
            let mut err: Vec<f64> = pred.iter().zip(y).map(|(p, t)| f64::from((p - t).abs())).collect();
            let max = err.iter().copied().fold(0.0, f64::max);
            if max > 0.0 {
                err.iter_mut().for_each(|e| *e /= max);
            }
            match self.loss {
                R2Loss::Linear => {}
                R2Loss::Square => err.iter_mut().for_each(|e| *e *= *e),
                R2Loss::Exponential => err.iter_mut().for_each(|e| *e = 1.0 - (-*e).exp()),
            }
            let avg: f64 = weights.iter().zip(&err).map(|(w, e)| w * e).sum();
            if avg <= 0.0 {
                estimators.push(model);
                alphas.push(1.0);
                break;
            }
            if avg >= 0.5 {
                if round == 0 {
                    estimators.push(model);
                    alphas.push(1.0);
                }
                break;
            }
            let beta = avg / (1.0 - avg);
            estimators.push(model);
            alphas.push(self.params.learning_rate * (1.0 / beta).ln());
            for (v, e) in weights.iter_mut().zip(&err) {
                *v *= beta.powf((1.0 - e) * self.params.learning_rate);
            }
            let total: f64 = weights.iter().sum();
            if !(total.is_finite() && total > 0.0) {
                return Err(invalid(
                    "learning_rate",
                    format!(
                        "a rate small enough that the sample weights stay finite (round {round} overflowed)"
                    ),
                    self.params.learning_rate,
                ));
            }
        }
        Ok(FittedAdaBoostRegressor { estimators, alphas, n_features: x.ncols() })
    }

    fn with_seed(&self, seed: u64) -> Self {
        let mut c = self.clone();
        c.params.seed = seed;
        c
    }
}

/// A fitted AdaBoost.R2 regressor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedAdaBoostRegressor<M> {
    /// One estimator per round.
    pub estimators: Vec<M>,
    /// Each round's weight.
    pub alphas: Vec<f64>,
    /// Feature columns at fit time.
    pub n_features: usize,
}

impl<M: Model> FittedAdaBoostRegressor<M> {
    /// The weighted median of the first `rounds` estimators' predictions.
    fn median_of(&self, preds: &[Array1<f32>], rounds: usize, n: usize) -> Array1<f32> {
        (0..n)
            .map(|i| {
                let mut pairs: Vec<(f32, f64)> = (0..rounds).map(|m| (preds[m][i], self.alphas[m])).collect();
                pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
                let total: f64 = pairs.iter().map(|p| p.1).sum();
                let mut acc = 0.0;
                pairs
                    .iter()
                    .find(|p| {
                        acc += p.1;
                        acc >= 0.5 * total
                    })
                    .map_or(0.0, |p| p.0)
            })
            .collect()
    }

    /// Predictions after each round.
    pub fn staged_predict(&self, x: ArrayView2<'_, f32>) -> Result<Vec<Array1<f32>>> {
        check_predict(self, x)?;
        let preds: Vec<Array1<f32>> = self.estimators.iter().map(|m| m.predict(x)).collect::<Result<_>>()?;
        Ok((1..=preds.len()).map(|r| self.median_of(&preds, r, x.nrows())).collect())
    }
}

impl<M: Model> Model for FittedAdaBoostRegressor<M> {
    fn validate(&self) -> Result<()> {
        check_rounds(&self.estimators, &self.alphas, self.n_features)
    }

    fn predict(&self, x: ArrayView2<'_, f32>) -> Result<Array1<f32>> {
        check_predict(self, x)?;
        let preds: Vec<Array1<f32>> = self.estimators.iter().map(|m| m.predict(x)).collect::<Result<_>>()?;
        Ok(self.median_of(&preds, preds.len(), x.nrows()))
    }

    fn n_features(&self) -> usize {
        self.n_features
    }

    fn classes(&self) -> Option<&[f32]> {
        None
    }
}
