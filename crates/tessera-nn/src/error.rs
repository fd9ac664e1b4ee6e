//! The crate's error type.

use std::path::PathBuf;

/// Errors of layers, state dicts and optimizers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error while recording or differentiating.
    #[error(transparent)]
    Autograd(#[from] tessera_autograd::Error),
    /// An error from the tensor crate (safetensors IO).
    #[error(transparent)]
    Tensor(#[from] tessera_tensor::Error),
    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// A layer or optimizer hyper-parameter is out of range.
    #[error("{what}: {reason}")]
    InvalidParameter {
        /// The layer, optimizer or schedule.
        what: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// A state dict does not fit the module (strict loading).
    #[error("state dict {path}: missing {missing:?}, unexpected {unexpected:?}")]
    StateDictMismatch {
        /// The file read.
        path: PathBuf,
        /// Parameters of the module the file lacks.
        missing: Vec<String>,
        /// Tensors of the file the module lacks.
        unexpected: Vec<String>,
    },
    /// An optimizer state file does not fit the optimizer.
    #[error("optimizer state {path}: {reason}")]
    OptimizerState {
        /// The file read.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
}

impl Error {
    pub(crate) fn config(what: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidParameter { what, reason: reason.into() }
    }
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;
