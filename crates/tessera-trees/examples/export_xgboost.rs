//! Trains tessera's histogram booster with each objective on the embedded datasets (and with categorical
//! splits on the categorical test fixture) and writes the models in XGBoost's JSON schema with tessera's margins, for `scripts/check_xgboost_export.py` to load with
//! XGBoost and compare.
//!
//! Run: `cargo run --release -p tessera-trees --example export_xgboost -- target/xgb-export`

use std::path::PathBuf;

use ndarray::{Array2, ArrayView2};
use tessera_datasets::{CsvOptions, load_embedded, read_csv};
use tessera_trees::{BoosterParams, HistGradientBooster, Objective, booster_to_xgboost_json};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "target/xgb-export".to_string()));
    std::fs::create_dir_all(&out)?;
    let cases = [
        ("breast_cancer", Objective::Logistic, true),
        ("iris", Objective::Softprob, false),
        ("diabetes", Objective::SquaredError, false),
        ("diabetes", Objective::AbsoluteError, false),
        ("diabetes", Objective::Poisson, false),
        ("diabetes", Objective::PseudoHuber { slope: 50.0 }, false),
    ];
    for (i, (name, objective, missing)) in cases.into_iter().enumerate() {
        let mut x = load_embedded(name)?.features().to_owned();
        let y = load_embedded(name)?.targets().to_owned();
        if missing {
            for ((r, c), v) in x.indexed_iter_mut() {
                if (r * 31 + c * 7) % 11 == 0 {
                    *v = f32::NAN;
                }
            }
        }
        let params = BoosterParams { objective, n_estimators: 20, max_depth: 4, ..Default::default() };
        export(&out, &format!("{i}_{name}"), x.view(), y.view(), params)?;
    }
    // Categorical splits (the `store` and `weekday` columns).
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/categorical.csv");
    for (target, objective) in [("sales", Objective::SquaredError), ("busy", Objective::Logistic)] {
        let options = CsvOptions {
            features: Some(["store", "weekday", "price", "temperature"].map(String::from).to_vec()),
            ..CsvOptions::with_target(target)
        };
        let data = read_csv(&fixture, &options)?;
        let params = BoosterParams {
            objective,
            n_estimators: 20,
            max_depth: 4,
            categorical_features: vec![0, 1],
            ..Default::default()
        };
        export(&out, &format!("categorical_{target}"), data.features(), data.targets(), params)?;
    }
    Ok(())
}

/// Fits a booster and writes its XGBoost JSON, its margins and the rows.
fn export(
    out: &std::path::Path,
    stem: &str,
    x: ArrayView2<'_, f32>,
    y: ndarray::ArrayView1<'_, f32>,
    params: BoosterParams,
) -> Result<(), Box<dyn std::error::Error>> {
    let model = HistGradientBooster { params }.fit(x, y)?;
    let margins: Array2<f32> = model.predict_margin(x, None)?;
    std::fs::write(out.join(format!("{stem}.json")), booster_to_xgboost_json(&model, None))?;
    let rows: Vec<Vec<f32>> = margins.outer_iter().map(|r| r.to_vec()).collect();
    let x_rows: Vec<Vec<Option<f32>>> =
        x.outer_iter().map(|r| r.iter().map(|v| (!v.is_nan()).then_some(*v)).collect()).collect();
    std::fs::write(
        out.join(format!("{stem}.margins.json")),
        serde_json::json!({ "margins": rows, "x": x_rows }).to_string(),
    )?;
    println!("wrote {stem}");
    Ok(())
}
