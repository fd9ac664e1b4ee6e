//! Parity of the histogram booster with XGBoost 3.2 (`tree_method=hist`, max_bin 256, 100 rounds, depth 6,
//! eta 0.3): `scripts/booster_parity.py` records XGBoost's 5-fold CV scores on the embedded datasets and
//! the first round's root split features on iris and digits (features with fewer distinct values than
//! max_bin). tessera must be within 1 accuracy point / 2% RMSE, or better, and pick the same root features.

#![allow(clippy::unwrap_used)] // Tests assert by unwrapping.

use ndarray::Axis;
use serde_json::Value;
use tessera_datasets::load_embedded;
use tessera_trees::{BoosterParams, HistGradientBooster, Model, Objective, metrics};

fn fixture() -> Value {
    serde_json::from_str(include_str!("fixtures/xgboost_scores.json")).unwrap()
}

fn booster(objective: &str) -> HistGradientBooster {
    HistGradientBooster {
        params: BoosterParams { objective: Objective::parse(objective).unwrap(), ..Default::default() },
    }
}

#[test]
fn cross_validated_scores_match_xgboost() {
    let fx = fixture();
    let mut report = String::new();
    let mut failures = Vec::new();
    for (name, entry) in fx["datasets"].as_object().unwrap() {
        let data = load_embedded(name).unwrap();
        let folds: Vec<usize> =
            entry["fold_of_row"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
        for (objective, want) in entry["scores"].as_object().unwrap() {
            let want = want.as_f64().unwrap();
            let regression = !objective.contains("logistic") && !objective.contains("softprob");
            let mut total = 0.0;
            for k in 0..5 {
                let train: Vec<usize> = (0..folds.len()).filter(|&i| folds[i] != k).collect();
                let test: Vec<usize> = (0..folds.len()).filter(|&i| folds[i] == k).collect();
                let (x, y) = (data.features(), data.targets());
                let m = booster(objective)
                    .fit(x.select(Axis(0), &train).view(), y.select(Axis(0), &train).view())
                    .unwrap();
                let (xv, yv) = (x.select(Axis(0), &test), y.select(Axis(0), &test));
                let pred = m.predict(xv.view()).unwrap();
                total += if regression {
                    metrics::rmse(yv.view(), pred.view()).unwrap()
                } else {
                    metrics::accuracy(yv.view(), pred.view()).unwrap()
                };
            }
            let got = total / 5.0;
            let ok = if regression { got <= want * 1.02 } else { got >= want - 0.01 };
            report.push_str(&format!(
                "{name:14} {objective:20} tessera {got:.4}  xgboost {want:.4}  {}\n",
                if ok { "ok" } else { "WORSE" }
            ));
            if !ok {
                failures.push(format!("{name}/{objective}"));
            }
        }
    }
    eprintln!("{report}");
    assert!(failures.is_empty(), "worse than XGBoost beyond tolerance: {failures:?}\n{report}");
}

#[test]
fn first_root_splits_match_xgboost() {
    let fx = fixture();
    for name in ["iris", "digits"] {
        let entry = &fx["datasets"][name];
        let want: Vec<usize> = entry["first_round_root_features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        let data = load_embedded(name).unwrap();
        let mut b = booster(entry["objective"].as_str().unwrap());
        b.params.n_estimators = 1;
        let m = b.fit(data.features(), data.targets()).unwrap();
        let got: Vec<usize> = m.trees.iter().map(|t| t.root_feature().unwrap()).collect();
        assert_eq!(got, want, "{name}: root split features of the first round");
    }
}

#[test]
fn monotone_constraints_score_like_xgboost() {
    let fx = fixture();
    let entry = &fx["monotone"];
    let want = entry["rmse"].as_f64().unwrap();
    let constraints: Vec<i8> =
        entry["constraints"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap() as i8).collect();
    let data = load_embedded("diabetes").unwrap();
    let folds: Vec<usize> = fx["datasets"]["diabetes"]["fold_of_row"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let mut b = booster("reg:squarederror");
    b.params.monotone_constraints = constraints;
    let mut total = 0.0;
    for k in 0..5 {
        let train: Vec<usize> = (0..folds.len()).filter(|&i| folds[i] != k).collect();
        let test: Vec<usize> = (0..folds.len()).filter(|&i| folds[i] == k).collect();
        let (x, y) = (data.features(), data.targets());
        let m = b.fit(x.select(Axis(0), &train).view(), y.select(Axis(0), &train).view()).unwrap();
        let pred = m.predict(x.select(Axis(0), &test).view()).unwrap();
        total += metrics::rmse(y.select(Axis(0), &test).view(), pred.view()).unwrap();
    }
    let got = total / 5.0;
    assert!(got <= want * 1.02, "monotone diabetes RMSE: tessera {got:.4}, xgboost {want:.4}");
}
