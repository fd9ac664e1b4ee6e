//! The backward kernel (FlashAttention-2's, made deterministic): scores and probabilities are
//! recomputed tile by tile from `q`, `k` and the saved log-sum-exp. One pass, parallel over
//! key/value tiles, accumulates `dK` and `dV`; a second, parallel over query tiles, accumulates
//! `dQ`. Every output element is summed by one task in a fixed order, so the result is the same
//! for every run and thread count.

use rayon::prelude::*;

use super::forward::{load_kt, load_q, load_rows, mask_scores};
use super::gemm::{Gemm, Kernel, dispatch, exp2, gemm};
use super::{BC, BR, Element, LOG2E, Problem, RowLayout, SeqPair, View, chunk_order, split_chunks};

/// Inputs of the backward pass.
pub(crate) struct Saved<'a, T> {
    pub q: View<'a, T>,
    pub k: View<'a, T>,
    pub v: View<'a, T>,
    pub o: View<'a, T>,
    pub d_o: View<'a, T>,
    /// Natural-log LSE in the forward's chunk order.
    pub lse: &'a [f32],
}

struct Buffers {
    q: Vec<f32>,
    d_o: Vec<f32>,
    kt: Vec<f32>,
    vt: Vec<f32>,
    rows: Vec<f32>,
    s: Vec<f32>,
    dp: Vec<f32>,
    t: Vec<f32>,
    acc_a: Vec<f32>,
    acc_b: Vec<f32>,
    lse2: Vec<f32>,
    delta: Vec<f32>,
    row: Vec<f32>,
}

impl Buffers {
    fn new(dp: usize) -> Buffers {
        Buffers {
            q: vec![0.0; BR * dp],
            d_o: vec![0.0; BR * dp],
            kt: vec![0.0; dp * BC],
            vt: vec![0.0; dp * BC],
            rows: vec![0.0; BC * dp],
            s: vec![0.0; BR * BC],
            dp: vec![0.0; BR * BC],
            t: vec![0.0; BC * BR],
            acc_a: vec![0.0; BC.max(BR) * dp],
            acc_b: vec![0.0; BC * dp],
            lse2: vec![0.0; BR],
            delta: vec![0.0; BR],
            row: vec![0.0; dp],
        }
    }
}

/// Where the LSE of row `i` of (sequence `b`, head `h`) sits.
fn lse_index(p: &Problem<'_>, layout: RowLayout, b: usize, h: usize, i: usize) -> usize {
    match layout {
        RowLayout::Dense { seq, .. } => (b * p.heads + h) * seq + i,
        RowLayout::Packed { .. } => h * p.total_q + p.seqs[b].q_start + i,
    }
}

/// Loads the query tile, `dO`, the base-2 LSE (`+inf` for rows that saw no key, so that their
/// probabilities are 0) and `delta = rowsum(dO * O)`.
fn load_query_side<T: Element>(
    p: &Problem<'_>,
    x: &Saved<'_, T>,
    seq: &SeqPair,
    b: usize,
    h: usize,
    i0: usize,
    rows: usize,
    t: &mut Buffers,
) {
    let dp = p.dim_padded;
    load_q(p, &x.q, seq, b, h, i0, rows, p.scale * LOG2E, &mut t.q);
    load_rows(p, &x.d_o, seq, b, h, i0, rows, false, &mut t.d_o);
    for r in 0..rows {
        let lse = x.lse[lse_index(p, x.q.layout, b, h, i0 + r)];
        t.lse2[r] = if lse == f32::NEG_INFINITY { f32::INFINITY } else { lse * LOG2E };
        x.o.read_row(seq, b, h, i0 + r, false, p.dim, &mut t.row);
        t.delta[r] = t.row[..p.dim].iter().zip(&t.d_o[r * dp..r * dp + p.dim]).map(|(a, b)| a * b).sum();
    }
}

/// `s <- exp2(s - lse2)` (probabilities) and `dp <- s * (dp - delta)` (score gradients, in the
/// natural-log scale of `softmax`).
fn probabilities_and_score_grads(rows: usize, s: &mut [f32], dpm: &mut [f32], lse2: &[f32], delta: &[f32]) {
    dispatch(ScoreGrads { rows, s, dpm, lse2, delta });
}

struct ScoreGrads<'a> {
    rows: usize,
    s: &'a mut [f32],
    dpm: &'a mut [f32],
    lse2: &'a [f32],
    delta: &'a [f32],
}

impl Kernel for ScoreGrads<'_> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        for r in 0..self.rows {
            let (srow, drow) = (&mut self.s[r * BC..(r + 1) * BC], &mut self.dpm[r * BC..(r + 1) * BC]);
            let (l, d) = (self.lse2[r], self.delta[r]);
            for (x, g) in srow.iter_mut().zip(drow.iter_mut()) {
                *x = exp2(*x - l);
                *g = *x * (*g - d);
            }
        }
    }
}

/// `dst (cols x BR) = src (rows x BC)` transposed, zero beyond `rows`.
fn transpose(rows: usize, cols: usize, src: &[f32], dst: &mut [f32]) {
    for c in 0..cols {
        let d = &mut dst[c * BR..(c + 1) * BR];
        for (r, x) in d.iter_mut().enumerate() {
            *x = if r < rows { src[r * BC + c] } else { 0.0 };
        }
    }
}

/// Recomputes probabilities and score gradients of query rows `[i0, i0+rows)` against keys
/// `[j0, j0+cols)` (whose `kt`, `vt` are loaded): leaves `P` in `t.s` and `dS` in `t.dp`.
fn recompute(
    p: &Problem<'_>,
    seq: &SeqPair,
    b: usize,
    i0: usize,
    rows: usize,
    j0: usize,
    cols: usize,
    t: &mut Buffers,
) {
    let dp = p.dim_padded;
    let scores = Gemm { m: rows, n: BC, k: dp, a: &t.q, lda: dp, b: &t.kt, ldb: BC, ldc: BC };
    gemm(&scores, &mut t.s, false);
    mask_scores(p, seq, b, i0, rows, j0, cols, &mut t.s);
    let dprobs = Gemm { m: rows, n: BC, k: dp, a: &t.d_o, lda: dp, b: &t.vt, ldb: BC, ldc: BC };
    gemm(&dprobs, &mut t.dp, false);
    probabilities_and_score_grads(rows, &mut t.s, &mut t.dp, &t.lse2, &t.delta);
}

/// `dK` and `dV` of key rows `[j0, j0+cols)` of (sequence `b`, key/value head `hk`).
#[allow(clippy::too_many_arguments)]
fn key_tile<T: Element>(
    p: &Problem<'_>,
    x: &Saved<'_, T>,
    b: usize,
    hk: usize,
    j0: usize,
    cols: usize,
    t: &mut Buffers,
    dk: &mut [T],
    dv: &mut [T],
) {
    let seq = p.seqs[b];
    let dp = p.dim_padded;
    load_kt(p, &x.k, &seq, b, hk, j0, cols, &mut t.row, &mut t.kt);
    load_kt(p, &x.v, &seq, b, hk, j0, cols, &mut t.row, &mut t.vt);
    t.acc_a[..BC * dp].fill(0.0);
    t.acc_b.fill(0.0);
    let group = p.heads / p.kv_heads;
    let vis = p.visibility(&seq);
    for h in hk * group..(hk + 1) * group {
        for i0 in vis.rows_seeing(j0, j0 + cols, BR) {
            let rows = BR.min(seq.lq - i0);
            load_query_side(p, x, &seq, b, h, i0, rows, t);
            recompute(p, &seq, b, i0, rows, j0, cols, t);
            // dV += P^T dO
            transpose(rows, cols, &t.s, &mut t.t);
            let g = Gemm { m: cols, n: dp, k: rows, a: &t.t, lda: BR, b: &t.d_o, ldb: dp, ldc: dp };
            gemm(&g, &mut t.acc_b, true);
            // dK += dS^T (q * scale * log2 e); the log2 e is divided out below.
            transpose(rows, cols, &t.dp, &mut t.t);
            let g = Gemm { m: cols, n: dp, k: rows, a: &t.t, lda: BR, b: &t.q, ldb: dp, ldc: dp };
            gemm(&g, &mut t.acc_a, true);
        }
    }
    let d = p.dim;
    for c in 0..cols {
        for j in 0..d {
            dk[c * d + j] = T::from_f32(t.acc_a[c * dp + j] / LOG2E);
            dv[c * d + j] = T::from_f32(t.acc_b[c * dp + j]);
        }
    }
}

/// `dQ` of query rows `[i0, i0+rows)` of (sequence `b`, head `h`).
#[allow(clippy::too_many_arguments)]
fn query_tile<T: Element>(
    p: &Problem<'_>,
    x: &Saved<'_, T>,
    b: usize,
    h: usize,
    i0: usize,
    rows: usize,
    t: &mut Buffers,
    dq: &mut [T],
) {
    let seq = p.seqs[b];
    let dp = p.dim_padded;
    let hk = p.kv_head(h);
    load_query_side(p, x, &seq, b, h, i0, rows, t);
    t.acc_a[..BR * dp].fill(0.0);
    let (jlo, jhi) = p.visibility(&seq).tile_range(i0, i0 + rows);
    let mut j0 = jlo;
    while j0 < jhi {
        let cols = BC.min(jhi - j0);
        load_kt(p, &x.k, &seq, b, hk, j0, cols, &mut t.row, &mut t.kt);
        load_kt(p, &x.v, &seq, b, hk, j0, cols, &mut t.row, &mut t.vt);
        load_rows(p, &x.k, &seq, b, hk, j0, cols, true, &mut t.rows);
        recompute(p, &seq, b, i0, rows, j0, cols, t);
        let g = Gemm { m: rows, n: dp, k: cols, a: &t.dp, lda: BC, b: &t.rows, ldb: dp, ldc: dp };
        gemm(&g, &mut t.acc_a, true);
        j0 += cols;
    }
    let d = p.dim;
    for r in 0..rows {
        for j in 0..d {
            dq[r * d + j] = T::from_f32(t.acc_a[r * dp + j] * p.scale);
        }
    }
}

/// Computes `dq`, `dk`, `dv` (laid out in the chunk order of the query and key layouts).
pub(crate) fn backward<T: Element>(
    p: &Problem<'_>,
    x: &Saved<'_, T>,
    dq: &mut [T],
    dk: &mut [T],
    dv: &mut [T],
) {
    let key_order = chunk_order(x.k.layout, &p.seqs, p.kv_heads, true);
    let mut key_tasks = Vec::new();
    let dks = split_chunks(dk, &key_order, p.dim);
    let dvs = split_chunks(dv, &key_order, p.dim);
    for ((b, hk, kc), (_, _, vc)) in dks.into_iter().zip(dvs) {
        for (n, (kt, vt)) in kc.chunks_mut(BC * p.dim).zip(vc.chunks_mut(BC * p.dim)).enumerate() {
            key_tasks.push((b, hk, n * BC, kt, vt));
        }
    }
    key_tasks.into_par_iter().for_each_init(
        || Buffers::new(p.dim_padded),
        |t, (b, hk, j0, kc, vc)| {
            let cols = kc.len() / p.dim;
            key_tile(p, x, b, hk, j0, cols, t, kc, vc);
        },
    );
    let query_order = chunk_order(x.q.layout, &p.seqs, p.heads, false);
    let mut query_tasks = Vec::new();
    for (b, h, qc) in split_chunks(dq, &query_order, p.dim) {
        for (n, c) in qc.chunks_mut(BR * p.dim).enumerate() {
            query_tasks.push((b, h, n * BR, c));
        }
    }
    query_tasks.into_par_iter().for_each_init(
        || Buffers::new(p.dim_padded),
        |t, (b, h, i0, c)| {
            let rows = c.len() / p.dim;
            query_tile(p, x, b, h, i0, rows, t, c);
        },
    );
}
