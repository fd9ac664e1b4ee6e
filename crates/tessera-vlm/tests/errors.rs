//! Bad folders end in errors that name the file, the field or tensor, and what was expected.

#![allow(clippy::unwrap_used)] // Tests assert by unwrapping.

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use tessera_vlm::{Error, LoadOptions, ModelConfig, Vlm, VlmModel};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A copy of a fixture folder to break.
fn copy(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixtures().join(name)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    dir
}

fn edit_config(dir: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join("config.json");
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(&path, v.to_string()).unwrap();
}

/// Rewrites the checkpoint with `f` applied to its tensors.
fn edit_weights(dir: &Path, f: impl FnOnce(&mut Vec<(String, Tensor)>)) {
    let path = dir.join("model.safetensors");
    let file = tessera_tensor::SafetensorsFile::open(&path).unwrap();
    let mut tensors: Vec<(String, Tensor)> =
        file.names().into_iter().map(|n| (n.clone(), file.load(&n, &Device::Cpu).unwrap())).collect();
    drop(file);
    f(&mut tensors);
    let refs: Vec<(&str, &Tensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    tessera_tensor::save(&path, &refs).unwrap();
}

#[test]
fn unknown_model_type_is_named() {
    let dir = copy("clip_a");
    edit_config(dir.path(), |v| v["model_type"] = "blip2".into());
    match ModelConfig::from_file(&dir.path().join("config.json")) {
        Err(Error::UnknownModelType { found, supported, .. }) => {
            assert_eq!(found, "blip2");
            assert!(supported.contains(&"siglip".to_string()));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unknown_activation_and_bad_geometry_name_the_field() {
    let dir = copy("siglip_a");
    edit_config(dir.path(), |v| v["vision_config"]["hidden_act"] = "mish".into());
    match ModelConfig::from_file(&dir.path().join("config.json")) {
        Err(Error::UnknownActivation { field, found, .. }) => {
            assert_eq!(field, "vision_config.hidden_act");
            assert_eq!(found, "mish");
        }
        other => panic!("{other:?}"),
    }
    let dir = copy("clip_a");
    edit_config(dir.path(), |v| v["text_config"]["num_attention_heads"] = 5.into());
    match ModelConfig::from_file(&dir.path().join("config.json")) {
        Err(Error::Config { field, .. }) => assert_eq!(field, "text_config.num_attention_heads"),
        other => panic!("{other:?}"),
    }
    let dir = copy("clip_a");
    edit_config(dir.path(), |v| v["vision_config"]["patch_size"] = (-3).into());
    match ModelConfig::from_file(&dir.path().join("config.json")) {
        Err(Error::Config { field, .. }) => assert_eq!(field, "vision_config.patch_size"),
        other => panic!("{other:?}"),
    }
    let dir = copy("siglip_a");
    edit_config(dir.path(), |v| v["text_config"]["projection_size"] = 7.into());
    match ModelConfig::from_file(&dir.path().join("config.json")) {
        Err(Error::Config { field, .. }) => assert_eq!(field, "text_config.projection_size"),
        other => panic!("{other:?}"),
    }
    // A config asking for a trillion parameters is refused before anything is allocated.
    let dir = copy("clip_a");
    edit_config(dir.path(), |v| {
        v["text_config"]["vocab_size"] = 16_000_000.into();
        v["text_config"]["hidden_size"] = 65536.into();
    });
    assert!(matches!(ModelConfig::from_file(&dir.path().join("config.json")), Err(Error::Config { .. })));
}

#[test]
fn missing_and_misshapen_tensors_are_named() {
    let dir = copy("clip_a");
    edit_weights(dir.path(), |t| t.retain(|(n, _)| n != "text_model.encoder.layers.1.mlp.fc2.bias"));
    match VlmModel::load(dir.path(), &LoadOptions::default()) {
        Err(Error::MissingTensor { name, .. }) => {
            assert_eq!(name, "text_model.encoder.layers.1.mlp.fc2.bias")
        }
        other => panic!("{other:?}"),
    }
    let dir = copy("siglip_a");
    edit_weights(dir.path(), |t| {
        for (n, v) in t.iter_mut() {
            if n == "vision_model.head.probe" {
                *v = Tensor::zeros((1, 2, 48), candle_core::DType::F32, &Device::Cpu).unwrap();
            }
        }
    });
    match VlmModel::load(dir.path(), &LoadOptions::default()) {
        Err(Error::ShapeMismatch { name, expected, found, .. }) => {
            assert_eq!(name, "vision_model.head.probe");
            assert_eq!((expected, found), (vec![1, 1, 48], vec![1, 2, 48]));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unused_tensors_are_reported_and_refused_in_strict_mode() {
    let dir = copy("clip_a");
    edit_weights(dir.path(), |t| {
        t.push(("extra.weight".into(), Tensor::zeros(3, candle_core::DType::F32, &Device::Cpu).unwrap()))
    });
    let model = VlmModel::load(dir.path(), &LoadOptions::default()).unwrap();
    assert_eq!(model.unused_tensors(), ["extra.weight"]);
    match VlmModel::load(dir.path(), &LoadOptions { strict: true, ..LoadOptions::default() }) {
        Err(Error::UnusedTensors { names, .. }) => assert_eq!(names, ["extra.weight"]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn sharded_checkpoints_load_and_bad_indexes_are_refused() {
    let dir = copy("siglip_a");
    let path = dir.path().join("model.safetensors");
    let file = tessera_tensor::SafetensorsFile::open(&path).unwrap();
    let names = file.names();
    let (a, b): (Vec<_>, Vec<_>) = names.iter().cloned().partition(|n| n.starts_with("text_model"));
    let mut map = serde_json::Map::new();
    for (shard, list) in [("model-00001-of-00002.safetensors", &a), ("model-00002-of-00002.safetensors", &b)]
    {
        let tensors: Vec<(String, Tensor)> =
            list.iter().map(|n| (n.clone(), file.load(n, &Device::Cpu).unwrap())).collect();
        let refs: Vec<(&str, &Tensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
        tessera_tensor::save(dir.path().join(shard), &refs).unwrap();
        for n in list {
            map.insert(n.clone(), shard.into());
        }
    }
    drop(file);
    std::fs::remove_file(&path).unwrap();
    let index = dir.path().join("model.safetensors.index.json");
    std::fs::write(&index, serde_json::json!({ "metadata": {}, "weight_map": map }).to_string()).unwrap();
    let sharded = Vlm::load(dir.path(), &LoadOptions { strict: true, ..LoadOptions::default() }).unwrap();
    let single = Vlm::load(&fixtures().join("siglip_a"), &LoadOptions::default()).unwrap();
    let e1 = sharded.embed_texts(&["a cat"], 1).unwrap().to_vec2::<f32>().unwrap();
    let e2 = single.embed_texts(&["a cat"], 1).unwrap().to_vec2::<f32>().unwrap();
    assert_eq!(e1, e2);
    // A shard outside the folder is refused by name.
    map.insert("text_model.head.bias".into(), "../elsewhere.safetensors".into());
    std::fs::write(&index, serde_json::json!({ "weight_map": map }).to_string()).unwrap();
    match VlmModel::load(dir.path(), &LoadOptions::default()) {
        Err(Error::Config { field, found, .. }) => {
            assert_eq!(field, "weight_map");
            assert!(found.contains("../elsewhere"), "{found}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_tokenizer_that_drops_end_of_text_breaks_the_clip_contract() {
    let dir = copy("clip_b");
    let path = dir.path().join("tokenizer.json");
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    v["post_processor"] = serde_json::Value::Null;
    std::fs::write(&path, v.to_string()).unwrap();
    let vlm = Vlm::load(dir.path(), &LoadOptions::default()).unwrap();
    match vlm.tokenizer.encode_batch(&["a cat"]) {
        Err(Error::Tokenizer { detail, .. }) => assert!(detail.contains("end-of-text"), "{detail}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_images_and_processor_fields_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.png");
    std::fs::write(&junk, b"\x89PNG\r\n\x1a\n this is not a png").unwrap();
    assert!(matches!(tessera_vlm::image::RgbImage::open(&junk), Err(Error::Image { .. })));
    let cfg = serde_json::json!({ "size": { "shortest_edge": 0 } });
    match tessera_vlm::image::ImageProcessor::from_map(&junk, cfg.as_object().unwrap()) {
        Err(Error::Config { field, .. }) => assert_eq!(field, "size.shortest_edge"),
        other => panic!("{other:?}"),
    }
    let cfg = serde_json::json!({ "size": { "height": 8, "width": 8 }, "resample": 9 });
    match tessera_vlm::image::ImageProcessor::from_map(&junk, cfg.as_object().unwrap()) {
        Err(Error::Config { field, .. }) => assert_eq!(field, "resample"),
        other => panic!("{other:?}"),
    }
}
