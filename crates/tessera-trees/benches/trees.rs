//! Tree-ensemble benchmarks, printed as one JSON object per line (read by `cargo xtask bench trees`).
//!
//! Data: `make_classification` 200,000 x 28 (20 informative, seed 0), written to
//! `target/bench-data/trees_200k.csv` so the scikit-learn script reads the very same rows; the first 80%
//! of rows train, the rest test.
//!
//! Run: `cargo bench -p tessera-trees --bench trees`

use std::io::IsTerminal;
use std::time::Instant;

use ndarray::{ArrayView2, s};

mod support;
use support::{bench_data, peak_rss_mib, progress};
use tessera_datasets::{ClassificationParams, CsvOptions, make_classification, read_csv, write_csv};
use tessera_trees::{
    AdaBoostClassifier, BoosterParams, Estimator, ExtraTreesClassifier, HistGradientBooster, Model,
    Objective, RandomForestClassifier, metrics,
};

/// A fitted model, as a closure from rows to predictions.
type Predictor = Box<dyn Fn(ArrayView2<'_, f32>) -> Vec<f32>>;

/// Prints the forest's size on stderr when it is a terminal or `TESSERA_BENCH_VERBOSE` is set.
fn describe(m: &tessera_trees::FittedForest) {
    if std::io::stderr().is_terminal() || std::env::var_os("TESSERA_BENCH_VERBOSE").is_some() {
        let nodes: usize = m.trees.iter().map(|t| t.node_count()).sum();
        let depth: usize = m.trees.iter().map(|t| t.depth()).sum();
        eprintln!(
            "bench:   {} nodes per tree, max depth {} on average",
            nodes / m.trees.len(),
            depth / m.trees.len()
        );
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = bench_data("trees_200k.csv");
    if !path.exists() {
        progress("writing the 200,000 x 28 dataset");
        let ds = make_classification(&ClassificationParams {
            n_samples: 200_000,
            n_features: 28,
            n_informative: 20,
            n_redundant: 2,
            seed: 0,
            ..Default::default()
        })?;
        write_csv(&ds, &path)?;
    }
    let ds = read_csv(&path, &CsvOptions::with_target("target"))?;
    let n_train = ds.n_samples() * 4 / 5;
    let (x, y) = (ds.features(), ds.targets());
    let (xtr, ytr) = (x.slice(s![..n_train, ..]), y.slice(s![..n_train]));
    let (xte, yte) = (x.slice(s![n_train.., ..]), y.slice(s![n_train..]));
    let threads = rayon::current_num_threads();
    let only: Option<String> = std::env::args().nth(1).filter(|a| !a.starts_with('-'));
    let run = |name: &str| only.as_deref().is_none_or(|o| o == name);

    let report = |bench: &str, params: &str, fit: f64, rows_per_s: f64, acc: f64| {
        println!(
            "{{\"bench\":\"{bench}\",\"impl\":\"tessera\",\"params\":\"{params}, {threads} threads\",\"fit_s\":{fit:.3},\
             \"predict_rows_per_s\":{rows_per_s:.0},\"accuracy\":{acc:.4},\"peak_rss_mib\":{:.0}}}",
            peak_rss_mib()
        );
    };
    // `fit` returns a predictor; accuracy is measured on the test rows, throughput as the best of three
    // predictions of all 200,000 rows.
    let measure = |bench: &str, params: &str, fit: &dyn Fn() -> Predictor| {
        progress(bench);
        let t = Instant::now();
        let predictor = fit();
        let fit_s = t.elapsed().as_secs_f64();
        let pred = predictor(xte);
        let acc = metrics::accuracy(yte, ndarray::ArrayView1::from(&pred)).unwrap_or(0.0);
        let best = (0..3)
            .map(|_| {
                let t = Instant::now();
                let _ = predictor(x);
                t.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min);
        report(bench, params, fit_s, x.nrows() as f64 / best, acc);
    };
    if run("random_forest") {
        measure("random_forest", "160000x28 train, 100 trees", &|| {
            let m = RandomForestClassifier::new().n_estimators(100).fit(xtr, ytr).expect("fit");
            describe(&m);
            Box::new(move |rows| m.predict(rows).expect("predict").to_vec())
        });
    }
    if run("extra_trees") {
        measure("extra_trees", "160000x28 train, 100 trees", &|| {
            let m = ExtraTreesClassifier::new().n_estimators(100).fit(xtr, ytr).expect("fit");
            describe(&m);
            Box::new(move |rows| m.predict(rows).expect("predict").to_vec())
        });
    }
    if run("adaboost") {
        measure("adaboost", "160000x28 train, 100 stumps", &|| {
            let m = AdaBoostClassifier::new().n_estimators(100).fit(xtr, ytr).expect("fit");
            Box::new(move |rows| m.predict(rows).expect("predict").to_vec())
        });
    }
    if run("hist_booster") {
        measure("hist_booster", "160000x28 train, 100 rounds, depth 6, eta 0.3", &|| {
            let b = HistGradientBooster {
                params: BoosterParams {
                    objective: Objective::Logistic,
                    n_estimators: 100,
                    ..Default::default()
                },
            };
            let m = b.fit(xtr, ytr).expect("fit");
            Box::new(move |rows| m.predict(rows).expect("predict").to_vec())
        });
    }
    Ok(())
}
