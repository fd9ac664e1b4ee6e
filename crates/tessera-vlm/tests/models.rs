//! The models against transformers: embeddings, logits and hidden states from the fixtures' stored
//! `pixel_values` and `input_ids` (scripts/vlm_parity.py), within 1e-4 in f32.

#![allow(clippy::unwrap_used)] // Tests assert by unwrapping.

use std::path::PathBuf;

use candle_core::{DType, Device, Tensor};
use tessera_autograd::{Var, inference_mode};
use tessera_tensor::SafetensorsFile;
use tessera_vlm::{LoadOptions, VlmModel};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn expected(name: &str) -> SafetensorsFile {
    SafetensorsFile::open(fixtures().join(format!("{name}.expected.safetensors"))).expect("fixture")
}

fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    let a = a.to_dtype(DType::F32).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let b = b.to_dtype(DType::F32).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

fn check(name: &str) {
    let exp = expected(name);
    let dev = Device::Cpu;
    let model =
        VlmModel::load(&fixtures().join(name), &LoadOptions { strict: true, ..LoadOptions::default() })
            .expect("load");
    let ids = exp.load("input_ids", &dev).unwrap();
    let mask = if exp.names().iter().any(|n| n == "attention_mask") {
        Some(exp.load("attention_mask", &dev).unwrap())
    } else {
        None
    };
    let pixels = exp.load("pixel_values", &dev).unwrap();
    let image = model.image_embeds(&pixels).unwrap();
    let text = model.text_embeds(&ids, mask.as_ref()).unwrap();
    let logits = model.logits_per_image(&image, &text).unwrap();
    let tol = 1e-4;
    for (what, ours) in [("image_embeds", &image), ("text_embeds", &text), ("logits_per_image", &logits)] {
        let d = max_diff(ours, &exp.load(what, &dev).unwrap());
        assert!(
            d <= tol * if what == "logits_per_image" { 10.0 } else { 1.0 },
            "{name} {what}: max diff {d}"
        );
    }
    let _g = inference_mode();
    let v = model.vision_forward(&Var::constant(pixels.clone())).unwrap();
    let d = max_diff(&v.last_hidden_state.tensor(), &exp.load("vision_last_hidden_state", &dev).unwrap());
    assert!(d <= tol, "{name} vision_last_hidden_state: {d}");
    // transformers 5 reports the projected features as the towers' pooler output.
    let t = model.text_features_var(&ids, mask.as_ref()).unwrap();
    let d = max_diff(&t.tensor(), &exp.load("text_pooler_output", &dev).unwrap());
    assert!(d <= tol, "{name} text features: {d}");
    let i = model.image_features_var(&Var::constant(pixels.clone())).unwrap();
    let d = max_diff(&i.tensor(), &exp.load("vision_pooler_output", &dev).unwrap());
    assert!(d <= tol, "{name} image features: {d}");
    let t = model.text_forward(&ids, mask.as_ref()).unwrap();
    let d = max_diff(&t.last_hidden_state.tensor(), &exp.load("text_last_hidden_state", &dev).unwrap());
    assert!(d <= tol, "{name} text_last_hidden_state: {d}");
}

#[test]
fn clip_a_matches_transformers() {
    check("clip_a");
}

#[test]
fn clip_b_f16_checkpoint_matches_transformers() {
    check("clip_b");
}

#[test]
fn siglip_a_matches_transformers() {
    check("siglip_a");
}

#[test]
fn siglip_b_bf16_checkpoint_matches_transformers() {
    check("siglip_b");
}

/// transformers' default configurations (CLIP ViT-B/32, SigLIP B/16 at 224) build from an empty
/// `config.json` with random weights and run one image and one text end to end.
#[test]
fn full_size_default_configs_run_with_random_weights() {
    for (model_type, patch, dim) in [("clip", 32, 512), ("siglip", 16, 768)] {
        let map = serde_json::json!({ "model_type": model_type });
        let config =
            tessera_vlm::ModelConfig::from_map(std::path::Path::new("config.json"), map.as_object().unwrap())
                .unwrap();
        assert_eq!(config.vision.patch_size, patch);
        let model = VlmModel::init(config, 0, DType::F32, &Device::Cpu).unwrap();
        let pixels = Tensor::zeros((1, 3, 224, 224), DType::F32, &Device::Cpu).unwrap();
        let image = model.image_embeds(&pixels).unwrap();
        assert_eq!(image.dims(), [1, dim]);
        let len = if model_type == "clip" { 5 } else { 64 };
        let mut ids = vec![1u32; len];
        ids[len - 1] = if model_type == "clip" { 49407 } else { 1 };
        let ids = Tensor::new(ids, &Device::Cpu).unwrap().reshape((1, len)).unwrap();
        let text = model.text_embeds(&ids, None).unwrap();
        assert_eq!(text.dims(), [1, dim]);
    }
}
