//! CART's hyperparameters: [`TreeParams`] as users set them, [`GrowParams`] resolved for one data set, and the
//! vocabulary shared with forests (`max_features`, the splitter).

use serde::{Deserialize, Serialize};

use super::criterion::Criterion;
use crate::check;
use crate::error::{Result, invalid};

/// What `max_features` accepts, for error messages.
const EXPECTED: &str = "sqrt, log2, all, a fraction in (0, 1] or a count";

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
            MaxFeatures::Fraction(f) => return Err(invalid("max_features", "a fraction in (0, 1]", f)),
            MaxFeatures::Count(c) if c >= 1 && c <= n_features => c,
            MaxFeatures::Count(c) => {
                return Err(invalid("max_features", format!("a count in 1..={n_features}"), c));
            }
        };
        Ok(k.max(1))
    }

    /// Parses scikit-learn's spellings: `sqrt`, `log2`, `all`/`none`, a fraction such as `0.5`, or a count
    /// such as `3` (as [`str::parse`]).
    pub fn parse(s: &str) -> Result<Self> {
        s.parse()
    }
}

impl std::str::FromStr for MaxFeatures {
    type Err = crate::Error;

    /// `sqrt`, `log2`, `all`/`none`, a fraction such as `0.5`, or a count such as `3`.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "sqrt" | "auto" => Ok(MaxFeatures::Sqrt),
            "log2" => Ok(MaxFeatures::Log2),
            "all" | "none" | "1.0" => Ok(MaxFeatures::All),
            t if t.contains('.') => t
                .parse::<f64>()
                .map(MaxFeatures::Fraction)
                .map_err(|_| invalid("max_features", EXPECTED, format!("`{s}`"))),
            t => t
                .parse::<usize>()
                .map(MaxFeatures::Count)
                .map_err(|_| invalid("max_features", EXPECTED, format!("`{s}`"))),
        }
    }
}

impl std::str::FromStr for Splitter {
    type Err = crate::Error;

    /// `best` or `random` (scikit-learn's names).
    fn from_str(s: &str) -> Result<Self> {
        check::choice("splitter", s, &[("best", Splitter::Best), ("random", Splitter::Random)])
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

/// Hyperparameters of a CART tree, named and defaulted as scikit-learn's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeParams {
    /// Split criterion (classification: gini, entropy; regression: squared error, absolute error).
    pub criterion: Criterion,
    /// Best or random thresholds.
    pub splitter: Splitter,
    /// Maximum depth; `None` grows until leaves are pure or too small.
    pub max_depth: Option<usize>,
    /// Minimum rows to split a node.
    pub min_samples_split: usize,
    /// Minimum rows in each leaf.
    pub min_samples_leaf: usize,
    /// A split must decrease weighted impurity by at least this much.
    pub min_impurity_decrease: f64,
    /// Features considered per split.
    pub max_features: MaxFeatures,
    /// Grow best-first to at most this many leaves.
    pub max_leaf_nodes: Option<usize>,
    /// Minimal cost-complexity pruning parameter (0 = no pruning).
    pub ccp_alpha: f64,
    /// Random seed (feature order, random thresholds).
    pub seed: u64,
}

impl TreeParams {
    pub(crate) fn default_for(criterion: Criterion) -> Self {
        TreeParams {
            criterion,
            splitter: Splitter::Best,
            max_depth: None,
            min_samples_split: 2,
            min_samples_leaf: 1,
            min_impurity_decrease: 0.0,
            max_features: MaxFeatures::All,
            max_leaf_nodes: None,
            ccp_alpha: 0.0,
            seed: 0,
        }
    }

    pub(crate) fn grow_params(&self, n_features: usize) -> Result<GrowParams> {
        check::at_least("min_samples_split", self.min_samples_split, 2)?;
        check::at_least("min_samples_leaf", self.min_samples_leaf, 1)?;
        if let Some(m) = self.max_leaf_nodes {
            check::at_least("max_leaf_nodes", m, 2)?;
        }
        check::non_negative("ccp_alpha", self.ccp_alpha)?;
        check::non_negative("min_impurity_decrease", self.min_impurity_decrease)?;
        check::depth("max_depth", self.max_depth)?;
        Ok(GrowParams {
            criterion: self.criterion,
            max_depth: self.max_depth.unwrap_or(usize::MAX),
            min_samples_split: self.min_samples_split,
            min_samples_leaf: self.min_samples_leaf,
            min_impurity_decrease: self.min_impurity_decrease,
            max_features: self.max_features.resolve(n_features)?,
            max_leaf_nodes: self.max_leaf_nodes,
            random_split: self.splitter == Splitter::Random,
            localize: true,
        })
    }
}

/// Resolved growth parameters.
#[derive(Debug, Clone)]
pub(crate) struct GrowParams {
    pub criterion: Criterion,
    pub max_depth: usize,
    pub min_samples_split: usize,
    pub min_samples_leaf: usize,
    pub min_impurity_decrease: f64,
    pub max_features: usize,
    pub max_leaf_nodes: Option<usize>,
    pub random_split: bool,
    /// Grow small subtrees on compact copies of their rows (an optimisation; results are identical).
    pub localize: bool,
}
