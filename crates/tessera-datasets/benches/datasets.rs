//! Benchmarks of the generators and loaders, printed as one JSON object per line (read by
//! `cargo xtask bench datasets`, which writes them into `docs/benchmarks.md`).
//!
//! Run: `cargo bench -p tessera-datasets --bench datasets`

use std::io::IsTerminal;
use std::time::Instant;

use tessera_datasets::{
    ClassificationParams, CsvOptions, EMBEDDED_NAMES, Friedman1Params, RegressionParams, load_embedded,
    make_classification, make_friedman1, make_regression, read_csv, write_csv,
};

/// Best wall time of `reps` runs of `f`, in seconds, and the last result.
fn best_of<T>(reps: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::INFINITY;
    let mut last = None;
    for _ in 0..reps {
        // Drop the previous result first, so peak memory reflects one run.
        drop(last.take());
        let t = Instant::now();
        let out = f();
        best = best.min(t.elapsed().as_secs_f64());
        last = Some(out);
    }
    (best, last.expect("reps >= 1"))
}

/// Peak resident memory of this process so far, in MiB (Linux; 0 elsewhere).
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1024.0)
}

fn report(bench: &str, params: &str, seconds: f64, rows: usize, extra: &str) {
    println!(
        "{{\"bench\":\"{bench}\",\"impl\":\"tessera\",\"params\":\"{params}\",\"seconds\":{seconds:.4},\
         \"rows_per_s\":{:.0},\"peak_rss_mib\":{:.0}{extra}}}",
        rows as f64 / seconds,
        peak_rss_mib()
    );
}

fn progress(what: &str) {
    if std::io::stderr().is_terminal() {
        eprintln!("bench: {what} ...");
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let threads = rayon::current_num_threads();
    progress("make_classification 1,000,000 x 28");
    let p = ClassificationParams {
        n_samples: 1_000_000,
        n_features: 28,
        n_informative: 20,
        n_redundant: 2,
        seed: 0,
        ..Default::default()
    };
    let (secs, ds) = best_of(3, || make_classification(&p));
    let ds = ds?;
    report(
        "make_classification",
        &format!("1000000x28, 20 informative, {threads} threads"),
        secs,
        1_000_000,
        "",
    );
    drop(ds);

    progress("make_regression 500,000 x 20");
    let r = RegressionParams {
        n_samples: 500_000,
        n_features: 20,
        n_informative: 10,
        noise: 1.0,
        ..Default::default()
    };
    let (secs, out) = best_of(3, || make_regression(&r));
    out?;
    report("make_regression", &format!("500000x20, {threads} threads"), secs, 500_000, "");

    progress("make_friedman1 500,000 x 20");
    let f = Friedman1Params { n_samples: 500_000, n_features: 20, noise: 1.0, seed: 0 };
    let (secs, out) = best_of(3, || make_friedman1(&f));
    out?;
    report("make_friedman1", &format!("500000x20, {threads} threads"), secs, 500_000, "");

    progress("CSV write and read, 200,000 x 28");
    let small = make_classification(&ClassificationParams { n_samples: 200_000, ..p.clone() })?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("bench.csv");
    let (secs, out) = best_of(3, || write_csv(&small, &path));
    out?;
    let mb = std::fs::metadata(&path)?.len() as f64 / 1e6;
    report("write_csv", "200000x28", secs, 200_000, &format!(",\"mb_per_s\":{:.0}", mb / secs));
    let (secs, out) = best_of(3, || read_csv(&path, &CsvOptions::with_target("target")));
    out?;
    report("read_csv", "200000x28", secs, 200_000, &format!(",\"mb_per_s\":{:.0}", mb / secs));

    progress("embedded datasets");
    let (secs, out) =
        best_of(5, || EMBEDDED_NAMES.iter().map(|n| load_embedded(n)).collect::<Result<Vec<_>, _>>());
    let rows: usize = out?.iter().map(|d| d.n_samples()).sum();
    report("load_embedded", "all five", secs, rows, "");
    Ok(())
}
