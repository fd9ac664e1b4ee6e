//! The crate's error type.

/// What can go wrong when calling the attention kernels.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// An autograd error (the custom-function path).
    #[error(transparent)]
    Autograd(#[from] tessera_autograd::Error),
    /// An error of the tensor crate (safetensors IO).
    #[error(transparent)]
    Tensor(#[from] tessera_tensor::Error),
    /// Inputs whose shapes do not fit together.
    #[error("{0}")]
    Shape(String),
    /// An unsupported dtype, device or option.
    #[error("{0}")]
    Unsupported(String),
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;
