//! A whole model folder — model, tokenizer, image processor — and the tasks on it: embeddings,
//! zero-shot classification with template ensembling, retrieval with recall@k.

use std::path::Path;

use candle_core::{Device, Tensor};

use crate::config::Arch;
use crate::error::{Error, Result};
use crate::image::{ImageProcessor, RgbImage};
use crate::model::{LoadOptions, VlmModel, l2_normalize};
use crate::tokenize::TextTokenizer;

/// A loaded Hugging Face folder.
#[derive(Debug)]
pub struct Vlm {
    /// The model.
    pub model: VlmModel,
    /// The tokenizer under the model's contract.
    pub tokenizer: TextTokenizer,
    /// The image processor.
    pub processor: ImageProcessor,
    device: Device,
}

/// Zero-shot probabilities: one row per image, one column per label.
#[derive(Debug, Clone, PartialEq)]
pub struct ZeroShot {
    /// The labels, in the order of the columns.
    pub labels: Vec<String>,
    /// Softmax over labels (CLIP) or an independent sigmoid per label (SigLIP).
    pub probs: Vec<Vec<f32>>,
}

impl Vlm {
    /// Loads `config.json`, the checkpoint, `tokenizer.json` and `preprocessor_config.json` of `dir`.
    pub fn load(dir: &Path, options: &LoadOptions) -> Result<Vlm> {
        let model = VlmModel::load(dir, options)?;
        let tokenizer = TextTokenizer::from_dir(dir, model.config())?;
        let processor = ImageProcessor::from_file(&dir.join("preprocessor_config.json"))?;
        Vlm::from_parts(model, tokenizer, processor, options.device.clone())
    }

    /// Puts a model, its tokenizer and its processor together, checking that the processor makes the
    /// image size the model takes.
    pub fn from_parts(
        model: VlmModel,
        tokenizer: TextTokenizer,
        processor: ImageProcessor,
        device: Device,
    ) -> Result<Vlm> {
        let size = model.config().vision.image_size;
        let out = processor.resized_size(size * 3, size * 2);
        let out = processor.crop.unwrap_or(out);
        if out != (size, size) {
            return Err(Error::invalid(
                "preprocessor_config.json",
                format!("makes {}x{} pixels, the model takes {size}x{size}", out.1, out.0),
            ));
        }
        Ok(Vlm { model, tokenizer, processor, device })
    }

    /// Writes a `save_pretrained`-compatible folder: `config.json`, `model.safetensors`, the tokenizer files
    /// and `preprocessor_config.json`, each atomically.
    pub fn save_pretrained(&self, dir: &Path) -> Result<()> {
        self.model.save_pretrained(dir)?;
        self.tokenizer.save(dir)?;
        let kind = match self.model.config().arch {
            Arch::Clip => "CLIPImageProcessor",
            Arch::Siglip => "SiglipImageProcessor",
        };
        let text = serde_json::to_string_pretty(&self.processor.to_json(kind))
            .map_err(|e| Error::invalid("preprocessor_config", e.to_string()))?;
        tessera_tensor::write_atomic(dir.join("preprocessor_config.json"), |w| {
            std::io::Write::write_all(w, text.as_bytes())
        })?;
        Ok(())
    }

    /// `pixel_values` for images.
    pub fn preprocess(&self, images: &[RgbImage]) -> Result<Tensor> {
        self.processor.preprocess(images, &self.device)
    }

    /// L2-normalised image embeddings `(n, dim)`, in batches of `batch_size`.
    pub fn embed_images(&self, images: &[RgbImage], batch_size: usize) -> Result<Tensor> {
        let batch_size = check_batch(batch_size)?;
        let mut parts = Vec::new();
        for chunk in images.chunks(batch_size) {
            parts.push(self.model.image_embeds(&self.preprocess(chunk)?)?);
        }
        cat_rows(parts, "images")
    }

    /// L2-normalised text embeddings `(n, dim)`, in batches of `batch_size`.
    pub fn embed_texts(&self, texts: &[&str], batch_size: usize) -> Result<Tensor> {
        let batch_size = check_batch(batch_size)?;
        let mut parts = Vec::new();
        for chunk in texts.chunks(batch_size) {
            let enc = self.tokenizer.encode_batch(chunk)?;
            let (ids, mask) = enc.to_tensors(&self.device)?;
            let mask = if self.tokenizer.uses_attention_mask() { Some(&mask) } else { None };
            parts.push(self.model.text_embeds(&ids, mask)?);
        }
        cat_rows(parts, "texts")
    }

    /// Zero-shot classification: each label's class embedding is the mean of its L2-normalised
    /// template embeddings, normalised again (open_clip's ensembling); probabilities are a softmax over
    /// labels for CLIP and a sigmoid per label for SigLIP. `{}` in a template is replaced by the label.
    pub fn zero_shot(
        &self,
        images: &[RgbImage],
        labels: &[&str],
        templates: &[&str],
        batch_size: usize,
    ) -> Result<ZeroShot> {
        if labels.is_empty() {
            return Err(Error::invalid("labels", "at least one label is needed"));
        }
        let templates: Vec<&str> =
            if templates.is_empty() { vec!["a photo of a {}."] } else { templates.to_vec() };
        if let Some(t) = templates.iter().find(|t| !t.contains("{}")) {
            return Err(Error::invalid("template", format!("`{t}` has no `{{}}` for the label")));
        }
        let mut classes = Vec::with_capacity(labels.len());
        for label in labels {
            let prompts: Vec<String> = templates.iter().map(|t| t.replace("{}", label)).collect();
            let refs: Vec<&str> = prompts.iter().map(String::as_str).collect();
            let e = self.embed_texts(&refs, batch_size)?;
            classes.push(e.mean_keepdim(0)?);
        }
        let classes = l2_normalize(&Tensor::cat(&classes, 0)?)?;
        let images = self.embed_images(images, batch_size)?;
        let logits = self.model.logits_per_image(&images, &classes)?;
        let probs = match self.model.config().arch {
            Arch::Clip => Tensor::exp(&logits.broadcast_sub(&logits.max_keepdim(1)?)?)
                .and_then(|e| e.broadcast_div(&e.sum_keepdim(1)?))?,
            Arch::Siglip => (logits.neg()?.exp()? + 1.0)?.recip()?,
        };
        Ok(ZeroShot { labels: labels.iter().map(|s| s.to_string()).collect(), probs: probs.to_vec2()? })
    }
}

fn check_batch(batch_size: usize) -> Result<usize> {
    if batch_size == 0 { Err(Error::invalid("batch_size", "must be at least 1")) } else { Ok(batch_size) }
}

fn cat_rows(parts: Vec<Tensor>, what: &str) -> Result<Tensor> {
    if parts.is_empty() {
        return Err(Error::invalid(what, "at least one is needed"));
    }
    Ok(Tensor::cat(&parts, 0)?)
}

/// Recall@k both ways for image-text retrieval, several captions per image allowed.
#[derive(Debug, Clone, PartialEq)]
pub struct Recall {
    /// `(k, recall)`: the fraction of images (those with at least one caption) with one of their captions
    /// among the top k texts.
    pub image_to_text: Vec<(usize, f64)>,
    /// `(k, recall)`: the fraction of captions whose image is among the top k images.
    pub text_to_image: Vec<(usize, f64)>,
}

/// Recall@k from normalised embeddings; `caption_image[t]` is the image caption `t` describes.
/// Ties rank by index (stable), so the figure is deterministic.
pub fn recall_at_k(images: &Tensor, texts: &Tensor, caption_image: &[usize], ks: &[usize]) -> Result<Recall> {
    let sims: Vec<Vec<f32>> = images.matmul(&texts.t()?)?.to_vec2()?;
    let (n_img, n_txt) = (sims.len(), caption_image.len());
    if sims.first().map_or(0, Vec::len) != n_txt {
        return Err(Error::invalid(
            "captions",
            format!("{n_txt} image indices for {} text embeddings", texts.dims()[0]),
        ));
    }
    if let Some(bad) = caption_image.iter().find(|&&i| i >= n_img) {
        return Err(Error::invalid("captions", format!("image index {bad} with only {n_img} images")));
    }
    let rank = |scores: &mut dyn Iterator<Item = f32>| -> Vec<usize> {
        let s: Vec<f32> = scores.collect();
        let mut order: Vec<usize> = (0..s.len()).collect();
        order.sort_by(|&a, &b| s[b].total_cmp(&s[a]).then(a.cmp(&b)));
        order
    };
    // Images without a caption cannot be retrieved from text and are left out of image -> text recall.
    let i2t: Vec<usize> = (0..n_img)
        .filter(|i| caption_image.contains(i))
        .map(|i| {
            let order = rank(&mut sims[i].iter().copied());
            order.iter().position(|&t| caption_image[t] == i).unwrap_or(usize::MAX)
        })
        .collect();
    let t2i: Vec<usize> = (0..n_txt)
        .map(|t| {
            let order = rank(&mut sims.iter().map(|row| row[t]));
            order.iter().position(|&i| i == caption_image[t]).unwrap_or(usize::MAX)
        })
        .collect();
    let frac = |ranks: &[usize], k: usize| {
        ranks.iter().filter(|&&r| r < k).count() as f64 / ranks.len().max(1) as f64
    };
    Ok(Recall {
        image_to_text: ks.iter().map(|&k| (k, frac(&i2t, k))).collect(),
        text_to_image: ks.iter().map(|&k| (k, frac(&t2i, k))).collect(),
    })
}
