//! Image preprocessing against Pillow 13 and transformers' PIL backend (scripts/vlm_parity.py):
//! the resize of a noise image to many sizes with every filter, and whole processors on real photos,
//! bit for bit on PNG. JPEG: from PIL's decoded RGB bit for bit; from our own decoder within a stated
//! tolerance (the `image` crate's decoder is not libjpeg-turbo's).

#![allow(clippy::unwrap_used)] // Tests assert by unwrapping.

use std::path::PathBuf;

use candle_core::{DType, Device};
use tessera_tensor::SafetensorsFile;
use tessera_vlm::image::{Filter, ImageProcessor, RgbImage, resize};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn image_of(file: &SafetensorsFile, name: &str) -> RgbImage {
    let t = file.load(name, &Device::Cpu).unwrap();
    let d = t.dims().to_vec();
    let data = t.flatten_all().unwrap().to_vec1::<u8>().unwrap();
    RgbImage::new(d[1], d[0], data).unwrap()
}

fn mismatches(a: &RgbImage, b: &RgbImage) -> (usize, u8) {
    assert_eq!((a.width, a.height), (b.width, b.height), "sizes differ");
    a.data.iter().zip(&b.data).fold((0, 0), |(n, m), (x, y)| {
        let d = x.abs_diff(*y);
        (n + usize::from(d > 0), m.max(d))
    })
}

#[test]
fn resize_matches_pillow_for_every_filter_and_size() {
    let file = SafetensorsFile::open(fixtures().join("resample.safetensors")).unwrap();
    let src = image_of(&file, "src");
    let mut checked = 0;
    for name in file.names() {
        let Some((filter, size)) = name.split_once('_') else { continue };
        let filter = match filter {
            "nearest" => Filter::Nearest,
            "bilinear" => Filter::Bilinear,
            "bicubic" => Filter::Bicubic,
            _ => continue,
        };
        let (w, h) = size.split_once('x').unwrap();
        let (w, h): (usize, usize) = (w.parse().unwrap(), h.parse().unwrap());
        let ours = resize(&src, w, h, filter);
        let (n, max) = mismatches(&ours, &image_of(&file, &name));
        assert_eq!(n, 0, "{name}: {n} values differ (max {max})");
        checked += 1;
    }
    assert_eq!(checked, 42);
}

fn processors() -> serde_json::Map<String, serde_json::Value> {
    let text = std::fs::read_to_string(fixtures().join("preprocess_configs.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn processors_match_transformers_on_real_photos() {
    let file = SafetensorsFile::open(fixtures().join("preprocess.safetensors")).unwrap();
    let jpeg = SafetensorsFile::open(fixtures().join("jpeg_rgb.safetensors")).unwrap();
    let configs = processors();
    let mut checked = 0;
    for name in file.names() {
        let parts: Vec<&str> = name.split('/').collect();
        if parts.len() != 2 {
            continue;
        }
        let cfg = configs[parts[0]].as_object().unwrap();
        let proc = ImageProcessor::from_map(&fixtures().join("preprocess_configs.json"), cfg).unwrap();
        let img = if parts[1].ends_with(".jpg") {
            image_of(&jpeg, parts[1])
        } else {
            RgbImage::open(&fixtures().join("images").join(parts[1])).unwrap()
        };
        let (n, max) = mismatches(&proc.resize_and_crop(&img), &image_of(&file, &name));
        assert_eq!(n, 0, "{name}: {n} values differ (max {max})");
        checked += 1;
    }
    assert!(checked >= 16, "{checked}");
}

#[test]
fn pixel_values_match_bit_for_bit() {
    let file = SafetensorsFile::open(fixtures().join("preprocess.safetensors")).unwrap();
    let configs = processors();
    let proc = ImageProcessor::from_map(&fixtures(), configs["clip80_nearest"].as_object().unwrap()).unwrap();
    let img = RgbImage::open(&fixtures().join("images/chelsea.png")).unwrap();
    let ours = proc.preprocess(&[img], &Device::Cpu).unwrap();
    let theirs = file.load("clip80_nearest/chelsea.png/pixel_values", &Device::Cpu).unwrap();
    assert_eq!(ours.dims()[1..], theirs.dims()[..]);
    let a = ours.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let b = theirs.to_dtype(DType::F32).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
}

/// Our JPEG decoder against libjpeg-turbo's RGB on a real photo: most bytes equal, the rest within a few
/// levels. The stated end-to-end tolerance: at most 4 levels per value and under 20% of values off.
#[test]
fn jpeg_decoding_is_within_the_stated_tolerance() {
    let jpeg = SafetensorsFile::open(fixtures().join("jpeg_rgb.safetensors")).unwrap();
    let theirs = image_of(&jpeg, "rocket.jpg");
    let ours = RgbImage::open(&fixtures().join("images/rocket.jpg")).unwrap();
    let (n, max) = mismatches(&ours, &theirs);
    let frac = n as f64 / ours.data.len() as f64;
    eprintln!("rocket.jpg: {:.2}% of values differ from libjpeg-turbo, max {max}", frac * 100.0);
    assert!(max <= 4 && frac < 0.2, "{frac} {max}");
}

#[test]
fn model_folders_preprocess_as_transformers() {
    for name in ["clip_a", "clip_b", "siglip_a", "siglip_b"] {
        let dir = fixtures().join(name);
        let proc = ImageProcessor::from_file(&dir.join("preprocessor_config.json")).unwrap();
        let exp = SafetensorsFile::open(fixtures().join(format!("{name}.expected.safetensors"))).unwrap();
        let theirs = exp.load("pixel_values", &Device::Cpu).unwrap();
        for (i, file) in ["chelsea.png", "horse.png", "camera.png", "portrait.png"].iter().enumerate() {
            let img = RgbImage::open(&fixtures().join("images").join(file)).unwrap();
            let ours = proc.preprocess(&[img], &Device::Cpu).unwrap().squeeze(0).unwrap();
            let t = theirs.get(i).unwrap();
            let a = ours.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let b = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let max = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
            assert!(max <= 1e-6, "{name} {file}: {max}");
        }
    }
}
