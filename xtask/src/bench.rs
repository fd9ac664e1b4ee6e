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
    /// Whether the area keeps one section per CPU model (family and model from /proc/cpuinfo), so
    /// the tables of every machine measured stay side by side: speed here differs a lot between
    /// Zen 4 and Zen 5.
    per_cpu: bool,
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
        per_cpu: false,
    },
    Area {
        name: "boosting",
        package: "tessera-trees",
        bench: "boosting",
        reference: Some(("scripts/bench_boosters.py", "import xgboost, sklearn, numpy")),
        cli_cases: &[],
        interleaved: (&["binary_1m", "regression_500k"], 3),
        per_cpu: true,
    },
    Area {
        name: "autograd",
        package: "tessera-nn",
        bench: "autograd",
        reference: Some(("scripts/bench_autograd.py", "import torch")),
        cli_cases: &[],
        interleaved: (&[], 0),
        per_cpu: false,
    },
    Area {
        name: "attention",
        package: "tessera-cli",
        bench: "",
        reference: Some(("scripts/bench_attention.py", "import torch")),
        cli_cases: ATTENTION_CASES,
        interleaved: (&[], 3),
        per_cpu: true,
    },
    Area {
        name: "trees",
        package: "tessera-trees",
        bench: "trees",
        reference: Some(("scripts/bench_sklearn_trees.py", "import sklearn, numpy")),
        cli_cases: &[],
        interleaved: (&[], 0),
        per_cpu: false,
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
    let (cases, repeats) = area.interleaved;
    let mut rows = if !cases.is_empty() {
        run_interleaved(root, area, cases, repeats, &mut commands)?
    } else if area.cli_cases.is_empty() {
        let args = ["bench", "-q", "-p", area.package, "--bench", area.bench];
        commands.push(format!("cargo {}", args.join(" ")));
        parse_lines(&output(root, &cargo_bin(), &args, &[])?)
    } else {
        run_cli_interleaved(root, area, repeats.max(1), &mut commands)?
    };
    if let Some(script) = reference_script(area).filter(|_| cases.is_empty() && area.cli_cases.is_empty()) {
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
    let key = if area.per_cpu { format!("{}:{}", area.name, cpu_key()) } else { area.name.to_string() };
    let section = render(area.name, &commands, &rows);
    if let Some(o) = only() {
        print!("{section}");
        eprintln!("bench: TESSERA_BENCH_ONLY={o}: a partial table, docs/benchmarks.md left alone");
        return Ok(());
    }
    let path = root.join("docs/benchmarks.md");
    let doc = std::fs::read_to_string(&path).unwrap_or_else(|_| "# Benchmarks\n".to_string());
    let updated = replace_section(&doc, &key, &section);
    std::fs::write(&path, updated).map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!("bench: {} results written to docs/benchmarks.md", rows.len());
    print!("{section}");
    Ok(())
}

/// `TESSERA_BENCH_ONLY=TEXT` runs only the command-line cases whose flags contain `TEXT` (for example
/// `--seq 1024`) and prints the table without writing it.
fn only() -> Option<String> {
    std::env::var("TESSERA_BENCH_ONLY").ok().filter(|s| !s.is_empty())
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

/// Runs the release `tessera` binary once per case and the reference script on the same case right after
/// it, `rounds` times over all cases, keeping per (case, implementation) the fastest run; then adds to
/// every row its share of the machine's measured multiply-add limit (`peak_pct`, from `tessera attention
/// peak`) and to tessera's rows the reference's time over tessera's (`speedup`, above 1 when tessera is
/// faster).
fn run_cli_interleaved(
    root: &Path,
    area: &Area,
    rounds: usize,
    commands: &mut Vec<String>,
) -> Result<Vec<Value>, String> {
    output(root, &cargo_bin(), &["build", "-q", "--release", "-p", area.package], &[])?;
    let binary = crate::util::target_dir().join("release/tessera");
    let binary = binary.to_str().ok_or("non-UTF-8 target path")?;
    let reference = reference_script(area);
    commands.push(format!("target/release/tessera {} peak --json", area.name));
    let peak = parse_lines(&output(root, binary, &[area.name, "peak", "--json"], &[])?);
    let peak_gflops = peak.first().and_then(|r| r["gflops"].as_f64());
    commands.push(format!("target/release/tessera {} bench --json CASE", area.name));
    if let Some(script) = reference {
        commands.push(format!("python3 {script} CASE   # f32 cases"));
    }
    commands.push(format!(
        "# {rounds} rounds; in each, for every CASE below, tessera then the reference; the fastest run of each side is kept"
    ));
    let mut best: Vec<Value> = Vec::new();
    for round in 0..rounds {
        for case in area.cli_cases.iter().filter(|c| only().is_none_or(|o| c.contains(o.as_str()))) {
            eprintln!("bench: {} round {}/{rounds}: {case}", area.name, round + 1);
            let mut args = vec![area.name, "bench", "--json"];
            args.extend(case.split_whitespace());
            let mut rows = parse_lines(&output(root, binary, &args, &[])?);
            if let Some(script) = reference.filter(|_| !case.contains("--dtype")) {
                let mut py = vec![script];
                py.extend(case.split_whitespace());
                rows.extend(parse_lines(&output(root, "python3", &py, &REFERENCE_ENV)?));
            }
            for row in rows {
                let same = |v: &Value| {
                    v["bench"] == row["bench"] && v["impl"] == row["impl"] && v["params"] == row["params"]
                };
                let ms = |v: &Value| v["ms"].as_f64().unwrap_or(f64::INFINITY);
                match best.iter_mut().find(|v| same(v)) {
                    Some(b) if ms(&row) < ms(b) => *b = row,
                    Some(_) => {}
                    None => best.push(row),
                }
            }
        }
    }
    commands.push(format!("# cases: {}", area.cli_cases.join("; ")));
    let reference_ms: Vec<(Value, Value, f64)> = best
        .iter()
        .filter(|r| r["impl"] != "tessera")
        .filter_map(|r| Some((r["bench"].clone(), r["params"].clone(), r["ms"].as_f64()?)))
        .collect();
    for row in &mut best {
        if let (Some(peak), Some(g)) = (peak_gflops, row["gflops"].as_f64()) {
            row["peak_pct"] = serde_json::json!((g / peak * 1000.0).round() / 10.0);
        }
        if row["impl"] == "tessera" {
            let theirs = reference_ms.iter().find(|(b, p, _)| *b == row["bench"] && *p == row["params"]);
            if let (Some((_, _, r)), Some(ms)) = (theirs, row["ms"].as_f64()) {
                row["speedup"] = serde_json::json!((r / ms * 100.0).round() / 100.0);
            }
        }
    }
    best.extend(peak);
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
    // Columns: every numeric or text field any row reports beyond the first three, in first-seen order.
    let mut fields: Vec<String> = Vec::new();
    for r in rows {
        if let Some(obj) = r.as_object() {
            for (k, v) in obj {
                let named = matches!(k.as_str(), "bench" | "impl" | "params");
                if (v.is_number() || v.is_string()) && !named && !fields.contains(k) {
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
            let cell = match (r[f.as_str()].as_f64(), r[f.as_str()].as_str()) {
                (Some(v), _) if v.abs() >= 1000.0 || v.fract() == 0.0 => format!("{v:.0}"),
                (Some(v), _) => format!("{v:.4}").trim_end_matches('0').trim_end_matches('.').to_string(),
                (None, Some(text)) => text.to_string(),
                (None, None) => "-".to_string(),
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
    // A new per-CPU section (`attention:family-25-model-17`) goes before the area's other tables.
    let family = area.split_once(':').map(|(a, _)| format!("<!-- bench:{a}:"));
    match (doc.find(&begin), doc.find(&end)) {
        (Some(b), Some(e)) if e > b => format!("{}{}{}", &doc[..b], block, &doc[e + end.len()..]),
        _ => match family.and_then(|f| doc.find(&f)) {
            Some(at) => format!("{}{}\n{}", &doc[..at], block, &doc[at..]),
            None => format!("{}\n{}\n", doc.trim_end(), block),
        },
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
    let cpu = cpuinfo("model name").unwrap_or_else(|| "unknown CPU".to_string());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (family, model) = cpu_family_model();
    format!("{cpu} (cpu family {family}, model {model}), {cores} cores")
}

/// The first value of field `name` in /proc/cpuinfo.
fn cpuinfo(name: &str) -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines()
        .find(|l| l.split(':').next().map(str::trim) == Some(name))
        .and_then(|l| l.split(':').nth(1))
        .map(|v| v.trim().to_string())
}

/// `cpu family` and `model` from /proc/cpuinfo (`?` where absent): Zen 4 is family 25, Zen 5 family 26.
pub(crate) fn cpu_family_model() -> (String, String) {
    let field = |name| cpuinfo(name).unwrap_or_else(|| "?".to_string());
    (field("cpu family"), field("model"))
}

/// The key of a per-CPU section: `family-25-model-17`.
fn cpu_key() -> String {
    let (family, model) = cpu_family_model();
    format!("family-{family}-model-{model}")
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
        // A CPU's own section goes before the area's older tables, and is replaced in place later.
        let per_cpu = replace_section(doc, "a:family-25-model-17", "zen4\n");
        assert!(per_cpu.starts_with(
            "# B\n<!-- bench:a:family-25-model-17:begin -->\nzen4\n<!-- bench:a:family-25-model-17:end -->\n<!-- bench:a:begin -->"
        ));
        let again = replace_section(&per_cpu, "a:family-25-model-17", "zen4 again\n");
        assert_eq!(again.matches("bench:a:family-25-model-17:begin").count(), 1);
        assert!(again.contains("zen4 again"));
    }
}
