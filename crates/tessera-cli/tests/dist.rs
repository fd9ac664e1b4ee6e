//! `tessera launch` and `tessera dist bench` from the outside: the JSON shape, the launcher's
//! first-failure report and exit status, and bad input refused with one clear line (sizes that do not
//! parse or do not fit memory, no ranks, a program that does not exist).

mod common;

use common::{assert_error, assert_ok, bin, stderr, stdout};

#[test]
fn bench_json_has_the_documented_shape_and_checks_its_sums() {
    let o = bin()
        .args(["dist", "bench", "--backend", "tcp", "--nproc", "2", "--sizes", "4KiB,1MiB", "--json"])
        .output()
        .unwrap();
    assert_ok(&o);
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let rows = v["results"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["bytes"], 4096);
    for r in rows {
        assert!(r["time_us"].as_f64().unwrap() > 0.0 && r["busbw_gbps"].as_f64().unwrap() > 0.0);
    }
}

#[test]
fn bench_refuses_bad_sizes_and_counts() {
    let run = |args: &[&str]| bin().args(["dist", "bench"]).args(args).output().unwrap();
    assert_error(&run(&["--sizes", "3"]), &["--sizes", "multiple of 4"]);
    assert_error(&run(&["--sizes", "1XB"]), &["--sizes", "unknown unit"]);
    assert_error(&run(&["--nproc", "0"]), &["--nproc"]);
    assert_error(&run(&["--sizes", "4096GiB"]), &["dist bench buffers"]);
}

#[test]
fn launch_reports_the_first_failure_with_its_rank_and_status() {
    let o = bin()
        .args([
            "launch",
            "--nproc",
            "2",
            "--",
            "sh",
            "-c",
            // Rank 1 fails half a second in, so rank 0 has printed before it is stopped.
            "echo hello; test \"$RANK\" = 1 && sleep 0.5 && exit 3; sleep 5",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("tessera launch: rank 1 exited with status 3; stopped rank(s) 0"),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).contains("[rank 0] hello") && stdout(&o).contains("[rank 1] hello"), "{}", stdout(&o));
}

#[test]
fn launch_refuses_a_missing_program_and_no_ranks() {
    let o = bin().args(["launch", "--nproc", "2", "--", "/nonexistent/program"]).output().unwrap();
    assert_error(&o, &["cannot start", "/nonexistent/program", "rank 0"]);
    let o = bin().args(["launch", "--nproc", "0", "--", "true"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--nproc must be at least 1"));
}
