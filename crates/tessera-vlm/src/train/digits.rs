//! The digits training set: scikit-learn's 1,797 handwritten 8x8 digits as RGB images, each paired with
//! generated captions ("a photo of the digit seven" and paraphrases), and a word-level tokenizer built
//! from the caption vocabulary, saved as a Hugging Face `tokenizer.json`.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use tokenizers::models::wordlevel::WordLevel;
use tokenizers::normalizers::utils::Lowercase;
use tokenizers::pre_tokenizers::whitespace::Whitespace;
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{AddedToken, Tokenizer};

use crate::config::Arch;
use crate::error::{Error, Result};
use crate::image::RgbImage;

/// The class names, index = digit.
pub const DIGIT_NAMES: [&str; 10] =
    ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];

/// The caption templates used in training; `{}` is the digit's name (or its numeral, see [`caption`]).
pub const TRAIN_TEMPLATES: [&str; 8] = [
    "a photo of the digit {}",
    "a handwritten {}",
    "the number {}",
    "a picture of a {}",
    "an image of the number {}",
    "a scan of a handwritten digit {}",
    "a small drawing of a {}",
    "{}",
];

/// The zero-shot template held out of training: every word occurs in training captions, but never in
/// this order.
pub const HELD_OUT_TEMPLATE: &str = "a drawing of the digit {}";

/// The text length of the digits models: the longest caption (7 words) with its special tokens, and room
/// for one more word. SigLIP pads every text to it.
pub const MAX_TEXT_LENGTH: usize = 10;

/// Caption `k` of the `2 * TRAIN_TEMPLATES.len()` captions for `digit`: each template with the digit's
/// name, then each with its numeral ("the number 7").
pub fn caption(digit: usize, k: usize) -> String {
    let n = TRAIN_TEMPLATES.len();
    let template = TRAIN_TEMPLATES[k % n];
    let label = if (k / n).is_multiple_of(2) {
        DIGIT_NAMES[digit % 10].to_string()
    } else {
        (digit % 10).to_string()
    };
    template.replace("{}", &label)
}

/// How many distinct captions [`caption`] makes per digit.
pub const CAPTIONS_PER_DIGIT: usize = 2 * TRAIN_TEMPLATES.len();

/// The digits as `(image, label)`: 8x8 gray images (scikit-learn's 0-16 intensities scaled to 0-255)
/// replicated to RGB.
pub fn digit_images() -> Result<(Vec<RgbImage>, Vec<usize>)> {
    let data = tessera_datasets::load_digits();
    let features = data.features();
    let targets = data.targets();
    let mut images = Vec::with_capacity(data.n_samples());
    let mut labels = Vec::with_capacity(data.n_samples());
    for (row, &t) in features.rows().into_iter().zip(targets.iter()) {
        let mut rgb = Vec::with_capacity(row.len() * 3);
        for &v in row {
            let g = (v.clamp(0.0, 16.0) * 255.0 / 16.0).round() as u8;
            rgb.extend([g, g, g]);
        }
        images.push(RgbImage::new(8, 8, rgb)?);
        labels.push(t as usize);
    }
    Ok((images, labels))
}

/// The special tokens of each architecture's word-level tokenizer, in id order from 0:
/// CLIP `<|startoftext|>`, `<|endoftext|>` (also the pad token, as OpenAI's), `<unk>`;
/// SigLIP `<pad>`, `</s>`, `<unk>`.
fn specials(arch: Arch) -> [&'static str; 3] {
    match arch {
        Arch::Clip => ["<|startoftext|>", "<|endoftext|>", "<unk>"],
        Arch::Siglip => ["<pad>", "</s>", "<unk>"],
    }
}

/// `(bos, eos, pad)` ids of each architecture's tokenizer (positions in [`specials`]): CLIP begins with
/// `<|startoftext|>` (0) and pads with `<|endoftext|>` (1); SigLIP has no bos, ends with `</s>` (1) and pads
/// with `<pad>` (0).
pub(crate) fn special_ids(arch: Arch) -> (Option<u32>, u32, u32) {
    match arch {
        Arch::Clip => (Some(0), 1, 1),
        Arch::Siglip => (None, 1, 0),
    }
}

/// Every word of every training caption and zero-shot prompt, sorted.
fn words() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut add = |text: &str| {
        for w in text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
            out.insert(w.to_lowercase());
        }
    };
    for d in 0..10 {
        for k in 0..CAPTIONS_PER_DIGIT {
            add(&caption(d, k));
        }
    }
    add(HELD_OUT_TEMPLATE);
    out
}

/// A word-level tokenizer over the captions' vocabulary (lower-cased, split on whitespace and
/// punctuation; unknown words map to `<unk>`), wrapped as each architecture expects: CLIP
/// `<|startoftext|> ... <|endoftext|>`, SigLIP `... </s>`. Returns `(tokenizer.json, tokenizer_config.json,
/// vocabulary size)`.
pub fn build_tokenizer(arch: Arch, max_length: usize) -> Result<(Vec<u8>, Vec<u8>, usize)> {
    let err = |e: tokenizers::Error| Error::invalid("digits tokenizer", e.to_string());
    let sp = specials(arch);
    let mut vocab = special_vocab(&sp);
    for w in words() {
        let id = vocab.len() as u32;
        vocab.entry(w).or_insert(id);
    }
    let size = vocab.len();
    let model = WordLevel::builder()
        .vocab(vocab.into_iter().collect())
        .unk_token(sp[2].to_string())
        .build()
        .map_err(err)?;
    let mut tok = Tokenizer::new(model);
    tok.with_normalizer(Some(Lowercase));
    tok.with_pre_tokenizer(Some(Whitespace {}));
    let (bos, eos, pad) = special_ids(arch);
    let name = |id: u32| sp[id as usize];
    let (single, pair) = match bos {
        Some(b) => (
            format!("{} $A {}", name(b), name(eos)),
            format!("{} $A {} $B {}", name(b), name(eos), name(eos)),
        ),
        None => (format!("$A {}", name(eos)), format!("$A {} $B {}", name(eos), name(eos))),
    };
    let mut used = vec![(name(eos), eos)];
    used.extend(bos.map(|b| (name(b), b)));
    let post = TemplateProcessing::builder()
        .try_single(single.as_str())
        .and_then(|b| b.try_pair(pair.as_str()))
        .map_err(|e| Error::invalid("digits tokenizer", e))?
        .special_tokens(used)
        .build()
        .map_err(|e| Error::invalid("digits tokenizer", e.to_string()))?;
    tok.with_post_processor(Some(post));
    let added: Vec<AddedToken> = sp.iter().map(|s| AddedToken::from(s.to_string(), true)).collect();
    tok.add_special_tokens(&added);
    let json = tok.to_string(true).map_err(err)?;
    let mut config = json!({
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": max_length,
        "eos_token": name(eos),
        "pad_token": name(pad),
        "unk_token": sp[2],
    });
    if let (Some(b), Some(m)) = (bos, config.as_object_mut()) {
        m.insert("bos_token".into(), Value::from(name(b)));
    }
    let config =
        serde_json::to_vec_pretty(&config).map_err(|e| Error::invalid("digits tokenizer", e.to_string()))?;
    Ok((json.into_bytes(), config, size))
}

fn special_vocab(specials: &[&str; 3]) -> std::collections::HashMap<String, u32> {
    specials.iter().enumerate().map(|(i, s)| (s.to_string(), i as u32)).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests assert by unwrapping.
mod tests {
    use super::*;

    #[test]
    fn captions_cover_names_and_numerals() {
        assert_eq!(caption(7, 0), "a photo of the digit seven");
        assert_eq!(caption(7, TRAIN_TEMPLATES.len() + 2), "the number 7");
        assert!(!TRAIN_TEMPLATES.contains(&HELD_OUT_TEMPLATE));
    }

    #[test]
    fn digits_are_rgb_8x8() {
        let (images, labels) = digit_images().unwrap();
        assert_eq!(images.len(), 1797);
        assert_eq!(labels.len(), 1797);
        assert!(images.iter().all(|i| i.width == 8 && i.height == 8));
        assert!(labels.iter().all(|&l| l < 10));
    }
}
