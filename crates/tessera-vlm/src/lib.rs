//! CLIP and SigLIP from Hugging Face model folders, with transformers-exact tokenisation, Pillow-exact
//! image preprocessing, embeddings, zero-shot classification and retrieval.
//!
//! A folder holds `config.json`, `model.safetensors` (or shards with an index), `tokenizer.json` and
//! `preprocessor_config.json`; everything is read from those files, nothing is hard-coded. Parity with
//! transformers is tested on tiny seeded models with every weight perturbed (`scripts/vlm_parity.py`):
//! token ids exactly, pixels bit for bit on PNG, embeddings within 1e-4.
//!
//! ```
//! use std::path::Path;
//! use tessera_vlm::{LoadOptions, Vlm, image::RgbImage};
//!
//! let folder = Path::new("tests/fixtures/clip_b"); // any CLIP or SigLIP folder from the Hub
//! let vlm = Vlm::load(folder, &LoadOptions::default())?;
//! let cat = RgbImage::open(Path::new("tests/fixtures/images/chelsea.png"))?;
//! let images = vlm.embed_images(&[cat.clone()], 16)?; // (1, dim), L2-normalised
//! let texts = vlm.embed_texts(&["a photo of a cat", "a rocket"], 16)?;
//! assert_eq!(images.dims()[1], texts.dims()[1]);
//! let z = vlm.zero_shot(&[cat], &["cat", "dog"], &["a photo of a {}.", "a {}"], 16)?;
//! assert!((z.probs[0].iter().sum::<f32>() - 1.0).abs() < 1e-5); // CLIP: softmax over labels
//! # Ok::<(), tessera_vlm::Error>(())
//! ```

mod config;
mod error;
pub mod image;
mod json;
mod loss;
mod model;
mod pipeline;
mod tokenize;
pub mod train;
mod weights;

pub use config::{Arch, EncoderConfig, ModelConfig, TextConfig, VisionConfig};
pub use error::{Error, Result};
pub use loss::{clip_loss, siglip_loss, siglip_loss_chunked, siglip_loss_ring};
pub use model::{LoadOptions, TowerOutput, VlmModel, l2_normalize};
pub use pipeline::{Recall, Vlm, ZeroShot, recall_at_k};
pub use tokenize::{Encoded, Padding, TextTokenizer};
pub use weights::Checkpoint;
