//! The contrastive losses on L2-normalised embeddings, differentiable through `tessera-autograd`:
//! CLIP's symmetric InfoNCE and SigLIP's sigmoid loss, dense, row-chunked, and across ranks (`ring`).
//!
//! The chunked SigLIP loss is one custom autograd function: its forward walks row blocks of the logits
//! and its backward recomputes each block from the saved embeddings, so neither pass holds more than one
//! `chunk x N` block (the dense form holds `B x N`, and an autograd-recorded loop would save every block).

use candle_core::{DType, Tensor};
use tessera_autograd::{Function, FunctionCtx, Var, apply, cross_entropy};

use crate::error::{Error, Result};

mod ring;

pub use ring::siglip_loss_ring;

fn check_pair(image: &Var, text: &Var) -> Result<(usize, usize)> {
    let (i, t) = (image.dims(), text.dims());
    if i.len() != 2 || t.len() != 2 || i[1] != t[1] || i[0] == 0 || t[0] == 0 {
        return Err(Error::invalid(
            "embeddings",
            format!("expected (B, D) images and (N, D) texts, found {i:?} and {t:?}"),
        ));
    }
    Ok((i[0], t[0]))
}

fn scalar(v: &Var, what: &str) -> Result<Var> {
    if v.elem_count() != 1 {
        return Err(Error::invalid(what, format!("expected one value, found shape {:?}", v.dims())));
    }
    Ok(v.reshape(&[1, 1])?)
}

/// CLIP's loss: `(CE(logits, arange) + CE(logitsᵀ, arange)) / 2` with `logits = exp(logit_scale) · I Tᵀ`
/// (transformers' `clip_loss`; open_clip's `ClipLoss` on one rank). Needs as many texts as images.
pub fn clip_loss(image: &Var, text: &Var, logit_scale: &Var) -> Result<Var> {
    let (b, n) = check_pair(image, text)?;
    if b != n {
        return Err(Error::invalid(
            "embeddings",
            format!("CLIP's loss pairs image i with text i: {b} images, {n} texts"),
        ));
    }
    let s = scalar(logit_scale, "logit_scale")?.exp()?.broadcast_as(&[b, b])?;
    let logits = image.matmul(&text.t()?)?.mul(&s)?;
    let labels = Tensor::arange(0u32, b as u32, &image.device())?;
    let a = cross_entropy(&logits, &labels, 0.0)?;
    let c = cross_entropy(&logits.t()?.contiguous()?, &labels, 0.0)?;
    Ok(a.add(&c)?.mul_scalar(0.5)?)
}

/// `log(1 + exp(x))`, stable for large |x|.
fn softplus(x: &Var) -> Result<Var> {
    Ok(x.relu()?.add(&x.abs()?.neg()?.exp()?.add_scalar(1.0)?.log()?)?)
}

/// SigLIP's loss, dense: `-Σ_ij log σ(y_ij z_ij) / B` with `z = exp(logit_scale) · I Tᵀ + logit_bias`,
/// `y = +1` on the diagonal (image i, text i) and `-1` elsewhere (transformers' `SiglipModel` loss).
/// Texts beyond the B images are negatives for every image.
pub fn siglip_loss(image: &Var, text: &Var, logit_scale: &Var, logit_bias: &Var) -> Result<Var> {
    let (b, n) = check_pair(image, text)?;
    if n < b {
        return Err(Error::invalid(
            "embeddings",
            format!("SigLIP's loss needs a text per image: {b} images, {n} texts"),
        ));
    }
    let s = scalar(logit_scale, "logit_scale")?.exp()?.broadcast_as(&[b, n])?;
    let bias = scalar(logit_bias, "logit_bias")?.broadcast_as(&[b, n])?;
    let z = image.matmul(&text.t()?)?.mul(&s)?.add(&bias)?;
    let mut y = vec![-1f64; b * n];
    for i in 0..b {
        y[i * n + i] = 1.0;
    }
    let y = Var::constant(Tensor::from_vec(y, (b, n), &image.device())?.to_dtype(image.dtype())?);
    Ok(softplus(&y.mul(&z)?.neg()?)?.sum_all()?.mul_scalar(1.0 / b as f64)?)
}

/// SigLIP's loss over row blocks of `chunk` images, equal to [`siglip_loss`] (value and gradients) but
/// holding one `chunk x N` block at a time in forward and backward (the backward recomputes it).
pub fn siglip_loss_chunked(
    image: &Var,
    text: &Var,
    logit_scale: &Var,
    logit_bias: &Var,
    chunk: usize,
) -> Result<Var> {
    let (b, n) = check_pair(image, text)?;
    if n < b {
        return Err(Error::invalid(
            "embeddings",
            format!("SigLIP's loss needs a text per image: {b} images, {n} texts"),
        ));
    }
    if chunk == 0 {
        return Err(Error::invalid("chunk", "must be at least 1"));
    }
    let scale = scalar(logit_scale, "logit_scale")?.reshape(&[1])?;
    let bias = scalar(logit_bias, "logit_bias")?.reshape(&[1])?;
    let out = apply(ChunkedSigmoid { chunk }, &[image, text, &scale, &bias])?;
    Ok(out[0].reshape(&[])?)
}

struct ChunkedSigmoid {
    chunk: usize,
}

/// The positives' indicator of rows `[i0, i0 + rows)`: 1 at (k, i0 + k).
fn diagonal(rows: usize, i0: usize, n: usize, like: &Tensor) -> candle_core::Result<Tensor> {
    let mut d = vec![0f64; rows * n];
    for k in 0..rows {
        d[k * n + i0 + k] = 1.0;
    }
    Tensor::from_vec(d, (rows, n), like.device())?.to_dtype(like.dtype())
}

fn value(t: &Tensor) -> candle_core::Result<f64> {
    Ok(t.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?[0])
}

impl ChunkedSigmoid {
    /// Row block `[i0, i0 + rows)` of the logits.
    fn block(
        &self,
        image: &Tensor,
        text: &Tensor,
        s: f64,
        bias: f64,
        i0: usize,
        rows: usize,
    ) -> candle_core::Result<Tensor> {
        image.narrow(0, i0, rows)?.matmul(&text.t()?)?.affine(s, bias)
    }
}

impl Function for ChunkedSigmoid {
    fn name(&self) -> std::borrow::Cow<'static, str> {
        "SiglipChunkedLoss".into()
    }

    fn forward(&self, ctx: &mut FunctionCtx, inputs: &[Tensor]) -> tessera_autograd::Result<Vec<Tensor>> {
        let run = || -> candle_core::Result<Tensor> {
            let (image, text) = (&inputs[0], &inputs[1]);
            let s = value(&inputs[2])?.exp();
            let bias = value(&inputs[3])?;
            let (b, n) = (image.dims()[0], text.dims()[0]);
            let mut total = 0f64;
            let mut i0 = 0;
            while i0 < b {
                let rows = self.chunk.min(b - i0);
                let z = self.block(image, text, s, bias, i0, rows)?;
                // Σ softplus(z) over the block minus the positives' z (softplus(-x) = softplus(x) - x).
                let sp = (z.relu()? + ((z.abs()?.neg()?.exp()? + 1.0)?.log()?))?;
                let pos = (&z * &diagonal(rows, i0, n, &z)?)?;
                total += value(&sp.sum_all()?)? - value(&pos.sum_all()?)?;
                i0 += rows;
            }
            Tensor::new(&[total / b as f64], image.device())?.to_dtype(image.dtype())
        };
        let loss = run()?;
        ctx.save_for_backward(&[&inputs[0], &inputs[1], &inputs[2], &inputs[3]]);
        Ok(vec![loss])
    }

    fn backward(
        &self,
        ctx: &FunctionCtx,
        grad_outputs: &[Tensor],
    ) -> tessera_autograd::Result<Vec<Option<Tensor>>> {
        let run = || -> candle_core::Result<Vec<Option<Tensor>>> {
            let saved = ctx.saved_tensors();
            let (image, text) = (&saved[0], &saved[1]);
            let s = value(&saved[2])?.exp();
            let bias = value(&saved[3])?;
            let go = value(&grad_outputs[0])?;
            let (b, n) = (image.dims()[0], text.dims()[0]);
            let mut d_image = Vec::with_capacity(b.div_ceil(self.chunk));
            let mut d_text = text.zeros_like()?;
            let (mut d_scale, mut d_bias) = (0f64, 0f64);
            let mut i0 = 0;
            while i0 < b {
                let rows = self.chunk.min(b - i0);
                let z = self.block(image, text, s, bias, i0, rows)?;
                // dL/dz = (σ(z) - y⁺) / B, y⁺ the positives' indicator.
                let sig = (z.neg()?.exp()? + 1.0)?.recip()?;
                let g = ((sig - diagonal(rows, i0, n, &z)?)? * (go / b as f64))?;
                let rows_of = image.narrow(0, i0, rows)?;
                d_image.push((g.matmul(text)? * s)?);
                d_text = (d_text + (g.t()?.matmul(&rows_of)? * s)?)?;
                d_scale += value(&(&g * z.affine(1.0, -bias)?)?.sum_all()?)?;
                d_bias += value(&g.sum_all()?)?;
                i0 += rows;
            }
            let dev = image.device();
            let dt = image.dtype();
            Ok(vec![
                Some(Tensor::cat(&d_image, 0)?),
                Some(d_text),
                Some(Tensor::new(&[d_scale], dev)?.to_dtype(dt)?),
                Some(Tensor::new(&[d_bias], dev)?.to_dtype(dt)?),
            ])
        };
        Ok(run()?)
    }
}
