//! The one error type of `tessera-datasets`.

use std::path::PathBuf;

/// Result alias used throughout `tessera-datasets`.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong when loading, generating or splitting data. Parse errors carry the file,
/// the 1-based line and the column.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A data file is malformed at a known place.
    #[error("{}:{line}: column {column}: {message}", path.display())]
    Parse {
        /// The file involved.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// The column, by name where the file has a header, else by 1-based position.
        column: String,
        /// What is wrong.
        message: String,
    },
    /// A data file is malformed as a whole (no header, no rows, unknown target column).
    #[error("{}: {message}", path.display())]
    File {
        /// The file involved.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A column asked for (the target, or a feature) is not in the file's header.
    #[error("{}: no column named `{name}` (columns: {})", path.display(), columns.join(", "))]
    MissingColumn {
        /// The file involved.
        path: PathBuf,
        /// The column asked for.
        name: String,
        /// The columns the file has.
        columns: Vec<String>,
    },
    /// No embedded dataset has this name.
    #[error("no embedded dataset named `{name}` (available: {available})")]
    UnknownDataset {
        /// The name asked for.
        name: String,
        /// The embedded names.
        available: String,
    },
    /// Parts of a dataset do not agree in shape.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// A parameter is out of its valid range.
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    /// An error from `tessera-tensor` (atomic writes).
    #[error(transparent)]
    Tensor(#[from] tessera_tensor::Error),
}
