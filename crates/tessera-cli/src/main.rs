//! `tessera`: the command-line tool of the tessera workspace.
//!
//! `tessera data info|export|synth|split`, `tessera trees train|predict|eval`, `tessera attention run|bench`,
//! `tessera launch`, `tessera dist bench` and `tessera vlm embed|tokenize|preprocess|zero-shot|retrieve`. Errors print one line naming the file, line and column at fault, and exit with status 1.

mod attention;
mod data;
mod data_split;
mod dist;
mod progress;
mod trees;
mod trees_args;
mod trees_flags;
mod trees_io;
mod vlm;
mod vlm_bench;
mod vlm_train;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// tessera: machine learning from the command line.
#[derive(Debug, Parser)]
#[command(name = "tessera", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Inspect, export and generate datasets.
    #[command(subcommand)]
    Data(data::DataCommand),
    /// Train, apply and evaluate decision trees and their ensembles.
    #[command(subcommand)]
    Trees(trees::TreesCommand),
    /// Run and time flash attention.
    #[command(subcommand)]
    Attention(attention::AttentionCommand),
    /// Start N local processes of a distributed program (torchrun's environment: RANK, WORLD_SIZE,
    /// LOCAL_RANK, MASTER_ADDR, MASTER_PORT), prefix their output with the rank, and stop them all at the
    /// first failure: `tessera launch --nproc 2 -- PROGRAM ARGS...`.
    Launch(dist::LaunchArgs),
    /// Time collectives on the threads, TCP or MPI backend.
    #[command(subcommand)]
    Dist(dist::DistCommand),
    /// CLIP and SigLIP from Hugging Face folders: embeddings, tokens, pixels, zero-shot, retrieval.
    #[command(subcommand)]
    Vlm(vlm::VlmCommand),
}

/// Errors of the CLI: each wraps a library error, which already names the file and place at fault.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A dataset could not be loaded, generated or written.
    #[error(transparent)]
    Datasets(#[from] tessera_datasets::Error),
    /// A model could not be trained, applied, saved or loaded.
    #[error(transparent)]
    Trees(#[from] tessera_trees::Error),
    /// The attention kernels failed on valid inputs (a tensor operation).
    #[error(transparent)]
    Attention(#[from] tessera_attention::Error),
    /// A collective, rendezvous or launch failed.
    #[error(transparent)]
    Dist(#[from] tessera_dist::Error),
    /// A vision-language model could not be loaded or run.
    #[error(transparent)]
    Vlm(#[from] tessera_vlm::Error),
    /// Writing output failed.
    #[error(transparent)]
    Tensor(#[from] tessera_tensor::Error),
    /// The command line asks for something inconsistent.
    #[error("{0}")]
    Usage(String),
}

/// Restores the default action of SIGPIPE, which Rust's runtime ignores: a reader that goes away
/// (`tessera data info digits | head -c1`) then ends this process quietly, as it does `cat` or `grep`,
/// instead of every later print failing with a broken pipe.
#[cfg(unix)]
#[allow(unsafe_code)]
fn default_sigpipe() {
    // SAFETY: `signal` with SIG_DFL installs no handler code; it runs before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(not(unix))]
fn default_sigpipe() {}

/// On SIGINT or SIGTERM, removes the temporary files of writes in progress (the files they would have
/// replaced are untouched) and exits with the shell's status for the signal.
fn remove_temp_files_on_signal() {
    let _ = ctrlc::set_handler(|| {
        tessera_tensor::remove_temp_files();
        std::process::exit(130);
    });
}

fn main() -> ExitCode {
    default_sigpipe();
    remove_temp_files_on_signal();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Data(cmd) => data::run(cmd),
        Command::Trees(cmd) => trees::run(cmd),
        Command::Attention(cmd) => attention::run(cmd),
        Command::Launch(args) => return dist::run_launch(args),
        Command::Dist(cmd) => dist::run(cmd),
        Command::Vlm(cmd) => vlm::run(cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
