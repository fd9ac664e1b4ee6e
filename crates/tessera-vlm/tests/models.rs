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
