//! Ring algorithms, segmented and pipelined as gloo's: each chunk travels in segments, and every
//! segment is forwarded the moment it is reduced, so sending, receiving (the transport's reader) and
//! reducing overlap.
//!
//! All-reduce: a reduce-scatter leaves rank `r` holding the fully reduced chunk `r + 1`, whose segments
//! go straight on as the all-gather's first step; `world - 1` steps each way.

use super::{chunk, segments};
use crate::call::Call;
use crate::element::{Element, ReduceOp};
use crate::error::Result;
use crate::mesh::Mesh;

/// Ring all-reduce of `buf` (world > 1). Each received segment is combined with this rank's chunk in
/// the message buffer itself and passed on without a copy; only the fully reduced chunk is written back.
pub(crate) fn all_reduce<T: Element>(m: &mut Mesh, call: &Call, buf: &mut [T], op: ReduceOp) -> Result<()> {
    let (n, r) = (m.world, m.rank);
    let (next, prev) = ((r + 1) % n, (r + n - 1) % n);
    let seg = m.segment::<T>();
    let len = buf.len();
    for (lo, hi) in segments(chunk(len, n, r), seg) {
        m.send(next, call, &buf[lo..hi])?;
    }
    for step in 0..n - 1 {
        let c = (r + 2 * n - step - 1) % n;
        for (lo, hi) in segments(chunk(len, n, c), seg) {
            let mut f = m.recv::<T>(prev, call, hi - lo)?;
            let partial = m.elements::<T>(prev, &mut f)?;
            T::combine(partial, &buf[lo..hi], op);
            if step == n - 2 {
                if op == ReduceOp::Avg {
                    T::divide(partial, n);
                }
                buf[lo..hi].copy_from_slice(partial);
            }
            m.forward(next, f)?;
        }
    }
    gather_steps(m, call, buf, |c| chunk(len, n, c), r)
}

/// The all-gather's receiving steps: rank `r` receives chunk `first - step` at each step and passes
/// the message on while the next rank still needs it.
fn gather_steps<T: Element>(
    m: &mut Mesh,
    call: &Call,
    buf: &mut [T],
    bounds: impl Fn(usize) -> (usize, usize),
    first: usize,
) -> Result<()> {
    let n = m.world;
    let (next, prev) = ((m.rank + 1) % n, (m.rank + n - 1) % n);
    let seg = m.segment::<T>();
    for step in 0..n - 1 {
        let c = (first + n - step) % n;
        for (lo, hi) in segments(bounds(c), seg) {
            let mut f = m.recv::<T>(prev, call, hi - lo)?;
            buf[lo..hi].copy_from_slice(m.elements::<T>(prev, &mut f)?);
            if step < n - 2 {
                m.forward(next, f)?;
            } else {
                m.recycle(f);
            }
        }
    }
    Ok(())
}

/// Ring all-gather: `out` holds `world` blocks of `block` elements, this rank's already in place.
pub(crate) fn all_gather<T: Element>(m: &mut Mesh, call: &Call, out: &mut [T], block: usize) -> Result<()> {
    let (n, r) = (m.world, m.rank);
    let next = (r + 1) % n;
    let seg = m.segment::<T>();
    let bounds = |c: usize| (c * block, (c + 1) * block);
    for (lo, hi) in segments(bounds(r), seg) {
        m.send(next, call, &out[lo..hi])?;
    }
    gather_steps(m, call, out, bounds, (r + n - 1) % n)
}

/// Ring reduce-scatter: rank `r` ends with block `r` of the reduced `input`.
pub(crate) fn reduce_scatter<T: Element>(
    m: &mut Mesh,
    call: &Call,
    input: &[T],
    out: &mut [T],
    op: ReduceOp,
) -> Result<()> {
    let (n, r) = (m.world, m.rank);
    let (next, prev) = ((r + 1) % n, (r + n - 1) % n);
    let seg = m.segment::<T>();
    let block = out.len();
    let bounds = |c: usize| (c * block, (c + 1) * block);
    for (lo, hi) in segments(bounds((r + n - 1) % n), seg) {
        m.send(next, call, &input[lo..hi])?;
    }
    for step in 0..n - 1 {
        let c = (r + 2 * n - step - 2) % n;
        for (lo, hi) in segments(bounds(c), seg) {
            let mut f = m.recv::<T>(prev, call, hi - lo)?;
            let partial = m.elements::<T>(prev, &mut f)?;
            T::combine(partial, &input[lo..hi], op);
            if step < n - 2 {
                m.forward(next, f)?;
            } else {
                if op == ReduceOp::Avg {
                    T::divide(partial, n);
                }
                out[lo - r * block..hi - r * block].copy_from_slice(partial);
                m.recycle(f);
            }
        }
    }
    Ok(())
}
