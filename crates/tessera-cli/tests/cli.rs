//! End-to-end tests of the `tessera` binary: what a user types, what they see, and the exit status.

#![allow(clippy::unwrap_used)] // Tests assert by unwrapping.

use std::process::{Command, Output};

fn tessera(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tessera")).args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn info_on_an_embedded_dataset() {
    let o = tessera(&["data", "info", "breast_cancer"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("rows:     569"), "{out}");
    assert!(out.contains("30 features"), "{out}");
    assert!(out.contains("malignant") && out.contains("212") && out.contains("357"), "{out}");
}

#[test]
fn export_then_info_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("wine.csv");
    let o = tessera(&["data", "export", "wine", "--out", csv.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = tessera(&["data", "info", csv.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["rows"], 178);
    assert_eq!(v["features"], 13);
    assert_eq!(v["task"], "classification");
    assert_eq!(v["class_counts"]["0"], 59);
    assert_eq!(v["class_counts"]["1"], 71);
    assert_eq!(v["class_counts"]["2"], 48);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&csv).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644, "exported files get ordinary permissions");
    }
}

#[test]
fn synth_writes_the_requested_shape() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("synth.csv");
    let o = tessera(&[
        "data",
        "synth",
        "classification",
        "--rows",
        "500",
        "--features",
        "7",
        "--informative",
        "3",
        "--classes",
        "3",
        "--seed",
        "4",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = tessera(&["data", "info", out.to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!((v["rows"].as_u64(), v["features"].as_u64()), (Some(500), Some(7)));
    assert_eq!(v["class_counts"].as_object().unwrap().len(), 3);
    for kind in ["regression", "friedman1"] {
        let o = tessera(&[
            "data",
            "synth",
            kind,
            "--rows",
            "50",
            "--features",
            "6",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{kind}: {}", stderr(&o));
    }
}

#[test]
fn missing_values_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.csv");
    std::fs::write(&path, "a,b,label\n1,,x\nNA,2,y\n3,4,x\n").unwrap();
    let o = tessera(&["data", "info", path.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("missing:  2 values in 2 columns"), "{out}");
    assert!(out.contains("x") && out.contains("66.7%"), "{out}");
}

#[test]
fn bad_input_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.csv");
    std::fs::write(&path, "a,b,target\n1,2,0\n1,two,1\n").unwrap();
    let o = tessera(&["data", "info", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("bad.csv:3") && err.contains("`b`") && err.contains("two"), "{err}");

    let o = tessera(&["data", "info", "no_such_thing"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("neither a file nor an embedded dataset"), "{}", stderr(&o));

    let o = tessera(&["data", "export", "mnist", "--out", "/tmp/never.csv"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no embedded dataset named `mnist`"));

    let o = tessera(&["data", "synth", "friedman1", "--features", "3", "--out", "/tmp/never.csv"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("n_features >= 5"), "{}", stderr(&o));
    assert!(!std::path::Path::new("/tmp/never.csv").exists());
}

#[test]
fn trees_train_predict_eval_with_text_labels() {
    let dir = tempfile::tempdir().unwrap();
    let train = dir.path().join("train.csv");
    let test = dir.path().join("test.csv");
    let mut text = String::from("size,weight,kind\n");
    for i in 0..60 {
        let (s, w) = (i as f32 / 10.0, (i % 7) as f32);
        text.push_str(&format!("{s},{w},{}\n", if i < 30 { "small" } else { "large" }));
    }
    std::fs::write(&train, &text).unwrap();
    // Columns in another order, and only one of the classes: matched by name.
    std::fs::write(&test, "kind,weight,size\nlarge,1,5.5\nlarge,2,4.0\n").unwrap();
    let model = dir.path().join("model.json");
    for kind in ["cart", "rf", "extra-trees", "adaboost", "bagging", "stacking", "gbdt", "hist"] {
        // A single tree has no --n-estimators (the flag is refused there).
        let rounds: &[&str] = if kind == "cart" { &[] } else { &["--n-estimators", "10"] };
        let mut args = vec![
            "trees",
            "train",
            "--model",
            kind,
            "--data",
            train.to_str().unwrap(),
            "--target",
            "kind",
            "--out",
            model.to_str().unwrap(),
        ];
        args.extend_from_slice(rounds);
        let o = tessera(&args);
        assert!(o.status.success(), "{kind}: {}", stderr(&o));
        let out = dir.path().join("pred.csv");
        let o = tessera(&[
            "trees",
            "predict",
            "--model",
            model.to_str().unwrap(),
            "--data",
            test.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{kind}: {}", stderr(&o));
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "prediction\nlarge\nlarge\n", "{kind}");
        let o = tessera(&[
            "trees",
            "predict",
            "--model",
            model.to_str().unwrap(),
            "--data",
            test.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--proba",
        ]);
        assert!(o.status.success(), "{kind}: {}", stderr(&o));
        assert!(std::fs::read_to_string(&out).unwrap().starts_with("proba_large,proba_small\n"), "{kind}");
        let o = tessera(&[
            "trees",
            "eval",
            "--model",
            model.to_str().unwrap(),
            "--data",
            test.to_str().unwrap(),
            "--target",
            "kind",
        ]);
        assert!(o.status.success(), "{kind}: {}", stderr(&o));
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        assert_eq!(v["accuracy"], 1.0, "{kind}");
    }
    // A prediction file without a needed column is a clear error.
    std::fs::write(&test, "kind,size\nlarge,5.5\n").unwrap();
    let o = tessera(&[
        "trees",
        "predict",
        "--model",
        model.to_str().unwrap(),
        "--data",
        test.to_str().unwrap(),
        "--out",
        "/tmp/never.csv",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("needs column `weight`"), "{}", stderr(&o));
    // A regression model refuses --proba and reports RMSE.
    let o = tessera(&[
        "trees",
        "train",
        "--model",
        "rf",
        "--data",
        train.to_str().unwrap(),
        "--target",
        "size",
        "--task",
        "regression",
        "--ignore",
        "kind",
        "--out",
        model.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = tessera(&[
        "trees",
        "eval",
        "--model",
        model.to_str().unwrap(),
        "--data",
        train.to_str().unwrap(),
        "--target",
        "size",
    ]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["rows"], 60);
    assert!(v["rmse"].as_f64().is_some_and(f64::is_finite) && v["r2"].is_number(), "{v}");
}

#[test]
fn hist_booster_with_eval_data_and_early_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let (train, valid, model) =
        (dir.path().join("t.csv"), dir.path().join("v.csv"), dir.path().join("m.json"));
    for (path, seed) in [(&train, "1"), (&valid, "2")] {
        let o = tessera(&[
            "data",
            "synth",
            "friedman1",
            "--rows",
            "800",
            "--features",
            "6",
            "--noise",
            "1",
            "--seed",
            seed,
            "--out",
            path.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let o = tessera(&[
        "trees",
        "train",
        "--model",
        "hist",
        "--data",
        train.to_str().unwrap(),
        "--target",
        "target",
        "--eval-data",
        valid.to_str().unwrap(),
        "--early-stopping-rounds",
        "5",
        "--n-estimators",
        "500",
        "--learning-rate",
        "0.3",
        "--lambda",
        "2",
        "--threads",
        "2",
        "--out",
        model.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("best iteration"), "{}", stderr(&o));
    let o = tessera(&[
        "trees",
        "eval",
        "--model",
        model.to_str().unwrap(),
        "--data",
        valid.to_str().unwrap(),
        "--target",
        "target",
    ]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(v["r2"].as_f64().unwrap() > 0.7, "{v}");
}

#[test]
fn predicts_with_a_model_saved_by_xgboost() {
    let model = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tessera-trees/tests/fixtures/xgboost/diabetes_squarederror.json");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.csv");
    let out = dir.path().join("p.csv");
    let o = tessera(&["data", "export", "diabetes", "--out", data.to_str().unwrap()]);
    assert!(o.status.success());
    // No feature names in the model: every column but the target, in order.
    let o = tessera(&[
        "trees",
        "eval",
        "--model",
        model.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--target",
        "target",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(v["rmse"].as_f64().unwrap() < 60.0, "{v}");
    // Contributions (TreeSHAP): one column per feature plus the bias, summing to the margin.
    let features_only = dir.path().join("x.csv");
    let text = std::fs::read_to_string(&data).unwrap();
    let stripped: String = text.lines().map(|l| l.rsplit_once(',').unwrap().0.to_string() + "\n").collect();
    std::fs::write(&features_only, stripped).unwrap();
    let o = tessera(&[
        "trees",
        "predict",
        "--model",
        model.to_str().unwrap(),
        "--data",
        features_only.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--contributions",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let written = std::fs::read_to_string(&out).unwrap();
    let mut lines = written.lines();
    assert!(lines.next().unwrap().starts_with("prediction,contrib_f0,"));
    let first: Vec<f64> = lines.next().unwrap().split(',').map(|v| v.parse().unwrap()).collect();
    let sum: f64 = first[1..].iter().sum();
    assert!((sum - first[0]).abs() < 1e-3, "contributions {sum} vs prediction {}", first[0]);
    // Predicting from a file that still holds the target column is a clear error.
    let o = tessera(&[
        "trees",
        "predict",
        "--model",
        model.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("10 features") && stderr(&o).contains("11 feature columns"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn hist_models_save_in_xgboost_format_and_load_back() {
    let dir = tempfile::tempdir().unwrap();
    let (data, model) = (dir.path().join("bc.csv"), dir.path().join("xgb.json"));
    assert!(tessera(&["data", "export", "breast_cancer", "--out", data.to_str().unwrap()]).status.success());
    let o = tessera(&[
        "trees",
        "train",
        "--model",
        "hist",
        "--data",
        data.to_str().unwrap(),
        "--target",
        "target",
        "--n-estimators",
        "20",
        "--save-format",
        "xgboost",
        "--out",
        model.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&model).unwrap();
    assert!(text.contains("\"gbtree\"") && text.contains("mean radius"), "XGBoost schema with feature names");
    // Read back as an XGBoost model (detected), columns matched by the stored names.
    let o = tessera(&[
        "trees",
        "eval",
        "--model",
        model.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--target",
        "target",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(v["accuracy"].as_f64().unwrap() > 0.99, "{v}");
    let o = tessera(&[
        "trees",
        "train",
        "--model",
        "rf",
        "--data",
        data.to_str().unwrap(),
        "--target",
        "target",
        "--save-format",
        "xgboost",
        "--out",
        model.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("does not apply to --model rf (it applies to: hist)"), "{}", stderr(&o));
}

#[test]
fn hist_booster_sampling_bins_and_eval_metric_flags() {
    let dir = tempfile::tempdir().unwrap();
    let (data, model) = (dir.path().join("d.csv"), dir.path().join("m.json"));
    let o = tessera(&["data", "export", "breast_cancer", "--out", data.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let train = |extra: &[&str]| {
        let mut args =
            vec!["trees", "train", "--model", "hist", "--data", data.to_str().unwrap(), "--target", "target"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--out", model.to_str().unwrap()]);
        tessera(&args)
    };
    let flags = [
        "--max-bin",
        "16",
        "--colsample-bylevel",
        "0.5",
        "--colsample-bynode",
        "0.5",
        "--eval-data",
        data.to_str().unwrap(),
        "--eval-metric",
        "auc",
        "--early-stopping-rounds",
        "5",
        "--n-estimators",
        "50",
    ];
    let o = train(&flags);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("best iteration"), "{}", stderr(&o));
    assert!(model.exists());
    let o = train(&["--eval-metric", "bogus"]);
    assert!(
        !o.status.success() && stderr(&o).contains("--eval-metric") && stderr(&o).contains("bogus"),
        "{}",
        stderr(&o)
    );
    let o = train(&["--monotone-constraints", "(1,0)"]);
    assert!(
        !o.status.success()
            && stderr(&o).contains("monotone_constraints")
            && stderr(&o).contains("found 2 entries"),
        "{}",
        stderr(&o)
    );
    let o = train(&["--monotone-constraints", "(1,x)"]);
    assert!(!o.status.success() && stderr(&o).contains("--monotone-constraints"), "{}", stderr(&o));
    let thirty: Vec<&str> = std::iter::once("1").chain(std::iter::repeat_n("0", 29)).collect();
    let o = train(&["--monotone-constraints", &format!("({})", thirty.join(","))]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = train(&["--max-bin", "1"]);
    assert!(!o.status.success() && stderr(&o).contains("max_bin"), "{}", stderr(&o));
}

#[test]
fn hist_booster_categorical_features_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.json");
    let preds = dir.path().join("p.csv");
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tessera-trees/tests/fixtures/categorical.csv");
    let train = |extra: &[&str]| {
        let mut args = vec![
            "trees",
            "train",
            "--model",
            "hist",
            "--data",
            data.to_str().unwrap(),
            "--target",
            "sales",
            "--n-estimators",
            "20",
        ];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--out", model.to_str().unwrap()]);
        tessera(&args)
    };
    let o = train(&[
        "--categorical-features",
        "store,weekday",
        "--max-cat-to-onehot",
        "4",
        "--max-cat-threshold",
        "32",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The model holds categorical splits (their category sets are saved).
    assert!(std::fs::read_to_string(&model).unwrap().contains("category_sets"));
    let o = tessera(&[
        "trees",
        "predict",
        "--model",
        model.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--out",
        preds.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The column `busy` is a feature here: indices count the features.
    let o = train(&["--categorical-features", "0,1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = train(&["--categorical-features", "shop"]);
    assert!(!o.status.success() && stderr(&o).contains("`shop` is neither"), "{}", stderr(&o));
    let o = train(&["--categorical-features", "price"]);
    assert!(!o.status.success() && stderr(&o).contains("column `price` holds"), "{}", stderr(&o));
}

#[test]
fn early_stopping_predicts_with_the_best_round_unless_asked_for_all() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    for (name, seed) in [("train.csv", "1"), ("valid.csv", "2")] {
        let o = tessera(&[
            "data",
            "synth",
            "friedman1",
            "--rows",
            "400",
            "--noise",
            "1",
            "--seed",
            seed,
            "--out",
            &p(name),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let o = tessera(&[
        "trees",
        "train",
        "--model",
        "hist",
        "--n-estimators",
        "300",
        "--learning-rate",
        "0.5",
        "--data",
        &p("train.csv"),
        "--target",
        "target",
        "--eval-data",
        &p("valid.csv"),
        "--early-stopping-rounds",
        "5",
        "--out",
        &p("m.json"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("predictions use rounds 0..="), "{}", stderr(&o));
    let (model, valid) = (p("m.json"), p("valid.csv"));
    let eval = |extra: &[&str]| {
        let mut args = vec!["trees", "eval", "--model", &model, "--data", &valid, "--target", "target"];
        args.extend_from_slice(extra);
        let o = tessera(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        v["rmse"].as_f64().unwrap()
    };
    let (best, all) = (eval(&[]), eval(&["--all-rounds"]));
    assert!(best < all, "the best round scores better on the set that chose it: {best} vs {all}");
}

#[test]
fn data_split_partitions_rows_byte_for_byte_and_stratifies() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    // 60 rows of class a, 30 of b, 10 of c; a quoted text column that must survive as written.
    let mut text = String::from("id,note,label\n");
    for i in 0..100 {
        let label = if i < 60 {
            "a"
        } else if i < 90 {
            "b"
        } else {
            "c"
        };
        text.push_str(&format!("{i},\"x, {i}\",{label}\n"));
    }
    std::fs::write(p("all.csv"), &text).unwrap();
    let split = |seed: &str| {
        let o = tessera(&[
            "data",
            "split",
            "--data",
            &p("all.csv"),
            "--test-size",
            "0.2",
            "--valid-size",
            "10",
            "--stratify",
            "label",
            "--seed",
            seed,
            "--train-out",
            &p("tr.csv"),
            "--test-out",
            &p("te.csv"),
            "--valid-out",
            &p("va.csv"),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        ["tr.csv", "te.csv", "va.csv"].map(|f| std::fs::read_to_string(p(f)).unwrap())
    };
    let parts = split("7");
    let rows = |t: &str| t.lines().skip(1).map(str::to_string).collect::<Vec<_>>();
    let (tr, te, va) = (rows(&parts[0]), rows(&parts[1]), rows(&parts[2]));
    assert_eq!((tr.len(), te.len(), va.len()), (70, 20, 10));
    for part in &parts {
        assert!(part.starts_with("id,note,label\n"));
    }
    let mut all: Vec<String> = tr.iter().chain(&te).chain(&va).cloned().collect();
    all.sort();
    let mut want = rows(&text);
    want.sort();
    assert_eq!(all, want, "every row once, as written");
    let count = |rows: &[String], l: &str| rows.iter().filter(|r| r.ends_with(&format!(",{l}"))).count();
    assert_eq!((count(&te, "a"), count(&te, "b"), count(&te, "c")), (12, 6, 2));
    assert_eq!((count(&va, "a"), count(&va, "b"), count(&va, "c")), (6, 3, 1));
    assert_eq!(split("7"), parts, "the same seed, the same split");
    assert_ne!(split("8")[1], parts[1]);
    let o = tessera(&[
        "data",
        "split",
        "--data",
        &p("all.csv"),
        "--test-size",
        "100",
        "--train-out",
        &p("x.csv"),
        "--test-out",
        &p("y.csv"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--test-size `100`"), "{}", stderr(&o));
}
