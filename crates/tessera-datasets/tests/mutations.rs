//! Mutation tests of the CSV and LibSVM loaders (bounded, in CI; `cargo xtask fuzz` runs them for longer
//! under libFuzzer): valid files with bytes replaced, inserted, removed or cut, read by both CSV readers.
//! Any outcome is fine but a panic; a file that loads has the shape it claims.

#![allow(clippy::unwrap_used)] // Tests assert by unwrapping.

use std::path::Path;

use proptest::prelude::*;
use tessera_datasets::{CsvOptions, LibSvmOptions, read_csv, read_csv_from, read_libsvm_from};

const CSV: &str = "a,b,target\n1.5,2,cat\n-3e2,,dog\n4,NA,cat\n0.25,7,dog\n";
const QUOTED: &str = "a,\"b,c\",target\n1,\"2\",0\n3,4,1\n";
const LIBSVM: &str = "1 1:0.5 3:2 # c\n\n-1 2:1.5 qid:3\n0 1:nan 4:1e3\n";

/// Bytes that break parsers: delimiters, quotes, line ends, a BOM byte, NUL, non-UTF-8, digits, signs.
const NASTY: &[u8] = b",\"\n\r\xef\xbb\xbf\x00\xff9-.e:#";

fn edit(text: &str, edits: &[(u8, usize, usize)]) -> Vec<u8> {
    let mut b = text.as_bytes().to_vec();
    for &(kind, pos, pick) in edits {
        if b.is_empty() {
            break;
        }
        let p = pos % b.len();
        let byte = NASTY[pick % NASTY.len()];
        match kind % 4 {
            0 => b[p] = byte,
            1 => b.insert(p, byte),
            2 => {
                b.remove(p);
            }
            _ => b.truncate(p),
        }
    }
    b
}

fn edits() -> impl Strategy<Value = Vec<(u8, usize, usize)>> {
    prop::collection::vec((any::<u8>(), any::<usize>(), any::<usize>()), 1..6)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn csv_files_edited(e in edits(), quoted in any::<bool>(), target in any::<bool>()) {
        let bytes = edit(if quoted { QUOTED } else { CSV }, &e);
        let options = if target { CsvOptions::with_target("target") } else { CsvOptions::default() };
        let streamed = read_csv_from(bytes.as_slice(), Path::new("m.csv"), &options);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.csv");
        std::fs::write(&path, &bytes).unwrap();
        let parallel = read_csv(&path, &options);
        for ds in [streamed, parallel].into_iter().flatten() {
            prop_assert_eq!(ds.features().nrows(), ds.targets().len());
            prop_assert_eq!(ds.features().ncols(), ds.feature_names().len());
        }
    }

    #[test]
    fn libsvm_files_edited(e in edits()) {
        let bytes = edit(LIBSVM, &e);
        if let Ok(ds) = read_libsvm_from(bytes.as_slice(), Path::new("m.svm"), &LibSvmOptions::default()) {
            prop_assert_eq!(ds.features().nrows(), ds.targets().len());
        }
    }
}
