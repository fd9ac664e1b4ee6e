//! Quantile binning of feature columns into `u8` codes, for histogram split search on large nodes.
//!
//! Each feature gets at most [`MAX_BINS`] bins: when it has that few distinct values the edges are the
//! midpoints between consecutive distinct values (so histogram splits are the exact splits); otherwise
//! the edges are midpoints at evenly spaced quantiles (of the sample weights, when rows carry weights:
//! a weighted quantile sketch computed exactly). A value's code is the number of edges below it, so
//! `code <= b` exactly when `x <= edges[b]`. Missing values get code [`MISSING_BIN`]. A categorical
//! feature's code is its category (an integer in `0..=254`) and it has no edges.

use rayon::prelude::*;

/// Bins per feature for non-missing values.
pub(crate) const MAX_BINS: usize = 255;
/// The code of a missing value.
pub(crate) const MISSING_BIN: u8 = 255;

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
}

/// The largest category a categorical feature may hold (codes `0..=254`; 255 marks missing values).
pub(crate) const MAX_CATEGORY: u8 = MISSING_BIN - 1;

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
    /// A categorical value that is not an integer in `0..=254` is an error naming the feature and value.
    pub fn with_categorical(
        cols: &[f32],
        n_rows: usize,
        max_bins: usize,
        weights: Option<&[f32]>,
        categorical: &[bool],
    ) -> Result<Self, String> {
        let max_bins = max_bins.clamp(2, MAX_BINS);
        let n_features = cols.len() / n_rows.max(1);
        // Per feature: its edges and codes, or what is wrong with a categorical value.
        type Feature = Result<(Vec<f32>, Vec<u8>), String>;
        let per_feature: Vec<Feature> = (0..n_features)
            .into_par_iter()
            .map(|f| {
                let col = &cols[f * n_rows..(f + 1) * n_rows];
                if categorical.get(f).copied().unwrap_or(false) {
                    let codes = col
                        .iter()
                        .map(|&v| match v {
                            v if v.is_nan() => Ok(MISSING_BIN),
                            v if v >= 0.0 && v <= f32::from(MAX_CATEGORY) && v.fract() == 0.0 => Ok(v as u8),
                            v => Err(format!(
                                "categorical feature {f} holds {v}: categories must be integers in 0..={MAX_CATEGORY}"
                            )),
                        })
                        .collect::<Result<Vec<u8>, String>>()?;
                    return Ok((Vec::new(), codes));
                }
                let edges = edges_for(col, max_bins, weights);
                let codes = col
                    .iter()
                    .map(|&v| if v.is_nan() { MISSING_BIN } else { edges.partition_point(|&e| e < v) as u8 })
                    .collect();
                Ok((edges, codes))
            })
            .collect();
        let mut codes = Vec::with_capacity(n_rows * n_features);
        let mut edges = Vec::with_capacity(n_features);
        for part in per_feature {
            let (e, c) = part?;
            edges.push(e);
            codes.extend_from_slice(&c);
        }
        let categorical: Vec<bool> =
            (0..n_features).map(|f| categorical.get(f).copied().unwrap_or(false)).collect();
        let n_categories = (0..n_features)
            .map(|f| {
                if !categorical[f] {
                    return 0;
                }
                let mut seen = [false; 256];
                for &c in &codes[f * n_rows..(f + 1) * n_rows] {
                    seen[usize::from(c)] = true;
                }
                seen[..usize::from(MISSING_BIN)].iter().filter(|&&s| s).count()
            })
            .collect();
        Ok(Binned { n_rows, codes, edges, categorical, n_categories })
    }

    /// The codes of feature `f`.
    #[inline]
    pub fn column(&self, f: usize) -> &[u8] {
        &self.codes[f * self.n_rows..(f + 1) * self.n_rows]
    }
}

fn edges_for(col: &[f32], max_bins: usize, weights: Option<&[f32]>) -> Vec<f32> {
    // (value, weight) of the present values, sorted by value.
    let mut v: Vec<(f32, f32)> = match weights {
        Some(w) => col.iter().zip(w).filter(|(x, _)| !x.is_nan()).map(|(&x, &w)| (x, w)).collect(),
        None => col.iter().filter(|x| !x.is_nan()).map(|&x| (x, 1.0)).collect(),
    };
    v.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let mut distinct: Vec<f32> = v.iter().map(|p| p.0).collect();
    distinct.dedup();
    let mid = |a: f32, b: f32| {
        let m = a + (b - a) / 2.0;
        if m >= b { a } else { m }
    };
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
        let i = if weights.is_none() {
            (q * v.len() / max_bins).saturating_sub(1)
        } else {
            let target = total * q as f64 / max_bins as f64;
            cumulative.partition_point(|&c| c < target).min(v.len() - 1)
        };
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn categorical_codes_are_the_categories() {
        // Two features: a categorical one, then a numerical one.
        let cols = [3.0, 0.0, f32::NAN, 254.0, 1.5, 2.0, 3.0, 4.0];
        let b = Binned::with_categorical(&cols, 4, 256, None, &[true, false]).expect("valid categories");
        assert_eq!(b.column(0), &[3, 0, MISSING_BIN, 254]);
        assert!(b.edges[0].is_empty() && b.edges[1].len() == 3 && b.categorical == [true, false]);
        assert_eq!(b.n_categories, [3, 0]);
        for bad in [1.5, -1.0, 255.0] {
            let err = Binned::with_categorical(&[bad, 0.0], 2, 256, None, &[true]).expect_err("invalid");
            assert!(err.contains("categorical feature 0") && err.contains(&bad.to_string()), "{err}");
        }
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
