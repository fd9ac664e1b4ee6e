//! A guide over one feature's bin edges: how many edges lie below a value, found inside one cell
//! instead of by a full binary search (Extra Trees' threshold draws).

/// Finds how many of a feature's edges lie below a value without a full binary search: the edges' range
/// is cut into [`EdgeGuide::CELLS`] equal cells, and each cell records how many edges lie below its start,
/// so a search covers only the edges inside one cell.
#[derive(Debug, Clone)]
pub(crate) struct EdgeGuide {
    first: f32,
    cells_per_unit: f32,
    /// Edges below the start of each cell, and the total number of edges at the end.
    below: Vec<u16>,
}

impl EdgeGuide {
    const CELLS: usize = 512;

    /// The guide for ascending `edges`.
    pub(crate) fn new(edges: &[f32]) -> Self {
        let (first, last) = (edges.first().copied().unwrap_or(0.0), edges.last().copied().unwrap_or(0.0));
        let span = last - first;
        let cells_per_unit = if span > 0.0 && span.is_finite() { Self::CELLS as f32 / span } else { 0.0 };
        let mut below: Vec<u16> = (0..Self::CELLS)
            .map(|i| {
                let start = first + i as f32 / cells_per_unit.max(f32::MIN_POSITIVE);
                edges.partition_point(|&e| e < start) as u16
            })
            .collect();
        below.push(edges.len() as u16);
        EdgeGuide { first, cells_per_unit, below }
    }

    /// The number of `edges` below `t` (`edges` the ones the guide was made for).
    #[inline]
    pub(crate) fn edges_below(&self, edges: &[f32], t: f32) -> usize {
        let cell = ((t - self.first) * self.cells_per_unit) as usize;
        let cell = cell.min(Self::CELLS - 1);
        let (lo, hi) = (usize::from(self.below[cell]), usize::from(self.below[cell + 1]).min(edges.len()));
        // Rounding can put `t` just outside its cell: then search everything.
        if lo > hi || (lo > 0 && edges[lo - 1] >= t) || (hi < edges.len() && edges[hi] < t) {
            return edges.partition_point(|&e| e < t);
        }
        lo + edges[lo..hi].partition_point(|&e| e < t)
    }
}

#[cfg(test)]
mod tests {
    use tessera_tensor::SeededRng;

    use super::*;

    /// The guided search equals a binary search, inside and outside the edges' range.
    #[test]
    fn edge_guide_matches_a_binary_search() {
        let mut rng = SeededRng::new(5);
        for n in [0, 1, 2, 10, 254] {
            let mut edges: Vec<f32> =
                (0..n).map(|_| rng.normal_array::<_, ndarray::Ix1>(1, 0.0, 3.0)[0]).collect();
            edges.sort_by(f32::total_cmp);
            edges.dedup();
            let guide = EdgeGuide::new(&edges);
            for _ in 0..2000 {
                let t = rng.uniform() * 24.0 - 12.0;
                assert_eq!(guide.edges_below(&edges, t), edges.partition_point(|&e| e < t), "{t}");
            }
            for &e in &edges {
                assert_eq!(guide.edges_below(&edges, e), edges.partition_point(|&x| x < e));
            }
        }
    }
}
