//! The CSV loaders on arbitrary bytes: the streaming reader directly, the parallel reader through a file,
//! with and without a target column and with a forced task. Any outcome but a panic, a hang or an
//! over-limit allocation is fine.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use tessera_datasets::{CsvOptions, TaskKind, read_csv, read_csv_from, read_csv_header};

fuzz_target!(|data: &[u8]| {
    let source = Path::new("fuzz.csv");
    let options = [
        CsvOptions::default(),
        CsvOptions::with_target("target"),
        CsvOptions { task: Some(TaskKind::Regression), ..CsvOptions::with_target("y") },
        CsvOptions { task: Some(TaskKind::Classification), ..CsvOptions::with_target("a") },
    ];
    for o in &options {
        let _ = read_csv_from(data, source, o);
    }
    let file = std::env::temp_dir().join(format!("tessera-fuzz-{}.csv", std::process::id()));
    if std::fs::write(&file, data).is_ok() {
        for o in &options {
            let _ = read_csv(&file, o);
        }
        let _ = read_csv_header(&file);
        let _ = std::fs::remove_file(&file);
    }
});
