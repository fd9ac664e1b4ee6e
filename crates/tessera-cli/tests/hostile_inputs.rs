//! The hostile-input suite, inputs: corrupted model files (tessera and XGBoost), training that would save
//! an unloadable model, bad tables and label spaces, absurd sizes and flags that do not apply, and messages
//! that must point the right way (classes 2 to 5 and 8 of `shared/reference/hostile-input-findings.md`).

#![allow(clippy::unwrap_used)] // Tests assert by unwrapping.

mod common;

use common::*;

// ---- 2. Model files ----------------------------------------------------------------------------------

#[test]
fn corrupted_tessera_models_are_errors_naming_the_field() {
    let (_t, d) = scratch();
    train(&d, &["--model", "hist", "--n-estimators", "5", "--out", "hist.json"]);
    train(&d, &["--model", "gbdt", "--n-estimators", "5", "--out", "gbdt.json"]);
    train(&d, &["--model", "rf", "--n-estimators", "5", "--out", "rf.json"]);
    train(&d, &["--model", "adaboost", "--n-estimators", "5", "--out", "ada.json"]);
    type Change = Box<dyn FnOnce(&mut serde_json::Value)>;
    let m = |f: fn(&mut serde_json::Value)| -> Change { Box::new(move |v| f(&mut v["model"]["model"])) };
    let cases: Vec<(&str, Change, &str)> = vec![
        ("cart.json", m(|m| m["labels"]["classes"] = serde_json::json!([])), "labels.classes"),
        ("cart.json", m(|m| m["labels"]["classes"] = serde_json::json!([0.0, 1.0])), "tree.n_outputs"),
        (
            "cart.json",
            m(|m| m["labels"]["classes"] = serde_json::json!([0.0, 1.0, 2.0, 3.0, 4.0])),
            "tree.n_outputs",
        ),
        (
            "cart.json",
            m(|m| {
                m["tree"]["n_features"] = 100.into();
                m["tree"]["feature"][0] = 10.into();
            }),
            "tree.n_features",
        ),
        (
            "cart.json",
            m(|m| m["tree"]["category_sets"] = serde_json::json!(vec![vec![4294967295u64]; 6])),
            "category_sets",
        ),
        (
            "cart.json",
            m(|m| {
                let n = m["tree"]["values"].as_array().unwrap().len();
                m["tree"]["values"] = serde_json::json!(vec![-1; n]);
            }),
            "values",
        ),
        ("hist.json", m(|m| m["n_outputs"] = 0.into()), "n_outputs"),
        ("hist.json", m(|m| m["n_outputs"] = 5.into()), "labels.classes"),
        ("hist.json", m(|m| m["base_margin"] = serde_json::json!([0.5])), "base_margin"),
        ("hist.json", m(|m| m["labels"]["classes"] = serde_json::json!([0.0])), "labels.classes"),
        (
            "hist.json",
            m(|m| {
                m["trees"][0]["n_features"] = 100.into();
                m["trees"][0]["feature"][0] = 50.into();
            }),
            "trees[0].n_features",
        ),
        (
            "hist.json",
            m(|m| {
                let n = m["trees"][0]["values"].as_array().unwrap().len();
                m["trees"][0]["values"] = serde_json::json!(vec![1e39; n]);
            }),
            "values",
        ),
        ("gbdt.json", m(|m| m["init"] = serde_json::json!([0.1])), "init"),
        ("gbdt.json", m(|m| m["trees"] = serde_json::json!([])), "trees"),
        ("gbdt.json", m(|m| m["n_outputs"] = 0.into()), "n_outputs"),
        ("rf.json", m(|m| m["trees"] = serde_json::json!([])), "trees"),
        (
            "ada.json",
            m(|m| {
                m["estimators"] = serde_json::json!([]);
                m["alphas"] = serde_json::json!([]);
            }),
            "estimators",
        ),
        (
            "ada.json",
            m(|m| {
                let a = m["alphas"].as_array().unwrap()[..2].to_vec();
                m["alphas"] = a.into();
            }),
            "alphas",
        ),
        (
            "cart.json",
            Box::new(|v| {
                v["model"]["feature_names"].as_array_mut().unwrap().pop();
            }),
            "feature_names",
        ),
        ("cart.json", Box::new(|v| v["version"] = (-1).into()), "version"),
        ("cart.json", Box::new(|v| v["version"] = "1".into()), "version"),
    ];
    for (from, change, field) in cases {
        mutate(&d, from, change);
        let o = predict_bad(&d);
        assert_error(&o, &["bad.json", field]);
        let o =
            run_in(&d, &["trees", "eval", "--model", "bad.json", "--data", "iris.csv", "--target", "target"]);
        assert_error(&o, &["bad.json", field]);
    }
}

#[test]
fn text_classes_must_match_the_model() {
    let (_t, d) = scratch();
    std::fs::write(d.join("txt.csv"), "a,target\n1,cat\n2,dog\n3,bird\n4,cat\n5,dog\n6,bird\n").unwrap();
    assert_ok(&run_in(
        &d,
        &["trees", "train", "--model", "cart", "--data", "txt.csv", "--target", "target", "--out", "t.json"],
    ));
    mutate(&d, "t.json", |v| {
        v["model"]["text_classes"] = serde_json::json!(["only_one"]);
    });
    let o = run_in(&d, &["trees", "predict", "--model", "bad.json", "--data", "txt.csv", "--out", "p.csv"]);
    assert_error(&o, &["bad.json", "text_classes", "1 names for 3 classes"]);
    mutate(&d, "t.json", |v| {
        v["model"]["feature_names"] = serde_json::json!(["a", "a"]);
    });
    let o = run_in(&d, &["trees", "predict", "--model", "bad.json", "--data", "txt.csv", "--out", "p.csv"]);
    assert_error(&o, &["bad.json", "feature_names"]);
}

#[test]
fn corrupted_xgboost_models_are_errors_naming_the_field() {
    let (_t, d) = scratch();
    train(&d, &["--model", "hist", "--n-estimators", "3", "--save-format", "xgboost", "--out", "xgb.json"]);
    fn learner(v: &mut serde_json::Value) -> &mut serde_json::Value {
        &mut v["learner"]
    }
    fn tree0(v: &mut serde_json::Value) -> &mut serde_json::Value {
        &mut v["learner"]["gradient_booster"]["model"]["trees"][0]
    }
    type Change = fn(&mut serde_json::Value);
    let cases: Vec<(Change, &str)> = vec![
        (|v| tree0(v)["sum_hessian"] = serde_json::json!([]), "sum_hessian"),
        (
            |v| {
                let h = tree0(v)["sum_hessian"].as_array().unwrap()[..1].to_vec();
                tree0(v)["sum_hessian"] = h.into();
            },
            "sum_hessian",
        ),
        // Found by fuzzing: a cover beyond f32 loaded, then saved as null.
        (|v| tree0(v)["sum_hessian"][0] = 1e300.into(), "sum_hessian"),
        (|v| tree0(v)["sum_hessian"][0] = (-1.0).into(), "sum_hessian"),
        (|v| learner(v)["learner_model_param"]["num_feature"] = "1e10".into(), "num_feature"),
        (|v| learner(v)["learner_model_param"]["num_feature"] = "1e20".into(), "num_feature"),
        (|v| learner(v)["learner_model_param"]["num_feature"] = "3.7".into(), "num_feature"),
        (
            |v| {
                learner(v)["learner_model_param"]["num_class"] = "1e12".into();
                learner(v)["learner_model_param"]["base_score"] = "[0.5]".into();
            },
            "num_class",
        ),
        (
            |v| {
                learner(v)["learner_model_param"]["num_class"] = "100000000".into();
                learner(v)["learner_model_param"]["base_score"] = "[0.5]".into();
            },
            "num_class",
        ),
        (|v| learner(v)["learner_model_param"]["base_score"] = "NaN".into(), "base_score"),
        (|v| learner(v)["learner_model_param"]["base_score"] = "inf".into(), "base_score"),
        (
            |v| {
                let n = tree0(v)["split_conditions"].as_array().unwrap().len();
                tree0(v)["split_conditions"][n - 1] = 1e39.into();
            },
            "split_conditions",
        ),
        (|v| v["version"] = serde_json::json!([99, 0, 0]), "version"),
        (
            |v| {
                tree0(v)["split_type"][0] = 1.into();
                tree0(v)["categories"] = serde_json::json!([4294967295u64]);
                tree0(v)["categories_nodes"] = serde_json::json!([0]);
                tree0(v)["categories_segments"] = serde_json::json!([0]);
                tree0(v)["categories_sizes"] = serde_json::json!([1]);
            },
            "category",
        ),
    ];
    for (change, field) in cases {
        mutate(&d, "xgb.json", change);
        assert_error(&predict_bad(&d), &["bad.json", field]);
    }
    // A binary model whose base score is not a probability.
    let two = "a,b,target\n1,2,0\n2,1,1\n3,3,0\n4,1,1\n5,0,1\n0,5,0\n";
    std::fs::write(d.join("two.csv"), two).unwrap();
    assert_ok(&run_in(
        &d,
        &[
            "trees",
            "train",
            "--model",
            "hist",
            "--data",
            "two.csv",
            "--target",
            "target",
            "--save-format",
            "xgboost",
            "--out",
            "bin.json",
        ],
    ));
    mutate(&d, "bin.json", |v| v["learner"]["learner_model_param"]["base_score"] = "[2E0]".into());
    let o = run_in(&d, &["trees", "eval", "--model", "bad.json", "--data", "two.csv", "--target", "target"]);
    assert_error(&o, &["bad.json", "base_score", "(0, 1)"]);
}

#[test]
fn junk_in_an_xgboost_file_costs_no_more_than_its_text() {
    // The learner's unknown fields are skipped, not built: 2 MB of nested arrays, refused for the objective.
    let (_t, d) = scratch();
    let junk = format!("{{\"learner\":{{\"junk\":[{}[0]]}}}}", "[0],".repeat(400_000));
    std::fs::write(d.join("bad.json"), junk).unwrap();
    let o = run_in(
        &d,
        &[
            "trees", "predict", "--format", "xgboost", "--model", "bad.json", "--data", "iris.csv", "--out",
            "p.csv",
        ],
    );
    assert_error(&o, &["bad.json", "objective"]);
}

// ---- 3. Training that saves an unloadable model ------------------------------------------------------

#[test]
fn missing_values_in_a_multiclass_booster_survive_both_formats() {
    let (_t, d) = scratch();
    // Iris with a third of the cells missing.
    let text = std::fs::read_to_string(d.join("iris.csv")).unwrap();
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        let row: Vec<&str> = cells
            .iter()
            .enumerate()
            .map(|(j, c)| if i > 0 && j < 4 && (i * 7 + j * 3) % 3 == 0 { "" } else { c })
            .collect();
        out.push_str(&row.join(","));
        out.push('\n');
    }
    std::fs::write(d.join("nan.csv"), out).unwrap();
    let data = ["--data", "nan.csv", "--target", "target"];
    for (format, model) in [("tessera", "m1.json"), ("xgboost", "m2.json")] {
        let mut args = vec!["trees", "train", "--model", "hist", "--save-format", format, "--out", model];
        args.extend_from_slice(&data);
        assert_ok(&run_in(&d, &args));
        if format == "xgboost" {
            assert!(!std::fs::read_to_string(d.join(model)).unwrap().contains("null"));
        }
        let out = format!("{model}.csv");
        assert_ok(&run_in(
            &d,
            &["trees", "predict", "--proba", "--model", model, "--data", "nan.csv", "--out", &out],
        ));
    }
    assert_eq!(std::fs::read(d.join("m1.json.csv")).unwrap(), std::fs::read(d.join("m2.json.csv")).unwrap());
}

#[test]
fn training_refuses_what_would_save_an_unloadable_model() {
    let (_t, d) = scratch();
    std::fs::write(d.join("big.csv"), "a,b,y\n1,2,3e38\n3,4,-3e38\n5,6,3e38\n7,8,-3e38\n9,1,3.4e38\n")
        .unwrap();
    for model in ["hist", "gbdt", "adaboost", "rf", "cart"] {
        let o = run_in(
            &d,
            &[
                "trees",
                "train",
                "--model",
                model,
                "--task",
                "regression",
                "--data",
                "big.csv",
                "--target",
                "y",
                "--out",
                "big.json",
            ],
        );
        assert_error(&o, &["target", "1e30"]);
        assert!(!d.join("big.json").exists());
    }
    for model in ["hist", "gbdt", "adaboost"] {
        let o = run_in(
            &d,
            &[
                "trees",
                "train",
                "--model",
                model,
                "--learning-rate=inf",
                "--data",
                "iris.csv",
                "--target",
                "target",
                "--out",
                "x.json",
            ],
        );
        assert_error(&o, &["learning_rate", "finite"]);
    }
}

// ---- 4. Tabular input --------------------------------------------------------------------------------

#[test]
fn duplicate_columns_and_label_spaces_are_errors() {
    let (_t, d) = scratch();
    std::fs::write(d.join("dup.csv"), "a,a,target\n1,10,0\n2,20,1\n3,30,0\n4,40,1\n").unwrap();
    let o = run_in(
        &d,
        &["trees", "train", "--model", "cart", "--data", "dup.csv", "--target", "target", "--out", "m.json"],
    );
    assert_error(&o, &["dup.csv", "#1 and #2", "`a`"]);

    std::fs::write(d.join("txt.csv"), "a,target\n1,cat\n2,dog\n3,cat\n4,dog\n").unwrap();
    std::fs::write(d.join("num.csv"), "a,target\n1,0\n2,1\n3,0\n4,1\n").unwrap();
    std::fs::write(d.join("seven.csv"), "a,target\n1,0\n2,1\n3,7\n").unwrap();
    assert_ok(&run_in(
        &d,
        &[
            "trees", "train", "--model", "cart", "--data", "txt.csv", "--target", "target", "--out",
            "txt.json",
        ],
    ));
    assert_ok(&run_in(
        &d,
        &[
            "trees", "train", "--model", "cart", "--data", "num.csv", "--target", "target", "--out",
            "num.json",
        ],
    ));
    let eval = |model: &str, data: &str| {
        run_in(&d, &["trees", "eval", "--model", model, "--data", data, "--target", "target"])
    };
    assert_error(&eval("txt.json", "num.csv"), &["num.csv", "label `0`", "cat, dog"]);
    assert_error(&eval("num.json", "txt.csv"), &["txt.csv", "text", "numeric"]);
    assert_error(&eval("num.json", "seven.csv"), &["seven.csv", "label `7`"]);
    assert_ok(&eval("txt.json", "txt.csv"));
    // --target that is not a column, or is a feature.
    assert_error(
        &run_in(&d, &["trees", "eval", "--model", "num.json", "--data", "num.csv", "--target", "nope"]),
        &["--target `nope`", "no such column"],
    );
    assert_error(
        &run_in(&d, &["trees", "eval", "--model", "num.json", "--data", "num.csv", "--target", "a"]),
        &["--target `a`", "feature"],
    );
}

#[test]
fn predict_takes_target_for_models_without_feature_names() {
    let (_t, d) = scratch();
    train(&d, &["--model", "hist", "--n-estimators", "3", "--save-format", "xgboost", "--out", "xgb.json"]);
    mutate(&d, "xgb.json", |v| {
        v["learner"]["feature_names"] = serde_json::json!([]);
        v["learner"]["feature_types"] = serde_json::json!([]);
    });
    let o = run_in(&d, &["trees", "predict", "--model", "bad.json", "--data", "iris.csv", "--out", "p.csv"]);
    assert_error(&o, &["4 features and no feature names", "--target"]);
    let o = run_in(
        &d,
        &[
            "trees", "predict", "--model", "bad.json", "--data", "iris.csv", "--target", "target", "--out",
            "p.csv",
        ],
    );
    assert_ok(&o);
    let named =
        run_in(&d, &["trees", "predict", "--model", "xgb.json", "--data", "iris.csv", "--out", "q.csv"]);
    assert_ok(&named);
    assert_eq!(std::fs::read(d.join("p.csv")).unwrap(), std::fs::read(d.join("q.csv")).unwrap());
}

// ---- 5. Sizes and flags ------------------------------------------------------------------------------

#[test]
fn absurd_sizes_are_refused_with_the_bytes_they_need() {
    let (_t, d) = scratch();
    let max = "18446744073709551615";
    for args in [
        vec!["data", "synth", "classification", "--features", max, "--out", "s.csv"],
        vec![
            "data",
            "synth",
            "classification",
            "--rows",
            "4294967296",
            "--features",
            "4294967296",
            "--out",
            "s.csv",
        ],
        vec!["data", "synth", "regression", "--rows", max, "--out", "s.csv"],
    ] {
        assert_error(&run_in(&d, &args), &["would need", "bytes"]);
    }
    for model in ["rf", "gbdt", "hist", "adaboost", "bagging"] {
        let o = run_in(
            &d,
            &[
                "trees",
                "train",
                "--model",
                model,
                "--n-estimators",
                max,
                "--data",
                "iris.csv",
                "--target",
                "target",
                "--out",
                "x.json",
            ],
        );
        assert_error(&o, &["n_estimators", "at most"]);
    }
    let o = run_in(
        &d,
        &[
            "trees",
            "train",
            "--model",
            "rf",
            "--threads",
            "100000",
            "--data",
            "iris.csv",
            "--target",
            "target",
            "--out",
            "x.json",
        ],
    );
    assert_error(&o, &["--threads 100000", "per core"]);
    for sep in ["inf", "NaN"] {
        let o = run_in(&d, &["data", "synth", "classification", "--class-sep", sep, "--out", "s.csv"]);
        assert_error(&o, &["class_sep", "finite"]);
    }
}

#[test]
fn flags_that_do_not_apply_are_errors() {
    let (_t, d) = scratch();
    let base = ["--data", "iris.csv", "--target", "target", "--out", "x.json"];
    for (args, needles) in [
        (vec!["--model", "cart", "--n-estimators", "0"], vec!["--n-estimators", "cart"]),
        (vec!["--model", "rf", "--subsample", "2"], vec!["--subsample", "rf"]),
        (vec!["--model", "rf", "--categorical-features", "0"], vec!["--categorical-features", "rf"]),
        (
            vec!["--model", "hist", "--early-stopping-rounds", "2"],
            vec!["--early-stopping-rounds", "--eval-data"],
        ),
        (vec!["--model", "gbdt", "--save-format", "xgboost"], vec!["xgboost", "gbdt"]),
        (vec!["--model", "stacking", "--max-depth", "3"], vec!["--max-depth", "stacking"]),
    ] {
        let mut all = vec!["trees", "train"];
        all.extend(args);
        all.extend(base);
        let o = run_in(&d, &all);
        assert_error(&o, &needles);
        assert!(!d.join("x.json").exists());
    }
    // A regression objective makes the target a regression, even on integer labels.
    let o = run_in(
        &d,
        &[
            "trees",
            "train",
            "--model",
            "hist",
            "--objective",
            "reg:squarederror",
            "--data",
            "iris.csv",
            "--target",
            "target",
            "--out",
            "x.json",
        ],
    );
    assert_ok(&o);
    assert!(stderr(&o).contains("RMSE"), "{}", stderr(&o));
}

// ---- Messages that point the right way ---------------------------------------------------------------

#[test]
fn messages_name_the_cause() {
    let (_t, d) = scratch();
    // Negative numbers reach the parameter check instead of being taken for flags.
    let o = run_in(
        &d,
        &[
            "trees",
            "train",
            "--model",
            "gbdt",
            "--learning-rate",
            "-1",
            "--data",
            "iris.csv",
            "--target",
            "target",
            "--out",
            "x.json",
        ],
    );
    assert_error(&o, &["learning_rate", "found -1"]);
    // One class is named by its label.
    std::fs::write(d.join("one.csv"), "a,target\n1,cat\n2,cat\n").unwrap();
    let o = run_in(
        &d,
        &["trees", "train", "--model", "cart", "--data", "one.csv", "--target", "target", "--out", "x.json"],
    );
    assert_error(&o, &["one.csv", "only one class (`cat`)"]);
    // AdaBoost's weights overflowing is the learning rate's fault.
    let o = run_in(
        &d,
        &[
            "trees",
            "train",
            "--model",
            "adaboost",
            "--learning-rate",
            "1e30",
            "--data",
            "iris.csv",
            "--target",
            "target",
            "--out",
            "x.json",
        ],
    );
    assert_error(&o, &["learning_rate", "overflowed"]);
    // Embedded names match in any case, as `data export` matches them.
    assert_ok(&run_in(&d, &["data", "info", "IRIS"]));
    // A LibSVM file trains as LibSVM, not as a CSV with one odd column.
    std::fs::write(d.join("t.svm"), "0 1:0.5 2:1\n1 1:3 2:0.1\n0 1:0.4 2:1.2\n1 1:2.5\n").unwrap();
    assert_ok(&run_in(
        &d,
        &["trees", "train", "--model", "cart", "--data", "t.svm", "--target", "label", "--out", "s.json"],
    ));
    let o = run_in(
        &d,
        &["trees", "train", "--model", "cart", "--data", "t.svm", "--target", "y", "--out", "s.json"],
    );
    assert_error(&o, &["t.svm", "--target label"]);
    let o = run_in(&d, &["--help"]);
    assert!(!stdout(&o).contains("as crates land"), "{}", stdout(&o));
}
