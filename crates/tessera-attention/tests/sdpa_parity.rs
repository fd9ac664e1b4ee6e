//! Outputs and gradients against PyTorch's `scaled_dot_product_attention` (float64 reference on the
//! same float32 inputs; fixtures from scripts/attention_parity.py).
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use candle_core::{DType, Device, Tensor};
use tessera_attention::{AttentionOptions, flash_attention, flash_attention_backward};
use tessera_tensor::SafetensorsFile;

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    let d = a.to_dtype(DType::F64).unwrap().sub(&b.to_dtype(DType::F64).unwrap()).unwrap();
    d.abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f64>().unwrap()
}

#[test]
fn flash_attention_matches_pytorch_sdpa() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sdpa.safetensors");
    let file = SafetensorsFile::open(path).unwrap();
    let cases = [
        ("full", AttentionOptions::default()),
        ("causal", AttentionOptions::causal()),
        ("causal_lower_right", AttentionOptions::causal()),
        ("gqa", AttentionOptions { scale: Some(0.3), ..Default::default() }),
        ("padding", AttentionOptions::default()),
    ];
    for (name, mut options) in cases {
        let load = |t: &str| file.load(&format!("{name}.{t}"), &Device::Cpu).unwrap();
        if name == "padding" {
            options.key_padding_mask = Some(load("key_padding_mask"));
        }
        let (q, k, v, d_o) = (load("q"), load("k"), load("v"), load("d_o"));
        let (o, lse) = flash_attention(&q, &k, &v, &options).unwrap();
        let d = max_diff(&o, &load("o"));
        assert!(d <= 1e-5, "{name}: output differs from SDPA by {d:.2e}");
        let (dq, dk, dv) = flash_attention_backward(&q, &k, &v, &o, &lse, &d_o, &options).unwrap();
        for (g, want) in [(dq, "dq"), (dk, "dk"), (dv, "dv")] {
            let d = max_diff(&g, &load(want));
            assert!(d <= 1e-5, "{name}: {want} differs from SDPA by {d:.2e}");
        }
    }
}
