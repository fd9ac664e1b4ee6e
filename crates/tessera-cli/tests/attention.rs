//! `tessera attention run|bench` end to end.

#![allow(clippy::unwrap_used)] // Tests assert by unwrapping.

use std::process::{Command, Output};

use tessera_attention::{AttentionOptions, flash_attention, flash_attention_backward};
use tessera_tensor::{DType, Device, SafetensorsFile, SeededRng, Tensor, save};

fn tessera(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tessera")).args(args).output().unwrap()
}

fn normal(dims: &[usize], seed: u64) -> Tensor {
    SeededRng::new(seed).normal_tensor(dims, 0.0, 1.0, DType::F32, &Device::Cpu).unwrap()
}

#[test]
fn run_writes_outputs_and_gradients() {
    let dir = tempfile::tempdir().unwrap();
    let (input, out) = (dir.path().join("qkv.safetensors"), dir.path().join("out.safetensors"));
    let (q, k, v, d_o) = (
        normal(&[1, 4, 30, 16], 1),
        normal(&[1, 2, 40, 16], 2),
        normal(&[1, 2, 40, 16], 3),
        normal(&[1, 4, 30, 16], 4),
    );
    save(&input, &[("q", &q), ("k", &k), ("v", &v), ("do", &d_o)]).unwrap();
    let o = tessera(&[
        "attention",
        "run",
        "--input",
        input.to_str().unwrap(),
        "--causal",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let file = SafetensorsFile::open(&out).unwrap();
    let mut names = file.names();
    names.sort();
    assert_eq!(names, ["dk", "dq", "dv", "lse", "o"]);
    let opts = AttentionOptions::causal();
    let (want_o, lse) = flash_attention(&q, &k, &v, &opts).unwrap();
    let (_, want_dk, _) = flash_attention_backward(&q, &k, &v, &want_o, &lse, &d_o, &opts).unwrap();
    let load = |n: &str| file.load(n, &Device::Cpu).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert_eq!(load("o"), want_o.flatten_all().unwrap().to_vec1::<f32>().unwrap());
    assert_eq!(load("dk"), want_dk.flatten_all().unwrap().to_vec1::<f32>().unwrap());
}

#[test]
fn run_names_the_missing_tensor_and_bad_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let (input, out) = (dir.path().join("qk.safetensors"), dir.path().join("out.safetensors"));
    save(&input, &[("q", &normal(&[1, 2, 5, 8], 1)), ("k", &normal(&[1, 2, 5, 8], 2))]).unwrap();
    let o =
        tessera(&["attention", "run", "--input", input.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains('v') && err.contains("qk.safetensors"), "{err}");
    save(
        &input,
        &[
            ("q", &normal(&[1, 3, 5, 8], 1)),
            ("k", &normal(&[1, 2, 5, 8], 2)),
            ("v", &normal(&[1, 2, 5, 8], 3)),
        ],
    )
    .unwrap();
    let o =
        tessera(&["attention", "run", "--input", input.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("heads"), "{err}");
    assert!(!out.exists());
}

#[test]
fn bench_prints_json() {
    let o = tessera(&[
        "attention",
        "bench",
        "--seq",
        "128",
        "--dim",
        "32",
        "--heads",
        "2",
        "--kv-heads",
        "1",
        "--causal",
        "--backward",
        "--repeats",
        "1",
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let line = String::from_utf8_lossy(&o.stdout);
    let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(v["bench"], "attention forward+backward");
    assert!(v["gflops"].as_f64().unwrap() > 0.0 && v["extra_mib"].as_f64().is_some());
}

#[test]
fn make_inputs_feeds_run() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let make = |out: &str, seed: &str| {
        let o = tessera(&[
            "attention",
            "make-inputs",
            "--batch",
            "2",
            "--heads",
            "4",
            "--kv-heads",
            "2",
            "--seq",
            "24",
            "--dim",
            "8",
            "--grad",
            "--seed",
            seed,
            "--out",
            &p(out),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    make("a.safetensors", "5");
    make("b.safetensors", "5");
    assert_eq!(std::fs::read(p("a.safetensors")).unwrap(), std::fs::read(p("b.safetensors")).unwrap());
    let f = SafetensorsFile::open(p("a.safetensors")).unwrap();
    let dims = |n: &str| f.load(n, &Device::Cpu).unwrap().dims().to_vec();
    assert_eq!(
        (dims("q"), dims("k"), dims("v"), dims("do")),
        (vec![2, 4, 24, 8], vec![2, 2, 24, 8], vec![2, 2, 24, 8], vec![2, 4, 24, 8])
    );
    let o = tessera(&["attention", "run", "--input", &p("a.safetensors"), "--out", &p("o.safetensors")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = SafetensorsFile::open(p("o.safetensors")).unwrap();
    let (q, k, v) = (
        f.load("q", &Device::Cpu).unwrap(),
        f.load("k", &Device::Cpu).unwrap(),
        f.load("v", &Device::Cpu).unwrap(),
    );
    let (want, lse) = flash_attention(&q, &k, &v, &AttentionOptions::default()).unwrap();
    let got = out.load("o", &Device::Cpu).unwrap();
    assert_eq!(
        got.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
        want.flatten_all().unwrap().to_vec1::<f32>().unwrap()
    );
    assert_eq!(out.load("lse", &Device::Cpu).unwrap().dims(), lse.dims());
    assert!(out.names().iter().any(|n| n == "dq"));
    let bad = tessera(&[
        "attention",
        "make-inputs",
        "--heads",
        "3",
        "--kv-heads",
        "2",
        "--out",
        &p("c.safetensors"),
    ]);
    assert_eq!(bad.status.code(), Some(1));
}
