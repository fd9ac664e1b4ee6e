//! Mutation tests of the safetensors loader (bounded, in CI; `cargo xtask fuzz` runs it for longer under
//! libFuzzer): a valid file with bytes replaced, inserted, removed or cut, and with its header length
//! rewritten. Opening and loading every tensor is an error or a tensor of the declared shape, never a panic.

#![cfg(feature = "candle")]
#![allow(clippy::unwrap_used)] // Tests assert by unwrapping.

use proptest::prelude::*;
use tessera_tensor::{DType, Device, SafetensorsFile, SeededRng, save};

fn valid() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.safetensors");
    let mut rng = SeededRng::new(1);
    let a = rng.normal_tensor(&[3, 4], 0.0, 1.0, DType::F32, &Device::Cpu).unwrap();
    let b =
        rng.normal_tensor(&[2], 0.0, 1.0, DType::F32, &Device::Cpu).unwrap().to_dtype(DType::BF16).unwrap();
    save(&path, &[("a", &a), ("b", &b)]).unwrap();
    std::fs::read(path).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn safetensors_files_edited(edits in prop::collection::vec((any::<u8>(), any::<usize>(), any::<u8>()), 1..5), header in any::<Option<u64>>()) {
        let mut bytes = valid();
        for (kind, pos, byte) in edits {
            if bytes.is_empty() {
                break;
            }
            let p = pos % bytes.len();
            match kind % 4 {
                0 => bytes[p] = byte,
                1 => bytes.insert(p, byte),
                2 => {
                    bytes.remove(p);
                }
                _ => bytes.truncate(p),
            }
        }
        if let (Some(h), true) = (header, bytes.len() >= 8) {
            bytes[..8].copy_from_slice(&h.to_le_bytes());
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        std::fs::write(&path, &bytes).unwrap();
        if let Ok(f) = SafetensorsFile::open(&path) {
            for name in f.names() {
                let _ = f.load(&name, &Device::Cpu);
            }
        }
    }
}
