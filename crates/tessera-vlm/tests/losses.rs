//! The contrastive losses and their gradients against PyTorch (f64, scripts/vlm_parity.py), and the
//! chunked SigLIP loss equal to the dense one for every chunk size and shape (proptest), within 1e-6; the
//! ring loss over 1-5 in-process ranks equal to the dense loss of the whole batch, and so to PyTorch's.

#![allow(clippy::unwrap_used)] // Tests assert by unwrapping.

use std::path::PathBuf;

use candle_core::{DType, Device, Tensor};
use proptest::prelude::*;
use tessera_autograd::Var;
use tessera_dist::ProcessGroup;
use tessera_tensor::SafetensorsFile;
use tessera_vlm::{clip_loss, siglip_loss, siglip_loss_chunked, siglip_loss_ring};

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

/// The ring loss of `image`/`text` split row-wise over `world` in-process ranks, each rank calling
/// backward on its own loss: `(mean loss, image grads / W, text grads / W, mean d scale, mean d bias)`,
/// which must equal the dense loss of the whole batch and its gradients.
fn ring(
    image: &Tensor,
    text: &Tensor,
    scale: f64,
    bias: f64,
    world: usize,
) -> (f64, Vec<f64>, Vec<f64>, f64, f64) {
    let groups: Vec<_> = ProcessGroup::threads(world).unwrap().into_iter().map(Some).collect();
    let groups = std::sync::Mutex::new(groups);
    ring_on(image, text, scale, bias, world, &|r| groups.lock().unwrap()[r].take().unwrap())
}

/// [`ring`] with each rank's group made on its own thread by `group` (TCP groups rendezvous there).
fn ring_on(
    image: &Tensor,
    text: &Tensor,
    scale: f64,
    bias: f64,
    world: usize,
    group: &(dyn Fn(usize) -> ProcessGroup + Sync),
) -> (f64, Vec<f64>, Vec<f64>, f64, f64) {
    let b = image.dims()[0] / world;
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..world)
            .map(|r| {
                let (i, t) = (image.narrow(0, r * b, b).unwrap(), text.narrow(0, r * b, b).unwrap());
                s.spawn(move || {
                    let g = group(r);
                    let l = leaves(i, t, scale, bias);
                    let loss = siglip_loss_ring(&l.image, &l.text, &l.scale, &l.bias, &g).unwrap();
                    loss.backward().unwrap();
                    let g = |v: &Var| flat(&v.grad().unwrap());
                    (loss.to_scalar_f64().unwrap(), g(&l.image), g(&l.text), g(&l.scale)[0], g(&l.bias)[0])
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let w = world as f64;
    let mut out = (0.0, Vec::new(), Vec::new(), 0.0, 0.0);
    for (loss, gi, gt, gs, gb) in results {
        out.0 += loss / w;
        out.1.extend(gi.iter().map(|x| x / w));
        out.2.extend(gt.iter().map(|x| x / w));
        out.3 += gs / w;
        out.4 += gb / w;
    }
    out
}

#[test]
fn ring_over_ranks_matches_pytorch() {
    let f = fixture();
    let dev = Device::Cpu;
    let mut checked = 0;
    for case in ["square", "wide", "one"] {
        let get = |n: &str| f.load(&format!("siglip/{case}/{n}"), &dev).unwrap();
        let (image, text) = (get("image"), get("text"));
        let b = image.dims()[0];
        if text.dims()[0] != b {
            continue; // the ring pairs image i with text i on every rank
        }
        for world in (1..=4).filter(|w| b % w == 0) {
            let (loss, gi, gt, gs, gb) = ring(&image, &text, 10f64.ln(), -10.0, world);
            let what = format!("siglip/{case} over {world} ranks");
            close(&[loss], &flat(&get("loss")), &format!("{what} loss"));
            close(&gi, &flat(&get("grad_image")), &format!("{what} d image"));
            close(&gt, &flat(&get("grad_text")), &format!("{what} d text"));
            close(&[gs], &flat(&get("grad_scale")), &format!("{what} d scale"));
            close(&[gb], &flat(&get("grad_bias")), &format!("{what} d bias"));
            checked += 1;
        }
    }
    assert!(checked >= 3, "the fixture has too few square cases ({checked} checked)");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]
    #[test]
    fn ring_equals_dense(world in 1usize..6, b in 1usize..5, d in 1usize..9,
                         scale in -1.0f64..4.0, bias in -12.0f64..2.0, seed in 0u64..1000) {
        let n = world * b;
        let (image, text) = (normalised(n, d, seed), normalised(n, d, seed + 1));
        let dense = leaves(image.clone(), text.clone(), scale, bias);
        let a = siglip_loss(&dense.image, &dense.text, &dense.scale, &dense.bias).unwrap();
        a.backward().unwrap();
        let (loss, gi, gt, gs, gb) = ring(&image, &text, scale, bias, world);
        prop_assert!((a.to_scalar_f64().unwrap() - loss).abs() <= 1e-9);
        for (x, y) in [(flat(&dense.image.grad().unwrap()), gi), (flat(&dense.text.grad().unwrap()), gt),
                       (flat(&dense.scale.grad().unwrap()), vec![gs]), (flat(&dense.bias.grad().unwrap()), vec![gb])] {
            let diff = x.iter().zip(&y).map(|(p, q)| (p - q).abs()).fold(0.0, f64::max);
            prop_assert!(diff <= 1e-9, "gradient differs by {} over {} ranks", diff, world);
        }
    }
}

#[test]
fn ring_refuses_ranks_with_different_shapes() {
    let groups = ProcessGroup::threads(2).unwrap();
    let errors: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = groups
            .into_iter()
            .enumerate()
            .map(|(r, g)| {
                s.spawn(move || {
                    let l = leaves(normalised(2 + r, 4, 0), normalised(2 + r, 4, 1), 1.0, 0.0);
                    siglip_loss_ring(&l.image, &l.text, &l.scale, &l.bias, &g).unwrap_err().to_string()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(errors[0].contains("rank 1 holds (3, 4)"), "{}", errors[0]);
    assert!(errors[1].contains("rank 0 holds (2, 4)"), "{}", errors[1]);
}

/// The same over the TCP backend: three ranks rendezvous on a local port, the blocks travel by socket.
#[test]
fn ring_over_tcp_equals_dense() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let tcp = |rank| {
        ProcessGroup::tcp(tessera_dist::TcpOptions {
            rank,
            world_size: 3,
            master_addr: "127.0.0.1".into(),
            master_port: port,
            run_id: "ring-test".into(),
            options: tessera_dist::GroupOptions::default(),
        })
        .unwrap()
    };
    let (image, text) = (normalised(6, 5, 7), normalised(6, 5, 8));
    let dense = leaves(image.clone(), text.clone(), 1.5, -3.0);
    let a = siglip_loss(&dense.image, &dense.text, &dense.scale, &dense.bias).unwrap();
    a.backward().unwrap();
    let (loss, gi, gt, gs, gb) = ring_on(&image, &text, 1.5, -3.0, 3, &tcp);
    close(&[loss], &[a.to_scalar_f64().unwrap()], "tcp ring loss");
    close(&gi, &flat(&dense.image.grad().unwrap()), "tcp ring d image");
    close(&gt, &flat(&dense.text.grad().unwrap()), "tcp ring d text");
    close(
        &[gs, gb],
        &[flat(&dense.scale.grad().unwrap())[0], flat(&dense.bias.grad().unwrap())[0]],
        "tcp ring d scale, bias",
    );
}
