//! Quantile binning of feature columns into `u8` codes, for histogram split search on large nodes.
//!
//! Each feature gets at most [`MAX_BINS`] bins: when it has that few distinct values the edges are the
//! midpoints between consecutive distinct values (so histogram splits are the exact splits); otherwise
//! the edges are midpoints at evenly spaced quantiles. A value's code is the number of edges below it,
//! so `code <= b` exactly when `x <= edges[b]`. Missing values get code [`MISSING_BIN`].

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
}

impl Binned {
    /// Bins column-major `cols` (`n_rows` values per feature), features in parallel.
    pub fn new(cols: &[f32], n_rows: usize) -> Self {
        let n_features = cols.len() / n_rows.max(1);
        let per_feature: Vec<(Vec<f32>, Vec<u8>)> = (0..n_features)
            .into_par_iter()
            .map(|f| {
                let col = &cols[f * n_rows..(f + 1) * n_rows];
                let edges = edges_for(col);
                let codes = col
                    .iter()
                    .map(|&v| if v.is_nan() { MISSING_BIN } else { edges.partition_point(|&e| e < v) as u8 })
                    .collect();
                (edges, codes)
            })
            .collect();
        let mut codes = Vec::with_capacity(n_rows * n_features);
        let mut edges = Vec::with_capacity(n_features);
        for (e, c) in per_feature {
            edges.push(e);
            codes.extend_from_slice(&c);
        }
        Binned { n_rows, codes, edges }
    }

    /// The codes of feature `f`.
    #[inline]
    pub fn column(&self, f: usize) -> &[u8] {
        &self.codes[f * self.n_rows..(f + 1) * self.n_rows]
    }
}

fn edges_for(col: &[f32]) -> Vec<f32> {
    let mut v: Vec<f32> = col.iter().copied().filter(|x| !x.is_nan()).collect();
    v.sort_unstable_by(f32::total_cmp);
    let mut distinct = v.clone();
    distinct.dedup();
    let mid = |a: f32, b: f32| {
        let m = a + (b - a) / 2.0;
        if m >= b { a } else { m }
    };
    if distinct.len() <= MAX_BINS {
        return distinct.windows(2).map(|w| mid(w[0], w[1])).collect();
    }
    let mut edges = Vec::with_capacity(MAX_BINS - 1);
    for q in 1..MAX_BINS {
        let i = q * v.len() / MAX_BINS;
        // Cut between the value at the quantile and the next larger distinct value.
        let a = v[i.saturating_sub(1)];
        let next = v[i..].iter().copied().find(|&b| b > a);
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
