//! The backward kernel (FlashAttention-2's, made deterministic): scores and probabilities are
//! recomputed tile by tile from `q`, `k` and the saved log-sum-exp, once per (query tile, key
//! block) pair, in one pass over groups of key blocks that accumulates `dK`, `dV` and `dQ`
//! together. Each `dK`/`dV` element is summed by one task; `dQ` by a fixed number of lanes, each
//! in a fixed order, added in lane order: the result is the same for every run and thread count.

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
    /// `dK` and `dV` of a key group.
    acc_k: Vec<f32>,
    acc_v: Vec<f32>,
}

impl Buffers {
    fn new(dp: usize) -> Buffers {
        Buffers {
            s: vec![0.0; BR * BC],
            dp: vec![0.0; BR * BC],
            acc_k: vec![0.0; GROUP_BLOCKS * BC * dp],
            acc_v: vec![0.0; GROUP_BLOCKS * BC * dp],
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
    gemm(p.kernel, &Gemm::new(rows, BC, dp, q, dp, unit.k.transposed_block(n, dp), BC, BC), &mut t.s, false);
    mask_scores(p, seq, unit.b, i0, rows, j0, cols, &mut t.s);
    gemm(
        p.kernel,
        &Gemm::new(rows, BC, dp, d_o, dp, unit.v.transposed_block(n, dp), BC, BC),
        &mut t.dp,
        false,
    );
    probabilities_and_score_grads(rows, &mut t.s, &mut t.dp, &qs.lse2[i0..], &qs.delta[i0..]);
}

/// Key blocks per key group: a lane's unit of work. The group's `dK`/`dV` accumulators
/// (`GROUP_BLOCKS * BC` rows) stay in cache while every query tile that sees them streams past
/// once, so memory traffic per key does not grow with the sequence.
const GROUP_BLOCKS: usize = 4;

/// Tasks the backward aims for: a unit's key groups are dealt round-robin to
/// `ceil(MIN_TASKS / units)` lanes (at most one per key group), each with its own `dQ`
/// accumulator, summed in lane order at the end. The count depends on the problem's shape only,
/// never on the thread count, so the bits do not either.
const MIN_TASKS: usize = 16;

/// Lanes per unit (see [`MIN_TASKS`]).
fn lanes(units: usize, key_groups: usize) -> usize {
    MIN_TASKS.div_ceil(units.max(1)).clamp(1, key_groups.max(1))
}

/// One lane's key groups: first key block, and the group's rows of `dK` and `dV`.
type KeyGroups<'a, T> = Vec<(usize, &'a mut [T], &'a mut [T])>;

/// Runs a lane: for each of its key groups, every query tile that sees the group recomputes its
/// probabilities and score gradients against the group's blocks once, adding to the group's
/// `dK`/`dV` (written when the group is done) and to the lane's `dQ` partial, which is returned
/// (query heads of the unit, rows rounded up to `BR`, `dim_padded` wide, not yet scaled).
fn lane<T: Element>(p: &Problem<'_>, unit: &Unit, groups: KeyGroups<'_, T>, t: &mut Buffers) -> Vec<f32> {
    let seq = p.seqs[unit.b];
    let (d, dp) = (p.dim, p.dim_padded);
    let rows_pad = seq.lq.div_ceil(BR) * BR;
    let mut dq = vec![0f32; unit.queries.len() * rows_pad * dp];
    let vis = p.visibility(&seq);
    for (n0, dk, dv) in groups {
        let keys = dk.len() / d;
        let (j0, j1) = (n0 * BC, n0 * BC + keys);
        let n1 = n0 + keys.div_ceil(BC);
        t.acc_k[..(n1 - n0) * BC * dp].fill(0.0);
        t.acc_v[..(n1 - n0) * BC * dp].fill(0.0);
        for (qs, dq_head) in unit.queries.iter().zip(dq.chunks_mut(rows_pad * dp)) {
            for i0 in vis.rows_seeing(j0, j1, BR) {
                let rows = BR.min(seq.lq - i0);
                let (lo, hi) = vis.tile_range(i0, i0 + rows);
                for n in n0..n1 {
                    let (a, z) = (n * BC, (n * BC + BC).min(seq.lk));
                    if a >= hi || z <= lo {
                        continue;
                    }
                    let cols = z - a;
                    recompute(p, &seq, unit, qs, i0, rows, n, t);
                    let off = (n - n0) * BC * dp;
                    // dV += P^T dO, dK += dS^T (q scale log2 e) (the log2 e is divided out below),
                    // dQ += dS K (the scale is applied when the lanes are summed).
                    let d_o = &qs.d_o[i0 * dp..];
                    let pv = Gemm::transposed_a(cols, dp, rows, &t.s, BC, d_o, dp, dp);
                    gemm(p.kernel, &pv, &mut t.acc_v[off..], true);
                    let q = &qs.q[i0 * dp..];
                    gemm(
                        p.kernel,
                        &Gemm::transposed_a(cols, dp, rows, &t.dp, BC, q, dp, dp),
                        &mut t.acc_k[off..],
                        true,
                    );
                    let dsk = Gemm::new(rows, dp, cols, &t.dp, BC, unit.k.row_block(n, dp), dp, dp);
                    gemm(p.kernel, &dsk, &mut dq_head[i0 * dp..], true);
                }
            }
        }
        for c in 0..keys {
            for j in 0..d {
                dk[c * d + j] = T::from_f32(t.acc_k[c * dp + j] / LOG2E);
                dv[c * d + j] = T::from_f32(t.acc_v[c * dp + j]);
            }
        }
    }
    dq
}

/// Computes `dq`, `dk`, `dv` (laid out in the chunk order of the query and key layouts) in one
/// pass over key groups (FlashAttention-2's order), deterministic as described at [`MIN_TASKS`].
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
    let key_groups = |b: usize| p.seqs[b].lk.div_ceil(BC).div_ceil(GROUP_BLOCKS);
    let lanes_of = |b: usize| lanes(units.len(), key_groups(b));
    let sizes: Vec<usize> = units
        .iter()
        .map(|&(b, _)| {
            let s = p.seqs[b];
            let queries = (2 + lanes_of(b)) * group * s.lq.div_ceil(BR) * BR;
            (3 * s.lk.div_ceil(BC) * BC + queries) * p.dim_padded * 4
        })
        .collect();
    // Enough units in flight to give every thread a lane, memory allowing.
    let largest = sizes.iter().copied().max().unwrap_or(0);
    let budget = PACK_BUDGET.max(largest.saturating_mul(rayon::current_num_threads().div_ceil(MIN_TASKS)));
    let factor = p.scale * LOG2E;
    for range in budget_groups(&sizes, budget) {
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
        let mut tasks = Vec::new();
        for (u, unit) in packed.iter().enumerate() {
            let lanes = lanes_of(unit.b);
            let mut per_lane: Vec<KeyGroups<'_, T>> = (0..lanes).map(|_| Vec::new()).collect();
            if let Some((kc, vc)) = key_slots[unit.b * p.kv_heads + unit.hk].take() {
                let rows = GROUP_BLOCKS * BC * p.dim;
                for (g, (kt, vt)) in kc.chunks_mut(rows).zip(vc.chunks_mut(rows)).enumerate() {
                    per_lane[g % lanes].push((g * GROUP_BLOCKS, kt, vt));
                }
            }
            tasks.extend(per_lane.into_iter().map(|groups| (u, groups)));
        }
        // In task order: unit by unit, each unit's lanes in order.
        let partials: Vec<Vec<f32>> = tasks
            .into_par_iter()
            .map_init(|| Buffers::new(p.dim_padded), |t, (u, groups)| lane(p, &packed[u], groups, t))
            .collect();
        let mut heads = Vec::new();
        let mut rest = partials.as_slice();
        for unit in &packed {
            let (mine, after) = rest.split_at(lanes_of(unit.b));
            rest = after;
            for g in 0..group {
                if let Some(qc) = query_slots[unit.b * p.heads + unit.hk * group + g].take() {
                    heads.push((unit, g, mine, qc));
                }
            }
        }
        heads.into_par_iter().for_each(|(unit, g, mine, qc)| {
            let (d, dp) = (p.dim, p.dim_padded);
            let head = p.seqs[unit.b].lq.div_ceil(BR) * BR * dp;
            for (r, out) in qc.chunks_mut(d).enumerate() {
                for (j, o) in out.iter_mut().enumerate() {
                    let at = g * head + r * dp + j;
                    let sum = mine.iter().fold(0f32, |acc, part| acc + part[at]);
                    *o = T::from_f32(sum * p.scale);
                }
            }
        });
    }
}
