//! SigLIP's sigmoid loss across ranks (open_clip's neighbour exchange): every rank keeps its image
//! embeddings while the text embeddings travel round the ring, so each rank scores its images against
//! every rank's texts without gathering them.
//!
//! Forward: rank r scores its own pairs (the positives on the diagonal), then `W - 1` times passes the
//! text block it holds to rank `r + 1` and receives one from `r - 1`, scoring each as negatives. Only the
//! current block and one `B x B` logit block are alive at a time.
//!
//! Backward recomputes each block's logits from the saved embeddings (memory does not grow with the
//! number of ranks; open_clip #942 keeps every block's graph): the texts go round the ring once more,
//! each with a gradient accumulator to which every rank adds its own term, and one last hop returns
//! each accumulator, now holding all `W` ranks' terms, to the rank that owns the texts.
//!
//! Each rank's loss is its rows' sum divided by its `B` (open_clip's `SigLipLoss`); their mean over ranks
//! is the dense loss of the whole `W·B` batch, and with gradients averaged over ranks (as DDP does) every
//! gradient equals the dense one.

use candle_core::{DType, Tensor};
use tessera_autograd::{Function, FunctionCtx, Var, apply};
use tessera_dist::ProcessGroup;

use super::{check_pair, diagonal, scalar, value};
use crate::error::{Error, Result};

/// SigLIP's loss of this rank's `B` images against the texts of every rank of `group` (each rank holds
/// `B` pairs, image i with text i). See the module doc for the exchange and the scaling.
pub fn siglip_loss_ring(
    image: &Var,
    text: &Var,
    logit_scale: &Var,
    logit_bias: &Var,
    group: &ProcessGroup,
) -> Result<Var> {
    let (b, n) = check_pair(image, text)?;
    if b != n {
        return Err(Error::invalid(
            "embeddings",
            format!("the ring loss pairs image i with text i on each rank: {b} images, {n} texts"),
        ));
    }
    if !matches!(image.dtype(), DType::F32 | DType::F64) || image.dtype() != text.dtype() {
        return Err(Error::invalid(
            "embeddings",
            format!("f32 or f64 for both, found {:?} and {:?}", image.dtype(), text.dtype()),
        ));
    }
    // Every rank must send and receive blocks of one shape: checked once, naming the ranks that differ.
    let d = image.dims()[1];
    let mut shapes = vec![0i64; 2 * group.world_size()];
    group.all_gather(&[b as i64, d as i64], &mut shapes)?;
    if let Some(bad) = shapes.chunks(2).position(|s| s != [b as i64, d as i64]) {
        return Err(Error::invalid(
            "embeddings",
            format!(
                "rank {} holds ({b}, {d}) pairs, rank {bad} holds ({}, {}): the ring needs one shape on every rank",
                group.rank(),
                shapes[2 * bad],
                shapes[2 * bad + 1]
            ),
        ));
    }
    let scale = scalar(logit_scale, "logit_scale")?.reshape(&[1])?;
    let bias = scalar(logit_bias, "logit_bias")?.reshape(&[1])?;
    let out = apply(SiglipRing { group: group.clone() }, &[image, text, &scale, &bias])?;
    Ok(out[0].reshape(&[])?)
}

struct SiglipRing {
    group: ProcessGroup,
}

/// `Σ softplus(z)` over a block.
fn softplus_sum(z: &Tensor) -> candle_core::Result<f64> {
    value(&(z.relu()? + ((z.abs()?.neg()?.exp()? + 1.0)?.log()?))?.sum_all()?)
}

impl SiglipRing {
    /// Sends `t` to the next rank and returns the previous rank's block of the same shape. Even ranks
    /// send first and odd ranks receive first, so a ring of blocking sends cannot deadlock.
    fn pass(&self, t: &Tensor) -> tessera_autograd::Result<Tensor> {
        let (rank, world) = (self.group.rank(), self.group.world_size());
        let (next, prev) = ((rank + 1) % world, (rank + world - 1) % world);
        let fail = |e: tessera_dist::Error| tessera_autograd::Error::CustomFunction {
            name: "SiglipRingLoss".into(),
            reason: e.to_string(),
        };
        let flat = t.flatten_all()?;
        let out = match t.dtype() {
            DType::F64 => {
                let send = flat.to_vec1::<f64>()?;
                let mut recv = vec![0f64; send.len()];
                self.exchange(&send, &mut recv, next, prev).map_err(fail)?;
                Tensor::from_vec(recv, t.dims(), t.device())?
            }
            _ => {
                let send = flat.to_dtype(DType::F32)?.to_vec1::<f32>()?;
                let mut recv = vec![0f32; send.len()];
                self.exchange(&send, &mut recv, next, prev).map_err(fail)?;
                Tensor::from_vec(recv, t.dims(), t.device())?.to_dtype(t.dtype())?
            }
        };
        Ok(out)
    }

    fn exchange<T: tessera_dist::Element>(
        &self,
        send: &[T],
        recv: &mut [T],
        next: usize,
        prev: usize,
    ) -> tessera_dist::Result<()> {
        if self.group.rank().is_multiple_of(2) {
            self.group.send(send, next)?;
            self.group.recv(recv, prev)
        } else {
            self.group.recv(recv, prev)?;
            self.group.send(send, next)
        }
    }
}

impl Function for SiglipRing {
    fn name(&self) -> std::borrow::Cow<'static, str> {
        "SiglipRingLoss".into()
    }

    fn forward(&self, ctx: &mut FunctionCtx, inputs: &[Tensor]) -> tessera_autograd::Result<Vec<Tensor>> {
        let (image, text) = (&inputs[0], &inputs[1]);
        let s = value(&inputs[2])?.exp();
        let bias = value(&inputs[3])?;
        let b = image.dims()[0];
        let z = image.matmul(&text.t()?)?.affine(s, bias)?;
        // softplus(-z) = softplus(z) - z on the positives.
        let mut total = softplus_sum(&z)? - value(&(&z * &diagonal(b, 0, b, &z)?)?.sum_all()?)?;
        let mut block = text.clone();
        for _ in 1..self.group.world_size() {
            block = self.pass(&block)?;
            total += softplus_sum(&image.matmul(&block.t()?)?.affine(s, bias)?)?;
        }
        ctx.save_for_backward(&[&inputs[0], &inputs[1], &inputs[2], &inputs[3]]);
        Ok(vec![Tensor::new(&[total / b as f64], image.device())?.to_dtype(image.dtype())?])
    }

    fn backward(
        &self,
        ctx: &FunctionCtx,
        grad_outputs: &[Tensor],
    ) -> tessera_autograd::Result<Vec<Option<Tensor>>> {
        let saved = ctx.saved_tensors();
        let (image, text) = (&saved[0], &saved[1]);
        let s = value(&saved[2])?.exp();
        let bias = value(&saved[3])?;
        let b = image.dims()[0];
        let go = value(&grad_outputs[0])? / b as f64;
        let (mut d_scale, mut d_bias) = (0f64, 0f64);
        // dL/dz = (σ(z) - y⁺) · go / B for one block; returns its terms for the image and the texts.
        let mut block_grads =
            |texts: &Tensor, positives: bool| -> tessera_autograd::Result<(Tensor, Tensor)> {
                let z = image.matmul(&texts.t()?)?.affine(s, bias)?;
                let sig = (z.neg()?.exp()? + 1.0)?.recip()?;
                let g = if positives { (sig - diagonal(b, 0, b, &z)?)? } else { sig };
                let g = (g * go)?;
                d_scale += value(&(&g * z.affine(1.0, -bias)?)?.sum_all()?)?;
                d_bias += value(&g.sum_all()?)?;
                Ok(((g.matmul(texts)? * s)?, (g.t()?.matmul(image)? * s)?))
            };
        let (mut d_image, mut acc) = block_grads(text, true)?;
        let mut block = text.clone();
        let world = self.group.world_size();
        for _ in 1..world {
            // The texts and their accumulator travel together: one message per hop.
            let both = self.pass(&Tensor::cat(&[&block, &acc], 0)?)?;
            block = both.narrow(0, 0, b)?;
            let (di, dt) = block_grads(&block, false)?;
            d_image = (d_image + di)?;
            acc = (both.narrow(0, b, b)? + dt)?;
        }
        // The accumulator held here belongs to the next rank's texts; one hop returns each to its owner.
        let d_text = if world > 1 { self.pass(&acc)? } else { acc };
        let (dev, dt) = (image.device(), image.dtype());
        Ok(vec![
            Some(d_image),
            Some(d_text),
            Some(Tensor::new(&[d_scale], dev)?.to_dtype(dt)?),
            Some(Tensor::new(&[d_bias], dev)?.to_dtype(dt)?),
        ])
    }
}
