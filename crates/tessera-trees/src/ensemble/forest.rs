//! Random Forest and Extra Trees (scikit-learn's `RandomForest*` / `ExtraTrees*`): many decorrelated trees
//! trained in parallel on bootstrap samples (or the whole set) with a random feature subset per split,
//! averaged at prediction. Tree `i` draws from its own random stream, so a forest is the same for every
//! thread count.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use tessera_tensor::SeededRng;

use crate::cart::{Criterion, MaxFeatures, Splitter, TrainData, TreeParams, encode_target, fit_tree};
use crate::check;
use crate::data::{ClassLabels, check_fit_input};
use crate::error::bad_model;
use crate::error::{Error, Result, invalid};
use crate::estimator::{Estimator, Model, check_predict};
use crate::stats::argmax;
use crate::tree::batch::{PREDICT_CHUNK, rows_of};
use crate::tree::{Tree, normalize};

/// Tree groups predicted in parallel (fixed, so sums are added in the same order on any machine).
const TREE_TASKS: usize = 16;

/// Hyperparameters of a forest, named and defaulted as scikit-learn's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForestParams {
    /// Number of trees.
    pub n_estimators: usize,
    /// Each tree's hyperparameters (its `seed` is ignored: tree `i` uses the forest's seed, stream `i`).
    pub tree: TreeParams,
    /// Train each tree on a bootstrap sample (with replacement) of the rows.
    pub bootstrap: bool,
    /// With bootstrap: the sample size as a fraction of the rows (`None` = all rows).
    pub max_samples: Option<f64>,
    /// Compute the out-of-bag score (accuracy or R²) after fitting (needs bootstrap).
    pub oob_score: bool,
    /// Random seed.
    pub seed: u64,
}

impl ForestParams {
    fn defaults(
        criterion: Criterion,
        max_features: MaxFeatures,
        splitter: Splitter,
        bootstrap: bool,
    ) -> Self {
        let mut tree = TreeParams::default_for(criterion);
        tree.max_features = max_features;
        tree.splitter = splitter;
        ForestParams { n_estimators: 100, tree, bootstrap, max_samples: None, oob_score: false, seed: 0 }
    }

    fn fit(
        &self,
        x: ArrayView2<'_, f32>,
        y: ArrayView1<'_, f32>,
        w: Option<ArrayView1<'_, f32>>,
        classify: bool,
    ) -> Result<FittedForest> {
        if self.tree.criterion.is_classification() != classify {
            return Err(invalid(
                "criterion",
                if classify {
                    "gini, entropy or log_loss for a classifier"
                } else {
                    "squared_error or absolute_error for a regressor"
                },
                self.tree.criterion,
            ));
        }
        check::n_estimators(self.n_estimators)?;
        check::oob_needs_bootstrap(self.oob_score, self.bootstrap)?;
        if let Some(f) = self.max_samples {
            check::fraction("max_samples", f)?;
        }
        let weights = check_fit_input(x, y, w)?;
        let g = self.tree.grow_params(x.ncols())?;
        let (target, labels) = encode_target(self.tree.criterion, y)?;
        let data = TrainData::new(x, target, true);
        let n = x.nrows();
        let draws = self.max_samples.map_or(n, |f| ((f * n as f64).round() as usize).max(1));
        let base = SeededRng::new(self.seed);
        let fitted: Vec<(Tree, Option<Vec<bool>>)> = (0..self.n_estimators)
            .into_par_iter()
            .map(|i| {
                let mut rng = base.fork(i as u64);
                let tree_seed = rng.next_u64();
                if !self.bootstrap {
                    return (fit_tree(&data, &self.tree, &g, &weights, tree_seed), None);
                }
                let mut counts = vec![0u32; n];
                for _ in 0..draws {
                    counts[rng.below(n)] += 1;
                }
                let w: Vec<f32> = counts.iter().zip(&weights).map(|(&c, &w)| c as f32 * w).collect();
                let tree = fit_tree(&data, &self.tree, &g, &w, tree_seed);
                let oob = self.oob_score.then(|| counts.iter().map(|&c| c == 0).collect());
                (tree, oob)
            })
            .collect();
        let (trees, masks): (Vec<Tree>, Vec<Option<Vec<bool>>>) = fitted.into_iter().unzip();
        let mut forest = FittedForest { trees, labels, n_features: x.ncols(), oob_score: None };
        if self.oob_score {
            let masks: Vec<Vec<bool>> = masks.into_iter().flatten().collect();
            forest.oob_score = Some(forest.oob(x, y, &masks)?);
        }
        Ok(forest)
    }
}

macro_rules! forest_estimator {
    ($(#[$doc:meta])* $name:ident, $criterion:expr, $max_features:expr, $splitter:expr, $bootstrap:expr, $classify:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        pub struct $name {
            /// The forest's hyperparameters.
            pub params: ForestParams,
        }

        impl Default for $name {
            fn default() -> Self {
                $name { params: ForestParams::defaults($criterion, $max_features, $splitter, $bootstrap) }
            }
        }

        impl $name {
            /// Default hyperparameters (scikit-learn's).
            pub fn new() -> Self {
                Self::default()
            }

            /// Sets the number of trees.
            pub fn n_estimators(mut self, n: usize) -> Self {
                self.params.n_estimators = n;
                self
            }

            /// Sets the maximum tree depth.
            pub fn max_depth(mut self, depth: usize) -> Self {
                self.params.tree.max_depth = Some(depth);
                self
            }

            /// Sets the features considered per split.
            pub fn max_features(mut self, m: MaxFeatures) -> Self {
                self.params.tree.max_features = m;
                self
            }

            /// Sets the minimum rows per leaf.
            pub fn min_samples_leaf(mut self, n: usize) -> Self {
                self.params.tree.min_samples_leaf = n;
                self
            }

            /// Turns bootstrap sampling on or off.
            pub fn bootstrap(mut self, on: bool) -> Self {
                self.params.bootstrap = on;
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

        impl Estimator for $name {
            type Model = FittedForest;

            fn fit_weighted(
                &self,
                x: ArrayView2<'_, f32>,
                y: ArrayView1<'_, f32>,
                w: Option<ArrayView1<'_, f32>>,
            ) -> Result<FittedForest> {
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

forest_estimator!(
    /// Random Forest classifier: bootstrap rows, `sqrt(d)` features per split, fully grown gini trees.
    RandomForestClassifier, Criterion::Gini, MaxFeatures::Sqrt, Splitter::Best, true, true
);
forest_estimator!(
    /// Random Forest regressor: bootstrap rows, all features per split, fully grown squared-error trees.
    RandomForestRegressor, Criterion::SquaredError, MaxFeatures::All, Splitter::Best, true, false
);
forest_estimator!(
    /// Extra Trees classifier: all rows, `sqrt(d)` features per split, one random threshold per feature.
    ExtraTreesClassifier, Criterion::Gini, MaxFeatures::Sqrt, Splitter::Random, false, true
);
forest_estimator!(
    /// Extra Trees regressor: all rows, all features per split, one random threshold per feature.
    ExtraTreesRegressor, Criterion::SquaredError, MaxFeatures::All, Splitter::Random, false, false
);

/// A fitted forest (classifier or regressor).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedForest {
    /// The trees.
    pub trees: Vec<Tree>,
    /// The class labels (classifiers only).
    pub labels: Option<ClassLabels>,
    /// Feature columns at fit time.
    pub n_features: usize,
    /// The out-of-bag score (accuracy or R²), when asked for.
    pub oob_score: Option<f64>,
}

impl FittedForest {
    /// Impurity-based importances: the mean of the trees' normalized importances, normalized.
    pub fn feature_importances(&self) -> Vec<f64> {
        let mut sum = vec![0.0; self.n_features];
        for t in &self.trees {
            for (s, v) in sum.iter_mut().zip(t.feature_importances()) {
                *s += v;
            }
        }
        normalize(sum)
    }

    /// Averaged tree outputs per row: class probabilities or the regression value (`n x n_outputs`).
    ///
    /// Work is split over trees rather than rows: each task walks all rows through a slice of the
    /// forest, so a tree is loaded into cache once and the rows stream past it sequentially. The
    /// per-task sums are added in a fixed order, so the result does not depend on the thread count.
    fn average(&self, x: ArrayView2<'_, f32>, trees: &[Tree]) -> Array2<f32> {
        let k = trees.first().map_or(1, |t| t.n_outputs);
        let n = x.nrows();
        let owned: Vec<std::borrow::Cow<'_, [f32]>> = rows_of(x).collect();
        let rows: Vec<&[f32]> = owned.iter().map(|r| r.as_ref()).collect();
        let per_task = trees.len().div_ceil(TREE_TASKS).max(1);
        // One scan for missing values lets every tree walk skip the missing-value rule.
        let any_nan = x.iter().any(|v| v.is_nan());
        let partial: Vec<Vec<f32>> = trees
            .par_chunks(per_task)
            .map(|group| {
                let mut acc = vec![0.0f32; n * k];
                if k <= 2 {
                    // One score per leaf (value, or P(second class)); expanded to k columns below.
                    let mut scores = vec![0.0f32; n];
                    for t in group {
                        if any_nan {
                            t.add_scores(&rows, &mut scores);
                        } else {
                            t.add_scores_present(&rows, &mut scores);
                        }
                    }
                    for (i, s) in scores.into_iter().enumerate() {
                        if k == 1 {
                            acc[i] = s;
                        } else {
                            acc[2 * i] = group.len() as f32 - s;
                            acc[2 * i + 1] = s;
                        }
                    }
                    return acc;
                }
                let mut leaves = Vec::with_capacity(PREDICT_CHUNK);
                for t in group {
                    for (c, block) in rows.chunks(PREDICT_CHUNK).enumerate() {
                        t.leaf_indices(block, &mut leaves);
                        let base = c * PREDICT_CHUNK;
                        for (i, &leaf) in leaves.iter().enumerate() {
                            let out = &mut acc[(base + i) * k..(base + i + 1) * k];
                            for (a, b) in out.iter_mut().zip(t.node_values(leaf)) {
                                *a += b;
                            }
                        }
                    }
                }
                acc
            })
            .collect();
        let mut total = vec![0.0f32; n * k];
        for p in &partial {
            for (a, b) in total.iter_mut().zip(p) {
                *a += b;
            }
        }
        let scale = 1.0 / trees.len().max(1) as f32;
        total.iter_mut().for_each(|a| *a *= scale);
        Array2::from_shape_vec((n, k), total).unwrap_or_else(|_| Array2::zeros((n, k)))
    }

    /// Predictions of the first `n` trees only (for staged evaluation).
    pub fn predict_with(&self, x: ArrayView2<'_, f32>, n: usize) -> Result<Array1<f32>> {
        check_predict(self, x)?;
        let avg = self.average(x, &self.trees[..n.min(self.trees.len())]);
        Ok(self.finish(&avg))
    }

    fn finish(&self, avg: &Array2<f32>) -> Array1<f32> {
        match &self.labels {
            Some(l) => avg.outer_iter().map(|r| l.classes[argmax(r.as_slice().unwrap_or(&[]))]).collect(),
            None => avg.column(0).to_owned(),
        }
    }

    fn oob(&self, x: ArrayView2<'_, f32>, y: ArrayView1<'_, f32>, masks: &[Vec<bool>]) -> Result<f64> {
        let k = self.trees[0].n_outputs;
        let per_row: Vec<Option<Vec<f32>>> = (0..x.nrows())
            .into_par_iter()
            .map(|i| {
                let row = x.row(i).to_vec();
                let mut acc = vec![0.0f32; k];
                let mut n = 0;
                for (t, m) in self.trees.iter().zip(masks) {
                    if m[i] {
                        n += 1;
                        for (a, b) in acc.iter_mut().zip(t.node_values(t.leaf_index(&row))) {
                            *a += b;
                        }
                    }
                }
                (n > 0).then_some(acc)
            })
            .collect();
        let (mut hits, mut count, mut ss_res, mut ys) = (0usize, 0usize, 0.0f64, Vec::new());
        for (i, p) in per_row.iter().enumerate() {
            let Some(p) = p else { continue };
            count += 1;
            match &self.labels {
                Some(l) => hits += usize::from(l.classes[argmax(p)] == y[i]),
                None => {
                    let n_oob = masks.iter().filter(|m| m[i]).count() as f32;
                    ss_res += (f64::from(p[0] / n_oob) - f64::from(y[i])).powi(2);
                    ys.push(f64::from(y[i]));
                }
            }
        }
        if count == 0 {
            return Err(Error::Data("no row was out of bag; use more trees for oob_score".into()));
        }
        Ok(match &self.labels {
            Some(_) => hits as f64 / count as f64,
            None => {
                let mean = ys.iter().sum::<f64>() / ys.len() as f64;
                let ss_tot: f64 = ys.iter().map(|v| (v - mean).powi(2)).sum();
                if ss_tot > 0.0 { 1.0 - ss_res / ss_tot } else { 0.0 }
            }
        })
    }
}

impl Model for FittedForest {
    fn validate(&self) -> Result<()> {
        if self.trees.is_empty() {
            return Err(bad_model("trees", "at least one tree", 0));
        }
        let outputs = match &self.labels {
            Some(l) => {
                l.validate("labels", None)?;
                l.len()
            }
            None => 1,
        };
        for (i, t) in self.trees.iter().enumerate() {
            t.check_in_model(format_args!("trees[{i}]"), self.n_features, outputs)?;
        }
        Ok(())
    }

    fn predict(&self, x: ArrayView2<'_, f32>) -> Result<Array1<f32>> {
        check_predict(self, x)?;
        Ok(self.finish(&self.average(x, &self.trees)))
    }

    fn n_features(&self) -> usize {
        self.n_features
    }

    fn classes(&self) -> Option<&[f32]> {
        self.labels.as_ref().map(|l| l.classes.as_slice())
    }

    fn predict_proba(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        check_predict(self, x)?;
        if self.labels.is_none() {
            return Err(Error::Unsupported("a regression forest has no class probabilities".into()));
        }
        Ok(self.average(x, &self.trees))
    }
}
