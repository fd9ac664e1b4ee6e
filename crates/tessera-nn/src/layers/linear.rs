//! `Linear`: `y = x W^T + b`.

use tessera_autograd::{Var, linear};
use tessera_tensor::SeededRng;

use crate::error::{Error, Result};
use crate::init;
use crate::module::{Module, join};

/// A fully connected layer with weight `(out_features, in_features)` and optional bias
/// (`torch.nn.Linear`).
#[derive(Debug, Clone)]
pub struct Linear {
    /// Weight, `(out_features, in_features)`.
    pub weight: Var,
    /// Bias, `(out_features)`.
    pub bias: Option<Var>,
}

impl Linear {
    /// A layer initialised as PyTorch does (weight and bias uniform in `+-1/sqrt(in_features)`).
    pub fn new(in_features: usize, out_features: usize, bias: bool, rng: &mut SeededRng) -> Result<Linear> {
        if in_features == 0 || out_features == 0 {
            return Err(Error::config("Linear", "in_features and out_features must be positive"));
        }
        let weight = Var::parameter(init::kaiming_uniform(&[out_features, in_features], in_features, rng)?);
        let bias = if bias {
            let bound = 1.0 / (in_features as f64).sqrt();
            Some(Var::parameter(init::uniform(&[out_features], bound, rng)?))
        } else {
            None
        };
        Ok(Linear { weight, bias })
    }

    /// A layer over existing parameters.
    pub fn from_parameters(weight: Var, bias: Option<Var>) -> Result<Linear> {
        let d = weight.dims();
        if d.len() != 2 {
            return Err(Error::config("Linear", format!("weight must be (out, in), found {d:?}")));
        }
        if let Some(b) = &bias
            && b.dims() != [d[0]]
        {
            return Err(Error::config("Linear", format!("bias must be ({},), found {:?}", d[0], b.dims())));
        }
        Ok(Linear { weight, bias })
    }

    /// Input width.
    pub fn in_features(&self) -> usize {
        self.weight.dims()[1]
    }

    /// Output width.
    pub fn out_features(&self) -> usize {
        self.weight.dims()[0]
    }
}

impl Module for Linear {
    fn forward(&self, x: &Var) -> Result<Var> {
        Ok(linear(x, &self.weight, self.bias.as_ref())?)
    }

    fn visit_parameters(&self, prefix: &str, f: &mut dyn FnMut(String, &Var)) {
        f(join(prefix, "weight"), &self.weight);
        if let Some(b) = &self.bias {
            f(join(prefix, "bias"), b);
        }
    }
}
