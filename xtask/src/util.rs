//! Process helpers shared by the xtask commands.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(Path::to_path_buf).unwrap_or(manifest)
}

/// Cargo's target directory: `CARGO_TARGET_DIR` when set (relative to the workspace root if relative),
/// else `target/` in the workspace root.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() { dir } else { root().join(dir) }
        }
        _ => root().join("target"),
    }
}

/// The cargo that runs us.
pub fn cargo_bin() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string())
}

/// Runs cargo with `args` in the workspace root, inheriting output.
pub fn cargo(args: &[&str]) -> Result<(), String> {
    run_in(&root(), &cargo_bin(), args)
}

/// Runs `program args` in `dir`, inheriting output; an error names the command on failure.
pub fn run_in(dir: &Path, program: &str, args: &[&str]) -> Result<(), String> {
    let status = Command::new(program)
        .args(args)
        .current_dir(dir)
        .status()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("`{program} {}` failed ({status})", args.join(" "))) }
}

/// Runs a command and captures its stdout; stderr is passed through.
pub fn output(dir: &Path, program: &str, args: &[&str], envs: &[(&str, &str)]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(dir)
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if !out.status.success() {
        return Err(format!("`{program} {}` failed ({})", args.join(" "), out.status));
    }
    String::from_utf8(out.stdout).map_err(|e| format!("{program} printed invalid UTF-8: {e}"))
}

/// Whether a command runs and exits 0 (output discarded).
pub fn succeeds(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The library crates under `crates/` (those with a `src/lib.rs`), sorted.
pub fn library_crates() -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    let dir = root().join("crates");
    for entry in std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let entry = entry.map_err(|e| e.to_string())?;
        if entry.path().join("src/lib.rs").exists() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// Whether Open MPI's launcher and compiler are installed (the `mpi` backend of tessera-dist needs both).
pub fn mpi_available() -> bool {
    succeeds("mpirun", &["--version"]) && succeeds("mpicc", &["--version"])
}

/// The workspace build's extra features: tessera-dist's `mpi` backend where Open MPI is installed, so
/// clippy, the tests (its `tests/mpi.rs` starts itself under `mpirun`) and the README build all share one
/// build with it.
pub fn workspace_features() -> Vec<&'static str> {
    if mpi_available() { vec!["--features", "tessera-dist/mpi"] } else { Vec::new() }
}
