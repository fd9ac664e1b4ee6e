//! Define-by-run reverse-mode automatic differentiation with PyTorch's semantics, on candle
//! tensors.
//!
//! Operations on [`Var`]s run eagerly and, while grad mode is on and an input requires grad,
//! record a node (a `grad_fn`) pointing at their inputs. [`Var::backward`] walks that graph in
//! reverse, once per node, and accumulates gradients into the `.grad` of every leaf that
//! requires grad, as `loss.backward()` does in PyTorch:
//!
//! ```
//! use tessera_autograd::{Var, Tensor, Device};
//!
//! let x = Var::parameter(Tensor::new(&[1.0f32, 2.0, 3.0], &Device::Cpu)?);
//! let y = x.mul(&x)?.sum_all()?;          // y = sum(x^2)
//! y.backward()?;
//! assert_eq!(x.grad().unwrap().to_vec1::<f32>()?, [2.0, 4.0, 6.0]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! What PyTorch users will find: gradient accumulation until [`Var::zero_grad`],
//! [`Var::retain_grad`], `retain_graph` and the error on a second backward through a freed graph,
//! [`Var::detach`], [`no_grad`] and [`inference_mode`] scopes, gradient hooks and
//! post-accumulate hooks, custom [`Function`]s with saved tensors, the functional [`grad`] with
//! `create_graph` for higher derivatives, [`gradcheck`], and broadcasting-correct gradients.

mod engine;
mod error;
mod function;
mod gradcheck;
mod graph;
mod mode;
mod ops;
mod var;

pub use candle_core::{DType, Device, Tensor};
pub use engine::{BackwardOptions, GradOptions, backward, grad};
pub use error::{Error, Result};
pub use function::{Function, FunctionCtx, apply};
pub use gradcheck::{GradcheckOptions, GradcheckReport, JacobianEntry, gradcheck};
pub use mode::{
    GradModeGuard, InferenceModeGuard, enable_grad, inference_mode, is_grad_enabled, is_inference_mode,
    no_grad, set_grad_enabled,
};
pub use ops::{
    Conv2dOptions, binary_cross_entropy_with_logits, cat, conv2d, cross_entropy, dropout, embedding,
    layer_norm, linear, mse_loss, stack,
};
pub use var::{GradFn, HookHandle, NextFunction, Var};
