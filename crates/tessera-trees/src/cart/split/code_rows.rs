//! Extra Trees split search on code rows: a node whose samples carry their bin codes row-major
//! ([`NodeView::codes`]) is searched with one range pass over those rows and one sum pass per candidate.

use tessera_tensor::SeededRng;

use super::{NodeView, Scratch, Split, consider, side_stats};
use crate::binning::MISSING_BIN;
use crate::cart::data::TrainData;
use crate::cart::params::GrowParams;

/// Extra Trees on a node with code rows ([`NodeView::codes`]): one pass finds every feature's range of
/// bin codes, then features are visited in random order (skipping those whose values share one bin)
/// until `max_features` have a random threshold: drawn uniformly between the node's lowest and highest
/// bin edges of the feature and snapped to a bin edge (with probability proportional to the value range
/// each edge covers, as a uniform threshold would). Returns the best
/// of their splits, or `None` when no feature spans two bins.
pub(super) fn random_code_split(
    d: &TrainData,
    p: &GrowParams,
    node: NodeView<'_>,
    total: &[f64],
    rng: &mut SeededRng,
    s: &mut Scratch,
) -> Option<Option<Split>> {
    let bins = d.bins.as_ref()?;
    let nf = d.n_features;
    // Per feature: smallest code, largest non-missing code, largest code (MISSING_BIN when any is missing).
    let [lo, hi, top] = &mut s.ranges;
    for (v, init) in [(&mut *lo, MISSING_BIN), (&mut *hi, 0), (&mut *top, 0)] {
        v.clear();
        v.resize(nf, init);
    }
    code_ranges(node.codes, node.stride, d.any_missing(), lo, hi, top);
    let (lo, hi, top) = (&*lo, &*hi, &*top);
    if s.feats.len() != nf {
        s.feats.clear();
        s.feats.extend(0..nf);
    }
    let (mut best, mut visited) = (None::<Split>, 0);
    let k = total.len();
    for j in 0..nf {
        let pick = j + rng.below(nf - j);
        s.feats.swap(j, pick);
        let f = s.feats[j];
        if lo[f] == MISSING_BIN || lo[f] >= hi[f] {
            continue;
        }
        let (l, h) = (usize::from(lo[f]), usize::from(hi[f]));
        let edges = &bins.edges[f];
        let (a, z) = (edges[l], edges[h - 1]);
        let t = a + (z - a) * rng.uniform();
        // `t` lies between edges l and h - 1, so edge l - 1 and all before it are below it.
        let b = d.edge_guides()[f].edges_below(edges, t).min(h - 1) as u8;
        let unit_binary = node.unit_weights && node.classification && k == 2;
        if !unit_binary || top[f] == MISSING_BIN {
            // The feature's codes copied out first: floating-point sums over a contiguous slice run
            // faster than over the strided rows.
            s.codes.clear();
            s.codes.extend(node.codes.chunks_exact(node.stride).map(|row| row[f]));
        }
        let n_left = if unit_binary {
            // Counts suffice: no floating point per sample.
            let (n, ones) = unit_binary_counts(node.codes, node.stride, f, node.ys, b);
            (s.left[0], s.left[1]) = ((n - ones) as f64, ones as f64);
            n
        } else {
            side_stats(&s.codes, node, k, |c| c <= b, &mut s.left)
        };
        s.miss.iter_mut().for_each(|v| *v = 0.0);
        let n_miss = if top[f] == MISSING_BIN {
            side_stats(&s.codes, node, k, |c| c == MISSING_BIN, &mut s.miss)
        } else {
            0
        };
        for (((r, t), l), m) in s.right.iter_mut().zip(total).zip(&s.left).zip(&s.miss) {
            *r = t - l - m;
        }
        let n_right = node.rows.len() - n_left - n_miss;
        let mut found = None;
        consider(
            p,
            &s.left,
            &s.right,
            &s.miss,
            n_left,
            n_right,
            n_miss,
            &mut s.tmp_l,
            &mut s.tmp_r,
            &mut found,
        );
        let mut pure_children = false;
        if let Some((proxy, missing_left)) = found
            && best.as_ref().is_none_or(|bs| proxy > bs.proxy)
        {
            let children = (k <= 3).then(|| {
                let (mut l, mut r) = ([0.0; 3], [0.0; 3]);
                for i in 0..k {
                    let m = s.miss[i];
                    l[i] = s.left[i] + if missing_left { m } else { 0.0 };
                    r[i] = s.right[i] + if missing_left { 0.0 } else { m };
                }
                [l, r]
            });
            let pure = |stats: &[f64]| stats.iter().filter(|&&v| v > 0.0).count() <= 1;
            pure_children =
                node.classification && children.is_some_and(|[l, r]| pure(&l[..k]) && pure(&r[..k]));
            best = Some(Split {
                bin: Some(b),
                children,
                ..Split::on_values(f, edges[usize::from(b)], missing_left, proxy)
            });
        }
        visited += 1;
        // Pure children cannot be beaten (ties keep the first): the remaining candidates need not be drawn.
        if pure_children || visited >= p.max_features {
            break;
        }
    }
    (visited > 0).then_some(best)
}

/// The number of samples whose code of feature `f` (in code rows of `stride` bytes) is `<= b`, and how
/// many of them have `y == 1` (binary classes, unit weights). Integer lanes: the class comes from the
/// f32's bits (those of 1.0 shifted right by 23 are 127, of 0.0 zero; and-ed with the 0/1 mask either
/// gives the class).
#[inline(never)]
fn unit_binary_counts(codes: &[u8], stride: usize, f: usize, ys: &[f32], b: u8) -> (usize, usize) {
    const L: usize = 8;
    if f >= stride {
        return (0, 0);
    }
    let n = (codes.len() / stride).min(ys.len());
    let (codes, ys) = (&codes[..n * stride], &ys[..n]);
    let (mut count, mut ones) = ([0u32; L], [0u32; L]);
    let cc = codes.chunks_exact(L * stride);
    let rest = cc.remainder();
    let yc = ys.as_chunks::<L>();
    for (c, y) in cc.zip(yc.0) {
        for l in 0..L {
            let m = u32::from(c[l * stride + f] <= b);
            count[l] += m;
            ones[l] += m & (y[l].to_bits() >> 23);
        }
    }
    let (mut n_left, mut n_ones) = (0usize, 0usize);
    for (row, &y) in rest.chunks_exact(stride).zip(yc.1) {
        let m = usize::from(row[f] <= b);
        n_left += m;
        n_ones += m & (y.to_bits() >> 23) as usize;
    }
    let sum = |a: [u32; L]| a.iter().map(|&v| v as usize).sum::<usize>();
    (n_left + sum(count), n_ones + sum(ones))
}

/// Widens `lo`, `hi` and `top` (one entry per feature) to cover the code rows `codes` (`stride` bytes each):
/// the smallest code, the largest non-missing code and the largest code.
/// `any_missing: false` promises that no code is [`MISSING_BIN`] (then `top` is left alone).
fn code_ranges(codes: &[u8], stride: usize, any_missing: bool, lo: &mut [u8], hi: &mut [u8], top: &mut [u8]) {
    match (stride, any_missing) {
        (1..=16, true) => code_ranges_window::<16, true>(codes, stride, lo, hi, top),
        (1..=16, false) => code_ranges_window::<16, false>(codes, stride, lo, hi, top),
        (17..=32, true) => code_ranges_window::<32, true>(codes, stride, lo, hi, top),
        (17..=32, false) => code_ranges_window::<32, false>(codes, stride, lo, hi, top),
        _ => code_ranges_blocks(codes, stride, lo, hi, top),
    }
}

/// [`code_ranges`] for rows of at most `W` bytes: each row is read as a `W`-byte window from its start
/// (the bytes past its end belong to the next row and land in lanes that are ignored), so the running
/// values are a few vector registers; the last rows, whose window would pass the end, are read alone.
/// Without `MISSING` (no code is missing) the largest code is the largest present one.
fn code_ranges_window<const W: usize, const MISSING: bool>(
    codes: &[u8],
    stride: usize,
    lo: &mut [u8],
    hi: &mut [u8],
    top: &mut [u8],
) {
    let n = codes.len() / stride;
    let windowed = if codes.len() >= W { ((codes.len() - W) / stride + 1).min(n) } else { 0 };
    let (mut l, mut h, mut t) = ([MISSING_BIN; W], [0u8; W], [0u8; W]);
    for i in 0..windowed {
        let Some(row) = codes.get(i * stride..i * stride + W).and_then(|r| <&[u8; W]>::try_from(r).ok())
        else {
            break;
        };
        for j in 0..W {
            let c = row[j];
            l[j] = l[j].min(c);
            if MISSING {
                t[j] = t[j].max(c);
                h[j] = h[j].max(if c == MISSING_BIN { 0 } else { c });
            } else {
                h[j] = h[j].max(c);
            }
        }
    }
    for f in 0..stride.min(W) {
        lo[f] = lo[f].min(l[f]);
        hi[f] = hi[f].max(h[f]);
        top[f] = top[f].max(t[f]);
    }
    for row in codes[windowed * stride..].chunks_exact(stride) {
        widen(lo, hi, top, row);
    }
}

/// Widens the running ranges `lo`, `hi`, `top` by one row of codes (or one block of rows, lane by lane).
fn widen(lo: &mut [u8], hi: &mut [u8], top: &mut [u8], row: &[u8]) {
    for (((l, h), t), &c) in lo.iter_mut().zip(hi.iter_mut()).zip(top.iter_mut()).zip(row) {
        *l = (*l).min(c);
        *t = (*t).max(c);
        *h = (*h).max(if c == MISSING_BIN { 0 } else { c });
    }
}

/// [`code_ranges`] for wide rows: the rows are read as a flat byte stream in blocks of `lcm(stride, 16)`
/// bytes, so each update is whole 16-byte vectors whatever the stride; block lane `j` belongs to feature
/// `j % stride`.
fn code_ranges_blocks(codes: &[u8], stride: usize, lo: &mut [u8], hi: &mut [u8], top: &mut [u8]) {
    const MAX_BLOCK: usize = 16 * 64;
    let block = stride * 16 / gcd(stride, 16);
    let (head, tail) = if block <= MAX_BLOCK && codes.len() >= 4 * block {
        codes.split_at(codes.len() / block * block)
    } else {
        (&[][..], codes)
    };
    if !head.is_empty() {
        let (mut l, mut h, mut t) = ([MISSING_BIN; MAX_BLOCK], [0u8; MAX_BLOCK], [0u8; MAX_BLOCK]);
        let (l, h, t) = (&mut l[..block], &mut h[..block], &mut t[..block]);
        for chunk in head.chunks_exact(block) {
            widen(l, h, t, chunk);
        }
        for ((lc, hc), tc) in l.chunks_exact(stride).zip(h.chunks_exact(stride)).zip(t.chunks_exact(stride)) {
            for (((lo, hi), top), ((&l, &h), &t)) in
                lo.iter_mut().zip(hi.iter_mut()).zip(top.iter_mut()).zip(lc.iter().zip(hc).zip(tc))
            {
                *lo = (*lo).min(l);
                *hi = (*hi).max(h);
                *top = (*top).max(t);
            }
        }
    }
    for row in tail.chunks_exact(stride) {
        widen(lo, hi, top, row);
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The blocked range pass equals a plain per-feature scan, for strides that do and do not divide 16.
    #[test]
    fn code_ranges_match_a_plain_scan() {
        let mut rng = SeededRng::new(7);
        for stride in [1, 3, 5, 16, 28, 33, 70] {
            for n_rows in [0, 1, 7, 40, 300] {
                let codes: Vec<u8> = (0..n_rows * stride)
                    .map(|_| if rng.below(10) == 0 { MISSING_BIN } else { rng.below(200) as u8 + 20 })
                    .collect();
                let (mut lo, mut hi, mut top) =
                    (vec![MISSING_BIN; stride], vec![0u8; stride], vec![0u8; stride]);
                code_ranges(&codes, stride, true, &mut lo, &mut hi, &mut top);
                // Without missing codes, through the path that skips them.
                let present: Vec<u8> = codes.iter().map(|&c| if c == MISSING_BIN { 20 } else { c }).collect();
                let (mut lo2, mut hi2, mut top2) =
                    (vec![MISSING_BIN; stride], vec![0u8; stride], vec![0u8; stride]);
                code_ranges(&present, stride, false, &mut lo2, &mut hi2, &mut top2);
                for f in 0..stride {
                    let col = present.chunks_exact(stride).map(|r| r[f]);
                    let expected = (col.clone().min().unwrap_or(MISSING_BIN), col.max().unwrap_or(0));
                    assert_eq!((lo2[f], hi2[f]), expected, "stride {stride}, {n_rows} rows, feature {f}");
                }
                for f in 0..stride {
                    let col: Vec<u8> = codes.chunks_exact(stride).map(|r| r[f]).collect();
                    assert_eq!(lo[f], col.iter().copied().min().unwrap_or(MISSING_BIN));
                    assert_eq!(top[f], col.iter().copied().max().unwrap_or(0));
                    let present = col.iter().copied().filter(|&c| c != MISSING_BIN);
                    assert_eq!(
                        hi[f],
                        present.max().unwrap_or(0),
                        "stride {stride}, {n_rows} rows, feature {f}"
                    );
                }
            }
        }
    }

    /// Integer counts over the f32 classes equal a direct count.
    #[test]
    fn unit_binary_counts_match_a_direct_count() {
        let mut rng = SeededRng::new(11);
        for n in [0, 3, 16, 17, 100, 1000] {
            let codes: Vec<u8> = (0..n).map(|_| rng.below(256) as u8).collect();
            let ys: Vec<f32> = (0..n).map(|_| rng.below(2) as f32).collect();
            for b in [0u8, 77, 254] {
                let left: Vec<usize> = (0..n).filter(|&i| codes[i] <= b).collect();
                let ones = left.iter().filter(|&&i| ys[i] == 1.0).count();
                assert_eq!(unit_binary_counts(&codes, 1, 0, &ys, b), (left.len(), ones));
                // The same codes as feature 1 of three-byte rows.
                let rows: Vec<u8> = codes.iter().flat_map(|&c| [7, c, 200]).collect();
                assert_eq!(unit_binary_counts(&rows, 3, 1, &ys, b), (left.len(), ones));
            }
        }
    }
}
