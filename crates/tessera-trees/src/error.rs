//! The one error type of `tessera-trees`: each variant names the kind of problem, the thing involved
//! (a parameter, an input, a file), and what was expected and found, so callers match variants instead of
//! reading messages.

use std::path::PathBuf;

/// Result alias used throughout `tessera-trees`.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong when fitting, predicting, saving or loading a model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Inputs disagree in shape (rows of X vs labels vs weights, or columns at predict time).
    #[error("shape mismatch: {what}: expected {expected}, found {found}")]
    Shape {
        /// The input whose shape is wrong.
        what: String,
        /// The shape it should have.
        expected: String,
        /// The shape it has.
        found: String,
    },
    /// The training data cannot be used (empty, NaN label, a single class, negative weights).
    #[error("invalid training data: {0}")]
    Data(String),
    /// A hyperparameter is out of its valid range, inconsistent with another, or cannot be parsed.
    #[error("invalid parameter `{name}`: expected {expected}, found {found}")]
    InvalidParameter {
        /// The parameter (as in the params struct, or `a/b` for two that conflict).
        name: String,
        /// What a valid value is.
        expected: String,
        /// The value given.
        found: String,
    },
    /// The operation needs something the model does not have (probabilities from a regressor, say).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A model file could not be read, written or understood.
    #[error("{}: {message}", path.display())]
    ModelFile {
        /// The file involved.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A fitted model's fields disagree with each other or hold values no training produces (a corrupted
    /// file, or a model assembled by hand): found by [`crate::Model::validate`], which loading and every
    /// prediction run first.
    #[error("invalid model: `{field}`: expected {expected}, found {found}")]
    InvalidModel {
        /// The field at fault, as in the model's JSON (`trees[3].n_features`, `base_margin`).
        field: String,
        /// What a consistent value is.
        expected: String,
        /// What the model holds.
        found: String,
    },
    /// A prediction is beyond f32's range (a linear model's coefficients and a row's features too large
    /// together); predictions are never silently infinite.
    #[error("the prediction for row {row} (0-based) is {value}, beyond f32's range")]
    Overflow {
        /// The row.
        row: usize,
        /// The value computed (in f64).
        value: f64,
    },
    /// An error from `tessera-tensor` (atomic writes).
    #[error(transparent)]
    Tensor(#[from] tessera_tensor::Error),
}

/// An [`Error::InvalidParameter`].
pub(crate) fn invalid(name: &str, expected: impl std::fmt::Display, found: impl std::fmt::Display) -> Error {
    Error::InvalidParameter {
        name: name.to_string(),
        expected: expected.to_string(),
        found: found.to_string(),
    }
}

/// An [`Error::InvalidModel`].
pub(crate) fn bad_model(
    field: impl Into<String>,
    expected: impl std::fmt::Display,
    found: impl std::fmt::Display,
) -> Error {
    Error::InvalidModel { field: field.into(), expected: expected.to_string(), found: found.to_string() }
}

/// Fails with [`Error::InvalidModel`] unless `value == expected` (a length or count that must agree).
/// `field` is only formatted on failure: every prediction runs these checks, once per tree or member, so
/// callers pass `format_args!` rather than an allocated string.
pub(crate) fn model_agrees(
    field: impl std::fmt::Display,
    value: usize,
    expected: usize,
    why: &str,
) -> Result<()> {
    if value != expected {
        return Err(bad_model(field.to_string(), format!("{expected} ({why})"), value));
    }
    Ok(())
}

/// Fails with [`Error::InvalidModel`] at the first value of `values` that is not finite.
pub(crate) fn model_finite(
    field: impl std::fmt::Display,
    values: impl IntoIterator<Item = f64>,
) -> Result<()> {
    match values.into_iter().enumerate().find(|(_, v)| !v.is_finite()) {
        Some((i, v)) => Err(bad_model(format!("{field}[{i}]"), "a finite number", v)),
        None => Ok(()),
    }
}

/// Fails with [`Error::InvalidModel`] at the first value of `values` beyond `+-limit` (or not finite).
pub(crate) fn model_bounded(field: &str, values: impl IntoIterator<Item = f64>, limit: f64) -> Result<()> {
    match values.into_iter().enumerate().find(|(_, v)| !(v.abs() <= limit)) {
        Some((i, v)) => Err(bad_model(format!("{field}[{i}]"), format!("a number within +-{limit:e}"), v)),
        None => Ok(()),
    }
}

/// Checks a boosted model's trees: a positive multiple of its `k` outputs (one tree per output per round),
/// each over the model's `n_features` with one output.
pub(crate) fn check_boosted_trees(trees: &[crate::tree::Tree], k: usize, n_features: usize) -> Result<()> {
    if trees.is_empty() || !trees.len().is_multiple_of(k) {
        return Err(bad_model(
            "trees",
            format!("a positive multiple of n_outputs = {k} (one per output per round)"),
            trees.len(),
        ));
    }
    for (i, t) in trees.iter().enumerate() {
        t.check_in_model(format_args!("trees[{i}]"), n_features, 1)?;
    }
    Ok(())
}

/// Fails with [`Error::Overflow`] at the first raw prediction (rows of `per_row` values) that is not a
/// finite f32.
pub(crate) fn finite_predictions(raw: impl IntoIterator<Item = f64>, per_row: usize) -> Result<()> {
    match raw.into_iter().enumerate().find(|(_, v)| !(*v as f32).is_finite()) {
        Some((i, value)) => Err(Error::Overflow { row: i / per_row.max(1), value }),
        None => Ok(()),
    }
}

/// An [`Error::Shape`].
pub(crate) fn shape(
    what: impl Into<String>,
    expected: impl std::fmt::Display,
    found: impl std::fmt::Display,
) -> Error {
    Error::Shape { what: what.into(), expected: expected.to_string(), found: found.to_string() }
}
