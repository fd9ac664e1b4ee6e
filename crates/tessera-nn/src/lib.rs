//! Layers, initialisers, optimizers and learning-rate schedules on
//! [`tessera_autograd`], with PyTorch's parameter names and update rules.
//!
//! A [`Module`] runs a forward pass over [`Var`]s and names its parameters with the dotted paths
//! of a PyTorch `state_dict`, so weights saved by PyTorch (as safetensors) load by name.
//!
//! ```
//! use tessera_nn::{Activation, AdamConfig, Adam, Linear, Module, ModuleExt, Optimizer, Sequential};
//! use tessera_nn::{Tensor, Device, Var, cross_entropy};
//! use tessera_tensor::SeededRng;
//!
//! let mut rng = SeededRng::new(0);
//! let model = Sequential::new()
//!     .add(Linear::new(4, 16, true, &mut rng)?)
//!     .add(Activation::Relu)
//!     .add(Linear::new(16, 3, true, &mut rng)?);
//! let mut opt = Adam::new(model.named_parameters(), AdamConfig::adamw().with_lr(1e-2))?;
//! let x = Var::constant(rng.normal_tensor(&[8, 4], 0.0, 1.0, tessera_nn::DType::F32, &Device::Cpu)?);
//! let y = Tensor::new(&[0u32, 1, 2, 0, 1, 2, 0, 1], &Device::Cpu)?;
//! let first = cross_entropy(&model.forward(&x)?, &y, 0.0)?.to_scalar_f64()?;
//! for _ in 0..100 {
//!     let loss = cross_entropy(&model.forward(&x)?, &y, 0.0)?;
//!     opt.zero_grad();
//!     loss.backward()?;
//!     opt.step()?;
//! }
//! let last = cross_entropy(&model.forward(&x)?, &y, 0.0)?.to_scalar_f64()?;
//! assert!(last < first / 4.0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
pub mod init;
mod layers;
mod module;
pub mod optim;
mod schedule;

pub use error::{Error, Result};
pub use layers::{
    Activation, AttentionMask, Conv2d, Dropout, Embedding, LayerNorm, Linear, Mlp, MultiheadAttention,
    Sequential,
};
pub use module::{LoadReport, Module, ModuleExt, join};
pub use optim::{Adam, AdamConfig, Optimizer, Sgd, SgdConfig, clip_grad_norm};
pub use schedule::{ConstantLr, LrSchedule, WarmupCosine};
pub use tessera_autograd::{
    Conv2dOptions, DType, Device, Tensor, Var, binary_cross_entropy_with_logits, cross_entropy, mse_loss,
};
