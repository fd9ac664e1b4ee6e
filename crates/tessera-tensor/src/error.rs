//! The one error type of `tessera-tensor`.

use std::path::PathBuf;

/// Result alias used throughout `tessera-tensor`.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong in `tessera-tensor`. Each variant names the file, tensor or shape at fault.
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
    /// A safetensors file is truncated, corrupted or otherwise unreadable.
    #[error("{}: not a valid safetensors file: {reason}", path.display())]
    InvalidSafetensors {
        /// The file involved.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A tensor was asked for by a name the file does not hold.
    #[error("{}: no tensor named `{name}` (the file holds {available})", path.display())]
    MissingTensor {
        /// The file involved.
        path: PathBuf,
        /// The name asked for.
        name: String,
        /// The names the file does hold, for the message.
        available: String,
    },
    /// A tensor has another shape than the caller expected.
    #[error("tensor `{name}`: expected shape {expected:?}, found {found:?}")]
    ShapeMismatch {
        /// The tensor's name.
        name: String,
        /// The shape the caller expected.
        expected: Vec<usize>,
        /// The shape it has.
        found: Vec<usize>,
    },
    /// A tensor has a dtype that cannot be used where it was asked for.
    #[error("tensor `{name}`: dtype {found} is not supported here ({reason})")]
    UnsupportedDtype {
        /// The tensor's name.
        name: String,
        /// Its dtype, as written in the file or by candle.
        found: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// A tensor's dtype cannot be converted to the one asked for without losing its meaning
    /// (a float tensor read as integers, say).
    #[error("tensor `{name}`: stored as {found}, cannot be read as {requested}")]
    DtypeMismatch {
        /// The tensor's name.
        name: String,
        /// Its stored dtype.
        found: String,
        /// The dtype asked for.
        requested: String,
    },
    /// A device string could not be parsed.
    #[error("invalid device `{0}`: expected `cpu`, `cuda` or `cuda:N`")]
    InvalidDevice(String),
    /// A CUDA device was asked for but cannot be had.
    #[error("CUDA device {ordinal} is unavailable: {reason}")]
    CudaUnavailable {
        /// The device ordinal asked for.
        ordinal: usize,
        /// Why it is unavailable.
        reason: String,
    },
    /// An output path cannot be written safely (a directory, a read-only file, a socket, a block device).
    #[error("{}: cannot write here: {problem}", path.display())]
    Output {
        /// The output path as given.
        path: PathBuf,
        /// What is wrong with it.
        problem: OutputProblem,
    },
    /// An output path names the same file as one of the command's inputs (compared by device and inode,
    /// so another spelling or a link is caught too); writing it would destroy the input.
    #[error("{}: the output is the same file as the input {}; choose another output", output.display(), input.display())]
    SameFile {
        /// The output path as given.
        output: PathBuf,
        /// The input path as given.
        input: PathBuf,
    },
    /// An allocation would not fit: `bytes` (`None` when the size overflows 64 bits) is more than the
    /// `available` memory (see [`crate::check_fits`]).
    #[error("{what} would need {} bytes, more than the {} bytes of memory available", bytes.map_or_else(|| "more than 2^64".to_string(), |b| b.to_string()), available.map_or_else(|| "unknown".to_string(), |a| a.to_string()))]
    TooLarge {
        /// What would be allocated.
        what: String,
        /// Its size in bytes, if that fits in 64 bits.
        bytes: Option<u64>,
        /// The memory available, where known.
        available: Option<u64>,
    },
    /// An array or tensor has a shape or layout the operation cannot take.
    #[error("shape error: {0}")]
    Shape(String),
    /// An argument is out of its valid range.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// An error raised by candle.
    #[cfg(feature = "candle")]
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// Why an output path cannot be written (see [`Error::Output`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OutputProblem {
    /// The path is a directory.
    Directory,
    /// The file exists and may not be written: it has no write permission bits (refused even for root), or
    /// this user may not write it (a shell redirect would be refused too).
    ReadOnly,
    /// The path is a Unix socket, which cannot be opened as a file.
    Socket,
    /// The path is a block device (a disk); writing through it is refused.
    BlockDevice,
    /// The directory the file would be created in does not exist.
    NoSuchDirectory,
    /// The path is a chain of symbolic links too long (or circular) to follow.
    SymlinkLoop,
}

impl std::fmt::Display for OutputProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OutputProblem::Directory => "it is a directory; give a file name",
            OutputProblem::ReadOnly => "the file is read-only (permission denied)",
            OutputProblem::Socket => "it is a socket",
            OutputProblem::BlockDevice => "it is a block device",
            OutputProblem::NoSuchDirectory => "its directory does not exist",
            OutputProblem::SymlinkLoop => "too many levels of symbolic links",
        })
    }
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
}
