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
    check_import_rules(&root, &mut problems)?;
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

/// A layering rule read from ARCHITECTURE.md: no file under `folder` of crate `krate` names any of the
/// `forbidden` top-level modules of its crate (`crate::NAME`).
#[derive(Debug)]
struct ImportRule {
    krate: String,
    folder: String,
    forbidden: Vec<String>,
}

fn parse_import_rules(text: &str) -> Vec<ImportRule> {
    text.lines()
        .filter(|l| l.contains("never imports"))
        .filter_map(|l| {
            let quoted: Vec<&str> = l.split('`').skip(1).step_by(2).collect();
            let (krate, folder) = (quoted.first()?, quoted.get(1)?);
            let forbidden: Vec<String> =
                quoted[2..].iter().filter_map(|q| q.strip_prefix("crate::")).map(str::to_string).collect();
            (!forbidden.is_empty()).then(|| ImportRule {
                krate: krate.to_string(),
                folder: folder.trim_end_matches('/').to_string(),
                forbidden,
            })
        })
        .collect()
}

/// The top-level modules a Rust source names through `crate::` (`crate::a::b`, `crate::{a, b::c}`),
/// with the line of each; comment lines are skipped.
fn crate_modules_named(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let code = line.trim_start();
        if code.starts_with("//") {
            continue;
        }
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let inner = group.split('}').next().unwrap_or("");
                for item in inner.split(',') {
                    let name: String =
                        item.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                    if !name.is_empty() {
                        out.push((i + 1, name));
                    }
                }
            } else {
                let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if !name.is_empty() {
                    out.push((i + 1, name));
                }
            }
        }
    }
    out
}

fn check_import_rules(root: &Path, problems: &mut Vec<String>) -> Result<(), String> {
    let arch = root.join("docs/ARCHITECTURE.md");
    let text = std::fs::read_to_string(&arch).map_err(|e| format!("{}: {e}", arch.display()))?;
    for rule in parse_import_rules(&text) {
        let dir = root.join("crates").join(&rule.krate).join(&rule.folder);
        if !dir.exists() {
            problems.push(format!(
                "layering rule for `{}` names `{}`, which does not exist",
                rule.krate, rule.folder
            ));
            continue;
        }
        let mut files = Vec::new();
        collect(&dir, &mut files, &|p| p.extension().is_some_and(|e| e == "rs"));
        let mut broken = 0;
        for file in &files {
            let Ok(source) = std::fs::read_to_string(file) else { continue };
            for (line, name) in crate_modules_named(&source) {
                if rule.forbidden.contains(&name) {
                    broken += 1;
                    let rel = file.strip_prefix(root).unwrap_or(file).display();
                    problems.push(format!(
                        "layering rule broken: {rel}:{line} uses `crate::{name}` (docs/ARCHITECTURE.md: `{}` never \
                         imports it)",
                        rule.folder
                    ));
                }
            }
        }
        if broken == 0 {
            eprintln!(
                "tidy: `{}` {} never imports {}: holds ({} files)",
                rule.krate,
                rule.folder,
                rule.forbidden.join(", "),
                files.len()
            );
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

    #[test]
    fn parses_layering_rules_and_finds_back_imports() {
        let rules = parse_import_rules(
            "- In `tessera-trees`, `src/tree/` never imports `crate::cart` or `crate::booster`.\n\
             - `a` never depends on `b`.",
        );
        assert_eq!(rules.len(), 1);
        assert_eq!((rules[0].krate.as_str(), rules[0].folder.as_str()), ("tessera-trees", "src/tree"));
        assert_eq!(rules[0].forbidden, ["cart", "booster"]);
        let named = crate_modules_named(
            "use crate::error::Result;\n// use crate::cart::X;\nuse crate::{binning::Binned, stats};\n\
             let t = crate::cart::fit_tree(x);",
        );
        let names: Vec<(usize, &str)> = named.iter().map(|(l, n)| (*l, n.as_str())).collect();
        assert_eq!(names, [(1, "error"), (3, "binning"), (3, "stats"), (4, "cart")]);
    }
}
