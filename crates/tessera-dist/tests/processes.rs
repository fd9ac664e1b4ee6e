//! Real processes over TCP: this test binary starts copies of itself as ranks (the `*_worker` tests,
//! which do nothing unless `TESSERA_TEST_ROLE` is set). A rank killed with SIGKILL mid-job makes the
//! survivor fail within seconds naming it; the launcher stops the job at the first failure, names the
//! rank and its status, and prefixes every line with its rank; a bad environment is a clear error.
#![allow(clippy::unwrap_used)] // Tests assert by unwrapping.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tessera_dist::launch::{LaunchOptions, launch};
use tessera_dist::{Error, ReduceOp, init_from_env};

fn role() -> Option<String> {
    std::env::var("TESSERA_TEST_ROLE").ok()
}

fn worker_command(role: &str, rank: usize, world: usize, port: u16) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "rank_worker", "--nocapture", "--test-threads=1"])
        .env("TESSERA_TEST_ROLE", role)
        .env("RANK", rank.to_string())
        .env("WORLD_SIZE", world.to_string())
        .env("MASTER_ADDR", "127.0.0.1")
        .env("MASTER_PORT", port.to_string())
        .env("TESSERA_DIST_TIMEOUT", "30")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    cmd
}

/// Launches `n` copies of `rank_worker` with `role`, capturing rank 0's output.
fn launch_workers(n: usize, role: &str) -> tessera_dist::launch::LaunchReport {
    let exe = std::env::current_exe().unwrap().to_string_lossy().into_owned();
    let mut opts = LaunchOptions::new(
        n,
        exe,
        vec!["--exact".into(), "rank_worker".into(), "--nocapture".into(), "--test-threads=1".into()],
    );
    opts.env = vec![("TESSERA_TEST_ROLE".into(), role.into())];
    opts.capture_rank0 = true;
    launch(&opts).unwrap()
}

/// One rank, when started by a test below.
#[test]
fn rank_worker() {
    let Some(role) = role() else { return };
    let g = init_from_env().unwrap();
    let mut v = vec![1.0f32; 1 << 18];
    for _ in 0..2 {
        g.all_reduce(&mut v, ReduceOp::Sum).unwrap();
    }
    match (role.as_str(), g.rank()) {
        ("stall", 1) => {
            println!("READY");
            std::thread::sleep(Duration::from_secs(60));
        }
        ("exit", 1) => std::process::exit(5),
        _ => {}
    }
    match g.all_reduce(&mut v, ReduceOp::Sum) {
        Ok(()) => println!("DONE"),
        Err(e) => {
            let lost = matches!(e, Error::PeerLost { rank: 1, .. });
            println!("ERROR lost={lost}: {e}");
            // A real program reports and cleans up before it exits; exits within the same millisecond
            // are ordered as the kernel reports them.
            std::thread::sleep(Duration::from_millis(300));
            std::process::exit(7);
        }
    }
}

#[test]
fn a_sigkilled_rank_is_named_by_the_survivor_within_seconds() {
    if role().is_some() {
        return;
    }
    let port = common::free_port();
    let mut r0 = worker_command("stall", 0, 2, port).spawn().unwrap();
    let mut r1 = worker_command("stall", 1, 2, port).spawn().unwrap();
    let mut out1 = BufReader::new(r1.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("READY") {
        line.clear();
        assert!(out1.read_line(&mut line).unwrap() > 0, "rank 1 ended before it was ready");
    }
    let killed = Instant::now();
    r1.kill().unwrap(); // SIGKILL
    r1.wait().unwrap();
    let status = r0.wait().unwrap();
    let elapsed = killed.elapsed();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut r0.stdout.take().unwrap(), &mut text).unwrap();
    assert_eq!(status.code(), Some(7), "{text}");
    assert!(text.contains("ERROR lost=true") && text.contains("rank 1 was lost"), "{text}");
    assert!(elapsed < Duration::from_secs(10), "the survivor took {elapsed:?}");
}

#[test]
fn the_launcher_stops_the_job_at_the_first_failure_and_names_the_rank() {
    if role().is_some() {
        return;
    }
    let report = launch_workers(3, "exit");
    let f = report.failure.expect("the job succeeded although rank 1 exited with status 5");
    assert_eq!((f.rank, f.code), (Some(1), Some(5)), "{f}");
    assert_eq!(f.to_string(), "rank 1 exited with status 5");
    // Rank 0 was stopped (or failed naming rank 1 just before the launcher's SIGTERM reached it).
    assert!(
        report.stopped.contains(&0) || String::from_utf8_lossy(&report.rank0_stdout).contains("lost=true")
    );
}

#[test]
fn a_launched_job_that_succeeds_reports_no_failure() {
    if role().is_some() {
        return;
    }
    let report = launch_workers(2, "ok");
    assert_eq!(report.failure, None);
    assert!(String::from_utf8_lossy(&report.rank0_stdout).contains("DONE"));
}

#[test]
fn a_missing_or_bad_environment_is_named() {
    if role().is_some() {
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "env_probe", "--nocapture"])
        .env("TESSERA_TEST_ROLE", "probe")
        .env_remove("RANK")
        .env("WORLD_SIZE", "2")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("environment variable RANK: not set"), "{text}");
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "env_probe", "--nocapture"])
        .env("TESSERA_TEST_ROLE", "probe")
        .env("RANK", "2")
        .env("WORLD_SIZE", "2")
        .env("MASTER_ADDR", "127.0.0.1")
        .env("MASTER_PORT", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("RANK: 2 is not below WORLD_SIZE=2"), "{text}");
}

/// Prints what `init_from_env` says, when started by the test above.
#[test]
fn env_probe() {
    if role().as_deref() != Some("probe") {
        return;
    }
    match init_from_env() {
        Ok(_) => println!("joined"),
        Err(e) => println!("{e}"),
    }
}
