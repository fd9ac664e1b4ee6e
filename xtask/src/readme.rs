//! `cargo xtask readme`: runs every ```sh block of README.md and of each crate's README, in order, in a
//! fresh temporary directory per file, with the workspace's `tessera` binary first on `PATH`, and fails on
//! the first command that fails, so the documented walkthroughs cannot drift from what the code does.
//! Blocks fenced as anything else (```text, ```toml, plain ```) are documentation only.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{cargo, root, target_dir};

/// The shell blocks of a Markdown text: the lines between a ```sh fence and the next closing fence.
fn shell_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_start()) {
            (None, "```sh") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            _ => {}
        }
    }
    blocks
}

/// The READMEs that may hold runnable blocks: the workspace's, then each crate's.
fn readmes(root: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files = vec![root.join("README.md")];
    let mut crates: Vec<PathBuf> = std::fs::read_dir(root.join("crates"))
        .map_err(|e| format!("crates/: {e}"))?
        .flatten()
        .map(|e| e.path().join("README.md"))
        .filter(|p| p.exists())
        .collect();
    crates.sort();
    files.extend(crates);
    Ok(files)
}

/// Builds the CLI and runs every README's shell blocks.
pub fn run() -> Result<(), String> {
    let root = root();
    // The same build as `cargo test --workspace` (features unified the same way), so after the test step
    // of `cargo xtask ci` this compiles nothing; `-p tessera-cli` alone would resolve features anew.
    let mut build = vec!["test", "-q", "--workspace", "--no-run"];
    build.extend(crate::util::workspace_features());
    cargo(&build)?;
    let bin = target_dir().join("debug");
    let path = std::env::join_paths(
        std::iter::once(bin).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .map_err(|e| format!("PATH: {e}"))?;
    let mut ran = 0;
    for file in readmes(&root)? {
        let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let blocks = shell_blocks(&text);
        if blocks.is_empty() {
            continue;
        }
        let dir = std::env::temp_dir().join(format!("tessera-readme-{}-{ran}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for (i, block) in blocks.iter().enumerate() {
            eprintln!("readme: {} block {}", file.strip_prefix(&root).unwrap_or(&file).display(), i + 1);
            let status = Command::new("sh")
                .args(["-e", "-x", "-c", block])
                .current_dir(&dir)
                .env("PATH", &path)
                .status()
                .map_err(|e| format!("cannot run sh: {e}"))?;
            if !status.success() {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(format!("{} block {} failed ({status})", file.display(), i + 1));
            }
            ran += 1;
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    eprintln!("readme: {ran} blocks ran");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::shell_blocks;

    #[test]
    fn only_sh_blocks_are_taken() {
        let md = "text\n```sh\necho one\necho two\n```\n```toml\n[x]\n```\n```\nplain\n```\n  ```sh\nindented\n  ```\n";
        assert_eq!(shell_blocks(md), vec!["echo one\necho two\n".to_string(), "indented\n".to_string()]);
    }
}
