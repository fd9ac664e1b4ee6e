//! Absolute-error statistics: weighted medians and sums of absolute deviations of a changing set of
//! samples, in O(log n) per insertion or removal (Fenwick trees over the ranks of the target values).

/// A multiset of weighted targets supporting insert, remove, weighted median and absolute deviation.
#[derive(Debug, Clone)]
pub(crate) struct MedianTracker<'a> {
    values: &'a [f32],
    weight: Vec<f64>,
    weighted_y: Vec<f64>,
    total_w: f64,
    total_wy: f64,
}

impl<'a> MedianTracker<'a> {
    /// An empty tracker over the sorted distinct target values `values` (ranks index into it).
    pub fn new(values: &'a [f32]) -> Self {
        let n = values.len() + 1;
        MedianTracker { values, weight: vec![0.0; n], weighted_y: vec![0.0; n], total_w: 0.0, total_wy: 0.0 }
    }

    /// Adds weight `w` at target rank `rank` (negative `w` removes).
    pub fn add(&mut self, rank: usize, w: f64) {
        let wy = w * f64::from(self.values[rank]);
        self.total_w += w;
        self.total_wy += wy;
        let mut i = rank + 1;
        while i < self.weight.len() {
            self.weight[i] += w;
            self.weighted_y[i] += wy;
            i += i & i.wrapping_neg();
        }
    }

    /// Total weight.
    pub fn total_weight(&self) -> f64 {
        self.total_w
    }

    /// The weighted median: the smallest value whose cumulative weight reaches half the total, and
    /// (weight, weight * y) summed over values up to and including it.
    fn median_with_prefix(&self) -> (f64, f64, f64) {
        let half = self.total_w / 2.0;
        let (mut pos, mut acc_w, mut acc_wy) = (0usize, 0.0, 0.0);
        let mut step = (self.weight.len()).next_power_of_two();
        while step > 0 {
            let next = pos + step;
            if next < self.weight.len() && acc_w + self.weight[next] < half - 1e-12 {
                pos = next;
                acc_w += self.weight[next];
                acc_wy += self.weighted_y[next];
            }
            step /= 2;
        }
        // `pos` values lie strictly below the half; the median is the next rank.
        let rank = pos.min(self.values.len() - 1);
        let med = f64::from(self.values[rank]);
        let (w_at, wy_at) = self.point(rank);
        (med, acc_w + w_at, acc_wy + wy_at)
    }

    fn point(&self, rank: usize) -> (f64, f64) {
        let prefix = |mut i: usize| {
            let (mut w, mut wy) = (0.0, 0.0);
            while i > 0 {
                w += self.weight[i];
                wy += self.weighted_y[i];
                i -= i & i.wrapping_neg();
            }
            (w, wy)
        };
        let (a, b) = prefix(rank + 1);
        let (c, d) = prefix(rank);
        (a - c, b - d)
    }

    /// The weighted median (0 for an empty set).
    pub fn median(&self) -> f64 {
        if self.total_w <= 0.0 { 0.0 } else { self.median_with_prefix().0 }
    }

    /// Sum of `w * |y - median|`.
    pub fn abs_deviation(&self) -> f64 {
        if self.total_w <= 0.0 {
            return 0.0;
        }
        let (med, w_lo, wy_lo) = self.median_with_prefix();
        (med * w_lo - wy_lo) + (self.total_wy - wy_lo) - med * (self.total_w - w_lo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_deviation_match_brute_force() {
        let values = [1.0f32, 2.0, 4.0, 8.0, 16.0];
        let mut t = MedianTracker::new(&values);
        let samples = [(0usize, 1.0), (2, 2.0), (4, 1.0), (1, 0.5), (3, 3.0)];
        for (k, &(r, w)) in samples.iter().enumerate() {
            t.add(r, w);
            let set = &samples[..=k];
            let total: f64 = set.iter().map(|s| s.1).sum();
            let mut sorted: Vec<(f64, f64)> = set.iter().map(|&(r, w)| (f64::from(values[r]), w)).collect();
            sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut acc = 0.0;
            let med = sorted
                .iter()
                .find(|(_, w)| {
                    acc += w;
                    acc >= total / 2.0 - 1e-12
                })
                .unwrap()
                .0;
            let dev: f64 = set.iter().map(|&(r, w)| w * (f64::from(values[r]) - med).abs()).sum();
            assert!((t.median() - med).abs() < 1e-9, "step {k}");
            assert!((t.abs_deviation() - dev).abs() < 1e-9, "step {k}");
        }
        t.add(2, -2.0);
        assert!((t.total_weight() - 5.5).abs() < 1e-12);
    }
}
