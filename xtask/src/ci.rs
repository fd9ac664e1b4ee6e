//! `cargo xtask ci`: every check CI runs, cheapest first, stopping at the first failure (the README
//! walkthroughs last: they run the CLI the tests just built).

use std::time::Instant;

use crate::util::cargo;

/// One named check.
type Step = (&'static str, Box<dyn Fn() -> Result<(), String>>);

/// The `mpi` feature of tessera-dist: clippy, then its tests, which start themselves under `mpirun`.
/// Skipped (and said so) where Open MPI is not installed; `.ci/run` installs it.
fn mpi_step() -> Result<(), String> {
    if !crate::util::succeeds("mpirun", &["--version"]) || !crate::util::succeeds("mpicc", &["--version"]) {
        eprintln!(
            "    Open MPI (mpirun, mpicc) not found: skipped (apt-get install libopenmpi-dev openmpi-bin libclang-dev)"
        );
        return Ok(());
    }
    cargo(&["clippy", "-p", "tessera-dist", "--features", "mpi", "--all-targets", "--", "-D", "warnings"])?;
    cargo(&["test", "-p", "tessera-dist", "--features", "mpi", "--test", "mpi"])
}

/// Runs the CI checks in order.
pub fn run() -> Result<(), String> {
    let started = Instant::now();
    let steps: Vec<Step> = vec![
        ("cargo fmt --check", Box::new(|| cargo(&["fmt", "--all", "--check"]))),
        ("tidy", Box::new(crate::tidy::run)),
        (
            "clippy (workspace, all targets)",
            Box::new(|| cargo(&["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])),
        ),
        (
            "clippy (tessera-tensor without candle)",
            Box::new(|| {
                cargo(&[
                    "clippy",
                    "-p",
                    "tessera-tensor",
                    "--no-default-features",
                    "--all-targets",
                    "--",
                    "-D",
                    "warnings",
                ])
            }),
        ),
        ("tests (doc tests included)", Box::new(|| cargo(&["test", "--workspace"]))),
        ("mpi backend (clippy, tests under mpirun -np 2 and 3)", Box::new(mpi_step)),
        ("api --check", Box::new(|| crate::api::run(true))),
        ("readme walkthroughs", Box::new(crate::readme::run)),
    ];
    for (name, step) in &steps {
        let t = Instant::now();
        eprintln!("==> {name}");
        step().map_err(|e| format!("{name}: {e}"))?;
        eprintln!("<== {name}: ok ({:.1}s)", t.elapsed().as_secs_f64());
    }
    eprintln!("xtask ci: all checks passed in {:.1}s", started.elapsed().as_secs_f64());
    Ok(())
}
