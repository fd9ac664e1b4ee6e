//! Moving frames between ranks: the [`Transport`] trait the collectives are written against, and its two
//! implementations, in-process channels ([`threads`]) and TCP sockets ([`tcp`]).
//!
//! A transport delivers every frame sent to this rank, from any peer, in the order each peer sent them,
//! through one incoming queue; losing a peer is an event in the same queue, so a rank waiting for one
//! peer learns at once that another is gone.

pub(crate) mod tcp;
pub(crate) mod threads;

use std::time::{Duration, Instant};

use crate::call::RankState;
use crate::frame::{Frame, Payload};

/// What arrives at a rank.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// A frame from rank `.0`.
    Frame(usize, Frame),
    /// Rank `rank` is gone: `clean` when it dropped its group normally, not when it crashed or was killed.
    Lost { rank: usize, clean: bool, detail: String },
}

/// Point-to-point frame delivery between the ranks of one group.
pub(crate) trait Transport: Send {
    /// Sends `frame` to `dst`; an error (the peer is gone) says how.
    fn send(&mut self, dst: usize, frame: Frame) -> Result<(), String>;

    /// The next incoming event: polls for `spin`, then blocks until `deadline` (`None`: nothing came).
    fn recv(&mut self, deadline: Instant, spin: Duration) -> Option<Incoming>;

    /// Makes this rank's state visible to peers asking where it stands.
    fn publish(&self, state: RankState);

    /// Every rank's state when the transport can read it directly (threads); `None` when it must be
    /// asked for with status frames (TCP).
    fn peer_states(&self) -> Option<Vec<Option<RankState>>>;

    /// Disappears as a killed process would (fault injection).
    fn kill(&mut self);

    /// A buffer of `len` bytes, recycled when one is free (contents unspecified).
    fn payload(&mut self, len: usize) -> Payload;

    /// Returns a consumed buffer for reuse.
    fn recycle(&mut self, payload: Payload);
}

/// Free buffers kept for reuse, so that steady-state collectives allocate (and zero) nothing.
#[derive(Debug, Default)]
pub(crate) struct Pool {
    free: Vec<Payload>,
}

impl Pool {
    /// The most buffers kept.
    const MAX: usize = 64;

    /// A buffer of `len` bytes: the first free one large enough, or a new one.
    pub(crate) fn take(&mut self, len: usize) -> Payload {
        match self.free.iter().rposition(|p| p.capacity() >= len) {
            Some(i) => self.free.swap_remove(i).reuse(len),
            None => Payload::zeroed(len),
        }
    }

    /// Keeps `p` unless the pool is full.
    pub(crate) fn put(&mut self, p: Payload) {
        if self.free.len() < Self::MAX && p.capacity() > 0 {
            self.free.push(p);
        }
    }
}

/// Polls `try_recv` for `spin`, then blocks on `recv_timeout` until `deadline`.
pub(crate) fn spin_then_block<T>(
    rx: &std::sync::mpsc::Receiver<T>,
    deadline: Instant,
    spin: Duration,
) -> Option<T> {
    use std::sync::mpsc::{RecvTimeoutError, TryRecvError};
    let start = Instant::now();
    if !spin.is_zero() {
        let spin_end = (start + spin).min(deadline);
        loop {
            match rx.try_recv() {
                Ok(v) => return Some(v),
                Err(TryRecvError::Disconnected) => return None,
                Err(TryRecvError::Empty) => {}
            }
            if Instant::now() >= spin_end {
                break;
            }
            std::hint::spin_loop();
        }
    }
    loop {
        let now = Instant::now();
        if now >= deadline {
            return rx.try_recv().ok();
        }
        match rx.recv_timeout(deadline - now) {
            Ok(v) => return Some(v),
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return None,
        }
    }
}
