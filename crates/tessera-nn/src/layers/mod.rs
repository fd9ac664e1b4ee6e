//! Layers: each owns its parameters and names them as PyTorch does.

mod activation;
mod attention;
mod container;
mod conv;
mod embedding;
mod linear;
mod norm;

pub use activation::{Activation, Dropout};
pub use attention::{AttentionMask, MultiheadAttention};
pub use container::{Mlp, Sequential};
pub use conv::Conv2d;
pub use embedding::Embedding;
pub use linear::Linear;
pub use norm::LayerNorm;
