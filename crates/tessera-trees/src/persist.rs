//! Saving and loading models as versioned JSON: `{"format": "tessera-trees", "version": N, "kind": ...,
//! "model": ...}`. Files are written atomically; a file of another format version, another model kind or
//! with corrupted content is a clear error.

use std::path::Path;

use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
pub use crate::file::{MAX_MODEL_BYTES, read_model_text};

/// The model file format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
const FORMAT: &str = "tessera-trees";

#[derive(Serialize)]
struct Envelope<'a, M> {
    format: &'a str,
    version: u32,
    kind: &'a str,
    model: &'a M,
}

/// Serializes a model with its envelope to a JSON string. `kind` names the model type (checked on load).
pub fn model_to_json<M: Serialize>(model: &M, kind: &str) -> Result<String> {
    serde_json::to_string(&Envelope { format: FORMAT, version: FORMAT_VERSION, kind, model })
        .map_err(|e| Error::Unsupported(format!("cannot serialize the model: {e}")))
}

/// The envelope's fields read without the model: `model` is skipped, not built, so a file of another
/// format or kind costs no more memory than its text.
#[derive(Deserialize)]
struct Probe {
    format: Option<serde_json::Value>,
    version: Option<serde_json::Value>,
    kind: Option<serde_json::Value>,
    model: Option<IgnoredAny>,
}

/// The envelope with the model, read in one typed pass (no intermediate JSON tree).
#[derive(Deserialize)]
struct Loaded<M> {
    model: M,
}

/// Parses a model from JSON written by [`model_to_json`], checking format, version and kind; `source`
/// names the input in errors. The text is scanned twice (the envelope, then the model into its own type), so
/// memory stays close to the model's own size.
pub fn model_from_json<M: DeserializeOwned>(text: &str, kind: &str, source: &Path) -> Result<M> {
    let err = |message: String| Error::ModelFile { path: source.to_path_buf(), message };
    let probe: Probe = serde_json::from_str(text).map_err(|e| err(format!("not valid JSON: {e}")))?;
    if probe.format.as_ref().and_then(|v| v.as_str()) != Some(FORMAT) {
        return Err(err("not a tessera-trees model file (no `format: tessera-trees`)".into()));
    }
    match probe.version.as_ref().map(|v| (v, v.as_u64())) {
        Some((_, Some(v))) if v == u64::from(FORMAT_VERSION) => {}
        Some((_, Some(v))) => {
            return Err(err(format!(
                "model file format version {v} is not supported by this build (it reads version {FORMAT_VERSION})"
            )));
        }
        Some((v, None)) => {
            return Err(err(format!("`version`: expected a whole number ({FORMAT_VERSION}), found {v}")));
        }
        None => return Err(err(format!("`version`: missing (this build reads version {FORMAT_VERSION})"))),
    }
    let found = probe.kind.as_ref().and_then(|v| v.as_str()).unwrap_or("");
    if found != kind {
        return Err(err(format!("the file holds a `{found}` model, not a `{kind}`")));
    }
    if probe.model.is_none() {
        return Err(err("the file has no `model`".into()));
    }
    let loaded: Loaded<M> = serde_json::from_str(text).map_err(|e| err(format!("invalid model: {e}")))?;
    Ok(loaded.model)
}

/// Reads only the `kind` of a model file.
pub fn model_kind(path: impl AsRef<Path>) -> Result<String> {
    let path = path.as_ref();
    let text = read_model_text(path)?;
    let probe: Probe = serde_json::from_str(&text).map_err(|e| Error::ModelFile {
        path: path.to_path_buf(),
        message: format!("not valid JSON: {e}"),
    })?;
    Ok(probe.kind.as_ref().and_then(|v| v.as_str()).unwrap_or("").to_string())
}

/// Saves a model to `path` atomically.
pub fn save_model<M: Serialize>(model: &M, kind: &str, path: impl AsRef<Path>) -> Result<()> {
    let json = model_to_json(model, kind)?;
    tessera_tensor::write_atomic(path, |w| std::io::Write::write_all(w, json.as_bytes()))?;
    Ok(())
}

/// Loads a model of type `M` saved under `kind`.
pub fn load_model<M: DeserializeOwned>(path: impl AsRef<Path>, kind: &str) -> Result<M> {
    let path = path.as_ref();
    let text = read_model_text(path)?;
    model_from_json(&text, kind, path)
}
