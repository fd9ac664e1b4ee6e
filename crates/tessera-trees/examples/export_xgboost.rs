//! Trains tessera's histogram booster with each objective on the embedded datasets and writes the models
//! in XGBoost's JSON schema with tessera's margins, for `scripts/check_xgboost_export.py` to load with
//! XGBoost and compare.
//!
//! Run: `cargo run --release -p tessera-trees --example export_xgboost -- target/xgb-export`

use std::path::PathBuf;

use tessera_datasets::load_embedded;
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
        let booster = HistGradientBooster {
            params: BoosterParams { objective, n_estimators: 20, max_depth: 4, ..Default::default() },
        };
        let model = booster.fit(x.view(), y.view())?;
        let margins = model.predict_margin(x.view(), None)?;
        let stem = format!("{i}_{name}");
        std::fs::write(out.join(format!("{stem}.json")), booster_to_xgboost_json(&model, None))?;
        let rows: Vec<Vec<f32>> = margins.outer_iter().map(|r| r.to_vec()).collect();
        let x_rows: Vec<Vec<Option<f32>>> =
            x.outer_iter().map(|r| r.iter().map(|v| (!v.is_nan()).then_some(*v)).collect()).collect();
        std::fs::write(
            out.join(format!("{stem}.margins.json")),
            serde_json::json!({ "margins": rows, "x": x_rows }).to_string(),
        )?;
        println!("wrote {stem}");
    }
    Ok(())
}
