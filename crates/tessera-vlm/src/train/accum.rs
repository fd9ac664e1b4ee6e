//! One contrastive training step's backward, optionally over micro-batches with cached features
//! (open_clip's `accum_freq`): the gradient of the loss over the whole batch in the memory of one
//! micro-batch's activations.
//!
//! First every micro-batch's embeddings are computed without a graph and kept. Then, micro-batch by
//! micro-batch, its embeddings are recomputed with a graph and put in place of the cached ones, the
//! loss over the whole batch is formed and back-propagated: each pass adds `∂L/∂e_j · ∂e_j/∂θ` for its
//! own micro-batch `j`, so the sum over passes is the whole batch's gradient. Unlike open_clip, the
//! logit scale and bias take part in the first pass only, so their gradients are counted once and
//! equal the big batch's too.

use candle_core::Tensor;
use tessera_autograd::{Var, cat, no_grad};

use crate::error::{Error, Result};
use crate::loss::{clip_loss, siglip_loss, siglip_loss_chunked};
use crate::model::VlmModel;

/// The contrastive loss a step minimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContrastiveLoss {
    /// CLIP's symmetric InfoNCE ([`clip_loss`]).
    Clip,
    /// SigLIP's sigmoid loss, dense ([`siglip_loss`]).
    Siglip,
    /// SigLIP's sigmoid loss over row blocks of this many images ([`siglip_loss_chunked`]).
    SiglipChunked(usize),
}

/// One micro-batch of pairs: image `i` goes with text `i`.
#[derive(Debug, Clone)]
pub struct MicroBatch {
    /// `(n, 3, H, W)` pixel values.
    pub pixels: Tensor,
    /// `(n, seq)` token ids.
    pub ids: Tensor,
    /// `(n, seq)` attention mask, for models that read one (CLIP).
    pub mask: Option<Tensor>,
}

/// Rows of `x` divided by their L2 norm, differentiably.
pub fn l2_normalize_var(x: &Var) -> Result<Var> {
    Ok(x.div(&x.sqr()?.sum_keepdim(&[1])?.sqrt()?)?)
}

/// L2-normalised `(image, text)` embeddings of a micro-batch, recorded for backward.
pub fn embed_pair(model: &VlmModel, batch: &MicroBatch) -> Result<(Var, Var)> {
    let image = model.image_features_var(&Var::constant(batch.pixels.clone()))?;
    let text = model.text_features_var(&batch.ids, batch.mask.as_ref())?;
    Ok((l2_normalize_var(&image)?, l2_normalize_var(&text)?))
}

/// The loss of normalised embeddings under `loss`, with the model's scale (and SigLIP's bias), or
/// detached copies of them when `live_scale` is false.
pub fn pair_loss(
    model: &VlmModel,
    image: &Var,
    text: &Var,
    loss: ContrastiveLoss,
    live_scale: bool,
) -> Result<Var> {
    let pick = |v: &Var| if live_scale { v.clone() } else { v.detach() };
    let scale = pick(model.logit_scale());
    let bias = || -> Result<Var> {
        model
            .logit_bias()
            .map(pick)
            .ok_or_else(|| Error::invalid("loss", "the sigmoid loss needs SigLIP's logit_bias"))
    };
    match loss {
        ContrastiveLoss::Clip => clip_loss(image, text, &scale),
        ContrastiveLoss::Siglip => siglip_loss(image, text, &scale, &bias()?),
        ContrastiveLoss::SiglipChunked(chunk) => siglip_loss_chunked(image, text, &scale, &bias()?, chunk),
    }
}

/// Back-propagates the loss over the concatenated micro-batches into the model's gradients (added to
/// what they hold) and returns the loss. One micro-batch is a plain step; several are accumulated
/// with cached features (see the module doc).
pub fn accumulated_backward(model: &VlmModel, micro: &[MicroBatch], loss: ContrastiveLoss) -> Result<f64> {
    if micro.is_empty() {
        return Err(Error::invalid("micro-batches", "at least one is needed"));
    }
    if micro.len() == 1 {
        let (image, text) = embed_pair(model, &micro[0])?;
        let l = pair_loss(model, &image, &text, loss, true)?;
        l.backward()?;
        return Ok(l.to_scalar_f64()?);
    }
    let cached: Vec<(Var, Var)> = {
        let _guard = no_grad();
        micro
            .iter()
            .map(|b| embed_pair(model, b).map(|(i, t)| (i.detach(), t.detach())))
            .collect::<Result<_>>()?
    };
    let mut value = 0.0;
    for (j, batch) in micro.iter().enumerate() {
        let (live_image, live_text) = embed_pair(model, batch)?;
        let images: Vec<&Var> =
            cached.iter().enumerate().map(|(k, c)| if k == j { &live_image } else { &c.0 }).collect();
        let texts: Vec<&Var> =
            cached.iter().enumerate().map(|(k, c)| if k == j { &live_text } else { &c.1 }).collect();
        let l = pair_loss(model, &cat(&images, 0)?, &cat(&texts, 0)?, loss, j == 0)?;
        l.backward()?;
        if j == 0 {
            value = l.to_scalar_f64()?;
        }
    }
    Ok(value)
}
