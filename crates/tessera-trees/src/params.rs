//! Hyperparameter vocabulary shared by trees and forests: `max_features` and the splitter.

use serde::{Deserialize, Serialize};

use crate::error::{Result, param};

/// How many features each split may consider (scikit-learn's `max_features`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaxFeatures {
    /// Every feature.
    All,
    /// `max(1, floor(sqrt(n_features)))`.
    Sqrt,
    /// `max(1, floor(log2(n_features)))`.
    Log2,
    /// `max(1, floor(fraction * n_features))`, fraction in (0, 1].
    Fraction(f64),
    /// Exactly this many (at most `n_features`).
    Count(usize),
}

impl MaxFeatures {
    /// The number of features for `n_features` columns.
    pub fn resolve(self, n_features: usize) -> Result<usize> {
        let n = n_features as f64;
        let k = match self {
            MaxFeatures::All => n_features,
            MaxFeatures::Sqrt => n.sqrt() as usize,
            MaxFeatures::Log2 => n.log2() as usize,
            MaxFeatures::Fraction(f) if f > 0.0 && f <= 1.0 => (f * n) as usize,
            MaxFeatures::Fraction(f) => {
                return Err(param(format!("max_features fraction must be in (0, 1], got {f}")));
            }
            MaxFeatures::Count(c) if c >= 1 && c <= n_features => c,
            MaxFeatures::Count(c) => {
                return Err(param(format!("max_features = {c} must be in 1..={n_features}")));
            }
        };
        Ok(k.max(1))
    }

    /// Parses scikit-learn's spellings: `sqrt`, `log2`, `all`/`none`, a fraction such as `0.5`, or a count
    /// such as `3`.
    pub fn parse(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "sqrt" | "auto" => Ok(MaxFeatures::Sqrt),
            "log2" => Ok(MaxFeatures::Log2),
            "all" | "none" | "1.0" => Ok(MaxFeatures::All),
            t if t.contains('.') => {
                t.parse::<f64>().map(MaxFeatures::Fraction).map_err(|_| param(format!("max_features `{s}`")))
            }
            t => t.parse::<usize>().map(MaxFeatures::Count).map_err(|_| {
                param(format!("max_features `{s}`: expected sqrt, log2, all, a fraction or a count"))
            }),
        }
    }
}

/// How a node's threshold is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Splitter {
    /// The best threshold of each candidate feature (CART, Random Forest).
    Best,
    /// One uniformly random threshold per candidate feature (Extra Trees).
    Random,
}
