//! Gradient boosting as Friedman defined it (scikit-learn's `GradientBoostingRegressor` /
//! `GradientBoostingClassifier`): each round fits a regression tree to the negative gradient of the loss
//! at the current predictions, then sets every leaf to the loss's optimal value for the rows in it (a
//! line search per leaf), and adds the tree scaled by the learning rate. `subsample < 1` fits each round
//! on a random fraction of the rows (stochastic gradient boosting).

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use tessera_tensor::SeededRng;

use crate::cart::{Criterion, HIST_MIN_ROWS, Target, TrainData, TreeParams, fit_tree};
use crate::check;
use crate::data::{ClassLabels, check_fit_input};
use crate::error::{Error, Result, invalid, shape};
use crate::error::{bad_model, check_boosted_trees, finite_predictions, model_agrees, model_bounded};
use crate::estimator::{Estimator, Model, check_predict};
use crate::stats::{argmax, sigmoid, weighted_quantile};
use crate::tree::batch::{PREDICT_CHUNK, rows_of};
use crate::tree::{Tree, normalize};

/// The loss gradient boosting minimizes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case")]
pub enum GbLoss {
    /// Least squares (regression).
    SquaredError,
    /// Least absolute deviation (regression).
    AbsoluteError,
    /// Huber loss: squared below the `alpha`-quantile of the absolute residuals, absolute above.
    Huber {
        /// The quantile of absolute residuals where the loss turns linear.
        alpha: f64,
    },
    /// Pinball loss for the `alpha`-quantile (regression).
    Quantile {
        /// The quantile to predict.
        alpha: f64,
    },
    /// Binomial deviance (binary classification) or multinomial deviance (several classes).
    LogLoss,
}

impl std::str::FromStr for GbLoss {
    type Err = Error;

    /// scikit-learn's names: `squared_error`, `absolute_error`, `huber` and `quantile` (both with alpha
    /// 0.9, scikit-learn's default), `log_loss`.
    fn from_str(s: &str) -> Result<Self> {
        check::choice(
            "loss",
            s,
            &[
                ("squared_error", GbLoss::SquaredError),
                ("absolute_error", GbLoss::AbsoluteError),
                ("huber", GbLoss::Huber { alpha: 0.9 }),
                ("quantile", GbLoss::Quantile { alpha: 0.9 }),
                ("log_loss", GbLoss::LogLoss),
            ],
        )
    }
}

/// Hyperparameters of gradient boosting, named and defaulted as scikit-learn's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GbParams {
    /// The loss.
    pub loss: GbLoss,
    /// Shrinkage of each tree.
    pub learning_rate: f64,
    /// Boosting rounds.
    pub n_estimators: usize,
    /// Fraction of rows each round is fitted on.
    pub subsample: f64,
    /// The regression trees' parameters (default depth 3; the criterion is squared error, whose splits
    /// equal scikit-learn's `friedman_mse`).
    pub tree: TreeParams,
    /// Random seed.
    pub seed: u64,
}

impl GbParams {
    fn defaults(loss: GbLoss) -> Self {
        let mut tree = TreeParams::default_for(Criterion::SquaredError);
        tree.max_depth = Some(3);
        GbParams { loss, learning_rate: 0.1, n_estimators: 100, subsample: 1.0, tree, seed: 0 }
    }

    fn check(&self) -> Result<()> {
        check::n_estimators(self.n_estimators)?;
        check::learning_rate(self.learning_rate)?;
        check::fraction("subsample", self.subsample)?;
        if let GbLoss::Huber { alpha } | GbLoss::Quantile { alpha } = self.loss {
            check::open_unit("alpha", alpha)?;
        }
        Ok(())
    }
}

/// Gradient boosting for regression (default loss: squared error).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GradientBoostingRegressor {
    /// Its hyperparameters.
    pub params: GbParams,
}

/// Gradient boosting for classification (log loss: one tree per round for two classes, one per class per
/// round otherwise).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GradientBoostingClassifier {
    /// Its hyperparameters.
    pub params: GbParams,
}

impl Default for GradientBoostingRegressor {
    fn default() -> Self {
        GradientBoostingRegressor { params: GbParams::defaults(GbLoss::SquaredError) }
    }
}

impl Default for GradientBoostingClassifier {
    fn default() -> Self {
        GradientBoostingClassifier { params: GbParams::defaults(GbLoss::LogLoss) }
    }
}

impl GradientBoostingRegressor {
    /// scikit-learn's defaults: 100 depth-3 trees, learning rate 0.1, squared error.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the loss.
    pub fn loss(mut self, loss: GbLoss) -> Self {
        self.params.loss = loss;
        self
    }
}

impl GradientBoostingClassifier {
    /// scikit-learn's defaults: 100 depth-3 trees, learning rate 0.1, log loss.
    pub fn new() -> Self {
        Self::default()
    }
}

/// What every boosting round shares: the parameters, the rows and weights, and the binned features.
struct Booster<'a> {
    params: &'a GbParams,
    x: ArrayView2<'a, f32>,
    weights: &'a [f32],
    /// Prepared column-major features, shared by every round.
    data: TrainData,
}

impl Booster<'_> {
    /// Fits one tree to `gradient` on the rows of `mask` and sets its leaves by the loss's line search.
    #[allow(clippy::too_many_arguments)]
    fn round(
        &mut self,
        gradient: &[f32],
        mask: &[f32],
        seed: u64,
        leaf_value: impl Fn(&[usize]) -> f64,
    ) -> Result<(Tree, Vec<usize>)> {
        self.data.target = Target::Reg { y: gradient.to_vec() };
        let g = self.params.tree.grow_params(self.x.ncols())?;
        let w: Vec<f32> = self.weights.iter().zip(mask).map(|(a, b)| a * b).collect();
        let mut tree = fit_tree(&self.data, &self.params.tree, &g, &w, seed);
        // Line search: rows (in the round's sample) grouped by leaf. Every row's leaf is returned too, so
        // the caller updates the raw predictions without walking the tree again.
        let leaves: Vec<usize> = rows_of(self.x).map(|row| tree.leaf_index(&row)).collect();
        let mut by_leaf: Vec<Vec<usize>> = vec![Vec::new(); tree.node_count()];
        for (i, &leaf) in leaves.iter().enumerate() {
            if mask[i] > 0.0 {
                by_leaf[leaf].push(i);
            }
        }
        for (leaf, rows) in by_leaf.iter().enumerate().filter(|(_, r)| !r.is_empty()) {
            tree.set_leaf_value(leaf, leaf_value(rows) as f32);
        }
        Ok((tree, leaves))
    }
}

/// A fitted gradient boosting model: an initial raw prediction per output and `n_outputs` trees per round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedGradientBoosting {
    /// The loss it was fitted with.
    pub loss: GbLoss,
    /// Initial raw prediction per output (mean, median, quantile, log-odds or log-priors).
    pub init: Vec<f64>,
    /// Shrinkage applied to every tree.
    pub learning_rate: f64,
    /// Trees per round, round-major: round `m`, output `k` is `trees[m * n_outputs + k]`.
    pub trees: Vec<Tree>,
    /// Raw outputs: 1 for regression and binary classification, the class count otherwise.
    pub n_outputs: usize,
    /// The class labels (classifiers only).
    pub labels: Option<ClassLabels>,
    /// Feature columns at fit time.
    pub n_features: usize,
}

fn fit_gb(
    p: &GbParams,
    x: ArrayView2<'_, f32>,
    y: ArrayView1<'_, f32>,
    w: Option<ArrayView1<'_, f32>>,
    classify: bool,
) -> Result<FittedGradientBoosting> {
    p.check()?;
    if classify != (p.loss == GbLoss::LogLoss) {
        return Err(invalid(
            "loss",
            if classify { "log_loss for a classifier" } else { "a regression loss for a regressor" },
            format!("{:?}", p.loss),
        ));
    }
    let weights = check_fit_input(x, y, w)?;
    let n = x.nrows();
    let (labels, onehot, n_outputs) = if classify {
        let (labels, enc) = ClassLabels::fit(y)?;
        let k = labels.len();
        let outputs = if k == 2 { 1 } else { k };
        let onehot: Vec<Vec<f64>> = (0..outputs)
            .map(|o| {
                enc.iter()
                    .map(|&c| f64::from(u8::from(if k == 2 { c == 1 } else { c as usize == o })))
                    .collect()
            })
            .collect();
        (Some(labels), onehot, outputs)
    } else {
        (None, vec![y.iter().map(|&v| f64::from(v)).collect()], 1)
    };
    let wf: Vec<f64> = weights.iter().map(|&v| f64::from(v)).collect();
    let sw: f64 = wf.iter().sum();
    // Initial predictions, as scikit-learn's default init estimators.
    let init: Vec<f64> = match p.loss {
        GbLoss::SquaredError => vec![onehot[0].iter().zip(&wf).map(|(a, b)| a * b).sum::<f64>() / sw],
        GbLoss::AbsoluteError | GbLoss::Huber { .. } => {
            vec![weighted_quantile(
                &mut onehot[0].iter().copied().zip(wf.iter().copied()).collect::<Vec<_>>(),
                0.5,
            )]
        }
        GbLoss::Quantile { alpha } => {
            vec![weighted_quantile(
                &mut onehot[0].iter().copied().zip(wf.iter().copied()).collect::<Vec<_>>(),
                alpha,
            )]
        }
        GbLoss::LogLoss => onehot
            .iter()
            .map(|t| {
                let prior =
                    (t.iter().zip(&wf).map(|(a, b)| a * b).sum::<f64>() / sw).clamp(1e-15, 1.0 - 1e-15);
                if n_outputs == 1 { (prior / (1.0 - prior)).ln() } else { prior.ln() }
            })
            .collect(),
    };
    let mut raw: Vec<Vec<f64>> = init.iter().map(|&v| vec![v; n]).collect();
    let data = TrainData::with_bins_from(x, Target::Reg { y: vec![0.0; n] }, HIST_MIN_ROWS);
    let mut booster = Booster { params: p, x, weights: &weights, data };
    let mut rng = SeededRng::new(p.seed);
    let mut trees = Vec::with_capacity(p.n_estimators * n_outputs);
    let k = n_outputs as f64;
    for _ in 0..p.n_estimators {
        let mask: Vec<f32> = if p.subsample < 1.0 {
            let take = ((p.subsample * n as f64) as usize).max(1);
            let mut idx: Vec<usize> = (0..n).collect();
            for i in 0..take {
                let j = i + rng.below(n - i);
                idx.swap(i, j);
            }
            let mut m = vec![0.0; n];
            idx[..take].iter().for_each(|&i| m[i] = 1.0);
            m
        } else {
            vec![1.0; n]
        };
        // Class probabilities at the start of the round (multinomial uses all outputs at once).
        let probs: Vec<Vec<f64>> = if p.loss == GbLoss::LogLoss && n_outputs > 1 {
            (0..n)
                .map(|i| {
                    let max = raw.iter().map(|r| r[i]).fold(f64::NEG_INFINITY, f64::max);
                    let e: Vec<f64> = raw.iter().map(|r| (r[i] - max).exp()).collect();
                    let s: f64 = e.iter().sum();
                    e.into_iter().map(|v| v / s).collect()
                })
                .collect()
        } else {
            Vec::new()
        };
        for o in 0..n_outputs {
            let t = &onehot[o];
            let r = &raw[o];
            // Negative gradients and the line search of each loss.
            let (grad, (tree, leaves)) = match p.loss {
                GbLoss::SquaredError => {
                    let g: Vec<f32> = (0..n).map(|i| (t[i] - r[i]) as f32).collect();
                    let gg = g.clone();
                    let wr = &wf;
                    let tree = booster.round(&g, &mask, rng.next_u64(), |rows| {
                        let (num, den) = rows
                            .iter()
                            .fold((0.0, 0.0), |(a, b), &i| (a + wr[i] * f64::from(gg[i]), b + wr[i]));
                        if den > 0.0 { num / den } else { 0.0 }
                    })?;
                    (g, tree)
                }
                GbLoss::AbsoluteError => {
                    let g: Vec<f32> = (0..n).map(|i| if t[i] > r[i] { 1.0 } else { -1.0 }).collect();
                    let tree = booster.round(&g, &mask, rng.next_u64(), |rows| {
                        weighted_quantile(
                            &mut rows.iter().map(|&i| (t[i] - r[i], wf[i])).collect::<Vec<_>>(),
                            0.5,
                        )
                    })?;
                    (g, tree)
                }
                GbLoss::Quantile { alpha } => {
                    let g: Vec<f32> = (0..n)
                        .map(|i| if t[i] > r[i] { alpha as f32 } else { (alpha - 1.0) as f32 })
                        .collect();
                    let tree = booster.round(&g, &mask, rng.next_u64(), |rows| {
                        weighted_quantile(
                            &mut rows.iter().map(|&i| (t[i] - r[i], wf[i])).collect::<Vec<_>>(),
                            alpha,
                        )
                    })?;
                    (g, tree)
                }
                GbLoss::Huber { alpha } => {
                    let diff: Vec<f64> = (0..n).map(|i| t[i] - r[i]).collect();
                    let mut abs: Vec<(f64, f64)> =
                        (0..n).filter(|&i| mask[i] > 0.0).map(|i| (diff[i].abs(), wf[i])).collect();
                    let delta = weighted_quantile(&mut abs, alpha);
                    let g: Vec<f32> = diff
                        .iter()
                        .map(|&d| (if d.abs() <= delta { d } else { delta * d.signum() }) as f32)
                        .collect();
                    let tree = booster.round(&g, &mask, rng.next_u64(), |rows| {
                        let median = weighted_quantile(
                            &mut rows.iter().map(|&i| (diff[i], wf[i])).collect::<Vec<_>>(),
                            0.5,
                        );
                        let (num, den) = rows.iter().fold((0.0, 0.0), |(a, b), &i| {
                            let dm = diff[i] - median;
                            (a + wf[i] * dm.signum() * dm.abs().min(delta), b + wf[i])
                        });
                        median + if den > 0.0 { num / den } else { 0.0 }
                    })?;
                    (g, tree)
                }
                GbLoss::LogLoss => {
                    let prob: Vec<f64> = if n_outputs == 1 {
                        r.iter().map(|&v| sigmoid(v)).collect()
                    } else {
                        probs.iter().map(|pr| pr[o]).collect()
                    };
                    let g: Vec<f32> = (0..n).map(|i| (t[i] - prob[i]) as f32).collect();
                    let multi = n_outputs > 1;
                    let tree = booster.round(&g, &mask, rng.next_u64(), |rows| {
                        // One Newton step (binomial), scaled by (K-1)/K for the multinomial deviance.
                        let (num, den) = rows.iter().fold((0.0, 0.0), |(a, b), &i| {
                            let res = t[i] - prob[i];
                            (a + wf[i] * res, b + wf[i] * (t[i] - res) * (1.0 - t[i] + res))
                        });
                        let step = if den.abs() < 1e-150 { 0.0 } else { num / den };
                        if multi { step * (k - 1.0) / k } else { step }
                    })?;
                    (g, tree)
                }
            };
            debug_assert_eq!(grad.len(), n);
            let r = &mut raw[o];
            for (ri, &leaf) in r.iter_mut().zip(&leaves) {
                *ri += p.learning_rate * f64::from(tree.node_values(leaf)[0]);
            }
            tree.check_finite(&format!("stage {}, output {o}", trees.len() / n_outputs))?;
            if let Some(i) = r.iter().position(|v| !v.is_finite()) {
                return Err(Error::Data(format!(
                    "the prediction of row {i} became {} (lower learning_rate or rescale the target)",
                    r[i]
                )));
            }
            trees.push(tree);
        }
    }
    Ok(FittedGradientBoosting {
        loss: p.loss,
        init,
        learning_rate: p.learning_rate,
        trees,
        n_outputs,
        labels,
        n_features: x.ncols(),
    })
}

impl FittedGradientBoosting {
    /// Raw predictions (`n x n_outputs`) after the first `rounds` rounds.
    pub fn raw_predict(&self, x: ArrayView2<'_, f32>, rounds: usize) -> Result<Array2<f64>> {
        check_predict(self, x)?;
        let k = self.n_outputs;
        let rounds = rounds.min(self.n_rounds());
        let blocks: Vec<Vec<f64>> = x
            .axis_chunks_iter(Axis(0), PREDICT_CHUNK)
            .into_par_iter()
            .map(|chunk| {
                let mut out = Vec::with_capacity(chunk.nrows() * k);
                for row in rows_of(chunk) {
                    for o in 0..k {
                        let mut v = self.init[o];
                        for t in self.trees[..rounds * k].iter().skip(o).step_by(k) {
                            v += self.learning_rate * f64::from(t.node_values(t.leaf_index(&row))[0]);
                        }
                        out.push(v);
                    }
                }
                out
            })
            .collect();
        let flat: Vec<f64> = blocks.into_iter().flatten().collect();
        finite_predictions(flat.iter().copied(), k)?;
        Array2::from_shape_vec((x.nrows(), k), flat)
            .map_err(|e| shape("assembled predictions", "consistent block shapes", e))
    }

    /// Number of boosting rounds.
    pub fn n_rounds(&self) -> usize {
        self.trees.len() / self.n_outputs.max(1)
    }

    /// Predictions after each round (scikit-learn's `staged_predict`).
    pub fn staged_predict(&self, x: ArrayView2<'_, f32>) -> Result<Vec<Array1<f32>>> {
        (1..=self.n_rounds()).map(|m| Ok(self.finish(&self.raw_predict(x, m)?))).collect()
    }

    fn proba(&self, raw: &Array2<f64>) -> Array2<f32> {
        let k = self.labels.as_ref().map_or(1, ClassLabels::len);
        let mut out = Array2::<f32>::zeros((raw.nrows(), k));
        for (i, r) in raw.outer_iter().enumerate() {
            if self.n_outputs == 1 {
                let p1 = sigmoid(r[0]);
                out[[i, 0]] = (1.0 - p1) as f32;
                out[[i, 1]] = p1 as f32;
            } else {
                let max = r.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let e: Vec<f64> = r.iter().map(|v| (v - max).exp()).collect();
                let s: f64 = e.iter().sum();
                for (j, v) in e.iter().enumerate() {
                    out[[i, j]] = (v / s) as f32;
                }
            }
        }
        out
    }

    fn finish(&self, raw: &Array2<f64>) -> Array1<f32> {
        match &self.labels {
            None => raw.column(0).mapv(|v| v as f32),
            Some(l) => self.proba(raw).outer_iter().map(|r| l.classes[argmax(&r.to_vec())]).collect(),
        }
    }

    /// Impurity-based feature importances averaged over all trees.
    pub fn feature_importances(&self) -> Vec<f64> {
        let mut sum = vec![0.0; self.n_features];
        for t in &self.trees {
            for (s, v) in sum.iter_mut().zip(t.feature_importances()) {
                *s += v;
            }
        }
        normalize(sum)
    }
}

impl Model for FittedGradientBoosting {
    fn validate(&self) -> Result<()> {
        let k = self.n_outputs;
        if k == 0 {
            return Err(bad_model("n_outputs", "at least 1", 0));
        }
        match (&self.labels, self.loss) {
            (Some(l), GbLoss::LogLoss) => {
                l.validate("labels", None)?;
                let expected = if l.len() == 2 { 1 } else { l.len() };
                model_agrees("n_outputs", k, expected, "1 for two classes, else one per class")?;
            }
            (None, GbLoss::LogLoss) => return Err(bad_model("labels", "class labels for log_loss", "none")),
            (Some(_), _) => return Err(bad_model("labels", "none for a regression loss", "class labels")),
            (None, _) => model_agrees("n_outputs", k, 1, "a regression loss has one output")?,
        }
        model_agrees("init", self.init.len(), k, "one initial value per output")?;
        model_bounded("init", self.init.iter().copied(), f64::from(crate::tree::VALUE_LIMIT))?;
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(bad_model("learning_rate", "a finite number > 0", self.learning_rate));
        }
        check_boosted_trees(&self.trees, k, self.n_features)
    }

    fn predict(&self, x: ArrayView2<'_, f32>) -> Result<Array1<f32>> {
        Ok(self.finish(&self.raw_predict(x, self.n_rounds())?))
    }

    fn n_features(&self) -> usize {
        self.n_features
    }

    fn classes(&self) -> Option<&[f32]> {
        self.labels.as_ref().map(|l| l.classes.as_slice())
    }

    fn predict_proba(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        if self.labels.is_none() {
            return Err(Error::Unsupported(
                "a gradient boosting regressor has no class probabilities".into(),
            ));
        }
        Ok(self.proba(&self.raw_predict(x, self.n_rounds())?))
    }
}

macro_rules! gb_estimator {
    ($name:ident, $classify:literal) => {
        impl Estimator for $name {
            type Model = FittedGradientBoosting;

            fn fit_weighted(
                &self,
                x: ArrayView2<'_, f32>,
                y: ArrayView1<'_, f32>,
                w: Option<ArrayView1<'_, f32>>,
            ) -> Result<FittedGradientBoosting> {
                fit_gb(&self.params, x, y, w, $classify)
            }

            fn with_seed(&self, seed: u64) -> Self {
                let mut c = self.clone();
                c.params.seed = seed;
                c.params.tree.seed = seed;
                c
            }
        }
    };
}

gb_estimator!(GradientBoostingRegressor, false);
gb_estimator!(GradientBoostingClassifier, true);
