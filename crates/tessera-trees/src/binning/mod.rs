//! Quantile binning of feature columns into `u8` codes, for histogram split search on large nodes.
//!
//! Each feature gets at most [`MAX_BINS`] bins: when it has that few distinct values the edges are the
//! midpoints between consecutive distinct values (so histogram splits are the exact splits); otherwise
//! the edges are midpoints at evenly spaced quantiles (of the sample weights, when rows carry weights:
//! a weighted quantile sketch computed exactly). A value's code is the number of edges below it, so
//! `code <= b` exactly when `x <= edges[b]`. Missing values get code [`MISSING_BIN`]. A categorical
//! feature has no edges: its categories (non-negative integers below 2^24) get codes in ascending order; with
//! more than 255 categories the 254 most frequent keep codes of their own and the rest share code 254, as
//! LightGBM bins rare categories together (a split then sends all of them the same way).

use rayon::prelude::*;

use crate::tree::is_category;

mod edge_guide;
mod stride;
pub(crate) use edge_guide::EdgeGuide;
pub(crate) use stride::with_stride;

/// Bins per feature for non-missing values.
pub(crate) const MAX_BINS: usize = 255;
/// The code of a missing value.
pub(crate) const MISSING_BIN: u8 = 255;
/// Codes per feature: [`MAX_BINS`] for present values and [`MISSING_BIN`].
pub(crate) const CODES: usize = MAX_BINS + 1;

/// Column-major bin codes and the edges of each feature.
#[derive(Debug, Clone)]
pub(crate) struct Binned {
    pub n_rows: usize,
    pub codes: Vec<u8>,
    pub edges: Vec<Vec<f32>>,
    /// Which features are categorical.
    pub categorical: Vec<bool>,
    /// Distinct categories of each categorical feature (0 for numerical ones).
    pub n_categories: Vec<usize>,
    /// Per categorical feature, the categories of each code (empty for numerical features).
    pub code_categories: Vec<Vec<Vec<u32>>>,
}

/// One categorical column binned: codes per row, the categories of each code, and how many distinct
/// categories there were.
type CategoryCodes = (Vec<u8>, Vec<Vec<u32>>, usize);

/// Bins one categorical column; an invalid value is an error naming feature `f`.
fn category_codes(col: &[f32], f: usize) -> Result<CategoryCodes, String> {
    let mut counts: std::collections::BTreeMap<u32, usize> = Default::default();
    for &v in col.iter().filter(|v| !v.is_nan()) {
        if !is_category(v) {
            return Err(format!(
                "categorical feature {f} holds {v}: categories must be non-negative integers below 2^24"
            ));
        }
        *counts.entry(v as u32).or_default() += 1;
    }
    let distinct = counts.len();
    let own_codes =
        if distinct <= usize::from(MISSING_BIN) { distinct } else { usize::from(MISSING_BIN) - 1 };
    // The most frequent categories keep codes of their own (ties: the smaller category), in ascending order.
    let mut by_count: Vec<(u32, usize)> = counts.into_iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut kept: Vec<u32> = by_count[..own_codes].iter().map(|p| p.0).collect();
    kept.sort_unstable();
    let mut code_categories: Vec<Vec<u32>> = kept.iter().map(|&c| vec![c]).collect();
    if own_codes < distinct {
        let mut rest: Vec<u32> = by_count[own_codes..].iter().map(|p| p.0).collect();
        rest.sort_unstable();
        code_categories.push(rest);
    }
    let other = own_codes as u8;
    let codes = col
        .iter()
        .map(|&v| {
            if v.is_nan() { MISSING_BIN } else { kept.binary_search(&(v as u32)).map_or(other, |i| i as u8) }
        })
        .collect();
    Ok((codes, code_categories, distinct))
}

impl Binned {
    /// Bins column-major `cols` (`n_rows` values per feature), features in parallel.
    pub fn new(cols: &[f32], n_rows: usize) -> Self {
        Binned::with_options(cols, n_rows, MAX_BINS, None)
    }

    /// Bins with at most `max_bins` (2..=[`MAX_BINS`]) bins per feature, cutting at quantiles of
    /// `weights` (one per row) when given.
    pub fn with_options(cols: &[f32], n_rows: usize, max_bins: usize, weights: Option<&[f32]>) -> Self {
        let n_features = cols.len() / n_rows.max(1);
        match Binned::with_categorical(cols, n_rows, max_bins, weights, &vec![false; n_features]) {
            Ok(b) => b,
            Err(_) => unreachable!("only categorical features can hold invalid values"),
        }
    }

    /// [`Binned::with_options`] where `categorical[f]` marks the features whose values are categories.
    /// A categorical value that is not a non-negative integer below 2^24 is an error naming the feature
    /// and the value.
    pub fn with_categorical(
        cols: &[f32],
        n_rows: usize,
        max_bins: usize,
        weights: Option<&[f32]>,
        categorical: &[bool],
    ) -> Result<Self, String> {
        let max_bins = max_bins.clamp(2, MAX_BINS);
        let n_features = cols.len() / n_rows.max(1);
        // Per feature: its edges, codes, and for a categorical one the categories of each code and their
        // number; or what is wrong with a categorical value.
        type Feature = Result<(Vec<f32>, Vec<u8>, Vec<Vec<u32>>, usize), String>;
        let per_feature: Vec<Feature> = (0..n_features)
            .into_par_iter()
            .map(|f| {
                let col = &cols[f * n_rows..(f + 1) * n_rows];
                if categorical.get(f).copied().unwrap_or(false) {
                    let (codes, code_categories, distinct) = category_codes(col, f)?;
                    return Ok((Vec::new(), codes, code_categories, distinct));
                }
                let Some(weights) = weights else {
                    let (edges, codes) = bin_unweighted(col, max_bins);
                    return Ok((edges, codes, Vec::new(), 0));
                };
                let edges = weighted_edges(col, max_bins, weights);
                let codes = col
                    .iter()
                    .map(|&v| if v.is_nan() { MISSING_BIN } else { edges.partition_point(|&e| e < v) as u8 })
                    .collect();
                Ok((edges, codes, Vec::new(), 0))
            })
            .collect();
        let mut codes = Vec::with_capacity(n_rows * n_features);
        let mut edges = Vec::with_capacity(n_features);
        let (mut code_categories, mut n_categories) = (Vec::new(), Vec::new());
        for part in per_feature {
            let (e, c, cats, distinct) = part?;
            edges.push(e);
            codes.extend_from_slice(&c);
            code_categories.push(cats);
            n_categories.push(distinct);
        }
        let categorical = (0..n_features).map(|f| categorical.get(f).copied().unwrap_or(false)).collect();
        Ok(Binned { n_rows, codes, edges, categorical, n_categories, code_categories })
    }

    /// The codes of feature `f`.
    #[inline]
    pub fn column(&self, f: usize) -> &[u8] {
        &self.codes[f * self.n_rows..(f + 1) * self.n_rows]
    }
}

/// The midpoint of `a < b` (`a` when rounding reaches `b`).
fn mid(a: f32, b: f32) -> f32 {
    let m = a + (b - a) / 2.0;
    if m >= b { a } else { m }
}

/// Edges for ascending present `values` (with their `distinct` values) without weights: the midpoints
/// between distinct values when there are at most `max_bins`, else between the value at each
/// `q / max_bins` quantile and the next larger value.
fn edges_from_sorted(values: &[f32], distinct: &[f32], max_bins: usize) -> Vec<f32> {
    if distinct.len() <= max_bins {
        return distinct.windows(2).map(|w| mid(w[0], w[1])).collect();
    }
    let mut edges = Vec::with_capacity(max_bins - 1);
    for q in 1..max_bins {
        let i = (q * values.len() / max_bins).saturating_sub(1);
        let a = values[i];
        if let Some(&b) = values[i..].iter().find(|&&b| b > a) {
            let e = mid(a, b);
            if edges.last().is_none_or(|&last| e > last) {
                edges.push(e);
            }
        }
    }
    edges
}

/// Edges and codes of a column without weights, from one radix sort of (value, row) pairs: the codes
/// come from a walk over the sorted pairs instead of a binary search per value.
fn bin_unweighted(col: &[f32], max_bins: usize) -> (Vec<f32>, Vec<u8>) {
    // f32 bits mapped to u32 in the order of `f32::total_cmp`.
    let key = |x: f32| {
        let b = x.to_bits();
        if b >> 31 == 1 { !b } else { b | 0x8000_0000 }
    };
    let value = |k: u32| f32::from_bits(if k >> 31 == 1 { k & 0x7fff_ffff } else { !k });
    let mut pairs: Vec<u64> = col
        .iter()
        .enumerate()
        .filter(|(_, x)| !x.is_nan())
        .map(|(i, &x)| (u64::from(key(x)) << 32) | i as u64)
        .collect();
    radix_sort_by_high_half(&mut pairs);
    let values: Vec<f32> = pairs.iter().map(|&p| value((p >> 32) as u32)).collect();
    let mut distinct = values.clone();
    distinct.dedup();
    let edges = edges_from_sorted(&values, &distinct, max_bins);
    let mut codes = vec![MISSING_BIN; col.len()];
    let mut code = 0;
    for (&p, &v) in pairs.iter().zip(&values) {
        while code < edges.len() && edges[code] < v {
            code += 1;
        }
        codes[(p & 0xffff_ffff) as usize] = code as u8;
    }
    (edges, codes)
}

/// Sorts by the upper 32 bits (stable LSD radix sort, a byte per pass; passes where every key has the
/// same byte are skipped).
fn radix_sort_by_high_half(v: &mut Vec<u64>) {
    let mut tmp = vec![0u64; v.len()];
    for shift in [32, 40, 48, 56] {
        let mut counts = [0usize; 256];
        for &x in v.iter() {
            counts[((x >> shift) & 0xff) as usize] += 1;
        }
        if counts.contains(&v.len()) {
            continue;
        }
        let mut at = [0usize; 256];
        let mut sum = 0;
        for (a, &c) in at.iter_mut().zip(&counts) {
            *a = sum;
            sum += c;
        }
        for &x in v.iter() {
            let d = ((x >> shift) & 0xff) as usize;
            tmp[at[d]] = x;
            at[d] += 1;
        }
        std::mem::swap(v, &mut tmp);
    }
}

/// Edges of a column whose rows carry `weights` (see the module doc): cuts at weighted quantiles.
fn weighted_edges(col: &[f32], max_bins: usize, weights: &[f32]) -> Vec<f32> {
    // (value, weight) of the present values, sorted by value.
    let mut v: Vec<(f32, f32)> =
        col.iter().zip(weights).filter(|(x, _)| !x.is_nan()).map(|(&x, &w)| (x, w)).collect();
    v.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let mut distinct: Vec<f32> = v.iter().map(|p| p.0).collect();
    distinct.dedup();
    if distinct.len() <= max_bins {
        return distinct.windows(2).map(|w| mid(w[0], w[1])).collect();
    }
    // Cumulative weight after each value; cut q is placed after the value where it reaches q/max_bins.
    let total: f64 = v.iter().map(|p| f64::from(p.1)).sum();
    let mut cumulative = Vec::with_capacity(v.len());
    let mut acc = 0.0f64;
    for p in &v {
        acc += f64::from(p.1);
        cumulative.push(acc);
    }
    let mut edges = Vec::with_capacity(max_bins - 1);
    for q in 1..max_bins {
        let target = total * q as f64 / max_bins as f64;
        let i = cumulative.partition_point(|&c| c < target).min(v.len() - 1);
        // Cut between the value at the quantile and the next larger distinct value.
        let a = v[i].0;
        let next = v[i..].iter().map(|p| p.0).find(|&b| b > a);
        if let Some(b) = next {
            let e = mid(a, b);
            if edges.last().is_none_or(|&last| e > last) {
                edges.push(e);
            }
        }
    }
    edges
}

/// Whether a bin code `c` goes left of bin edge `bin` (branch-free, as [`value_goes_left`]).
#[inline(always)]
pub(crate) fn code_goes_left(c: u8, bin: u8, missing_left: bool) -> bool {
    (c <= bin) | (missing_left & (c == MISSING_BIN))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The radix-sort path gives the edges and codes of the plain one (a comparison sort, then a binary
    /// search per value), with duplicates, signed zeros, negatives and missing values.
    #[test]
    fn unweighted_binning_matches_the_plain_rule() {
        let mut state = 12345u64;
        let mut next = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) as u32
        };
        for (n, distinct) in [(0, 1), (1, 1), (50, 7), (3000, 40), (5000, 100_000)] {
            let col: Vec<f32> = (0..n)
                .map(|_| match next() % 20 {
                    0 => f32::NAN,
                    1 => -0.0,
                    2 => 0.0,
                    _ => (next() % distinct) as f32 * 0.37 - 50.0,
                })
                .collect();
            for max_bins in [2, 16, 255] {
                let (edges, codes) = bin_unweighted(&col, max_bins);
                let mut values: Vec<f32> = col.iter().copied().filter(|x| !x.is_nan()).collect();
                values.sort_unstable_by(f32::total_cmp);
                let mut distinct = values.clone();
                distinct.dedup();
                assert_eq!(edges, edges_from_sorted(&values, &distinct, max_bins));
                let plain: Vec<u8> = col
                    .iter()
                    .map(|&v| if v.is_nan() { MISSING_BIN } else { edges.partition_point(|&e| e < v) as u8 })
                    .collect();
                assert_eq!(codes, plain);
            }
        }
    }

    #[test]
    fn few_distinct_values_give_exact_edges() {
        let col = [3.0, 1.0, f32::NAN, 2.0, 1.0, 3.0];
        let b = Binned::new(&col, 6);
        assert_eq!(b.edges[0], vec![1.5, 2.5]);
        assert_eq!(b.column(0), &[2, 0, MISSING_BIN, 1, 0, 2]);
    }

    #[test]
    fn max_bins_and_weights_move_the_cuts() {
        let col: Vec<f32> = (0..1000).map(|i| i as f32).collect();
        let b = Binned::with_options(&col, 1000, 4, None);
        assert_eq!(b.edges[0], vec![249.5, 499.5, 749.5]);
        // Rows 0..100 carry 9x the weight of the rest: half the weight sits below 100.
        let w: Vec<f32> = (0..1000).map(|i| if i < 100 { 9.0 } else { 1.0 }).collect();
        let b = Binned::with_options(&col, 1000, 2, Some(&w));
        assert_eq!(b.edges[0], vec![99.5]);
    }

    #[test]
    fn categories_get_codes_in_order() {
        // Two features: a categorical one, then a numerical one.
        let cols = [30.0, 0.0, f32::NAN, 7000.0, 1.5, 2.0, 3.0, 4.0];
        let b = Binned::with_categorical(&cols, 4, 256, None, &[true, false]).expect("valid categories");
        assert_eq!(b.column(0), &[1, 0, MISSING_BIN, 2]);
        assert_eq!(b.code_categories[0], [vec![0], vec![30], vec![7000]]);
        assert!(b.edges[0].is_empty() && b.edges[1].len() == 3 && b.categorical == [true, false]);
        assert_eq!(b.n_categories, [3, 0]);
        for bad in [1.5, -1.0, 16_777_216.0] {
            let err = Binned::with_categorical(&[bad, 0.0], 2, 256, None, &[true]).expect_err("invalid");
            assert!(err.contains("categorical feature 0") && err.contains(&bad.to_string()), "{err}");
        }
    }

    /// Beyond 255 categories the most frequent 254 keep their own codes and the rest share code 254.
    #[test]
    fn rare_categories_share_a_code() {
        // Category c appears 1000 - c times (c < 300), so categories 254..300 are the rarest.
        let col: Vec<f32> =
            (0..300u32).flat_map(|c| std::iter::repeat_n(c as f32, 1000 - c as usize)).collect();
        let b = Binned::with_categorical(&col, col.len(), 256, None, &[true]).expect("valid categories");
        assert_eq!(b.n_categories, [300]);
        assert_eq!(b.code_categories[0].len(), 255);
        assert_eq!(b.code_categories[0][253], [253]);
        assert_eq!(b.code_categories[0][254], (254..300).collect::<Vec<u32>>());
        let codes = b.column(0);
        assert_eq!(codes[0], 0);
        assert_eq!(*codes.last().expect("rows"), 254);
    }

    #[test]
    fn codes_agree_with_edges() {
        let col: Vec<f32> = (0..5000).map(|i| ((i * 7919) % 1000) as f32 / 7.0).collect();
        let b = Binned::new(&col, col.len());
        assert!(b.edges[0].len() < MAX_BINS);
        for (&x, &c) in col.iter().zip(b.column(0)) {
            for (k, &e) in b.edges[0].iter().enumerate() {
                assert_eq!(c as usize <= k, x <= e);
            }
        }
    }
}
