//! Reading a model file's text: the one place a loader touches the file system, with a size cap, so every
//! loader (tessera's JSON, XGBoost's) refuses a directory or an oversized file the same way.

use std::path::Path;

use crate::error::{Error, Result};

/// The largest model file read (4 GiB): a bigger file is refused before it is read.
pub const MAX_MODEL_BYTES: u64 = 4 << 30;

/// Reads a model file's text, refusing files over [`MAX_MODEL_BYTES`] and non-UTF-8 content with the path.
pub fn read_model_text(path: &Path) -> Result<String> {
    let err = |message: String| Error::ModelFile { path: path.to_path_buf(), message };
    let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
    if meta.is_dir() {
        return Err(err("is a directory, not a model file".into()));
    }
    if meta.len() > MAX_MODEL_BYTES {
        return Err(err(format!(
            "{} bytes is larger than the {MAX_MODEL_BYTES} bytes a model file may hold",
            meta.len()
        )));
    }
    std::fs::read_to_string(path).map_err(|e| err(e.to_string()))
}
