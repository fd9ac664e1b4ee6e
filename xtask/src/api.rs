//! `cargo xtask api [--check]`: the public API of every library crate, as golden files under `api/`.
//!
//! rustdoc's JSON output (unstable; enabled on the stable toolchain with `RUSTC_BOOTSTRAP=1`) is read by the
//! pinned `public-api` crate, which prints one line per public item with its full signature. `--check`
//! compares with the committed files and prints the difference: an API change must update its golden file
//! in the same commit, so every change to what users can call is visible in review.

use std::collections::BTreeSet;
use std::path::Path;

use crate::util::{cargo_bin, library_crates, output, root};

/// Writes the golden files, or with `check` compares against them.
pub fn run(check: bool) -> Result<(), String> {
    let root = root();
    let mut drifted = Vec::new();
    for krate in library_crates()? {
        let current = public_api(&root, &krate)?;
        let golden_path = root.join("api").join(format!("{krate}.txt"));
        if check {
            let golden = std::fs::read_to_string(&golden_path).unwrap_or_default();
            if golden != current {
                eprintln!(
                    "api: {krate}: the public API differs from api/{krate}.txt:\n{}",
                    diff(&golden, &current)
                );
                drifted.push(krate);
            } else {
                eprintln!("api: {krate}: matches api/{krate}.txt ({} items)", current.lines().count());
            }
        } else {
            std::fs::create_dir_all(root.join("api")).map_err(|e| e.to_string())?;
            std::fs::write(&golden_path, &current).map_err(|e| format!("{}: {e}", golden_path.display()))?;
            eprintln!("api: wrote api/{krate}.txt ({} items)", current.lines().count());
        }
    }
    if drifted.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "public API changed in {}; review the diff above and run `cargo xtask api` to update the golden files",
            drifted.join(", ")
        ))
    }
}

fn public_api(root: &Path, krate: &str) -> Result<String, String> {
    // A separate target directory: RUSTC_BOOTSTRAP changes the compiler's fingerprint, and sharing
    // `target/` would make ordinary builds and this one invalidate each other.
    let target_dir = crate::util::target_dir().join("api");
    let target = target_dir.to_string_lossy().into_owned();
    output(
        root,
        &cargo_bin(),
        &[
            "rustdoc",
            "--quiet",
            "-p",
            krate,
            "--lib",
            "--target-dir",
            &target,
            "--",
            "-Z",
            "unstable-options",
            "--output-format",
            "json",
        ],
        &[("RUSTC_BOOTSTRAP", "1")],
    )?;
    let json = target_dir.join("doc").join(format!("{}.json", krate.replace('-', "_")));
    let api = public_api::Builder::from_rustdoc_json(&json)
        .omit_blanket_impls(true)
        .omit_auto_trait_impls(true)
        .build()
        .map_err(|e| format!("reading {}: {e}", json.display()))?;
    Ok(format!("{api}"))
}

/// Lines only in `old` (prefixed `-`) and only in `new` (prefixed `+`).
fn diff(old: &str, new: &str) -> String {
    let old_set: BTreeSet<&str> = old.lines().collect();
    let new_set: BTreeSet<&str> = new.lines().collect();
    let mut out = String::new();
    for line in old.lines().filter(|l| !new_set.contains(l)) {
        out.push_str(&format!("  - {line}\n"));
    }
    for line in new.lines().filter(|l| !old_set.contains(l)) {
        out.push_str(&format!("  + {line}\n"));
    }
    out
}
