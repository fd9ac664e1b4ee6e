//! Training from scratch on the embedded digits: zero-shot accuracy on held-out images with a template
//! never used in training, over three seeds per architecture; the saved folder reloads to the same
//! embeddings; feature-cached accumulation gives the big batch's gradients.

#![allow(clippy::unwrap_used)] // Tests assert by unwrapping.

use std::path::Path;

use tessera_autograd::{Tensor, Var};
use tessera_vlm::train::digits::{DIGIT_NAMES, HELD_OUT_TEMPLATE, digit_images};
use tessera_vlm::train::{ContrastiveLoss, MicroBatch, TrainOptions, accumulated_backward, train_digits};
use tessera_vlm::{Arch, Error, LoadOptions, Vlm, VlmModel};

fn accuracy_at_least(arch: Arch, seed: u64, floor: f64) -> tessera_vlm::train::TrainReport {
    let options = TrainOptions { seed, ..TrainOptions::new(arch) };
    let mut steps = 0;
    let report = train_digits(&options, &mut |p| steps = p.step).unwrap();
    assert_eq!(steps, report.train_images / options.batch_size * options.epochs);
    let first = report.epoch_losses[0];
    let last = *report.epoch_losses.last().unwrap();
    assert!(last < first, "{arch:?} seed {seed}: the loss did not fall ({first} -> {last})");
    assert!(
        report.zero_shot_accuracy >= floor,
        "{arch:?} seed {seed}: zero-shot accuracy {:.3} < {floor} on {} held-out images",
        report.zero_shot_accuracy,
        report.test_images
    );
    report
}

#[test]
fn clip_learns_digits_seed_0_and_round_trips() {
    let report = accuracy_at_least(Arch::Clip, 0, 0.8);
    check_round_trip(&report.vlm, "clip");
}

#[test]
fn clip_learns_digits_seed_1() {
    accuracy_at_least(Arch::Clip, 1, 0.8);
}

#[test]
fn clip_learns_digits_seed_2() {
    accuracy_at_least(Arch::Clip, 2, 0.8);
}

#[test]
fn siglip_learns_digits_seed_0_and_round_trips() {
    let report = accuracy_at_least(Arch::Siglip, 0, 0.8);
    check_round_trip(&report.vlm, "siglip");
}

#[test]
fn siglip_learns_digits_seed_1() {
    accuracy_at_least(Arch::Siglip, 1, 0.8);
}

#[test]
fn siglip_learns_digits_seed_2() {
    accuracy_at_least(Arch::Siglip, 2, 0.8);
}

/// Saved as a Hugging Face folder and loaded strictly, the model gives the same embeddings and the same
/// zero-shot probabilities. `TESSERA_VLM_SAVE_DIR` keeps the folder (for `scripts/check_vlm_save.py`).
fn check_round_trip(vlm: &Vlm, name: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = match std::env::var_os("TESSERA_VLM_SAVE_DIR") {
        Some(d) => Path::new(&d).join(format!("digits_{name}")),
        None => tmp.path().join(name),
    };
    vlm.save_pretrained(&dir).unwrap();
    let loaded = Vlm::load(&dir, &LoadOptions { strict: true, ..LoadOptions::default() }).unwrap();
    let (images, _) = digit_images().unwrap();
    let images = &images[..40];
    let texts = ["a drawing of the digit seven", "the number 3", "a handwritten zero"];
    let same = |a: &Tensor, b: &Tensor| {
        let d = a.sub(b).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(d <= 1e-6, "{name}: reloaded embeddings differ by {d}");
    };
    same(&vlm.embed_images(images, 16).unwrap(), &loaded.embed_images(images, 16).unwrap());
    same(&vlm.embed_texts(&texts, 16).unwrap(), &loaded.embed_texts(&texts, 16).unwrap());
    let a = vlm.zero_shot(images, &DIGIT_NAMES, &[HELD_OUT_TEMPLATE], 16).unwrap();
    let b = loaded.zero_shot(images, &DIGIT_NAMES, &[HELD_OUT_TEMPLATE], 16).unwrap();
    assert_eq!(a.labels, b.labels);
    for (x, y) in a.probs.iter().flatten().zip(b.probs.iter().flatten()) {
        assert!((x - y).abs() <= 1e-6);
    }
}

/// A small model and eight pairs from the digits, tokenised by its own tokenizer.
fn small_batch(arch: Arch) -> (Vlm, MicroBatch) {
    let options =
        TrainOptions { epochs: 1, width: 16, layers: 1, heads: 2, batch_size: 8, ..TrainOptions::new(arch) };
    // One epoch of a tiny model: the weights are no longer at their initial symmetric values.
    let vlm = train_digits(&options, &mut |_| {}).unwrap().vlm;
    let (images, labels) = digit_images().unwrap();
    let pick: Vec<usize> = (0..8).map(|i| i * 37 + 5).collect();
    let chosen: Vec<_> = pick.iter().map(|&i| images[i].clone()).collect();
    let pixels = vlm.preprocess(&chosen).unwrap();
    let texts: Vec<String> =
        pick.iter().enumerate().map(|(k, &i)| tessera_vlm::train::digits::caption(labels[i], k)).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let (ids, mask) =
        vlm.tokenizer.encode_batch(&refs).unwrap().to_tensors(&pixels.device().clone()).unwrap();
    let mask = vlm.tokenizer.uses_attention_mask().then_some(mask);
    (vlm, MicroBatch { pixels, ids, mask })
}

fn split(batch: &MicroBatch, parts: usize) -> Vec<MicroBatch> {
    let n = batch.pixels.dims()[0] / parts;
    (0..parts)
        .map(|p| MicroBatch {
            pixels: batch.pixels.narrow(0, p * n, n).unwrap(),
            ids: batch.ids.narrow(0, p * n, n).unwrap(),
            mask: batch.mask.as_ref().map(|m| m.narrow(0, p * n, n).unwrap()),
        })
        .collect()
}

fn gradients(
    model: &VlmModel,
    micro: &[MicroBatch],
    loss: ContrastiveLoss,
) -> (f64, Vec<(String, Vec<f32>)>) {
    let params = model.trainable_parameters();
    for (_, p) in &params {
        p.zero_grad();
    }
    let value = accumulated_backward(model, micro, loss).unwrap();
    let grads = params
        .iter()
        .map(|(n, p): &(String, Var)| {
            let g = p.grad().unwrap_or_else(|| panic!("{n} has no gradient"));
            (n.clone(), g.flatten_all().unwrap().to_vec1::<f32>().unwrap())
        })
        .collect();
    (value, grads)
}

/// Accumulating over 2 and 4 micro-batches gives the loss and every parameter's gradient (the logit
/// scale and bias included, counted once) of the whole batch of 8, within 1e-4 of the largest gradient
/// entry or of 1e-2, whichever is larger (f32). The floor is for gradients that cancel to near zero: the
/// SigLIP bias's is a sum of 64 terms of order 0.1, so f32 rounding of the terms alone is about 1e-7,
/// whatever the result (a floor of 1e-3 put the bound at that noise: the attention kernels' summation
/// order moving was enough to cross it, 1.04e-7).
#[test]
fn accumulation_equals_the_big_batch_gradient() {
    for (arch, losses) in [
        (Arch::Clip, vec![ContrastiveLoss::Clip]),
        (Arch::Siglip, vec![ContrastiveLoss::Siglip, ContrastiveLoss::SiglipChunked(3)]),
    ] {
        let (vlm, batch) = small_batch(arch);
        for loss in losses {
            let (big_value, big) = gradients(&vlm.model, std::slice::from_ref(&batch), loss);
            for parts in [2, 4] {
                let (value, acc) = gradients(&vlm.model, &split(&batch, parts), loss);
                assert!(
                    (value - big_value).abs() <= 1e-5 * big_value.abs().max(1.0),
                    "{loss:?} {parts}: loss"
                );
                for ((name, a), (_, b)) in acc.iter().zip(&big) {
                    let scale = b.iter().fold(1e-2f32, |m, x| m.max(x.abs()));
                    let worst = a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
                    assert!(
                        worst <= 1e-4 * scale,
                        "{arch:?} {loss:?} {parts} parts: {name} off by {worst} (scale {scale})"
                    );
                }
            }
        }
    }
}

#[test]
fn bad_options_are_refused_before_training() {
    let base = TrainOptions::new(Arch::Clip);
    for bad in [
        TrainOptions { accumulation: 3, ..base.clone() },
        TrainOptions { batch_size: 1, ..base.clone() },
        TrainOptions { epochs: 0, ..base.clone() },
        TrainOptions { lr: f64::NAN, ..base.clone() },
        TrainOptions { test_fraction: 1.0, ..base.clone() },
        TrainOptions { heads: 5, ..base.clone() },
        TrainOptions { batch_size: 4000, ..base.clone() },
    ] {
        let mut called = false;
        match train_digits(&bad, &mut |_| called = true) {
            Err(Error::InvalidArgument { .. } | Error::Config { .. }) => {}
            other => panic!("{bad:?}: expected an argument error, found {other:?}"),
        }
        assert!(!called, "{bad:?}: training started");
    }
}
