//! The collective algorithms over a [`Mesh`], each written once for every element type:
//! [`ring`] (bandwidth-optimal, segmented and pipelined: all-reduce as reduce-scatter then all-gather,
//! all-gather, reduce-scatter), [`doubling`] (latency-optimal recursive doubling for small all-reduces)
//! and [`tree`] (binomial-tree broadcast, dissemination barrier).
//!
//! Every algorithm reduces in an order fixed by the world size alone and then copies bytes, so every
//! rank ends with the same bits, run after run.

pub(crate) mod doubling;
pub(crate) mod ring;
pub(crate) mod tree;

use crate::call::OpKind;
use crate::element::{Element, ReduceOp};
use crate::error::Result;
use crate::mesh::Mesh;
use crate::options::Algorithm;

/// The half-open element range of chunk `c` when `len` elements are split into `n` near-equal chunks.
pub(crate) fn chunk(len: usize, n: usize, c: usize) -> (usize, usize) {
    let at = |i: usize| ((len as u128 * i as u128) / n as u128) as usize;
    (at(c), at(c + 1))
}

/// `(lo, hi)` split into pieces of at most `seg` elements; an empty range is one empty piece, so every
/// step of an algorithm sends at least one frame (and so carries its call).
pub(crate) fn segments((lo, hi): (usize, usize), seg: usize) -> impl Iterator<Item = (usize, usize)> {
    let n = if hi > lo { (hi - lo).div_ceil(seg) } else { 1 };
    (0..n).map(move |i| ((lo + i * seg).min(hi), (lo + (i + 1) * seg).min(hi)))
}

/// `all_reduce` on a mesh: recursive doubling for small buffers under `Auto`, the ring otherwise.
pub(crate) fn all_reduce<T: Element>(m: &mut Mesh, buf: &mut [T], op: ReduceOp) -> Result<()> {
    let call = m.begin(OpKind::AllReduce, T::DTYPE, buf.len(), None, Some(op))?;
    let bytes = size_of_val(buf);
    let use_ring = match m.opts.algorithm {
        Algorithm::Ring => true,
        Algorithm::RecursiveDoubling => false,
        Algorithm::Auto => bytes > m.opts.small_message_bytes && buf.len() >= m.world,
    };
    if m.world > 1 {
        if use_ring {
            ring::all_reduce(m, &call, buf, op)?;
        } else {
            doubling::all_reduce(m, &call, buf, op)?;
        }
    }
    m.end();
    Ok(())
}

/// `broadcast` on a mesh.
pub(crate) fn broadcast<T: Element>(m: &mut Mesh, buf: &mut [T], root: usize) -> Result<()> {
    let call = m.begin(OpKind::Broadcast, T::DTYPE, buf.len(), Some(root), None)?;
    if m.world > 1 {
        tree::broadcast(m, &call, buf, root)?;
    }
    m.end();
    Ok(())
}

/// `all_gather` on a mesh (`out` holds `world` blocks of `input.len()`).
pub(crate) fn all_gather<T: Element>(m: &mut Mesh, input: &[T], out: &mut [T]) -> Result<()> {
    let call = m.begin(OpKind::AllGather, T::DTYPE, input.len(), None, None)?;
    let b = input.len();
    out[m.rank * b..(m.rank + 1) * b].copy_from_slice(input);
    if m.world > 1 {
        ring::all_gather(m, &call, out, b)?;
    }
    m.end();
    Ok(())
}

/// `reduce_scatter` on a mesh (`input` holds `world` blocks of `out.len()`).
pub(crate) fn reduce_scatter<T: Element>(
    m: &mut Mesh,
    input: &[T],
    out: &mut [T],
    op: ReduceOp,
) -> Result<()> {
    let call = m.begin(OpKind::ReduceScatter, T::DTYPE, out.len(), None, Some(op))?;
    if m.world == 1 {
        out.copy_from_slice(input);
    } else {
        ring::reduce_scatter(m, &call, input, out, op)?;
    }
    m.end();
    Ok(())
}

/// `barrier` on a mesh.
pub(crate) fn barrier(m: &mut Mesh) -> Result<()> {
    let call = m.begin(OpKind::Barrier, crate::element::DType::F32, 0, None, None)?;
    if m.world > 1 {
        tree::barrier(m, &call)?;
    }
    m.end();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_buffer_once() {
        for len in [0usize, 1, 2, 7, 100] {
            for n in 1..6 {
                let mut next = 0;
                for c in 0..n {
                    let (lo, hi) = chunk(len, n, c);
                    assert_eq!(lo, next);
                    next = hi;
                }
                assert_eq!(next, len);
            }
        }
    }

    #[test]
    fn segments_cover_a_range_and_keep_one_empty_piece() {
        assert_eq!(segments((3, 3), 4).collect::<Vec<_>>(), vec![(3, 3)]);
        assert_eq!(segments((0, 10), 4).collect::<Vec<_>>(), vec![(0, 4), (4, 8), (8, 10)]);
    }
}
