//! The tiled kernels on plain slices: problem description, forward, backward, decode.

// Tile functions take their coordinates (sequence, head, first row, row count, ...) explicitly;
// bundling them into structs would hide what each one reads.
#![allow(clippy::too_many_arguments)]

pub(crate) mod backward;
pub(crate) mod bf16;
pub(crate) mod decode;
pub(crate) mod forward;
pub(crate) mod gemm;
pub(crate) mod pack;
pub(crate) mod peak;
pub(crate) mod softmax512;
pub(crate) mod tune;

use crate::options::{AttentionOptions, Visibility};

pub(crate) use gemm::KernelChoice;

/// Query rows per tile.
pub(crate) const BR: usize = 64;
/// Key rows per tile.
pub(crate) const BC: usize = 64;
/// `dim` rounded up to the kernels' vector width (16); the pad is zeros.
pub(crate) fn padded_dim(dim: usize) -> usize {
    dim.div_ceil(16) * 16
}

/// `log2(e)`: scores are kept in base-2 units so the kernels use `2^x`.
pub(crate) const LOG2E: f32 = std::f32::consts::LOG2_E;

/// Element types the kernels read and write (computation is always f32).
pub(crate) trait Element: Copy + Send + Sync + 'static {
    fn to_f32(self) -> f32;
    fn from_f32(x: f32) -> Self;
    /// The value as bf16 bits (exact for bf16 itself).
    fn bf16_bits(self) -> u16 {
        half::bf16::from_f32(self.to_f32()).to_bits()
    }
    /// Whether this is bf16 (the kernels then use bf16 dot products where the CPU has them).
    const IS_BF16: bool = false;
}

impl Element for f32 {
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self
    }
    #[inline(always)]
    fn from_f32(x: f32) -> Self {
        x
    }
}

impl Element for half::f16 {
    #[inline(always)]
    fn to_f32(self) -> f32 {
        half::f16::to_f32(self)
    }
    #[inline(always)]
    fn from_f32(x: f32) -> Self {
        half::f16::from_f32(x)
    }
}

impl Element for half::bf16 {
    const IS_BF16: bool = true;
    #[inline(always)]
    fn bf16_bits(self) -> u16 {
        self.to_bits()
    }
    #[inline(always)]
    fn to_f32(self) -> f32 {
        half::bf16::to_f32(self)
    }
    #[inline(always)]
    fn from_f32(x: f32) -> Self {
        half::bf16::from_f32(x)
    }
}

/// How the rows of a `q`/`k`/`v`-like tensor are laid out.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RowLayout {
    /// `(batch, heads, seq, dim)`, contiguous.
    Dense { heads: usize, seq: usize, dim: usize },
    /// `(tokens, heads, dim)`, contiguous; sequence `b` starts at a cumulative offset.
    Packed { heads: usize, dim: usize },
}

impl RowLayout {
    /// Element offset of row `i` of sequence `b` (starting at token `start`), head `h`.
    #[inline(always)]
    pub(crate) fn row(&self, b: usize, start: usize, h: usize, i: usize) -> usize {
        match *self {
            RowLayout::Dense { heads, seq, dim } => ((b * heads + h) * seq + i) * dim,
            RowLayout::Packed { heads, dim } => ((start + i) * heads + h) * dim,
        }
    }
}

/// A read-only view of an input tensor.
#[derive(Clone, Copy)]
pub(crate) struct View<'a, T> {
    pub data: &'a [T],
    pub layout: RowLayout,
}

impl<T: Element> View<'_, T> {
    /// Row `i` of sequence `seq`, head `h`, converted by `convert` into `dst[..dim]`.
    #[inline(always)]
    fn read_row_as<U>(
        &self,
        seq: &SeqPair,
        b: usize,
        h: usize,
        i: usize,
        key: bool,
        dst: &mut [U],
        convert: impl Fn(T) -> U,
    ) {
        let start = if key { seq.k_start } else { seq.q_start };
        let off = self.layout.row(b, start, h, i);
        let len = dst.len();
        for (d, s) in dst.iter_mut().zip(&self.data[off..off + len]) {
            *d = convert(*s);
        }
    }

    /// Row `i` of sequence `seq`, head `h`, as f32 into `dst[..dim]` (the rest is left alone).
    #[inline(always)]
    pub(crate) fn read_row(
        &self,
        seq: &SeqPair,
        b: usize,
        h: usize,
        i: usize,
        key: bool,
        dim: usize,
        dst: &mut [f32],
    ) {
        self.read_row_as(seq, b, h, i, key, &mut dst[..dim], T::to_f32);
    }

    /// Row `i` of sequence `seq`, head `h`, as bf16 bits into `dst[..dim]`.
    #[inline(always)]
    pub(crate) fn read_row_bits(
        &self,
        seq: &SeqPair,
        b: usize,
        h: usize,
        i: usize,
        key: bool,
        dim: usize,
        dst: &mut [u16],
    ) {
        self.read_row_as(seq, b, h, i, key, &mut dst[..dim], T::bf16_bits);
    }
}

/// One (query sequence, key sequence) pair: a batch element, or one sequence of a packed batch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SeqPair {
    pub q_start: usize,
    pub lq: usize,
    pub k_start: usize,
    pub lk: usize,
}

/// Everything the kernels need to know besides the data.
pub(crate) struct Problem<'a> {
    /// Query rows over all sequences (the packed layout's token count).
    pub total_q: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub dim: usize,
    /// `dim` rounded up to a multiple of 16 (the kernels' vector width); the pad is zeros.
    pub dim_padded: usize,
    pub scale: f32,
    pub seqs: Vec<SeqPair>,
    pub options: &'a AttentionOptions,
    /// Per sequence, per key: `true` where the key is padding.
    pub padding: Option<Vec<Vec<bool>>>,
    /// The matrix kernel's blocking and instruction set (`tune`'s choice).
    pub kernel: KernelChoice,
}

impl<'a> Problem<'a> {
    /// One sequence pair of `lq` queries and `lk` keys, `heads` heads sharing none, dimension `dim`
    /// (a multiple of 16), no padding: the kernels' own tests and calibration build problems so.
    pub(crate) fn single(
        options: &'a AttentionOptions,
        heads: usize,
        (lq, lk): (usize, usize),
        dim: usize,
        scale: f32,
        kernel: KernelChoice,
    ) -> Problem<'a> {
        Problem {
            total_q: lq,
            heads,
            kv_heads: heads,
            dim,
            dim_padded: dim,
            scale,
            seqs: vec![SeqPair { q_start: 0, lq, k_start: 0, lk }],
            options,
            padding: None,
            kernel,
        }
    }
}

impl Problem<'_> {
    pub(crate) fn visibility(&self, s: &SeqPair) -> Visibility {
        Visibility::new(self.options, s.lq, s.lk)
    }

    /// The key/value head that query head `h` reads (grouped-query attention).
    #[inline]
    pub(crate) fn kv_head(&self, h: usize) -> usize {
        h / (self.heads / self.kv_heads)
    }

    pub(crate) fn padded(&self, b: usize) -> Option<&[bool]> {
        self.padding.as_ref().map(|p| p[b].as_slice())
    }
}

/// Output rows grouped per (sequence, head): the chunks, in memory order, that tasks own.
/// `(b, h, rows)` in the order they are laid out.
pub(crate) fn chunk_order(
    layout: RowLayout,
    seqs: &[SeqPair],
    heads: usize,
    key: bool,
) -> Vec<(usize, usize, usize)> {
    let len = |s: &SeqPair| if key { s.lk } else { s.lq };
    match layout {
        RowLayout::Dense { .. } => (0..seqs.len())
            .flat_map(|b| (0..heads).map(move |h| (b, h)))
            .map(|(b, h)| (b, h, len(&seqs[b])))
            .collect(),
        // Packed outputs are produced head-major, `(heads, tokens, dim)`, so that each (sequence,
        // head) block is contiguous; the caller transposes back.
        RowLayout::Packed { .. } => (0..heads)
            .flat_map(|h| (0..seqs.len()).map(move |b| (b, h)))
            .map(|(b, h)| (b, h, len(&seqs[b])))
            .collect(),
    }
}

/// Splits `buf` into consecutive chunks of `rows * width` elements.
pub(crate) fn split_chunks<'a, T>(
    mut buf: &'a mut [T],
    order: &[(usize, usize, usize)],
    width: usize,
) -> Vec<(usize, usize, &'a mut [T])> {
    let mut out = Vec::with_capacity(order.len());
    for &(b, h, rows) in order {
        let (chunk, rest) = std::mem::take(&mut buf).split_at_mut(rows * width);
        out.push((b, h, chunk));
        buf = rest;
    }
    out
}
