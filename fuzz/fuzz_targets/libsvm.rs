//! The LibSVM loader on arbitrary bytes, with the feature count and base detected or given.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use tessera_datasets::{LibSvmOptions, read_libsvm_from};

fuzz_target!(|data: &[u8]| {
    let source = Path::new("fuzz.svm");
    for o in [
        LibSvmOptions::default(),
        LibSvmOptions { n_features: Some(8), zero_based: Some(false), ..Default::default() },
        LibSvmOptions { zero_based: Some(true), ..Default::default() },
    ] {
        let _ = read_libsvm_from(data, source, &o);
    }
});
