//! Parameter-free layers: activations and dropout.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use tessera_autograd::{Var, dropout};
use tessera_tensor::SeededRng;

use crate::error::{Error, Result};
use crate::module::Module;

/// An elementwise activation as a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `max(x, 0)`.
    Relu,
    /// Exact GELU (`nn.GELU()`).
    Gelu,
    /// Tanh-approximated GELU (`nn.GELU(approximate='tanh')`).
    GeluTanh,
    /// `x * sigmoid(1.702 x)` (CLIP).
    QuickGelu,
    /// Logistic sigmoid.
    Sigmoid,
    /// Hyperbolic tangent.
    Tanh,
    /// `x * sigmoid(x)`.
    Silu,
}

impl Activation {
    /// Applies the activation.
    pub fn apply(self, x: &Var) -> Result<Var> {
        Ok(match self {
            Activation::Relu => x.relu()?,
            Activation::Gelu => x.gelu_erf()?,
            Activation::GeluTanh => x.gelu()?,
            Activation::QuickGelu => x.quick_gelu()?,
            Activation::Sigmoid => x.sigmoid()?,
            Activation::Tanh => x.tanh()?,
            Activation::Silu => x.silu()?,
        })
    }
}

impl Module for Activation {
    fn forward(&self, x: &Var) -> Result<Var> {
        self.apply(x)
    }

    fn visit_parameters(&self, _: &str, _: &mut dyn FnMut(String, &Var)) {}
}

/// Zeroes elements with probability `p` in training mode and rescales the rest
/// (`nn.Dropout`); the identity in evaluation mode. Masks come from the layer's own seeded
/// generator, so a run is reproducible.
#[derive(Debug)]
pub struct Dropout {
    p: f64,
    training: AtomicBool,
    rng: Mutex<SeededRng>,
}

impl Dropout {
    /// Dropout with probability `p` in `[0, 1]`, in training mode.
    pub fn new(p: f64, seed: u64) -> Result<Dropout> {
        if !(0.0..=1.0).contains(&p) {
            return Err(Error::config("Dropout", format!("p must be in [0, 1], found {p}")));
        }
        Ok(Dropout { p, training: AtomicBool::new(true), rng: Mutex::new(SeededRng::new(seed)) })
    }

    /// Whether the layer is in training mode.
    pub fn is_training(&self) -> bool {
        self.training.load(Ordering::Relaxed)
    }
}

impl Module for Dropout {
    fn forward(&self, x: &Var) -> Result<Var> {
        let mut rng = self.rng.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(dropout(x, self.p, self.is_training(), &mut rng)?)
    }

    fn visit_parameters(&self, _: &str, _: &mut dyn FnMut(String, &Var)) {}

    fn set_training(&self, training: bool) {
        self.training.store(training, Ordering::Relaxed);
    }
}
