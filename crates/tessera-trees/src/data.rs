//! Training-input validation and label encoding, shared by every estimator.

use ndarray::{ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, shape};

/// The labels of a classification problem: the distinct values seen at fit time, sorted, and each row's
/// index into them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassLabels {
    /// Distinct label values, ascending.
    pub classes: Vec<f32>,
}

impl ClassLabels {
    /// Encodes `y` as class indices. A NaN label or a single class is an error.
    pub fn fit(y: ArrayView1<'_, f32>) -> Result<(Self, Vec<u32>)> {
        let mut classes: Vec<f32> = y.iter().copied().collect();
        if let Some(i) = classes.iter().position(|v| !v.is_finite()) {
            return Err(Error::Data(format!("label of row {i} is {} (labels must be finite)", classes[i])));
        }
        classes.sort_by(f32::total_cmp);
        classes.dedup();
        if classes.len() < 2 {
            return Err(Error::Data(format!(
                "a classifier needs at least two classes, the labels hold only {:?}",
                classes.first().copied().unwrap_or(f32::NAN)
            )));
        }
        let labels = ClassLabels { classes };
        let encoded = y.iter().map(|v| labels.index_of(*v).unwrap_or(0)).collect();
        Ok((labels, encoded))
    }

    /// Checks labels read from a file or built by hand (`field` names them): at least two, finite, strictly
    /// ascending (lookups search them), and `n` of them when the model's outputs fix the count.
    pub(crate) fn validate(&self, field: &str, n: Option<usize>) -> Result<()> {
        check_labels(field, &self.classes, n)
    }

    /// The index of a label value, if it is one of the classes.
    pub fn index_of(&self, v: f32) -> Option<u32> {
        self.classes.binary_search_by(|c| c.total_cmp(&v)).ok().map(|i| i as u32)
    }

    /// The number of classes.
    pub fn len(&self) -> usize {
        self.classes.len()
    }

    /// Never true for fitted labels (at least two classes); present for API completeness.
    pub fn is_empty(&self) -> bool {
        self.classes.is_empty()
    }
}

/// [`ClassLabels::validate`] on a plain list of labels (ensembles that keep their classes as a `Vec<f32>`).
pub(crate) fn check_labels(field: &str, c: &[f32], n: Option<usize>) -> Result<()> {
    if let Some(n) = n {
        crate::error::model_agrees(format_args!("{field}.classes"), c.len(), n, "one per model output")?;
    }
    if c.len() < 2 {
        return Err(crate::error::bad_model(format!("{field}.classes"), "at least two classes", c.len()));
    }
    crate::error::model_finite(format_args!("{field}.classes"), c.iter().map(|&v| f64::from(v)))?;
    if let Some(i) = c.windows(2).position(|w| w[0] >= w[1]) {
        return Err(crate::error::bad_model(
            format!("{field}.classes[{}]", i + 1),
            format!("a label above {} (labels ascend)", c[i]),
            c[i + 1],
        ));
    }
    Ok(())
}

/// Checks the shapes and values of training inputs and returns the weights (all ones if none given).
/// The largest target magnitude training accepts: far beyond any real quantity, and far enough below
/// `f32::MAX` (3.4e38) that averaging millions of trees or boosting on residuals cannot overflow.
pub const TARGET_LIMIT: f32 = 1e30;

pub(crate) fn check_fit_input(
    x: ArrayView2<'_, f32>,
    y: ArrayView1<'_, f32>,
    w: Option<ArrayView1<'_, f32>>,
) -> Result<Vec<f32>> {
    if x.nrows() == 0 {
        return Err(Error::Data("the training set is empty (0 rows)".into()));
    }
    if x.ncols() == 0 {
        return Err(Error::Data("the training set has no feature columns".into()));
    }
    if y.len() != x.nrows() {
        return Err(shape("labels y", format!("{} (one per row of X)", x.nrows()), y.len()));
    }
    if let Some(i) = y.iter().position(|v| v.is_nan()) {
        return Err(Error::Data(format!("the label of row {i} (0-based) is NaN")));
    }
    if let Some(i) = y.iter().position(|v| !(v.abs() <= TARGET_LIMIT)) {
        return Err(Error::Data(format!(
            "the target of row {i} (0-based) is {}: targets must lie within +-{TARGET_LIMIT:e}, so that sums of \
             tree outputs and gradients cannot overflow (rescale the target)",
            y[i]
        )));
    }
    if let Some(i) = x.iter().position(|v| v.is_infinite()) {
        let (r, c) = (i / x.ncols(), i % x.ncols());
        return Err(Error::Data(format!(
            "X[{r}, {c}] (0-based row and column) is infinite (use NaN for missing values)"
        )));
    }
    match w {
        None => Ok(vec![1.0; x.nrows()]),
        Some(w) => {
            if w.len() != x.nrows() {
                return Err(shape("sample weights", format!("{} (one per row of X)", x.nrows()), w.len()));
            }
            if let Some(i) = w.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
                return Err(Error::Data(format!("sample weight {i} is {} (weights must be >= 0)", w[i])));
            }
            if w.iter().all(|v| *v == 0.0) {
                return Err(Error::Data("all sample weights are zero".into()));
            }
            Ok(w.to_vec())
        }
    }
}
