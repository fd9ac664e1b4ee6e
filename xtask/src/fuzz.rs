//! `cargo xtask fuzz [TARGET] [--seconds N]`: runs the loaders' fuzz targets under `fuzz/` (cargo-fuzz,
//! libFuzzer, nightly toolchain) for a fixed time each, with the limits the hostile-input work asks for:
//! 2 GiB of memory (`-rss_limit_mb=2048`), 10 s per input. The committed corpora under `fuzz/corpus/` seed
//! each run; what a run discovers goes to `fuzz/work/` (ignored), crashes to `fuzz/artifacts/`.

use crate::util;

/// The fuzz targets, one per loader.
pub const TARGETS: &[&str] = &["csv", "libsvm", "tessera_json", "xgboost_json", "safetensors"];

/// Seconds per target unless `--seconds` says otherwise.
const DEFAULT_SECONDS: u64 = 600;

/// Runs the fuzz targets named in `args` (all when none is named) for `--seconds N` each.
pub fn run(args: &[String]) -> Result<(), String> {
    let mut seconds = DEFAULT_SECONDS;
    let mut targets: Vec<&str> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => {
                let v = it.next().ok_or("--seconds needs a number")?;
                seconds = v.parse().map_err(|_| format!("--seconds `{v}`: expected whole seconds"))?;
            }
            t if TARGETS.contains(&t) => targets.push(t),
            other => return Err(format!("unknown fuzz target `{other}` (targets: {})", TARGETS.join(", "))),
        }
    }
    if targets.is_empty() {
        targets = TARGETS.to_vec();
    }
    // rustup's `cargo` proxy picks the nightly toolchain; cargo-fuzz needs it for the sanitizer flags.
    if !util::succeeds("cargo", &["+nightly", "fuzz", "--version"]) {
        return Err("cargo fuzz needs a nightly toolchain and cargo-fuzz: \
                    `rustup toolchain install nightly && cargo install cargo-fuzz`"
            .into());
    }
    let dir = util::root().join("fuzz");
    for t in targets {
        let work = format!("work/{t}");
        let seeds = format!("corpus/{t}");
        std::fs::create_dir_all(dir.join(&work)).map_err(|e| format!("fuzz/{work}: {e}"))?;
        println!("fuzzing {t} for {seconds} s");
        let time = format!("-max_total_time={seconds}");
        util::run_in(
            &dir,
            "cargo",
            &[
                "+nightly",
                "fuzz",
                "run",
                "-O",
                t,
                &work,
                &seeds,
                "--",
                &time,
                "-rss_limit_mb=2048",
                "-timeout=10",
                "-max_len=262144",
                "-print_final_stats=1",
            ],
        )?;
    }
    Ok(())
}
