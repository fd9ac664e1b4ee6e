//! # tessera-dist
//!
//! Process groups and collectives for data-parallel work: every rank calls the same collectives and gets
//! the same bits back, over in-process threads, TCP between processes (or machines), or MPI.
//!
//! - [`ProcessGroup`]: `all_reduce`, `broadcast`, `all_gather`, `reduce_scatter`, `barrier`,
//!   `send`/`recv` for f32, f64, f16, bf16 and i64 ([`Element`]), asynchronous variants returning a
//!   [`Work`] handle, and (feature `candle`) the same on candle tensors.
//! - Backends: [`ProcessGroup::threads`] (shared memory; fault injection with
//!   [`ProcessGroup::threads_with`]), [`ProcessGroup::tcp`] / [`init_from_env`] (torchrun's environment),
//!   and MPI behind the `mpi` feature.
//! - Algorithms: a segmented, pipelined ring (reduce-scatter then all-gather) for bandwidth, recursive
//!   doubling for small messages, chosen by size ([`GroupOptions`]). Results are deterministic: the same
//!   inputs at the same world size give the same bits on every rank and every run.
//! - Faults end in errors that name ranks, on every rank: a lost rank ([`Error::PeerLost`]), ranks that
//!   called different collectives ([`Error::Desync`], detected from the call every message carries), a
//!   collective past its timeout ([`Error::Timeout`], with where every rank stood).
//! - [`launch`]: the torchrun-style launcher behind `tessera launch`, and [`mod@bench`]: the all-reduce
//!   benchmark behind `tessera dist bench`.
//!
//! ```
//! use tessera_dist::{ProcessGroup, ReduceOp};
//!
//! let groups = ProcessGroup::threads(2).unwrap();
//! std::thread::scope(|s| {
//!     for g in &groups {
//!         s.spawn(move || {
//!             let mut grad = vec![1.0f32 + g.rank() as f32; 3];
//!             g.all_reduce(&mut grad, ReduceOp::Avg).unwrap();
//!             assert_eq!(grad, [1.5; 3]);
//!         });
//!     }
//! });
//! ```
//!
//! On the MPI backend a rank that dies cannot become an error on the others (rsmpi runs with
//! `MPI_ERRORS_ARE_FATAL` and Open MPI 4.1 has no fault tolerance): `mpirun` ends the job and names the
//! rank, and `tessera launch --backend mpi` reports it.

mod algo;
pub mod bench;
mod call;
mod element;
mod env;
mod error;
mod frame;
mod group;
pub mod launch;
mod mesh;
#[cfg(feature = "mpi")]
mod mpi;
mod options;
mod rendezvous;
#[cfg(feature = "candle")]
mod tensor;
mod transport;

pub use call::{Call, OpKind, RankState, StateReport};
pub use element::{DType, Element, ReduceOp};
pub use env::{BackendKind, init_from_env, tcp_options_from_env};
pub use error::{Error, Result};
pub use group::{ProcessGroup, Work};
pub use options::{Algorithm, Fault, FaultKind, GroupOptions};
pub use rendezvous::TcpOptions;
