//! Bad tables: what careless or hostile files do to the CSV and LibSVM loaders. Each case asserts the
//! exact outcome: an error naming the file, line and column or field, or the right data.

#![allow(clippy::unwrap_used)] // Tests assert by unwrapping.

use std::path::{Path, PathBuf};

use tessera_datasets::{
    CsvOptions, Error, LibSvmOptions, TaskKind, read_csv, read_csv_from, read_csv_header, read_libsvm,
    read_libsvm_from,
};

fn file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn target(t: &str) -> CsvOptions {
    CsvOptions::with_target(t)
}

/// Both CSV readers (the parallel file reader and the streaming one) give the same outcome.
fn both(
    dir: &Path,
    name: &str,
    bytes: &[u8],
    options: &CsvOptions,
) -> [tessera_datasets::Result<tessera_datasets::Dataset>; 2] {
    let path = file(dir, name, bytes);
    [read_csv(&path, options), read_csv_from(bytes, &path, options)]
}

#[test]
fn duplicate_column_names_are_refused_with_both_columns() {
    let dir = tempfile::tempdir().unwrap();
    for (text, first, second, name) in
        [("a,a,target\n1,10,0\n2,20,1\n", 1, 2, "a"), ("a,target,target\n1,0,0\n2,1,1\n", 2, 3, "target")]
    {
        for r in both(dir.path(), "dup.csv", text.as_bytes(), &target("target")) {
            let e = r.unwrap_err();
            let msg = e.to_string();
            assert!(matches!(e, Error::File { .. }), "{msg}");
            assert!(msg.contains("dup.csv") && msg.contains(&format!("#{first} and #{second}")), "{msg}");
            assert!(msg.contains(&format!("`{name}`")), "{msg}");
        }
    }
}

#[test]
fn a_byte_order_mark_is_not_part_of_the_first_name() {
    let dir = tempfile::tempdir().unwrap();
    let text = b"\xef\xbb\xbftarget,a,b\n0,1,2\n1,3,4\n";
    for r in both(dir.path(), "bom.csv", text, &target("target")) {
        let ds = r.unwrap();
        assert_eq!(ds.feature_names(), ["a", "b"]);
        assert_eq!(ds.target_name(), "target");
    }
    assert_eq!(read_csv_header(dir.path().join("bom.csv")).unwrap(), ["target", "a", "b"]);
}

#[test]
fn non_finite_targets_are_errors_not_classes() {
    let dir = tempfile::tempdir().unwrap();
    for cell in ["1e400", "inf", "-Infinity", "3.5e38"] {
        let text = format!("a,y\n1,1.5\n2,{cell}\n3,0.5\n");
        for task in [None, Some(TaskKind::Classification), Some(TaskKind::Regression)] {
            let options = CsvOptions { task, ..target("y") };
            for r in both(dir.path(), "t.csv", text.as_bytes(), &options) {
                let e = r.unwrap_err();
                match &e {
                    Error::Parse { line, column, message, .. } => {
                        assert_eq!(*line, 3, "{e}");
                        assert!(column.contains("`y`"), "{e}");
                        assert!(message.contains(cell) && message.contains("finite"), "{e}");
                    }
                    other => panic!("{other}"),
                }
            }
        }
    }
}

#[test]
fn infinite_feature_cells_name_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    for cell in ["inf", "1e39", "-inf"] {
        let text = format!("a,b,y\n1,2,0\n3,{cell},1\n");
        for r in both(dir.path(), "f.csv", text.as_bytes(), &target("y")) {
            let e = r.unwrap_err();
            let msg = e.to_string();
            assert!(msg.contains("f.csv:3") && msg.contains("`b`") && msg.contains("finite"), "{msg}");
        }
    }
    // Missing stays missing.
    let [a, b] = both(dir.path(), "m.csv", b"a,y\n,0\nNaN,1\n", &target("y"));
    assert!(a.unwrap().features().iter().all(|v| v.is_nan()));
    assert!(b.unwrap().features().iter().all(|v| v.is_nan()));
}

#[test]
fn newline_free_streams_are_bounded() {
    // A header longer than the limit: /dev/zero would otherwise grow without end.
    let dir = tempfile::tempdir().unwrap();
    let long = vec![b'a'; tessera_datasets::MAX_HEADER_BYTES + 10];
    let path = file(dir.path(), "long.csv", &long);
    for e in [read_csv(&path, &CsvOptions::default()).unwrap_err(), read_csv_header(&path).unwrap_err()] {
        let msg = e.to_string();
        assert!(msg.contains("long.csv:1") && msg.contains("longer than"), "{msg}");
    }
    #[cfg(target_os = "linux")]
    {
        let e = read_csv("/dev/zero", &CsvOptions::default()).unwrap_err();
        assert!(e.to_string().contains("longer than"), "{e}");
        let e = read_libsvm("/dev/zero", &LibSvmOptions::default()).unwrap_err();
        assert!(e.to_string().contains("longer than"), "{e}");
    }
}

#[test]
fn libsvm_indices_cannot_ask_for_unbounded_memory() {
    let src = Path::new("h.svm");
    let o = LibSvmOptions::default();
    for text in
        ["1 1:0.5 4294967296:1\n0 1:3\n", "1 1:0.5 18446744073709551615:1\n", "1 1:0.5 10000000:1\n0 1:3\n"]
    {
        let e = read_libsvm_from(text.as_bytes(), src, &o).unwrap_err();
        let msg = e.to_string();
        assert!(
            matches!(e, Error::File { .. }) && msg.contains("h.svm") && msg.contains("features"),
            "{msg}"
        );
    }
    // Found by fuzzing: one stored value naming index 13,131,101 would build thirteen million feature names.
    let e = read_libsvm_from("00 13131101:1".as_bytes(), src, &o).unwrap_err().to_string();
    assert!(e.contains("h.svm") && e.contains("13131101 features"), "{e}");
    // Asking for the features explicitly is held to the dense budget.
    let huge = LibSvmOptions { n_features: Some(1 << 40), ..Default::default() };
    let e = read_libsvm_from("1 1:1\n".as_bytes(), src, &huge).unwrap_err().to_string();
    assert!(e.contains("bytes dense"), "{e}");
    // A sparse file within the budget reads.
    let ok = read_libsvm_from("1 1:0.5 3000:1\n0 1:3\n".as_bytes(), src, &o).unwrap();
    assert_eq!(ok.n_features(), 3000);
}

#[test]
fn libsvm_errors_name_the_line() {
    let src = Path::new("u.svm");
    let o = LibSvmOptions::default();
    let e = read_libsvm_from(&b"1 1:2\n0 1:\xff\n"[..], src, &o).unwrap_err().to_string();
    assert!(e.contains("u.svm:2") && e.contains("UTF-8"), "{e}");
    let e = read_libsvm_from("1 1:inf\n".as_bytes(), src, &o).unwrap_err().to_string();
    assert!(e.contains("u.svm:1") && e.contains("finite"), "{e}");
}

#[test]
fn an_unterminated_quote_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "q.csv", b"a,b,target\n1,2,0\n3,\"4,1\n5,6,0\n");
    let e = read_csv(&path, &target("target")).unwrap_err();
    match &e {
        Error::Parse { line, message, .. } => {
            assert_eq!(*line, 3, "{e}");
            assert!(message.contains("never closed"), "{e}");
        }
        other => panic!("{other}"),
    }
    // Doubled quotes inside a quoted field are not an opening quote.
    let ok = file(dir.path(), "ok.csv", b"a,name,target\n1,\"say \"\"hi\"\"\",0\n2,x,1\n");
    assert_eq!(
        read_csv(&ok, &CsvOptions { features: Some(vec!["a".into()]), ..target("target") })
            .unwrap()
            .n_samples(),
        2
    );
}
