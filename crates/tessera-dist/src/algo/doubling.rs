//! Recursive doubling all-reduce: `log2(p)` exchanges of the whole buffer between partners `rank ^ 2^k`,
//! for the latency of small messages. A world that is not a power of two first folds its extra ranks
//! into their even neighbours and hands them the result at the end. Partners combine the same two
//! buffers, and the combination is commutative bit for bit, so both hold the same bits.

use super::segments;
use crate::call::Call;
use crate::element::{Element, ReduceOp};
use crate::error::Result;
use crate::mesh::Mesh;

fn send_all<T: Element>(m: &mut Mesh, dst: usize, call: &Call, buf: &[T]) -> Result<()> {
    for (lo, hi) in segments((0, buf.len()), m.segment::<T>()) {
        m.send(dst, call, &buf[lo..hi])?;
    }
    Ok(())
}

/// Receives `buf.len()` elements from `src` and combines them in (`op = None`: copies them).
fn recv_all<T: Element>(
    m: &mut Mesh,
    src: usize,
    call: &Call,
    buf: &mut [T],
    op: Option<ReduceOp>,
) -> Result<()> {
    for (lo, hi) in segments((0, buf.len()), m.segment::<T>()) {
        match op {
            Some(op) => {
                let mut f = m.recv::<T>(src, call, hi - lo)?;
                T::combine(&mut buf[lo..hi], m.elements::<T>(src, &mut f)?, op);
                m.recycle(f);
            }
            None => m.recv_into(src, call, &mut buf[lo..hi])?,
        }
    }
    Ok(())
}

/// Recursive-doubling all-reduce of `buf` (world > 1).
pub(crate) fn all_reduce<T: Element>(m: &mut Mesh, call: &Call, buf: &mut [T], op: ReduceOp) -> Result<()> {
    let (n, r) = (m.world, m.rank);
    let p = 1usize << (usize::BITS - 1 - n.leading_zeros());
    let rem = n - p;
    let virtual_rank = if r < 2 * rem {
        if r % 2 == 1 {
            send_all(m, r - 1, call, buf)?;
            None
        } else {
            recv_all(m, r + 1, call, buf, Some(op))?;
            Some(r / 2)
        }
    } else {
        Some(r - rem)
    };
    if let Some(v) = virtual_rank {
        let mut mask = 1;
        while mask < p {
            let pv = v ^ mask;
            let partner = if pv < rem { pv * 2 } else { pv + rem };
            send_all(m, partner, call, buf)?;
            recv_all(m, partner, call, buf, Some(op))?;
            mask <<= 1;
        }
        if op == ReduceOp::Avg {
            T::divide(buf, n);
        }
    }
    if r < 2 * rem {
        if r % 2 == 1 {
            recv_all(m, r - 1, call, buf, None)?;
        } else {
            send_all(m, r + 1, call, buf)?;
        }
    }
    Ok(())
}
