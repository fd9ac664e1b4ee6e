//! The contrastive losses and their gradients against PyTorch (f64, scripts/vlm_parity.py), and the
//! chunked SigLIP loss equal to the dense one for every chunk size and shape (proptest), within 1e-6.

#![allow(clippy::unwrap_used)] // Tests assert by unwrapping.

use std::path::PathBuf;

use candle_core::{DType, Device, Tensor};
use proptest::prelude::*;
use tessera_autograd::Var;
use tessera_tensor::SafetensorsFile;
use tessera_vlm::{clip_loss, siglip_loss, siglip_loss_chunked};

fn fixture() -> SafetensorsFile {
    SafetensorsFile::open(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/losses.safetensors"))
        .unwrap()
}

fn flat(t: &Tensor) -> Vec<f64> {
    t.to_dtype(DType::F64).unwrap().flatten_all().unwrap().to_vec1().unwrap()
}

fn close(a: &[f64], b: &[f64], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    let d = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
    assert!(d <= 1e-6, "{what}: max diff {d}");
}

struct Leaves {
    image: Var,
    text: Var,
    scale: Var,
    bias: Var,
}

fn leaves(image: Tensor, text: Tensor, scale: f64, bias: f64) -> Leaves {
    let dev = Device::Cpu;
    Leaves {
        image: Var::parameter(image),
        text: Var::parameter(text),
        scale: Var::parameter(Tensor::new(scale, &dev).unwrap()),
        bias: Var::parameter(Tensor::new(&[bias], &dev).unwrap()),
    }
}

#[test]
fn losses_and_gradients_match_pytorch() {
    let f = fixture();
    let dev = Device::Cpu;
    for case in ["square", "wide", "one"] {
        for kind in ["clip", "siglip"] {
            let p = format!("{kind}/{case}");
            let get = |n: &str| f.load(&format!("{p}/{n}"), &dev).unwrap();
            let (scale, bias) = if kind == "clip" { (2.6592, 0.0) } else { (10f64.ln(), -10.0) };
            let forms: Vec<usize> = if kind == "clip" { vec![0] } else { vec![0, 1, 2, 5] };
            for chunk in forms {
                let l = leaves(get("image"), get("text"), scale, bias);
                let loss = match (kind, chunk) {
                    ("clip", _) => clip_loss(&l.image, &l.text, &l.scale).unwrap(),
                    (_, 0) => siglip_loss(&l.image, &l.text, &l.scale, &l.bias).unwrap(),
                    (_, c) => siglip_loss_chunked(&l.image, &l.text, &l.scale, &l.bias, c).unwrap(),
                };
                let what = format!("{p} chunk {chunk}");
                close(&[loss.to_scalar_f64().unwrap()], &flat(&get("loss")), &format!("{what} loss"));
                loss.backward().unwrap();
                close(&flat(&l.image.grad().unwrap()), &flat(&get("grad_image")), &format!("{what} d image"));
                close(&flat(&l.text.grad().unwrap()), &flat(&get("grad_text")), &format!("{what} d text"));
                close(&flat(&l.scale.grad().unwrap()), &flat(&get("grad_scale")), &format!("{what} d scale"));
                if kind == "siglip" {
                    close(
                        &flat(&l.bias.grad().unwrap()),
                        &flat(&get("grad_bias")),
                        &format!("{what} d bias"),
                    );
                }
            }
        }
    }
}

fn normalised(rows: usize, dim: usize, seed: u64) -> Tensor {
    let mut rng = tessera_tensor::SeededRng::new(seed);
    let t = rng.normal_tensor(&[rows, dim], 0.0, 1.0, DType::F64, &Device::Cpu).unwrap();
    tessera_vlm::l2_normalize(&t).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn chunked_equals_dense(b in 1usize..12, extra in 0usize..5, d in 1usize..9, chunk in 1usize..14,
                            scale in -1.0f64..4.0, bias in -12.0f64..2.0, seed in 0u64..1000) {
        let image = normalised(b, d, seed);
        let text = normalised(b + extra, d, seed + 1);
        let dense = leaves(image.clone(), text.clone(), scale, bias);
        let chunked = leaves(image, text, scale, bias);
        let a = siglip_loss(&dense.image, &dense.text, &dense.scale, &dense.bias).unwrap();
        let c = siglip_loss_chunked(&chunked.image, &chunked.text, &chunked.scale, &chunked.bias, chunk).unwrap();
        prop_assert!((a.to_scalar_f64().unwrap() - c.to_scalar_f64().unwrap()).abs() <= 1e-9);
        a.backward().unwrap();
        c.backward().unwrap();
        for (x, y) in [(&dense.image, &chunked.image), (&dense.text, &chunked.text), (&dense.scale, &chunked.scale), (&dense.bias, &chunked.bias)] {
            let (gx, gy) = (flat(&x.grad().unwrap()), flat(&y.grad().unwrap()));
            let diff = gx.iter().zip(&gy).map(|(p, q)| (p - q).abs()).fold(0.0, f64::max);
            prop_assert!(diff <= 1e-9, "gradient differs by {}", diff);
        }
    }
}

#[test]
fn loss_arguments_are_checked() {
    let l = leaves(normalised(3, 4, 0), normalised(2, 4, 1), 1.0, 0.0);
    assert!(clip_loss(&l.image, &l.text, &l.scale).is_err());
    assert!(siglip_loss(&l.image, &l.text, &l.scale, &l.bias).is_err());
    let l = leaves(normalised(3, 4, 0), normalised(3, 4, 1), 1.0, 0.0);
    assert!(siglip_loss_chunked(&l.image, &l.text, &l.scale, &l.bias, 0).is_err());
}
