//! The [`Module`] trait: a forward pass plus named parameters, train/eval mode and state dicts.

use std::collections::HashMap;
use std::path::Path;

use candle_core::Tensor;
use tessera_autograd::Var;
use tessera_tensor::SafetensorsFile;

use crate::error::{Error, Result};

/// A layer or model: a forward pass over variables and a set of named parameters.
///
/// Parameter names are dotted paths (`encoder.layers.0.fc1.weight`) that match the names
/// PyTorch's `state_dict()` and Hugging Face checkpoints use, so weights load by name.
pub trait Module: Send + Sync {
    /// Runs the layer.
    fn forward(&self, x: &Var) -> Result<Var>;

    /// Calls `f` with the full dotted name and the variable of every parameter, children
    /// included; `prefix` is this module's own path (empty at the root).
    fn visit_parameters(&self, prefix: &str, f: &mut dyn FnMut(String, &Var));

    /// Switches between training and evaluation behaviour (dropout), recursively.
    fn set_training(&self, training: bool) {
        let _ = training;
    }
}

/// `prefix.name`, or `name` at the root.
pub fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() { name.to_string() } else { format!("{prefix}.{name}") }
}

/// Which names a non-strict [`ModuleExt::load_safetensors`] matched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Parameters loaded.
    pub loaded: Vec<String>,
    /// Parameters of the module absent from the file (left unchanged).
    pub missing: Vec<String>,
    /// Tensors of the file that match no parameter (ignored).
    pub unexpected: Vec<String>,
}

/// Conveniences every [`Module`] gets.
pub trait ModuleExt: Module {
    /// `(name, variable)` for every parameter, in a stable order.
    fn named_parameters(&self) -> Vec<(String, Var)> {
        let mut out = Vec::new();
        self.visit_parameters("", &mut |name, v| out.push((name, v.clone())));
        out
    }

    /// Every parameter.
    fn parameters(&self) -> Vec<Var> {
        self.named_parameters().into_iter().map(|(_, v)| v).collect()
    }

    /// The total number of parameter elements.
    fn num_parameters(&self) -> usize {
        self.named_parameters().iter().map(|(_, v)| v.elem_count()).sum()
    }

    /// Clears every parameter's gradient.
    fn zero_grad(&self) {
        self.visit_parameters("", &mut |_, v| v.zero_grad());
    }

    /// Training mode (dropout active).
    fn train(&self) {
        self.set_training(true);
    }

    /// Evaluation mode (dropout off).
    fn eval(&self) {
        self.set_training(false);
    }

    /// `(name, value)` of every parameter (PyTorch's `state_dict()`).
    fn state_dict(&self) -> Vec<(String, Tensor)> {
        self.named_parameters().into_iter().map(|(n, v)| (n, v.tensor())).collect()
    }

    /// Writes the state dict as safetensors (atomically: a temporary file renamed into place).
    fn save_safetensors(&self, path: impl AsRef<Path>) -> Result<()> {
        let state = self.state_dict();
        let refs: Vec<(&str, &Tensor)> = state.iter().map(|(n, t)| (n.as_str(), t)).collect();
        tessera_tensor::save(path, &refs)?;
        Ok(())
    }

    /// Loads parameters by name from a safetensors file, converting to each parameter's dtype and
    /// device and checking shapes. With `strict`, a missing or unexpected name is an error
    /// naming them all; otherwise the report lists them.
    fn load_safetensors(&self, path: impl AsRef<Path>, strict: bool) -> Result<LoadReport> {
        let path = path.as_ref();
        let file = SafetensorsFile::open(path)?;
        let mut in_file: HashMap<String, bool> = file.names().into_iter().map(|n| (n, false)).collect();
        let params = self.named_parameters();
        let mut report = LoadReport::default();
        for (name, _) in &params {
            match in_file.get_mut(name) {
                Some(seen) => *seen = true,
                None => report.missing.push(name.clone()),
            }
        }
        report.unexpected = in_file.iter().filter(|(_, seen)| !**seen).map(|(n, _)| n.clone()).collect();
        report.unexpected.sort();
        if strict && (!report.missing.is_empty() || !report.unexpected.is_empty()) {
            return Err(Error::StateDictMismatch {
                path: path.to_path_buf(),
                missing: report.missing,
                unexpected: report.unexpected,
            });
        }
        // Read everything before changing anything, so a bad tensor leaves the module intact.
        let mut loaded = Vec::new();
        for (name, var) in &params {
            if in_file.contains_key(name) {
                let t = file.load_checked(name, &var.dims(), var.dtype(), &var.device())?;
                loaded.push((name.clone(), var.clone(), t));
            }
        }
        for (name, var, t) in loaded {
            var.set_data(t)?;
            report.loaded.push(name);
        }
        Ok(report)
    }
}

impl<M: Module + ?Sized> ModuleExt for M {}
