//! The engine under the threads and TCP backends: numbers collectives, stamps every frame with its call,
//! matches what arrives against what this rank expects, and turns every way a job can go wrong into an
//! error that names ranks — on every rank.
//!
//! - **Desync**: a frame of the current collective whose call differs from this rank's is an error at once
//!   (no extra messages: the call rides on the data).
//! - **Loss**: a peer that crashed (closed connection, killed thread) is an error at once, whichever peer
//!   this rank is waiting for; one that left normally only when it is needed.
//! - **Timeout**: every collective has a deadline; at it, the rank learns every other rank's state (read
//!   directly, or asked with status frames the peers' reader threads answer) and reports them all.
//! - **Abort**: the rank that fails tells every peer why, so all of them fail promptly with the cause.
//!
//! After any of these the group is broken: later calls fail with [`Error::Broken`].

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytemuck::Pod;
use serde::{Deserialize, Serialize};

use crate::call::{Call, OpKind, RankState, StateReport};
use crate::element::{DType, ReduceOp};
use crate::error::{Error, Result};
use crate::frame::{Frame, FrameKind};
use crate::options::{Fault, FaultKind, GroupOptions};
use crate::transport::{Incoming, Transport};

/// Why a rank aborted, sent to every peer in an abort frame.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum AbortCause {
    /// Two ranks called different collectives.
    Desync { rank: usize, call: Call, peer: usize, peer_call: Call },
    /// A rank was lost.
    Lost { rank: usize, detail: String },
    /// Anything else, as text.
    Other { text: String },
}

/// A rank's view of a transport-based group.
pub(crate) struct Mesh {
    pub(crate) rank: usize,
    pub(crate) world: usize,
    pub(crate) opts: GroupOptions,
    transport: Box<dyn Transport>,
    /// Collective frames that arrived before they were wanted, per sender.
    stash: Vec<VecDeque<Frame>>,
    /// Point-to-point frames not yet received, per sender.
    p2p: Vec<VecDeque<Frame>>,
    /// Peers known to be gone: whether they left cleanly, and how it was noticed.
    lost: Vec<Option<(bool, String)>>,
    /// The last collective's sequence number.
    seq: u64,
    completed: u64,
    p2p_sent: Vec<u64>,
    p2p_received: Vec<u64>,
    current: Option<Call>,
    started: Instant,
    deadline: Instant,
    broken: Option<String>,
    faults: Vec<Fault>,
    spin: Duration,
}

impl Mesh {
    /// A mesh over `transport` for `rank` of `world`.
    pub(crate) fn new(
        rank: usize,
        world: usize,
        transport: Box<dyn Transport>,
        opts: GroupOptions,
        faults: Vec<Fault>,
        default_spin: Duration,
    ) -> Mesh {
        let now = Instant::now();
        let spin = opts.spin.unwrap_or(default_spin);
        Mesh {
            rank,
            world,
            opts,
            transport,
            stash: (0..world).map(|_| VecDeque::new()).collect(),
            p2p: (0..world).map(|_| VecDeque::new()).collect(),
            lost: vec![None; world],
            seq: 0,
            completed: 0,
            p2p_sent: vec![0; world],
            p2p_received: vec![0; world],
            current: None,
            started: now,
            deadline: now,
            broken: None,
            faults: faults.into_iter().filter(|f| f.rank == rank).collect(),
            spin,
        }
    }

    /// Elements of `T` per segment.
    pub(crate) fn segment<T>(&self) -> usize {
        (self.opts.segment_bytes / size_of::<T>().max(1)).max(1)
    }

    /// Starts the next collective: numbers it, applies any injected fault, publishes the state and sets
    /// the deadline. Returns the call as this rank stamps it on its frames.
    pub(crate) fn begin(
        &mut self,
        op: OpKind,
        dtype: DType,
        count: usize,
        root: Option<usize>,
        reduce: Option<ReduceOp>,
    ) -> Result<Call> {
        self.usable()?;
        self.seq += 1;
        let mut call = Call::new(op, dtype, count, root, reduce, self.seq);
        let seq = self.seq;
        if let Some(fault) = self.faults.iter().find(|f| f.at == seq).copied() {
            match fault.kind {
                FaultKind::Kill => {
                    self.transport.kill();
                    self.broken = Some(format!("rank {} was killed at {call} (injected fault)", self.rank));
                    return Err(Error::Killed { rank: self.rank, call });
                }
                FaultKind::Delay(d) => std::thread::sleep(d),
                FaultKind::Desync => {
                    call = if op == OpKind::Broadcast {
                        Call { op: OpKind::AllReduce, root: None, reduce: Some(ReduceOp::Sum), ..call }
                    } else {
                        Call { op: OpKind::Broadcast, root: Some(0), reduce: None, ..call }
                    };
                }
            }
        }
        self.current = Some(call);
        self.drain_pending()?;
        self.transport.publish(RankState { current: Some(call), completed: self.completed });
        self.started = Instant::now();
        self.deadline = self.started + self.opts.timeout;
        Ok(call)
    }

    /// Ends the current collective.
    pub(crate) fn end(&mut self) {
        self.completed += 1;
        self.current = None;
        self.transport.publish(RankState { current: None, completed: self.completed });
    }

    /// Errors when an earlier failure broke the group.
    pub(crate) fn usable(&self) -> Result<()> {
        match &self.broken {
            Some(first) => Err(Error::Broken { first: first.clone() }),
            None => Ok(()),
        }
    }

    /// Sends `data` to `dst` as a frame of `call`.
    pub(crate) fn send<T: Pod>(&mut self, dst: usize, call: &Call, data: &[T]) -> Result<()> {
        self.send_kind(dst, FrameKind::Data, call, data)
    }

    fn send_kind<T: Pod>(&mut self, dst: usize, kind: FrameKind, call: &Call, data: &[T]) -> Result<()> {
        let bytes: &[u8] = bytemuck::cast_slice(data);
        let mut payload = self.transport.payload(bytes.len());
        payload.bytes_mut().copy_from_slice(bytes);
        self.forward(dst, Frame { kind, call: Some(*call), payload })
    }

    /// Sends a frame as it is (a received segment passed on without a copy).
    pub(crate) fn forward(&mut self, dst: usize, frame: Frame) -> Result<()> {
        let call = frame.call;
        match self.transport.send(dst, frame) {
            Ok(()) => Ok(()),
            Err(detail) => Err(self.explain_loss(dst, call, detail)),
        }
    }

    /// The error for a peer `gone` that this rank needed (a failed send, or a peer that left): the abort
    /// that some rank sent first, when one arrives within moments — it says why — else the crash of
    /// another rank that made `gone` leave, else the loss of `gone` itself.
    fn explain_loss(&mut self, gone: usize, call: Option<Call>, detail: String) -> Error {
        let until = Instant::now() + Duration::from_millis(200);
        while let Some(event) = self.transport.recv(until, Duration::ZERO) {
            match event {
                Incoming::Frame(s, f) if f.kind == FrameKind::Abort => {
                    let err = self.abort_error(s, &f);
                    return self.fail(err, false);
                }
                Incoming::Frame(s, f) => self.keep(s, f),
                Incoming::Lost { rank, clean, detail } => self.lost[rank] = Some((clean, detail)),
            }
        }
        let crashed = self.lost.iter().enumerate().find_map(|(r, l)| match l {
            Some((false, d)) if r != gone => Some((r, d.clone())),
            _ => None,
        });
        let err = match crashed {
            Some((rank, detail)) => Error::PeerLost { me: self.rank, rank, call, detail },
            None => Error::PeerLost { me: self.rank, rank: gone, call, detail },
        };
        self.fail(err, true)
    }

    /// Queues a frame that arrived before it was wanted.
    fn keep(&mut self, src: usize, f: Frame) {
        match f.kind {
            FrameKind::Data => self.stash[src].push_back(f),
            FrameKind::P2p => self.p2p[src].push_back(f),
            _ => {}
        }
    }

    /// Takes whatever has arrived between collectives: an abort fails this call at once (a peer gave up
    /// while this rank computed), losses are recorded, frames queued.
    fn drain_pending(&mut self) -> Result<()> {
        let now = Instant::now();
        while let Some(event) = self.transport.recv(now, Duration::ZERO) {
            match event {
                Incoming::Frame(s, f) if f.kind == FrameKind::Abort => {
                    let err = self.abort_error(s, &f);
                    return Err(self.fail(err, false));
                }
                Incoming::Frame(s, f) => self.keep(s, f),
                Incoming::Lost { rank, clean, detail } => self.lost[rank] = Some((clean, detail)),
            }
        }
        Ok(())
    }

    /// The elements of a frame `recv` returned (its length was checked there; payloads are 8-byte
    /// aligned, so this fails only on a frame that bypassed that check).
    pub(crate) fn elements<'f, T: Pod>(&mut self, src: usize, f: &'f mut Frame) -> Result<&'f mut [T]> {
        match f.payload.as_mut_slice::<T>() {
            Some(v) => Ok(v),
            None => {
                let detail = "a segment that is not a whole number of elements".to_string();
                Err(self.fail(Error::Protocol { rank: src, detail }, true))
            }
        }
    }

    /// Receives the next segment of `call` from `src` into `out`, and recycles its buffer.
    pub(crate) fn recv_into<T: Pod>(&mut self, src: usize, call: &Call, out: &mut [T]) -> Result<()> {
        let mut f = self.recv::<T>(src, call, out.len())?;
        out.copy_from_slice(self.elements::<T>(src, &mut f)?);
        self.recycle(f);
        Ok(())
    }

    /// Returns a consumed frame's buffer for reuse.
    pub(crate) fn recycle(&mut self, frame: Frame) {
        self.transport.recycle(frame.payload);
    }

    /// Receives the next frame of `call` from `src`, checking that it holds `len` elements of `T`.
    pub(crate) fn recv<T: Pod>(&mut self, src: usize, call: &Call, len: usize) -> Result<Frame> {
        let frame = self.wait_frame(src, call, false)?;
        self.check_len::<T>(src, call, &frame, len)?;
        Ok(frame)
    }

    fn check_len<T: Pod>(&mut self, src: usize, call: &Call, frame: &Frame, len: usize) -> Result<()> {
        let want = len * size_of::<T>();
        if frame.payload.len() != want {
            let err = Error::Protocol {
                rank: src,
                detail: format!("a segment of {call} holds {} bytes, expected {want}", frame.payload.len()),
            };
            return Err(self.fail(err, true));
        }
        Ok(())
    }

    /// Sends a point-to-point message (in segments).
    pub(crate) fn p2p_send<T: Pod>(&mut self, dst: usize, dtype: DType, data: &[T]) -> Result<()> {
        self.usable()?;
        self.p2p_sent[dst] += 1;
        let call = Call::new(OpKind::SendRecv, dtype, data.len(), None, None, self.p2p_sent[dst]);
        let seg = self.segment::<T>();
        if data.is_empty() {
            return self.send_kind(dst, FrameKind::P2p, &call, data);
        }
        for piece in data.chunks(seg) {
            self.send_kind(dst, FrameKind::P2p, &call, piece)?;
        }
        Ok(())
    }

    /// Receives a point-to-point message into `out` (its length must match the sender's).
    pub(crate) fn p2p_recv<T: Pod>(&mut self, src: usize, dtype: DType, out: &mut [T]) -> Result<()> {
        self.usable()?;
        self.p2p_received[src] += 1;
        let call = Call::new(OpKind::SendRecv, dtype, out.len(), None, None, self.p2p_received[src]);
        self.started = Instant::now();
        self.deadline = self.started + self.opts.timeout;
        if out.is_empty() {
            let f = self.wait_frame(src, &call, true)?;
            return self.check_len::<T>(src, &call, &f, 0);
        }
        let seg = self.segment::<T>();
        for piece in out.chunks_mut(seg) {
            let mut f = self.wait_frame(src, &call, true)?;
            self.check_len::<T>(src, &call, &f, piece.len())?;
            piece.copy_from_slice(self.elements::<T>(src, &mut f)?);
            self.recycle(f);
        }
        Ok(())
    }

    /// The next frame of `call` from `src` (`p2p`: a point-to-point frame), handling everything else that
    /// arrives meanwhile.
    fn wait_frame(&mut self, src: usize, call: &Call, p2p: bool) -> Result<Frame> {
        let queued = if p2p { self.p2p[src].pop_front() } else { self.stash[src].pop_front() };
        if let Some(f) = queued {
            return self.accept(src, f, call);
        }
        if let Some((clean, detail)) = self.lost[src].clone() {
            if clean {
                return Err(self.explain_loss(src, Some(*call), detail));
            }
            let err = Error::PeerLost { me: self.rank, rank: src, call: Some(*call), detail };
            return Err(self.fail(err, true));
        }
        loop {
            let Some(event) = self.transport.recv(self.deadline, self.spin) else {
                let err = self.timed_out(src, call);
                return Err(self.fail(err, true));
            };
            match event {
                Incoming::Frame(s, f) => match f.kind {
                    FrameKind::Data => {
                        let Some(fc) = f.call else { continue };
                        if let Some(cur) = self.current
                            && (fc.seq < cur.seq || (fc.seq == cur.seq && fc != cur))
                        {
                            let err = Error::Desync { rank: self.rank, call: cur, peer: s, peer_call: fc };
                            return Err(self.fail(err, true));
                        }
                        if !p2p && s == src && fc.seq == call.seq {
                            return self.accept(src, f, call);
                        }
                        self.stash[s].push_back(f);
                    }
                    FrameKind::P2p => {
                        if p2p && s == src {
                            return self.accept(src, f, call);
                        }
                        self.p2p[s].push_back(f);
                    }
                    FrameKind::Abort => {
                        let err = self.abort_error(s, &f);
                        return Err(self.fail(err, false));
                    }
                    FrameKind::StatusReply | FrameKind::StatusQuery | FrameKind::Bye => {}
                },
                Incoming::Lost { rank, clean, detail } => {
                    self.lost[rank] = Some((clean, detail.clone()));
                    if !clean {
                        let err = Error::PeerLost { me: self.rank, rank, call: Some(*call), detail };
                        return Err(self.fail(err, true));
                    }
                    if rank == src {
                        return Err(self.explain_loss(src, Some(*call), detail));
                    }
                }
            }
        }
    }

    /// Checks that a frame from `src` belongs to `call`.
    fn accept(&mut self, src: usize, f: Frame, call: &Call) -> Result<Frame> {
        match f.call {
            Some(fc) if fc == *call => Ok(f),
            Some(fc) => {
                let err = Error::Desync { rank: self.rank, call: *call, peer: src, peer_call: fc };
                Err(self.fail(err, true))
            }
            None => {
                Err(self
                    .fail(Error::Protocol { rank: src, detail: "a data frame without a call".into() }, true))
            }
        }
    }

    /// The error for a collective that reached its deadline waiting for `src`: every rank's state, and
    /// a desync when a rank turns out to be in another call with the same number.
    fn timed_out(&mut self, src: usize, call: &Call) -> Error {
        let states = self.gather_states();
        if let Some(cur) = self.current {
            for (rank, state) in &states {
                if let Some(RankState { current: Some(other), .. }) = state
                    && other.seq == cur.seq
                    && *other != cur
                {
                    return Error::Desync { rank: self.rank, call: cur, peer: *rank, peer_call: *other };
                }
            }
        }
        Error::Timeout {
            rank: self.rank,
            call: *call,
            waited: self.started.elapsed(),
            waiting_for: src,
            states: StateReport(states),
        }
    }

    /// Every rank's state: read directly, or asked for (each peer's reader thread answers within
    /// moments unless the peer is gone).
    fn gather_states(&mut self) -> Vec<(usize, Option<RankState>)> {
        let mine = RankState { current: self.current, completed: self.completed };
        if let Some(all) = self.transport.peer_states() {
            return all
                .into_iter()
                .enumerate()
                .map(|(r, s)| (r, if r == self.rank { Some(mine) } else { s }))
                .collect();
        }
        let mut states: Vec<Option<RankState>> = vec![None; self.world];
        states[self.rank] = Some(mine);
        let mut pending = vec![false; self.world];
        for (peer, p) in pending.iter_mut().enumerate() {
            *p = peer != self.rank
                && self.lost[peer].is_none()
                && self.transport.send(peer, Frame::control(FrameKind::StatusQuery, b"")).is_ok();
        }
        let until = Instant::now() + Duration::from_secs(1);
        while pending.iter().any(|&p| p) {
            match self.transport.recv(until, Duration::ZERO) {
                None => break,
                Some(Incoming::Frame(s, f)) if f.kind == FrameKind::StatusReply => {
                    if let Ok(state) = serde_json::from_slice::<RankState>(f.payload.bytes()) {
                        states[s] = Some(state);
                    }
                    pending[s] = false;
                }
                Some(Incoming::Frame(s, f)) => self.keep(s, f),
                Some(Incoming::Lost { rank, clean, detail }) => {
                    self.lost[rank] = Some((clean, detail));
                    pending[rank] = false;
                }
            }
        }
        states.into_iter().enumerate().collect()
    }

    /// The error an abort frame from `from` stands for.
    fn abort_error(&self, from: usize, f: &Frame) -> Error {
        match serde_json::from_slice::<AbortCause>(f.payload.bytes()) {
            Ok(AbortCause::Desync { rank, call, peer, peer_call }) => {
                Error::Desync { rank, call, peer, peer_call }
            }
            Ok(AbortCause::Lost { rank, detail }) => Error::PeerLost {
                me: self.rank,
                rank,
                call: self.current,
                detail: format!("reported by rank {from}: {detail}"),
            },
            Ok(AbortCause::Other { text }) => Error::Aborted { by: from, reason: text },
            Err(e) => Error::Protocol { rank: from, detail: format!("an unreadable abort message: {e}") },
        }
    }

    /// Marks the group broken and, with `notify`, tells every peer why.
    pub(crate) fn fail(&mut self, err: Error, notify: bool) -> Error {
        if self.broken.is_none() {
            self.broken = Some(err.to_string());
        }
        if notify {
            let cause = match &err {
                Error::Desync { rank, call, peer, peer_call } => {
                    AbortCause::Desync { rank: *rank, call: *call, peer: *peer, peer_call: *peer_call }
                }
                Error::PeerLost { rank, detail, .. } => {
                    AbortCause::Lost { rank: *rank, detail: detail.clone() }
                }
                other => AbortCause::Other { text: other.to_string() },
            };
            let json = serde_json::to_vec(&cause).unwrap_or_default();
            for peer in 0..self.world {
                if peer != self.rank && self.lost[peer].is_none() {
                    let _ = self.transport.send(peer, Frame::control(FrameKind::Abort, &json));
                }
            }
        }
        err
    }
}
