//! Split search for one node: exact (sort the node's values), histogram (bin codes, for large nodes) and
//! random thresholds (Extra Trees), each sending missing values to whichever side lowers impurity.

use tessera_tensor::SeededRng;

use super::criterion::{Criterion, proxy};
use super::data::{Target, TrainData};
use super::mae::MedianTracker;
use super::params::GrowParams;
use crate::binning::{MISSING_BIN, code_goes_left};
use crate::tree::value_goes_left;

mod code_rows;
use code_rows::random_code_split;

/// The best split found for a node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Split {
    pub feature: usize,
    pub threshold: f32,
    pub missing_left: bool,
    pub proxy: f64,
    /// For a threshold that is bin edge `b` of the feature, `b`: then `x <= threshold` exactly when the
    /// row's bin code is `<= b`, and the partition reads the (smaller, cache-resident) codes.
    pub bin: Option<u8>,
    /// The children's statistics (left, right; first `k` entries), when the search already summed them,
    /// so the partition need not.
    pub children: Option<[[f64; 3]; 2]>,
}

impl Split {
    /// A split at `threshold` on the values of `feature` (no bin edge, children's statistics not known).
    fn on_values(feature: usize, threshold: f32, missing_left: bool, proxy: f64) -> Self {
        Split { feature, threshold, missing_left, proxy, bin: None, children: None }
    }

    /// The side rule of this split on values: see [`value_goes_left`].
    pub fn value_rule(&self) -> impl Fn(f32) -> bool + Copy {
        let (t, missing_left) = (self.threshold, self.missing_left);
        move |x| value_goes_left(x, t, missing_left)
    }

    /// The side rule of this split on bin codes, for a split on bin edge `bin` (see [`Split::bin`]): see
    /// [`code_goes_left`].
    pub fn code_rule(&self, bin: u8) -> impl Fn(u8) -> bool + Copy {
        let missing_left = self.missing_left;
        move |c| code_goes_left(c, bin, missing_left)
    }
}

/// Reusable buffers for one tree's split searches.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    pairs: Vec<(f32, u32)>,
    xs: Vec<f32>,
    codes: Vec<u8>,
    hist: Vec<f64>,
    counts: Vec<u32>,
    left: Vec<f64>,
    right: Vec<f64>,
    miss: Vec<f64>,
    tmp_l: Vec<f64>,
    tmp_r: Vec<f64>,
    feats: Vec<usize>,
    /// Node-local ranks of the targets (absolute error only), indexed by row.
    pub ranks: Vec<u32>,
    /// Node-local sorted distinct targets (absolute error only).
    pub values: Vec<f32>,
    /// Per feature: smallest, largest non-missing and largest bin code of a node (code rows only).
    ranges: [Vec<u8>; 3],
}

/// The rows of one node with their targets and weights laid out contiguously (class indices are stored
/// as f32), so split search reads them sequentially.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NodeView<'a> {
    pub rows: &'a [u32],
    pub ys: &'a [f32],
    pub ws: &'a [f32],
    pub classification: bool,
    /// The samples' bin codes row-major (`stride` per row), when growth keeps them (Extra Trees on
    /// binned data); else empty.
    pub codes: &'a [u8],
    pub stride: usize,
    /// Every sample of the tree has weight 1 (no sample weights, no bootstrap).
    pub unit_weights: bool,
}

/// Adds one sample to statistics (weighted class count, or `[w, w*y, w*y^2]`).
#[inline(always)]
pub(crate) fn acc(stats: &mut [f64], classification: bool, y: f32, w: f32, sign: f64) {
    let w = sign * f64::from(w);
    if classification {
        stats[y as usize] += w;
    } else {
        let y = f64::from(y);
        stats[0] += w;
        stats[1] += w * y;
        stats[2] += w * y * y;
    }
}

/// What searching one feature found.
enum Outcome {
    /// The feature takes one value in this node (not counted towards `max_features`).
    Constant,
    /// The best valid split on this feature, if any.
    Searched(Option<Split>),
}

/// Nodes with at least this many rows use histograms when bin codes are available: below it, sorting
/// the node's values costs less than filling and scanning 255 bins.
pub(crate) const HIST_MIN_ROWS: usize = 256;

/// Finds the best split of the node holding `rows`, whose statistics are `total`, visiting features in a
/// random order until `max_features` non-constant ones have been searched (as scikit-learn does).
pub(crate) fn find_split(
    d: &TrainData,
    p: &GrowParams,
    w: &[f32],
    node: NodeView<'_>,
    total: &[f64],
    rng: &mut SeededRng,
    s: &mut Scratch,
) -> Option<Split> {
    let k = total.len();
    if s.left.len() != k {
        for v in [&mut s.left, &mut s.right, &mut s.miss, &mut s.tmp_l, &mut s.tmp_r] {
            v.clear();
            v.resize(k, 0.0);
        }
    }
    let use_hist =
        p.criterion != Criterion::AbsoluteError && d.bins.is_some() && node.rows.len() >= HIST_MIN_ROWS;
    let rows = node.rows;
    if p.criterion == Criterion::AbsoluteError {
        prepare_ranks(d, rows, s);
    }
    // Any permutation of the features is a valid start for the partial shuffle below.
    if s.feats.len() != d.n_features {
        s.feats.clear();
        s.feats.extend(0..d.n_features);
    }
    // With code rows, Extra Trees split on bin edges; when every feature has all its values in one bin,
    // the search below splits on the values themselves.
    if p.random_split
        && node.stride > 0
        && let Some(found) = random_code_split(d, p, node, total, rng, s)
    {
        return found;
    }
    let mut best: Option<Split> = None;
    let mut visited = 0;
    for j in 0..d.n_features {
        let pick = j + rng.below(d.n_features - j);
        s.feats.swap(j, pick);
        let f = s.feats[j];
        let outcome = if p.random_split {
            random_feature(d, p, w, node, total, f, rng, s)
        } else if p.criterion == Criterion::AbsoluteError {
            exact_mae(d, p, w, rows, f, s)
        } else if use_hist {
            hist_feature(d, p, node, total, f, s)
        } else {
            exact_feature(d, p, node, total, f, s)
        };
        if let Outcome::Searched(found) = outcome {
            visited += 1;
            if let Some(c) = found
                && best.as_ref().is_none_or(|b| c.proxy > b.proxy)
            {
                best = Some(c);
            }
            if visited >= p.max_features {
                break;
            }
        }
    }
    best
}

/// Midpoint threshold between consecutive distinct values (the lower value if rounding reaches the upper).
fn midpoint(a: f32, b: f32) -> f32 {
    let m = a + (b - a) / 2.0;
    if m >= b || !m.is_finite() { a } else { m }
}

/// Evaluates both placements of the missing group at one boundary, keeping the better valid one in `best`.
#[allow(clippy::too_many_arguments)]
fn consider(
    p: &GrowParams,
    left: &[f64],
    right: &[f64],
    miss: &[f64],
    n_left: usize,
    n_right: usize,
    n_miss: usize,
    tmp_l: &mut [f64],
    tmp_r: &mut [f64],
    best: &mut Option<(f64, bool)>,
) {
    let min = p.min_samples_leaf;
    let mut keep = |proxy: f64, missing_left: bool| {
        if best.is_none_or(|(b, _)| proxy > b) {
            *best = Some((proxy, missing_left));
        }
    };
    if n_miss == 0 {
        if n_left >= min && n_right >= min {
            keep(proxy(p.criterion, left, right), n_left >= n_right);
        }
        return;
    }
    if n_left >= min && n_right + n_miss >= min {
        for i in 0..left.len() {
            tmp_r[i] = right[i] + miss[i];
        }
        keep(proxy(p.criterion, left, tmp_r), false);
    }
    if n_left + n_miss >= min && n_right >= min {
        for i in 0..left.len() {
            tmp_l[i] = left[i] + miss[i];
        }
        keep(proxy(p.criterion, tmp_l, right), true);
    }
}

fn exact_feature(
    d: &TrainData,
    p: &GrowParams,
    node: NodeView<'_>,
    total: &[f64],
    f: usize,
    s: &mut Scratch,
) -> Outcome {
    let col = d.column(f);
    let cls = node.classification;
    s.pairs.clear();
    s.miss.iter_mut().for_each(|v| *v = 0.0);
    let mut n_miss = 0;
    for (i, &r) in node.rows.iter().enumerate() {
        let x = col[r as usize];
        if x.is_nan() {
            acc(&mut s.miss, cls, node.ys[i], node.ws[i], 1.0);
            n_miss += 1;
        } else {
            s.pairs.push((x, i as u32));
        }
    }
    if s.pairs.len() < 2 {
        return Outcome::Constant;
    }
    s.pairs.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let m = s.pairs.len();
    if s.pairs[0].0 == s.pairs[m - 1].0 {
        return Outcome::Constant;
    }
    s.left.iter_mut().for_each(|v| *v = 0.0);
    for ((r, t), m) in s.right.iter_mut().zip(total).zip(&s.miss) {
        *r = t - m;
    }
    let mut best: Option<(f64, bool)> = None;
    let mut best_at = 0;
    for i in 0..m - 1 {
        let j = s.pairs[i].1 as usize;
        acc(&mut s.left, cls, node.ys[j], node.ws[j], 1.0);
        acc(&mut s.right, cls, node.ys[j], node.ws[j], -1.0);
        if s.pairs[i].0 == s.pairs[i + 1].0 {
            continue;
        }
        let before = best.map(|b| b.0);
        consider(
            p,
            &s.left,
            &s.right,
            &s.miss,
            i + 1,
            m - i - 1,
            n_miss,
            &mut s.tmp_l,
            &mut s.tmp_r,
            &mut best,
        );
        if best.map(|b| b.0) != before {
            best_at = i;
        }
    }
    let threshold = midpoint(s.pairs[best_at].0, s.pairs[best_at + 1].0);
    Outcome::Searched(best.map(|(proxy, missing_left)| Split::on_values(f, threshold, missing_left, proxy)))
}

/// Fills `s.hist` (per bin statistics) and `s.counts` for feature `f` of a node from the bin codes.
fn build_hist(codes: &[u8], node: NodeView<'_>, k: usize, s: &mut Scratch) {
    s.hist.clear();
    s.hist.resize(256 * k, 0.0);
    s.counts.clear();
    s.counts.resize(256, 0);
    if node.classification {
        for (i, &r) in node.rows.iter().enumerate() {
            let b = codes[r as usize] as usize;
            s.hist[b * k + node.ys[i] as usize] += f64::from(node.ws[i]);
            s.counts[b] += 1;
        }
    } else {
        for (i, &r) in node.rows.iter().enumerate() {
            let b = codes[r as usize] as usize;
            let (wr, yr) = (f64::from(node.ws[i]), f64::from(node.ys[i]));
            let h = &mut s.hist[b * 3..b * 3 + 3];
            h[0] += wr;
            h[1] += wr * yr;
            h[2] += wr * yr * yr;
            s.counts[b] += 1;
        }
    }
}

fn hist_feature(
    d: &TrainData,
    p: &GrowParams,
    node: NodeView<'_>,
    total: &[f64],
    f: usize,
    s: &mut Scratch,
) -> Outcome {
    let rows = node.rows;
    let Some(bins) = d.bins.as_ref() else { return Outcome::Constant };
    let k = total.len();
    build_hist(bins.column(f), node, k, s);
    let miss_bin = MISSING_BIN as usize;
    let nonempty: Vec<usize> = (0..miss_bin).filter(|&b| s.counts[b] > 0).collect();
    if nonempty.len() < 2 {
        return Outcome::Constant;
    }
    let n_miss = s.counts[miss_bin] as usize;
    s.miss.copy_from_slice(&s.hist[miss_bin * k..miss_bin * k + k]);
    s.left.iter_mut().for_each(|v| *v = 0.0);
    for ((r, t), m) in s.right.iter_mut().zip(total).zip(&s.miss) {
        *r = t - m;
    }
    let n_present = rows.len() - n_miss;
    let (mut n_left, mut best, mut best_bin) = (0usize, None, 0usize);
    for &b in &nonempty[..nonempty.len() - 1] {
        for i in 0..k {
            let h = s.hist[b * k + i];
            s.left[i] += h;
            s.right[i] -= h;
        }
        n_left += s.counts[b] as usize;
        let before = best.map(|(p, _): (f64, bool)| p);
        consider(
            p,
            &s.left,
            &s.right,
            &s.miss,
            n_left,
            n_present - n_left,
            n_miss,
            &mut s.tmp_l,
            &mut s.tmp_r,
            &mut best,
        );
        if best.map(|b| b.0) != before {
            best_bin = b;
        }
    }
    Outcome::Searched(best.map(|(proxy, missing_left)| Split {
        bin: Some(best_bin as u8),
        ..Split::on_values(f, bins.edges[f][best_bin], missing_left, proxy)
    }))
}

#[allow(clippy::too_many_arguments)]
fn random_feature(
    d: &TrainData,
    p: &GrowParams,
    w: &[f32],
    node: NodeView<'_>,
    total: &[f64],
    f: usize,
    rng: &mut SeededRng,
    s: &mut Scratch,
) -> Outcome {
    let col = d.column(f);
    // One random-access pass gathers the node's values; the passes below are sequential.
    s.xs.clear();
    s.xs.extend(node.rows.iter().map(|&r| col[r as usize]));
    let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
    let mut any_nan = false;
    for &x in &s.xs {
        // NaN compares false both ways and is skipped.
        lo = if x < lo { x } else { lo };
        hi = if x > hi { x } else { hi };
        any_nan |= x.is_nan();
    }
    if !(hi > lo) {
        return Outcome::Constant;
    }
    let mut threshold = lo + (hi - lo) * rng.uniform();
    if threshold >= hi {
        threshold = lo;
    }
    if p.criterion == Criterion::AbsoluteError {
        return Outcome::Searched(random_mae(d, p, w, node.rows, f, threshold, s));
    }
    let k = total.len();
    let n_left = side_stats(&s.xs, node, k, |x| x <= threshold, &mut s.left);
    s.miss.iter_mut().for_each(|v| *v = 0.0);
    let n_miss = if any_nan { side_stats(&s.xs, node, k, f32::is_nan, &mut s.miss) } else { 0 };
    for (((r, t), l), m) in s.right.iter_mut().zip(total).zip(&s.left).zip(&s.miss) {
        *r = t - l - m;
    }
    let mut best = None;
    let n_right = node.rows.len() - n_left - n_miss;
    consider(p, &s.left, &s.right, &s.miss, n_left, n_right, n_miss, &mut s.tmp_l, &mut s.tmp_r, &mut best);
    Outcome::Searched(best.map(|(proxy, missing_left)| Split::on_values(f, threshold, missing_left, proxy)))
}

/// Sets `out` to the statistics of the node's samples whose key (value or bin code, in node order)
/// satisfies `side`; returns their count.
fn side_stats<K: Copy>(
    keys: &[K],
    node: NodeView<'_>,
    k: usize,
    side: impl Fn(K) -> bool,
    out: &mut [f64],
) -> usize {
    let cls = node.classification;
    if !cls || k == 2 {
        return side_sums(keys, node.ys, node.ws, side, cls, out);
    }
    out.iter_mut().for_each(|v| *v = 0.0);
    let mut n = 0;
    for ((&key, &y), &w) in keys.iter().zip(node.ys).zip(node.ws) {
        if side(key) {
            acc(out, cls, y, w, 1.0);
            n += 1;
        }
    }
    n
}

/// [`side_stats`] for binary classification or regression, branch-free (the condition is a 0/1
/// multiplier, as a branch on it would be mispredicted half the time) and with four partial sums per
/// statistic so the additions do not wait on each other (and vectorise).
fn side_sums<K: Copy>(
    keys: &[K],
    ys: &[f32],
    ws: &[f32],
    side: impl Fn(K) -> bool,
    cls: bool,
    out: &mut [f64],
) -> usize {
    let ([w, wy, wyy], count) = if cls {
        lane_sums::<K, false>(keys, ys, ws, side)
    } else {
        lane_sums::<K, true>(keys, ys, ws, side)
    };
    if cls {
        // Binary classes are 0 and 1: the weighted sum of y is the weight of class 1.
        out[0] = w - wy;
        out[1] = wy;
    } else {
        out[0] = w;
        out[1] = wy;
        out[2] = wyy;
    }
    count
}

/// Sums of `w`, `w*y` and (when `SQUARES`) `w*y*y` over the samples whose key satisfies `side`, and
/// their count. (Kept out of line: inlined into the split search it compiled to slower code.)
#[inline(never)]
fn lane_sums<K: Copy, const SQUARES: bool>(
    keys: &[K],
    ys: &[f32],
    ws: &[f32],
    side: impl Fn(K) -> bool,
) -> ([f64; 3], usize) {
    const L: usize = 4;
    let (mut w, mut wy, mut wyy, mut count) = ([0.0f64; L], [0.0f64; L], [0.0f64; L], [0.0f64; L]);
    let n = keys.len().min(ys.len()).min(ws.len());
    let (keys, ys, ws) = (&keys[..n], &ys[..n], &ws[..n]);
    let (kc, yc, wc) = (keys.as_chunks::<L>(), ys.as_chunks::<L>(), ws.as_chunks::<L>());
    for ((kk, yy), ww) in kc.0.iter().zip(yc.0).zip(wc.0) {
        let m: [f64; L] = std::array::from_fn(|l| if side(kk[l]) { 1.0 } else { 0.0 });
        let mw: [f64; L] = std::array::from_fn(|l| m[l] * f64::from(ww[l]));
        let y: [f64; L] = std::array::from_fn(|l| f64::from(yy[l]));
        for l in 0..L {
            w[l] += mw[l];
            wy[l] += mw[l] * y[l];
            count[l] += m[l];
            if SQUARES {
                wyy[l] += mw[l] * y[l] * y[l];
            }
        }
    }
    for ((&kk, &yy), &ww) in kc.1.iter().zip(yc.1).zip(wc.1) {
        let m = if side(kk) { 1.0 } else { 0.0 };
        let (mw, y) = (m * f64::from(ww), f64::from(yy));
        w[0] += mw;
        wy[0] += mw * y;
        wyy[0] += mw * y * y;
        count[0] += m;
    }
    let sum = |a: [f64; L]| a.iter().sum::<f64>();
    ([sum(w), sum(wy), sum(wyy)], sum(count) as usize)
}

/// Sets `s.values` to the node's sorted distinct targets and `s.ranks[r]` to each row's rank among them.
pub(crate) fn prepare_ranks(d: &TrainData, rows: &[u32], s: &mut Scratch) {
    let Target::Reg { y } = &d.target else { return };
    s.values.clear();
    s.values.extend(rows.iter().map(|&r| y[r as usize]));
    s.values.sort_unstable_by(f32::total_cmp);
    s.values.dedup();
    if s.ranks.len() < d.n_rows {
        s.ranks.resize(d.n_rows, 0);
    }
    for &r in rows {
        s.ranks[r as usize] = s.values.partition_point(|&v| v < y[r as usize]) as u32;
    }
}

fn exact_mae(d: &TrainData, p: &GrowParams, w: &[f32], rows: &[u32], f: usize, s: &mut Scratch) -> Outcome {
    let col = d.column(f);
    s.pairs.clear();
    let mut missing = Vec::new();
    for &r in rows {
        let x = col[r as usize];
        if x.is_nan() { missing.push(r) } else { s.pairs.push((x, r)) }
    }
    if s.pairs.len() < 2 {
        return Outcome::Constant;
    }
    s.pairs.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let m = s.pairs.len();
    if s.pairs[0].0 == s.pairs[m - 1].0 {
        return Outcome::Constant;
    }
    let n_miss = missing.len();
    let placements: &[bool] = if n_miss == 0 { &[false] } else { &[false, true] };
    let mut best: Option<(f64, bool, usize)> = None;
    for &miss_left in placements {
        let mut left = MedianTracker::new(&s.values);
        let mut right = MedianTracker::new(&s.values);
        for &r in &missing {
            let t = if miss_left { &mut left } else { &mut right };
            t.add(s.ranks[r as usize] as usize, f64::from(w[r as usize]));
        }
        for &(_, r) in &s.pairs {
            right.add(s.ranks[r as usize] as usize, f64::from(w[r as usize]));
        }
        for i in 0..m - 1 {
            let r = s.pairs[i].1 as usize;
            left.add(s.ranks[r] as usize, f64::from(w[r]));
            right.add(s.ranks[r] as usize, -f64::from(w[r]));
            if s.pairs[i].0 == s.pairs[i + 1].0 {
                continue;
            }
            let n_l = i + 1 + if miss_left { n_miss } else { 0 };
            let n_r = m - i - 1 + if miss_left { 0 } else { n_miss };
            if n_l < p.min_samples_leaf || n_r < p.min_samples_leaf {
                continue;
            }
            let proxy = -(left.abs_deviation() + right.abs_deviation());
            if best.is_none_or(|b| proxy > b.0) {
                let ml = if n_miss == 0 { n_l >= n_r } else { miss_left };
                best = Some((proxy, ml, i));
            }
        }
    }
    Outcome::Searched(best.map(|(proxy, missing_left, i)| {
        Split::on_values(f, midpoint(s.pairs[i].0, s.pairs[i + 1].0), missing_left, proxy)
    }))
}

fn random_mae(
    d: &TrainData,
    p: &GrowParams,
    w: &[f32],
    rows: &[u32],
    f: usize,
    threshold: f32,
    s: &mut Scratch,
) -> Option<Split> {
    let col = d.column(f);
    let mut best: Option<(f64, bool)> = None;
    let n_miss = rows.iter().filter(|&&r| col[r as usize].is_nan()).count();
    let placements: &[bool] = if n_miss == 0 { &[false] } else { &[false, true] };
    for &miss_left in placements {
        let mut left = MedianTracker::new(&s.values);
        let mut right = MedianTracker::new(&s.values);
        let (mut n_l, mut n_r) = (0, 0);
        for &r in rows {
            let x = col[r as usize];
            let go_left = x <= threshold || (x.is_nan() && miss_left);
            let t = if go_left { &mut left } else { &mut right };
            t.add(s.ranks[r as usize] as usize, f64::from(w[r as usize]));
            if go_left { n_l += 1 } else { n_r += 1 }
        }
        if n_l < p.min_samples_leaf || n_r < p.min_samples_leaf {
            continue;
        }
        let proxy = -(left.abs_deviation() + right.abs_deviation());
        if best.is_none_or(|b| proxy > b.0) {
            best = Some((proxy, if n_miss == 0 { n_l >= n_r } else { miss_left }));
        }
    }
    best.map(|(proxy, missing_left)| Split::on_values(f, threshold, missing_left, proxy))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The branch-free side sums equal a direct sum.
    #[test]
    fn side_sums_match_a_direct_sum() {
        let mut rng = SeededRng::new(3);
        for n in [0, 1, 5, 64, 301] {
            let keys: Vec<u8> = (0..n).map(|_| rng.below(256) as u8).collect();
            let ys: Vec<f32> = (0..n).map(|_| rng.uniform() * 4.0 - 2.0).collect();
            let ws: Vec<f32> = (0..n).map(|_| rng.uniform()).collect();
            let mut out = [0.0; 3];
            let count = side_sums(&keys, &ys, &ws, |k| k <= 100, false, &mut out);
            let (mut w, mut wy, mut wyy, mut c) = (0.0f64, 0.0f64, 0.0f64, 0);
            for i in (0..n).filter(|&i| keys[i] <= 100) {
                let (wi, yi) = (f64::from(ws[i]), f64::from(ys[i]));
                (w, wy, wyy, c) = (w + wi, wy + wi * yi, wyy + wi * yi * yi, c + 1);
            }
            assert_eq!(count, c);
            for (a, b) in out.iter().zip([w, wy, wyy]) {
                assert!((a - b).abs() < 1e-9, "{a} vs {b}");
            }
        }
    }
}
