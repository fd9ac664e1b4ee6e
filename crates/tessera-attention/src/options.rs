//! Attention options and the masking rules they imply.

use candle_core::Tensor;

/// How attention is masked and scaled. `Default` is full (bidirectional) attention with scale
/// `1/sqrt(head_dim)`.
///
/// Masks follow flash-attn's conventions: with `seq_q != seq_k`, the causal diagonal is aligned to
/// the bottom-right corner (query `i` sees keys `j <= i + seq_k - seq_q`), and a sliding window
/// `(left, right)` lets query `i` see keys in `[i + seq_k - seq_q - left, i + seq_k - seq_q + right]`.
#[derive(Debug, Clone, Default)]
pub struct AttentionOptions {
    /// Softmax scale; `None` means `1/sqrt(head_dim)`.
    pub scale: Option<f64>,
    /// Causal masking (bottom-right aligned).
    pub causal: bool,
    /// Sliding window: how many keys before the diagonal a query sees (`None`: unlimited).
    pub window_left: Option<usize>,
    /// Sliding window: how many keys after the diagonal a query sees (`None`: unlimited;
    /// `causal` makes it 0).
    pub window_right: Option<usize>,
    /// `(batch, seq_k)`, nonzero where a key is padding and must be ignored (PyTorch's
    /// `key_padding_mask` convention).
    pub key_padding_mask: Option<Tensor>,
}

impl AttentionOptions {
    /// Causal attention with the default scale.
    pub fn causal() -> AttentionOptions {
        AttentionOptions { causal: true, ..AttentionOptions::default() }
    }
}

/// The visible key range of each query row, for one sequence pair.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Visibility {
    pub lq: usize,
    pub lk: usize,
    pub left: Option<usize>,
    pub right: Option<usize>,
}

impl Visibility {
    pub(crate) fn new(options: &AttentionOptions, lq: usize, lk: usize) -> Visibility {
        let right = match (options.causal, options.window_right) {
            (true, _) => Some(0),
            (false, r) => r,
        };
        Visibility { lq, lk, left: options.window_left, right }
    }

    /// Keys `[lo, hi)` that query row `i` may see (before key padding).
    #[inline]
    pub(crate) fn range(&self, i: usize) -> (usize, usize) {
        let centre = i as isize + self.lk as isize - self.lq as isize;
        let lk = self.lk as isize;
        let lo = self.left.map_or(0, |l| (centre - l as isize).clamp(0, lk));
        let hi = self.right.map_or(lk, |r| (centre + r as isize + 1).clamp(0, lk));
        (lo as usize, (hi as usize).max(lo as usize))
    }

    /// Keys any of rows `[i0, i1)` may see: the ranges grow monotonically with the row.
    pub(crate) fn tile_range(&self, i0: usize, i1: usize) -> (usize, usize) {
        let (lo, _) = self.range(i0);
        let (_, hi) = self.range(i1 - 1);
        (lo, hi.max(lo))
    }

    /// Whether keys `[j0, j1)` are visible to every row of `[i0, i1)` (no per-element mask).
    pub(crate) fn tile_fully_visible(&self, i0: usize, i1: usize, j0: usize, j1: usize) -> bool {
        let (_, hi_first) = self.range(i0);
        let (lo_last, _) = self.range(i1 - 1);
        j0 >= lo_last && j1 <= hi_first
    }

    /// Query rows `[i0, i1)` that see at least one key of `[j0, j1)`.
    pub(crate) fn rows_seeing(&self, j0: usize, j1: usize, tile: usize) -> impl Iterator<Item = usize> + '_ {
        (0..self.lq.div_ceil(tile)).map(move |t| t * tile).filter(move |&i0| {
            let i1 = (i0 + tile).min(self.lq);
            let (lo, hi) = self.tile_range(i0, i1);
            lo < j1 && j0 < hi
        })
    }
}
