//! A real checkpoint folder (for example `openai/clip-vit-base-patch32` or `google/siglip-base-patch16-224`
//! downloaded from the Hub) when `TESSERA_REAL_WEIGHTS` points to one; skipped otherwise (CI has no
//! network). It must load strictly (every tensor used), embed to unit vectors, and label the test photos
//! as a trained model does: the cat as a cat, the horse as a horse, the rocket as a rocket.

#![allow(clippy::unwrap_used)] // Tests assert by unwrapping.

use std::path::{Path, PathBuf};

use tessera_vlm::image::RgbImage;
use tessera_vlm::{LoadOptions, Vlm};

#[test]
fn a_real_checkpoint_labels_the_photos() {
    let Some(dir) = std::env::var_os("TESSERA_REAL_WEIGHTS") else {
        eprintln!("TESSERA_REAL_WEIGHTS is not set: skipped");
        return;
    };
    let vlm = Vlm::load(Path::new(&dir), &LoadOptions { strict: true, ..LoadOptions::default() }).unwrap();
    let images = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/images");
    let photos: Vec<RgbImage> = ["chelsea.png", "horse.png", "rocket.jpg"]
        .iter()
        .map(|f| RgbImage::open(&images.join(f)).unwrap())
        .collect();
    let labels = ["cat", "horse", "rocket", "dog", "car"];
    let z = vlm.zero_shot(&photos, &labels, &["a photo of a {}.", "a picture of a {}."], 8).unwrap();
    for (i, row) in z.probs.iter().enumerate() {
        let best = row.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
        assert_eq!(labels[best], labels[i], "photo {i}: probabilities {row:?}");
    }
    let e = vlm.embed_images(&photos, 8).unwrap();
    let norms = e
        .sqr()
        .unwrap()
        .sum_keepdim(1)
        .unwrap()
        .sqrt()
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    assert!(norms.iter().all(|n| (n - 1.0).abs() < 1e-5), "{norms:?}");
}
