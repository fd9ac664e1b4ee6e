//! The hostile-input suite: what a careless or hostile user throws at the `tessera` binary (output paths
//! that are not plain files, outputs that are inputs, corrupted model files, absurd sizes, bad tables,
//! closed pipes, interrupted runs), each with the exact outcome asserted: a clear error naming the file and
//! field, or a correct result. One section per class of `shared/reference/hostile-input-findings.md`.

#![allow(clippy::unwrap_used)] // Tests assert by unwrapping.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tessera"))
}

/// Runs `tessera` in `dir` with `args`.
fn run_in(dir: &Path, args: &[&str]) -> Output {
    bin().current_dir(dir).args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Asserts a clean failure: exit status 1 (not a panic's 101 or a signal), one `error:` line containing
/// every one of `needles`.
#[track_caller]
fn assert_error(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "expected a clean error, got {:?}: {err}", o.status);
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.starts_with("error: "), "{err}");
    for n in needles {
        assert!(err.contains(n), "`{n}` missing from: {err}");
    }
}

#[track_caller]
fn assert_ok(o: &Output) {
    assert!(o.status.success(), "{:?}: {}", o.status, stderr(o));
}

/// A scratch directory holding `iris.csv` and a CART model of it, `cart.json`.
fn scratch() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    assert_ok(&run_in(&path, &["data", "export", "iris", "--out", "iris.csv"]));
    assert_ok(&run_in(
        &path,
        &[
            "trees",
            "train",
            "--model",
            "cart",
            "--data",
            "iris.csv",
            "--target",
            "target",
            "--out",
            "cart.json",
        ],
    ));
    (dir, path)
}

fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tessera-"))
        .collect()
}

// ---- 1. Output paths ---------------------------------------------------------------------------------

#[test]
fn dash_writes_to_stdout() {
    let (_t, d) = scratch();
    let o = run_in(&d, &["trees", "predict", "--model", "cart.json", "--data", "iris.csv", "--out", "-"]);
    assert_ok(&o);
    let out = stdout(&o);
    assert_eq!(out.lines().count(), 151, "{out}");
    assert_eq!(out.lines().next(), Some("prediction"));
    assert!(!d.join("-").exists());
    let o = run_in(&d, &["data", "export", "wine", "--out", "-"]);
    assert_ok(&o);
    assert!(stdout(&o).starts_with("alcohol,"));
}

#[test]
fn devices_fifos_and_links_are_written_through() {
    use std::os::unix::fs::FileTypeExt;
    let (_t, d) = scratch();
    // A character device is written in place and stays a device.
    assert_ok(&run_in(&d, &["data", "export", "iris", "--out", "/dev/null"]));
    assert!(std::fs::metadata("/dev/null").unwrap().file_type().is_char_device());
    // A symbolic link: its target is replaced, the link stays.
    std::os::unix::fs::symlink("iris.csv", d.join("link.csv")).unwrap();
    assert_ok(&run_in(&d, &["data", "export", "wine", "--out", "link.csv"]));
    assert!(std::fs::symlink_metadata(d.join("link.csv")).unwrap().file_type().is_symlink());
    assert!(std::fs::read_to_string(d.join("iris.csv")).unwrap().starts_with("alcohol,"));
    // A FIFO: the reader gets the bytes and the FIFO stays a FIFO.
    assert!(Command::new("mkfifo").arg(d.join("f")).status().unwrap().success());
    let reader = Command::new("cat").arg(d.join("f")).stdout(Stdio::piped()).spawn().unwrap();
    assert_ok(&run_in(&d, &["data", "export", "iris", "--out", "f"]));
    let got = reader.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&got.stdout).lines().count(), 151);
    assert!(std::fs::metadata(d.join("f")).unwrap().file_type().is_fifo());
}

#[test]
fn directories_and_read_only_files_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    let (_t, d) = scratch();
    assert_error(&run_in(&d, &["data", "export", "iris", "--out", "."]), &[".", "directory"]);
    std::fs::write(d.join("keep.csv"), "protected").unwrap();
    std::fs::set_permissions(d.join("keep.csv"), std::fs::Permissions::from_mode(0o444)).unwrap();
    assert_error(&run_in(&d, &["data", "export", "iris", "--out", "keep.csv"]), &["keep.csv", "read-only"]);
    assert_error(
        &run_in(&d, &["trees", "predict", "--model", "cart.json", "--data", "iris.csv", "--out", "keep.csv"]),
        &["keep.csv", "read-only"],
    );
    assert_eq!(std::fs::read_to_string(d.join("keep.csv")).unwrap(), "protected");
}

#[test]
fn an_output_that_is_an_input_is_refused_before_any_work() {
    let (_t, d) = scratch();
    let iris = std::fs::read(d.join("iris.csv")).unwrap();
    let model = std::fs::read(d.join("cart.json")).unwrap();
    let absolute = d.join("iris.csv");
    let absolute = absolute.to_str().unwrap();
    let cases: Vec<Vec<&str>> = vec![
        vec!["trees", "predict", "--model", "cart.json", "--data", "iris.csv", "--out", "iris.csv"],
        vec!["trees", "predict", "--model", "cart.json", "--data", "iris.csv", "--out", "./iris.csv"],
        vec!["trees", "predict", "--model", "cart.json", "--data", "iris.csv", "--out", absolute],
        vec!["trees", "predict", "--model", "cart.json", "--data", "iris.csv", "--out", "cart.json"],
        vec![
            "trees", "train", "--model", "cart", "--data", "iris.csv", "--target", "target", "--out",
            "iris.csv",
        ],
        vec![
            "trees",
            "train",
            "--model",
            "hist",
            "--data",
            "iris.csv",
            "--target",
            "target",
            "--eval-data",
            "./iris.csv",
            "--out",
            absolute,
        ],
    ];
    for args in cases {
        assert_error(&run_in(&d, &args), &["same file as the input"]);
    }
    assert_eq!(std::fs::read(d.join("iris.csv")).unwrap(), iris);
    assert_eq!(std::fs::read(d.join("cart.json")).unwrap(), model);
}

#[test]
fn attention_output_that_is_its_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Any valid q/k/v file: made by the library.
    let mut rng = tessera_tensor::SeededRng::new(1);
    let t = |rng: &mut tessera_tensor::SeededRng| {
        rng.normal_tensor(&[1, 1, 4, 8], 0.0, 1.0, tessera_tensor::DType::F32, &tessera_tensor::Device::Cpu)
            .unwrap()
    };
    let (q, k, v) = (t(&mut rng), t(&mut rng), t(&mut rng));
    tessera_tensor::save(d.join("a.safetensors"), &[("q", &q), ("k", &k), ("v", &v)]).unwrap();
    let before = std::fs::read(d.join("a.safetensors")).unwrap();
    let o = run_in(d, &["attention", "run", "--input", "a.safetensors", "--out", "./a.safetensors"]);
    assert_error(&o, &["same file as the input", "a.safetensors"]);
    assert_eq!(std::fs::read(d.join("a.safetensors")).unwrap(), before);
    assert_ok(&run_in(d, &["attention", "run", "--input", "a.safetensors", "--out", "o.safetensors"]));
}

/// Starts a long `data synth` writing `t.csv` in `dir` and waits until its temporary file exists.
fn long_write(dir: &Path) -> std::process::Child {
    let child = bin()
        .current_dir(dir)
        .args(["data", "synth", "classification", "--rows", "3000000", "--features", "40", "--out", "t.csv"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while temp_files(dir).is_empty() {
        assert!(start.elapsed().as_secs() < 60, "no temporary file appeared");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child
}

#[test]
fn interrupted_writes_leave_no_temporary_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("t.csv"), "old").unwrap();
    for signal in ["-INT", "-TERM"] {
        let mut child = long_write(d);
        assert!(Command::new("kill").arg(signal).arg(child.id().to_string()).status().unwrap().success());
        let status = child.wait().unwrap();
        assert!(!status.success());
        assert!(temp_files(d).is_empty(), "{signal}: {:?}", temp_files(d));
        assert_eq!(std::fs::read_to_string(d.join("t.csv")).unwrap(), "old");
    }
    // SIGKILL cannot be caught: the temporary file stays, named after the dead process, and the next write
    // into the directory removes it.
    let mut child = long_write(d);
    child.kill().unwrap();
    child.wait().unwrap();
    let left = temp_files(d);
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].starts_with(&format!(".tessera-{}-", child.id())), "{left:?}");
    assert_ok(&run_in(d, &["data", "export", "iris", "--out", "iris.csv"]));
    assert!(temp_files(d).is_empty(), "{:?}", temp_files(d));
    assert_eq!(std::fs::read_to_string(d.join("t.csv")).unwrap(), "old");
}

// ---- 7. Process hygiene ------------------------------------------------------------------------------

#[test]
fn a_closed_pipe_ends_the_process_quietly() {
    use std::io::Read;
    use std::os::unix::process::ExitStatusExt;
    for args in [&["data", "export", "digits", "--out", "-"][..], &["data", "info", "digits"][..]] {
        let mut child = bin().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let mut out = child.stdout.take().unwrap();
        let mut one = [0u8; 1];
        out.read_exact(&mut one).unwrap();
        drop(out);
        let o = child.wait_with_output().unwrap();
        let err = stderr(&o);
        assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{err}");
        // Either it finished before the reader left, or SIGPIPE ended it, as it ends `cat`.
        assert!(o.status.success() || o.status.signal() == Some(libc::SIGPIPE), "{:?}: {err}", o.status);
    }
}

// ---- 2. Model files ----------------------------------------------------------------------------------

/// Rewrites the JSON file `from` in `dir` with `change`, saves it as `bad.json`.
fn mutate(dir: &Path, from: &str, change: impl FnOnce(&mut serde_json::Value)) {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(from)).unwrap()).unwrap();
    change(&mut v);
    std::fs::write(dir.join("bad.json"), v.to_string()).unwrap();
}

fn predict_bad(dir: &Path) -> Output {
    run_in(dir, &["trees", "predict", "--model", "bad.json", "--data", "iris.csv", "--out", "p.csv"])
}

fn train(dir: &Path, args: &[&str]) {
    let mut all = vec!["trees", "train", "--data", "iris.csv", "--target", "target"];
    all.extend_from_slice(args);
    assert_ok(&run_in(dir, &all));
}

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

// ---- 6. Attention numerics and sizes -----------------------------------------------------------------

#[test]
fn attention_refuses_non_finite_inputs_scales_and_absurd_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut rng = tessera_tensor::SeededRng::new(3);
    let mut t = || {
        rng.normal_tensor(&[1, 2, 4, 8], 0.0, 1.0, tessera_tensor::DType::F32, &tessera_tensor::Device::Cpu)
            .unwrap()
    };
    let (q, k, v) = (t(), t(), t());
    let mut kv = k.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    kv[0] = f32::NAN;
    let bad_k = tessera_tensor::Tensor::from_vec(kv, k.dims(), &tessera_tensor::Device::Cpu).unwrap();
    tessera_tensor::save(d.join("ok.safetensors"), &[("q", &q), ("k", &k), ("v", &v)]).unwrap();
    tessera_tensor::save(d.join("nan.safetensors"), &[("q", &q), ("k", &bad_k), ("v", &v)]).unwrap();
    let o = run_in(d, &["attention", "run", "--input", "nan.safetensors", "--out", "o.safetensors"]);
    assert_error(&o, &["nan.safetensors", "k: element 0 is NaN"]);
    for scale in ["--scale=1e39", "--scale=1e300"] {
        let o =
            run_in(d, &["attention", "run", "--input", "ok.safetensors", scale, "--out", "o.safetensors"]);
        assert_error(&o, &["scale", "f32"]);
    }
    assert!(!d.join("o.safetensors").exists());
    let max = "18446744073709551615";
    for args in [
        vec!["--seq", "10000000"],
        vec!["--seq", max],
        vec!["--batch", "4611686018427387904", "--heads", "4", "--seq", "1", "--dim", "1"],
    ] {
        let mut all = vec!["attention", "bench"];
        all.extend(args);
        assert_error(&run_in(d, &all), &["would need", "bytes"]);
    }
    assert_error(&run_in(d, &["attention", "bench", "--repeats", max]), &["--repeats", "1000"]);
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
