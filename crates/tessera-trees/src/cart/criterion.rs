//! Split criteria and the per-node statistics they work on.
//!
//! Statistics are a small `f64` vector: weighted class counts for classification, `[w, w*y, w*y^2]` for
//! regression. A split's *proxy* is a quantity that orders candidate splits of one node exactly as their
//! impurity decrease does but is cheaper to compute; the impurity itself is used for stopping rules,
//! `min_impurity_decrease` and feature importances.

use serde::{Deserialize, Serialize};

/// How a node's impurity is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Criterion {
    /// Gini impurity `1 - sum p_k^2` (classification).
    Gini,
    /// Shannon entropy in bits, `-sum p_k log2 p_k` (classification; scikit-learn's `entropy`/`log_loss`).
    Entropy,
    /// Weighted variance of the targets (regression; leaf value = weighted mean).
    SquaredError,
    /// Mean absolute deviation from the weighted median (regression; leaf value = weighted median).
    AbsoluteError,
}

impl Criterion {
    /// Whether this criterion is for classification.
    pub fn is_classification(self) -> bool {
        matches!(self, Criterion::Gini | Criterion::Entropy)
    }

    /// Parses scikit-learn's names: `gini`, `entropy`/`log_loss`, `squared_error`, `absolute_error`.
    pub fn parse(name: &str) -> Option<Self> {
        name.parse().ok()
    }

    /// scikit-learn's name of the criterion.
    pub fn name(self) -> &'static str {
        match self {
            Criterion::Gini => "gini",
            Criterion::Entropy => "entropy",
            Criterion::SquaredError => "squared_error",
            Criterion::AbsoluteError => "absolute_error",
        }
    }
}

impl std::str::FromStr for Criterion {
    type Err = crate::Error;

    /// scikit-learn's names (`gini`, `entropy`/`log_loss`, `squared_error`/`mse`, `absolute_error`/`mae`).
    fn from_str(s: &str) -> crate::Result<Self> {
        crate::check::choice(
            "criterion",
            s,
            &[
                ("gini", Criterion::Gini),
                ("entropy", Criterion::Entropy),
                ("log_loss", Criterion::Entropy),
                ("squared_error", Criterion::SquaredError),
                ("mse", Criterion::SquaredError),
                ("absolute_error", Criterion::AbsoluteError),
                ("mae", Criterion::AbsoluteError),
            ],
        )
    }
}

impl std::fmt::Display for Criterion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Total weight of a statistics vector.
#[inline]
pub(crate) fn weight(classification: bool, s: &[f64]) -> f64 {
    if classification { s.iter().sum() } else { s[0] }
}

/// Node impurity from its statistics (not for [`Criterion::AbsoluteError`], which needs the samples).
pub(crate) fn impurity(c: Criterion, s: &[f64]) -> f64 {
    match c {
        Criterion::Gini => {
            let w: f64 = s.iter().sum();
            if w <= 0.0 {
                return 0.0;
            }
            1.0 - s.iter().map(|x| (x / w) * (x / w)).sum::<f64>()
        }
        Criterion::Entropy => {
            let w: f64 = s.iter().sum();
            if w <= 0.0 {
                return 0.0;
            }
            -s.iter().filter(|&&x| x > 0.0).map(|x| (x / w) * (x / w).log2()).sum::<f64>()
        }
        Criterion::SquaredError | Criterion::AbsoluteError => {
            if s[0] <= 0.0 {
                return 0.0;
            }
            let mean = s[1] / s[0];
            (s[2] / s[0] - mean * mean).max(0.0)
        }
    }
}

/// The split proxy of children with statistics `l` and `r`: larger is better.
#[inline]
pub(crate) fn proxy(c: Criterion, l: &[f64], r: &[f64]) -> f64 {
    match c {
        Criterion::Gini => side_gini(l) + side_gini(r),
        Criterion::Entropy => side_entropy(l) + side_entropy(r),
        Criterion::SquaredError | Criterion::AbsoluteError => side_sq(l) + side_sq(r),
    }
}

#[inline]
fn side_gini(s: &[f64]) -> f64 {
    let w: f64 = s.iter().sum();
    if w <= 0.0 { 0.0 } else { s.iter().map(|x| x * x).sum::<f64>() / w }
}

#[inline]
fn side_entropy(s: &[f64]) -> f64 {
    // -(W * H) = sum c log2 c - W log2 W
    let w: f64 = s.iter().sum();
    if w <= 0.0 {
        return 0.0;
    }
    s.iter().filter(|&&x| x > 0.0).map(|x| x * x.log2()).sum::<f64>() - w * w.log2()
}

#[inline]
fn side_sq(s: &[f64]) -> f64 {
    if s[0] <= 0.0 { 0.0 } else { s[1] * s[1] / s[0] }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impurities_of_known_distributions() {
        assert!((impurity(Criterion::Gini, &[5.0, 5.0]) - 0.5).abs() < 1e-12);
        assert!((impurity(Criterion::Entropy, &[5.0, 5.0]) - 1.0).abs() < 1e-12);
        assert_eq!(impurity(Criterion::Gini, &[7.0, 0.0]), 0.0);
        // y = {1, 3}, weights 1: variance 1.
        assert!((impurity(Criterion::SquaredError, &[2.0, 4.0, 10.0]) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn proxy_orders_like_impurity_decrease() {
        // Parent [4, 4]; split A gives [4,0]/[0,4] (pure), split B gives [3,1]/[1,3].
        for c in [Criterion::Gini, Criterion::Entropy] {
            assert!(proxy(c, &[4.0, 0.0], &[0.0, 4.0]) > proxy(c, &[3.0, 1.0], &[1.0, 3.0]));
        }
    }
}
