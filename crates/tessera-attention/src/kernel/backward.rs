//! The backward kernel (FlashAttention-2's, made deterministic): scores and probabilities are
//! recomputed tile by tile from `q`, `k` and the saved log-sum-exp. One pass, parallel over
//! key/value blocks, accumulates `dK` and `dV`; a second, parallel over query tiles, accumulates
//! `dQ`. Every output element is summed by one task in a fixed order, so the result is the same
//! for every run and thread count.

use rayon::prelude::*;

use super::forward::mask_scores;
use super::gemm::{Gemm, Isa, Kernel, dispatch, exp2_with, gemm, isa};
use super::pack::{PACK_BUDGET, Packed, PackedQueries, budget_groups};
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

/// Where the LSE of row `i` of (sequence `b`, head `h`) sits.
fn lse_index(p: &Problem<'_>, layout: RowLayout, b: usize, h: usize, i: usize) -> usize {
    match layout {
        RowLayout::Dense { seq, .. } => (b * p.heads + h) * seq + i,
        RowLayout::Packed { .. } => h * p.total_q + p.seqs[b].q_start + i,
    }
}

/// One (sequence, key/value head) with everything the two passes read, packed.
struct Unit {
    b: usize,
    hk: usize,
    /// `k` transposed (for `q k^T`) and as rows (for `dS k`).
    k: Packed,
    /// `v` transposed (for `dO v^T`).
    v: Packed,
    /// One per query head of the group.
    queries: Vec<PackedQueries>,
}

struct Buffers {
    s: Vec<f32>,
    dp: Vec<f32>,
    acc_a: Vec<f32>,
    acc_b: Vec<f32>,
}

impl Buffers {
    fn new(dp: usize) -> Buffers {
        Buffers {
            s: vec![0.0; BR * BC],
            dp: vec![0.0; BR * BC],
            acc_a: vec![0.0; BC.max(BR) * dp],
            acc_b: vec![0.0; BC * dp],
        }
    }
}

/// `s <- exp2(s - lse2)` (probabilities) and `dp <- s * (dp - delta)` (score gradients).
fn probabilities_and_score_grads(rows: usize, s: &mut [f32], dpm: &mut [f32], lse2: &[f32], delta: &[f32]) {
    if isa() == Isa::Portable {
        ScoreGrads::<false> { rows, s, dpm, lse2, delta }.run();
    } else {
        dispatch(ScoreGrads::<true> { rows, s, dpm, lse2, delta });
    }
}

struct ScoreGrads<'a, const FMA: bool> {
    rows: usize,
    s: &'a mut [f32],
    dpm: &'a mut [f32],
    lse2: &'a [f32],
    delta: &'a [f32],
}

impl<const FMA: bool> Kernel for ScoreGrads<'_, FMA> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        for r in 0..self.rows {
            let (srow, drow) = (&mut self.s[r * BC..(r + 1) * BC], &mut self.dpm[r * BC..(r + 1) * BC]);
            let (l, d) = (self.lse2[r], self.delta[r]);
            for (x, g) in srow.iter_mut().zip(drow.iter_mut()) {
                *x = exp2_with::<FMA>(*x - l);
                *g = *x * (*g - d);
            }
        }
    }
}

/// Probabilities (into `t.s`) and score gradients (into `t.dp`) of query rows `[i0, i0+rows)`
/// against key block `n`.
fn recompute(
    p: &Problem<'_>,
    seq: &SeqPair,
    unit: &Unit,
    qs: &PackedQueries,
    i0: usize,
    rows: usize,
    n: usize,
    t: &mut Buffers,
) {
    let dp = p.dim_padded;
    let j0 = n * BC;
    let cols = BC.min(seq.lk - j0);
    let q = &qs.q[i0 * dp..];
    let d_o = &qs.d_o[i0 * dp..];
    gemm(&Gemm::new(rows, BC, dp, q, dp, unit.k.transposed_block(n, dp), BC, BC), &mut t.s, false);
    mask_scores(p, seq, unit.b, i0, rows, j0, cols, &mut t.s);
    gemm(&Gemm::new(rows, BC, dp, d_o, dp, unit.v.transposed_block(n, dp), BC, BC), &mut t.dp, false);
    probabilities_and_score_grads(rows, &mut t.s, &mut t.dp, &qs.lse2[i0..], &qs.delta[i0..]);
}

/// `dK` and `dV` of key block `n` of a unit.
fn key_block<T: Element>(
    p: &Problem<'_>,
    unit: &Unit,
    n: usize,
    t: &mut Buffers,
    dk: &mut [T],
    dv: &mut [T],
) {
    let seq = p.seqs[unit.b];
    let dp = p.dim_padded;
    let (j0, cols) = (n * BC, dk.len() / p.dim);
    t.acc_a[..BC * dp].fill(0.0);
    t.acc_b.fill(0.0);
    let vis = p.visibility(&seq);
    for qs in &unit.queries {
        for i0 in vis.rows_seeing(j0, j0 + cols, BR) {
            let rows = BR.min(seq.lq - i0);
            recompute(p, &seq, unit, qs, i0, rows, n, t);
            // dV += P^T dO and dK += dS^T (q scale log2 e) (the log2 e is divided out below).
            let d_o = &qs.d_o[i0 * dp..];
            gemm(&Gemm::transposed_a(cols, dp, rows, &t.s, BC, d_o, dp, dp), &mut t.acc_b, true);
            let q = &qs.q[i0 * dp..];
            gemm(&Gemm::transposed_a(cols, dp, rows, &t.dp, BC, q, dp, dp), &mut t.acc_a, true);
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

/// `dQ` of query rows `[i0, i0+rows)` of query head `g` of a unit.
fn query_tile<T: Element>(p: &Problem<'_>, unit: &Unit, g: usize, i0: usize, t: &mut Buffers, dq: &mut [T]) {
    let seq = p.seqs[unit.b];
    let dp = p.dim_padded;
    let rows = dq.len() / p.dim;
    let qs = &unit.queries[g];
    t.acc_a[..BR * dp].fill(0.0);
    let (jlo, jhi) = p.visibility(&seq).tile_range(i0, i0 + rows);
    if jlo < jhi {
        for n in jlo / BC..jhi.div_ceil(BC) {
            let cols = BC.min(seq.lk - n * BC);
            recompute(p, &seq, unit, qs, i0, rows, n, t);
            gemm(&Gemm::new(rows, dp, cols, &t.dp, BC, unit.k.row_block(n, dp), dp, dp), &mut t.acc_a, true);
        }
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
    let group = p.heads / p.kv_heads;
    let key_order = chunk_order(x.k.layout, &p.seqs, p.kv_heads, true);
    let mut key_slots: Vec<Option<(&mut [T], &mut [T])>> =
        (0..p.seqs.len() * p.kv_heads).map(|_| None).collect();
    for ((b, hk, kc), (_, _, vc)) in
        split_chunks(dk, &key_order, p.dim).into_iter().zip(split_chunks(dv, &key_order, p.dim))
    {
        key_slots[b * p.kv_heads + hk] = Some((kc, vc));
    }
    let query_order = chunk_order(x.q.layout, &p.seqs, p.heads, false);
    let mut query_slots: Vec<Option<&mut [T]>> = (0..p.seqs.len() * p.heads).map(|_| None).collect();
    for (b, h, qc) in split_chunks(dq, &query_order, p.dim) {
        query_slots[b * p.heads + h] = Some(qc);
    }
    let units: Vec<(usize, usize)> =
        (0..p.seqs.len()).flat_map(|b| (0..p.kv_heads).map(move |hk| (b, hk))).collect();
    let sizes: Vec<usize> = units
        .iter()
        .map(|&(b, _)| {
            let s = p.seqs[b];
            (3 * s.lk.div_ceil(BC) * BC + 2 * group * s.lq.div_ceil(BR) * BR) * p.dim_padded * 4
        })
        .collect();
    let factor = p.scale * LOG2E;
    for range in budget_groups(&sizes, PACK_BUDGET) {
        let packed: Vec<Unit> = units[range]
            .par_iter()
            .map(|&(b, hk)| {
                let seq = p.seqs[b];
                let queries = (hk * group..(hk + 1) * group)
                    .map(|h| {
                        let lse = |i| x.lse[lse_index(p, x.q.layout, b, h, i)];
                        PackedQueries::new(p, &x.q, &x.o, &x.d_o, lse, &seq, b, h, factor)
                    })
                    .collect();
                Unit {
                    b,
                    hk,
                    k: Packed::keys(p, &x.k, &seq, b, hk, 0, seq.lk, true, true),
                    v: Packed::keys(p, &x.v, &seq, b, hk, 0, seq.lk, true, false),
                    queries,
                }
            })
            .collect();
        let mut key_tasks = Vec::new();
        let mut query_tasks = Vec::new();
        for (u, unit) in packed.iter().enumerate() {
            if let Some((kc, vc)) = key_slots[unit.b * p.kv_heads + unit.hk].take() {
                for (n, (kt, vt)) in kc.chunks_mut(BC * p.dim).zip(vc.chunks_mut(BC * p.dim)).enumerate() {
                    key_tasks.push((u, n, kt, vt));
                }
            }
            for g in 0..group {
                if let Some(qc) = query_slots[unit.b * p.heads + unit.hk * group + g].take() {
                    for (n, c) in qc.chunks_mut(BR * p.dim).enumerate() {
                        query_tasks.push((u, g, n * BR, c));
                    }
                }
            }
        }
        key_tasks.into_par_iter().for_each_init(
            || Buffers::new(p.dim_padded),
            |t, (u, n, kc, vc)| key_block(p, &packed[u], n, t, kc, vc),
        );
        query_tasks.into_par_iter().for_each_init(
            || Buffers::new(p.dim_padded),
            |t, (u, g, i0, c)| query_tile(p, &packed[u], g, i0, t, c),
        );
    }
}
