//! Joining a group from the environment torchrun (and `tessera launch`) sets: `RANK`, `WORLD_SIZE`,
//! `LOCAL_RANK`, `MASTER_ADDR`, `MASTER_PORT`, plus `TESSERA_DIST_BACKEND` (`tcp`, the default, or
//! `mpi`), `TESSERA_RUN_ID` and the `TESSERA_DIST_*` knobs of [`GroupOptions::from_env`].

use crate::error::{Error, Result};
use crate::group::ProcessGroup;
use crate::options::{GroupOptions, env_parse};
use crate::rendezvous::TcpOptions;

/// A backend that `init_from_env` can start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// One process per rank over TCP.
    Tcp,
    /// MPI (under `mpirun`; needs the `mpi` feature).
    Mpi,
}

impl std::str::FromStr for BackendKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "tcp" => Ok(BackendKind::Tcp),
            "mpi" => Ok(BackendKind::Mpi),
            _ => Err(format!("expected tcp or mpi, found {s:?}")),
        }
    }
}

fn required<T: std::str::FromStr>(var: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    env_parse::<T>(var)?.ok_or_else(|| Error::Env {
        var: var.to_string(),
        problem: "not set (start the program with `tessera launch --nproc N -- PROGRAM`, or set RANK, \
                  WORLD_SIZE, MASTER_ADDR and MASTER_PORT)"
            .to_string(),
    })
}

/// The TCP settings the environment describes, checked (rank below world size, `LOCAL_RANK` a number).
pub fn tcp_options_from_env() -> Result<TcpOptions> {
    let rank: usize = required("RANK")?;
    let world_size: usize = required("WORLD_SIZE")?;
    if world_size == 0 {
        return Err(Error::Env { var: "WORLD_SIZE".into(), problem: "must be at least 1".into() });
    }
    if rank >= world_size {
        return Err(Error::Env {
            var: "RANK".into(),
            problem: format!("{rank} is not below WORLD_SIZE={world_size}"),
        });
    }
    let _local: Option<usize> = env_parse("LOCAL_RANK")?;
    let master_addr: String = required("MASTER_ADDR")?;
    let master_port: u16 = required("MASTER_PORT")?;
    if master_port == 0 {
        return Err(Error::Env {
            var: "MASTER_PORT".into(),
            problem: "must be a port from 1 to 65535".into(),
        });
    }
    let run_id = env_parse::<String>("TESSERA_RUN_ID")?.unwrap_or_default();
    Ok(TcpOptions { rank, world_size, master_addr, master_port, run_id, options: GroupOptions::from_env()? })
}

/// Joins the group the environment describes (see the module docs).
pub fn init_from_env() -> Result<ProcessGroup> {
    let backend = env_parse::<BackendKind>("TESSERA_DIST_BACKEND")?.unwrap_or(BackendKind::Tcp);
    match backend {
        BackendKind::Tcp => ProcessGroup::tcp(tcp_options_from_env()?),
        BackendKind::Mpi => mpi_from_env(),
    }
}

#[cfg(feature = "mpi")]
fn mpi_from_env() -> Result<ProcessGroup> {
    ProcessGroup::mpi(GroupOptions::from_env()?)
}

#[cfg(not(feature = "mpi"))]
fn mpi_from_env() -> Result<ProcessGroup> {
    Err(Error::Unsupported {
        what: "TESSERA_DIST_BACKEND=mpi".to_string(),
        reason: "this build has no MPI backend; build with the `mpi` feature (needs Open MPI)".to_string(),
    })
}
