//! Optimizers (SGD, Adam, AdamW) with PyTorch's update rules, their saved state, and gradient
//! clipping by global norm.

mod adam;
mod kernel;
mod sgd;

pub use adam::{Adam, AdamConfig};
pub use sgd::{Sgd, SgdConfig};

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use tessera_autograd::Var;
use tessera_tensor::SafetensorsFile;

use crate::error::{Error, Result};

/// What every optimizer offers.
pub trait Optimizer {
    /// Updates every parameter that has a gradient.
    fn step(&mut self) -> Result<()>;
    /// Clears the gradients of the optimizer's parameters.
    fn zero_grad(&self);
    /// The current learning rate.
    fn learning_rate(&self) -> f64;
    /// Sets the learning rate (schedules call this each step).
    fn set_learning_rate(&mut self, lr: f64);
    /// Writes the optimizer state (moments, step counts) as safetensors.
    fn save_state(&self, path: &Path) -> Result<()>;
    /// Restores state written by [`Optimizer::save_state`] for the same parameters.
    fn load_state(&mut self, path: &Path) -> Result<()>;
}

/// One parameter with its optimizer state.
pub(crate) struct Slot {
    pub(crate) name: String,
    pub(crate) var: Var,
    pub(crate) steps: u64,
    /// Lazily allocated on the first step that sees a gradient.
    pub(crate) buffers: Vec<Vec<f32>>,
}

pub(crate) fn slots(params: Vec<(String, Var)>) -> Result<Vec<Slot>> {
    let mut seen = HashMap::new();
    for (name, _) in &params {
        if seen.insert(name.clone(), ()).is_some() {
            return Err(Error::config("optimizer", format!("parameter name {name} appears twice")));
        }
    }
    Ok(params.into_iter().map(|(name, var)| Slot { name, var, steps: 0, buffers: Vec::new() }).collect())
}

/// Writes `{name}.{buffer}` tensors and per-parameter step counts.
pub(crate) fn save_slots(path: &Path, kind: &str, buffer_names: &[&str], slots: &[Slot]) -> Result<()> {
    let mut tensors = Vec::new();
    let mut meta = HashMap::new();
    meta.insert("optimizer".to_string(), kind.to_string());
    for s in slots {
        meta.insert(format!("step.{}", s.name), s.steps.to_string());
        for (b, values) in buffer_names.iter().zip(&s.buffers) {
            let t = Tensor::from_slice(values, s.var.dims(), &Device::Cpu)?;
            tensors.push((format!("{}.{b}", s.name), t));
        }
    }
    let refs: Vec<(&str, &Tensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    tessera_tensor::save_with_metadata(path, &refs, Some(meta))?;
    Ok(())
}

/// Reads state written by [`save_slots`], checking the optimizer kind, names and shapes before
/// changing anything.
pub(crate) fn load_slots(path: &Path, kind: &str, buffer_names: &[&str], slots: &mut [Slot]) -> Result<()> {
    let bad = |reason: String| Error::OptimizerState { path: path.to_path_buf(), reason };
    let file = SafetensorsFile::open(path)?;
    let meta = file.metadata().cloned().unwrap_or_default();
    match meta.get("optimizer") {
        Some(k) if k == kind => {}
        other => return Err(bad(format!("written by optimizer {other:?}, expected {kind}"))),
    }
    let mut restored = Vec::with_capacity(slots.len());
    for s in slots.iter() {
        let steps: u64 = match meta.get(&format!("step.{}", s.name)) {
            Some(v) => {
                v.parse().map_err(|_| bad(format!("step count of {} is not a number: {v}", s.name)))?
            }
            None => return Err(bad(format!("no state for parameter {}", s.name))),
        };
        let mut buffers = Vec::new();
        if steps > 0 || file.names().iter().any(|n| n.starts_with(&format!("{}.", s.name))) {
            for b in buffer_names {
                let name = format!("{}.{b}", s.name);
                let t = file.load_checked(&name, &s.var.dims(), DType::F32, &Device::Cpu)?;
                buffers.push(t.flatten_all()?.to_vec1::<f32>()?);
            }
        }
        restored.push((steps, buffers));
    }
    for (s, (steps, buffers)) in slots.iter_mut().zip(restored) {
        s.steps = steps;
        s.buffers = buffers;
    }
    Ok(())
}

/// Scales all gradients so their global L2 norm is at most `max_norm`
/// (`torch.nn.utils.clip_grad_norm_`); returns the norm before clipping.
pub fn clip_grad_norm(params: &[Var], max_norm: f64) -> Result<f64> {
    if max_norm.is_nan() || max_norm <= 0.0 {
        return Err(Error::config("clip_grad_norm", format!("max_norm must be positive, found {max_norm}")));
    }
    let mut total = 0.0;
    for p in params {
        if let Some(g) = p.grad() {
            total += kernel::squared_norm(&g)?;
        }
    }
    let norm = total.sqrt();
    let coef = max_norm / (norm + 1e-6);
    if coef < 1.0 {
        for p in params {
            if let Some(g) = p.grad() {
                p.set_grad(Some(g.affine(coef, 0.0)?))?;
            }
        }
    }
    Ok(norm)
}

pub(crate) fn check_lr(what: &'static str, lr: f64) -> Result<()> {
    if lr.is_nan() || lr < 0.0 {
        return Err(Error::config(what, format!("learning rate must be >= 0, found {lr}")));
    }
    Ok(())
}
