//! `MultiheadAttention`: projections around the flash attention kernel (`tessera-attention`), with
//! a plain path (scores materialised) for what the kernel does not take (f64, top-left causal
//! alignment of a query longer or shorter than the keys).

use candle_core::{DType, Tensor};
use tessera_attention::{AttentionOptions, flash_attention_var};
use tessera_autograd::{Var, linear};
use tessera_tensor::SeededRng;

use crate::error::{Error, Result};
use crate::init;
use crate::layers::Linear;
use crate::module::{Module, join};

/// Multi-head scaled dot-product attention with PyTorch's parameter layout
/// (`in_proj_weight (3E, E)`, `in_proj_bias (3E)`, `out_proj.weight`, `out_proj.bias`) and
/// `batch_first = True` inputs `(batch, seq, embed)`.
#[derive(Debug, Clone)]
pub struct MultiheadAttention {
    /// Stacked query, key and value projections, `(3 E, E)`.
    pub in_proj_weight: Var,
    /// Stacked projection biases, `(3 E)`.
    pub in_proj_bias: Var,
    /// Output projection.
    pub out_proj: Linear,
    num_heads: usize,
}

/// Masks of [`MultiheadAttention::attend`].
#[derive(Debug, Clone, Copy, Default)]
pub struct AttentionMask<'a> {
    /// Query `i` sees keys `0..=i` (top-left aligned, as PyTorch's `is_causal`).
    pub causal: bool,
    /// `(batch, keys)`, nonzero where a key is padding and must be ignored.
    pub key_padding_mask: Option<&'a Tensor>,
}

impl MultiheadAttention {
    /// `embed_dim` split over `num_heads` heads, initialised as PyTorch does (Xavier-uniform
    /// in-projection, zero biases, default `Linear` init for the output weight).
    pub fn new(embed_dim: usize, num_heads: usize, rng: &mut SeededRng) -> Result<MultiheadAttention> {
        if num_heads == 0 || embed_dim == 0 || !embed_dim.is_multiple_of(num_heads) {
            return Err(Error::config(
                "MultiheadAttention",
                format!("embed_dim {embed_dim} must be a positive multiple of num_heads {num_heads}"),
            ));
        }
        let in_proj_weight =
            Var::parameter(init::xavier_uniform(&[3 * embed_dim, embed_dim], embed_dim, 3 * embed_dim, rng)?);
        let in_proj_bias = Var::parameter(init::zeros(&[3 * embed_dim])?);
        let out_proj = Linear::new(embed_dim, embed_dim, true, rng)?;
        if let Some(b) = &out_proj.bias {
            b.set_data(init::zeros(&[embed_dim])?)?;
        }
        Ok(MultiheadAttention { in_proj_weight, in_proj_bias, out_proj, num_heads })
    }

    /// Number of heads.
    pub fn num_heads(&self) -> usize {
        self.num_heads
    }

    /// Attention of `query (B, L, E)` over `key`/`value (B, S, E)`; returns `(B, L, E)`.
    pub fn attend(&self, query: &Var, key: &Var, value: &Var, mask: AttentionMask<'_>) -> Result<Var> {
        let e = self.in_proj_weight.dims()[1];
        let (qd, kd) = (query.dims(), key.dims());
        if qd.len() != 3 || kd.len() != 3 || qd[2] != e || kd[2] != e || value.dims() != kd || qd[0] != kd[0]
        {
            return Err(Error::config(
                "MultiheadAttention",
                format!(
                    "expected query (B, L, {e}) and key/value (B, S, {e}); found {qd:?}, {kd:?}, {:?}",
                    value.dims()
                ),
            ));
        }
        let (b, l, s, h) = (qd[0], qd[1], kd[1], self.num_heads);
        let d = e / h;
        let project = |x: &Var, i: usize, len: usize| -> Result<Var> {
            let w = self.in_proj_weight.narrow(0, i * e, e)?;
            let bias = self.in_proj_bias.narrow(0, i * e, e)?;
            Ok(linear(x, &w, Some(&bias))?.reshape(&[b, len, h, d])?.transpose(1, 2)?)
        };
        let (q, k, v) = (project(query, 0, l)?, project(key, 1, s)?, project(value, 2, s)?);
        // The kernel aligns a causal mask to the bottom-right corner; PyTorch's is top-left. They
        // agree when query and key lengths match.
        let flash = matches!(q.dtype(), DType::F32 | DType::F16 | DType::BF16) && (!mask.causal || l == s);
        let attended = if flash {
            if let Some(pad) = mask.key_padding_mask
                && pad.dims() != [b, s]
            {
                return Err(Error::config(
                    "MultiheadAttention",
                    format!("key_padding_mask must be (batch, keys) = ({b}, {s}), found {:?}", pad.dims()),
                ));
            }
            let options = AttentionOptions {
                causal: mask.causal,
                key_padding_mask: mask.key_padding_mask.cloned(),
                ..AttentionOptions::default()
            };
            flash_attention_var(&q.contiguous()?, &k.contiguous()?, &v.contiguous()?, &options)
                .map_err(|e| Error::config("MultiheadAttention", e.to_string()))?
                .0
        } else {
            let mut scores = q.matmul(&k.t()?)?.affine(1.0 / (d as f64).sqrt(), 0.0)?;
            if let Some(bias) = additive_mask(mask, b, l, s, &scores.tensor())? {
                scores = scores.add(&Var::constant(bias))?;
            }
            scores.softmax(3)?.matmul(&v)?
        };
        let out = attended.transpose(1, 2)?.reshape(&[b, l, e])?;
        self.out_proj.forward(&out)
    }
}

/// `0` where attention is allowed and `-inf` where masked, broadcastable to `(B, H, L, S)`.
fn additive_mask(
    mask: AttentionMask<'_>,
    b: usize,
    l: usize,
    s: usize,
    like: &Tensor,
) -> Result<Option<Tensor>> {
    let mut allowed: Option<Tensor> = None;
    if mask.causal {
        let rows = Tensor::arange(0u32, l as u32, like.device())?.reshape((l, 1))?;
        let cols = Tensor::arange(0u32, s as u32, like.device())?.reshape((1, s))?;
        allowed = Some(cols.broadcast_le(&rows)?.reshape((1, 1, l, s))?);
    }
    if let Some(pad) = mask.key_padding_mask {
        if pad.dims() != [b, s] {
            return Err(Error::config(
                "MultiheadAttention",
                format!("key_padding_mask must be (batch, keys) = ({b}, {s}), found {:?}", pad.dims()),
            ));
        }
        let keep = pad.to_dtype(DType::F32)?.eq(0f64)?.reshape((b, 1, 1, s))?;
        allowed = Some(match allowed {
            Some(a) => a.broadcast_mul(&keep)?,
            None => keep,
        });
    }
    let Some(allowed) = allowed else { return Ok(None) };
    let zeros = Tensor::zeros(allowed.dims(), like.dtype(), like.device())?;
    let neg = Tensor::full(f32::NEG_INFINITY, allowed.dims(), like.device())?.to_dtype(like.dtype())?;
    Ok(Some(allowed.where_cond(&zeros, &neg)?))
}

impl Module for MultiheadAttention {
    /// Self-attention without masks.
    fn forward(&self, x: &Var) -> Result<Var> {
        self.attend(x, x, x, AttentionMask::default())
    }

    fn visit_parameters(&self, prefix: &str, f: &mut dyn FnMut(String, &Var)) {
        f(join(prefix, "in_proj_weight"), &self.in_proj_weight);
        f(join(prefix, "in_proj_bias"), &self.in_proj_bias);
        self.out_proj.visit_parameters(&join(prefix, "out_proj"), f);
    }
}
