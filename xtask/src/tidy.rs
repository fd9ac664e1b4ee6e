//! `cargo xtask tidy`: hygiene checks that need no compiler, plus the dependency rules that
//! `docs/ARCHITECTURE.md` states ("`A` never depends on `B`"), checked with `cargo tree`.

use std::path::{Path, PathBuf};

use crate::util::{cargo_bin, output, root};

/// Longest source file allowed, in lines.
const MAX_LINES: usize = 800;
/// Budget for committed fixtures and embedded data, in bytes.
const FIXTURE_BUDGET: u64 = 10 * 1024 * 1024;

/// Runs every tidy check and reports all problems at once.
pub fn run() -> Result<(), String> {
    let root = root();
    let mut problems = Vec::new();
    let mut rs_files = Vec::new();
    for dir in ["crates", "xtask"] {
        collect(&root.join(dir), &mut rs_files, &|p| p.extension().is_some_and(|e| e == "rs"));
    }
    // Spelled in pieces so that this file does not trip its own check.
    let forbidden = [concat!("to", "do!("), concat!("db", "g!("), concat!("unimple", "mented!(")];
    for file in &rs_files {
        let rel = file.strip_prefix(&root).unwrap_or(file).display().to_string();
        let Ok(text) = std::fs::read_to_string(file) else {
            problems.push(format!("{rel}: not readable as UTF-8"));
            continue;
        };
        let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        if !first.starts_with("//!") {
            problems.push(format!("{rel}: must start with a `//!` module doc"));
        }
        let lines = text.lines().count();
        if lines > MAX_LINES {
            problems.push(format!("{rel}: {lines} lines (limit {MAX_LINES}); split it by concept"));
        }
        for (i, line) in text.lines().enumerate() {
            for f in &forbidden {
                if line.contains(f) {
                    problems.push(format!("{rel}:{}: `{}` left in", i + 1, f.trim_end_matches('(')));
                }
            }
        }
    }
    check_manifests(&root, &mut problems);
    check_fixture_budget(&root, &mut problems);
    check_dependency_rules(&root, &mut problems)?;
    if problems.is_empty() {
        eprintln!("tidy: {} Rust files checked, all rules hold", rs_files.len());
        Ok(())
    } else {
        Err(format!("{} problem(s):\n  {}", problems.len(), problems.join("\n  ")))
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>, keep: &dyn Fn(&Path) -> bool) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "target" || n.to_string_lossy().starts_with('.')) {
                continue;
            }
            collect(&path, out, keep);
        } else if keep(&path) {
            out.push(path);
        }
    }
}

/// Every member inherits the workspace lints and takes its dependencies from `[workspace.dependencies]`.
fn check_manifests(root: &Path, problems: &mut Vec<String>) {
    let mut manifests = Vec::new();
    collect(&root.join("crates"), &mut manifests, &|p| p.file_name().is_some_and(|n| n == "Cargo.toml"));
    manifests.push(root.join("xtask/Cargo.toml"));
    for manifest in manifests {
        let rel = manifest.strip_prefix(root).unwrap_or(&manifest).display().to_string();
        let Ok(text) = std::fs::read_to_string(&manifest) else { continue };
        if !text.contains("[lints]\nworkspace = true") {
            problems.push(format!("{rel}: needs `[lints] workspace = true`"));
        }
        let mut in_deps = false;
        for line in text.lines() {
            let t = line.trim();
            if t.starts_with('[') {
                in_deps = t.ends_with("dependencies]");
                continue;
            }
            if in_deps && !t.is_empty() && !t.starts_with('#') && !t.contains("workspace = true") {
                problems.push(format!(
                    "{rel}: `{t}` must come from [workspace.dependencies] (`x.workspace = true`)"
                ));
            }
        }
    }
}

fn check_fixture_budget(root: &Path, problems: &mut Vec<String>) {
    let mut files = Vec::new();
    let crates = root.join("crates");
    if let Ok(entries) = std::fs::read_dir(&crates) {
        for entry in entries.flatten() {
            collect(&entry.path().join("tests/fixtures"), &mut files, &|_| true);
            collect(&entry.path().join("data"), &mut files, &|_| true);
        }
    }
    let total: u64 = files.iter().filter_map(|f| f.metadata().ok()).map(|m| m.len()).sum();
    if total > FIXTURE_BUDGET {
        problems
            .push(format!("fixtures and embedded data take {total} bytes, over the {FIXTURE_BUDGET} budget"));
    } else {
        eprintln!("tidy: fixtures and embedded data: {:.2} MiB of 10 MiB", total as f64 / 1048576.0);
    }
}

/// A rule read from ARCHITECTURE.md: `crate` (optionally without default features) never depends on `forbidden`
/// (a package name, or a prefix ending in `*`).
#[derive(Debug)]
struct Rule {
    krate: String,
    forbidden: String,
    no_default_features: bool,
}

fn parse_rules(text: &str) -> Vec<Rule> {
    text.lines()
        .filter(|l| l.contains("never depends on"))
        .filter_map(|l| {
            let quoted: Vec<&str> = l.split('`').skip(1).step_by(2).collect();
            let (krate, forbidden) = (quoted.first()?, quoted.get(1)?);
            Some(Rule {
                krate: krate.to_string(),
                forbidden: forbidden.to_string(),
                no_default_features: l.contains("without default features"),
            })
        })
        .collect()
}

fn check_dependency_rules(root: &Path, problems: &mut Vec<String>) -> Result<(), String> {
    let arch = root.join("docs/ARCHITECTURE.md");
    let text = std::fs::read_to_string(&arch).map_err(|e| format!("{}: {e}", arch.display()))?;
    let rules = parse_rules(&text);
    if rules.is_empty() {
        problems.push("docs/ARCHITECTURE.md states no `never depends on` rules".to_string());
    }
    let cargo = cargo_bin();
    for rule in rules {
        if !root.join("crates").join(&rule.krate).exists() {
            eprintln!(
                "tidy: rule `{}` never depends on `{}`: crate not in the workspace yet",
                rule.krate, rule.forbidden
            );
            continue;
        }
        let mut args =
            vec!["tree", "-p", &rule.krate, "-e", "normal,build", "--prefix", "none", "--format", "{p}"];
        if rule.no_default_features {
            args.push("--no-default-features");
        }
        let tree = output(root, &cargo, &args, &[])?;
        let hit = tree.lines().filter_map(|l| l.split_whitespace().next()).find(|name| {
            *name != rule.krate
                && match rule.forbidden.strip_suffix('*') {
                    Some(prefix) => name.starts_with(prefix),
                    None => *name == rule.forbidden,
                }
        });
        match hit {
            Some(name) => problems.push(format!(
                "dependency rule broken: `{}`{} depends on `{name}` (docs/ARCHITECTURE.md forbids `{}`)",
                rule.krate,
                if rule.no_default_features { " without default features" } else { "" },
                rule.forbidden
            )),
            None => eprintln!(
                "tidy: `{}`{} never depends on `{}`: holds",
                rule.krate,
                if rule.no_default_features { " (no default features)" } else { "" },
                rule.forbidden
            ),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rules() {
        let rules = parse_rules(
            "- `tessera-trees` never depends on `candle-core`.\n\
             - `tessera-tensor` without default features never depends on `candle-core`.\n\
             - `tessera-tensor` never depends on `tessera-*`\nnot a rule `a` `b`",
        );
        assert_eq!(rules.len(), 3);
        assert!(!rules[0].no_default_features && rules[1].no_default_features);
        assert_eq!(rules[2].forbidden, "tessera-*");
    }
}
