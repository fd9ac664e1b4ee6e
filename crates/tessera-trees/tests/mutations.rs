//! Mutation tests of the model loaders (bounded, in CI; `cargo xtask fuzz` runs the same loaders for
//! longer under libFuzzer): valid tessera and XGBoost model files with one of their JSON values replaced
//! by a hostile one (zero, negative, huge, non-finite, wrong type, emptied), or their bytes flipped,
//! truncated or spliced. Loading is then an error or a model; a model that loads predicts without panicking,
//! and what it predicts is finite where the model is (no NaN out of finite leaves and rows).

#![allow(clippy::unwrap_used)] // Tests assert by unwrapping.

use std::path::Path;

use ndarray::Array2;
use proptest::prelude::*;
use serde_json::Value;
use tessera_trees::{AnyModel, Model, model_from_json, read_xgboost_json};

const TESSERA: &[&str] = &[
    include_str!("fixtures/saved/tree_classifier_exact.json"),
    include_str!("fixtures/saved/tree_regressor_pruned.json"),
    include_str!("fixtures/saved/adaboost_classifier.json"),
    include_str!("fixtures/saved/logistic.json"),
    include_str!("fixtures/saved/ridge.json"),
];

const XGBOOST: &[&str] = &[
    include_str!("fixtures/xgboost/diabetes_absoluteerror.json"),
    include_str!("fixtures/xgboost/diabetes_poisson.json"),
    include_str!("fixtures/xgboost/iris_softprob.json"),
];

/// Values a hostile or careless edit puts into a model file.
fn hostile(i: usize) -> Value {
    let values = [
        serde_json::json!(0),
        serde_json::json!(-1),
        serde_json::json!(1),
        serde_json::json!(4294967295u64),
        serde_json::json!(18446744073709551615u64),
        serde_json::json!(1e39),
        serde_json::json!(-1e300),
        serde_json::json!(0.5),
        serde_json::json!("NaN"),
        serde_json::json!("inf"),
        serde_json::json!("1e10"),
        serde_json::json!(null),
        serde_json::json!([]),
        serde_json::json!({}),
        serde_json::json!([0]),
        serde_json::json!(true),
    ];
    values[i % values.len()].clone()
}

/// Every path (object keys and array indices) to a value in `v`.
fn paths(v: &Value, prefix: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    out.push(prefix.clone());
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                prefix.push(Value::String(k.clone()));
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate().take(6) {
                prefix.push(Value::from(i));
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

fn at<'a>(v: &'a mut Value, path: &[Value]) -> &'a mut Value {
    path.iter().fold(v, |v, p| match p {
        Value::String(k) => &mut v[k.as_str()],
        _ => &mut v[p.as_u64().unwrap() as usize],
    })
}

/// `text` with the value at the `pick`-th path replaced by hostile value `value`.
fn replaced(text: &str, pick: usize, value: usize) -> String {
    let mut v: Value = serde_json::from_str(text).unwrap();
    let mut all = Vec::new();
    paths(&v, &mut Vec::new(), &mut all);
    let path = all[pick % all.len()].clone();
    *at(&mut v, &path) = hostile(value);
    v.to_string()
}

/// `text`'s bytes with one edit: a byte replaced, a range removed, or the text cut.
fn edited(text: &str, kind: u8, pos: usize, byte: u8) -> Vec<u8> {
    let mut b = text.as_bytes().to_vec();
    let p = pos % b.len();
    match kind % 3 {
        0 => b[p] = byte,
        1 => {
            b.drain(p..(p + 1 + byte as usize).min(b.len()));
        }
        _ => b.truncate(p),
    }
    b
}

/// Five rows of `d` features, with some missing values or none.
fn rows(d: usize, missing: bool) -> Array2<f32> {
    Array2::from_shape_fn((5, d), |(i, j)| {
        if missing && (i + j) % 4 == 0 { f32::NAN } else { (i * 3 + j) as f32 * 0.25 }
    })
}

/// A loaded model predicts without panicking, and finite leaves give finite predictions.
fn exercise(model: &impl Model) {
    let d = model.n_features();
    if d > 512 {
        return;
    }
    for missing in [true, false] {
        let x = rows(d, missing);
        if let Ok(p) = model.predict(x.view()) {
            assert_eq!(p.len(), 5);
            assert!(p.iter().all(|v| v.is_finite()), "a loaded model predicted {p:?}");
        }
        if let Ok(p) = model.predict_proba(x.view()) {
            assert!(p.iter().all(|v| v.is_finite() && (0.0..=1.0).contains(v)), "probabilities {p:?}");
        }
    }
}

fn load_tessera(bytes: &[u8]) {
    let Ok(text) = std::str::from_utf8(bytes) else { return };
    if let Ok(m) = model_from_json::<AnyModel>(text, "any", Path::new("m.json")) {
        exercise(&m);
    }
}

fn load_xgboost(bytes: &[u8]) {
    let Ok(text) = std::str::from_utf8(bytes) else { return };
    if let Ok(m) = read_xgboost_json(text, Path::new("m.json")) {
        exercise(&m.booster);
        // What loads saves to a file that loads again, predicting the same.
        let again = tessera_trees::booster_to_xgboost_json(&m.booster, None);
        let back = read_xgboost_json(&again, Path::new("again.json")).unwrap();
        if m.booster.n_features <= 512 {
            let x = rows(m.booster.n_features, true);
            assert_eq!(
                m.booster.predict_margin(x.view(), None).ok(),
                back.booster.predict_margin(x.view(), None).ok()
            );
        }
        if m.booster.n_features <= 512 {
            let _ = m.booster.predict_contributions(rows(m.booster.n_features, true).view());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn tessera_models_with_a_hostile_value(file in 0usize..TESSERA.len(), pick in any::<usize>(), value in any::<usize>()) {
        load_tessera(replaced(TESSERA[file], pick, value).as_bytes());
    }

    #[test]
    fn xgboost_models_with_a_hostile_value(file in 0usize..XGBOOST.len(), pick in any::<usize>(), value in any::<usize>()) {
        load_xgboost(replaced(XGBOOST[file], pick, value).as_bytes());
    }

    #[test]
    fn model_bytes_edited(file in 0usize..8, kind in any::<u8>(), pos in any::<usize>(), byte in any::<u8>()) {
        if file < TESSERA.len() {
            load_tessera(&edited(TESSERA[file], kind, pos, byte));
        } else {
            load_xgboost(&edited(XGBOOST[file - TESSERA.len()], kind, pos, byte));
        }
    }
}
