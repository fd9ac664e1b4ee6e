//! NaN and infinities in the inputs are errors naming the tensor and the element (an online softmax
//! would otherwise hide them in a finite output), except where the kernels never read: KV cache slots past
//! a sequence's length. The scale is checked as the f32 it becomes.

#![allow(clippy::unwrap_used)] // Tests assert by unwrapping.

use candle_core::{DType, Device, Tensor};
use tessera_attention::{AttentionOptions, Error, flash_attention, flash_attention_backward, flash_decode};
use tessera_tensor::SeededRng;

fn normal(shape: &[usize], seed: u64) -> Tensor {
    SeededRng::new(seed).normal_tensor(shape, 0.0, 1.0, DType::F32, &Device::Cpu).unwrap()
}

/// `t` with flat element `at` set to `value`.
fn with(t: &Tensor, at: usize, value: f32) -> Tensor {
    let mut v = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    v[at] = value;
    Tensor::from_vec(v, t.dims(), &Device::Cpu).unwrap()
}

#[test]
fn non_finite_inputs_name_the_tensor_and_element() {
    let shape = [2, 2, 5, 8];
    let (q, k, v) = (normal(&shape, 1), normal(&shape, 2), normal(&shape, 3));
    let opts = AttentionOptions::default();
    for (name, at, value) in [
        ("k", 0, f32::NAN),
        ("q", 41, f32::NAN),
        ("q", 3, f32::INFINITY),
        ("k", 77, f32::NEG_INFINITY),
        ("v", 100, f32::NAN),
    ] {
        let (q2, k2, v2) = match name {
            "q" => (with(&q, at, value), k.clone(), v.clone()),
            "k" => (q.clone(), with(&k, at, value), v.clone()),
            _ => (q.clone(), k.clone(), with(&v, at, value)),
        };
        for dtype in [DType::F32, DType::BF16] {
            let cast = |t: &Tensor| t.to_dtype(dtype).unwrap();
            let e = flash_attention(&cast(&q2), &cast(&k2), &cast(&v2), &opts).unwrap_err();
            match e {
                Error::NonFinite { tensor, element, .. } => {
                    assert_eq!((tensor.as_str(), element), (name, at));
                }
                other => panic!("{other}"),
            }
        }
    }
    // Backward checks o and d_o too.
    let (o, lse) = flash_attention(&q, &k, &v, &opts).unwrap();
    let e = flash_attention_backward(&q, &k, &v, &o, &lse, &with(&q, 9, f32::NAN), &opts).unwrap_err();
    assert!(matches!(e, Error::NonFinite { ref tensor, element: 9, .. } if tensor == "d_o"), "{e}");
}

#[test]
fn only_unread_cache_slots_may_hold_anything() {
    let (q, k, v) = (normal(&[1, 1, 3, 8], 4), normal(&[1, 1, 4, 8], 5), normal(&[1, 1, 4, 8], 6));
    // Key 3 is padding: the kernels still read it (with weight 0), so it must be finite too.
    let pad = Tensor::new(&[[0u8, 0, 0, 1]], &Device::Cpu).unwrap();
    let opts = AttentionOptions { key_padding_mask: Some(pad), ..Default::default() };
    let e = flash_attention(&q, &k, &with(&v, 3 * 8, f32::INFINITY), &opts).unwrap_err();
    assert!(matches!(e, Error::NonFinite { ref tensor, element: 24, .. } if tensor == "v"), "{e}");
    // A KV cache slot past the sequence's length likewise.
    let cache_k = with(&k, 3 * 8 + 1, f32::NAN);
    flash_decode(&q, &cache_k, &v, &[3], &AttentionOptions::default()).unwrap();
    let e = flash_decode(&q, &cache_k, &v, &[4], &AttentionOptions::default()).unwrap_err();
    assert!(matches!(e, Error::NonFinite { .. }), "{e}");
}

#[test]
fn the_scale_is_checked_as_an_f32() {
    let (q, k, v) = (normal(&[1, 1, 2, 4], 7), normal(&[1, 1, 2, 4], 8), normal(&[1, 1, 2, 4], 9));
    for scale in [1e39, 1e300, f64::INFINITY, f64::NAN] {
        let opts = AttentionOptions { scale: Some(scale), ..Default::default() };
        let e = flash_attention(&q, &k, &v, &opts).unwrap_err();
        assert!(matches!(e, Error::InvalidParameter { ref name, .. } if name == "scale"), "{e}");
    }
    let opts = AttentionOptions { scale: Some(3e38), ..Default::default() };
    flash_attention(&q, &k, &v, &opts).unwrap();
}
