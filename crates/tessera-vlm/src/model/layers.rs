//! The building blocks both towers share: where parameters come from (a checkpoint or a seeded
//! initialisation), and the pre-LN transformer layer with transformers' parameter names.

use std::sync::Mutex;

use candle_core::{DType, Device, Tensor};
use tessera_attention::{AttentionOptions, flash_attention_var};
use tessera_autograd::{Var, layer_norm};
use tessera_nn::{Activation, LayerNorm, Linear, Module, join};
use tessera_tensor::SeededRng;

use crate::config::EncoderConfig;
use crate::error::{Error, Result};
use crate::weights::Checkpoint;

/// How a freshly initialised parameter starts.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Init {
    Normal(f64),
    Zeros,
    Ones,
    Constant(f64),
}

/// Where a model's parameters come from.
pub(crate) enum Source<'a> {
    /// A checkpoint, converted to `dtype`.
    Checkpoint { checkpoint: &'a Checkpoint, dtype: DType, device: Device },
    /// A seeded initialisation (training from scratch, benchmarks with random weights).
    Init { rng: Box<Mutex<SeededRng>>, dtype: DType, device: Device },
}

impl Source<'_> {
    /// The parameter `name` of shape `shape`.
    pub fn param(&self, name: &str, shape: &[usize], init: Init) -> Result<Var> {
        let t = match self {
            Source::Checkpoint { checkpoint, dtype, device } => {
                checkpoint.take(name, shape, *dtype, device)?
            }
            Source::Init { rng, dtype, device } => {
                let t = match init {
                    Init::Normal(std) => {
                        let mut rng =
                            rng.lock().map_err(|_| Error::invalid("initialisation", "poisoned generator"))?;
                        rng.normal_tensor(shape, 0.0, std, DType::F32, device)?
                    }
                    Init::Zeros => Tensor::zeros(shape, DType::F32, device)?,
                    Init::Ones => Tensor::ones(shape, DType::F32, device)?,
                    Init::Constant(v) => Tensor::full(v as f32, shape, device)?,
                };
                t.to_dtype(*dtype)?
            }
        };
        Ok(Var::parameter(t))
    }

    /// A `Linear` whose fresh weights are drawn with standard deviation `std`.
    pub fn linear(&self, prefix: &str, input: usize, output: usize, bias: bool, std: f64) -> Result<Linear> {
        let weight = self.param(&join(prefix, "weight"), &[output, input], Init::Normal(std))?;
        let bias = if bias { Some(self.param(&join(prefix, "bias"), &[output], Init::Zeros)?) } else { None };
        Ok(Linear::from_parameters(weight, bias)?)
    }

    pub fn layer_norm(&self, prefix: &str, dim: usize, eps: f64) -> Result<LayerNorm> {
        let mut ln = LayerNorm::new(&[dim], eps)?;
        ln.weight = self.param(&join(prefix, "weight"), &[dim], Init::Ones)?;
        ln.bias = self.param(&join(prefix, "bias"), &[dim], Init::Zeros)?;
        Ok(ln)
    }
}

/// `LayerNorm` over the last dimension, computed in f32 whatever the activations' dtype (as PyTorch's
/// CPU kernel accumulates), returned in the input's dtype.
pub(crate) fn norm(ln: &LayerNorm, x: &Var) -> Result<Var> {
    let dim = x.dims().last().copied().unwrap_or(0);
    if x.dtype() == DType::F32 {
        return Ok(layer_norm(x, &[dim], Some(&ln.weight), Some(&ln.bias), ln.eps)?);
    }
    let w = ln.weight.to_dtype(DType::F32)?;
    let b = ln.bias.to_dtype(DType::F32)?;
    Ok(layer_norm(&x.to_dtype(DType::F32)?, &[dim], Some(&w), Some(&b), ln.eps)?.to_dtype(x.dtype())?)
}

/// transformers' CLIP initialisation of the layers that write into the residual stream:
/// `width^-1/2 · (2 · layers)^-1/2`, so the stream's variance does not grow with depth. Fresh models
/// (training from scratch, benchmarks) follow the rest of that scheme too: `(2 · width)^-1/2` for the
/// MLP's first layer, `width^-1/2` for attention outputs and projections, 0.02 for embeddings.
pub(crate) fn residual_std(width: usize, layers: usize) -> f64 {
    (width as f64).powf(-0.5) * (2.0 * layers.max(1) as f64).powf(-0.5)
}

/// What a layer's self-attention may see.
#[derive(Debug, Clone, Default)]
pub(crate) struct Mask {
    /// CLIP's text tower: each token sees only earlier ones.
    pub causal: bool,
    /// `(batch, seq)`, nonzero where a token is padding (keys ignored).
    pub key_padding: Option<Tensor>,
}

/// Multi-head self-attention with separate `q_proj`/`k_proj`/`v_proj`/`out_proj` (transformers' names),
/// through the flash kernel.
#[derive(Debug, Clone)]
pub(crate) struct SelfAttention {
    pub q: Linear,
    pub k: Linear,
    pub v: Linear,
    pub out: Linear,
    pub heads: usize,
}

impl SelfAttention {
    fn load(
        src: &Source<'_>,
        prefix: &str,
        width: usize,
        heads: usize,
        layers: usize,
    ) -> Result<SelfAttention> {
        let (in_std, out_std) = (residual_std(width, layers), (width as f64).powf(-0.5));
        Ok(SelfAttention {
            q: src.linear(&join(prefix, "q_proj"), width, width, true, in_std)?,
            k: src.linear(&join(prefix, "k_proj"), width, width, true, in_std)?,
            v: src.linear(&join(prefix, "v_proj"), width, width, true, in_std)?,
            out: src.linear(&join(prefix, "out_proj"), width, width, true, out_std)?,
            heads,
        })
    }

    fn forward(&self, x: &Var, mask: &Mask) -> Result<Var> {
        let dims = x.dims();
        let (b, l, e) = (dims[0], dims[1], dims[2]);
        let d = e / self.heads;
        let split = |p: &Linear| -> Result<Var> {
            Ok(p.forward(x)?.reshape(&[b, l, self.heads, d])?.transpose(1, 2)?.contiguous()?)
        };
        let (q, k, v) = (split(&self.q)?, split(&self.k)?, split(&self.v)?);
        let options = AttentionOptions {
            causal: mask.causal,
            key_padding_mask: mask.key_padding.clone(),
            ..AttentionOptions::default()
        };
        let (o, _) = flash_attention_var(&q, &k, &v, &options)?;
        Ok(self.out.forward(&o.transpose(1, 2)?.reshape(&[b, l, e])?)?)
    }

    fn visit(&self, prefix: &str, f: &mut dyn FnMut(String, &Var)) {
        self.q.visit_parameters(&join(prefix, "q_proj"), f);
        self.k.visit_parameters(&join(prefix, "k_proj"), f);
        self.v.visit_parameters(&join(prefix, "v_proj"), f);
        self.out.visit_parameters(&join(prefix, "out_proj"), f);
    }
}

/// `fc1` -> activation -> `fc2`.
#[derive(Debug, Clone)]
pub(crate) struct Mlp {
    pub fc1: Linear,
    pub fc2: Linear,
    pub activation: Activation,
}

impl Mlp {
    pub fn load(
        src: &Source<'_>,
        prefix: &str,
        width: usize,
        inner: usize,
        activation: Activation,
        layers: usize,
    ) -> Result<Mlp> {
        let fc_std = (2.0 * width as f64).powf(-0.5);
        Ok(Mlp {
            fc1: src.linear(&join(prefix, "fc1"), width, inner, true, fc_std)?,
            fc2: src.linear(&join(prefix, "fc2"), inner, width, true, residual_std(width, layers))?,
            activation,
        })
    }

    pub fn forward(&self, x: &Var) -> Result<Var> {
        Ok(self.fc2.forward(&self.activation.apply(&self.fc1.forward(x)?)?)?)
    }

    pub fn visit(&self, prefix: &str, f: &mut dyn FnMut(String, &Var)) {
        self.fc1.visit_parameters(&join(prefix, "fc1"), f);
        self.fc2.visit_parameters(&join(prefix, "fc2"), f);
    }
}

/// A pre-LN transformer layer: `x + attn(ln1(x))`, then `x + mlp(ln2(x))`.
#[derive(Debug, Clone)]
pub(crate) struct EncoderLayer {
    pub ln1: LayerNorm,
    pub attn: SelfAttention,
    pub ln2: LayerNorm,
    pub mlp: Mlp,
}

impl EncoderLayer {
    fn load(src: &Source<'_>, prefix: &str, c: &EncoderConfig) -> Result<EncoderLayer> {
        let e = c.hidden_size;
        Ok(EncoderLayer {
            ln1: src.layer_norm(&join(prefix, "layer_norm1"), e, c.layer_norm_eps)?,
            attn: SelfAttention::load(src, &join(prefix, "self_attn"), e, c.num_heads, c.num_layers)?,
            ln2: src.layer_norm(&join(prefix, "layer_norm2"), e, c.layer_norm_eps)?,
            mlp: Mlp::load(src, &join(prefix, "mlp"), e, c.intermediate_size, c.activation, c.num_layers)?,
        })
    }

    fn forward(&self, x: &Var, mask: &Mask) -> Result<Var> {
        let x = x.add(&self.attn.forward(&norm(&self.ln1, x)?, mask)?)?;
        x.add(&self.mlp.forward(&norm(&self.ln2, &x)?)?).map_err(Error::from)
    }

    fn visit(&self, prefix: &str, f: &mut dyn FnMut(String, &Var)) {
        self.ln1.visit_parameters(&join(prefix, "layer_norm1"), f);
        self.attn.visit(&join(prefix, "self_attn"), f);
        self.ln2.visit_parameters(&join(prefix, "layer_norm2"), f);
        self.mlp.visit(&join(prefix, "mlp"), f);
    }
}

/// `encoder.layers.{i}`.
#[derive(Debug, Clone)]
pub(crate) struct Encoder {
    pub layers: Vec<EncoderLayer>,
}

impl Encoder {
    pub fn load(src: &Source<'_>, prefix: &str, c: &EncoderConfig) -> Result<Encoder> {
        let layers = (0..c.num_layers)
            .map(|i| EncoderLayer::load(src, &format!("{prefix}.layers.{i}"), c))
            .collect::<Result<Vec<_>>>()?;
        Ok(Encoder { layers })
    }

    pub fn forward(&self, x: &Var, mask: &Mask) -> Result<Var> {
        let mut x = x.clone();
        for layer in &self.layers {
            x = layer.forward(&x, mask)?;
        }
        Ok(x)
    }

    pub fn visit(&self, prefix: &str, f: &mut dyn FnMut(String, &Var)) {
        for (i, layer) in self.layers.iter().enumerate() {
            layer.visit(&format!("{prefix}.layers.{i}"), f);
        }
    }
}

/// Pixels `(batch, channels, H, W)` cut into `patch`-sized squares and flattened as a stride-`patch`
/// convolution reads them: `(batch, grid*grid, channels*patch*patch)`, rows in raster order. Pixels past
/// the last whole patch are dropped, as the convolution drops them.
pub(crate) fn patches(pixels: &Var, patch: usize, grid: usize) -> Result<Var> {
    let d = pixels.dims();
    let (b, c) = (d[0], d[1]);
    let used = grid * patch;
    let x = if d[2] != used || d[3] != used {
        pixels.narrow(2, 0, used)?.narrow(3, 0, used)?
    } else {
        pixels.clone()
    };
    Ok(x.reshape(&[b, c, grid, patch, grid, patch])?
        .permute(&[0, 2, 4, 1, 3, 5])?
        .contiguous()?
        .reshape(&[b, grid * grid, c * patch * patch])?)
}
