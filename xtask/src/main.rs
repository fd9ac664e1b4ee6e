//! Workspace automation for tessera, run as `cargo xtask <command>`:
//!
//! - `ci`: the checks CI runs, cheapest first (fmt, tidy, clippy, tests, API goldens);
//! - `tidy`: file hygiene and the dependency rules of `docs/ARCHITECTURE.md`;
//! - `api [--check]`: write (or compare with) the golden public-API files under `api/`;
//! - `demo`: a tour of each crate's flagship on embedded data;
//! - `bench [AREA]`: run benchmarks and update `docs/benchmarks.md`;
//! - `fixtures`: regenerate the reference-library fixtures with the committed Python scripts;
//! - `readme`: run the READMEs' shell blocks against the built CLI;
//! - `fuzz [TARGET] [--seconds N]`: run the loaders' fuzz targets (cargo-fuzz, nightly) for N seconds each.
//!
//! It stays cheap to build: no async, no CLI framework, two dependencies.

mod api;
mod bench;
mod bench_dist;
mod bench_vlm;
mod ci;
mod fuzz;
mod readme;
mod tidy;
mod util;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  ci             fmt --check, tidy, clippy -D warnings, tests (doc tests too), api --check
  tidy           module docs, no todo!/dbg!, file sizes, fixture budget, dependency rules
  api [--check]  write the golden public-API files under api/ (or compare and print the diff)
  demo           run the tour of every crate on embedded data (release build)
  bench [AREA]   run benchmarks (areas: datasets, trees, boosting, autograd, attention, dist, vlm) and update docs/benchmarks.md
  fixtures       regenerate parity fixtures with the reference libraries (needs python3 + pip packages)
  readme         run every ```sh block of the READMEs (the documented walkthroughs) against the built CLI
  fuzz [TARGET] [--seconds N]
                 run the loaders' fuzz targets under fuzz/ for N seconds each (default 600; nightly + cargo-fuzz)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci::run(),
        Some("tidy") => tidy::run(),
        Some("api") => api::run(args.iter().any(|a| a == "--check")),
        Some("demo") => util::cargo(&["run", "--release", "-p", "tessera", "--example", "tour"]),
        Some("bench") => bench::run(args.get(1).map(String::as_str)),
        Some("fixtures") => fixtures(),
        Some("fuzz") => fuzz::run(&args[1..]),
        Some("readme") => readme::run(),
        Some("-h" | "--help" | "help") | None => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command `{other}`\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The committed scripts that produce parity fixtures with the reference libraries, and what they need.
const FIXTURE_SCRIPTS: &[(&str, &[&str])] = &[
    ("scripts/export_datasets.py", &["sklearn", "numpy"]),
    ("scripts/trees_parity.py", &["sklearn", "numpy"]),
    ("scripts/booster_parity.py", &["xgboost", "sklearn", "numpy"]),
    ("scripts/xgboost_models.py", &["xgboost", "sklearn", "numpy"]),
    ("scripts/categorical_parity.py", &["xgboost", "sklearn", "numpy"]),
    ("scripts/autograd_parity.py", &["torch", "safetensors"]),
    ("scripts/attention_parity.py", &["torch", "safetensors"]),
    ("scripts/vlm_parity.py", &["transformers", "open_clip", "skimage", "PIL", "tokenizers", "sklearn"]),
];

fn fixtures() -> Result<(), String> {
    let root = util::root();
    for (script, modules) in FIXTURE_SCRIPTS {
        let probe = format!("import {}", modules.join(", "));
        if !util::succeeds("python3", &["-c", &probe]) {
            return Err(format!(
                "{script} needs the Python modules {modules:?}: pip install -r scripts/requirements.txt"
            ));
        }
        util::run_in(&root, "python3", &[script])?;
    }
    Ok(())
}
