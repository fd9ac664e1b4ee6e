//! One TCP connection per pair of ranks. A reader thread per peer turns the byte stream into frames on
//! the rank's incoming queue (so a peer's writes always drain and large messages never deadlock), answers
//! status queries itself (a rank busy computing still says where it stands) and reports a closed or reset
//! connection as the peer's loss. The rank writes to its peers directly.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{Incoming, Pool, Transport, spin_then_block};
use crate::call::RankState;
use crate::frame::{Frame, FrameKind, HEADER_BYTES, Payload, decode_header};

/// Frames up to this size are written with one system call (header and payload copied together).
const COALESCE_BYTES: usize = 64 << 10;

/// A rank's connections to every peer.
pub(crate) struct TcpTransport {
    writers: Vec<Option<Arc<Mutex<Writer>>>>,
    rx: Receiver<Incoming>,
    state: Arc<Mutex<RankState>>,
    readers: Vec<JoinHandle<()>>,
    /// Buffers shared with the reader threads (they fill them; the rank recycles them).
    pool: Arc<Mutex<Pool>>,
}

impl TcpTransport {
    /// Takes over `streams` (index = peer rank, `None` for this rank), connected and handshaken.
    pub(crate) fn new(streams: Vec<Option<TcpStream>>, write_timeout: Duration) -> std::io::Result<Self> {
        let (tx, rx) = channel();
        let state = Arc::new(Mutex::new(RankState { current: None, completed: 0 }));
        let mut writers = Vec::with_capacity(streams.len());
        let mut readers = Vec::new();
        let pool = Arc::new(Mutex::new(Pool::default()));
        for (peer, stream) in streams.into_iter().enumerate() {
            let Some(stream) = stream else {
                writers.push(None);
                continue;
            };
            stream.set_nodelay(true)?;
            stream.set_write_timeout(Some(write_timeout))?;
            stream.set_read_timeout(None)?;
            let reader = stream.try_clone()?;
            let writer = Arc::new(Mutex::new(Writer { stream, coalesced: Vec::new() }));
            let (tx, state, reply, pool) =
                (tx.clone(), Arc::clone(&state), Arc::clone(&writer), Arc::clone(&pool));
            let handle = std::thread::Builder::new()
                .name(format!("tessera-dist-rx{peer}"))
                .spawn(move || read_loop(peer, reader, tx, state, reply, pool))?;
            writers.push(Some(writer));
            readers.push(handle);
        }
        Ok(TcpTransport { writers, rx, state, readers, pool })
    }
}

/// The sending side of one connection, with the buffer small frames are assembled in (kept, so sends
/// do not allocate).
struct Writer {
    stream: TcpStream,
    coalesced: Vec<u8>,
}

impl Writer {
    /// Writes one frame: header and payload in one system call when small, two otherwise.
    fn write_frame(&mut self, frame: &Frame) -> std::io::Result<()> {
        let header = frame.header();
        let payload = frame.payload.bytes();
        if payload.len() <= COALESCE_BYTES {
            self.coalesced.clear();
            self.coalesced.extend_from_slice(&header);
            self.coalesced.extend_from_slice(payload);
            self.stream.write_all(&self.coalesced)
        } else {
            self.stream.write_all(&header)?;
            self.stream.write_all(payload)
        }
    }
}

/// Reads frames from `peer` until the connection ends, then reports the loss.
fn read_loop(
    peer: usize,
    mut stream: TcpStream,
    tx: Sender<Incoming>,
    state: Arc<Mutex<RankState>>,
    reply: Arc<Mutex<Writer>>,
    pool: Arc<Mutex<Pool>>,
) {
    let lost = |clean: bool, detail: String| {
        let _ = tx.send(Incoming::Lost { rank: peer, clean, detail });
    };
    loop {
        let mut header = [0u8; HEADER_BYTES];
        if let Err(e) = stream.read_exact(&mut header) {
            let detail = match e.kind() {
                std::io::ErrorKind::UnexpectedEof => {
                    "its connection closed (the process exited or was killed)".to_string()
                }
                _ => format!("its connection failed: {e}"),
            };
            return lost(false, detail);
        }
        let (kind, call, len) = match decode_header(&header) {
            Ok(h) => h,
            Err(detail) => return lost(false, format!("it sent a malformed frame: {detail}")),
        };
        let mut payload = pool.lock().unwrap_or_else(|e| e.into_inner()).take(len);
        if let Err(e) = stream.read_exact(payload.bytes_mut()) {
            return lost(false, format!("its connection failed mid-message: {e}"));
        }
        match kind {
            FrameKind::StatusQuery => {
                let now = *state.lock().unwrap_or_else(|e| e.into_inner());
                let json = serde_json::to_vec(&now).unwrap_or_default();
                let answer = Frame::control(FrameKind::StatusReply, &json);
                let mut w = reply.lock().unwrap_or_else(|e| e.into_inner());
                let _ = w.write_frame(&answer);
            }
            FrameKind::Bye => return lost(true, "it dropped its process group".to_string()),
            _ => {
                if tx.send(Incoming::Frame(peer, Frame { kind, call, payload })).is_err() {
                    return;
                }
            }
        }
    }
}

impl Transport for TcpTransport {
    fn send(&mut self, dst: usize, frame: Frame) -> Result<(), String> {
        let Some(Some(writer)) = self.writers.get(dst) else {
            return Err("no connection to it".to_string());
        };
        let mut w = writer.lock().unwrap_or_else(|e| e.into_inner());
        let written = w.write_frame(&frame).map_err(|e| format!("writing to it failed: {e}"));
        drop(w);
        self.recycle(frame.payload);
        written
    }

    fn recv(&mut self, deadline: Instant, spin: Duration) -> Option<Incoming> {
        spin_then_block(&self.rx, deadline, spin)
    }

    fn publish(&self, state: RankState) {
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = state;
    }

    fn peer_states(&self) -> Option<Vec<Option<RankState>>> {
        None
    }

    fn payload(&mut self, len: usize) -> Payload {
        self.pool.lock().unwrap_or_else(|e| e.into_inner()).take(len)
    }

    fn recycle(&mut self, payload: Payload) {
        self.pool.lock().unwrap_or_else(|e| e.into_inner()).put(payload);
    }

    fn kill(&mut self) {
        for w in self.writers.iter().flatten() {
            let _ = w.lock().unwrap_or_else(|e| e.into_inner()).stream.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for TcpTransport {
    fn drop(&mut self) {
        let bye = Frame::control(FrameKind::Bye, b"");
        for w in self.writers.iter().flatten() {
            let mut w = w.lock().unwrap_or_else(|e| e.into_inner());
            if !std::thread::panicking() {
                let _ = w.write_frame(&bye);
            }
            let _ = w.stream.shutdown(Shutdown::Both);
        }
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
    }
}
