//! FlashAttention on the CPU: exact attention computed tile by tile with an online softmax, so the
//! `L x L` score matrix never exists and extra memory grows with `L`, not `L^2`.
//!
//! The algorithm is FlashAttention-2's: query rows are processed in tiles; for each tile the
//! key/value tiles stream through while a running maximum and running sum per row rescale the
//! partial output. The backward recomputes the scores tile by tile from `q`, `k` and the saved
//! log-sum-exp, once per (query tile, key block) pair. Matrix products run in a register-blocked
//! kernel compiled for AVX-512 or AVX2/FMA; which blocking and instruction set runs is measured on
//! first use for each (dtype, head dim, causal) and cached ([`attention_kernel`] names it,
//! `TESSERA_ATTENTION_TUNE` pins or skips it), and every choice gives the same bits; tiles run in
//! parallel on all cores (rayon).
//!
//! ```
//! use tessera_attention::{AttentionOptions, flash_attention, naive_attention};
//! use tessera_tensor::{DType, Device, SeededRng};
//!
//! let mut rng = SeededRng::new(0);
//! let mut t = |l| rng.normal_tensor(&[1, 2, l, 64], 0.0, 1.0, DType::F32, &Device::Cpu);
//! let (q, k, v) = (t(100)?, t(130)?, t(130)?);
//! let options = AttentionOptions::causal();
//! let (o, lse) = flash_attention(&q, &k, &v, &options)?;
//! let (o_ref, _) = naive_attention(&q, &k, &v, &options)?;
//! let diff = o.sub(&o_ref)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()?;
//! assert!(diff < 1e-5);
//! assert_eq!(lse.dims(), &[1, 2, 100]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Entry points: [`flash_attention`] and [`flash_attention_backward`] on `(batch, heads, seq,
//! head_dim)` tensors; [`flash_attention_varlen`] for packed variable-length batches;
//! [`flash_decode`] for a few queries against a KV cache (keys split across threads);
//! [`flash_attention_var`] on autograd variables; [`FlashAttentionOp`] as a candle custom op;
//! [`naive_attention`] and [`naive_attention_var`] as references.

mod api;
mod error;
mod finite;
mod function;
mod kernel;
mod naive;
mod options;

pub use api::{
    MAX_HEAD_DIM, attention_kernel, flash_attention, flash_attention_backward, flash_attention_varlen,
    flash_attention_varlen_backward, flash_decode,
};
pub use error::{Error, Result};
pub use function::{FlashAttentionOp, flash_attention_var};
pub use kernel::peak::fma_peak_gflops;
pub use naive::{naive_attention, naive_attention_var};
pub use options::AttentionOptions;
