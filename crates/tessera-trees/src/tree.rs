//! A fitted decision tree: flat node arrays, traversal, impurity-based feature importances, and a
//! column-wise serialized form that is validated when loaded (a corrupted file is an error, never a panic).

use serde::{Deserialize, Serialize};

/// Marks a leaf in [`Node::feature`].
pub(crate) const LEAF: u32 = u32::MAX;

/// One node. Internal nodes send a row left when `x[feature] <= threshold`, or when the value is missing
/// (NaN) and `missing_left` is set; leaves have `feature == LEAF`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Node {
    pub feature: u32,
    pub threshold: f32,
    pub left: u32,
    pub right: u32,
    pub missing_left: bool,
}

impl Node {
    pub(crate) fn leaf() -> Self {
        Node { feature: LEAF, threshold: 0.0, left: 0, right: 0, missing_left: false }
    }

    pub(crate) fn is_leaf(&self) -> bool {
        self.feature == LEAF
    }
}

/// A fitted tree. Each node stores `n_outputs` values (class probabilities, or one regression value),
/// its training impurity and the weighted number of training samples that reached it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "TreeRepr", into = "TreeRepr")]
pub struct Tree {
    pub(crate) nodes: Vec<Node>,
    pub(crate) values: Vec<f32>,
    pub(crate) impurity: Vec<f64>,
    pub(crate) weighted_n: Vec<f64>,
    pub(crate) n_outputs: usize,
    pub(crate) n_features: usize,
}

impl Tree {
    /// Index of the leaf that `row` falls into.
    #[inline]
    pub fn leaf_index(&self, row: &[f32]) -> usize {
        let mut i = 0usize;
        loop {
            let n = &self.nodes[i];
            if n.feature == LEAF {
                return i;
            }
            let v = row[n.feature as usize];
            i = if v <= n.threshold || (n.missing_left && v.is_nan()) { n.left } else { n.right } as usize;
        }
    }

    /// The output values of node `i` (class probabilities, or one value).
    #[inline]
    pub fn node_values(&self, i: usize) -> &[f32] {
        &self.values[i * self.n_outputs..(i + 1) * self.n_outputs]
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Number of leaves.
    pub fn leaf_count(&self) -> usize {
        self.nodes.iter().filter(|n| n.is_leaf()).count()
    }

    /// Depth (a single leaf has depth 0).
    pub fn depth(&self) -> usize {
        let mut depth = vec![0usize; self.nodes.len()];
        let mut max = 0;
        for (i, n) in self.nodes.iter().enumerate() {
            if !n.is_leaf() {
                for c in [n.left as usize, n.right as usize] {
                    depth[c] = depth[i] + 1;
                    max = max.max(depth[c]);
                }
            }
        }
        max
    }

    /// Unnormalized impurity decrease per feature: the sum over this tree's splits of
    /// `W_t * imp_t - W_l * imp_l - W_r * imp_r` (weights are weighted sample counts).
    pub fn impurity_decrease(&self) -> Vec<f64> {
        let mut out = vec![0.0; self.n_features];
        for (i, n) in self.nodes.iter().enumerate() {
            if !n.is_leaf() {
                let (l, r) = (n.left as usize, n.right as usize);
                out[n.feature as usize] += self.weighted_n[i] * self.impurity[i]
                    - self.weighted_n[l] * self.impurity[l]
                    - self.weighted_n[r] * self.impurity[r];
            }
        }
        out
    }

    /// Impurity-based feature importances, normalized to sum to 1 (all zeros for a single-leaf tree).
    pub fn feature_importances(&self) -> Vec<f64> {
        normalize(self.impurity_decrease())
    }
}

/// Scales non-negative values to sum to 1 (leaves all-zero input as is).
pub(crate) fn normalize(mut v: Vec<f64>) -> Vec<f64> {
    for x in v.iter_mut() {
        *x = x.max(0.0);
    }
    let total: f64 = v.iter().sum();
    if total > 0.0 {
        for x in v.iter_mut() {
            *x /= total;
        }
    }
    v
}

/// The serialized form: one array per node field (compact JSON, easy to read with other tools).
#[derive(Serialize, Deserialize)]
struct TreeRepr {
    n_features: usize,
    n_outputs: usize,
    feature: Vec<i64>,
    threshold: Vec<f32>,
    left: Vec<u32>,
    right: Vec<u32>,
    missing_left: Vec<u8>,
    values: Vec<f32>,
    impurity: Vec<f64>,
    weighted_n: Vec<f64>,
}

impl From<Tree> for TreeRepr {
    fn from(t: Tree) -> Self {
        TreeRepr {
            n_features: t.n_features,
            n_outputs: t.n_outputs,
            feature: t.nodes.iter().map(|n| if n.is_leaf() { -1 } else { i64::from(n.feature) }).collect(),
            threshold: t.nodes.iter().map(|n| n.threshold).collect(),
            left: t.nodes.iter().map(|n| n.left).collect(),
            right: t.nodes.iter().map(|n| n.right).collect(),
            missing_left: t.nodes.iter().map(|n| u8::from(n.missing_left)).collect(),
            values: t.values,
            impurity: t.impurity,
            weighted_n: t.weighted_n,
        }
    }
}

impl TryFrom<TreeRepr> for Tree {
    type Error = String;

    fn try_from(r: TreeRepr) -> Result<Self, String> {
        let n = r.feature.len();
        if n == 0 {
            return Err("a tree needs at least one node".into());
        }
        let lens = [r.threshold.len(), r.left.len(), r.right.len(), r.missing_left.len(), r.impurity.len(), r.weighted_n.len()];
        if lens.iter().any(|&l| l != n) || r.values.len() != n * r.n_outputs || r.n_outputs == 0 {
            return Err(format!("tree arrays disagree in length ({n} nodes)"));
        }
        let mut nodes = Vec::with_capacity(n);
        for i in 0..n {
            let node = if r.feature[i] < 0 {
                Node::leaf()
            } else {
                let f = r.feature[i] as u64;
                let (l, rt) = (r.left[i] as usize, r.right[i] as usize);
                // Children must come after their parent: this also rules out cycles.
                if f >= r.n_features as u64 || l <= i || rt <= i || l >= n || rt >= n {
                    return Err(format!("node {i} has an invalid feature or child index"));
                }
                Node { feature: f as u32, threshold: r.threshold[i], left: r.left[i], right: r.right[i], missing_left: r.missing_left[i] != 0 }
            };
            nodes.push(node);
        }
        Ok(Tree {
            nodes,
            values: r.values,
            impurity: r.impurity,
            weighted_n: r.weighted_n,
            n_outputs: r.n_outputs,
            n_features: r.n_features,
        })
    }
}
