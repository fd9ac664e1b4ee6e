//! The checkpoint of a model folder: `model.safetensors`, or shards listed by
//! `model.safetensors.index.json`, memory-mapped; tensors are taken by name with their expected shape,
//! and whatever the architecture never took is reported.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use candle_core::{DType, Device, Tensor};
use serde_json::Value;
use tessera_tensor::SafetensorsFile;

use crate::error::{Error, Result};
use crate::json::{kind, read_object};

/// An open checkpoint: every tensor name mapped to the file that holds it.
pub struct Checkpoint {
    /// The file named in errors about the checkpoint as a whole (the single file or the index).
    origin: PathBuf,
    files: Vec<SafetensorsFile>,
    index: HashMap<String, usize>,
    taken: Mutex<BTreeSet<String>>,
}

impl Checkpoint {
    /// Opens `model.safetensors` in `dir`, or the shards named by `model.safetensors.index.json`.
    pub fn open_dir(dir: &Path) -> Result<Checkpoint> {
        let single = dir.join("model.safetensors");
        let index = dir.join("model.safetensors.index.json");
        if single.is_file() {
            Checkpoint::open_files(single.clone(), vec![single])
        } else if index.is_file() {
            Checkpoint::open_index(dir, &index)
        } else {
            Err(Error::io(
                &single,
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no model.safetensors or model.safetensors.index.json",
                ),
            ))
        }
    }

    fn open_index(dir: &Path, index: &Path) -> Result<Checkpoint> {
        let map = read_object(index)?;
        let bad = |expected: &str, found: String| Error::Config {
            path: index.into(),
            field: "weight_map".into(),
            expected: expected.into(),
            found,
        };
        let weight_map = match map.get("weight_map") {
            Some(Value::Object(m)) => m,
            Some(v) => return Err(bad("an object of tensor name -> shard file", kind(v).into())),
            None => return Err(bad("an object of tensor name -> shard file", "nothing".into())),
        };
        let mut shards: BTreeMap<String, usize> = BTreeMap::new();
        let mut claimed: HashMap<String, String> = HashMap::new();
        for (name, file) in weight_map {
            let Some(file) = file.as_str() else {
                return Err(bad("shard file names (strings)", format!("{} for `{name}`", kind(file))));
            };
            // A shard is a plain file name inside the folder: no directories, no `..`.
            if file.is_empty() || file.contains(['/', '\\']) || file == "." || file == ".." {
                return Err(bad("plain file names inside the folder", format!("`{file}` for `{name}`")));
            }
            let next = shards.len();
            shards.entry(file.to_string()).or_insert(next);
            claimed.insert(name.clone(), file.to_string());
        }
        let mut ordered: Vec<(String, usize)> = shards.into_iter().collect();
        ordered.sort_by_key(|(_, i)| *i);
        let paths: Vec<PathBuf> = ordered.iter().map(|(f, _)| dir.join(f)).collect();
        let checkpoint = Checkpoint::open_files(index.to_path_buf(), paths)?;
        // Every tensor the index names must be in the shard it names.
        for (name, file) in &claimed {
            match checkpoint.index.get(name) {
                Some(&i) if checkpoint.files[i].path().file_name().is_some_and(|f| f == file.as_str()) => {}
                Some(&i) => {
                    return Err(bad(
                        "each tensor in the shard the index names",
                        format!("`{name}` in {} instead of {file}", checkpoint.files[i].path().display()),
                    ));
                }
                None => return Err(Error::MissingTensor { path: dir.join(file), name: name.clone() }),
            }
        }
        Ok(checkpoint)
    }

    fn open_files(origin: PathBuf, paths: Vec<PathBuf>) -> Result<Checkpoint> {
        let mut files = Vec::with_capacity(paths.len());
        let mut index = HashMap::new();
        for (i, path) in paths.iter().enumerate() {
            let file = SafetensorsFile::open(path)?;
            for name in file.names() {
                if let Some(prev) = index.insert(name.clone(), i) {
                    return Err(Error::Config {
                        path: path.clone(),
                        field: name,
                        expected: "each tensor in one shard".into(),
                        found: format!("also in {}", paths[prev].display()),
                    });
                }
            }
            files.push(file);
        }
        Ok(Checkpoint { origin, files, index, taken: Mutex::new(BTreeSet::new()) })
    }

    /// Whether the checkpoint holds `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// Loads `name`, checking its shape, converted to `dtype` on `device`.
    pub fn take(&self, name: &str, shape: &[usize], dtype: DType, device: &Device) -> Result<Tensor> {
        let Some(&i) = self.index.get(name) else {
            return Err(Error::MissingTensor { path: self.origin.clone(), name: name.into() });
        };
        let file = &self.files[i];
        let info = file.info(name)?;
        if info.shape != shape {
            return Err(Error::ShapeMismatch {
                path: file.path().into(),
                name: name.into(),
                expected: shape.to_vec(),
                found: info.shape,
            });
        }
        let t = file.load_as(name, dtype, device)?;
        if let Ok(mut taken) = self.taken.lock() {
            taken.insert(name.to_string());
        }
        Ok(t)
    }

    /// The tensors never taken, sorted. transformers' non-persistent buffers (`position_ids`) are not
    /// counted: old checkpoints still carry them.
    pub fn unused(&self) -> Vec<String> {
        let taken = self.taken.lock().map(|t| t.clone()).unwrap_or_default();
        let mut out: Vec<String> = self
            .index
            .keys()
            .filter(|n| !taken.contains(*n) && !n.ends_with("embeddings.position_ids"))
            .cloned()
            .collect();
        out.sort();
        out
    }

    /// The file named in whole-checkpoint errors.
    pub fn origin(&self) -> &Path {
        &self.origin
    }
}
