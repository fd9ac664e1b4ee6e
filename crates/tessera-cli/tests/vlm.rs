//! `tessera vlm ...` against the vlm crate's transformers fixtures: the exact JSON shapes, values within
//! the model tolerance, clear errors.

#![allow(clippy::unwrap_used)] // Tests assert by unwrapping.

use std::path::PathBuf;
use std::process::Command;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tessera-vlm/tests/fixtures")
}

fn tessera(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tessera")).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn expected(name: &str, tensor: &str) -> Vec<Vec<f32>> {
    let f = tessera_tensor::SafetensorsFile::open(fixtures().join(format!("{name}.expected.safetensors")))
        .unwrap();
    f.load(tensor, &tessera_tensor::Device::Cpu).unwrap().to_vec2().unwrap()
}

#[test]
fn embed_prints_transformers_embeddings_in_input_order() {
    let model = fixtures().join("siglip_a");
    let img = |f: &str| fixtures().join("images").join(f).to_string_lossy().into_owned();
    let (h, c) = (img("horse.png"), img("chelsea.png"));
    let (ok, out, err) = tessera(&[
        "vlm",
        "embed",
        "--model",
        model.to_str().unwrap(),
        "--image",
        &h,
        "--image",
        &c,
        "--text",
        "a photo of a cat",
        "--text",
        "",
        "--batch-size",
        "1",
        "--json",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let images: Vec<Vec<f32>> = serde_json::from_value(v["image_embeds"].clone()).unwrap();
    let texts: Vec<Vec<f32>> = serde_json::from_value(v["text_embeds"].clone()).unwrap();
    let exp_img = expected("siglip_a", "image_embeds");
    let exp_txt = expected("siglip_a", "text_embeds");
    // The fixture's order: chelsea, horse, ...; texts: "a photo of a cat", "A PHOTO...", "", ...
    let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-4);
    assert!(close(&images[0], &exp_img[1]) && close(&images[1], &exp_img[0]));
    assert!(close(&texts[0], &exp_txt[0]) && close(&texts[1], &exp_txt[2]));
}

#[test]
fn tokenize_and_zero_shot_have_the_documented_shapes() {
    let model = fixtures().join("clip_b");
    let (ok, out, err) = tessera(&[
        "vlm",
        "tokenize",
        "--model",
        model.to_str().unwrap(),
        "--text",
        "a cat",
        "hello there world",
        "--json",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let ids: Vec<Vec<u32>> = serde_json::from_value(v["input_ids"].clone()).unwrap();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0].len(), ids[1].len(), "padded to the longest");
    let siglip = fixtures().join("siglip_b");
    let (ok, out, _) =
        tessera(&["vlm", "tokenize", "--model", siglip.to_str().unwrap(), "--text", "a cat", "--json"]);
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["input_ids"][0].as_array().unwrap().len(), 64);

    let img = fixtures().join("images/chelsea.png");
    let (ok, out, err) = tessera(&[
        "vlm",
        "zero-shot",
        "--model",
        model.to_str().unwrap(),
        "--image",
        img.to_str().unwrap(),
        "--labels",
        "cat, dog ,rocket",
        "--template",
        "a photo of a {}",
        "--template",
        "a {}",
        "--json",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["labels"], serde_json::json!(["cat", "dog", "rocket"]));
    let probs: Vec<Vec<f32>> = serde_json::from_value(v["probs"].clone()).unwrap();
    assert_eq!(probs.len(), 1);
    assert!((probs[0].iter().sum::<f32>() - 1.0).abs() < 1e-5);
}

#[test]
fn preprocess_writes_pixel_values_and_retrieve_reports_recall() {
    let dir = tempfile::tempdir().unwrap();
    let model = fixtures().join("clip_a");
    let out = dir.path().join("pixels.safetensors");
    let imgs: Vec<String> = ["chelsea.png", "horse.png", "camera.png", "portrait.png"]
        .iter()
        .map(|f| fixtures().join("images").join(f).to_string_lossy().into_owned())
        .collect();
    let mut args = vec![
        "vlm",
        "preprocess",
        "--model",
        model.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--image",
    ];
    args.extend(imgs.iter().map(String::as_str));
    let (ok, _, err) = tessera(&args);
    assert!(ok, "{err}");
    let f = tessera_tensor::SafetensorsFile::open(&out).unwrap();
    let ours = f.load("pixel_values", &tessera_tensor::Device::Cpu).unwrap();
    let exp = tessera_tensor::SafetensorsFile::open(fixtures().join("clip_a.expected.safetensors")).unwrap();
    let theirs = exp.load("pixel_values", &tessera_tensor::Device::Cpu).unwrap().narrow(0, 0, 4).unwrap();
    let diff = (ours - theirs).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
    assert!(diff <= 1e-6, "{diff}");
    // The output is never written over an input.
    let (ok, _, err) = tessera(&[
        "vlm",
        "preprocess",
        "--model",
        model.to_str().unwrap(),
        "--out",
        &imgs[0],
        "--image",
        &imgs[0],
    ]);
    assert!(!ok && err.contains("error"), "{err}");

    let list = dir.path().join("images.txt");
    std::fs::write(&list, imgs.join("\n")).unwrap();
    let caps = dir.path().join("captions.tsv");
    std::fs::write(&caps, format!("{}\ta cat\n1\ta horse\n1\ta brown horse\n3\tan astronaut\n", imgs[0]))
        .unwrap();
    let (ok, out, err) = tessera(&[
        "vlm",
        "retrieve",
        "--model",
        model.to_str().unwrap(),
        "--images",
        list.to_str().unwrap(),
        "--captions",
        caps.to_str().unwrap(),
        "--json",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["images"], 4);
    assert_eq!(v["captions"], 4);
    for way in ["image_to_text", "text_to_image"] {
        for k in ["R@1", "R@5", "R@10"] {
            let r = v[way][k].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&r));
        }
        assert_eq!(v[way]["R@10"], 1.0);
    }
    std::fs::write(&caps, "7\tno such image\n").unwrap();
    let (ok, _, err) = tessera(&[
        "vlm",
        "retrieve",
        "--model",
        model.to_str().unwrap(),
        "--images",
        list.to_str().unwrap(),
        "--captions",
        caps.to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("captions.tsv:1"), "{err}");
    // An oversized captions file is refused before it is read (a sparse file: no disk used).
    std::fs::File::create(&caps).unwrap().set_len(65 << 20).unwrap();
    let (ok, _, err) = tessera(&[
        "vlm",
        "retrieve",
        "--model",
        model.to_str().unwrap(),
        "--images",
        list.to_str().unwrap(),
        "--captions",
        caps.to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("at most"), "{err}");
}

#[test]
fn bad_model_folders_and_bf16_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = tessera(&["vlm", "embed", "--model", dir.path().to_str().unwrap(), "--text", "x"]);
    assert!(!ok && err.contains("config.json"), "{err}");
    let model = fixtures().join("clip_a");
    let (ok, _, err) =
        tessera(&["vlm", "embed", "--model", model.to_str().unwrap(), "--text", "x", "--dtype", "bf16"]);
    assert!(!ok && err.contains("bf16"), "{err}");
}

#[test]
fn bench_prints_throughput_for_either_tower() {
    let model = fixtures().join("siglip_a");
    for (tower, key) in [("image", "images_per_s"), ("text", "texts_per_s")] {
        let (ok, out, err) = tessera(&[
            "vlm",
            "bench",
            "--model",
            model.to_str().unwrap(),
            "--batch-size",
            "2",
            "--tower",
            tower,
            "--runs",
            "1",
            "--json",
        ]);
        assert!(ok, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert!(v[key].as_f64().unwrap() > 0.0, "{out}");
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.json"), r#"{"model_type": "clip", "text_config": {"hidden_size": 64, "num_attention_heads": 2, "num_hidden_layers": 1, "intermediate_size": 64, "vocab_size": 100, "eos_token_id": 99}, "vision_config": {"hidden_size": 64, "num_attention_heads": 2, "num_hidden_layers": 1, "intermediate_size": 64, "image_size": 32, "patch_size": 16}, "projection_dim": 16}"#).unwrap();
    let (ok, out, err) = tessera(&[
        "vlm",
        "bench",
        "--model",
        dir.path().to_str().unwrap(),
        "--random-weights",
        "--batch-size",
        "1",
        "--runs",
        "1",
        "--json",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("images_per_s"));
    // A huge batch is refused before anything is allocated; the processor needs photos.
    let m = dir.path().to_str().unwrap();
    let (ok, _, err) =
        tessera(&["vlm", "bench", "--model", m, "--random-weights", "--batch-size", "100000000"]);
    assert!(!ok && err.contains("--batch-size must be 1..=4096"), "{err}");
    let (ok, _, err) = tessera(&["vlm", "bench", "--model", m, "--tower", "preprocess"]);
    assert!(!ok && err.contains("needs at least one --image"), "{err}");
}

#[test]
fn train_saves_a_folder_the_other_commands_load() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("digits");
    let o = out.to_str().unwrap();
    let small = ["--epochs", "1", "--width", "16", "--layers", "1", "--batch-size", "64"];
    let mut args = vec!["vlm", "train", "--arch", "siglip", "--out", o, "--json"];
    args.extend(small);
    let (ok, stdout, err) = tessera(&args);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["arch"], "siglip");
    assert_eq!(v["test_images"], 360);
    assert_eq!(v["train_images"], 1437);
    assert_eq!(v["epoch_losses"].as_array().unwrap().len(), 1);
    let acc = v["zero_shot_accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&acc));
    for file in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "preprocessor_config.json",
    ] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    let img = fixtures().join("images/chelsea.png");
    let (ok, stdout, err) = tessera(&[
        "vlm",
        "zero-shot",
        "--model",
        o,
        "--image",
        img.to_str().unwrap(),
        "--labels",
        "seven,three",
        "--template",
        "a drawing of the digit {}",
        "--json",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["probs"].as_array().unwrap()[0].as_array().unwrap().len(), 2);
    let (ok, stdout, err) = tessera(&["vlm", "tokenize", "--model", o, "--text", "the number 7", "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    // SigLIP pads to the model's 10 positions; the text ends with </s> (id 1), then <pad> (id 0).
    let ids: Vec<u64> = v["input_ids"][0].as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect();
    assert_eq!(ids.len(), 10);
    assert_eq!(&ids[3..5], &[1, 0]);

    // Bad arguments are refused before training, naming the argument; a file is never replaced by a folder.
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "keep me").unwrap();
    let (ok, _, err) = tessera(&["vlm", "train", "--arch", "clip", "--out", file.to_str().unwrap()]);
    assert!(!ok && err.contains("not a folder"), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
    let (ok, _, err) = tessera(&["vlm", "train", "--arch", "clip", "--out", o, "--accumulation", "3"]);
    assert!(!ok && err.contains("accumulation"), "{err}");
}
