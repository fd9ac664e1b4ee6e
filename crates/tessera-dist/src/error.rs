//! The crate's one error type. Every variant names the ranks and the call involved, so a failed job says
//! which rank to look at: the rank that was lost, the two calls that diverged, where every rank stood when
//! a collective timed out.

use std::time::Duration;

use crate::call::{Call, StateReport};

/// What went wrong in a process group, its setup or the launcher.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An environment variable is missing or malformed.
    #[error("environment variable {var}: {problem}")]
    Env {
        /// The variable (`RANK`, `MASTER_PORT`, ...).
        var: String,
        /// What is wrong with it.
        problem: String,
    },
    /// An argument does not fit the call or the group.
    #[error("{what}: expected {expected}, found {found}")]
    InvalidArgument {
        /// The argument.
        what: String,
        /// What it must be.
        expected: String,
        /// What it is.
        found: String,
    },
    /// The operation is not available for this element type or backend.
    #[error("{what} is not supported: {reason}")]
    Unsupported {
        /// The operation.
        what: String,
        /// Why.
        reason: String,
    },
    /// The master port cannot be bound.
    #[error(
        "cannot listen on {addr}: the port is in use (by another job or a stale process); choose another MASTER_PORT"
    )]
    PortInUse {
        /// The address.
        addr: String,
    },
    /// Rendezvous failed: the master cannot be reached, or not every rank arrived in time.
    #[error("rendezvous at {addr}: {reason}")]
    Rendezvous {
        /// The master's address.
        addr: String,
        /// What happened.
        reason: String,
    },
    /// This process was refused by the job it tried to join (another run id, a taken rank, ...).
    #[error("refused by {by}: {reason}")]
    Refused {
        /// The rank that refused it, with its address.
        by: String,
        /// Why.
        reason: String,
    },
    /// Ranks disagree on the world size.
    #[error("world size mismatch: rank {rank} says WORLD_SIZE={found}, rank 0 says {expected}")]
    WorldSizeMismatch {
        /// The rank that disagrees with rank 0.
        rank: usize,
        /// Rank 0's world size.
        expected: usize,
        /// The other rank's.
        found: usize,
    },
    /// A rank died, disconnected or left while others still needed it.
    #[error("rank {rank} was lost during {} (seen by rank {me}): {detail}", during(.call))]
    PeerLost {
        /// The rank reporting it.
        me: usize,
        /// The lost rank.
        rank: usize,
        /// The call the reporting rank was in.
        call: Option<Call>,
        /// How it was noticed (connection closed, reported by another rank, ...).
        detail: String,
    },
    /// Ranks called different collectives (or the same one with different arguments) at the same point.
    #[error("collectives diverged: rank {rank} called {call} but rank {peer} called {peer_call}")]
    Desync {
        /// One rank.
        rank: usize,
        /// Its call.
        call: Call,
        /// The other rank.
        peer: usize,
        /// The other rank's call.
        peer_call: Call,
    },
    /// A collective did not complete in time; `states` says where every rank stood.
    #[error("{call} on rank {rank} timed out after {:.1} s waiting for rank {waiting_for}; {states}", .waited.as_secs_f64())]
    Timeout {
        /// The rank reporting it.
        rank: usize,
        /// Its call.
        call: Call,
        /// How long it waited.
        waited: Duration,
        /// The rank it was waiting for.
        waiting_for: usize,
        /// Every rank's state as far as it could be learnt.
        states: StateReport,
    },
    /// Another rank failed and told this one to stop.
    #[error("rank {by} aborted the group: {reason}")]
    Aborted {
        /// The rank that failed.
        by: usize,
        /// Its error.
        reason: String,
    },
    /// This rank was killed by an injected fault (threads backend).
    #[error("rank {rank} was killed at {call} (injected fault)")]
    Killed {
        /// This rank.
        rank: usize,
        /// The call it died in.
        call: Call,
    },
    /// An earlier error left the group unusable (collectives cannot resume part-way).
    #[error("the process group is unusable after an earlier error: {first}")]
    Broken {
        /// The first error.
        first: String,
    },
    /// A peer sent a malformed message.
    #[error("protocol error in a message from rank {rank}: {detail}")]
    Protocol {
        /// The sender.
        rank: usize,
        /// What is wrong.
        detail: String,
    },
    /// An operating-system error.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: std::io::Error,
    },
    /// Launching or supervising processes failed.
    #[error("launch: {reason}")]
    Launch {
        /// What happened.
        reason: String,
    },
    /// A benchmark's result differed from the exact answer.
    #[error("check failed: {what}")]
    Check {
        /// What differed.
        what: String,
    },
    /// An MPI call could not be made (the `mpi` backend).
    #[error("mpi: {reason}")]
    Mpi {
        /// What happened.
        reason: String,
    },
    /// A tensor could not be read or built.
    #[cfg(feature = "candle")]
    #[error("tensor: {0}")]
    Tensor(#[from] candle_core::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

fn during(call: &Option<Call>) -> String {
    match call {
        Some(c) => c.to_string(),
        None => "no collective".to_string(),
    }
}

impl Error {
    /// An [`Error::InvalidArgument`].
    pub(crate) fn invalid(
        what: impl Into<String>,
        expected: impl Into<String>,
        found: impl ToString,
    ) -> Error {
        Error::InvalidArgument { what: what.into(), expected: expected.into(), found: found.to_string() }
    }

    /// An [`Error::Io`].
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io { context: context.into(), source }
    }
}
