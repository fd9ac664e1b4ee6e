//! The knobs of a process group ([`GroupOptions`]: timeouts, algorithm choice, spinning, segment size),
//! read from the environment once and checked there, and the faults the threads backend can inject.

use std::time::Duration;

use crate::error::{Error, Result};

/// Which all-reduce algorithm to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// Recursive doubling up to [`GroupOptions::small_message_bytes`], the segmented ring above.
    Auto,
    /// Always the bandwidth-optimal segmented ring (reduce-scatter, then all-gather).
    Ring,
    /// Always the latency-optimal recursive doubling.
    RecursiveDoubling,
}

impl std::str::FromStr for Algorithm {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "auto" => Ok(Algorithm::Auto),
            "ring" => Ok(Algorithm::Ring),
            "rd" | "recursive-doubling" => Ok(Algorithm::RecursiveDoubling),
            _ => Err(format!("expected auto, ring or rd, found {s:?}")),
        }
    }
}

/// How a process group behaves. The defaults suit training; every field can be set from the environment
/// ([`GroupOptions::from_env`]).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupOptions {
    /// How long one collective may take before it fails naming where every rank stands
    /// (`TESSERA_DIST_TIMEOUT`, seconds; default 300).
    pub timeout: Duration,
    /// How long rendezvous waits for every rank to arrive (`TESSERA_DIST_RENDEZVOUS_TIMEOUT`, seconds;
    /// default 600).
    pub rendezvous_timeout: Duration,
    /// The all-reduce algorithm (`TESSERA_DIST_ALGO`: `auto`, `ring`, `rd`; default auto).
    pub algorithm: Algorithm,
    /// All-reduces of at most this many bytes use recursive doubling under `Auto`
    /// (`TESSERA_DIST_SMALL_BYTES`; default 64 KiB).
    pub small_message_bytes: usize,
    /// How long a receive polls before it blocks (`TESSERA_DIST_SPIN_US`, microseconds). `None`: the
    /// backend's default, 50 us on threads (polling answers in a microsecond where waking a blocked
    /// thread takes tens) and 0 on TCP (there the data arrives through a reader thread, and a polling
    /// rank would take the core that thread needs whenever ranks share cores).
    pub spin: Option<Duration>,
    /// The ring's segment size (`TESSERA_DIST_SEGMENT_BYTES`; default 1 MiB, 4 KiB to 256 MiB): while one
    /// segment travels the previous one is reduced.
    pub segment_bytes: usize,
}

impl Default for GroupOptions {
    fn default() -> Self {
        GroupOptions {
            timeout: Duration::from_secs(300),
            rendezvous_timeout: Duration::from_secs(600),
            algorithm: Algorithm::Auto,
            small_message_bytes: 64 << 10,
            spin: None,
            segment_bytes: 1 << 20,
        }
    }
}

impl GroupOptions {
    /// The defaults, overridden by whichever `TESSERA_DIST_*` variables are set.
    pub fn from_env() -> Result<GroupOptions> {
        let mut o = GroupOptions::default();
        if let Some(v) = env_parse::<f64>("TESSERA_DIST_TIMEOUT")? {
            o.timeout = seconds("TESSERA_DIST_TIMEOUT", v)?;
        }
        if let Some(v) = env_parse::<f64>("TESSERA_DIST_RENDEZVOUS_TIMEOUT")? {
            o.rendezvous_timeout = seconds("TESSERA_DIST_RENDEZVOUS_TIMEOUT", v)?;
        }
        if let Some(v) = env_parse::<Algorithm>("TESSERA_DIST_ALGO")? {
            o.algorithm = v;
        }
        if let Some(v) = env_parse::<usize>("TESSERA_DIST_SMALL_BYTES")? {
            o.small_message_bytes = v;
        }
        if let Some(v) = env_parse::<u64>("TESSERA_DIST_SPIN_US")? {
            o.spin = Some(Duration::from_micros(v.min(1_000_000)));
        }
        if let Some(v) = env_parse::<usize>("TESSERA_DIST_SEGMENT_BYTES")? {
            o.segment_bytes = v;
        }
        o.check().map_err(|e| match e {
            Error::InvalidArgument { what, expected, found } => {
                Error::Env { var: what, problem: format!("expected {expected}, found {found}") }
            }
            other => other,
        })?;
        Ok(o)
    }

    /// Checks the fields (positive timeouts, a segment size in range).
    pub(crate) fn check(&self) -> Result<()> {
        if self.timeout.is_zero() {
            return Err(Error::invalid("TESSERA_DIST_TIMEOUT", "a positive duration", "0"));
        }
        if self.rendezvous_timeout.is_zero() {
            return Err(Error::invalid("TESSERA_DIST_RENDEZVOUS_TIMEOUT", "a positive duration", "0"));
        }
        if !(4096..=256 << 20).contains(&self.segment_bytes) {
            return Err(Error::invalid(
                "TESSERA_DIST_SEGMENT_BYTES",
                "4096 to 268435456 bytes",
                self.segment_bytes,
            ));
        }
        Ok(())
    }
}

/// Reads and parses an environment variable; `None` when unset or empty.
pub(crate) fn env_parse<T: std::str::FromStr>(var: &str) -> Result<Option<T>>
where
    T::Err: std::fmt::Display,
{
    match std::env::var(var) {
        Ok(s) if s.trim().is_empty() => Ok(None),
        Ok(s) => s
            .trim()
            .parse::<T>()
            .map(Some)
            .map_err(|e| Error::Env { var: var.to_string(), problem: format!("{s:?} does not parse: {e}") }),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(Error::Env { var: var.to_string(), problem: "not valid UTF-8".to_string() })
        }
    }
}

fn seconds(var: &str, v: f64) -> Result<Duration> {
    if !(v.is_finite() && v > 0.0 && v <= 1e7) {
        return Err(Error::Env {
            var: var.to_string(),
            problem: format!("expected seconds in (0, 1e7], found {v}"),
        });
    }
    Ok(Duration::from_secs_f64(v))
}

/// A fault the threads backend injects into one rank at one collective, so that failure handling is
/// tested in milliseconds and deterministically.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    /// The rank it strikes.
    pub rank: usize,
    /// The collective it strikes at (sequence number, from 1).
    pub at: u64,
    /// What happens.
    pub kind: FaultKind,
}

/// What an injected [`Fault`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// The rank vanishes as a killed process would: the others see it lost, it gets [`Error::Killed`].
    Kill,
    /// The rank sleeps this long before the collective (a stalled rank: the others time out).
    Delay(Duration),
    /// The rank calls another collective than the others (a broadcast from rank 0 for an all-reduce, an
    /// all-reduce for anything else).
    Desync,
}
