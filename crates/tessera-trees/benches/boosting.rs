//! Histogram-booster benchmarks ("Trees II"), one JSON object per line (read by `cargo xtask bench
//! boosting`, which also runs XGBoost and LightGBM on the same CSV files through
//! `scripts/bench_boosters.py`).
//!
//! 1. `make_classification` 1,000,000 x 28 (20 informative, seed 0), 80/20 split, binary:logistic, 500
//!    rounds, depth 6, eta 0.1, max_bin 256;
//! 2. `make_friedman1` 500,000 x 20 (noise 1, seed 0), 80/20 split, reg:squarederror, same parameters.
//!
//! Run: `cargo bench -p tessera-trees --bench boosting`

use std::time::Instant;

use ndarray::s;

mod support;
use support::{bench_data, peak_rss_mib, progress};
use tessera_datasets::{
    ClassificationParams, CsvOptions, Dataset, Friedman1Params, make_classification, make_friedman1,
    read_csv, write_csv,
};
use tessera_trees::{BoosterParams, HistGradientBooster, Model, Objective, metrics};

fn data(
    name: &str,
    make: impl FnOnce() -> tessera_datasets::Result<Dataset>,
) -> Result<Dataset, Box<dyn std::error::Error>> {
    let path = bench_data(name);
    if !path.exists() {
        write_csv(&make()?, &path)?;
    }
    Ok(read_csv(&path, &CsvOptions::with_target("target"))?)
}

fn run(bench: &str, ds: &Dataset, objective: Objective) -> Result<(), Box<dyn std::error::Error>> {
    progress(bench);
    let n_train = ds.n_samples() * 4 / 5;
    let (x, y) = (ds.features(), ds.targets());
    let (xtr, ytr) = (x.slice(s![..n_train, ..]), y.slice(s![..n_train]));
    let (xte, yte) = (x.slice(s![n_train.., ..]), y.slice(s![n_train..]));
    let params = BoosterParams {
        objective,
        n_estimators: 500,
        learning_rate: 0.1,
        max_depth: 6,
        ..Default::default()
    };
    let t = Instant::now();
    let model = HistGradientBooster { params }.fit(xtr, ytr)?;
    let fit_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let pred = model.predict(xte)?;
    let predict_s = t.elapsed().as_secs_f64();
    let quality = match objective {
        Objective::Logistic => {
            let auc = metrics::roc_auc(yte, model.predict_proba(xte)?.column(1), 1.0)?;
            format!("\"auc\":{auc:.5}")
        }
        _ => format!("\"rmse\":{:.5}", metrics::rmse(yte, pred.view())?),
    };
    println!(
        "{{\"bench\":\"{bench}\",\"impl\":\"tessera\",\"params\":\"{} train rows x {}, 500 rounds, depth 6, eta 0.1, {} threads\",\
         \"fit_s\":{fit_s:.3},\"predict_rows_per_s\":{:.0},{quality},\"peak_rss_mib\":{:.0}}}",
        n_train,
        ds.n_features(),
        rayon::current_num_threads(),
        xte.nrows() as f64 / predict_s,
        peak_rss_mib()
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let only: Option<String> = std::env::args().nth(1).filter(|a| !a.starts_with('-'));
    let wanted = |n: &str| only.as_deref().is_none_or(|o| o == n);
    if wanted("binary_1m") {
        let ds = data("boost_classification_1m.csv", || {
            make_classification(&ClassificationParams {
                n_samples: 1_000_000,
                n_features: 28,
                n_informative: 20,
                n_redundant: 2,
                seed: 0,
                ..Default::default()
            })
        })?;
        run("binary_1m", &ds, Objective::Logistic)?;
    }
    if wanted("regression_500k") {
        let ds = data("boost_friedman_500k.csv", || {
            make_friedman1(&Friedman1Params { n_samples: 500_000, n_features: 20, noise: 1.0, seed: 0 })
        })?;
        run("regression_500k", &ds, Objective::SquaredError)?;
    }
    Ok(())
}
