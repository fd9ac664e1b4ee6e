//! CART decision trees (scikit-learn's `DecisionTreeClassifier` / `DecisionTreeRegressor`).

use std::sync::Arc;

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use tessera_tensor::SeededRng;

use super::criterion::Criterion;
use super::data::{TrainData, encode_target};
use super::grow::grow;
use super::params::{GrowParams, MaxFeatures, TreeParams};
use super::prune::prune;
use crate::data::{ClassLabels, check_fit_input};
use crate::error::{Result, invalid};
use crate::estimator::{Estimator, Model, Prepared, check_predict};
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
                fit_on(&self.params, $classify, x, y, w, None)
            }

            fn fit_prepared(&self, data: &Prepared<'_>, w: Option<ArrayView1<'_, f32>>) -> Result<FittedTree> {
                fit_on(&self.params, $classify, data.x(), data.y(), w, Some(data))
            }

            fn with_seed(&self, seed: u64) -> Self {
                let mut c = self.clone();
                c.params.seed = seed;
                c
            }
        }
    };
}

/// Fits one CART tree; with `prepared`, its training data (column-major copy, bins, encoded targets) is
/// made once per prepared data set and task, and reused.
fn fit_on(
    params: &TreeParams,
    classify: bool,
    x: ArrayView2<'_, f32>,
    y: ArrayView1<'_, f32>,
    w: Option<ArrayView1<'_, f32>>,
    prepared: Option<&Prepared<'_>>,
) -> Result<FittedTree> {
    if params.criterion.is_classification() != classify {
        return Err(invalid(
            "criterion",
            if classify {
                "gini, entropy or log_loss for a classifier"
            } else {
                "squared_error or absolute_error for a regressor"
            },
            params.criterion,
        ));
    }
    let weights = check_fit_input(x, y, w)?;
    let g = params.grow_params(x.ncols())?;
    let (target, labels) = encode_target(params.criterion, y)?;
    let data = match prepared {
        Some(p) => {
            let key = if classify { "cart/classification" } else { "cart/regression" };
            p.derived(key, || TrainData::new(x, target, true))
        }
        None => Arc::new(TrainData::new(x, target, true)),
    };
    let tree = fit_tree(&data, params, &g, &weights, params.seed);
    tree.check_finite("the tree")?;
    Ok(FittedTree { tree, labels, n_features: x.ncols() })
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
        check_predict(self, x)?;
        Ok(rows_of(x).map(|row| self.tree.leaf_index(&row)).collect())
    }
}

impl Model for FittedTree {
    fn validate(&self) -> Result<()> {
        let outputs = match &self.labels {
            Some(l) => {
                l.validate("labels", None)?;
                l.len()
            }
            None => 1,
        };
        self.tree.check_in_model("tree", self.n_features, outputs)
    }

    fn predict(&self, x: ArrayView2<'_, f32>) -> Result<Array1<f32>> {
        check_predict(self, x)?;
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
        check_predict(self, x)?;
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
