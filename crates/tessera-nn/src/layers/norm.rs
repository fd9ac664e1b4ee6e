//! `LayerNorm`.

use tessera_autograd::{Var, layer_norm};

use crate::error::{Error, Result};
use crate::init;
use crate::module::{Module, join};

/// Layer normalisation over the trailing `normalized_shape` dimensions with elementwise affine
/// weight (ones) and bias (zeros) (`torch.nn.LayerNorm`).
#[derive(Debug, Clone)]
pub struct LayerNorm {
    /// Scale, shaped `normalized_shape`.
    pub weight: Var,
    /// Shift, shaped `normalized_shape`.
    pub bias: Var,
    /// Added to the variance.
    pub eps: f64,
    normalized_shape: Vec<usize>,
}

impl LayerNorm {
    /// A layer norm over `normalized_shape` with `eps` (PyTorch's default is 1e-5).
    pub fn new(normalized_shape: &[usize], eps: f64) -> Result<LayerNorm> {
        if normalized_shape.is_empty() || normalized_shape.contains(&0) {
            return Err(Error::config("LayerNorm", format!("bad normalized_shape {normalized_shape:?}")));
        }
        if eps.is_nan() || eps < 0.0 {
            return Err(Error::config("LayerNorm", format!("eps must be >= 0, found {eps}")));
        }
        Ok(LayerNorm {
            weight: Var::parameter(init::ones(normalized_shape)?),
            bias: Var::parameter(init::zeros(normalized_shape)?),
            eps,
            normalized_shape: normalized_shape.to_vec(),
        })
    }
}

impl Module for LayerNorm {
    fn forward(&self, x: &Var) -> Result<Var> {
        Ok(layer_norm(x, &self.normalized_shape, Some(&self.weight), Some(&self.bias), self.eps)?)
    }

    fn visit_parameters(&self, prefix: &str, f: &mut dyn FnMut(String, &Var)) {
        f(join(prefix, "weight"), &self.weight);
        f(join(prefix, "bias"), &self.bias);
    }
}
