//! Safetensors round trips (property tests over random shapes and dtypes), dtype conversion, and the
//! errors for missing tensors, wrong shapes and truncated or corrupted files.

#![allow(clippy::unwrap_used)] // Tests assert by unwrapping.
#![cfg(feature = "candle")]

use proptest::prelude::*;
use tessera_tensor::{DType, Device, Error, SafetensorsFile, SeededRng, Tensor, save, save_with_metadata};

const DTYPES: [DType; 9] = [
    DType::U8,
    DType::U32,
    DType::I16,
    DType::I32,
    DType::I64,
    DType::F16,
    DType::BF16,
    DType::F32,
    DType::F64,
];

/// A tensor of `dtype` with random bits-worthy content: normal values scaled so integers vary too.
fn random_tensor(seed: u64, shape: &[usize], dtype: DType) -> Tensor {
    let mut rng = SeededRng::new(seed);
    let t = rng.normal_tensor(shape, 0.0, 50.0, DType::F64, &Device::Cpu).unwrap();
    let t = if dtype.is_int() { t.abs().unwrap() } else { t };
    t.to_dtype(dtype).unwrap()
}

fn bytes_of(t: &Tensor) -> Vec<u8> {
    use safetensors::View;
    t.data().into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn save_load_round_trips_bit_exactly(
        seed in any::<u64>(),
        shape in prop::collection::vec(0usize..6, 0..4),
        dtypes in prop::collection::vec(0usize..DTYPES.len(), 1..4),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.safetensors");
        let tensors: Vec<(String, Tensor)> = dtypes
            .iter()
            .enumerate()
            .map(|(i, &d)| (format!("layer.{i}.weight"), random_tensor(seed ^ i as u64, &shape, DTYPES[d])))
            .collect();
        let refs: Vec<(&str, &Tensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
        save(&path, &refs).unwrap();

        let file = SafetensorsFile::open(&path).unwrap();
        prop_assert_eq!(file.names().len(), tensors.len());
        for (name, original) in &tensors {
            let info = file.info(name).unwrap();
            prop_assert_eq!(info.dtype, original.dtype());
            prop_assert_eq!(&info.shape, &shape);
            let loaded = file.load(name, &Device::Cpu).unwrap();
            prop_assert_eq!(loaded.dims(), original.dims());
            prop_assert_eq!(bytes_of(&loaded), bytes_of(original));
        }
    }

    #[test]
    fn truncated_or_corrupted_files_error_without_panicking(
        seed in any::<u64>(),
        cut in 0usize..400,
        flips in prop::collection::vec((0usize..400, any::<u8>()), 0..6),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.safetensors");
        let a = random_tensor(seed, &[3, 5], DType::F32);
        let b = random_tensor(seed + 1, &[7], DType::BF16);
        save(&path, &[("a", &a), ("b", &b)]).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        let len = bytes.len();

        // Truncation anywhere before the end must be rejected when opening.
        let truncated = &bytes[..cut.min(len - 1)];
        let tpath = dir.path().join("truncated.safetensors");
        std::fs::write(&tpath, truncated).unwrap();
        let err = SafetensorsFile::open(&tpath).unwrap_err();
        prop_assert!(matches!(err, Error::InvalidSafetensors { .. }), "{err}");

        // Random byte flips: opening and loading may succeed (data bytes) or fail, but never panic.
        for (pos, value) in flips {
            let i = pos % len;
            bytes[i] ^= value | 1;
        }
        let cpath = dir.path().join("corrupted.safetensors");
        std::fs::write(&cpath, &bytes).unwrap();
        if let Ok(file) = SafetensorsFile::open(&cpath) {
            for name in file.names() {
                let _ = file.load(&name, &Device::Cpu);
                let _ = file.load_as(&name, DType::F32, &Device::Cpu);
            }
        }
    }
}

#[test]
fn converts_dtypes_on_load() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.safetensors");
    let w = random_tensor(7, &[4, 3], DType::BF16);
    let ids = Tensor::new(&[1u32, 2, 3], &Device::Cpu).unwrap();
    save(&path, &[("w", &w), ("ids", &ids)]).unwrap();
    let file = SafetensorsFile::open(&path).unwrap();

    for target in [DType::F16, DType::F32, DType::F64] {
        let loaded = file.load_as("w", target, &Device::Cpu).unwrap();
        assert_eq!(loaded.dtype(), target);
        // bf16 -> wider float -> bf16 is exact.
        let back = loaded.to_dtype(DType::F32).unwrap();
        let expected = w.to_dtype(DType::F32).unwrap();
        if target != DType::F16 {
            assert_eq!(back.to_vec2::<f32>().unwrap(), expected.to_vec2::<f32>().unwrap());
        }
    }
    let ids_f = file.load_as("ids", DType::F32, &Device::Cpu).unwrap();
    assert_eq!(ids_f.to_vec1::<f32>().unwrap(), vec![1.0, 2.0, 3.0]);

    let err = file.load_as("w", DType::U32, &Device::Cpu).unwrap_err();
    assert!(matches!(err, Error::DtypeMismatch { .. }));
    let msg = err.to_string();
    assert!(msg.contains("`w`") && msg.contains("bf16") && msg.contains("u32"), "{msg}");
}

#[test]
fn errors_name_the_file_and_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    let w = random_tensor(1, &[2, 3], DType::F32);
    let mut meta = std::collections::HashMap::new();
    meta.insert("format".to_string(), "pt".to_string());
    save_with_metadata(&path, &[("encoder.weight", &w)], Some(meta)).unwrap();
    let file = SafetensorsFile::open(&path).unwrap();
    assert_eq!(file.metadata().unwrap()["format"], "pt");

    let err = file.load("decoder.weight", &Device::Cpu).unwrap_err().to_string();
    assert!(
        err.contains("model.safetensors") && err.contains("decoder.weight") && err.contains("encoder.weight")
    );

    let err = file.load_checked("encoder.weight", &[3, 2], DType::F32, &Device::Cpu).unwrap_err();
    match err {
        Error::ShapeMismatch { name, expected, found } => {
            assert_eq!(name, "encoder.weight");
            assert_eq!(expected, vec![3, 2]);
            assert_eq!(found, vec![2, 3]);
        }
        other => panic!("unexpected error {other}"),
    }

    let missing = dir.path().join("nope.safetensors");
    let err = SafetensorsFile::open(&missing).unwrap_err().to_string();
    assert!(err.contains("nope.safetensors"), "{err}");
}

#[test]
fn failed_save_keeps_the_existing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keep.safetensors");
    let w = random_tensor(3, &[2, 2], DType::F32);
    save(&path, &[("w", &w)]).unwrap();
    let before = std::fs::read(&path).unwrap();
    // Duplicate names are refused before anything is written.
    assert!(save(&path, &[("w", &w), ("w", &w)]).is_err());
    assert_eq!(std::fs::read(&path).unwrap(), before);
    // No temporary files are left behind.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1);
}

#[test]
fn reads_files_written_by_the_reference_library() {
    // A file laid out byte for byte as the safetensors spec (and the Python library) writes it:
    // 8-byte little-endian header length, JSON header, then raw little-endian data.
    let header = br#"{"__metadata__":{"format":"pt"},"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header);
    bytes.extend_from_slice(&1.5f32.to_le_bytes());
    bytes.extend_from_slice(&(-2.0f32).to_le_bytes());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ref.safetensors");
    std::fs::write(&path, bytes).unwrap();
    let t = SafetensorsFile::open(&path).unwrap().load("x", &Device::Cpu).unwrap();
    assert_eq!(t.to_vec1::<f32>().unwrap(), vec![1.5, -2.0]);
}
