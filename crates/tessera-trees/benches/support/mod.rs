//! Helpers shared by this crate's benchmark binaries.

use std::io::IsTerminal;
use std::path::PathBuf;

/// Peak resident memory of this process so far, in MiB (Linux; 0 elsewhere).
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Reports progress on stderr when it is a terminal; quiet when piped.
pub fn progress(what: &str) {
    if std::io::stderr().is_terminal() {
        eprintln!("bench: {what} ...");
    }
}

/// `target/bench-data/<name>` (the folder is created), where benchmark CSVs are shared with the reference
/// libraries' scripts.
pub fn bench_data(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-data");
    let _ = std::fs::create_dir_all(&dir);
    dir.join(name)
}
