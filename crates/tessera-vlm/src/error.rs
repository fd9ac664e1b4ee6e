//! The crate's one error type: each variant names the file, the field or tensor, and what was expected.

use std::path::PathBuf;

/// What went wrong loading, preprocessing or running a vision-language model.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A JSON file is not valid JSON (or not an object where one is needed).
    #[error("{}: not valid JSON: {detail}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        detail: String,
    },
    /// A configuration field has the wrong type or an impossible value.
    #[error("{}: field `{field}`: expected {expected}, found {found}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// The field, as a dotted path (`vision_config.patch_size`).
        field: String,
        /// What the field must be.
        expected: String,
        /// What the file holds.
        found: String,
    },
    /// `config.json` names an architecture this crate does not implement.
    #[error("{}: unknown model_type `{found}` (expected one of: {})", path.display(), supported.join(", "))]
    UnknownModelType {
        /// The file.
        path: PathBuf,
        /// The model type found.
        found: String,
        /// The model types supported.
        supported: Vec<String>,
    },
    /// An activation name this crate does not implement.
    #[error("{}: field `{field}`: unknown activation `{found}` (expected one of: {})", path.display(), supported.join(", "))]
    UnknownActivation {
        /// The file.
        path: PathBuf,
        /// The field.
        field: String,
        /// The name found.
        found: String,
        /// The names supported.
        supported: Vec<String>,
    },
    /// A tensor the architecture needs is not in the checkpoint.
    #[error("{}: missing tensor `{name}`", path.display())]
    MissingTensor {
        /// The checkpoint (a file or the shard index).
        path: PathBuf,
        /// The tensor's name.
        name: String,
    },
    /// A tensor has a shape other than the configuration implies.
    #[error("{}: tensor `{name}`: expected shape {expected:?}, found {found:?}", path.display())]
    ShapeMismatch {
        /// The checkpoint file.
        path: PathBuf,
        /// The tensor's name.
        name: String,
        /// The shape the configuration implies.
        expected: Vec<usize>,
        /// The shape in the file.
        found: Vec<usize>,
    },
    /// Strict loading: the checkpoint holds tensors the architecture does not use.
    #[error("{}: {} unused tensor(s): {}", path.display(), names.len(), names.join(", "))]
    UnusedTensors {
        /// The checkpoint.
        path: PathBuf,
        /// The unused names.
        names: Vec<String>,
    },
    /// The tokenizer file cannot be loaded or breaks the model's tokenisation contract.
    #[error("{}: {detail}", path.display())]
    Tokenizer {
        /// The tokenizer file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// An image cannot be decoded.
    #[error("{}: cannot decode image: {detail}", path.display())]
    Image {
        /// The image file (or `<memory>`).
        path: PathBuf,
        /// The decoder's message.
        detail: String,
    },
    /// A caller-supplied argument is out of range.
    #[error("{what}: {detail}")]
    InvalidArgument {
        /// The argument.
        what: String,
        /// What is wrong with it.
        detail: String,
    },
    /// An error from the tensor crate (safetensors IO).
    #[error(transparent)]
    Tensor(#[from] tessera_tensor::Error),
    /// An error from candle.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// An error from autograd.
    #[error(transparent)]
    Autograd(#[from] tessera_autograd::Error),
    /// An error from the layers crate.
    #[error(transparent)]
    Nn(#[from] tessera_nn::Error),
    /// An error from the attention kernels.
    #[error(transparent)]
    Attention(#[from] tessera_attention::Error),
    /// An error from a process group (the ring loss).
    #[error(transparent)]
    Dist(#[from] tessera_dist::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn invalid(what: impl Into<String>, detail: impl Into<String>) -> Error {
        Error::InvalidArgument { what: what.into(), detail: detail.into() }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io { path: path.into(), source }
    }
}
