//! `cargo xtask bench [AREA]`: runs an area's benchmark binary (and the reference library's script, when
//! its Python modules are installed), then rewrites that area's section of `docs/benchmarks.md` with the
//! results, the exact commands, the date and the machine.

use std::path::Path;

use serde_json::Value;

use crate::util::{cargo_bin, output, root, succeeds};

/// A benchmark area: tessera's bench binary and, optionally, the reference implementation's script.
/// Areas with `cli_cases` run the release `tessera` binary once per case instead (a fresh process
/// per case, so its peak-memory reading is that case's alone).
struct Area {
    name: &'static str,
    package: &'static str,
    bench: &'static str,
    reference: Option<(&'static str, &'static str)>,
    cli_cases: &'static [&'static str],
    /// Cases run interleaved (tessera, then the reference, case by case) this many times, keeping each
    /// implementation's fastest fit: this machine's speed drifts by tens of percent over minutes, and
    /// interleaving exposes every side to the same drift. Empty: one run of each side.
    interleaved: (&'static [&'static str], usize),
}

/// `tessera attention bench` cases: B=1, H=8, D in {64, 128}, L in {1024, 4096, 16384}, causal and
/// not, forward and forward+backward; then L=32768 to show memory that grows with L (the naive
/// scores alone would take 32 GiB).
const ATTENTION_CASES: &[&str] = &[
    "--seq 1024 --dim 64",
    "--seq 1024 --dim 64 --backward",
    "--seq 1024 --dim 64 --causal",
    "--seq 1024 --dim 64 --causal --backward",
    "--seq 1024 --dim 128",
    "--seq 1024 --dim 128 --backward",
    "--seq 1024 --dim 128 --causal",
    "--seq 1024 --dim 128 --causal --backward",
    "--seq 4096 --dim 64",
    "--seq 4096 --dim 64 --backward",
    "--seq 4096 --dim 64 --causal",
    "--seq 4096 --dim 64 --causal --backward",
    "--seq 4096 --dim 128",
    "--seq 4096 --dim 128 --backward",
    "--seq 4096 --dim 128 --causal",
    "--seq 4096 --dim 128 --causal --backward",
    "--seq 16384 --dim 64 --repeats 1",
    "--seq 16384 --dim 64 --backward --repeats 1",
    "--seq 16384 --dim 64 --causal --repeats 1",
    "--seq 16384 --dim 64 --causal --backward --repeats 1",
    "--seq 16384 --dim 128 --repeats 1",
    "--seq 16384 --dim 128 --backward --repeats 1",
    "--seq 16384 --dim 128 --causal --repeats 1",
    "--seq 16384 --dim 128 --causal --backward --repeats 1",
    "--seq 32768 --dim 64 --causal --repeats 1",
    "--seq 4096 --dim 64 --dtype bf16",
    "--seq 4096 --dim 64 --dtype f16",
];

const AREAS: &[Area] = &[
    Area {
        name: "datasets",
        package: "tessera-datasets",
        bench: "datasets",
        reference: Some(("scripts/bench_sklearn_datasets.py", "import sklearn, numpy")),
        cli_cases: &[],
        interleaved: (&[], 0),
    },
    Area {
        name: "boosting",
        package: "tessera-trees",
        bench: "boosting",
        reference: Some(("scripts/bench_boosters.py", "import xgboost, sklearn, numpy")),
        cli_cases: &[],
        interleaved: (&["binary_1m", "regression_500k"], 3),
    },
    Area {
        name: "autograd",
        package: "tessera-nn",
        bench: "autograd",
        reference: Some(("scripts/bench_autograd.py", "import torch")),
        cli_cases: &[],
        interleaved: (&[], 0),
    },
    Area {
        name: "attention",
        package: "tessera-cli",
        bench: "",
        reference: Some(("scripts/bench_attention.py", "import torch")),
        cli_cases: ATTENTION_CASES,
        interleaved: (&[], 0),
    },
    Area {
        name: "trees",
        package: "tessera-trees",
        bench: "trees",
        reference: Some(("scripts/bench_sklearn_trees.py", "import sklearn, numpy")),
        cli_cases: &[],
        interleaved: (&[], 0),
    },
];

/// Runs one area, or all of them.
pub fn run(area: Option<&str>) -> Result<(), String> {
    if area == Some("dist") {
        return crate::bench_dist::run();
    }
    if area == Some("vlm") {
        return crate::bench_vlm::run();
    }
    let selected: Vec<&Area> = match area {
        None | Some("all") => AREAS.iter().collect(),
        Some(name) => vec![AREAS.iter().find(|a| a.name == name).ok_or_else(|| {
            format!(
                "unknown bench area `{name}` (areas: {})",
                AREAS.iter().map(|a| a.name).chain(["dist", "vlm"]).collect::<Vec<_>>().join(", ")
            )
        })?],
    };
    for a in selected {
        run_area(&root(), a)?;
    }
    if matches!(area, None | Some("all")) {
        crate::bench_dist::run()?;
        crate::bench_vlm::run()?;
    }
    Ok(())
}

fn run_area(root: &Path, area: &Area) -> Result<(), String> {
    let mut commands = Vec::new();
    let mut rows = Vec::new();
    let (cases, repeats) = area.interleaved;
    if !cases.is_empty() {
        rows = run_interleaved(root, area, cases, repeats, &mut commands)?;
    } else if area.cli_cases.is_empty() {
        let args = ["bench", "-q", "-p", area.package, "--bench", area.bench];
        commands.push(format!("cargo {}", args.join(" ")));
        rows = parse_lines(&output(root, &cargo_bin(), &args, &[])?);
    } else {
        output(root, &cargo_bin(), &["build", "-q", "--release", "-p", area.package], &[])?;
        let binary = crate::util::target_dir().join("release/tessera");
        let binary = binary.to_str().ok_or("non-UTF-8 target path")?;
        for case in area.cli_cases {
            let mut args = vec![area.name, "bench", "--json"];
            args.extend(case.split_whitespace());
            commands.push(format!("target/release/tessera {}", args.join(" ")));
            eprintln!("bench: tessera {}", args.join(" "));
            rows.extend(parse_lines(&output(root, binary, &args, &[])?));
        }
    }
    if let Some(script) = reference_script(area).filter(|_| cases.is_empty()) {
        commands.push(format!("python3 {script}"));
        rows.extend(parse_lines(&output(root, "python3", &[script], &REFERENCE_ENV)?));
    }
    // Cases run once per parameter set (the CLI areas) pair up by parameters too.
    let by_params = !area.cli_cases.is_empty();
    rows.sort_by(|a, b| {
        let key = |v: &Value| {
            let params =
                if by_params { v["params"].as_str().unwrap_or("").to_string() } else { String::new() };
            (v["bench"].as_str().unwrap_or("").to_string(), params, v["impl"] != "tessera")
        };
        key(a).cmp(&key(b))
    });
    let section = render(area.name, &commands, &rows);
    let path = root.join("docs/benchmarks.md");
    let doc = std::fs::read_to_string(&path).unwrap_or_else(|_| "# Benchmarks\n".to_string());
    let updated = replace_section(&doc, area.name, &section);
    std::fs::write(&path, updated).map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!("bench: {} results written to docs/benchmarks.md", rows.len());
    print!("{section}");
    Ok(())
}

/// Reference libraries get the same two threads tessera uses.
const REFERENCE_ENV: [(&str, &str); 3] =
    [("OMP_NUM_THREADS", "2"), ("OPENBLAS_NUM_THREADS", "2"), ("MKL_NUM_THREADS", "2")];

/// The area's reference script, when python3 has the modules it needs (else `None`, said on stderr).
fn reference_script(area: &Area) -> Option<&'static str> {
    let (script, probe) = area.reference?;
    if succeeds("python3", &["-c", probe]) {
        return Some(script);
    }
    eprintln!("bench: {script} skipped (python3 modules missing: pip install -r scripts/requirements.txt)");
    None
}

/// Runs each case of `cases` on tessera then on the reference, `repeats` rounds, and keeps per (case,
/// implementation) the run with the fastest fit.
fn run_interleaved(
    root: &Path,
    area: &Area,
    cases: &[&str],
    repeats: usize,
    commands: &mut Vec<String>,
) -> Result<Vec<Value>, String> {
    let reference = reference_script(area);
    commands.push(format!("cargo bench -q -p {} --bench {} -- CASE", area.package, area.bench));
    if let Some(script) = reference {
        commands.push(format!("python3 {script} CASE"));
    }
    commands.push(format!(
        "# for each of {repeats} rounds, for CASE in {}: both commands; the fastest fit of each side is kept",
        cases.join(", ")
    ));
    let mut best: Vec<Value> = Vec::new();
    for round in 0..repeats {
        for case in cases {
            eprintln!("bench: {} round {}/{repeats}: {case}", area.name, round + 1);
            let args = ["bench", "-q", "-p", area.package, "--bench", area.bench, "--", case];
            let mut rows = parse_lines(&output(root, &cargo_bin(), &args, &[])?);
            if let Some(script) = reference {
                rows.extend(parse_lines(&output(root, "python3", &[script, case], &REFERENCE_ENV)?));
            }
            for row in rows {
                let same = |v: &Value| v["bench"] == row["bench"] && v["impl"] == row["impl"];
                let fit = |v: &Value| v["fit_s"].as_f64().unwrap_or(f64::INFINITY);
                match best.iter_mut().find(|v| same(v)) {
                    Some(b) if fit(&row) < fit(b) => *b = row,
                    Some(_) => {}
                    None => best.push(row),
                }
            }
        }
    }
    Ok(best)
}

fn parse_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| l.trim_start().starts_with('{'))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn render(area: &str, commands: &[String], rows: &[Value]) -> String {
    let mut s = format!("## {area}\n\n");
    s.push_str(&format!("Measured {} on {}.\n\n", today(), machine()));
    s.push_str("Commands:\n\n```\ncargo xtask bench ");
    s.push_str(area);
    s.push_str("\n# runs:\n");
    for c in commands {
        s.push_str(&format!("{c}\n"));
    }
    // Columns: every numeric field any row reports, in first-seen order.
    let mut fields: Vec<String> = Vec::new();
    for r in rows {
        if let Some(obj) = r.as_object() {
            for (k, v) in obj {
                if v.is_number() && !fields.contains(k) {
                    fields.push(k.clone());
                }
            }
        }
    }
    s.push_str("```\n\n| benchmark | implementation | parameters |");
    for f in &fields {
        s.push_str(&format!(" {f} |"));
    }
    s.push_str("\n|---|---|---|");
    s.push_str(&"---:|".repeat(fields.len()));
    s.push('\n');
    for r in rows {
        s.push_str(&format!(
            "| {} | {} | {} |",
            r["bench"].as_str().unwrap_or("?"),
            r["impl"].as_str().unwrap_or("?"),
            r["params"].as_str().unwrap_or("")
        ));
        for f in &fields {
            let cell = match r[f.as_str()].as_f64() {
                Some(v) if v.abs() >= 1000.0 || v.fract() == 0.0 => format!("{v:.0}"),
                Some(v) => format!("{v:.4}"),
                None => "-".to_string(),
            };
            s.push_str(&format!(" {cell} |"));
        }
        s.push('\n');
    }
    s
}

pub(crate) fn replace_section(doc: &str, area: &str, section: &str) -> String {
    let begin = format!("<!-- bench:{area}:begin -->");
    let end = format!("<!-- bench:{area}:end -->");
    let block = format!("{begin}\n{section}{end}");
    match (doc.find(&begin), doc.find(&end)) {
        (Some(b), Some(e)) if e > b => format!("{}{}{}", &doc[..b], block, &doc[e + end.len()..]),
        _ => format!("{}\n{}\n", doc.trim_end(), block),
    }
}

pub(crate) fn today() -> String {
    std::process::Command::new("date")
        .arg("+%Y-%m-%d")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or_else(|| "today".to_string(), |s| s.trim().to_string())
}

pub(crate) fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("{cpu}, {cores} cores")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_only_its_own_section() {
        let doc = "# B\n<!-- bench:a:begin -->\nold\n<!-- bench:a:end -->\ntail\n";
        let out = replace_section(doc, "a", "new\n");
        assert_eq!(out, "# B\n<!-- bench:a:begin -->\nnew\n<!-- bench:a:end -->\ntail\n");
        let appended = replace_section("# B\n", "b", "x\n");
        assert!(appended.ends_with("<!-- bench:b:begin -->\nx\n<!-- bench:b:end -->\n"));
    }
}
