//! XGBoost model interoperability: models saved by XGBoost 3.2 (`scripts/xgboost_models.py`) load into
//! tessera's booster and predict XGBoost's own margins to 1e-5, missing values included.

#![allow(clippy::unwrap_used)] // Tests assert by unwrapping.

use std::path::PathBuf;

use ndarray::Array2;
use serde_json::Value;
use tessera_datasets::load_embedded;
use tessera_trees::{Model, load_xgboost_json};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/xgboost").join(name)
}

fn check(name: &str, dataset: &str) {
    let model = load_xgboost_json(fixture(&format!("{name}.json"))).unwrap();
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture(&format!("{name}.margins.json"))).unwrap())
            .unwrap();
    let mut x: Array2<f32> = load_embedded(dataset).unwrap().features().to_owned();
    if expected["missing"].as_bool().unwrap() {
        for ((r, c), v) in x.indexed_iter_mut() {
            if (r * 31 + c * 7) % 11 == 0 {
                *v = f32::NAN;
            }
        }
    }
    let margins = model.predict_margin(x.view(), None).unwrap();
    let want = &expected["margins"];
    let mut worst = 0.0f64;
    for (i, row) in margins.outer_iter().enumerate() {
        for (k, &m) in row.iter().enumerate() {
            let w = if row.len() == 1 { want[i].as_f64().unwrap() } else { want[i][k].as_f64().unwrap() };
            worst = worst.max((f64::from(m) - w).abs());
        }
    }
    assert!(worst <= 1e-5, "{name}: worst margin difference {worst}");
    // Predictions go through the objective's transform.
    let pred = model.predict(x.view()).unwrap();
    assert_eq!(pred.len(), x.nrows());
}

#[test]
fn binary_logistic_with_missing_values() {
    check("breast_cancer_logistic", "breast_cancer");
}

#[test]
fn multiclass_softprob() {
    check("iris_softprob", "iris");
}

#[test]
fn regression_objectives() {
    check("diabetes_squarederror", "diabetes");
    check("diabetes_absoluteerror", "diabetes");
    check("diabetes_poisson", "diabetes");
}

#[test]
fn bad_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.json");
    std::fs::write(&path, "{\"learner\": {\"objective\": {\"name\": \"rank:pairwise\"}}}").unwrap();
    let e = load_xgboost_json(&path).unwrap_err().to_string();
    assert!(e.contains("rank:pairwise") && e.contains("m.json"), "{e}");
    std::fs::write(&path, "not json").unwrap();
    assert!(load_xgboost_json(&path).unwrap_err().to_string().contains("not valid JSON"));
}

/// tessera's boosters saved in XGBoost's schema load back with the same margins (XGBoost itself loads these
/// files too: `scripts/check_xgboost_export.py` measured a worst margin difference of 4.8e-7 with XGBoost 3.2).
#[test]
fn saved_boosters_round_trip_through_xgboost_json() {
    use tessera_trees::{
        BoosterParams, HistGradientBooster, Objective, booster_from_xgboost_json, booster_to_xgboost_json,
    };
    for (name, objective) in [
        ("breast_cancer", Objective::Logistic),
        ("iris", Objective::Softprob),
        ("diabetes", Objective::SquaredError),
        ("diabetes", Objective::Poisson),
        ("diabetes", Objective::PseudoHuber { slope: 50.0 }),
    ] {
        let data = load_embedded(name).unwrap();
        let b = HistGradientBooster {
            params: BoosterParams { objective, n_estimators: 10, ..Default::default() },
        };
        let model = b.fit(data.features(), data.targets()).unwrap();
        let text = booster_to_xgboost_json(&model, None);
        let back = booster_from_xgboost_json(&text, "memory".as_ref()).unwrap();
        assert_eq!(back.objective, objective);
        let (a, b) = (
            model.predict_margin(data.features(), None).unwrap(),
            back.predict_margin(data.features(), None).unwrap(),
        );
        let worst = a.iter().zip(b.iter()).map(|(u, v)| f64::from((u - v).abs())).fold(0.0, f64::max);
        assert!(worst <= 1e-5, "{name} {objective:?}: {worst}");
    }
}

/// TreeSHAP contributions of XGBoost's own models equal XGBoost's `pred_contribs` (first 40 rows), and
/// every output's contributions sum to its margin.
#[test]
fn tree_shap_matches_xgboost_pred_contribs() {
    for (name, dataset) in [
        ("breast_cancer_logistic", "breast_cancer"),
        ("iris_softprob", "iris"),
        ("diabetes_squarederror", "diabetes"),
        ("diabetes_poisson", "diabetes"),
    ] {
        let model = load_xgboost_json(fixture(&format!("{name}.json"))).unwrap();
        let expected: Value =
            serde_json::from_str(&std::fs::read_to_string(fixture(&format!("{name}.margins.json"))).unwrap())
                .unwrap();
        let mut x: Array2<f32> =
            load_embedded(dataset).unwrap().features().slice(ndarray::s![..40, ..]).to_owned();
        if expected["missing"].as_bool().unwrap() {
            for ((r, c), v) in x.indexed_iter_mut() {
                if (r * 31 + c * 7) % 11 == 0 {
                    *v = f32::NAN;
                }
            }
        }
        let contrib = model.predict_contributions(x.view()).unwrap();
        let margins = model.predict_margin(x.view(), None).unwrap();
        let d = x.ncols();
        let want = &expected["contributions"];
        let mut worst = 0.0f64;
        for i in 0..x.nrows() {
            for k in 0..model.n_outputs {
                let group = contrib.row(i).slice(ndarray::s![k * (d + 1)..(k + 1) * (d + 1)]).to_owned();
                let sum: f64 = group.iter().map(|&v| f64::from(v)).sum();
                assert!(
                    (sum - f64::from(margins[[i, k]])).abs() < 1e-3,
                    "{name}: contributions do not sum to the margin"
                );
                for j in 0..=d {
                    let w = if model.n_outputs == 1 {
                        want[i][j].as_f64().unwrap()
                    } else {
                        want[i][k][j].as_f64().unwrap()
                    };
                    worst = worst.max((f64::from(group[j]) - w).abs());
                }
            }
        }
        assert!(worst < 1e-4, "{name}: worst contribution difference {worst}");
    }
}
