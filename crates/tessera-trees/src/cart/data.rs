//! CART's training data: the features column-major (with bin codes for histogram splits and, made on first
//! use, their row-major copy and edge guides) and the encoded targets, prepared once and shared by every
//! tree of an ensemble.

use std::sync::OnceLock;

use ndarray::{ArrayView1, ArrayView2};

use super::criterion::Criterion;
use crate::binning::{Binned, EdgeGuide, MISSING_BIN};
use crate::data::ClassLabels;
use crate::error::Result;

/// Training sets with at least this many rows are binned for histogram split search.
pub(crate) const BIN_MIN_ROWS: usize = 2048;

/// Encoded training targets.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// Class indices `0..n_classes`.
    Class { y: Vec<u32>, n_classes: usize },
    /// Real values.
    Reg { y: Vec<f32> },
}

/// Training features in column-major order (plus bin codes when histograms may be used) and targets,
/// prepared once and shared by every tree of an ensemble.
#[derive(Debug, Clone)]
pub(crate) struct TrainData {
    pub cols: Vec<f32>,
    pub n_rows: usize,
    pub n_features: usize,
    pub bins: Option<Binned>,
    pub target: Target,
    /// The bin codes row-major (`n_features` per row), made on first use by Extra Trees growth.
    row_codes: OnceLock<Vec<u8>>,
    /// Per feature, a guide to its bin edges (Extra Trees' threshold draws), made on first use.
    edge_guides: OnceLock<Vec<EdgeGuide>>,
    /// Whether any bin code is the missing code, found on first use.
    any_missing: OnceLock<bool>,
}

impl TrainData {
    /// Copies `x` column-major; bins it when `histograms` is asked for and the data is large enough.
    pub fn new(x: ArrayView2<'_, f32>, target: Target, histograms: bool) -> Self {
        Self::with_bins_from(x, target, if histograms { BIN_MIN_ROWS } else { usize::MAX })
    }

    /// As [`TrainData::new`], binning when the data has at least `bin_min_rows` rows. Boosting, which
    /// fits hundreds of trees to one data set, bins smaller sets than a single tree would.
    pub fn with_bins_from(x: ArrayView2<'_, f32>, target: Target, bin_min_rows: usize) -> Self {
        let (n_rows, n_features) = x.dim();
        let mut cols = Vec::with_capacity(n_rows * n_features);
        for c in x.columns() {
            cols.extend(c.iter().copied());
        }
        let bins = (n_rows >= bin_min_rows).then(|| Binned::new(&cols, n_rows));
        TrainData::from_parts(cols, n_rows, n_features, bins, target)
    }

    /// Training data from column-major `cols` and their bins; the derived layouts are made on first use.
    pub(super) fn from_parts(
        cols: Vec<f32>,
        n_rows: usize,
        n_features: usize,
        bins: Option<Binned>,
        target: Target,
    ) -> Self {
        TrainData {
            cols,
            n_rows,
            n_features,
            bins,
            target,
            row_codes: OnceLock::new(),
            edge_guides: OnceLock::new(),
            any_missing: OnceLock::new(),
        }
    }

    /// Whether any bin code is the missing code (a NaN somewhere in the features).
    pub fn any_missing(&self) -> bool {
        *self.any_missing.get_or_init(|| self.bins.as_ref().is_some_and(|b| b.codes.contains(&MISSING_BIN)))
    }

    /// Guides to each feature's bin edges (one per feature with bins, none without).
    pub fn edge_guides(&self) -> &[EdgeGuide] {
        self.edge_guides.get_or_init(|| {
            self.bins.as_ref().map_or_else(Vec::new, |b| b.edges.iter().map(|e| EdgeGuide::new(e)).collect())
        })
    }

    /// The bin codes row-major, or `None` without bins.
    pub(super) fn row_codes(&self) -> Option<&[u8]> {
        let bins = self.bins.as_ref()?;
        let (n, nf) = (self.n_rows, self.n_features);
        Some(self.row_codes.get_or_init(|| {
            let mut out = vec![0u8; n * nf];
            for (f, col) in bins.codes.chunks_exact(n).enumerate() {
                for (row, &c) in out.chunks_exact_mut(nf).zip(col) {
                    row[f] = c;
                }
            }
            out
        }))
    }

    #[inline]
    pub fn column(&self, f: usize) -> &[f32] {
        &self.cols[f * self.n_rows..(f + 1) * self.n_rows]
    }

    pub(super) fn n_stats(&self) -> usize {
        match &self.target {
            Target::Class { n_classes, .. } => *n_classes,
            Target::Reg { .. } => 3,
        }
    }
}

/// Encodes targets for a criterion: class indices (with the labels) or values.
pub(crate) fn encode_target(
    criterion: Criterion,
    y: ArrayView1<'_, f32>,
) -> Result<(Target, Option<ClassLabels>)> {
    if criterion.is_classification() {
        let (labels, enc) = ClassLabels::fit(y)?;
        Ok((Target::Class { y: enc, n_classes: labels.len() }, Some(labels)))
    } else {
        Ok((Target::Reg { y: y.to_vec() }, None))
    }
}
