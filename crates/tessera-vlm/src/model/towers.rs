//! The image and text towers of CLIP and SigLIP, with transformers' parameter names.

use candle_core::{DType, Tensor};
use tessera_autograd::{Var, embedding};
use tessera_nn::{LayerNorm, Linear, Module, MultiheadAttention, join};
use tessera_tensor::SeededRng;

use crate::config::{Arch, ModelConfig, TextConfig, VisionConfig};
use crate::error::{Error, Result};
use crate::model::layers::{Encoder, Init, Mask, Mlp, Source, norm, patches, residual_std};

/// The output of a tower: every position's hidden state and the pooled vector.
#[derive(Debug, Clone)]
pub struct TowerOutput {
    /// `(batch, seq, hidden)`: CLIP's image tower before `post_layernorm`, the others after their final norm.
    pub last_hidden_state: Var,
    /// `(batch, hidden)` (`None` for a SigLIP image tower without its head).
    pub pooled: Option<Var>,
}

/// The image tower: patch embedding, position embeddings, the encoder, pooling.
#[derive(Debug, Clone)]
pub(crate) struct VisionTower {
    arch: Arch,
    config: VisionConfig,
    /// `embeddings.patch_embedding.weight` as `(hidden, channels*patch*patch)`.
    patch_weight: Var,
    patch_bias: Option<Var>,
    class_embedding: Option<Var>,
    position_embedding: Var,
    pre_norm: Option<LayerNorm>,
    encoder: Encoder,
    post_norm: LayerNorm,
    head: Option<MapHead>,
}

/// SigLIP's multihead attention-pooling head: a learned probe attends over the patches.
#[derive(Debug, Clone)]
struct MapHead {
    probe: Var,
    attention: MultiheadAttention,
    norm: LayerNorm,
    mlp: Mlp,
}

impl VisionTower {
    pub fn load(src: &Source<'_>, prefix: &str, config: &ModelConfig) -> Result<VisionTower> {
        let v = &config.vision;
        let e = v.encoder.hidden_size;
        let p = v.patch_size;
        let emb = join(prefix, "embeddings");
        let conv =
            src.param(&join(&emb, "patch_embedding.weight"), &[e, v.num_channels, p, p], Init::Normal(0.02))?;
        let patch_weight = Var::parameter(conv.tensor().reshape((e, v.num_channels * p * p))?);
        let clip = config.arch == Arch::Clip;
        let positions = v.num_patches() + usize::from(clip);
        let patch_bias = if clip {
            None
        } else {
            Some(src.param(&join(&emb, "patch_embedding.bias"), &[e], Init::Zeros)?)
        };
        let class_embedding = if clip {
            Some(src.param(&join(&emb, "class_embedding"), &[e], Init::Normal((e as f64).powf(-0.5)))?)
        } else {
            None
        };
        let position_embedding =
            src.param(&join(&emb, "position_embedding.weight"), &[positions, e], Init::Normal(0.02))?;
        let eps = v.encoder.layer_norm_eps;
        // CLIP's checkpoints spell it `pre_layrnorm`.
        let pre_norm = if clip { Some(src.layer_norm(&join(prefix, "pre_layrnorm"), e, eps)?) } else { None };
        let encoder = Encoder::load(src, &join(prefix, "encoder"), &v.encoder)?;
        let post_norm = src.layer_norm(&join(prefix, "post_layernorm"), e, eps)?;
        let head = if !clip && v.use_head {
            let h = join(prefix, "head");
            let mut attention = MultiheadAttention::new(e, v.encoder.num_heads, &mut SeededRng::new(0))?;
            let layers = v.encoder.num_layers;
            attention.in_proj_weight = src.param(
                &join(&h, "attention.in_proj_weight"),
                &[3 * e, e],
                Init::Normal(residual_std(e, layers)),
            )?;
            attention.in_proj_bias = src.param(&join(&h, "attention.in_proj_bias"), &[3 * e], Init::Zeros)?;
            attention.out_proj =
                src.linear(&join(&h, "attention.out_proj"), e, e, true, (e as f64).powf(-0.5))?;
            Some(MapHead {
                probe: src.param(&join(&h, "probe"), &[1, 1, e], Init::Normal(0.02))?,
                attention,
                norm: src.layer_norm(&join(&h, "layernorm"), e, eps)?,
                mlp: Mlp::load(
                    src,
                    &join(&h, "mlp"),
                    e,
                    v.encoder.intermediate_size,
                    v.encoder.activation,
                    layers,
                )?,
            })
        } else {
            None
        };
        Ok(VisionTower {
            arch: config.arch,
            config: v.clone(),
            patch_weight,
            patch_bias,
            class_embedding,
            position_embedding,
            pre_norm,
            encoder,
            post_norm,
            head,
        })
    }

    /// Runs the tower on `(batch, channels, image_size, image_size)` pixels.
    pub fn forward(&self, pixels: &Var) -> Result<TowerOutput> {
        let v = &self.config;
        let d = pixels.dims();
        if d.len() != 4 || d[1] != v.num_channels || d[2] != v.image_size || d[3] != v.image_size || d[0] == 0
        {
            return Err(Error::invalid(
                "pixel_values",
                format!(
                    "expected (batch >= 1, {}, {}, {}), found {d:?}",
                    v.num_channels, v.image_size, v.image_size
                ),
            ));
        }
        let b = d[0];
        let e = v.encoder.hidden_size;
        let x = patches(&pixels.to_dtype(self.patch_weight.dtype())?, v.patch_size, v.grid())?;
        let mut x = tessera_autograd::linear(&x, &self.patch_weight, self.patch_bias.as_ref())?;
        if let Some(cls) = &self.class_embedding {
            let cls = cls.reshape(&[1, 1, e])?.broadcast_as(&[b, 1, e])?;
            x = tessera_autograd::cat(&[&cls, &x], 1)?;
        }
        let n = x.dims()[1];
        x = x.add(&self.position_embedding.reshape(&[1, n, e])?.broadcast_as(&[b, n, e])?)?;
        if let Some(pre) = &self.pre_norm {
            x = norm(pre, &x)?;
        }
        let hidden = self.encoder.forward(&x, &Mask::default())?;
        match self.arch {
            Arch::Clip => {
                let cls = hidden.narrow(1, 0, 1)?.squeeze(1)?;
                let pooled = norm(&self.post_norm, &cls)?;
                Ok(TowerOutput { last_hidden_state: hidden, pooled: Some(pooled) })
            }
            Arch::Siglip => {
                let hidden = norm(&self.post_norm, &hidden)?;
                let pooled = match &self.head {
                    Some(head) => Some(head.forward(&hidden)?),
                    None => None,
                };
                Ok(TowerOutput { last_hidden_state: hidden, pooled })
            }
        }
    }

    pub fn visit(&self, prefix: &str, f: &mut dyn FnMut(String, &Var)) {
        let emb = join(prefix, "embeddings");
        let v = &self.config;
        let conv =
            self.patch_weight.reshape(&[v.encoder.hidden_size, v.num_channels, v.patch_size, v.patch_size]);
        if let Ok(conv) = conv {
            f(join(&emb, "patch_embedding.weight"), &conv);
        }
        if let Some(b) = &self.patch_bias {
            f(join(&emb, "patch_embedding.bias"), b);
        }
        if let Some(c) = &self.class_embedding {
            f(join(&emb, "class_embedding"), c);
        }
        f(join(&emb, "position_embedding.weight"), &self.position_embedding);
        if let Some(pre) = &self.pre_norm {
            pre.visit_parameters(&join(prefix, "pre_layrnorm"), f);
        }
        self.encoder.visit(&join(prefix, "encoder"), f);
        self.post_norm.visit_parameters(&join(prefix, "post_layernorm"), f);
        if let Some(head) = &self.head {
            let h = join(prefix, "head");
            f(join(&h, "probe"), &head.probe);
            head.attention.visit_parameters(&join(&h, "attention"), f);
            head.norm.visit_parameters(&join(&h, "layernorm"), f);
            head.mlp.visit(&join(&h, "mlp"), f);
        }
    }

    /// The trainable leaves (the patch weight is kept in matmul layout; its conv-shaped view for saving
    /// comes from [`VisionTower::visit`]).
    pub fn visit_leaves(&self, prefix: &str, f: &mut dyn FnMut(String, &Var)) {
        let emb = join(prefix, "embeddings");
        f(join(&emb, "patch_embedding.weight"), &self.patch_weight);
        self.visit(prefix, &mut |name, v| {
            if !name.ends_with("patch_embedding.weight") {
                f(name, v)
            }
        });
    }
}

impl MapHead {
    fn forward(&self, hidden: &Var) -> Result<Var> {
        let d = hidden.dims();
        let (b, e) = (d[0], d[2]);
        let probe = self.probe.broadcast_as(&[b, 1, e])?.contiguous()?;
        let h = self.attention.attend(&probe, hidden, hidden, Default::default())?;
        let h = h.add(&self.mlp.forward(&norm(&self.norm, &h)?)?)?;
        Ok(h.squeeze(1)?)
    }
}

/// How the text tower picks the token it pools.
#[derive(Debug, Clone, Copy)]
enum Pool {
    /// CLIP: the first end-of-text token.
    FirstEos(u32),
    /// CLIP with the legacy `eos_token_id: 2`: the largest id (OpenAI's end-of-text is the last id).
    ArgmaxId,
    /// SigLIP: the last position.
    Last,
}

/// The text tower: token and position embeddings, the encoder, the final norm, pooling (and SigLIP's head).
#[derive(Debug, Clone)]
pub(crate) struct TextTower {
    config: TextConfig,
    token_embedding: Var,
    position_embedding: Var,
    encoder: Encoder,
    final_norm: LayerNorm,
    head: Option<Linear>,
    pool: Pool,
    causal: bool,
}

impl TextTower {
    pub fn load(src: &Source<'_>, prefix: &str, config: &ModelConfig) -> Result<TextTower> {
        let t = &config.text;
        let e = t.encoder.hidden_size;
        let emb = join(prefix, "embeddings");
        let clip = config.arch == Arch::Clip;
        let pool = match (config.arch, t.eos_token_id) {
            (Arch::Siglip, _) => Pool::Last,
            (Arch::Clip, Some(2)) => Pool::ArgmaxId,
            (Arch::Clip, Some(eos)) => Pool::FirstEos(eos as u32),
            (Arch::Clip, None) => {
                return Err(Error::invalid("text_config.eos_token_id", "CLIP needs an end-of-text id"));
            }
        };
        Ok(TextTower {
            config: t.clone(),
            token_embedding: src.param(
                &join(&emb, "token_embedding.weight"),
                &[t.vocab_size, e],
                Init::Normal(0.02),
            )?,
            position_embedding: src.param(
                &join(&emb, "position_embedding.weight"),
                &[t.max_positions, e],
                Init::Normal(0.01),
            )?,
            encoder: Encoder::load(src, &join(prefix, "encoder"), &t.encoder)?,
            final_norm: src.layer_norm(&join(prefix, "final_layer_norm"), e, t.encoder.layer_norm_eps)?,
            head: if clip {
                None
            } else {
                Some(src.linear(&join(prefix, "head"), e, t.projection_size, true, (e as f64).powf(-0.5))?)
            },
            pool,
            causal: clip,
        })
    }

    /// Runs the tower on `(batch, seq)` token ids; `attention_mask` is 1 for real tokens, 0 for padding.
    pub fn forward(&self, ids: &Tensor, attention_mask: Option<&Tensor>) -> Result<TowerOutput> {
        let d = ids.dims();
        if d.len() != 2 || d[0] == 0 || d[1] == 0 || d[1] > self.config.max_positions {
            return Err(Error::invalid(
                "input_ids",
                format!("expected (batch >= 1, 1..={}), found {d:?}", self.config.max_positions),
            ));
        }
        let (b, l) = (d[0], d[1]);
        let host: Vec<Vec<u32>> = ids.to_dtype(DType::U32)?.to_vec2()?;
        if let Some(bad) = host.iter().flatten().find(|&&id| id as usize >= self.config.vocab_size) {
            return Err(Error::invalid(
                "input_ids",
                format!("id {bad} is not below vocab_size {}", self.config.vocab_size),
            ));
        }
        let key_padding = match attention_mask {
            Some(m) if m.dims() == d => Some(m.to_dtype(DType::F32)?.eq(0f64)?.to_dtype(DType::U8)?),
            Some(m) => {
                return Err(Error::invalid(
                    "attention_mask",
                    format!("expected {d:?} like input_ids, found {:?}", m.dims()),
                ));
            }
            None => None,
        };
        let e = self.config.encoder.hidden_size;
        let ids = Tensor::new(host.concat(), ids.device())?.reshape((b, l))?;
        let x = embedding(&ids, &self.token_embedding)?;
        let pos = self.position_embedding.narrow(0, 0, l)?.reshape(&[1, l, e])?.broadcast_as(&[b, l, e])?;
        let x = x.add(&pos)?;
        let mask = Mask { causal: self.causal, key_padding };
        let hidden = norm(&self.final_norm, &self.encoder.forward(&x, &mask)?)?;
        let at: Vec<u32> = host
            .iter()
            .enumerate()
            .map(|(row, seq)| {
                let i = match self.pool {
                    Pool::Last => l - 1,
                    Pool::ArgmaxId => {
                        // torch's argmax returns the first maximum.
                        let max = seq.iter().copied().max().unwrap_or(0);
                        seq.iter().position(|&x| x == max).unwrap_or(0)
                    }
                    // transformers: argmax of (ids == eos), i.e. the first eos, or position 0 when none.
                    Pool::FirstEos(eos) => seq.iter().position(|&x| x == eos).unwrap_or(0),
                };
                (row * l + i) as u32
            })
            .collect();
        let index = Tensor::new(at, &hidden.device())?;
        let pooled = hidden.reshape(&[b * l, e])?.index_select(&index, 0)?;
        let pooled = match &self.head {
            Some(head) => head.forward(&pooled)?,
            None => pooled,
        };
        Ok(TowerOutput { last_hidden_state: hidden, pooled: Some(pooled) })
    }

    pub fn visit(&self, prefix: &str, f: &mut dyn FnMut(String, &Var)) {
        let emb = join(prefix, "embeddings");
        f(join(&emb, "token_embedding.weight"), &self.token_embedding);
        f(join(&emb, "position_embedding.weight"), &self.position_embedding);
        self.encoder.visit(&join(prefix, "encoder"), f);
        self.final_norm.visit_parameters(&join(prefix, "final_layer_norm"), f);
        if let Some(head) = &self.head {
            head.visit_parameters(&join(prefix, "head"), f);
        }
    }
}
