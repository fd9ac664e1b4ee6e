//! `tessera launch` (a torchrun-style launcher) and `tessera dist bench` (all-reduce latency and bus
//! bandwidth on the threads, TCP or MPI backend).

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use tessera_dist::bench::{BenchResult, bench_all_reduce, bench_threads, format_size, parse_sizes};
use tessera_dist::launch::{LaunchOptions, launch};
use tessera_dist::{BackendKind, init_from_env};

use crate::CliError;

/// Which backend a launched job uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LaunchBackend {
    /// One process per rank over TCP (rendezvous at --master-port).
    Tcp,
    /// `mpirun` starts the processes (needs Open MPI and a build with the `mpi` feature).
    Mpi,
}

impl From<LaunchBackend> for BackendKind {
    fn from(b: LaunchBackend) -> Self {
        match b {
            LaunchBackend::Tcp => BackendKind::Tcp,
            LaunchBackend::Mpi => BackendKind::Mpi,
        }
    }
}

/// Arguments of `tessera launch`.
#[derive(Debug, Args)]
pub struct LaunchArgs {
    /// Processes (ranks) to start on this machine.
    #[arg(long)]
    nproc: usize,
    /// Rendezvous port (default: a free one).
    #[arg(long)]
    master_port: Option<u16>,
    /// Rendezvous host.
    #[arg(long, default_value = "127.0.0.1")]
    master_addr: String,
    /// Backend.
    #[arg(long, value_enum, default_value = "tcp")]
    backend: LaunchBackend,
    /// The program and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "PROGRAM")]
    command: Vec<String>,
}

/// `tessera launch`: runs the job and exits with the first failure's status, naming the rank.
pub fn run_launch(args: LaunchArgs) -> ExitCode {
    if args.nproc == 0 {
        eprintln!("error: --nproc must be at least 1");
        return ExitCode::from(2);
    }
    let mut opts = LaunchOptions::new(args.nproc, args.command[0].clone(), args.command[1..].to_vec());
    opts.master_port = args.master_port;
    opts.master_addr = args.master_addr;
    opts.backend = args.backend.into();
    match launch(&opts) {
        Ok(report) => match report.failure {
            None => ExitCode::SUCCESS,
            Some(f) => {
                let stopped = if report.stopped.is_empty() {
                    String::new()
                } else {
                    let ranks: Vec<String> = report.stopped.iter().map(ToString::to_string).collect();
                    format!("; stopped rank(s) {}", ranks.join(", "))
                };
                eprintln!("tessera launch: {f}{stopped}");
                ExitCode::from(u8::try_from(f.exit_code().clamp(1, 255)).unwrap_or(1))
            }
        },
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Distributed collectives from the command line.
#[derive(Debug, Subcommand)]
pub enum DistCommand {
    /// Time f32 all-reduce per message size: latency and bus bandwidth (algbw x 2(N-1)/N), every result
    /// checked against the exact sum.
    Bench(BenchArgs),
    /// One rank of `dist bench` (started by it through the launcher).
    #[command(hide = true)]
    BenchWorker(WorkerArgs),
}

/// The backends `dist bench` can time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchBackend {
    /// In-process ranks (threads).
    Threads,
    /// One process per rank over TCP loopback.
    Tcp,
    /// One process per rank under mpirun.
    Mpi,
}

/// Arguments of `tessera dist bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Backend.
    #[arg(long, value_enum, default_value = "threads")]
    backend: BenchBackend,
    /// Ranks.
    #[arg(long, default_value_t = 2)]
    nproc: usize,
    /// Message sizes per rank.
    #[arg(long, default_value = "1KiB,64KiB,1MiB,16MiB,64MiB,256MiB")]
    sizes: String,
    /// Time per size to aim for, milliseconds.
    #[arg(long, default_value_t = 300)]
    budget_ms: u64,
    /// Print one JSON object `{"results": [{"bytes", "time_us", "busbw_gbps"}, ...]}`.
    #[arg(long)]
    json: bool,
}

/// Arguments of the hidden worker.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    #[arg(long)]
    sizes: String,
    #[arg(long)]
    budget_ms: u64,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Report {
    results: Vec<BenchResult>,
}

/// Runs a `tessera dist` command.
pub fn run(cmd: DistCommand) -> Result<(), CliError> {
    match cmd {
        DistCommand::Bench(args) => bench(args),
        DistCommand::BenchWorker(args) => worker(args),
    }
}

fn sizes_of(text: &str) -> Result<Vec<usize>, CliError> {
    parse_sizes(text).map_err(|e| CliError::Usage(format!("--sizes: {e}")))
}

fn worker(args: WorkerArgs) -> Result<(), CliError> {
    let sizes = sizes_of(&args.sizes)?;
    let group = init_from_env()?;
    let results = bench_all_reduce(&group, &sizes, Duration::from_millis(args.budget_ms))?;
    if group.rank() == 0 {
        let json = serde_json::to_string(&Report { results }).map_err(|e| CliError::Usage(e.to_string()))?;
        println!("{json}");
    }
    Ok(())
}

fn bench(args: BenchArgs) -> Result<(), CliError> {
    let sizes = sizes_of(&args.sizes)?;
    if args.nproc == 0 {
        return Err(CliError::Usage("--nproc must be at least 1".into()));
    }
    for &s in &sizes {
        // The benchmark holds one buffer per rank; on the threads backend all of them live here.
        let per_process = if args.backend == BenchBackend::Threads { args.nproc } else { 1 };
        tessera_tensor::check_fits("dist bench buffers", tessera_tensor::bytes_for([s, per_process, 3], 1))?;
    }
    let budget = Duration::from_millis(args.budget_ms);
    let results = match args.backend {
        BenchBackend::Threads => bench_threads(args.nproc, &sizes, budget)?,
        BenchBackend::Tcp | BenchBackend::Mpi => {
            let exe = std::env::current_exe()
                .map_err(|e| CliError::Usage(format!("cannot find this program to start ranks: {e}")))?;
            let mut opts = LaunchOptions::new(
                args.nproc,
                exe.to_string_lossy().into_owned(),
                vec![
                    "dist".into(),
                    "bench-worker".into(),
                    "--sizes".into(),
                    args.sizes.clone(),
                    "--budget-ms".into(),
                    args.budget_ms.to_string(),
                ],
            );
            opts.capture_rank0 = true;
            if args.backend == BenchBackend::Mpi {
                opts.backend = BackendKind::Mpi;
            }
            let report = launch(&opts)?;
            if let Some(f) = report.failure {
                return Err(CliError::Usage(format!("dist bench: {f}")));
            }
            let text = String::from_utf8_lossy(&report.rank0_stdout);
            let parsed: Report = serde_json::from_str(text.trim()).map_err(|e| {
                CliError::Usage(format!("dist bench: rank 0 printed no results ({e}): {text}"))
            })?;
            parsed.results
        }
    };
    if args.json {
        let json = serde_json::to_string(&Report { results }).map_err(|e| CliError::Usage(e.to_string()))?;
        println!("{json}");
    } else {
        println!("all_reduce f32, {} ranks, {:?} backend", args.nproc, args.backend);
        println!("{:>10} {:>12} {:>12}", "size", "time (us)", "busbw GB/s");
        for r in &results {
            println!("{:>10} {:>12.1} {:>12.3}", format_size(r.bytes), r.time_us, r.busbw_gbps);
        }
    }
    Ok(())
}
