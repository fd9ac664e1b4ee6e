//! CART decision trees (scikit-learn's `DecisionTreeClassifier` / `DecisionTreeRegressor`).

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use tessera_tensor::SeededRng;

use super::criterion::Criterion;
use super::data::{Target, TrainData, encode_target};
use super::grow::grow;
use super::params::{GrowParams, MaxFeatures, TreeParams};
use super::prune::prune;
use crate::data::{ClassLabels, check_fit_input};
use crate::error::{Result, invalid};
use crate::estimator::{Estimator, Model, check_predict_input};
use crate::stats::argmax;
use crate::tree::Tree;
use crate::tree::batch::{PREDICT_CHUNK, rows_of};

/// Fits one tree on prepared data with the given row weights (rows of weight 0 are left out).
pub(crate) fn fit_tree(
    data: &TrainData,
    params: &TreeParams,
    g: &GrowParams,
    weights: &[f32],
    seed: u64,
) -> Tree {
    let rows: Vec<u32> = (0..data.n_rows as u32).filter(|&r| weights[r as usize] > 0.0).collect();
    let mut rng = SeededRng::new(seed);
    let mut tree = grow(data, g, weights, rows, &mut rng);
    if params.ccp_alpha > 0.0 {
        prune(&mut tree, params.ccp_alpha);
    }
    tree
}

thread_local! {
    /// The data prepared by the last tree fit on this thread, while a boosting loop allows reuse.
    static REUSE: RefCell<Option<(u64, Arc<TrainData>)>> = const { RefCell::new(None) };
    static REUSE_ON: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with reuse of prepared training data (column-major copy and quantile bins) between tree fits
/// on this thread whose inputs have identical content. Boosting refits one data set with new weights
/// every round; without this each round would re-sort every feature to bin it. The cache is content-keyed
/// (a hash of X, y and the task) and dropped when `f` returns.
pub(crate) fn with_prepared_reuse<T>(f: impl FnOnce() -> T) -> T {
    let was_on = REUSE_ON.with(|c| c.replace(true));
    let out = f();
    REUSE_ON.with(|c| c.set(was_on));
    if !was_on {
        REUSE.with(|r| r.borrow_mut().take());
    }
    out
}

fn content_key(x: ArrayView2<'_, f32>, y: ArrayView1<'_, f32>, criterion: Criterion, hist: bool) -> u64 {
    // FNV-1a over the shapes and bit patterns.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |v: u64| {
        h ^= v;
        h = h.wrapping_mul(0x0100_0000_01b3);
    };
    eat(x.nrows() as u64);
    eat(x.ncols() as u64);
    eat(u64::from(criterion.is_classification()) | (u64::from(hist) << 1));
    for v in x.iter().chain(y.iter()) {
        eat(u64::from(v.to_bits()));
    }
    h
}

/// Prepares (or, inside [`with_prepared_reuse`], reuses) the training data for one tree.
fn prepared_data(
    x: ArrayView2<'_, f32>,
    y: ArrayView1<'_, f32>,
    target: Target,
    criterion: Criterion,
    hist: bool,
) -> Arc<TrainData> {
    if !REUSE_ON.with(Cell::get) {
        return Arc::new(TrainData::new(x, target, hist));
    }
    let key = content_key(x, y, criterion, hist);
    if let Some(data) = REUSE.with(|r| r.borrow().as_ref().filter(|(k, _)| *k == key).map(|(_, d)| d.clone()))
    {
        return data;
    }
    let data = Arc::new(TrainData::new(x, target, hist));
    REUSE.with(|r| *r.borrow_mut() = Some((key, data.clone())));
    data
}

macro_rules! tree_estimator {
    ($(#[$doc:meta])* $name:ident, $criterion:expr, $classify:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        pub struct $name {
            /// The tree's hyperparameters.
            pub params: TreeParams,
        }

        impl Default for $name {
            fn default() -> Self {
                $name { params: TreeParams::default_for($criterion) }
            }
        }

        impl $name {
            /// Default hyperparameters (scikit-learn's).
            pub fn new() -> Self {
                Self::default()
            }

            /// Sets the maximum depth.
            pub fn max_depth(mut self, depth: usize) -> Self {
                self.params.max_depth = Some(depth);
                self
            }

            /// Sets the criterion.
            pub fn criterion(mut self, criterion: Criterion) -> Self {
                self.params.criterion = criterion;
                self
            }

            /// Sets the features considered per split.
            pub fn max_features(mut self, m: MaxFeatures) -> Self {
                self.params.max_features = m;
                self
            }

            /// Sets the minimum rows per leaf.
            pub fn min_samples_leaf(mut self, n: usize) -> Self {
                self.params.min_samples_leaf = n;
                self
            }

            /// Sets best-first growth to at most `n` leaves.
            pub fn max_leaf_nodes(mut self, n: usize) -> Self {
                self.params.max_leaf_nodes = Some(n);
                self
            }

            /// Sets the cost-complexity pruning parameter.
            pub fn ccp_alpha(mut self, alpha: f64) -> Self {
                self.params.ccp_alpha = alpha;
                self
            }

            /// Sets the seed.
            pub fn seed(mut self, seed: u64) -> Self {
                self.params.seed = seed;
                self
            }
        }

        impl Estimator for $name {
            type Model = FittedTree;

            fn fit_weighted(
                &self,
                x: ArrayView2<'_, f32>,
                y: ArrayView1<'_, f32>,
                w: Option<ArrayView1<'_, f32>>,
            ) -> Result<FittedTree> {
                if self.params.criterion.is_classification() != $classify {
                    return Err(invalid(
                        "criterion",
                        if $classify { "gini, entropy or log_loss for a classifier" } else { "squared_error or absolute_error for a regressor" },
                        self.params.criterion,
                    ));
                }
                let weights = check_fit_input(x, y, w)?;
                let g = self.params.grow_params(x.ncols())?;
                let (target, labels) = encode_target(self.params.criterion, y)?;
                let data = prepared_data(x, y, target, self.params.criterion, true);
                let tree = fit_tree(&data, &self.params, &g, &weights, self.params.seed);
                Ok(FittedTree { tree, labels, n_features: x.ncols() })
            }

            fn with_seed(&self, seed: u64) -> Self {
                let mut c = self.clone();
                c.params.seed = seed;
                c
            }
        }
    };
}

tree_estimator!(
    /// A CART classification tree (default criterion: gini).
    DecisionTreeClassifier,
    Criterion::Gini,
    true
);
tree_estimator!(
    /// A CART regression tree (default criterion: squared error).
    DecisionTreeRegressor,
    Criterion::SquaredError,
    false
);

/// A fitted decision tree (classifier or regressor).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedTree {
    /// The tree.
    pub tree: Tree,
    /// The class labels (classifiers only).
    pub labels: Option<ClassLabels>,
    /// Feature columns at fit time.
    pub n_features: usize,
}

impl FittedTree {
    /// Impurity-based feature importances (sum to 1).
    pub fn feature_importances(&self) -> Vec<f64> {
        self.tree.feature_importances()
    }

    /// The leaf index each row falls into.
    pub fn apply(&self, x: ArrayView2<'_, f32>) -> Result<Vec<usize>> {
        check_predict_input(x, self.n_features)?;
        Ok(rows_of(x).map(|row| self.tree.leaf_index(&row)).collect())
    }
}

impl Model for FittedTree {
    fn predict(&self, x: ArrayView2<'_, f32>) -> Result<Array1<f32>> {
        check_predict_input(x, self.n_features)?;
        let one = |row: &[f32]| {
            let v = self.tree.node_values(self.tree.leaf_index(row));
            match &self.labels {
                Some(l) => l.classes[argmax(v)],
                None => v[0],
            }
        };
        // Small inputs (as inside boosting and stacking) are predicted on this thread.
        if x.nrows() <= 4 * PREDICT_CHUNK {
            return Ok(rows_of(x).map(|row| one(&row)).collect());
        }
        let out: Vec<f32> = x
            .axis_chunks_iter(Axis(0), PREDICT_CHUNK)
            .into_par_iter()
            .flat_map_iter(|chunk| rows_of(chunk).map(|row| one(&row)).collect::<Vec<_>>())
            .collect();
        Ok(Array1::from(out))
    }

    fn n_features(&self) -> usize {
        self.n_features
    }

    fn classes(&self) -> Option<&[f32]> {
        self.labels.as_ref().map(|l| l.classes.as_slice())
    }

    fn predict_proba(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        check_predict_input(x, self.n_features)?;
        if self.labels.is_none() {
            return Err(crate::error::Error::Unsupported(
                "a regression tree has no class probabilities".into(),
            ));
        }
        let k = self.tree.n_outputs;
        let mut out = Array2::<f32>::zeros((x.nrows(), k));
        for (i, row) in rows_of(x).enumerate() {
            out.row_mut(i).assign(&ArrayView1::from(self.tree.node_values(self.tree.leaf_index(&row))));
        }
        Ok(out)
    }
}
