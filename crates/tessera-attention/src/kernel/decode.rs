//! Split-key forward for few queries against many keys (decoding with a KV cache), as
//! flash-decoding does: each (sequence, head)'s keys are cut into chunks processed in parallel,
//! each giving a partial maximum, sum and unnormalised output; the partials are then combined
//! exactly (rescaled to the common maximum) in a fixed order.

use rayon::prelude::*;

use super::forward::{KeyValues, Tiles};
use super::{BC, BR, Element, Problem, View, chunk_order, split_chunks};

struct Partial {
    m: Vec<f32>,
    l: Vec<f32>,
    acc: Vec<f32>,
}

/// Whether the split-key path pays: every (sequence, head) fits one query tile, and there are too
/// few of them to keep the threads busy.
pub(crate) fn worth_splitting(p: &Problem<'_>) -> bool {
    let max_lq = p.seqs.iter().map(|s| s.lq).max().unwrap_or(0);
    let max_lk = p.seqs.iter().map(|s| s.lk).max().unwrap_or(0);
    let units = p.seqs.len() * p.heads;
    max_lq <= BR && units < 4 * rayon::current_num_threads() && max_lk >= 4 * BC
}

/// The forward pass with keys split into chunks; same outputs as `forward::forward`.
pub(crate) fn forward_split<T: Element, O: Element>(
    p: &Problem<'_>,
    q: View<'_, T>,
    k: View<'_, T>,
    v: View<'_, T>,
    out: &mut [O],
    lse: &mut [f32],
) {
    let order = chunk_order(q.layout, &p.seqs, p.heads, false);
    let threads = rayon::current_num_threads().max(1);
    let units = order.len().max(1);
    // Enough chunks in total for every thread several times over, each at least one tile.
    let wanted = (4 * threads).div_ceil(units).max(1);
    let mut tasks = Vec::new();
    for (unit, &(b, h, rows)) in order.iter().enumerate() {
        let (jlo, jhi) = if rows == 0 { (0, 0) } else { p.visibility(&p.seqs[b]).tile_range(0, rows) };
        let span = jhi.saturating_sub(jlo);
        let chunk = span.div_ceil(wanted).div_ceil(BC).max(1) * BC;
        let mut j = jlo;
        loop {
            let end = (j + chunk).min(jhi);
            tasks.push((unit, b, h, rows, j, end));
            j = end;
            if j >= jhi {
                break;
            }
        }
    }
    let dp = p.dim_padded;
    let partials: Vec<(usize, Partial)> = tasks
        .into_par_iter()
        .map_init(
            || Tiles::new(dp),
            |t, (unit, b, h, rows, j0, j1)| {
                let seq = p.seqs[b];
                let hk = p.kv_head(h);
                let kv = KeyValues::pack(p, &k, &v, &seq, b, hk, j0, j1 - j0);
                kv.attend(p, &q, &seq, b, h, 0, rows, (j0, j1), t);
                let partial = Partial {
                    m: t.m[..rows].to_vec(),
                    l: t.l[..rows].to_vec(),
                    acc: t.acc[..rows * dp].to_vec(),
                };
                (unit, partial)
            },
        )
        .collect();
    let mut grouped: Vec<Vec<Partial>> = (0..order.len()).map(|_| Vec::new()).collect();
    for (unit, partial) in partials {
        grouped[unit].push(partial);
    }
    let outs = split_chunks(out, &order, p.dim);
    let lses = split_chunks(lse, &order, 1);
    outs.into_par_iter().zip(lses).zip(grouped).for_each(|(((_, _, o), (_, _, l)), parts)| {
        combine(&parts, p.dim, dp, o, l);
    });
}

/// Rescales every partial to the common maximum and normalises.
fn combine<O: Element>(parts: &[Partial], d: usize, dp: usize, out: &mut [O], lse: &mut [f32]) {
    for (r, lse_r) in lse.iter_mut().enumerate() {
        let m = parts.iter().map(|x| x.m[r]).fold(f32::NEG_INFINITY, f32::max);
        let m_use = if m == f32::NEG_INFINITY { 0.0 } else { m };
        let mut l = 0.0f32;
        let mut acc = vec![0.0f32; d];
        for x in parts {
            let w = (x.m[r] - m_use).exp2();
            l += x.l[r] * w;
            for (a, v) in acc.iter_mut().zip(&x.acc[r * dp..r * dp + d]) {
                *a += v * w;
            }
        }
        let inv = if l > 0.0 { 1.0 / l } else { 0.0 };
        for (o, a) in out[r * d..(r + 1) * d].iter_mut().zip(&acc) {
            *o = O::from_f32(a * inv);
        }
        *lse_r = if l > 0.0 { (m + l.log2()) * std::f32::consts::LN_2 } else { f32::NEG_INFINITY };
    }
}
