//! `cargo xtask ci`: every check CI runs, cheapest first, stopping at the first failure (the README
//! walkthroughs last: they run the CLI the tests just built).

use std::time::Instant;

use crate::util::{cargo, mpi_available, workspace_features};

/// One named check.
type Step = (&'static str, Box<dyn Fn() -> Result<(), String>>);

/// `cargo ARGS` with the workspace's extra features (see `util::workspace_features`).
fn with_features(args: &[&str]) -> Result<(), String> {
    let extra = workspace_features();
    let split = args.iter().position(|a| *a == "--").unwrap_or(args.len());
    let mut all: Vec<&str> = args[..split].to_vec();
    all.extend(extra);
    all.extend(&args[split..]);
    cargo(&all)
}

fn tests_step() -> Result<(), String> {
    if !mpi_available() {
        eprintln!(
            "    Open MPI (mpirun, mpicc) not found: the mpi backend is not built or tested \
             (apt-get install libopenmpi-dev openmpi-bin libclang-dev)"
        );
    }
    with_features(&["test", "--workspace"])
}

/// Runs the CI checks in order.
pub fn run() -> Result<(), String> {
    let started = Instant::now();
    let steps: Vec<Step> = vec![
        ("cargo fmt --check", Box::new(|| cargo(&["fmt", "--all", "--check"]))),
        ("tidy", Box::new(crate::tidy::run)),
        (
            "clippy (workspace, all targets)",
            Box::new(|| with_features(&["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])),
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
        ("tests (doc tests included; with Open MPI, the mpi backend under mpirun)", Box::new(tests_step)),
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
