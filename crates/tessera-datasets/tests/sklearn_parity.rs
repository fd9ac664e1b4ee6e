//! Checks against scikit-learn: the embedded datasets' shapes, names and column statistics, the split and
//! fold sizes of scikit-learn's splitters, and `make_classification`'s class counts. The fixture is written
//! by `scripts/export_datasets.py` from scikit-learn itself.

#![allow(clippy::unwrap_used)] // Tests assert by unwrapping.

use serde_json::Value;
use tessera_datasets::{
    ClassificationParams, KFold, StratifiedKFold, Task, load_embedded, make_classification,
    train_test_indices,
};

fn fixture() -> Value {
    let text = include_str!("fixtures/datasets_summary.json");
    serde_json::from_str(text).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

fn indices(v: &Value) -> Vec<usize> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as usize).collect()
}

#[test]
fn embedded_datasets_match_scikit_learn() {
    let fx = fixture();
    for (name, want) in fx["datasets"].as_object().unwrap() {
        let ds = load_embedded(name).unwrap();
        assert_eq!(ds.n_samples() as u64, want["n_samples"].as_u64().unwrap(), "{name}");
        assert_eq!(ds.n_features() as u64, want["n_features"].as_u64().unwrap(), "{name}");
        let names: Vec<String> = want["feature_names"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect();
        assert_eq!(ds.feature_names(), &names[..], "{name}");

        let x = ds.features();
        // Exact as float32 (the JSON text of an f64 may parse to a neighbouring f64, never another f32).
        let want_first: Vec<f32> = floats(&want["first_row"]).into_iter().map(|v| v as f32).collect();
        assert_eq!(x.row(0).to_vec(), want_first, "{name}: first row");
        // Column means and standard deviations, to 1e-9 relative (f64 sums of identical f32 values).
        for (j, (m, s)) in floats(&want["column_means"]).iter().zip(floats(&want["column_stds"])).enumerate()
        {
            let col = x.column(j);
            let n = col.len() as f64;
            let mean = col.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
            let std = (col.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n).sqrt();
            assert!((mean - m).abs() <= 1e-9 * m.abs().max(1.0), "{name} column {j}: mean {mean} vs {m}");
            assert!((std - s).abs() <= 1e-9 * s.abs().max(1.0), "{name} column {j}: std {std} vs {s}");
        }
        let target_mean = ds.targets().iter().map(|&v| f64::from(v)).sum::<f64>() / ds.n_samples() as f64;
        assert!((target_mean - want["target_mean"].as_f64().unwrap()).abs() < 1e-6, "{name}");

        match ds.task() {
            Task::Classification { class_names } => {
                assert_eq!(want["task"], "classification");
                let expected: Vec<&str> =
                    want["target_names"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
                assert_eq!(class_names, &expected, "{name}");
                let counts = ds.summary().class_counts;
                let got: Vec<usize> = class_names.iter().map(|c| counts[c]).collect();
                assert_eq!(got, indices(&want["class_counts"]), "{name}");
            }
            Task::Regression => assert_eq!(want["task"], "regression"),
            Task::Unlabeled => panic!("{name} has no targets"),
        }
    }
}

#[test]
fn kfold_matches_scikit_learn_exactly() {
    let fx = &fixture()["splits"];
    let n = fx["kfold_n"].as_u64().unwrap() as usize;
    let k = fx["kfold_k"].as_u64().unwrap() as usize;
    let folds = KFold::new(k).split(n).unwrap();
    for (fold, want) in folds.iter().zip(fx["kfold_test"].as_array().unwrap()) {
        assert_eq!(fold.test, indices(want));
        assert_eq!(fold.train.len() + fold.test.len(), n);
    }
}

#[test]
fn stratified_kfold_matches_scikit_learn_exactly() {
    let fx = &fixture()["splits"];
    let labels: Vec<f32> = floats(&fx["stratified_labels"]).into_iter().map(|v| v as f32).collect();
    let k = fx["stratified_k"].as_u64().unwrap() as usize;
    let folds = StratifiedKFold::new(k).split(&labels).unwrap();
    for (fold, want) in folds.iter().zip(fx["stratified_test"].as_array().unwrap()) {
        assert_eq!(fold.test, indices(want));
    }
}

#[test]
fn train_test_sizes_and_stratified_counts_match_scikit_learn() {
    let fx = &fixture()["splits"];
    for case in fx["train_test_sizes"].as_array().unwrap() {
        let c = case.as_array().unwrap();
        let (n, frac) = (c[0].as_u64().unwrap() as usize, c[1].as_f64().unwrap());
        let split = train_test_indices(n, frac, 0, None).unwrap();
        assert_eq!(split.train.len() as u64, c[2].as_u64().unwrap(), "n={n} frac={frac}");
        assert_eq!(split.test.len() as u64, c[3].as_u64().unwrap(), "n={n} frac={frac}");
    }
    let labels: Vec<f32> = floats(&fx["stratified_labels"]).into_iter().map(|v| v as f32).collect();
    for case in fx["stratified_test_counts"].as_array().unwrap() {
        let c = case.as_array().unwrap();
        let frac = c[0].as_f64().unwrap();
        let split = train_test_indices(labels.len(), frac, 3, Some(&labels)).unwrap();
        let mut counts = vec![0usize; 3];
        for &i in &split.test {
            counts[labels[i] as usize] += 1;
        }
        assert_eq!(counts, indices(&c[1]), "stratified test counts at {frac}");
    }
}

#[test]
fn make_classification_class_counts_match_scikit_learn() {
    let fx = &fixture()["make_classification"]["flip_free_class_counts"];
    for case in fx.as_array().unwrap() {
        let params = ClassificationParams {
            n_samples: case["n_samples"].as_u64().unwrap() as usize,
            n_features: 8,
            n_informative: 4,
            n_redundant: 2,
            n_classes: case["n_classes"].as_u64().unwrap() as usize,
            n_clusters_per_class: case["n_clusters_per_class"].as_u64().unwrap() as usize,
            weights: case["weights"].as_array().map(|w| w.iter().map(|v| v.as_f64().unwrap()).collect()),
            flip_y: 0.0,
            ..Default::default()
        };
        let ds = make_classification(&params).unwrap();
        let mut counts = vec![0usize; params.n_classes];
        for &y in ds.targets() {
            counts[y as usize] += 1;
        }
        assert_eq!(counts, indices(&case["class_counts"]), "{params:?}");
    }
}
