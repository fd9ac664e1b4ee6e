//! The estimator vocabulary every model implements, so ensembles compose: bagging, boosting, stacking and
//! voting take any [`Estimator`].

use std::any::Any;
use std::sync::{Arc, Mutex};

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tessera_datasets::Dataset;

use crate::error::{Error, Result, shape};

/// Hyperparameters that can be fitted to data. Cloneable and thread-safe so ensembles can fit copies in
/// parallel; [`Estimator::with_seed`] reseeds a copy for ensemble member `i`.
pub trait Estimator: Clone + Send + Sync {
    /// The fitted model.
    type Model: Model;

    /// Fits to rows `x` (NaN = missing), targets `y` and optional non-negative sample weights.
    fn fit_weighted(
        &self,
        x: ArrayView2<'_, f32>,
        y: ArrayView1<'_, f32>,
        w: Option<ArrayView1<'_, f32>>,
    ) -> Result<Self::Model>;

    /// Prepares rows `x` and targets `y` for several fits that differ only in their sample weights
    /// ([`Estimator::fit_prepared`]), as boosting does each round.
    fn prepare<'a>(&self, x: ArrayView2<'a, f32>, y: ArrayView1<'a, f32>) -> Prepared<'a> {
        Prepared::new(x, y)
    }

    /// Fits to prepared data with sample weights `w`: the same model as [`Estimator::fit_weighted`] on the
    /// prepared rows, reusing what an earlier fit derived from the data alone (trees reuse their
    /// column-major copy and quantile bins).
    fn fit_prepared(&self, data: &Prepared<'_>, w: Option<ArrayView1<'_, f32>>) -> Result<Self::Model> {
        self.fit_weighted(data.x(), data.y(), w)
    }

    /// Fits without sample weights.
    fn fit(&self, x: ArrayView2<'_, f32>, y: ArrayView1<'_, f32>) -> Result<Self::Model> {
        self.fit_weighted(x, y, None)
    }

    /// Fits to a [`Dataset`]'s features and targets.
    fn fit_dataset(&self, data: &Dataset) -> Result<Self::Model> {
        self.fit_weighted(data.features(), data.targets(), None)
    }

    /// A copy whose randomness is driven by `seed`.
    fn with_seed(&self, seed: u64) -> Self;
}

/// Rows and targets prepared once for many fits ([`Estimator::prepare`]). What an estimator derives from
/// the data alone is made on its first fit and kept here, under a key of the estimator's choosing, for the
/// next fits: explicit state owned by the caller instead of a hidden cache.
pub struct Prepared<'a> {
    x: ArrayView2<'a, f32>,
    y: ArrayView1<'a, f32>,
    derived: Mutex<Vec<(&'static str, Arc<dyn Any + Send + Sync>)>>,
}

impl<'a> Prepared<'a> {
    /// Data prepared from rows `x` and targets `y`.
    pub fn new(x: ArrayView2<'a, f32>, y: ArrayView1<'a, f32>) -> Self {
        Prepared { x, y, derived: Mutex::new(Vec::new()) }
    }

    /// The rows.
    pub fn x(&self) -> ArrayView2<'a, f32> {
        self.x
    }

    /// The targets.
    pub fn y(&self) -> ArrayView1<'a, f32> {
        self.y
    }

    /// What was derived from the data under `key`, made by `make` on first use.
    pub(crate) fn derived<T: Any + Send + Sync>(
        &self,
        key: &'static str,
        make: impl FnOnce() -> T,
    ) -> Arc<T> {
        let mut derived = self.derived.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(found) =
            derived.iter().find(|(k, _)| *k == key).and_then(|(_, v)| v.clone().downcast::<T>().ok())
        {
            return found;
        }
        let made = Arc::new(make());
        derived.push((key, made.clone()));
        made
    }
}

/// A fitted model: predictions, and class probabilities for classifiers. Models serialize with serde, so
/// they save and load as JSON (see [`crate::save_model`]).
pub trait Model: Send + Sync + Serialize + DeserializeOwned {
    /// Predictions: class labels (as given at fit time) for classifiers, values for regressors.
    fn predict(&self, x: ArrayView2<'_, f32>) -> Result<Array1<f32>>;

    /// The number of feature columns the model was fitted on.
    fn n_features(&self) -> usize;

    /// The class labels in column order of [`Model::predict_proba`]; `None` for regressors.
    fn classes(&self) -> Option<&[f32]>;

    /// Checks the model's fields against each other: counts and lengths (outputs, base margins, labels,
    /// trees per round), every tree's feature count against the model's, finite values. Loading runs it,
    /// and so does every prediction before touching the trees, so a model read from a corrupted file or
    /// assembled by hand is an [`Error::InvalidModel`], never a panic or a NaN. It costs one pass over the
    /// model's trees, not their nodes (a tree's nodes are checked once, when it is built or loaded).
    fn validate(&self) -> Result<()>;

    /// Class probabilities, one column per class in [`Model::classes`] order. Regressors return an error.
    fn predict_proba(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        let _ = x;
        Err(Error::Unsupported("this model predicts values, not class probabilities".into()))
    }
}

/// What every prediction runs first: the model's own check ([`Model::validate`]), then the rows' column
/// count against the model's.
pub(crate) fn check_predict<M: Model>(model: &M, x: ArrayView2<'_, f32>) -> Result<()> {
    model.validate()?;
    check_predict_input(x, model.n_features())
}

/// Checks a predict-time matrix against the model's feature count.
pub(crate) fn check_predict_input(x: ArrayView2<'_, f32>, n_features: usize) -> Result<()> {
    if x.ncols() != n_features {
        return Err(shape("feature columns", format!("{n_features} (as at fit time)"), x.ncols()));
    }
    Ok(())
}

/// A model's output for `x` in a fixed column layout: class probabilities placed in the columns of `all`
/// (a member fitted on a subset of the classes gets zeros for the others), or, when `all` is `None`, the
/// predictions as one column. Ensembles combine members through this.
pub(crate) fn aligned_output<M: Model>(
    model: &M,
    x: ArrayView2<'_, f32>,
    all: Option<&[f32]>,
) -> Result<Array2<f32>> {
    let Some(all) = all else {
        return Ok(model.predict(x)?.insert_axis(ndarray::Axis(1)));
    };
    let p = model.predict_proba(x)?;
    let mut out = Array2::<f32>::zeros((x.nrows(), all.len()));
    for (j, c) in model.classes().unwrap_or(&[]).iter().enumerate() {
        if let Some(k) = all.iter().position(|a| a == c) {
            out.column_mut(k).assign(&p.column(j));
        }
    }
    Ok(out)
}
