//! Reading the JSON files of a model folder: bounded reads and typed field access that names the
//! file and the dotted field in every error.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The largest configuration file read (real ones are a few KiB).
pub(crate) const MAX_CONFIG_BYTES: u64 = 16 << 20;

/// Reads a file of at most `limit` bytes (a regular file; a larger one is refused before it is read).
pub(crate) fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(Error::io(path, std::io::Error::other("not a regular file")));
    }
    if meta.len() > limit {
        return Err(Error::io(
            path,
            std::io::Error::other(format!("{} bytes, over the {limit}-byte limit", meta.len())),
        ));
    }
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes).map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > limit {
        return Err(Error::io(path, std::io::Error::other(format!("over the {limit}-byte limit"))));
    }
    Ok(bytes)
}

/// Parses a JSON object from a file.
pub(crate) fn read_object(path: &Path) -> Result<Map<String, Value>> {
    parse_object(path, &read_bounded(path, MAX_CONFIG_BYTES)?)
}

/// Parses a JSON object from bytes already read from `path`.
pub(crate) fn parse_object(path: &Path, bytes: &[u8]) -> Result<Map<String, Value>> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(Error::Json {
            path: path.into(),
            detail: format!("expected an object, found {}", kind(&other)),
        }),
        Err(e) => Err(Error::Json { path: path.into(), detail: e.to_string() }),
    }
}

/// The JSON type name of a value, for messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A JSON object with its file and dotted prefix, for typed reads with defaults.
#[derive(Clone, Copy)]
pub(crate) struct Fields<'a> {
    pub path: &'a Path,
    pub prefix: &'a str,
    pub map: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    pub fn new(path: &'a Path, prefix: &'a str, map: &'a Map<String, Value>) -> Fields<'a> {
        Fields { path, prefix, map }
    }

    pub fn name(&self, field: &str) -> String {
        if self.prefix.is_empty() { field.to_string() } else { format!("{}.{field}", self.prefix) }
    }

    pub fn error(&self, field: &str, expected: impl Into<String>, found: impl Into<String>) -> Error {
        Error::Config {
            path: PathBuf::from(self.path),
            field: self.name(field),
            expected: expected.into(),
            found: found.into(),
        }
    }

    /// The value of `field`, `None` when absent or null.
    pub fn get(&self, field: &str) -> Option<&'a Value> {
        self.map.get(field).filter(|v| !v.is_null())
    }

    /// A nested object (absent: an empty one).
    pub fn object(&self, field: &str) -> Result<Option<&'a Map<String, Value>>> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(v) => Err(self.error(field, "an object", kind(v))),
        }
    }

    /// A positive integer no larger than `max`, or `default` when absent.
    pub fn positive(&self, field: &str, default: usize, max: usize) -> Result<usize> {
        match self.get(field) {
            None => Ok(default),
            Some(v) => self.integer_in(field, v, 1, max),
        }
    }

    /// An integer in `[min, max]`, if present.
    pub fn opt_integer(&self, field: &str, min: usize, max: usize) -> Result<Option<usize>> {
        self.get(field).map(|v| self.integer_in(field, v, min, max)).transpose()
    }

    fn integer_in(&self, field: &str, v: &Value, min: usize, max: usize) -> Result<usize> {
        let expected = || format!("an integer in [{min}, {max}]");
        match v.as_u64() {
            Some(n) if n >= min as u64 && n <= max as u64 => Ok(n as usize),
            _ => Err(self.error(field, expected(), v.to_string())),
        }
    }

    /// A finite number, or `default` when absent.
    pub fn number(&self, field: &str, default: f64) -> Result<f64> {
        match self.get(field) {
            None => Ok(default),
            Some(v) => match v.as_f64() {
                Some(x) if x.is_finite() => Ok(x),
                _ => Err(self.error(field, "a finite number", v.to_string())),
            },
        }
    }

    /// A boolean, or `default` when absent.
    pub fn boolean(&self, field: &str, default: bool) -> Result<bool> {
        match self.get(field) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(self.error(field, "true or false", v.to_string())),
        }
    }

    /// A string, if present.
    pub fn string(&self, field: &str) -> Result<Option<&'a str>> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(self.error(field, "a string", kind(v))),
        }
    }
}
