//! In-process ranks: one channel per rank, shared state tables for timeout reports. Dropping a rank's
//! group (or killing it by fault injection) tells every peer, as a closed socket would.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Incoming, Pool, Transport, spin_then_block};
use crate::call::RankState;
use crate::frame::{Frame, Payload};

/// One rank's end of an in-process group.
pub(crate) struct ThreadTransport {
    rank: usize,
    peers: Vec<Sender<Incoming>>,
    rx: Receiver<Incoming>,
    states: Arc<Vec<Mutex<RankState>>>,
    gone: bool,
    pool: Pool,
}

/// The transports of a `world`-rank group, rank 0 first.
pub(crate) fn group(world: usize) -> Vec<ThreadTransport> {
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..world).map(|_| channel()).unzip();
    let states =
        Arc::new((0..world).map(|_| Mutex::new(RankState { current: None, completed: 0 })).collect());
    rxs.into_iter()
        .enumerate()
        .map(|(rank, rx)| ThreadTransport {
            rank,
            peers: txs.clone(),
            rx,
            states: Arc::clone(&states),
            gone: false,
            pool: Pool::default(),
        })
        .collect()
}

impl ThreadTransport {
    fn announce_loss(&mut self, clean: bool, detail: &str) {
        if self.gone {
            return;
        }
        self.gone = true;
        for (dst, tx) in self.peers.iter().enumerate() {
            if dst != self.rank {
                let _ = tx.send(Incoming::Lost { rank: self.rank, clean, detail: detail.to_string() });
            }
        }
    }
}

impl Transport for ThreadTransport {
    fn send(&mut self, dst: usize, frame: Frame) -> Result<(), String> {
        if self.gone {
            return Err("this rank is gone".to_string());
        }
        self.peers[dst].send(Incoming::Frame(self.rank, frame)).map_err(|_| "its thread is gone".to_string())
    }

    fn recv(&mut self, deadline: Instant, spin: Duration) -> Option<Incoming> {
        spin_then_block(&self.rx, deadline, spin)
    }

    fn publish(&self, state: RankState) {
        *self.states[self.rank].lock().unwrap_or_else(|e| e.into_inner()) = state;
    }

    fn peer_states(&self) -> Option<Vec<Option<RankState>>> {
        Some(self.states.iter().map(|s| Some(*s.lock().unwrap_or_else(|e| e.into_inner()))).collect())
    }

    fn kill(&mut self) {
        self.announce_loss(false, "killed (injected fault)");
    }

    fn payload(&mut self, len: usize) -> Payload {
        self.pool.take(len)
    }

    fn recycle(&mut self, payload: Payload) {
        self.pool.put(payload);
    }
}

impl Drop for ThreadTransport {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.announce_loss(false, "its thread panicked");
        } else {
            self.announce_loss(true, "it dropped its process group");
        }
    }
}
