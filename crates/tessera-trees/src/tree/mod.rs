//! A fitted decision tree: flat node arrays, traversal, impurity-based feature importances, and a
//! column-wise serialized form that is validated when loaded (a corrupted file is an error, never a panic).

use serde::{Deserialize, Serialize};

pub(crate) mod batch;
mod category;
mod repr;
pub(crate) mod shap;

pub(crate) use category::CatSet;
pub(crate) use repr::check_per_node;

/// Whether a value `x` goes left of threshold `t` (branch-free: `|` and `&`, as a short-circuit would be a
/// branch taken at random).
#[inline(always)]
pub(crate) fn value_goes_left(x: f32, t: f32, missing_left: bool) -> bool {
    (x <= t) | (missing_left & x.is_nan())
}

/// Rows that descend a tree together in batch prediction.
pub(crate) const LANES: usize = 8;

/// The bit of [`Node::meta`] that marks a leaf.
const LEAF_BIT: u32 = 1 << 31;
/// The bit of [`Node::meta`] that sends missing values left.
const MISSING_LEFT: u32 = 1 << 30;
/// The bit of [`Node::meta`] that marks a categorical split.
const CATEGORICAL: u32 = 1 << 29;
/// The bits of [`Node::meta`] that hold the feature index.
const FEATURE_MASK: u32 = CATEGORICAL - 1;
/// The most features a tree can index (the feature field of a node's metadata).
pub(crate) const MAX_FEATURES: usize = FEATURE_MASK as usize;

/// Category values at or above this are not categories (XGBoost's limit: floats represent integers
/// exactly below 2^24); such values, and negative ones, are in no category set.
pub(crate) const CATEGORY_LIMIT: f32 = 16_777_216.0;

/// The largest magnitude a tree's value, or a model's base margin, may have when loaded: far beyond what
/// training on targets within [`crate::TARGET_LIMIT`] produces, and small enough that a million trees
/// summed stay below `f32::MAX`, so a loaded tree model's predictions are finite.
pub const VALUE_LIMIT: f32 = 1e32;

/// Whether `v` is a category a categorical feature may be trained on: a non-negative integer below 2^24.
/// (Training also accepts NaN there, as a missing value.)
pub fn is_category(v: f32) -> bool {
    (0.0..CATEGORY_LIMIT).contains(&v) && v.fract() == 0.0
}

/// One node, 12 bytes so that a deep tree stays in cache. Internal nodes send a row to `left` when
/// `x[feature] <= threshold`, or when the value is missing (NaN) and the missing-left bit is set, and to
/// `left + 1` otherwise (siblings are always adjacent).
///
/// A categorical split (XGBoost's partition-based splits) sends a row right when its value, truncated to
/// an integer, is in the node's category set, left when it is not (unseen and invalid categories
/// included), and missing values by the missing-left bit; `threshold` then holds the index of the set in
/// [`Tree::cat_sets`] (as the float's bits).
///
/// A leaf keeps its own index in `left` and, in `threshold`, its score: the regression value or the
/// probability of the second class of a binary classifier, so batch prediction reads one node per leaf.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Node {
    meta: u32,
    pub threshold: f32,
    pub left: u32,
}

impl Node {
    pub(crate) fn leaf(index: usize, score: f32) -> Self {
        Node { meta: LEAF_BIT, threshold: score, left: index as u32 }
    }

    pub(crate) fn split(feature: usize, threshold: f32, missing_left: bool, left: u32) -> Self {
        Node { meta: feature as u32 | if missing_left { MISSING_LEFT } else { 0 }, threshold, left }
    }

    /// A categorical split on `feature` by the category set `set` of its tree.
    pub(crate) fn categorical(feature: usize, set: usize, missing_left: bool, left: u32) -> Self {
        let meta = feature as u32 | CATEGORICAL | if missing_left { MISSING_LEFT } else { 0 };
        Node { meta, threshold: f32::from_bits(set as u32), left }
    }

    #[inline]
    pub(crate) fn is_categorical(&self) -> bool {
        self.meta & CATEGORICAL != 0
    }

    /// The index of a categorical split's set in [`Tree::cat_sets`].
    #[inline]
    pub(crate) fn cat_set(&self) -> usize {
        self.threshold.to_bits() as usize
    }

    #[inline]
    pub(crate) fn is_leaf(&self) -> bool {
        self.meta & LEAF_BIT != 0
    }

    #[inline]
    pub(crate) fn feature(&self) -> usize {
        (self.meta & FEATURE_MASK) as usize
    }

    #[inline]
    pub(crate) fn missing_left(&self) -> bool {
        self.meta & MISSING_LEFT != 0
    }

    #[inline]
    pub(crate) fn right(&self) -> u32 {
        self.left + 1
    }

    /// Whether a numerical split sends `v` left (branch-free).
    #[inline(always)]
    fn numerical_goes_left(&self, v: f32) -> bool {
        value_goes_left(v, self.threshold, self.missing_left())
    }

    /// The child a row goes to (internal numerical splits only). With `NAN` false the row must hold no
    /// NaN: the missing-value rule is then skipped.
    #[inline(always)]
    fn child<const NAN: bool>(&self, row: &[f32]) -> usize {
        let v = row[self.feature()];
        let left = if NAN { self.numerical_goes_left(v) } else { v <= self.threshold };
        (self.left + u32::from(!left)) as usize
    }
}

/// A fitted tree. Each node stores `n_outputs` values (class probabilities, or one regression value),
/// its training impurity and the weighted number of training samples that reached it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "repr::TreeRepr", into = "repr::TreeRepr")]
pub struct Tree {
    pub(crate) nodes: Vec<Node>,
    /// The deepest leaf's depth: batch prediction takes exactly this many steps.
    pub(crate) max_depth: usize,
    pub(crate) values: Vec<f32>,
    pub(crate) impurity: Vec<f64>,
    pub(crate) weighted_n: Vec<f64>,
    pub(crate) n_outputs: usize,
    pub(crate) n_features: usize,
    /// The category sets of categorical splits.
    pub(crate) cat_sets: Vec<CatSet>,
}

impl Tree {
    /// An empty tree for `n_features` features and `n_outputs` values per node.
    pub(crate) fn empty(n_features: usize, n_outputs: usize) -> Self {
        Tree {
            nodes: Vec::new(),
            max_depth: 0,
            values: Vec::new(),
            impurity: Vec::new(),
            weighted_n: Vec::new(),
            n_outputs,
            n_features,
            cat_sets: Vec::new(),
        }
    }

    /// Whether internal node `n` sends value `x` (NaN for missing) to its left child.
    #[inline]
    pub(crate) fn goes_left(&self, n: &Node, x: f32) -> bool {
        if !n.is_categorical() {
            n.numerical_goes_left(x)
        } else if x.is_nan() {
            n.missing_left()
        } else {
            !self.in_category_set(n.cat_set(), x)
        }
    }

    /// Whether value `x` is in category set `set`: its integer part is a set category.
    #[inline]
    fn in_category_set(&self, set: usize, x: f32) -> bool {
        (0.0..CATEGORY_LIMIT).contains(&x) && self.cat_sets[set].contains(x as u32)
    }

    /// The child of internal node `n` that `row` goes to.
    #[inline(always)]
    fn step<const CAT: bool>(&self, n: &Node, row: &[f32]) -> usize {
        self.step_with::<CAT, true>(n, row)
    }

    /// [`Tree::step`]; with `NAN` false the row must hold no NaN.
    #[inline(always)]
    fn step_with<const CAT: bool, const NAN: bool>(&self, n: &Node, row: &[f32]) -> usize {
        if CAT && n.is_categorical() {
            (n.left + u32::from(!self.goes_left(n, row[n.feature()]))) as usize
        } else {
            n.child::<NAN>(row)
        }
    }

    /// The categories of set `set`, ascending.
    pub(crate) fn categories(&self, set: usize) -> Vec<u32> {
        self.cat_sets[set].categories()
    }

    /// Adds a category set and returns its index. Categories must be below [`CATEGORY_LIMIT`] (training
    /// and loading check this first).
    pub(crate) fn push_category_set(&mut self, categories: impl IntoIterator<Item = u32>) -> usize {
        self.cat_sets.push(CatSet::new(categories));
        self.cat_sets.len() - 1
    }

    /// Checks what training produced before it is kept: every value finite (a leaf of NaN or infinity comes
    /// from overflowing targets or gradients and would make a model that predicts garbage). `what` names the
    /// tree in the error.
    pub(crate) fn check_finite(&self, what: &str) -> crate::error::Result<()> {
        match self.values.iter().position(|v| !v.is_finite()) {
            None => Ok(()),
            Some(i) => Err(crate::error::Error::Data(format!(
                "{what}: node {} got the value {} (the targets or gradients overflowed; rescale the target)",
                i / self.n_outputs.max(1),
                self.values[i]
            ))),
        }
    }

    /// Checks this tree against the model that holds it (`field` names it, as `trees[3]`): its feature
    /// count and its values per node.
    pub(crate) fn check_in_model(
        &self,
        field: impl std::fmt::Display,
        n_features: usize,
        n_outputs: usize,
    ) -> crate::error::Result<()> {
        crate::error::model_agrees(
            format_args!("{field}.n_features"),
            self.n_features,
            n_features,
            "the model's",
        )?;
        crate::error::model_agrees(
            format_args!("{field}.n_outputs"),
            self.n_outputs,
            n_outputs,
            "the model's",
        )
    }

    /// Index of the leaf that `row` falls into.
    #[inline]
    pub fn leaf_index(&self, row: &[f32]) -> usize {
        if self.cat_sets.is_empty() {
            self.leaf_index_with::<false>(row)
        } else {
            self.leaf_index_with::<true>(row)
        }
    }

    #[inline]
    fn leaf_index_with<const CAT: bool>(&self, row: &[f32]) -> usize {
        let mut i = 0usize;
        loop {
            let n = &self.nodes[i];
            if n.is_leaf() {
                return i;
            }
            i = self.step::<CAT>(n, row);
        }
    }

    /// Walks a batch of rows down the tree and calls `on_leaf(row, leaf)` for each. [`LANES`] rows descend
    /// side by side so that their memory accesses overlap (a deep tree's nodes are mostly cache misses);
    /// a lane whose row reaches a leaf takes the next row at once, so no lane idles while others finish
    /// longer paths.
    #[inline]
    fn walk(&self, rows: &[&[f32]], on_leaf: impl FnMut(usize, &Node, usize)) {
        if self.cat_sets.is_empty() {
            self.walk_with::<false, true>(rows, on_leaf)
        } else {
            self.walk_with::<true, true>(rows, on_leaf)
        }
    }

    /// [`Tree::walk`]; with `NAN` false no row may hold a NaN (the missing-value rule is skipped).
    #[inline]
    fn walk_with<const CAT: bool, const NAN: bool>(
        &self,
        rows: &[&[f32]],
        mut on_leaf: impl FnMut(usize, &Node, usize),
    ) {
        let n = rows.len();
        if n < LANES {
            for (r, row) in rows.iter().enumerate() {
                let leaf = self.leaf_index_with::<CAT>(row);
                on_leaf(r, &self.nodes[leaf], leaf);
            }
            return;
        }
        let mut lane_row: [usize; LANES] = std::array::from_fn(|j| j);
        let mut lane_ref: [&[f32]; LANES] = std::array::from_fn(|j| rows[j]);
        let mut lane_node = [0usize; LANES];
        let mut done = [false; LANES];
        let mut next = LANES;
        // Steady state: every lane holds a row; a lane that reaches a leaf takes the next row.
        'steady: loop {
            let mut draining = false;
            for j in 0..LANES {
                let node = &self.nodes[lane_node[j]];
                if node.is_leaf() {
                    on_leaf(lane_row[j], node, lane_node[j]);
                    if next < n {
                        lane_row[j] = next;
                        lane_ref[j] = rows[next];
                        lane_node[j] = 0;
                        next += 1;
                    } else {
                        done[j] = true;
                        draining = true;
                    }
                } else {
                    lane_node[j] = self.step_with::<CAT, NAN>(node, lane_ref[j]);
                }
            }
            if draining {
                break 'steady;
            }
        }
        // Drain: finish the rows still on their way down, one by one.
        for j in (0..LANES).filter(|&j| !done[j]) {
            let mut i = lane_node[j];
            while !self.nodes[i].is_leaf() {
                i = self.step_with::<CAT, NAN>(&self.nodes[i], lane_ref[j]);
            }
            on_leaf(lane_row[j], &self.nodes[i], i);
        }
    }

    /// The leaf index of each row of a batch.
    pub fn leaf_indices(&self, rows: &[&[f32]], out: &mut Vec<usize>) {
        out.clear();
        out.resize(rows.len(), 0);
        self.walk(rows, |r, _, leaf| out[r] = leaf);
    }

    /// Adds each row's leaf score to `out[row]`: the regression value, or the probability of the second
    /// class of a binary classifier (kept in the leaf node itself, so no second lookup is needed).
    pub fn add_scores(&self, rows: &[&[f32]], out: &mut [f32]) {
        self.walk(rows, |r, node, _| out[r] += node.threshold);
    }

    /// [`Tree::add_scores`] for rows known to hold no NaN: each step is one comparison, without the
    /// missing-value rule.
    pub(crate) fn add_scores_present(&self, rows: &[&[f32]], out: &mut [f32]) {
        let add = |r: usize, node: &Node, _| out[r] += node.threshold;
        if self.cat_sets.is_empty() {
            self.walk_with::<false, false>(rows, add)
        } else {
            self.walk_with::<true, false>(rows, add)
        }
    }

    /// [`Tree::add_scores`] for shallow trees (boosting): eight rows step down together exactly
    /// `max_depth` times, a row on a leaf staying put through a select instead of a branch, so the whole
    /// walk is branch-free.
    pub fn add_scores_shallow(&self, rows: &[&[f32]], out: &mut [f32]) {
        if self.cat_sets.is_empty() {
            self.add_scores_shallow_with::<false, true>(rows, out)
        } else {
            self.add_scores_shallow_with::<true, true>(rows, out)
        }
    }

    /// [`Tree::add_scores_shallow`] for rows known to hold no NaN (no missing-value rule per step).
    pub(crate) fn add_scores_shallow_present(&self, rows: &[&[f32]], out: &mut [f32]) {
        if self.cat_sets.is_empty() {
            self.add_scores_shallow_with::<false, false>(rows, out)
        } else {
            self.add_scores_shallow_with::<true, false>(rows, out)
        }
    }

    fn add_scores_shallow_with<const CAT: bool, const NAN: bool>(&self, rows: &[&[f32]], out: &mut [f32]) {
        let mut groups = rows.chunks_exact(LANES);
        let mut base = 0;
        for group in groups.by_ref() {
            let mut at = [0usize; LANES];
            for _ in 0..self.max_depth {
                for (a, row) in at.iter_mut().zip(group) {
                    let node = &self.nodes[*a];
                    let next = self.step_with::<CAT, NAN>(node, row);
                    *a = if node.is_leaf() { *a } else { next };
                }
            }
            for (j, &a) in at.iter().enumerate() {
                out[base + j] += self.nodes[a].threshold;
            }
            base += LANES;
        }
        for (j, row) in groups.remainder().iter().enumerate() {
            out[base + j] += self.nodes[self.leaf_index(row)].threshold;
        }
    }

    /// The leaf node for node `i`: its score (see [`Tree::add_scores`]) is stored in the threshold.
    pub(crate) fn leaf_node(&self, i: usize) -> Node {
        let score = match self.n_outputs {
            1 => self.values[i],
            2 => self.values[2 * i + 1],
            _ => 0.0,
        };
        Node::leaf(i, score)
    }

    /// Replaces the value of leaf `i` of a single-output tree (boosting's line search sets leaf values
    /// after the tree is grown).
    pub(crate) fn set_leaf_value(&mut self, i: usize, value: f32) {
        self.values[i] = value;
        self.nodes[i] = self.leaf_node(i);
    }

    /// The output values of node `i` (class probabilities, or one value).
    #[inline]
    pub fn node_values(&self, i: usize) -> &[f32] {
        &self.values[i * self.n_outputs..(i + 1) * self.n_outputs]
    }

    /// The feature the root splits on (`None` for a single leaf).
    pub fn root_feature(&self) -> Option<usize> {
        self.nodes.first().filter(|n| !n.is_leaf()).map(Node::feature)
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
        self.max_depth
    }

    /// Computes the depth from the nodes (after growing, pruning or loading).
    pub(crate) fn compute_depth(&self) -> usize {
        let mut depth = vec![0usize; self.nodes.len()];
        let mut max = 0;
        for (i, n) in self.nodes.iter().enumerate() {
            if !n.is_leaf() {
                for c in [n.left as usize, n.right() as usize] {
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
                let (l, r) = (n.left as usize, n.right() as usize);
                out[n.feature()] += self.weighted_n[i] * self.impurity[i]
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
