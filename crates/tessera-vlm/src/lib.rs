//! CLIP and SigLIP from Hugging Face model folders, with transformers-exact tokenisation, Pillow-exact
//! image preprocessing, embeddings, zero-shot classification and retrieval.
//!
//! A folder holds `config.json`, `model.safetensors` (or shards with an index), `tokenizer.json` and
//! `preprocessor_config.json`; everything is read from those files, nothing is hard-coded.

mod config;
mod error;
pub mod image;
mod json;
mod model;
mod pipeline;
mod tokenize;
mod weights;

pub use config::{Arch, EncoderConfig, ModelConfig, TextConfig, VisionConfig};
pub use error::{Error, Result};
pub use model::{LoadOptions, TowerOutput, VlmModel, l2_normalize};
pub use pipeline::{Recall, Vlm, ZeroShot, recall_at_k};
pub use tokenize::{Encoded, Padding, TextTokenizer};
pub use weights::Checkpoint;
