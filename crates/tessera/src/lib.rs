//! # tessera
//!
//! The curated public API of the tessera workspace: one namespace per crate, each re-exporting exactly
//! what that crate publishes (as TensorFlow's `tf_export` builds `tf.*`). Take only what you need with
//! cargo features:
//!
//! | feature | module | crate |
//! |---|---|---|
//! | `tensor` (default) | [`tensor`] | `tessera-tensor`: candle tensors, devices, safetensors IO, ndarray interop, seeded RNG |
//! | `cuda` | [`tensor`] | the same, with CUDA devices (needs the CUDA toolkit) |
//! | `datasets` (default) | [`datasets`] | `tessera-datasets`: embedded datasets, CSV/LibSVM loaders, generators, splits |
//! | `trees` (default) | [`trees`] | `tessera-trees`: CART, Random Forest, Extra Trees, Bagging, AdaBoost, gradient boosting, the histogram booster (XGBoost interop, TreeSHAP), Stacking, Voting |
//! | `autograd` (default) | [`autograd`] | `tessera-autograd`: reverse-mode autodiff with PyTorch semantics |
//! | `nn` (default) | [`nn`] | `tessera-nn`: layers, initialisers, optimizers, LR schedules |
//! | `attention` (default) | [`attention`] | `tessera-attention`: FlashAttention forward and backward on the CPU |
//! | `dist` (default) | [`dist`] | `tessera-dist`: process groups and collectives over threads and TCP, a torchrun-style launcher |
//! | `mpi` | [`dist`] | the same with the MPI backend (needs Open MPI) |
//! | `vlm` (default) | [`vlm`] | `tessera-vlm`: CLIP and SigLIP from Hugging Face folders, Pillow-exact preprocessing, embeddings, zero-shot, retrieval |
//!
//! Every public item reachable from here is listed in the golden files under `api/`; `cargo xtask api
//! --check` fails when the API changes without them being updated.
//!
//! ```
//! use tessera::datasets::{load_breast_cancer, train_test_split};
//! use tessera::tensor::{Device, from_ndarray};
//!
//! let data = load_breast_cancer();
//! let (train, _test) = train_test_split(&data, 0.25, 0, true).unwrap();
//! let x = from_ndarray(train.features().to_owned(), &Device::Cpu).unwrap();
//! assert_eq!(x.dims(), &[train.n_samples(), 30]);
//! ```

/// Tensors on candle: devices, safetensors IO, ndarray interop, seeded RNG (crate `tessera-tensor`).
#[cfg(feature = "tensor")]
pub mod tensor {
    pub use tessera_tensor::*;
}

/// Datasets: embedded, loaders, generators, splits (crate `tessera-datasets`).
#[cfg(feature = "datasets")]
pub mod datasets {
    pub use tessera_datasets::*;
}

/// Decision trees and ensembles (crate `tessera-trees`).
#[cfg(feature = "trees")]
pub mod trees {
    pub use tessera_trees::*;
}

/// Reverse-mode automatic differentiation with PyTorch semantics (crate `tessera-autograd`).
#[cfg(feature = "autograd")]
pub mod autograd {
    pub use tessera_autograd::*;
}

/// Layers, initialisers, optimizers and learning-rate schedules (crate `tessera-nn`).
#[cfg(feature = "nn")]
pub mod nn {
    pub use tessera_nn::*;
}

/// FlashAttention forward and backward on the CPU (crate `tessera-attention`).
#[cfg(feature = "attention")]
pub mod attention {
    pub use tessera_attention::*;
}

/// Process groups, collectives, the launcher and the all-reduce benchmark (crate `tessera-dist`).
#[cfg(feature = "dist")]
pub mod dist {
    pub use tessera_dist::*;
}

/// CLIP and SigLIP from Hugging Face folders: tokenisation, Pillow-exact preprocessing, embeddings,
/// zero-shot classification and retrieval (crate `tessera-vlm`).
#[cfg(feature = "vlm")]
pub mod vlm {
    pub use tessera_vlm::*;
}
