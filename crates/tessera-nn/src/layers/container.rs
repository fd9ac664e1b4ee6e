//! Containers: `Sequential` and the two-layer `Mlp` of transformer blocks.

use tessera_autograd::Var;
use tessera_tensor::SeededRng;

use crate::error::Result;
use crate::layers::{Activation, Linear};
use crate::module::{Module, join};

/// Layers applied in order, named `0`, `1`, ... (`nn.Sequential`).
#[derive(Default)]
pub struct Sequential {
    layers: Vec<Box<dyn Module>>,
}

impl Sequential {
    /// An empty sequence.
    pub fn new() -> Sequential {
        Sequential::default()
    }

    /// Appends a layer.
    #[allow(clippy::should_implement_trait)]
    pub fn add(mut self, layer: impl Module + 'static) -> Sequential {
        self.layers.push(Box::new(layer));
        self
    }

    /// Number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether there are no layers.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }
}

impl Module for Sequential {
    fn forward(&self, x: &Var) -> Result<Var> {
        let mut h = x.clone();
        for layer in &self.layers {
            h = layer.forward(&h)?;
        }
        Ok(h)
    }

    fn visit_parameters(&self, prefix: &str, f: &mut dyn FnMut(String, &Var)) {
        for (i, layer) in self.layers.iter().enumerate() {
            layer.visit_parameters(&join(prefix, &i.to_string()), f);
        }
    }

    fn set_training(&self, training: bool) {
        for layer in &self.layers {
            layer.set_training(training);
        }
    }
}

/// `fc2(act(fc1(x)))`: the feed-forward block of a transformer layer, with Hugging Face's
/// parameter names (`fc1.weight`, `fc2.bias`, ...).
#[derive(Debug, Clone)]
pub struct Mlp {
    /// Input projection.
    pub fc1: Linear,
    /// Output projection.
    pub fc2: Linear,
    /// The activation between them.
    pub activation: Activation,
}

impl Mlp {
    /// `dim -> hidden -> out` with biases.
    pub fn new(
        dim: usize,
        hidden: usize,
        out: usize,
        activation: Activation,
        rng: &mut SeededRng,
    ) -> Result<Mlp> {
        Ok(Mlp {
            fc1: Linear::new(dim, hidden, true, rng)?,
            fc2: Linear::new(hidden, out, true, rng)?,
            activation,
        })
    }
}

impl Module for Mlp {
    fn forward(&self, x: &Var) -> Result<Var> {
        self.fc2.forward(&self.activation.apply(&self.fc1.forward(x)?)?)
    }

    fn visit_parameters(&self, prefix: &str, f: &mut dyn FnMut(String, &Var)) {
        self.fc1.visit_parameters(&join(prefix, "fc1"), f);
        self.fc2.visit_parameters(&join(prefix, "fc2"), f);
    }
}
