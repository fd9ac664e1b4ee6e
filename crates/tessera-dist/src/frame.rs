//! Messages between ranks: a 32-byte header (kind, the call it belongs to, payload length) and an
//! 8-byte-aligned payload, so typed views of it (`&[f32]`, `&[i64]`, ...) are safe casts.
//!
//! The threads backend moves [`Frame`]s through channels as they are; the TCP backend writes the header
//! with [`Frame::header`] and reads it back with [`decode_header`].

use bytemuck::Pod;

use crate::call::{Call, OpKind};
use crate::element::{DType, ReduceOp};

/// The largest payload one frame may carry (the largest segment size); a
/// header announcing more is a protocol error, never an allocation.
pub(crate) const MAX_FRAME_BYTES: u64 = 256 << 20;

/// Bytes of a frame header on the wire.
pub(crate) const HEADER_BYTES: usize = 32;

/// What a frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FrameKind {
    /// A segment of a collective's data.
    Data,
    /// A segment of a point-to-point message.
    P2p,
    /// The sender failed; the payload is a JSON [`crate::mesh::AbortCause`].
    Abort,
    /// "Where are you?" (answered by the TCP reader thread even while the rank computes).
    StatusQuery,
    /// The answer: a JSON [`crate::call::RankState`].
    StatusReply,
    /// The sender's group was dropped normally.
    Bye,
}

impl FrameKind {
    fn code(self) -> u8 {
        match self {
            FrameKind::Data => 1,
            FrameKind::P2p => 2,
            FrameKind::Abort => 3,
            FrameKind::StatusQuery => 4,
            FrameKind::StatusReply => 5,
            FrameKind::Bye => 6,
        }
    }

    fn from_code(code: u8) -> Option<FrameKind> {
        Some(match code {
            1 => FrameKind::Data,
            2 => FrameKind::P2p,
            3 => FrameKind::Abort,
            4 => FrameKind::StatusQuery,
            5 => FrameKind::StatusReply,
            6 => FrameKind::Bye,
            _ => return None,
        })
    }
}

/// An 8-byte-aligned byte buffer.
#[derive(Debug, Clone, Default)]
pub(crate) struct Payload {
    words: Vec<u64>,
    len: usize,
}

impl Payload {
    /// `len` zero bytes.
    pub(crate) fn zeroed(len: usize) -> Payload {
        Payload { words: vec![0; len.div_ceil(8)], len }
    }

    /// Reuses this buffer for `len` bytes (contents unspecified; grown with zeros when short).
    pub(crate) fn reuse(mut self, len: usize) -> Payload {
        self.words.resize(len.div_ceil(8), 0);
        self.len = len;
        self
    }

    /// The buffer's capacity in bytes.
    pub(crate) fn capacity(&self) -> usize {
        self.words.capacity() * 8
    }

    /// The payload as mutable `T`s, or `None` when its length is not a whole number of them.
    pub(crate) fn as_mut_slice<T: Pod>(&mut self) -> Option<&mut [T]> {
        bytemuck::try_cast_slice_mut(self.bytes_mut()).ok()
    }

    /// A copy of `data`'s bytes.
    pub(crate) fn from_slice<T: Pod>(data: &[T]) -> Payload {
        let src: &[u8] = bytemuck::cast_slice(data);
        let mut p = Payload::zeroed(src.len());
        p.bytes_mut().copy_from_slice(src);
        p
    }

    /// The bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        &bytemuck::cast_slice(&self.words)[..self.len]
    }

    /// The bytes, writable.
    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        &mut bytemuck::cast_slice_mut(&mut self.words)[..self.len]
    }

    /// Length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

/// One message.
#[derive(Debug, Clone)]
pub(crate) struct Frame {
    pub(crate) kind: FrameKind,
    /// The call a data or point-to-point frame belongs to.
    pub(crate) call: Option<Call>,
    pub(crate) payload: Payload,
}

impl Frame {
    /// A data or point-to-point frame of `call` carrying `data`.
    #[cfg(test)]
    pub(crate) fn data<T: Pod>(kind: FrameKind, call: Call, data: &[T]) -> Frame {
        Frame { kind, call: Some(call), payload: Payload::from_slice(data) }
    }

    /// A control frame with a JSON (or empty) payload.
    pub(crate) fn control(kind: FrameKind, json: &[u8]) -> Frame {
        Frame { kind, call: None, payload: Payload::from_slice(json) }
    }

    /// The wire header.
    pub(crate) fn header(&self) -> [u8; HEADER_BYTES] {
        let mut h = [0u8; HEADER_BYTES];
        h[0] = self.kind.code();
        if let Some(c) = &self.call {
            h[1] = c.op.code();
            h[2] = c.dtype.code();
            h[3] = c.reduce.map_or(0, ReduceOp::code);
            h[4..8].copy_from_slice(&c.root.unwrap_or(u32::MAX).to_le_bytes());
            h[8..16].copy_from_slice(&c.seq.to_le_bytes());
            h[16..24].copy_from_slice(&c.count.to_le_bytes());
        }
        h[24..32].copy_from_slice(&(self.payload.len() as u64).to_le_bytes());
        h
    }
}

/// Reads a wire header: the frame's kind, call and payload length, or what is wrong with it.
pub(crate) fn decode_header(h: &[u8; HEADER_BYTES]) -> Result<(FrameKind, Option<Call>, usize), String> {
    let word = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&h[at..at + 8]);
        u64::from_le_bytes(b)
    };
    let kind = FrameKind::from_code(h[0]).ok_or_else(|| format!("unknown frame kind {}", h[0]))?;
    let len = word(24);
    if len > MAX_FRAME_BYTES {
        return Err(format!("a frame announces {len} bytes, more than the limit of {MAX_FRAME_BYTES}"));
    }
    let call = match kind {
        FrameKind::Data | FrameKind::P2p => {
            let op = OpKind::from_code(h[1]).ok_or_else(|| format!("unknown operation code {}", h[1]))?;
            let dtype = DType::from_code(h[2]).ok_or_else(|| format!("unknown dtype code {}", h[2]))?;
            let reduce = match h[3] {
                0 => None,
                c => Some(ReduceOp::from_code(c).ok_or_else(|| format!("unknown reduce code {c}"))?),
            };
            let mut r = [0u8; 4];
            r.copy_from_slice(&h[4..8]);
            let root = match u32::from_le_bytes(r) {
                u32::MAX => None,
                r => Some(r),
            };
            Some(Call { op, dtype, count: word(16), root, reduce, seq: word(8) })
        }
        _ => None,
    };
    Ok((kind, call, len as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip() {
        let call =
            Call { op: OpKind::Broadcast, dtype: DType::BF16, count: 7, root: Some(2), reduce: None, seq: 9 };
        let mut f = Frame::data(FrameKind::Data, call, &[1u16, 2, 3]);
        let (kind, back, len) = decode_header(&f.header()).unwrap();
        assert_eq!((kind, back, len), (FrameKind::Data, Some(call), 6));
        assert_eq!(f.payload.as_mut_slice::<u16>().unwrap(), &[1, 2, 3]);
        assert!(f.payload.as_mut_slice::<u32>().is_none());
    }

    #[test]
    fn oversized_and_unknown_headers_are_refused() {
        let mut h = Frame::control(FrameKind::Bye, b"").header();
        h[24..32].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode_header(&h).unwrap_err().contains("limit"));
        h[0] = 99;
        assert!(decode_header(&h).is_err());
    }
}
