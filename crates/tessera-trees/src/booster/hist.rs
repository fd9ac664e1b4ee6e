//! The gradient/hessian histogram of one node: `[G, H]` per (feature, bin code), [`CODES`] codes per
//! feature, so a feature's histogram is one fixed-size block.

use crate::binning::CODES;

/// One node's histogram over every feature of the data (features not asked for stay zero).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Hist(Vec<[f64; 2]>);

impl Hist {
    /// An all-zero histogram for `features` features.
    pub(crate) fn zeros(features: usize) -> Self {
        Hist(vec![[0.0; 2]; features * CODES])
    }

    /// Feature `f`'s bins, one per code (the missing code last).
    #[inline]
    pub(crate) fn feature(&self, f: usize) -> &[[f64; 2]] {
        &self.0[f * CODES..(f + 1) * CODES]
    }

    /// Every bin, feature-major.
    #[cfg(test)]
    pub(crate) fn cells(&self) -> &[[f64; 2]] {
        &self.0
    }

    /// Every bin, feature-major, to fill.
    pub(crate) fn cells_mut(&mut self) -> &mut [[f64; 2]] {
        &mut self.0
    }

    /// Adds `other` bin by bin.
    #[inline]
    pub(crate) fn add(&mut self, other: &Hist) {
        for (a, p) in self.0.iter_mut().zip(&other.0) {
            a[0] += p[0];
            a[1] += p[1];
        }
    }

    /// This histogram minus `child`'s: the sibling's histogram (histogram subtraction).
    #[inline]
    pub(crate) fn minus(&self, child: &Hist) -> Hist {
        Hist(self.0.iter().zip(&child.0).map(|(a, s)| [a[0] - s[0], a[1] - s[1]]).collect())
    }
}
