//! Saving and loading models as versioned JSON: `{"format": "tessera-trees", "version": N, "kind": ...,
//! "model": ...}`. Files are written atomically; a file of another format version, another model kind or
//! with corrupted content is a clear error.

use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

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

/// Parses a model from JSON written by [`model_to_json`], checking format, version and kind; `source`
/// names the input in errors.
pub fn model_from_json<M: DeserializeOwned>(text: &str, kind: &str, source: &Path) -> Result<M> {
    let err = |message: String| Error::ModelFile { path: source.to_path_buf(), message };
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| err(format!("not valid JSON: {e}")))?;
    if value.get("format").and_then(|v| v.as_str()) != Some(FORMAT) {
        return Err(err("not a tessera-trees model file (no `format: tessera-trees`)".into()));
    }
    let version = value.get("version").and_then(serde_json::Value::as_u64);
    if version != Some(u64::from(FORMAT_VERSION)) {
        return Err(err(format!(
            "model file format version {} is not supported by this build (it reads version {FORMAT_VERSION})",
            version.map_or("missing".to_string(), |v| v.to_string())
        )));
    }
    let found = value.get("kind").and_then(|v| v.as_str()).unwrap_or("");
    if found != kind {
        return Err(err(format!("the file holds a `{found}` model, not a `{kind}`")));
    }
    let model = value.get("model").ok_or_else(|| err("the file has no `model`".into()))?;
    M::deserialize(model).map_err(|e| err(format!("invalid model: {e}")))
}

/// Reads only the `kind` of a model file.
pub fn model_kind(path: impl AsRef<Path>) -> Result<String> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::ModelFile { path: path.to_path_buf(), message: e.to_string() })?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| Error::ModelFile {
        path: path.to_path_buf(),
        message: format!("not valid JSON: {e}"),
    })?;
    Ok(value.get("kind").and_then(|v| v.as_str()).unwrap_or("").to_string())
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
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::ModelFile { path: path.to_path_buf(), message: e.to_string() })?;
    model_from_json(&text, kind, path)
}
