//! Packing inputs into the layouts the matrix kernel reads: f32, head dimension zero-padded to a
//! multiple of 16, keys in blocks of `BC` (transposed where they are the right-hand operand of
//! `q k^T`). Each (sequence, key/value head) is packed once and shared by all its query tiles.

use super::{BC, BR, Element, Problem, SeqPair, View};

/// Rows `[base, base + len)` of one (sequence, head) of `x`, packed.
pub(crate) struct Packed {
    pub base: usize,
    pub len: usize,
    /// `BC`-row blocks, each `dim_padded x BC` (transposed).
    pub transposed: Vec<f32>,
    /// The rows, `len` rounded up to `BC`, each `dim_padded` wide.
    pub rows: Vec<f32>,
}

impl Packed {
    /// Packs key-side rows `[base, base + len)` of sequence `b`, head `h`; `transposed` and/or
    /// `rows` as asked.
    pub(crate) fn keys<T: Element>(
        p: &Problem<'_>,
        x: &View<'_, T>,
        seq: &SeqPair,
        b: usize,
        h: usize,
        base: usize,
        len: usize,
        transposed: bool,
        rows: bool,
    ) -> Packed {
        let dp = p.dim_padded;
        let blocks = len.div_ceil(BC);
        let mut out = Packed { base, len, transposed: Vec::new(), rows: Vec::new() };
        if transposed {
            out.transposed = vec![0.0; blocks * dp * BC];
        }
        if rows {
            out.rows = vec![0.0; blocks * BC * dp];
        }
        let mut row = vec![0.0f32; dp];
        for j in 0..len {
            x.read_row(seq, b, h, base + j, true, p.dim, &mut row);
            if transposed {
                let (n, c) = (j / BC, j % BC);
                let block = &mut out.transposed[n * dp * BC..(n + 1) * dp * BC];
                for (d, &v) in row[..p.dim].iter().enumerate() {
                    block[d * BC + c] = v;
                }
            }
            if rows {
                out.rows[j * dp..(j + 1) * dp].copy_from_slice(&row);
            }
        }
        out
    }

    /// Number of `BC`-key blocks.
    pub(crate) fn blocks(&self) -> usize {
        self.len.div_ceil(BC)
    }

    /// Block `n` transposed: `dim_padded x BC`.
    pub(crate) fn transposed_block(&self, n: usize, dp: usize) -> &[f32] {
        &self.transposed[n * dp * BC..(n + 1) * dp * BC]
    }

    /// Block `n` as rows: `BC x dim_padded`.
    pub(crate) fn row_block(&self, n: usize, dp: usize) -> &[f32] {
        &self.rows[n * BC * dp..(n + 1) * BC * dp]
    }
}

/// Keys and values of one (sequence, key/value head) as bf16 pairs for the bf16 kernels:
/// `kt` blocks of `dim_padded / 2 x BC` with `kt[t][c] = k[c][2t] | k[c][2t+1] << 16`, `v` blocks
/// of `BC / 2 x dim_padded` with `v[t][d] = v[2t][d] | v[2t+1][d] << 16`; zero where padded.
pub(crate) struct PackedBf16 {
    pub base: usize,
    pub len: usize,
    pub kt: Vec<u32>,
    pub v: Vec<u32>,
}

impl PackedBf16 {
    pub(crate) fn new<T: Element>(
        p: &Problem<'_>,
        k: &View<'_, T>,
        v: &View<'_, T>,
        seq: &SeqPair,
        b: usize,
        hk: usize,
        base: usize,
        len: usize,
    ) -> PackedBf16 {
        let dp = p.dim_padded;
        let blocks = len.div_ceil(BC);
        let (kt_block, v_block) = (dp / 2 * BC, BC / 2 * dp);
        let mut out = PackedBf16 { base, len, kt: vec![0; blocks * kt_block], v: vec![0; blocks * v_block] };
        let mut row = vec![0u16; dp];
        for j in 0..len {
            let (n, c) = (j / BC, j % BC);
            k.read_row_bits(seq, b, hk, base + j, true, p.dim, &mut row);
            let kt = &mut out.kt[n * kt_block..(n + 1) * kt_block];
            for (t, pair) in row.chunks_exact(2).enumerate() {
                kt[t * BC + c] = u32::from(pair[0]) | u32::from(pair[1]) << 16;
            }
            row.fill(0);
            v.read_row_bits(seq, b, hk, base + j, true, p.dim, &mut row);
            let vb = &mut out.v[n * v_block..(n + 1) * v_block];
            let shift = 16 * (c % 2);
            for (d, &x) in row.iter().enumerate() {
                vb[(c / 2) * dp + d] |= u32::from(x) << shift;
            }
            row.fill(0);
        }
        out
    }

    pub(crate) fn blocks(&self) -> usize {
        self.len.div_ceil(BC)
    }

    pub(crate) fn kt_block(&self, n: usize, dp: usize) -> &[u32] {
        let size = dp / 2 * BC;
        &self.kt[n * size..(n + 1) * size]
    }

    pub(crate) fn v_block(&self, n: usize, dp: usize) -> &[u32] {
        let size = BC / 2 * dp;
        &self.v[n * size..(n + 1) * size]
    }
}

/// Query-side rows of one (sequence, head), packed for the backward: `q` scaled by
/// `scale * log2(e)`, `dO`, the base-2 LSE (`+inf` for rows that saw no key) and
/// `delta = rowsum(dO * O)`; rows rounded up to `BR`.
pub(crate) struct PackedQueries {
    pub q: Vec<f32>,
    pub d_o: Vec<f32>,
    pub lse2: Vec<f32>,
    pub delta: Vec<f32>,
}

impl PackedQueries {
    pub(crate) fn new<T: Element>(
        p: &Problem<'_>,
        q: &View<'_, T>,
        o: &View<'_, T>,
        d_o: &View<'_, T>,
        lse: impl Fn(usize) -> f32,
        seq: &SeqPair,
        b: usize,
        h: usize,
        factor: f32,
    ) -> PackedQueries {
        let dp = p.dim_padded;
        let rows = seq.lq.div_ceil(BR) * BR;
        let mut out = PackedQueries {
            q: vec![0.0; rows * dp],
            d_o: vec![0.0; rows * dp],
            lse2: vec![f32::INFINITY; rows],
            delta: vec![0.0; rows],
        };
        let mut o_row = vec![0.0f32; dp];
        for i in 0..seq.lq {
            let qr = &mut out.q[i * dp..(i + 1) * dp];
            q.read_row(seq, b, h, i, false, p.dim, qr);
            for x in &mut qr[..p.dim] {
                *x *= factor;
            }
            let dr = &mut out.d_o[i * dp..(i + 1) * dp];
            d_o.read_row(seq, b, h, i, false, p.dim, dr);
            o.read_row(seq, b, h, i, false, p.dim, &mut o_row);
            out.delta[i] = o_row[..p.dim].iter().zip(&dr[..p.dim]).map(|(a, b)| a * b).sum();
            let l = lse(i);
            out.lse2[i] = if l == f32::NEG_INFINITY { f32::INFINITY } else { l * super::LOG2E };
        }
        out
    }
}

/// Consecutive runs of units whose packed buffers together stay under a memory budget (at
/// least one unit per run), so large problems are packed a few heads at a time.
pub(crate) fn budget_groups(sizes: &[usize], budget: usize) -> Vec<std::ops::Range<usize>> {
    let mut groups = Vec::new();
    let (mut start, mut used) = (0, 0);
    for (i, &s) in sizes.iter().enumerate() {
        if i > start && used + s > budget {
            groups.push(start..i);
            start = i;
            used = 0;
        }
        used += s;
    }
    if start < sizes.len() {
        groups.push(start..sizes.len());
    }
    groups
}

/// Bytes of packed buffers the kernels may hold at once (beyond inputs and outputs).
pub(crate) const PACK_BUDGET: usize = 48 << 20;
