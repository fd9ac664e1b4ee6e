//! The forward kernel: for each tile of query rows, stream the key/value tiles through an online
//! softmax (running maximum and sum per row, the partial output rescaled as each tile arrives), so
//! no `L x L` matrix exists at any time.

use rayon::prelude::*;

use super::gemm::{Gemm, Kernel, dispatch, exp2, gemm};
use super::{BC, BR, Element, LOG2E, Problem, SeqPair, View, chunk_order, split_chunks};

/// Per-thread tile buffers.
pub(crate) struct Tiles {
    pub q: Vec<f32>,
    pub kt: Vec<f32>,
    pub v: Vec<f32>,
    pub s: Vec<f32>,
    pub acc: Vec<f32>,
    pub m: Vec<f32>,
    pub l: Vec<f32>,
    pub row: Vec<f32>,
}

impl Tiles {
    pub(crate) fn new(dp: usize) -> Tiles {
        Tiles {
            q: vec![0.0; BR * dp],
            kt: vec![0.0; dp * BC],
            v: vec![0.0; BC * dp],
            s: vec![0.0; BR * BC],
            acc: vec![0.0; BR * dp],
            m: vec![0.0; BR],
            l: vec![0.0; BR],
            row: vec![0.0; dp],
        }
    }
}

/// Loads query rows `[i0, i0 + rows)` scaled by `scale * log2(e)` into `tiles.q` (zero padded).
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

/// Packs keys `[j0, j0 + cols)` transposed (`dim_padded x BC`, zero padded) into `kt`.
pub(crate) fn load_kt<T: Element>(
    p: &Problem<'_>,
    k: &View<'_, T>,
    seq: &SeqPair,
    b: usize,
    hk: usize,
    j0: usize,
    cols: usize,
    row: &mut [f32],
    kt: &mut [f32],
) {
    if cols < BC {
        kt.fill(0.0);
    }
    for c in 0..cols {
        k.read_row(seq, b, hk, j0 + c, true, p.dim, row);
        for (d, &x) in row[..p.dim].iter().enumerate() {
            kt[d * BC + c] = x;
        }
    }
}

/// Loads rows `[j0, j0 + rows)` (`BC x dim_padded`, zero padded) into `dst`.
pub(crate) fn load_rows<T: Element>(
    p: &Problem<'_>,
    x: &View<'_, T>,
    seq: &SeqPair,
    b: usize,
    h: usize,
    j0: usize,
    rows: usize,
    key: bool,
    dst: &mut [f32],
) {
    let dp = p.dim_padded;
    dst.fill(0.0);
    for r in 0..rows {
        x.read_row(seq, b, h, j0 + r, key, p.dim, &mut dst[r * dp..(r + 1) * dp]);
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

/// Attention of query rows `[i0, i0 + rows)` of (sequence `b`, head `h`): writes the
/// normalised output rows (`rows x dim`) and their log-sum-exp (natural log; `-inf` for a row
/// that sees no key).
#[allow(clippy::too_many_arguments)]
pub(crate) fn tile<T: Element, O: Element>(
    p: &Problem<'_>,
    q: &View<'_, T>,
    k: &View<'_, T>,
    v: &View<'_, T>,
    b: usize,
    h: usize,
    i0: usize,
    rows: usize,
    t: &mut Tiles,
    out: &mut [O],
    lse: &mut [f32],
) {
    let seq = p.seqs[b];
    let (jlo, jhi) = p.visibility(&seq).tile_range(i0, i0 + rows);
    accumulate(p, q, k, v, b, h, i0, rows, jlo, jhi, t);
    let dp = p.dim_padded;
    let d = p.dim;
    for r in 0..rows {
        let l = t.l[r];
        let inv = if l > 0.0 { 1.0 / l } else { 0.0 };
        for (o, a) in out[r * d..(r + 1) * d].iter_mut().zip(&t.acc[r * dp..r * dp + d]) {
            *o = O::from_f32(a * inv);
        }
        lse[r] = if l > 0.0 { (t.m[r] + l.log2()) * std::f32::consts::LN_2 } else { f32::NEG_INFINITY };
    }
}

/// Runs query rows `[i0, i0 + rows)` over keys `[jlo, jhi)`, leaving the running maximum
/// (base 2), sum and unnormalised output in `t.m`, `t.l`, `t.acc`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn accumulate<T: Element>(
    p: &Problem<'_>,
    q: &View<'_, T>,
    k: &View<'_, T>,
    v: &View<'_, T>,
    b: usize,
    h: usize,
    i0: usize,
    rows: usize,
    jlo: usize,
    jhi: usize,
    t: &mut Tiles,
) {
    let seq = p.seqs[b];
    let dp = p.dim_padded;
    let hk = p.kv_head(h);
    load_q(p, q, &seq, b, h, i0, rows, p.scale * LOG2E, &mut t.q);
    t.acc.fill(0.0);
    t.m.fill(f32::NEG_INFINITY);
    t.l.fill(0.0);
    let mut j0 = jlo;
    while j0 < jhi {
        let cols = BC.min(jhi - j0);
        load_kt(p, k, &seq, b, hk, j0, cols, &mut t.row, &mut t.kt);
        load_rows(p, v, &seq, b, hk, j0, cols, true, &mut t.v);
        let scores = Gemm { m: rows, n: BC, k: dp, a: &t.q, lda: dp, b: &t.kt, ldb: BC, ldc: BC };
        gemm(&scores, &mut t.s, false);
        mask_scores(p, &seq, b, i0, rows, j0, cols, &mut t.s);
        online_softmax(rows, &mut t.s, &mut t.m, &mut t.l, &mut t.acc, dp);
        let pv = Gemm { m: rows, n: dp, k: cols, a: &t.s, lda: BC, b: &t.v, ldb: dp, ldc: dp };
        gemm(&pv, &mut t.acc, true);
        j0 += cols;
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
    dispatch(SoftmaxKernel { rows, s, m, l, acc, dp });
}

struct SoftmaxKernel<'a> {
    rows: usize,
    s: &'a mut [f32],
    m: &'a mut [f32],
    l: &'a mut [f32],
    acc: &'a mut [f32],
    dp: usize,
}

impl Kernel for SoftmaxKernel<'_> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        online_softmax_rows(self.rows, self.s, self.m, self.l, self.acc, self.dp);
    }
}

#[inline(always)]
fn online_softmax_rows(rows: usize, s: &mut [f32], m: &mut [f32], l: &mut [f32], acc: &mut [f32], dp: usize) {
    for r in 0..rows {
        let srow = &mut s[r * BC..(r + 1) * BC];
        let tile_max = srow.iter().fold(f32::NEG_INFINITY, |a, &x| a.max(x));
        let m_new = m[r].max(tile_max);
        // A row that has seen only masked keys keeps m = -inf: use 0 so that 2^(s - m) = 0.
        let m_use = if m_new == f32::NEG_INFINITY { 0.0 } else { m_new };
        let correction = exp2(m[r] - m_use);
        let mut sum = 0.0;
        for x in srow.iter_mut() {
            *x = exp2(*x - m_use);
            sum += *x;
        }
        l[r] = l[r] * correction + sum;
        if correction != 1.0 {
            for a in &mut acc[r * dp..(r + 1) * dp] {
                *a *= correction;
            }
        }
        m[r] = m_new;
    }
}

/// The forward pass over every (sequence, head), parallel over query tiles. `out` holds
/// `dim`-wide rows and `lse` one value per row, both in the order of [`chunk_order`].
pub(crate) fn forward<T: Element, O: Element>(
    p: &Problem<'_>,
    q: View<'_, T>,
    k: View<'_, T>,
    v: View<'_, T>,
    out: &mut [O],
    lse: &mut [f32],
) {
    let order = chunk_order(q.layout, &p.seqs, p.heads, false);
    let outs = split_chunks(out, &order, p.dim);
    let lses = split_chunks(lse, &order, 1);
    let mut tasks = Vec::new();
    for ((b, h, o), (_, _, l)) in outs.into_iter().zip(lses) {
        for (tile_index, (oc, lc)) in o.chunks_mut(BR * p.dim).zip(l.chunks_mut(BR)).enumerate() {
            tasks.push((b, h, tile_index * BR, oc, lc));
        }
    }
    tasks.into_par_iter().for_each_init(
        || Tiles::new(p.dim_padded),
        |t, (b, h, i0, o, l)| {
            let rows = l.len();
            tile(p, &q, &k, &v, b, h, i0, rows, t, o, l);
        },
    );
}
