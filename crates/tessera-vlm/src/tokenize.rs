//! `tokenizer.json` (with the `tokenizers` crate) under each architecture's contract, checked:
//! CLIP truncates to its context keeping the end-of-text token, pads to the longest text of the batch
//! with the tokenizer's pad token, and must end every sequence with the id it pools at; SigLIP pads
//! every text to its fixed length (64) with its pad id and pools at the last position.

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use serde_json::Value;
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use crate::config::{Arch, ModelConfig};
use crate::error::{Error, Result};
use crate::json::{parse_object, read_bounded};

/// The largest `tokenizer.json` read (SigLIP 2's 256k-token Gemma vocabulary is about 35 MB).
const MAX_TOKENIZER_BYTES: u64 = 512 << 20;

/// How a batch is padded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// To the longest sequence of the batch (CLIP).
    Longest,
    /// Every sequence to this length (SigLIP: `padding="max_length"`).
    Fixed(usize),
}

/// Token ids of a batch, padded, and the mask of real tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// `(batch, seq)` ids.
    pub input_ids: Vec<Vec<u32>>,
    /// `(batch, seq)`: 1 for real tokens, 0 for padding.
    pub attention_mask: Vec<Vec<u32>>,
}

impl Encoded {
    /// `(input_ids, attention_mask)` as `(batch, seq)` u32 tensors.
    pub fn to_tensors(&self, device: &Device) -> Result<(Tensor, Tensor)> {
        let b = self.input_ids.len();
        let l = self.input_ids.first().map_or(0, Vec::len);
        let ids = Tensor::from_vec(self.input_ids.concat(), (b, l), device)?;
        let mask = Tensor::from_vec(self.attention_mask.concat(), (b, l), device)?;
        Ok((ids, mask))
    }
}

/// A tokenizer bound to its model's contract.
pub struct TextTokenizer {
    inner: Tokenizer,
    path: PathBuf,
    arch: Arch,
    max_length: usize,
    pad_id: u32,
    padding: Padding,
    /// CLIP: the id every sequence must end its content with (the token pooled at).
    eos_id: Option<u32>,
    /// The files as read, written back unchanged by `save_pretrained`.
    source: Vec<u8>,
    source_config: Option<Vec<u8>>,
}

impl std::fmt::Debug for TextTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextTokenizer")
            .field("path", &self.path)
            .field("arch", &self.arch)
            .field("max_length", &self.max_length)
            .field("pad_id", &self.pad_id)
            .field("padding", &self.padding)
            .finish()
    }
}

impl TextTokenizer {
    /// Loads `tokenizer.json` (and `tokenizer_config.json` when present) from a model folder.
    pub fn from_dir(dir: &Path, config: &ModelConfig) -> Result<TextTokenizer> {
        let path = dir.join("tokenizer.json");
        let bytes = read_bounded(&path, MAX_TOKENIZER_BYTES)?;
        let extra_path = dir.join("tokenizer_config.json");
        let source_config = if extra_path.is_file() {
            Some(read_bounded(&extra_path, crate::json::MAX_CONFIG_BYTES)?)
        } else {
            None
        };
        TextTokenizer::from_bytes(&path, bytes, source_config, config)
    }

    /// Builds the tokenizer from the bytes of `tokenizer.json` and `tokenizer_config.json` (`path` names
    /// the first in errors; the second is looked for beside it).
    pub fn from_bytes(
        path: &Path,
        bytes: Vec<u8>,
        source_config: Option<Vec<u8>>,
        config: &ModelConfig,
    ) -> Result<TextTokenizer> {
        let path = path.to_path_buf();
        let extra_path = path.with_file_name("tokenizer_config.json");
        let mut inner = Tokenizer::from_bytes(&bytes)
            .map_err(|e| Error::Tokenizer { path: path.clone(), detail: e.to_string() })?;
        let extra = source_config.as_deref().map(|b| parse_object(&extra_path, b)).transpose()?;
        let token_of = |v: Option<&Value>| -> Option<String> {
            match v? {
                Value::String(s) => Some(s.clone()),
                Value::Object(m) => m.get("content").and_then(Value::as_str).map(str::to_string),
                _ => None,
            }
        };
        let max_positions = config.text.max_positions;
        // transformers writes a huge sentinel when no length is set; the model's positions bound it anyway.
        let model_max = extra
            .as_ref()
            .and_then(|m| m.get("model_max_length"))
            .and_then(Value::as_f64)
            .filter(|x| *x >= 1.0)
            .map_or(max_positions, |x| (x.min(max_positions as f64)) as usize);
        let id_of = |token: &str| inner.token_to_id(token);
        let pad_token = extra.as_ref().and_then(|m| token_of(m.get("pad_token")));
        let pad_id = match (pad_token.as_deref().and_then(id_of), config.text.pad_token_id) {
            (Some(id), _) => id,
            (None, Some(id)) => id as u32,
            (None, None) => {
                return Err(Error::Tokenizer {
                    path: path.clone(),
                    detail:
                        "no pad token: tokenizer_config.json names none and config.json has no pad_token_id"
                            .into(),
                });
            }
        };
        let vocab = config.text.vocab_size;
        if pad_id as usize >= vocab {
            return Err(Error::Tokenizer {
                path,
                detail: format!("pad id {pad_id} is not below vocab_size {vocab}"),
            });
        }
        let (padding, eos_id) = match config.arch {
            Arch::Clip => {
                // The legacy `eos_token_id: 2` pools at the largest id; otherwise at the configured eos.
                let eos = match config.text.eos_token_id {
                    Some(2) | None => {
                        extra.as_ref().and_then(|m| token_of(m.get("eos_token"))).and_then(|t| id_of(&t))
                    }
                    Some(e) => Some(e as u32),
                };
                (Padding::Longest, eos)
            }
            Arch::Siglip => (Padding::Fixed(model_max), None),
        };
        inner
            .with_truncation(Some(TruncationParams {
                max_length: model_max,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                direction: TruncationDirection::Right,
            }))
            .map_err(|e| Error::Tokenizer { path: path.clone(), detail: e.to_string() })?;
        inner.with_padding(None);
        Ok(TextTokenizer {
            inner,
            path,
            arch: config.arch,
            max_length: model_max,
            pad_id,
            padding,
            eos_id,
            source: bytes,
            source_config,
        })
    }

    /// Writes `tokenizer.json` (and `tokenizer_config.json` when the source had one) into `dir`, as read.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let write = |name: &str, bytes: &[u8]| -> Result<()> {
            tessera_tensor::write_atomic(dir.join(name), |w| w.write_all(bytes))?;
            Ok(())
        };
        write("tokenizer.json", &self.source)?;
        if let Some(c) = &self.source_config {
            write("tokenizer_config.json", c)?;
        }
        Ok(())
    }

    /// The longest sequence the model takes.
    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// The id padding uses.
    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }

    /// The padding rule.
    pub fn padding(&self) -> Padding {
        self.padding
    }

    /// Whether the model reads an attention mask (CLIP does; SigLIP attends to its padding, as trained).
    pub fn uses_attention_mask(&self) -> bool {
        self.arch == Arch::Clip
    }

    /// Tokenises a batch under the contract.
    pub fn encode_batch(&self, texts: &[&str]) -> Result<Encoded> {
        if texts.is_empty() {
            return Err(Error::invalid("texts", "at least one text is needed"));
        }
        let mut rows = Vec::with_capacity(texts.len());
        for (i, text) in texts.iter().enumerate() {
            let enc = self.inner.encode(*text, true).map_err(|e| Error::Tokenizer {
                path: self.path.clone(),
                detail: format!("text {i}: {e}"),
            })?;
            let ids = enc.get_ids().to_vec();
            if let Some(eos) = self.eos_id
                && ids.last() != Some(&eos)
            {
                return Err(Error::Tokenizer {
                    path: self.path.clone(),
                    detail: format!(
                        "text {i} does not end with the end-of-text id {eos} the model pools at (found {:?}): \
                         the tokenizer's post-processor must add it",
                        ids.last()
                    ),
                });
            }
            rows.push(ids);
        }
        let len = match self.padding {
            Padding::Longest => rows.iter().map(Vec::len).max().unwrap_or(0),
            Padding::Fixed(n) => n,
        };
        let mut input_ids = Vec::with_capacity(rows.len());
        let mut attention_mask = Vec::with_capacity(rows.len());
        for ids in rows {
            let n = ids.len().min(len);
            let mut mask = vec![1u32; n];
            mask.resize(len, 0);
            let mut padded = ids;
            padded.truncate(len);
            padded.resize(len, self.pad_id);
            input_ids.push(padded);
            attention_mask.push(mask);
        }
        Ok(Encoded { input_ids, attention_mask })
    }
}
