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
    /// An input tensor (or a list such as `cu_seqlens_q`) whose shape does not fit the others.
    #[error("{tensor}: expected {expected}, found {found}")]
    Shape {
        /// The input named as in the API (`q`, `k`, `key_padding_mask`, `cu_seqlens_q`, ...).
        tensor: String,
        /// The shape it should have.
        expected: String,
        /// The shape it has.
        found: String,
    },
    /// An option out of its valid range (`scale`, the window).
    #[error("invalid parameter `{name}`: expected {expected}, found {found}")]
    InvalidParameter {
        /// The option.
        name: String,
        /// What a valid value is.
        expected: String,
        /// The value given.
        found: String,
    },
    /// An input holds NaN or an infinity where the kernels would read it (the element is the flat index
    /// into the contiguous tensor).
    #[error("{tensor}: element {element} is {value}; attention takes finite inputs")]
    NonFinite {
        /// The input.
        tensor: String,
        /// Its flat (row-major) index.
        element: usize,
        /// The value there.
        value: f32,
    },
    /// An input of a dtype or on a device the kernels do not take.
    #[error("{tensor}: {found} is not supported ({supported})")]
    Unsupported {
        /// The input.
        tensor: String,
        /// Its dtype or device.
        found: String,
        /// What the kernels take.
        supported: String,
    },
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

/// An [`Error::Shape`].
pub(crate) fn shape(tensor: &str, expected: impl std::fmt::Display, found: impl std::fmt::Display) -> Error {
    Error::Shape { tensor: tensor.to_string(), expected: expected.to_string(), found: found.to_string() }
}

/// An [`Error::Unsupported`].
pub(crate) fn unsupported(tensor: &str, found: impl std::fmt::Debug, supported: &str) -> Error {
    Error::Unsupported {
        tensor: tensor.to_string(),
        found: format!("{found:?}"),
        supported: supported.to_string(),
    }
}
