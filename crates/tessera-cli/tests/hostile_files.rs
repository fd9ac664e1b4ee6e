//! The hostile-input suite, files and processes: output paths that are not plain files, outputs that are
//! inputs, interrupted writes, closed pipes, and attention inputs (classes 1, 6 and 7 of
//! `shared/reference/hostile-input-findings.md`). Each case asserts the exact outcome.

#![allow(clippy::unwrap_used)] // Tests assert by unwrapping.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::*;

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
