//! Differentiable operations on [`Var`](crate::Var), grouped by kind. Every backward is written
//! with `Var` operations, so it records itself under `create_graph` (higher-order derivatives).

mod activation;
mod arith;
mod conv;
mod linalg;
mod loss;
mod nn;
mod reduce;
mod shape;

pub use loss::{binary_cross_entropy_with_logits, cross_entropy, mse_loss};
pub use nn::{Conv2dOptions, conv2d, dropout, embedding, layer_norm, linear};
pub use shape::{cat, stack};

use candle_core::Tensor;

use crate::error::Result;
use crate::mode::is_grad_enabled;
use crate::var::Var;

/// A value the backward needs that the forward already computed (an op's output, say): reused as
/// a constant normally, recomputed from the inputs under `create_graph` so the second derivative
/// flows through it.
pub(crate) fn saved_or_recompute(saved: &Tensor, recompute: impl FnOnce() -> Result<Var>) -> Result<Var> {
    if is_grad_enabled() { recompute() } else { Ok(Var::constant(saved.clone())) }
}

/// `Some(f())` when `need`.
#[inline]
pub(crate) fn when(need: bool, f: impl FnOnce() -> Result<Var>) -> Result<Option<Var>> {
    if need { f().map(Some) } else { Ok(None) }
}
