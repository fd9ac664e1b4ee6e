//! Helpers shared by the hostile-input suites: running the binary in a scratch directory and asserting a
//! clean error (exit 1, one `error:` line naming what it must) or a success.

#![allow(dead_code, clippy::unwrap_used)] // Each suite uses some helpers; tests assert by unwrapping.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tessera"))
}

/// Runs `tessera` in `dir` with `args`.
pub fn run_in(dir: &Path, args: &[&str]) -> Output {
    bin().current_dir(dir).args(args).output().unwrap()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Asserts a clean failure: exit status 1 (not a panic's 101 or a signal), one `error:` line containing
/// every one of `needles`.
#[track_caller]
pub fn assert_error(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "expected a clean error, got {:?}: {err}", o.status);
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.starts_with("error: "), "{err}");
    for n in needles {
        assert!(err.contains(n), "`{n}` missing from: {err}");
    }
}

#[track_caller]
pub fn assert_ok(o: &Output) {
    assert!(o.status.success(), "{:?}: {}", o.status, stderr(o));
}

/// A scratch directory holding `iris.csv` and a CART model of it, `cart.json`.
pub fn scratch() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    assert_ok(&run_in(&path, &["data", "export", "iris", "--out", "iris.csv"]));
    assert_ok(&run_in(
        &path,
        &[
            "trees",
            "train",
            "--model",
            "cart",
            "--data",
            "iris.csv",
            "--target",
            "target",
            "--out",
            "cart.json",
        ],
    ));
    (dir, path)
}

pub fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tessera-"))
        .collect()
}

/// Rewrites the JSON file `from` in `dir` with `change`, saves it as `bad.json`.
pub fn mutate(dir: &Path, from: &str, change: impl FnOnce(&mut serde_json::Value)) {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(from)).unwrap()).unwrap();
    change(&mut v);
    std::fs::write(dir.join("bad.json"), v.to_string()).unwrap();
}

pub fn predict_bad(dir: &Path) -> Output {
    run_in(dir, &["trees", "predict", "--model", "bad.json", "--data", "iris.csv", "--out", "p.csv"])
}

pub fn train(dir: &Path, args: &[&str]) {
    let mut all = vec!["trees", "train", "--data", "iris.csv", "--target", "target"];
    all.extend_from_slice(args);
    assert_ok(&run_in(dir, &all));
}
