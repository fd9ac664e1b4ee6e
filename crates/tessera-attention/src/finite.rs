//! The kernels take finite inputs only. An online softmax folds each tile into a running maximum, and
//! `f32::max` drops NaN, so a NaN or infinity in `q` or `k` would otherwise vanish into a finite output
//! (where PyTorch's SDPA gives NaN): every value the kernels will read is checked once, at the boundary,
//! and the first bad one is an error naming the tensor and the element. Keys a padding mask hides are read
//! too (with weight 0, and 0 x NaN is NaN): they must be finite, zeros say "nothing". KV cache slots past a
//! sequence's length are never read and may hold anything.

use crate::error::{Error, Result};
use crate::kernel::{Element, Problem, RowLayout, SeqPair};

/// Which rows of a tensor the kernels read: the query side (`q`, `o`, `d_o`) or the key side (`k`, `v`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Query,
    Key,
}

/// Fails at the first non-finite value among the rows of `data` (tensor `name`, laid out as `layout`)
/// that the kernels read for problem `p`.
pub(crate) fn check_finite<T: Element>(
    p: &Problem<'_>,
    name: &str,
    data: &[T],
    layout: RowLayout,
    side: Side,
) -> Result<()> {
    // Row by row over what the kernels read: for a KV cache only each sequence's prefix, not its capacity.
    let heads = if side == Side::Query { p.heads } else { p.kv_heads };
    for (b, s) in p.seqs.iter().enumerate() {
        let (start, rows) = rows_of(s, side);
        for h in 0..heads {
            for i in 0..rows {
                let at = layout.row(b, start, h, i);
                let row = data.get(at..at + p.dim).unwrap_or(&[]);
                // A fold without early exit vectorises; the position is looked for only on failure.
                if row.iter().fold(false, |bad, v| bad | !v.to_f32().is_finite())
                    && let Some(j) = row.iter().position(|v| !v.to_f32().is_finite())
                {
                    return Err(Error::NonFinite {
                        tensor: name.to_string(),
                        element: at + j,
                        value: row[j].to_f32(),
                    });
                }
            }
        }
    }
    Ok(())
}

/// The first token and the number of rows of sequence `s` on `side`.
fn rows_of(s: &SeqPair, side: Side) -> (usize, usize) {
    match side {
        Side::Query => (s.q_start, s.lq),
        Side::Key => (s.k_start, s.lk),
    }
}
