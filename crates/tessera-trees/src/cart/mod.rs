//! CART, scikit-learn's decision trees: the estimators ([`DecisionTreeClassifier`], [`DecisionTreeRegressor`]),
//! their parameters, training data, growth (depth-first, or best-first under `max_leaf_nodes`), split search
//! (exact on small nodes, histograms on large ones, random thresholds for Extra Trees), criteria and
//! cost-complexity pruning. Stands on [`crate::tree`] (the fitted model) and [`crate::binning`] (bin codes).

mod criterion;
mod data;
mod estimator;
mod grow;
mod mae;
mod params;
mod prune;
mod samples;
mod split;

pub use criterion::Criterion;
pub(crate) use data::{Target, TrainData, encode_target};
pub(crate) use estimator::fit_tree;
pub use estimator::{DecisionTreeClassifier, DecisionTreeRegressor, FittedTree};
pub use params::{MaxFeatures, Splitter, TreeParams};
pub(crate) use split::HIST_MIN_ROWS;
