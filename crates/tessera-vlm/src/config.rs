//! `config.json` of a CLIP or SigLIP folder, validated once into [`ModelConfig`].
//!
//! Every field the two architectures use is read from the file, with transformers' defaults when a
//! field is absent, and checked against the others (heads divide the width, patches fit the image,
//! SigLIP's two embeddings have one width) before any weight is touched.

use std::path::Path;

use serde_json::{Map, Value, json};
use tessera_nn::Activation;

use crate::error::{Error, Result};
use crate::json::{Fields, read_object};

/// Which architecture a folder holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    /// OpenAI CLIP (`model_type: "clip"`): class token, causal text tower pooled at end-of-text, softmax.
    Clip,
    /// Google SigLIP (`model_type: "siglip"`): no class token, attention-pooling head, text pooled at the
    /// last position, sigmoid with a learned bias.
    Siglip,
}

impl Arch {
    /// The `model_type` string of `config.json`.
    pub fn model_type(self) -> &'static str {
        match self {
            Arch::Clip => "clip",
            Arch::Siglip => "siglip",
        }
    }
}

/// The activation names transformers' configs use, and the layer each maps to.
const ACTIVATIONS: &[(&str, Activation)] = &[
    ("gelu", Activation::Gelu),
    ("quick_gelu", Activation::QuickGelu),
    ("gelu_pytorch_tanh", Activation::GeluTanh),
    ("gelu_new", Activation::GeluTanh),
    ("relu", Activation::Relu),
    ("silu", Activation::Silu),
    ("swish", Activation::Silu),
];

/// The transformer stack shared by both towers.
#[derive(Debug, Clone, PartialEq)]
pub struct EncoderConfig {
    /// `hidden_size`.
    pub hidden_size: usize,
    /// `intermediate_size` (the MLP's width).
    pub intermediate_size: usize,
    /// `num_hidden_layers`.
    pub num_layers: usize,
    /// `num_attention_heads` (divides `hidden_size`).
    pub num_heads: usize,
    /// `hidden_act`.
    pub activation: Activation,
    /// `hidden_act` as written in the file (kept for saving).
    pub activation_name: String,
    /// `layer_norm_eps`.
    pub layer_norm_eps: f64,
}

/// The text tower's configuration (`text_config`).
#[derive(Debug, Clone, PartialEq)]
pub struct TextConfig {
    /// The transformer stack.
    pub encoder: EncoderConfig,
    /// `vocab_size`.
    pub vocab_size: usize,
    /// `max_position_embeddings`: the longest token sequence.
    pub max_positions: usize,
    /// `pad_token_id`.
    pub pad_token_id: Option<usize>,
    /// `bos_token_id`.
    pub bos_token_id: Option<usize>,
    /// `eos_token_id`. CLIP pools at its first occurrence; the legacy value 2 means "pool at the largest
    /// id" (the end-of-text token is the last of OpenAI's vocabulary).
    pub eos_token_id: Option<usize>,
    /// SigLIP's `projection_size`: the text head's output width (default `hidden_size`).
    pub projection_size: usize,
}

/// The image tower's configuration (`vision_config`).
#[derive(Debug, Clone, PartialEq)]
pub struct VisionConfig {
    /// The transformer stack.
    pub encoder: EncoderConfig,
    /// `num_channels`.
    pub num_channels: usize,
    /// `image_size` (square).
    pub image_size: usize,
    /// `patch_size` (square).
    pub patch_size: usize,
    /// SigLIP's `vision_use_head`: whether the attention-pooling head exists (without it the tower has
    /// no pooled output).
    pub use_head: bool,
}

impl VisionConfig {
    /// Patches per side (`image_size / patch_size`, floored as the convolution does).
    pub fn grid(&self) -> usize {
        self.image_size / self.patch_size
    }

    /// Patches per image.
    pub fn num_patches(&self) -> usize {
        self.grid() * self.grid()
    }
}

/// A validated model configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelConfig {
    /// The architecture.
    pub arch: Arch,
    /// The text tower.
    pub text: TextConfig,
    /// The image tower.
    pub vision: VisionConfig,
    /// CLIP's `projection_dim`: the width of both embeddings. For SigLIP, the vision width.
    pub projection_dim: usize,
    /// CLIP's `logit_scale_init_value` (ln(1/0.07)); kept for saving.
    pub logit_scale_init: f64,
}

/// Upper bounds that keep a hostile config from asking for absurd allocations before any check.
const MAX_WIDTH: usize = 1 << 16;
const MAX_LAYERS: usize = 1 << 10;
const MAX_VOCAB: usize = 1 << 24;
const MAX_POSITIONS: usize = 1 << 16;
const MAX_IMAGE: usize = 1 << 14;
/// The most parameters a configuration may imply (about 64 GB of f32).
const MAX_PARAMETERS: u128 = 1 << 34;

impl ModelConfig {
    /// Reads and validates `config.json`.
    pub fn from_file(path: &Path) -> Result<ModelConfig> {
        let map = read_object(path)?;
        ModelConfig::from_map(path, &map)
    }

    /// Validates an already-parsed `config.json` (`path` is used in errors).
    pub fn from_map(path: &Path, map: &Map<String, Value>) -> Result<ModelConfig> {
        let root = Fields::new(path, "", map);
        let arch = match root.string("model_type")? {
            Some("clip") => Arch::Clip,
            Some("siglip") => Arch::Siglip,
            other => {
                return Err(Error::UnknownModelType {
                    path: path.into(),
                    found: other.unwrap_or("(missing)").to_string(),
                    supported: vec!["clip".into(), "siglip".into()],
                });
            }
        };
        let empty = Map::new();
        let text_map = root.object("text_config")?.unwrap_or(&empty);
        let vision_map = root.object("vision_config")?.unwrap_or(&empty);
        let text = Fields::new(path, "text_config", text_map);
        let vision = Fields::new(path, "vision_config", vision_map);
        let (text_defaults, vision_defaults) = match arch {
            Arch::Clip => (
                Defaults {
                    hidden: 512,
                    intermediate: 2048,
                    layers: 12,
                    heads: 8,
                    act: "quick_gelu",
                    eps: 1e-5,
                },
                Defaults {
                    hidden: 768,
                    intermediate: 3072,
                    layers: 12,
                    heads: 12,
                    act: "quick_gelu",
                    eps: 1e-5,
                },
            ),
            Arch::Siglip => {
                // SigLIP's two towers share transformers' defaults.
                let tower = Defaults {
                    hidden: 768,
                    intermediate: 3072,
                    layers: 12,
                    heads: 12,
                    act: "gelu_pytorch_tanh",
                    eps: 1e-6,
                };
                (tower, tower)
            }
        };
        let text_encoder = encoder(&text, &text_defaults)?;
        let vision_encoder = encoder(&vision, &vision_defaults)?;
        let (vocab_default, positions_default, pad_default, patch_default) = match arch {
            Arch::Clip => (49408, 77, Some(1), 32),
            Arch::Siglip => (32000, 64, Some(1), 16),
        };
        let vocab_size = text.positive("vocab_size", vocab_default, MAX_VOCAB)?;
        // Absent: transformers' default; `null`: no such token (kept as null when saving).
        let token = |field: &str, default: Option<usize>| -> Result<Option<usize>> {
            match text.map.get(field) {
                None => Ok(default),
                Some(Value::Null) => Ok(None),
                Some(_) => text.opt_integer(field, 0, MAX_VOCAB),
            }
        };
        let text_cfg = TextConfig {
            projection_size: text.positive("projection_size", text_encoder.hidden_size, MAX_WIDTH)?,
            encoder: text_encoder,
            vocab_size,
            max_positions: text.positive("max_position_embeddings", positions_default, MAX_POSITIONS)?,
            pad_token_id: token("pad_token_id", pad_default)?,
            bos_token_id: token("bos_token_id", Some(49406))?,
            eos_token_id: token("eos_token_id", Some(49407))?,
        };
        let image_size = vision.positive("image_size", 224, MAX_IMAGE)?;
        let patch_size = vision.positive("patch_size", patch_default, MAX_IMAGE)?;
        if patch_size > image_size {
            return Err(vision.error(
                "patch_size",
                format!("at most image_size ({image_size})"),
                patch_size.to_string(),
            ));
        }
        let vision_cfg = VisionConfig {
            encoder: vision_encoder,
            num_channels: vision.positive("num_channels", 3, 64)?,
            image_size,
            patch_size,
            use_head: vision.boolean("vision_use_head", true)?,
        };
        let projection_dim = match arch {
            Arch::Clip => root.positive("projection_dim", 512, MAX_WIDTH)?,
            Arch::Siglip => {
                if text_cfg.projection_size != vision_cfg.encoder.hidden_size {
                    return Err(text.error(
                        "projection_size",
                        format!(
                            "vision_config.hidden_size ({}), the width of the image embeddings",
                            vision_cfg.encoder.hidden_size
                        ),
                        text_cfg.projection_size.to_string(),
                    ));
                }
                vision_cfg.encoder.hidden_size
            }
        };
        if arch == Arch::Clip {
            // CLIP pools at the end-of-text token, so its id must exist.
            match text_cfg.eos_token_id {
                Some(eos) if eos < vocab_size => {}
                found => {
                    return Err(text.error(
                        "eos_token_id",
                        format!("an id below vocab_size ({vocab_size})"),
                        found.map_or("null".to_string(), |e| e.to_string()),
                    ));
                }
            }
        }
        let config = ModelConfig {
            arch,
            text: text_cfg,
            vision: vision_cfg,
            projection_dim,
            logit_scale_init: root.number("logit_scale_init_value", 2.6592)?,
        };
        let params = config.parameter_count();
        if params > MAX_PARAMETERS {
            return Err(root.error(
                "(sizes)",
                format!("at most {MAX_PARAMETERS} parameters"),
                params.to_string(),
            ));
        }
        Ok(config)
    }

    /// The number of parameters the configuration implies (u128: never overflows for bounded fields).
    pub fn parameter_count(&self) -> u128 {
        let enc = |e: &EncoderConfig| {
            let (h, i) = (e.hidden_size as u128, e.intermediate_size as u128);
            e.num_layers as u128 * (4 * h * h + 4 * h + 2 * h * i + h + i + 4 * h)
        };
        let t = &self.text;
        let v = &self.vision;
        let th = t.encoder.hidden_size as u128;
        let vh = v.encoder.hidden_size as u128;
        let patch = (v.patch_size * v.patch_size * v.num_channels) as u128;
        enc(&t.encoder)
            + enc(&v.encoder)
            + (t.vocab_size as u128 + t.max_positions as u128) * th
            + patch * vh
            + (v.num_patches() as u128 + 1) * vh
            + (self.projection_dim as u128) * (th + vh)
    }

    /// `config.json` as transformers writes it for this configuration (for `save_pretrained`).
    pub fn to_json(&self) -> Value {
        let enc = |e: &EncoderConfig| {
            json!({
                "hidden_size": e.hidden_size,
                "intermediate_size": e.intermediate_size,
                "num_hidden_layers": e.num_layers,
                "num_attention_heads": e.num_heads,
                "hidden_act": e.activation_name,
                "layer_norm_eps": e.layer_norm_eps,
                "attention_dropout": 0.0,
            })
        };
        let mut text = enc(&self.text.encoder);
        let mut vision = enc(&self.vision.encoder);
        let t = &self.text;
        let (tm, vm) = (text.as_object_mut(), vision.as_object_mut());
        if let (Some(tm), Some(vm)) = (tm, vm) {
            tm.insert("vocab_size".into(), t.vocab_size.into());
            tm.insert("max_position_embeddings".into(), t.max_positions.into());
            tm.insert("pad_token_id".into(), t.pad_token_id.into());
            tm.insert("bos_token_id".into(), t.bos_token_id.into());
            tm.insert("eos_token_id".into(), t.eos_token_id.into());
            vm.insert("num_channels".into(), self.vision.num_channels.into());
            vm.insert("image_size".into(), self.vision.image_size.into());
            vm.insert("patch_size".into(), self.vision.patch_size.into());
            match self.arch {
                Arch::Clip => {
                    tm.insert("model_type".into(), "clip_text_model".into());
                    vm.insert("model_type".into(), "clip_vision_model".into());
                    tm.insert("projection_dim".into(), self.projection_dim.into());
                    vm.insert("projection_dim".into(), self.projection_dim.into());
                }
                Arch::Siglip => {
                    tm.insert("model_type".into(), "siglip_text_model".into());
                    vm.insert("model_type".into(), "siglip_vision_model".into());
                    tm.insert("projection_size".into(), t.projection_size.into());
                    vm.insert("vision_use_head".into(), self.vision.use_head.into());
                }
            }
        }
        let mut root = json!({
            "model_type": self.arch.model_type(),
            "architectures": [match self.arch { Arch::Clip => "CLIPModel", Arch::Siglip => "SiglipModel" }],
            "text_config": text,
            "vision_config": vision,
        });
        if let (Arch::Clip, Some(m)) = (self.arch, root.as_object_mut()) {
            m.insert("projection_dim".into(), self.projection_dim.into());
            m.insert("logit_scale_init_value".into(), self.logit_scale_init.into());
        }
        root
    }
}

#[derive(Clone, Copy)]
struct Defaults {
    hidden: usize,
    intermediate: usize,
    layers: usize,
    heads: usize,
    act: &'static str,
    eps: f64,
}

fn encoder(f: &Fields<'_>, d: &Defaults) -> Result<EncoderConfig> {
    let hidden_size = f.positive("hidden_size", d.hidden, MAX_WIDTH)?;
    let num_heads = f.positive("num_attention_heads", d.heads, MAX_WIDTH)?;
    if !hidden_size.is_multiple_of(num_heads) {
        return Err(f.error(
            "num_attention_heads",
            format!("a divisor of hidden_size ({hidden_size})"),
            num_heads.to_string(),
        ));
    }
    let activation_name = f.string("hidden_act")?.unwrap_or(d.act).to_string();
    let Some(&(_, activation)) = ACTIVATIONS.iter().find(|(n, _)| *n == activation_name) else {
        return Err(Error::UnknownActivation {
            path: f.path.into(),
            field: f.name("hidden_act"),
            found: activation_name,
            supported: ACTIVATIONS.iter().map(|(n, _)| n.to_string()).collect(),
        });
    };
    let layer_norm_eps = f.number("layer_norm_eps", d.eps)?;
    if !(layer_norm_eps > 0.0 && layer_norm_eps < 1.0) {
        return Err(f.error("layer_norm_eps", "a number in (0, 1)", layer_norm_eps.to_string()));
    }
    Ok(EncoderConfig {
        hidden_size,
        intermediate_size: f.positive("intermediate_size", d.intermediate, MAX_WIDTH * 16)?,
        num_layers: f.positive("num_hidden_layers", d.layers, MAX_LAYERS)?,
        num_heads,
        activation,
        activation_name,
        layer_norm_eps,
    })
}
