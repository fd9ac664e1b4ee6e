//! `Embedding`: a lookup table of vectors.

use candle_core::Tensor;
use tessera_autograd::{Var, embedding};
use tessera_tensor::SeededRng;

use crate::error::{Error, Result};
use crate::init;
use crate::module::{Module, join};

/// A table of `num_embeddings` vectors of width `dim`, initialised N(0, 1)
/// (`torch.nn.Embedding`).
#[derive(Debug, Clone)]
pub struct Embedding {
    /// The table, `(num_embeddings, dim)`.
    pub weight: Var,
}

impl Embedding {
    /// A new table.
    pub fn new(num_embeddings: usize, dim: usize, rng: &mut SeededRng) -> Result<Embedding> {
        if num_embeddings == 0 || dim == 0 {
            return Err(Error::config("Embedding", "num_embeddings and dim must be positive"));
        }
        Ok(Embedding { weight: Var::parameter(init::normal(&[num_embeddings, dim], 0.0, 1.0, rng)?) })
    }

    /// Looks up integer ids of any shape; the result has shape `ids.shape + [dim]`.
    pub fn lookup(&self, ids: &Tensor) -> Result<Var> {
        Ok(embedding(ids, &self.weight)?)
    }
}

impl Module for Embedding {
    /// `x` holds integer ids (u32 or i64).
    fn forward(&self, x: &Var) -> Result<Var> {
        self.lookup(&x.tensor())
    }

    fn visit_parameters(&self, prefix: &str, f: &mut dyn FnMut(String, &Var)) {
        f(join(prefix, "weight"), &self.weight);
    }
}
