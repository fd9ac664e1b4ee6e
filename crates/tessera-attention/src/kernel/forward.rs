//! The forward kernel: for each tile of query rows, stream the key/value blocks through an online
//! softmax (running maximum and sum per row, the partial output rescaled as each block arrives),
//! so no `L x L` matrix exists at any time.

use rayon::prelude::*;

use super::gemm::{Gemm, Isa, Kernel, dispatch, exp2_with, gemm, isa};
use super::pack::{PACK_BUDGET, Packed, PackedBf16, budget_groups};
use super::{BC, BR, Element, LOG2E, Problem, SeqPair, View, chunk_order, split_chunks};
use super::{bf16, softmax512};

/// Per-thread tile buffers.
pub(crate) struct Tiles {
    pub q: Vec<f32>,
    /// The query tile and probabilities as bf16 bits (bf16 kernels only).
    pub q_bf16: Vec<u16>,
    pub p_bf16: Vec<u16>,
    pub s: Vec<f32>,
    pub acc: Vec<f32>,
    pub m: Vec<f32>,
    pub l: Vec<f32>,
}

impl Tiles {
    /// Clears the running maximum, sum and output, and returns the key blocks (of a packing
    /// starting at key `base`, `blocks` long) that keys `[jlo, jhi)` touch.
    fn start(&mut self, base: usize, blocks: usize, jlo: usize, jhi: usize) -> std::ops::Range<usize> {
        self.acc.fill(0.0);
        self.m.fill(f32::NEG_INFINITY);
        self.l.fill(0.0);
        if jlo >= jhi {
            return 0..0;
        }
        (jlo - base) / BC..(jhi - base).div_ceil(BC).min(blocks)
    }

    pub(crate) fn new(dp: usize) -> Tiles {
        Tiles {
            q: vec![0.0; BR * dp],
            q_bf16: vec![0; BR * dp],
            p_bf16: vec![0; BR * BC],
            s: vec![0.0; BR * BC],
            acc: vec![0.0; BR * dp],
            m: vec![0.0; BR],
            l: vec![0.0; BR],
        }
    }
}

/// Loads query rows `[i0, i0 + rows)` scaled by `factor` into `dst` (zero padded).
pub(crate) fn load_q<T: Element>(
    p: &Problem<'_>,
    q: &View<'_, T>,
    seq: &SeqPair,
    b: usize,
    h: usize,
    i0: usize,
    rows: usize,
    factor: f32,
    dst: &mut [f32],
) {
    let dp = p.dim_padded;
    dst.fill(0.0);
    for r in 0..rows {
        let row = &mut dst[r * dp..(r + 1) * dp];
        q.read_row(seq, b, h, i0 + r, false, p.dim, row);
        for x in &mut row[..p.dim] {
            *x *= factor;
        }
    }
}

/// Sets masked scores of the tile to `-inf`: columns past `cols`, keys outside each row's
/// window, padded keys.
pub(crate) fn mask_scores(
    p: &Problem<'_>,
    seq: &SeqPair,
    b: usize,
    i0: usize,
    rows: usize,
    j0: usize,
    cols: usize,
    s: &mut [f32],
) {
    let vis = p.visibility(seq);
    let padded = p.padded(b);
    let full = vis.tile_fully_visible(i0, i0 + rows, j0, j0 + cols);
    for r in 0..rows {
        let srow = &mut s[r * BC..(r + 1) * BC];
        for x in &mut srow[cols..] {
            *x = f32::NEG_INFINITY;
        }
        if !full {
            let (lo, hi) = vis.range(i0 + r);
            for (c, x) in srow[..cols].iter_mut().enumerate() {
                let j = j0 + c;
                if j < lo || j >= hi {
                    *x = f32::NEG_INFINITY;
                }
            }
        }
        if let Some(pad) = padded {
            for (c, x) in srow[..cols].iter_mut().enumerate() {
                if pad[j0 + c] {
                    *x = f32::NEG_INFINITY;
                }
            }
        }
    }
}

/// Keys and values of one (sequence, kv head), keys `[base, base + len)`, packed for whichever
/// kernels run: bf16 dot products for bf16 inputs on CPUs with AVX-512 BF16, f32 otherwise.
pub(crate) enum KeyValues {
    /// `k` transposed blocks and `v` row blocks.
    F32 {
        k: Packed,
        v: Packed,
    },
    Bf16(PackedBf16),
}

impl KeyValues {
    pub(crate) fn pack<T: Element>(
        p: &Problem<'_>,
        k: &View<'_, T>,
        v: &View<'_, T>,
        seq: &SeqPair,
        b: usize,
        hk: usize,
        base: usize,
        len: usize,
    ) -> KeyValues {
        if T::IS_BF16 && bf16::available() {
            KeyValues::Bf16(PackedBf16::new(p, k, v, seq, b, hk, base, len))
        } else {
            KeyValues::F32 {
                k: Packed::keys(p, k, seq, b, hk, base, len, true, false),
                v: Packed::keys(p, v, seq, b, hk, base, len, false, true),
            }
        }
    }

    /// Loads query rows `[i0, i0 + rows)` of head `h` and runs them over keys `[jlo, jhi)`,
    /// leaving the running maximum (base 2), sum and unnormalised output in `t.m`, `t.l`, `t.acc`.
    pub(crate) fn attend<T: Element>(
        &self,
        p: &Problem<'_>,
        q: &View<'_, T>,
        seq: &SeqPair,
        b: usize,
        h: usize,
        i0: usize,
        rows: usize,
        (jlo, jhi): (usize, usize),
        t: &mut Tiles,
    ) {
        self.attend_tiles(p, q, seq, b, h, &mut [((i0, rows, (jlo, jhi)), t)]);
    }

    /// First key, keys and `BC`-key blocks of the packing.
    fn span(&self) -> (usize, usize, usize) {
        match self {
            KeyValues::F32 { k, .. } => (k.base, k.len, k.blocks()),
            KeyValues::Bf16(kv) => (kv.base, kv.len, kv.blocks()),
        }
    }

    /// Loads query rows `[i0, i0 + rows)` of head `h` into `t` in the form the packing's
    /// kernels read (scaled f32, or bf16 bits).
    fn load<T: Element>(
        &self,
        p: &Problem<'_>,
        q: &View<'_, T>,
        seq: &SeqPair,
        b: usize,
        h: usize,
        i0: usize,
        rows: usize,
        t: &mut Tiles,
    ) {
        match self {
            KeyValues::F32 { .. } => load_q(p, q, seq, b, h, i0, rows, p.scale * LOG2E, &mut t.q),
            KeyValues::Bf16(_) => load_q_bf16(p, q, seq, b, h, i0, rows, &mut t.q_bf16),
        }
    }

    /// Folds key block `n` into the loaded query tile's running softmax: scores, masks,
    /// probabilities, then `P v` (f32 products, or bf16 dot products with the probabilities
    /// rounded to bf16).
    fn block(
        &self,
        p: &Problem<'_>,
        seq: &SeqPair,
        b: usize,
        i0: usize,
        rows: usize,
        n: usize,
        t: &mut Tiles,
    ) {
        let dp = p.dim_padded;
        let (base, len, _) = self.span();
        let j0 = base + n * BC;
        let cols = BC.min(base + len - j0);
        match self {
            KeyValues::F32 { k, .. } => {
                let scores = Gemm::new(rows, BC, dp, &t.q, dp, k.transposed_block(n, dp), BC, BC);
                gemm(p.kernel, &scores, &mut t.s, false);
            }
            KeyValues::Bf16(kv) => {
                bf16::scores(&t.q_bf16, kv.kt_block(n, dp), &mut t.s, rows, dp, p.scale * LOG2E)
            }
        }
        mask_scores(p, seq, b, i0, rows, j0, cols, &mut t.s);
        online_softmax(rows, &mut t.s, &mut t.m, &mut t.l, &mut t.acc, dp);
        match self {
            KeyValues::F32 { v, .. } => {
                let pv = Gemm::new(rows, dp, cols, &t.s, BC, v.row_block(n, dp), dp, dp);
                gemm(p.kernel, &pv, &mut t.acc, true);
            }
            KeyValues::Bf16(kv) => {
                bf16::round_probabilities(&t.s, &mut t.p_bf16, rows);
                bf16::values(&t.p_bf16, kv.v_block(n, dp), &mut t.acc, rows, dp, cols.div_ceil(2));
            }
        }
    }
}

/// A query tile of a task: first row, rows, and the keys `[lo, hi)` it sees.
type QueryTile = (usize, usize, (usize, usize));

impl KeyValues {
    /// [`KeyValues::attend`] for several query tiles of head `h` at once (`(i0, rows, keys)` each,
    /// with its own `Tiles`): each key block is read once for all of them while it is in cache,
    /// and each tile still folds in its blocks in ascending order, so the results are the bits
    /// `attend` gives tile by tile.
    pub(crate) fn attend_tiles<T: Element>(
        &self,
        p: &Problem<'_>,
        q: &View<'_, T>,
        seq: &SeqPair,
        b: usize,
        h: usize,
        tiles: &mut [(QueryTile, &mut Tiles)],
    ) {
        let (base, _, blocks) = self.span();
        let mut ranges = Vec::with_capacity(tiles.len());
        for ((i0, rows, (jlo, jhi)), t) in tiles.iter_mut() {
            ranges.push(t.start(base, blocks, *jlo, *jhi));
            self.load(p, q, seq, b, h, *i0, *rows, t);
        }
        let first = ranges.iter().map(|r| r.start).min().unwrap_or(0);
        let last = ranges.iter().map(|r| r.end).max().unwrap_or(0);
        for n in first..last {
            for (((i0, rows, _), t), range) in tiles.iter_mut().zip(&ranges) {
                if range.contains(&n) {
                    self.block(p, seq, b, *i0, *rows, n, t);
                }
            }
        }
    }
}

/// Query tiles per forward task once the keys of a head outgrow the L2 cache: the tiles share
/// each key block's trip from memory. (A constant, not a function of the thread count; the
/// results do not depend on it.)
const TILES_PER_TASK: usize = 2;
/// Keys from which tasks take [`TILES_PER_TASK`] tiles.
const LONG_KEYS: usize = 2048;

/// Loads query rows `[i0, i0 + rows)` as bf16 bits into `dst` (zero padded).
fn load_q_bf16<T: Element>(
    p: &Problem<'_>,
    q: &View<'_, T>,
    seq: &SeqPair,
    b: usize,
    h: usize,
    i0: usize,
    rows: usize,
    dst: &mut [u16],
) {
    let dp = p.dim_padded;
    dst.fill(0);
    for r in 0..rows {
        q.read_row_bits(seq, b, h, i0 + r, false, p.dim, &mut dst[r * dp..(r + 1) * dp]);
    }
}

/// Writes the normalised output rows (`rows x dim`) and their log-sum-exp (natural log; `-inf`
/// for a row that saw no key) from the accumulators.
pub(crate) fn finish<O: Element>(p: &Problem<'_>, rows: usize, t: &Tiles, out: &mut [O], lse: &mut [f32]) {
    let (d, dp) = (p.dim, p.dim_padded);
    for r in 0..rows {
        let l = t.l[r];
        let inv = if l > 0.0 { 1.0 / l } else { 0.0 };
        for (o, a) in out[r * d..(r + 1) * d].iter_mut().zip(&t.acc[r * dp..r * dp + d]) {
            *o = O::from_f32(a * inv);
        }
        lse[r] = if l > 0.0 { (t.m[r] + l.log2()) * std::f32::consts::LN_2 } else { f32::NEG_INFINITY };
    }
}

/// Turns scores (base-2 units) into probabilities relative to each row's running maximum,
/// updating the maximum and sum, and rescales the partial output rows.
pub(crate) fn online_softmax(
    rows: usize,
    s: &mut [f32],
    m: &mut [f32],
    l: &mut [f32],
    acc: &mut [f32],
    dp: usize,
) {
    if isa() == Isa::Portable {
        SoftmaxKernel::<false> { rows, s, m, l, acc, dp }.run();
    } else {
        dispatch(SoftmaxKernel::<true> { rows, s, m, l, acc, dp });
    }
}

/// Width of the vectorised reductions (one AVX-512 register of f32).
const LANES: usize = 16;

struct SoftmaxKernel<'a, const FMA: bool> {
    rows: usize,
    s: &'a mut [f32],
    m: &'a mut [f32],
    l: &'a mut [f32],
    acc: &'a mut [f32],
    dp: usize,
}

impl<const FMA: bool> Kernel for SoftmaxKernel<'_, FMA> {
    type Output = ();
    // Rows index several per-row arrays at once.
    #[allow(clippy::needless_range_loop)]
    #[inline(always)]
    fn run(self) {
        let rows = self.rows;
        // Per-row work is done in phases so that what is per row (maxima, corrections, sums)
        // is itself vectorised across rows instead of run as scalar code once per row.
        let mut m_use = [0f32; BR];
        let mut correction = [0f32; BR];
        let mut sums = [0f32; BR];
        let simd = FMA && softmax512::available();
        if simd {
            softmax512::row_maxima(self.s, rows, &mut m_use);
        } else {
            for r in 0..rows {
                let srow = &self.s[r * BC..(r + 1) * BC];
                let mut lanes = [f32::NEG_INFINITY; LANES];
                for chunk in srow.chunks_exact(LANES) {
                    for (m, &x) in lanes.iter_mut().zip(chunk) {
                        *m = if x > *m { x } else { *m };
                    }
                }
                m_use[r] = reduce(lanes, |a, b| if b > a { b } else { a });
            }
        }
        for r in 0..BR {
            let m_old = self.m[r];
            let m_new = if m_use[r] > m_old { m_use[r] } else { m_old };
            // A row that has seen only masked keys keeps m = -inf: use 0 so that 2^(s - m) = 0.
            let used = if m_new == f32::NEG_INFINITY { 0.0 } else { m_new };
            correction[r] = exp2_with::<FMA>(m_old - used);
            self.m[r] = m_new;
            m_use[r] = used;
        }
        if simd {
            softmax512::exp_rows(self.s, rows, &m_use, &mut sums);
        } else {
            for r in 0..rows {
                let srow = &mut self.s[r * BC..(r + 1) * BC];
                let mut lanes = [0f32; LANES];
                for chunk in srow.chunks_exact_mut(LANES) {
                    for (acc, x) in lanes.iter_mut().zip(chunk.iter_mut()) {
                        *x = exp2_with::<FMA>(*x - m_use[r]);
                        *acc += *x;
                    }
                }
                sums[r] = reduce(lanes, |a, b| a + b);
            }
        }
        for r in 0..BR {
            self.l[r] = self.l[r] * correction[r] + sums[r];
        }
        for r in 0..rows {
            if correction[r] != 1.0 {
                for a in &mut self.acc[r * self.dp..(r + 1) * self.dp] {
                    *a *= correction[r];
                }
            }
        }
    }
}

/// Folds 16 lanes pairwise (8, 4, 2, 1): vector operations on halves rather than 15 dependent
/// scalar steps.
#[inline(always)]
pub(crate) fn reduce(mut v: [f32; LANES], f: impl Fn(f32, f32) -> f32) -> f32 {
    let mut width = LANES / 2;
    while width > 0 {
        for l in 0..width {
            v[l] = f(v[l], v[l + width]);
        }
        width /= 2;
    }
    v[0]
}

/// The forward pass over every (sequence, head), parallel over query tiles. `out` holds
/// `dim`-wide rows and `lse` one value per row, both in the order of [`chunk_order`]. Keys and
/// values are packed once per (sequence, key/value head), a few heads at a time.
pub(crate) fn forward<T: Element, O: Element>(
    p: &Problem<'_>,
    q: View<'_, T>,
    k: View<'_, T>,
    v: View<'_, T>,
    out: &mut [O],
    lse: &mut [f32],
) {
    let order = chunk_order(q.layout, &p.seqs, p.heads, false);
    let mut slots: Vec<Option<(&mut [O], &mut [f32])>> = (0..p.seqs.len() * p.heads).map(|_| None).collect();
    for ((b, h, o), (_, _, l)) in
        split_chunks(out, &order, p.dim).into_iter().zip(split_chunks(lse, &order, 1))
    {
        slots[b * p.heads + h] = Some((o, l));
    }
    let units: Vec<(usize, usize)> =
        (0..p.seqs.len()).flat_map(|b| (0..p.kv_heads).map(move |hk| (b, hk))).collect();
    let sizes: Vec<usize> =
        units.iter().map(|&(b, _)| 2 * p.seqs[b].lk.div_ceil(BC) * BC * p.dim_padded * 4).collect();
    let group = p.heads / p.kv_heads;
    for range in budget_groups(&sizes, PACK_BUDGET) {
        let members = &units[range];
        let packed: Vec<KeyValues> = members
            .par_iter()
            .map(|&(b, hk)| KeyValues::pack(p, &k, &v, &p.seqs[b], b, hk, 0, p.seqs[b].lk))
            .collect();
        let mut tasks = Vec::new();
        for (u, &(b, hk)) in members.iter().enumerate() {
            let per_task = if p.seqs[b].lk > LONG_KEYS { TILES_PER_TASK } else { 1 };
            for h in hk * group..(hk + 1) * group {
                let Some((o, l)) = slots[b * p.heads + h].take() else { continue };
                let (rows, width) = (per_task * BR, per_task * BR * p.dim);
                for (n, (oc, lc)) in o.chunks_mut(width).zip(l.chunks_mut(rows)).enumerate() {
                    tasks.push((u, b, h, n * rows, oc, lc));
                }
            }
        }
        tasks.into_par_iter().for_each_init(
            || (0..TILES_PER_TASK).map(|_| Tiles::new(p.dim_padded)).collect::<Vec<_>>(),
            |pool, (u, b, h, i0, oc, lc)| {
                let seq = p.seqs[b];
                let vis = p.visibility(&seq);
                let mut tiles: Vec<(QueryTile, &mut Tiles)> = (i0..i0 + lc.len())
                    .step_by(BR)
                    .zip(pool.iter_mut())
                    .map(|(start, t)| {
                        let rows = BR.min(i0 + lc.len() - start);
                        ((start, rows, vis.tile_range(start, start + rows)), t)
                    })
                    .collect();
                packed[u].attend_tiles(p, &q, &seq, b, h, &mut tiles);
                for (((_, rows, _), t), (oc, lc)) in
                    tiles.iter().zip(oc.chunks_mut(BR * p.dim).zip(lc.chunks_mut(BR)))
                {
                    finish(p, *rows, t, oc, lc);
                }
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::{KernelChoice, RowLayout};
    use crate::options::AttentionOptions;

    /// Long key sequences run several query tiles per task; each tile's bits are those of running
    /// it alone.
    #[test]
    fn tiles_sharing_key_blocks_give_the_bits_of_tiles_alone() {
        let (lq, lk, d) = (200, LONG_KEYS + 300, 32);
        for options in
            [AttentionOptions::default(), AttentionOptions { window_left: Some(700), ..Default::default() }]
        {
            let fill = |n: usize, salt: usize| -> Vec<f32> {
                (0..n).map(|i| (((i + salt) * 7919 % 2003) as f32 - 1001.0) / 700.0).collect()
            };
            let (q, k, v) = (fill(lq * d, 1), fill(lk * d, 2), fill(lk * d, 3));
            let p = Problem::single(&options, 1, (lq, lk), d, 0.3, KernelChoice::available()[0]);
            let dense = |seq| RowLayout::Dense { heads: 1, seq, dim: d };
            let (qv, kv, vv) = (
                View { data: &q[..], layout: dense(lq) },
                View { data: &k[..], layout: dense(lk) },
                View { data: &v[..], layout: dense(lk) },
            );
            let (mut out, mut lse) = (vec![0f32; lq * d], vec![0f32; lq]);
            forward(&p, qv, kv, vv, &mut out, &mut lse);
            let seq = p.seqs[0];
            let packed = KeyValues::pack(&p, &kv, &vv, &seq, 0, 0, 0, lk);
            let mut t = Tiles::new(d);
            for i0 in (0..lq).step_by(BR) {
                let rows = BR.min(lq - i0);
                let keys = p.visibility(&seq).tile_range(i0, i0 + rows);
                packed.attend(&p, &qv, &seq, 0, 0, i0, rows, keys, &mut t);
                let (mut o1, mut l1) = (vec![0f32; rows * d], vec![0f32; rows]);
                finish(&p, rows, &t, &mut o1, &mut l1);
                assert!(o1 == out[i0 * d..(i0 + rows) * d], "output rows {i0}..");
                assert!(l1 == lse[i0..i0 + rows], "lse rows {i0}..");
            }
        }
    }
}
