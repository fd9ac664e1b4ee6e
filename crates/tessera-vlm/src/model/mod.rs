//! CLIP and SigLIP: two towers, their projections, and the learned logit scale (and SigLIP's bias).

mod layers;
mod towers;

use std::path::Path;
use std::sync::Mutex;

use candle_core::{DType, Device, Tensor};
use tessera_autograd::{Var, inference_mode};
use tessera_nn::{Linear, Module};
use tessera_tensor::SeededRng;

pub use towers::TowerOutput;

use crate::config::{Arch, ModelConfig};
use crate::error::{Error, Result};
use crate::model::layers::{Init, Source};
use crate::model::towers::{TextTower, VisionTower};
use crate::weights::Checkpoint;

/// How a checkpoint is loaded.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The dtype of weights and activations: `F32` (bf16 and f16 checkpoints are converted; bf16
    /// activations are refused for now).
    pub dtype: DType,
    /// Refuse a checkpoint holding tensors the architecture does not use (otherwise they are reported).
    pub strict: bool,
    /// Where the tensors live.
    pub device: Device,
}

impl Default for LoadOptions {
    fn default() -> LoadOptions {
        LoadOptions { dtype: DType::F32, strict: false, device: Device::Cpu }
    }
}

/// A CLIP or SigLIP model.
#[derive(Debug, Clone)]
pub struct VlmModel {
    config: ModelConfig,
    vision: VisionTower,
    text: TextTower,
    /// CLIP's `visual_projection` / `text_projection` (no bias); SigLIP has none (its heads project).
    visual_projection: Option<Linear>,
    text_projection: Option<Linear>,
    logit_scale: Var,
    logit_bias: Option<Var>,
    dtype: DType,
    unused: Vec<String>,
}

impl VlmModel {
    /// Loads `config.json` and the checkpoint of a Hugging Face folder.
    pub fn load(dir: &Path, options: &LoadOptions) -> Result<VlmModel> {
        let config = ModelConfig::from_file(&dir.join("config.json"))?;
        let checkpoint = Checkpoint::open_dir(dir)?;
        VlmModel::from_checkpoint(config, &checkpoint, options)
    }

    /// Builds the model from an open checkpoint.
    pub fn from_checkpoint(
        config: ModelConfig,
        checkpoint: &Checkpoint,
        options: &LoadOptions,
    ) -> Result<VlmModel> {
        check_dtype(options.dtype)?;
        let src = Source::Checkpoint { checkpoint, dtype: options.dtype, device: options.device.clone() };
        let mut model = VlmModel::build(config, &src, options.dtype)?;
        model.unused = checkpoint.unused();
        if options.strict && !model.unused.is_empty() {
            return Err(Error::UnusedTensors {
                path: checkpoint.origin().into(),
                names: model.unused.clone(),
            });
        }
        Ok(model)
    }

    /// A freshly initialised model (seeded), for training from scratch or benchmarks.
    pub fn init(config: ModelConfig, seed: u64, dtype: DType, device: &Device) -> Result<VlmModel> {
        check_dtype(dtype)?;
        let src =
            Source::Init { rng: Box::new(Mutex::new(SeededRng::new(seed))), dtype, device: device.clone() };
        VlmModel::build(config, &src, dtype)
    }

    fn build(config: ModelConfig, src: &Source<'_>, dtype: DType) -> Result<VlmModel> {
        let vision = VisionTower::load(src, "vision_model", &config)?;
        let text = TextTower::load(src, "text_model", &config)?;
        let (visual_projection, text_projection, logit_bias, scale_init) = match config.arch {
            Arch::Clip => (
                Some(src.linear(
                    "visual_projection",
                    config.vision.encoder.hidden_size,
                    config.projection_dim,
                    false,
                    (config.vision.encoder.hidden_size as f64).powf(-0.5),
                )?),
                Some(src.linear(
                    "text_projection",
                    config.text.encoder.hidden_size,
                    config.projection_dim,
                    false,
                    (config.text.encoder.hidden_size as f64).powf(-0.5),
                )?),
                None,
                config.logit_scale_init,
            ),
            Arch::Siglip => {
                (None, None, Some(src.param("logit_bias", &[1], Init::Constant(-10.0))?), 10f64.ln())
            }
        };
        // transformers stores CLIP's scale as a 0-d tensor and SigLIP's as shape (1,).
        let scale_shape: &[usize] = if config.arch == Arch::Clip { &[] } else { &[1] };
        let logit_scale = src.param("logit_scale", scale_shape, Init::Constant(scale_init))?;
        Ok(VlmModel {
            config,
            vision,
            text,
            visual_projection,
            text_projection,
            logit_scale,
            logit_bias,
            dtype,
            unused: Vec::new(),
        })
    }

    /// The validated configuration.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The dtype of weights and activations.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Checkpoint tensors the architecture did not use (empty for a clean checkpoint).
    pub fn unused_tensors(&self) -> &[String] {
        &self.unused
    }

    /// The image tower's raw output (differentiable).
    pub fn vision_forward(&self, pixels: &Var) -> Result<TowerOutput> {
        self.vision.forward(pixels)
    }

    /// The text tower's raw output (differentiable).
    pub fn text_forward(&self, ids: &Tensor, attention_mask: Option<&Tensor>) -> Result<TowerOutput> {
        self.text.forward(ids, attention_mask)
    }

    /// Projected, unnormalised image features `(batch, projection_dim)` (transformers' `get_image_features`).
    pub fn image_features_var(&self, pixels: &Var) -> Result<Var> {
        let out = self.vision.forward(pixels)?;
        let pooled = out.pooled.ok_or_else(|| {
            Error::invalid("vision_config.vision_use_head", "false: this image tower has no pooled output")
        })?;
        match &self.visual_projection {
            Some(p) => Ok(p.forward(&pooled)?),
            None => Ok(pooled),
        }
    }

    /// Projected, unnormalised text features `(batch, projection_dim)` (transformers' `get_text_features`).
    pub fn text_features_var(&self, ids: &Tensor, attention_mask: Option<&Tensor>) -> Result<Var> {
        let out = self.text.forward(ids, attention_mask)?;
        let pooled = out.pooled.ok_or_else(|| Error::invalid("text tower", "no pooled output"))?;
        match &self.text_projection {
            Some(p) => Ok(p.forward(&pooled)?),
            None => Ok(pooled),
        }
    }

    /// L2-normalised image embeddings `(batch, dim)` in f32 (`image_embeds`).
    pub fn image_embeds(&self, pixels: &Tensor) -> Result<Tensor> {
        let _guard = inference_mode();
        let f = self.image_features_var(&Var::constant(pixels.clone()))?;
        l2_normalize(&f.tensor().to_dtype(DType::F32)?)
    }

    /// L2-normalised text embeddings `(batch, dim)` in f32 (`text_embeds`).
    pub fn text_embeds(&self, ids: &Tensor, attention_mask: Option<&Tensor>) -> Result<Tensor> {
        let _guard = inference_mode();
        let f = self.text_features_var(ids, attention_mask)?;
        l2_normalize(&f.tensor().to_dtype(DType::F32)?)
    }

    /// `exp(logit_scale)` and SigLIP's bias (0 for CLIP), as f64.
    pub fn scale_and_bias(&self) -> Result<(f64, f64)> {
        let scale = self.logit_scale.tensor().to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?[0].exp();
        let bias = match &self.logit_bias {
            Some(b) => b.tensor().to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?[0],
            None => 0.0,
        };
        Ok((scale, bias))
    }

    /// `logits_per_image (images, texts) = exp(scale) * image_embeds @ text_embedsᵀ + bias`.
    pub fn logits_per_image(&self, image_embeds: &Tensor, text_embeds: &Tensor) -> Result<Tensor> {
        let (scale, bias) = self.scale_and_bias()?;
        let sims = image_embeds.to_dtype(DType::F32)?.matmul(&text_embeds.to_dtype(DType::F32)?.t()?)?;
        Ok(sims.affine(scale, bias)?)
    }

    /// The learned `logit_scale` (log of the temperature's inverse) as a variable.
    pub fn logit_scale(&self) -> &Var {
        &self.logit_scale
    }

    /// SigLIP's learned `logit_bias`.
    pub fn logit_bias(&self) -> Option<&Var> {
        self.logit_bias.as_ref()
    }

    /// Every trainable leaf, with its name (the patch embedding in matmul layout).
    pub fn trainable_parameters(&self) -> Vec<(String, Var)> {
        let mut out = Vec::new();
        self.vision.visit_leaves("vision_model", &mut |n, v| out.push((n, v.clone())));
        self.visit_rest(&mut |n, v| out.push((n, v.clone())));
        out
    }

    fn visit_rest(&self, f: &mut dyn FnMut(String, &Var)) {
        self.text.visit("text_model", f);
        if let Some(p) = &self.visual_projection {
            p.visit_parameters("visual_projection", f);
        }
        if let Some(p) = &self.text_projection {
            p.visit_parameters("text_projection", f);
        }
        f("logit_scale".into(), &self.logit_scale);
        if let Some(b) = &self.logit_bias {
            f("logit_bias".into(), b);
        }
    }

    /// Writes `config.json` and `model.safetensors` (f32, transformers' names and shapes) into `dir`,
    /// creating it; each file is written to a temporary name and renamed.
    pub fn save_pretrained(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let mut config = self.config.to_json();
        if let Some(m) = config.as_object_mut() {
            m.insert("dtype".into(), "float32".into());
        }
        let text =
            serde_json::to_string_pretty(&config).map_err(|e| Error::invalid("config", e.to_string()))?;
        tessera_tensor::write_atomic(dir.join("config.json"), |w| w.write_all(text.as_bytes()))?;
        let state: Vec<(String, Tensor)> = self
            .state_dict()
            .into_iter()
            .map(|(n, t)| t.to_dtype(DType::F32).map(|t| (n, t)))
            .collect::<std::result::Result<_, _>>()?;
        let refs: Vec<(&str, &Tensor)> = state.iter().map(|(n, t)| (n.as_str(), t)).collect();
        let mut meta = std::collections::HashMap::new();
        meta.insert("format".to_string(), "pt".to_string());
        tessera_tensor::save_with_metadata(dir.join("model.safetensors"), &refs, Some(meta))?;
        Ok(())
    }

    /// `(name, tensor)` with transformers' names and shapes (the checkpoint `save_pretrained` writes).
    pub fn state_dict(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        self.vision.visit("vision_model", &mut |n, v| out.push((n, v.tensor())));
        self.visit_rest(&mut |n, v| out.push((n, v.tensor())));
        out
    }
}

fn check_dtype(dtype: DType) -> Result<()> {
    match dtype {
        DType::F32 => Ok(()),
        // Checkpoints in bf16 or f16 load (converted to f32); bf16 activations need a bf16 matmul, which
        // candle's CPU backend lacks, so they are refused rather than run slowly in f32 under their name.
        DType::BF16 => Err(Error::invalid(
            "dtype",
            "bf16 inference is not implemented yet (bf16 and f16 checkpoints load and run in f32)",
        )),
        other => Err(Error::invalid("dtype", format!("f32, found {other:?}"))),
    }
}

/// Rows divided by their L2 norm (as transformers: `x / x.norm(p=2, dim=-1, keepdim=True)`).
pub fn l2_normalize(x: &Tensor) -> Result<Tensor> {
    let norm = x.sqr()?.sum_keepdim(1)?.sqrt()?;
    Ok(x.broadcast_div(&norm)?)
}
