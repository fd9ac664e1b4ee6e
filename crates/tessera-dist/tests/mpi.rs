//! The MPI backend (feature `mpi`), run for real under `mpirun`: this test binary starts itself with
//! `mpirun -np 2` and `-np 3` (the `*_under_mpirun` tests); inside, `mpi_rank_checks` runs every
//! collective, element type and reduction against its definition and checks that all ranks agree bit
//! for bit, and that a desync is an error on every rank. `mpirun_names_a_failed_rank` checks the one
//! fault MPI can report: a rank that exits makes `mpirun` (and the launcher) fail naming it.
#![cfg(feature = "mpi")]
#![allow(clippy::unwrap_used)] // Tests assert by unwrapping.

mod common;

use common::{bits, check_all};
use half::{bf16, f16};
use tessera_dist::launch::{LaunchOptions, launch};
use tessera_dist::{BackendKind, Error, GroupOptions, ProcessGroup, ReduceOp};

fn under_mpirun() -> bool {
    std::env::var_os("OMPI_COMM_WORLD_SIZE").is_some() || std::env::var_os("PMI_SIZE").is_some()
}

fn mpirun_available() -> bool {
    std::process::Command::new("mpirun").arg("--version").output().is_ok_and(|o| o.status.success())
}

fn self_under_mpirun(
    np: usize,
    test: &str,
    env: Vec<(String, String)>,
) -> tessera_dist::launch::LaunchReport {
    let exe = std::env::current_exe().unwrap().to_string_lossy().into_owned();
    let mut opts = LaunchOptions::new(
        np,
        exe,
        vec!["--exact".into(), test.into(), "--nocapture".into(), "--test-threads=1".into()],
    );
    opts.backend = BackendKind::Mpi;
    opts.env = env;
    launch(&opts).unwrap()
}

/// Runs inside each MPI rank (does nothing when not under mpirun).
#[test]
fn mpi_rank_checks() {
    if !under_mpirun() || std::env::var_os("TESSERA_MPI_FAULT").is_some() {
        return;
    }
    let g = ProcessGroup::mpi(GroupOptions::default()).unwrap();
    let mut digests = Vec::new();
    for (len, salt) in [(0usize, 0usize), (1, 3), (7, 5), (1031, 11), (100_003, 2)] {
        for op in [ReduceOp::Sum, ReduceOp::Avg, ReduceOp::Max, ReduceOp::Min] {
            digests.push(check_all::<f32>(&g, len, salt, op));
            digests.push(check_all::<f64>(&g, len, salt, op));
            digests.push(check_all::<f16>(&g, len, salt, op));
            digests.push(check_all::<bf16>(&g, len, salt, op));
            digests.push(check_all::<i64>(&g, len, salt, op));
        }
    }
    // Every rank holds the same bits: gather a checksum of all results.
    let sum: u64 = digests.iter().flatten().map(|&b| b as u64).sum();
    let mut all = vec![0i64; g.world_size()];
    g.all_gather(&[sum as i64], &mut all).unwrap();
    assert!(all.windows(2).all(|w| w[0] == w[1]), "ranks disagree: {all:?}");
    assert_eq!(bits(&all[..1]), bits(&[sum as i64]));
    // A desync: rank 0 all-reduces 8 elements, the others broadcast 8: every rank gets Desync.
    let mut v = vec![1.0f32; 8];
    let r = if g.rank() == 0 { g.all_reduce(&mut v, ReduceOp::Sum) } else { g.broadcast(&mut v, 0) };
    match r {
        Err(e @ Error::Desync { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains("all_reduce(f32, 8)") && text.contains("broadcast(f32, 8, root 0)"),
                "{text}"
            );
        }
        other => panic!("rank {}: {other:?}", g.rank()),
    }
    println!("mpi rank {} of {}: all checks passed", g.rank(), g.world_size());
}

/// Runs inside each MPI rank for the fault test: rank 1 exits with status 3 while rank 0 waits in an
/// all-reduce.
#[test]
fn mpi_fault_worker() {
    if !under_mpirun() || std::env::var_os("TESSERA_MPI_FAULT").is_none() {
        return;
    }
    let g = ProcessGroup::mpi(GroupOptions::default()).unwrap();
    g.barrier().unwrap();
    if g.rank() == 1 {
        std::process::exit(3);
    }
    let mut v = vec![1.0f32; 16];
    let _ = g.all_reduce(&mut v, ReduceOp::Sum);
}

#[test]
fn collectives_under_mpirun_with_2_and_3_ranks() {
    if under_mpirun() || !mpirun_available() {
        return;
    }
    for np in [2usize, 3] {
        let report = self_under_mpirun(np, "mpi_rank_checks", Vec::new());
        assert_eq!(report.failure, None, "mpirun -np {np} failed");
    }
}

#[test]
fn mpirun_names_a_failed_rank() {
    if under_mpirun() || !mpirun_available() {
        return;
    }
    let report = self_under_mpirun(2, "mpi_fault_worker", vec![("TESSERA_MPI_FAULT".into(), "1".into())]);
    let failure = report.failure.expect("mpirun succeeded although rank 1 exited with status 3");
    assert_eq!(failure.rank, Some(1), "{failure}");
    assert_eq!(failure.code, Some(3), "{failure}");
}
