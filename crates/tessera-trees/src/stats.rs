//! Small numeric helpers: the logistic function, weighted quantiles, argmax.

/// The logistic function `1 / (1 + e^-z)`.
#[inline]
pub(crate) fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Weighted `q`-quantile of `(value, weight)` pairs: the smallest value whose cumulative weight reaches
/// `q` of the total (the lower interpolation, as scikit-learn's `_weighted_percentile` and XGBoost's leaf
/// refit use). Sorts `values` in place; 0 for an empty slice.
pub(crate) fn weighted_quantile(values: &mut [(f64, f64)], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = values.iter().map(|v| v.1).sum();
    let mut acc = 0.0;
    for &(v, w) in values.iter() {
        acc += w;
        if acc >= q * total - 1e-12 {
            return v;
        }
    }
    values[values.len() - 1].0
}

/// The index of the largest value (first on ties, as numpy's argmax).
#[inline]
pub(crate) fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_of_hand_made_samples() {
        let mut v = vec![(3.0, 1.0), (1.0, 1.0), (2.0, 1.0), (10.0, 1.0)];
        assert_eq!(weighted_quantile(&mut v, 0.5), 2.0);
        assert_eq!(weighted_quantile(&mut v, 1.0), 10.0);
        let mut w = vec![(1.0, 1.0), (5.0, 3.0)];
        assert_eq!(weighted_quantile(&mut w, 0.5), 5.0);
        assert_eq!(weighted_quantile(&mut [], 0.5), 0.0);
        assert!((sigmoid(0.0) - 0.5).abs() < 1e-15);
    }
}
