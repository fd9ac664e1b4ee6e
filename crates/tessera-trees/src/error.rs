//! The one error type of `tessera-trees`.

use std::path::PathBuf;

/// Result alias used throughout `tessera-trees`.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong when fitting, predicting, saving or loading a model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Inputs disagree in shape (rows of X vs labels vs weights, or columns at predict time).
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// The training data cannot be used (empty, NaN label, a single class, negative weights).
    #[error("invalid training data: {0}")]
    Data(String),
    /// A hyperparameter is out of its valid range.
    #[error("invalid parameter: {0}")]
    Param(String),
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
    /// An error from `tessera-tensor` (atomic writes).
    #[error(transparent)]
    Tensor(#[from] tessera_tensor::Error),
}

pub(crate) fn param(message: impl Into<String>) -> Error {
    Error::Param(message.into())
}
