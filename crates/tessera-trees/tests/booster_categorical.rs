//! Categorical splits of the histogram booster against XGBoost 3.2 with `enable_categorical`
//! (`scripts/categorical_parity.py`): test scores on a dataset with a 40-category and a 3-category feature,
//! XGBoost's own categorical models predicting its margins (invalid and unseen categories included), and
//! round trips through tessera's and XGBoost's JSON.

#![allow(clippy::unwrap_used)] // Tests assert by unwrapping.

use std::path::PathBuf;

use ndarray::{Array2, ArrayView1, s};
use serde_json::Value;
use tessera_datasets::{CsvOptions, read_csv};
use tessera_trees::{
    BoosterParams, HistGradientBooster, Model, Objective, booster_from_xgboost_json, booster_to_xgboost_json,
    load_xgboost_json, metrics,
};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn expected() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join("xgboost_categorical.json")).unwrap())
        .unwrap()
}

/// Features (store, weekday, price, temperature) and the target `target` of the fixture.
fn data(target: &str) -> (Array2<f32>, Vec<f32>) {
    let options = CsvOptions {
        features: Some(["store", "weekday", "price", "temperature"].map(String::from).to_vec()),
        ..CsvOptions::with_target(target)
    };
    let ds = read_csv(fixtures().join("categorical.csv"), &options).unwrap();
    (ds.features().to_owned(), ds.targets().to_vec())
}

fn params(objective: Objective, categorical: bool) -> BoosterParams {
    BoosterParams {
        objective,
        n_estimators: 100,
        max_depth: 4,
        learning_rate: 0.1,
        categorical_features: if categorical { vec![0, 1] } else { Vec::new() },
        ..Default::default()
    }
}

/// Test RMSE within 2% of XGBoost's and AUC within 0.005 (or better), and categorical splits doing
/// better than reading the categories as numbers.
#[test]
fn scores_match_xgboost_with_categorical_features() {
    let want = expected();
    let n_train = want["n_train"].as_u64().unwrap() as usize;
    let (x, y) = data("sales");
    let (xtr, xte) = (x.slice(s![..n_train, ..]), x.slice(s![n_train.., ..]));
    let ytr = ArrayView1::from(&y[..n_train]);
    let yte = ArrayView1::from(&y[n_train..]);
    let rmse = |categorical: bool| {
        let model = HistGradientBooster { params: params(Objective::SquaredError, categorical) }
            .fit(xtr, ytr)
            .unwrap();
        metrics::rmse(yte, model.predict(xte).unwrap().view()).unwrap()
    };
    let (with, without) = (rmse(true), rmse(false));
    let xgb = want["categorical"]["rmse"].as_f64().unwrap();
    assert!(with <= xgb * 1.02, "RMSE {with} vs XGBoost {xgb}");
    assert!(with < without * 0.95, "categorical {with} vs as numbers {without}");

    let (x, y) = data("busy");
    let (xtr, xte) = (x.slice(s![..n_train, ..]), x.slice(s![n_train.., ..]));
    let ytr = ArrayView1::from(&y[..n_train]);
    let yte = ArrayView1::from(&y[n_train..]);
    let model = HistGradientBooster { params: params(Objective::Logistic, true) }.fit(xtr, ytr).unwrap();
    let auc = metrics::roc_auc(yte, model.predict_proba(xte).unwrap().column(1), 1.0).unwrap();
    let xgb = want["categorical"]["auc"].as_f64().unwrap();
    assert!(auc >= xgb - 0.005, "AUC {auc} vs XGBoost {xgb}");
}

/// XGBoost's categorical models predict XGBoost's margins to 1e-5 on every row, and on rows with negative,
/// fractional, unseen, huge and missing categories; TreeSHAP contributions match `pred_contribs`.
#[test]
fn xgboost_categorical_models_predict_its_margins() {
    let (x, _) = data("sales");
    for name in ["categorical_squarederror", "categorical_logistic"] {
        let model = load_xgboost_json(fixtures().join(format!("xgboost/{name}.json"))).unwrap();
        let want: Value = serde_json::from_str(
            &std::fs::read_to_string(fixtures().join(format!("xgboost/{name}.margins.json"))).unwrap(),
        )
        .unwrap();
        let margins = model.predict_margin(x.view(), None).unwrap();
        let worst = margins
            .iter()
            .zip(want["margins"].as_array().unwrap())
            .map(|(&m, w)| (f64::from(m) - w.as_f64().unwrap()).abs())
            .fold(0.0, f64::max);
        assert!(worst <= 1e-5, "{name}: worst margin difference {worst}");
        let extra: Vec<f32> = want["extra_rows"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r.as_array().unwrap().iter().map(|v| v.as_f64().map_or(f32::NAN, |f| f as f32)))
            .collect();
        let extra = Array2::from_shape_vec((extra.len() / 4, 4), extra).unwrap();
        let margins = model.predict_margin(extra.view(), None).unwrap();
        for (i, (&m, w)) in margins.iter().zip(want["extra_margins"].as_array().unwrap()).enumerate() {
            assert!((f64::from(m) - w.as_f64().unwrap()).abs() <= 1e-5, "{name}: extra row {i}: {m} vs {w}");
        }
        let rows = x.slice(s![..40, ..]);
        let contrib = model.predict_contributions(rows).unwrap();
        let want_c = &want["contributions"];
        for i in 0..40 {
            for j in 0..5 {
                let w = want_c[i][j].as_f64().unwrap();
                assert!((f64::from(contrib[[i, j]]) - w).abs() < 1e-4, "{name}: contribution [{i}, {j}]");
            }
        }
    }
}

/// A fitted categorical model predicts the same after saving and loading, in tessera's JSON and in
/// XGBoost's schema (where the categorical features are typed `c`).
#[test]
fn categorical_models_round_trip() {
    let (x, y) = data("sales");
    let mut p = params(Objective::SquaredError, true);
    p.n_estimators = 20;
    let model = HistGradientBooster { params: p }.fit(x.view(), ArrayView1::from(&y)).unwrap();
    assert!(model.trees.iter().any(|t| t.root_feature() == Some(0)), "no tree splits on the store first");
    let before = model.predict_margin(x.view(), None).unwrap();
    let text = booster_to_xgboost_json(&model, None);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["learner"]["feature_types"][0], "c");
    let back = booster_from_xgboost_json(&text, "memory".as_ref()).unwrap();
    assert_eq!(back.predict_margin(x.view(), None).unwrap(), before);
    let own = serde_json::to_string(&model).unwrap();
    let back: tessera_trees::FittedBooster = serde_json::from_str(&own).unwrap();
    assert_eq!(back.predict_margin(x.view(), None).unwrap(), before);
}

/// Categories must be non-negative integers below 2^24; bad categorical parameters are clear errors.
#[test]
fn bad_categorical_input_is_a_clear_error() {
    let (mut x, y) = data("sales");
    let y = ArrayView1::from(&y);
    let fit = |x: &Array2<f32>, p: BoosterParams| HistGradientBooster { params: p }.fit(x.view(), y);
    let e = fit(&x, BoosterParams { categorical_features: vec![7], ..Default::default() }).unwrap_err();
    assert!(
        matches!(&e, tessera_trees::Error::InvalidParameter { name, found, .. } if name == "categorical_features" && found == "7"),
        "{e}"
    );
    let p = BoosterParams {
        categorical_features: vec![1],
        monotone_constraints: vec![0, 1, 0, 0],
        ..Default::default()
    };
    assert!(fit(&x, p).unwrap_err().to_string().contains("feature 1 has both"));
    x[[3, 0]] = 2.5;
    let e = fit(&x, params(Objective::SquaredError, true)).unwrap_err().to_string();
    assert!(e.contains("categorical feature 0") && e.contains("2.5"), "{e}");
    for bad in [-3.0, 16_777_216.0] {
        x[[3, 0]] = bad;
        let e = fit(&x, params(Objective::SquaredError, true)).unwrap_err().to_string();
        assert!(e.contains(&bad.to_string()), "{e}");
    }
}

/// Categorical splits under loss-guided growth and with several outputs (softprob) learn and survive the
/// XGBoost JSON round trip.
#[test]
fn categorical_splits_with_lossguide_and_softprob() {
    let (x, y) = data("sales");
    let n_train = expected()["n_train"].as_u64().unwrap() as usize;
    let (xtr, xte) = (x.slice(s![..n_train, ..]), x.slice(s![n_train.., ..]));
    let mut p = params(Objective::SquaredError, true);
    (p.grow_policy, p.max_depth, p.max_leaves) = (tessera_trees::GrowPolicy::Lossguide, 0, 16);
    let model = HistGradientBooster { params: p }.fit(xtr, ArrayView1::from(&y[..n_train])).unwrap();
    let rmse = metrics::rmse(ArrayView1::from(&y[n_train..]), model.predict(xte).unwrap().view()).unwrap();
    let xgb = expected()["categorical"]["rmse"].as_f64().unwrap();
    assert!(rmse < xgb * 1.05, "loss-guided RMSE {rmse} vs XGBoost depth-wise {xgb}");
    // Three classes: tertiles of the sales.
    let mut sorted = y.clone();
    sorted.sort_by(f32::total_cmp);
    let (a, b) = (sorted[y.len() / 3], sorted[2 * y.len() / 3]);
    let classes: Vec<f32> = y
        .iter()
        .map(|&v| {
            if v < a {
                0.0
            } else if v < b {
                1.0
            } else {
                2.0
            }
        })
        .collect();
    let mut p = params(Objective::Softprob, true);
    p.n_estimators = 30;
    let model = HistGradientBooster { params: p }.fit(x.view(), ArrayView1::from(&classes)).unwrap();
    let acc = metrics::accuracy(ArrayView1::from(&classes), model.predict(x.view()).unwrap().view()).unwrap();
    assert!(acc > 0.7, "softprob training accuracy {acc}");
    let back = booster_from_xgboost_json(&booster_to_xgboost_json(&model, None), "memory".as_ref()).unwrap();
    assert_eq!(back.predict_margin(x.view(), None).unwrap(), model.predict_margin(x.view(), None).unwrap());
}

/// 600 categories (numbered up to 59,940): the 254 most frequent keep bins of their own and are learnt
/// exactly; the rare ones share a bin, so each tree sends them all one way; predictions after saving in
/// XGBoost's schema are the same.
#[test]
fn high_cardinality_categories() {
    let mut rng = tessera_tensor::SeededRng::new(11);
    let n_cats = 600usize;
    let positive: Vec<bool> = (0..n_cats).map(|_| rng.uniform() < 0.5).collect();
    // Category k is frequent when k < 254 (40 rows each), rare otherwise (2 rows each).
    let mut rows = Vec::new();
    for k in 0..n_cats {
        for _ in 0..if k < 254 { 40 } else { 2 } {
            rows.push(k);
        }
    }
    let n = rows.len();
    let x = Array2::from_shape_fn((n, 2), |(i, j)| if j == 0 { (rows[i] * 99) as f32 } else { rng.normal() });
    let y: Vec<f32> = rows.iter().map(|&k| if positive[k] { 1.0 } else { 0.0 }).collect();
    let mut p = params(Objective::Logistic, false);
    (p.categorical_features, p.n_estimators) = (vec![0], 20);
    let model = HistGradientBooster { params: p }.fit(x.view(), ArrayView1::from(&y)).unwrap();
    let pred = model.predict(x.view()).unwrap();
    let frequent = rows.iter().enumerate().filter(|(_, k)| **k < 254);
    assert!(frequent.clone().all(|(i, _)| pred[i] == y[i]), "frequent categories are not all learnt");
    // The margins survive XGBoost's schema (its category lists hold the rare categories of a shared bin).
    let text = booster_to_xgboost_json(&model, None);
    let back = booster_from_xgboost_json(&text, "memory".as_ref()).unwrap();
    let (a, b) =
        (back.predict_margin(x.view(), None).unwrap(), model.predict_margin(x.view(), None).unwrap());
    // XGBoost stores binary:logistic's base score as a probability: its log-odds come back within an ulp.
    assert!(a.iter().zip(b.iter()).all(|(u, v)| (u - v).abs() <= 1e-5));
}
