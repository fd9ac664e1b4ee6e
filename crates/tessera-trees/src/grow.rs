//! Growing one tree: depth-first, or best-first when `max_leaf_nodes` is set (the split with the largest
//! impurity decrease is made next, as scikit-learn's BestFirstTreeBuilder does).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use ndarray::ArrayView2;
use tessera_tensor::SeededRng;

use crate::binning::Binned;
use crate::criterion::{Criterion, impurity, weight};
use crate::mae::MedianTracker;
use crate::split::{BIN_MIN_ROWS, NodeView, Scratch, Split, acc, find_split, prepare_ranks};
use crate::tree::{Node, Tree};

/// Impurities below this count as pure.
const EPSILON: f64 = 1e-12;

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
}

impl TrainData {
    /// Copies `x` column-major; bins it when `histograms` is asked for and the data is large enough.
    pub fn new(x: ArrayView2<'_, f32>, target: Target, histograms: bool) -> Self {
        let (n_rows, n_features) = x.dim();
        let mut cols = Vec::with_capacity(n_rows * n_features);
        for c in x.columns() {
            cols.extend(c.iter().copied());
        }
        let bins = (histograms && n_rows >= BIN_MIN_ROWS).then(|| Binned::new(&cols, n_rows));
        TrainData { cols, n_rows, n_features, bins, target }
    }

    #[inline]
    pub fn column(&self, f: usize) -> &[f32] {
        &self.cols[f * self.n_rows..(f + 1) * self.n_rows]
    }

    fn n_stats(&self) -> usize {
        match &self.target {
            Target::Class { n_classes, .. } => *n_classes,
            Target::Reg { .. } => 3,
        }
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
}

/// A node waiting to be split (or to become a leaf).
struct Pending {
    node: usize,
    start: usize,
    end: usize,
    depth: usize,
    split: Option<Split>,
    improvement: f64,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> Ordering {
        // Larger improvement first; ties by creation order so growth is deterministic.
        self.improvement.total_cmp(&other.improvement).then(other.node.cmp(&self.node))
    }
}

/// A tree's training rows with their targets and weights, kept in the same order as the rows are
/// partitioned, so each node's samples are one contiguous range of all three.
struct Samples {
    rows: Vec<u32>,
    ys: Vec<f32>,
    ws: Vec<f32>,
    classification: bool,
}

impl Samples {
    fn view(&self, start: usize, end: usize) -> NodeView<'_> {
        NodeView {
            rows: &self.rows[start..end],
            ys: &self.ys[start..end],
            ws: &self.ws[start..end],
            classification: self.classification,
        }
    }
}

/// Grows a tree on the rows listed in `rows` (rows of weight 0 should be left out) with sample weights `w`.
pub(crate) fn grow(d: &TrainData, p: &GrowParams, w: &[f32], rows: Vec<u32>, rng: &mut SeededRng) -> Tree {
    let (ys, classification): (Vec<f32>, bool) = match &d.target {
        Target::Class { y, .. } => (rows.iter().map(|&r| y[r as usize] as f32).collect(), true),
        Target::Reg { y } => (rows.iter().map(|&r| y[r as usize]).collect(), false),
    };
    let ws = rows.iter().map(|&r| w[r as usize]).collect();
    let mut samples = Samples { rows, ys, ws, classification };
    let k = d.n_stats();
    let n_outputs = match &d.target {
        Target::Class { n_classes, .. } => *n_classes,
        Target::Reg { .. } => 1,
    };
    let mut tree = Tree {
        nodes: Vec::new(),
        max_depth: 0,
        values: Vec::new(),
        impurity: Vec::new(),
        weighted_n: Vec::new(),
        n_outputs,
        n_features: d.n_features,
    };
    let mut s = Scratch::default();
    let total_weight: f64 = samples.ws.iter().map(|&v| f64::from(v)).sum();
    let n = samples.rows.len();
    let root = make_node(d, p, w, samples.view(0, n), 0, k, total_weight, &mut tree, rng, &mut s);
    let mut leaves = 1usize;
    let mut stack: Vec<Pending> = Vec::new();
    let mut heap: BinaryHeap<Pending> = BinaryHeap::new();
    let best_first = p.max_leaf_nodes.is_some();
    if best_first { heap.push(root) } else { stack.push(root) }
    loop {
        let Some(item) = (if best_first { heap.pop() } else { stack.pop() }) else { break };
        let Some(split) = item.split else { continue };
        if p.max_leaf_nodes.is_some_and(|m| leaves >= m) {
            continue;
        }
        let mid = partition(d, &mut samples, item.start, item.end, &split);
        leaves += 1;
        let depth = item.depth + 1;
        let mut left = make_node(d, p, w, samples.view(item.start, mid), depth, k, total_weight, &mut tree, rng, &mut s);
        let mut right = make_node(d, p, w, samples.view(mid, item.end), depth, k, total_weight, &mut tree, rng, &mut s);
        (left.start, left.end, right.start, right.end) = (item.start, mid, mid, item.end);
        debug_assert_eq!(right.node, left.node + 1);
        tree.nodes[item.node] = Node::split(split.feature, split.threshold, split.missing_left, left.node as u32);
        if best_first {
            heap.push(left);
            heap.push(right);
        } else {
            stack.push(right);
            stack.push(left);
        }
    }
    tree.max_depth = tree.compute_depth();
    tree
}

/// Moves the samples of `start..end` going left to the front of the range; returns where the right part
/// starts.
fn partition(d: &TrainData, samples: &mut Samples, start: usize, end: usize, split: &Split) -> usize {
    let col = d.column(split.feature);
    let mut i = start;
    for j in start..end {
        let x = col[samples.rows[j] as usize];
        if x <= split.threshold || (split.missing_left && x.is_nan()) {
            samples.rows.swap(i, j);
            samples.ys.swap(i, j);
            samples.ws.swap(i, j);
            i += 1;
        }
    }
    i
}

/// Appends a node for `rows[start..end]`, computes its values and impurity, and searches its split.
#[allow(clippy::too_many_arguments)]
fn make_node(
    d: &TrainData,
    p: &GrowParams,
    w: &[f32],
    node: NodeView<'_>,
    depth: usize,
    k: usize,
    total_weight: f64,
    tree: &mut Tree,
    rng: &mut SeededRng,
    s: &mut Scratch,
) -> Pending {
    let node_rows = node.rows;
    let classification = node.classification;
    let mut stats = vec![0.0; k];
    for (&y, &wi) in node.ys.iter().zip(node.ws) {
        acc(&mut stats, classification, y, wi, 1.0);
    }
    let wn = weight(classification, &stats);
    let (imp, values) = node_impurity_and_values(d, p.criterion, w, node_rows, &stats, s);
    let id = tree.nodes.len();
    tree.nodes.push(Node::leaf(id, 0.0));
    tree.values.extend(values);
    tree.nodes[id] = tree.leaf_node(id);
    tree.impurity.push(imp);
    tree.weighted_n.push(wn);

    let n = node_rows.len();
    let can_split = depth < p.max_depth
        && n >= p.min_samples_split
        && n >= 2 * p.min_samples_leaf
        && imp > EPSILON
        && p.max_leaf_nodes.is_none_or(|m| m > 1);
    // The caller fills in the node's range.
    let mut pending = Pending { node: id, start: 0, end: n, depth, split: None, improvement: 0.0 };
    if !can_split {
        return pending;
    }
    if let Some(split) = find_split(d, p, w, node, &stats, rng, s) {
        if p.min_impurity_decrease <= 0.0 && p.max_leaf_nodes.is_none() {
            // Neither a threshold nor a growth order needs the decrease: skip computing it.
            pending.split = Some(split);
            return pending;
        }
        // The weighted impurity decrease, as scikit-learn defines it for min_impurity_decrease.
        let col = d.column(split.feature);
        let (mut l, mut r) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for &row in node_rows {
            let x = col[row as usize];
            if x <= split.threshold || (split.missing_left && x.is_nan()) { l.push(row) } else { r.push(row) }
        }
        let child = |rs: &[u32], s: &mut Scratch| {
            let mut st = vec![0.0; k];
            for &row in rs {
                let row = row as usize;
                match &d.target {
                    Target::Class { y, .. } => acc(&mut st, true, y[row] as f32, w[row], 1.0),
                    Target::Reg { y } => acc(&mut st, false, y[row], w[row], 1.0),
                }
            }
            let (imp, _) = node_impurity_and_values(d, p.criterion, w, rs, &st, s);
            (weight(classification, &st), imp)
        };
        let (wl, il) = child(&l, s);
        let (wr, ir) = child(&r, s);
        let improvement = wn / total_weight * (imp - wl / wn * il - wr / wn * ir);
        if improvement + EPSILON >= p.min_impurity_decrease {
            pending.improvement = improvement;
            pending.split = Some(split);
        }
    }
    pending
}

/// A node's impurity and output values (class probabilities, mean, or median).
fn node_impurity_and_values(
    d: &TrainData,
    c: Criterion,
    w: &[f32],
    rows: &[u32],
    stats: &[f64],
    s: &mut Scratch,
) -> (f64, Vec<f32>) {
    match c {
        Criterion::Gini | Criterion::Entropy => {
            let total: f64 = stats.iter().sum();
            let probs = stats.iter().map(|v| if total > 0.0 { (v / total) as f32 } else { 0.0 }).collect();
            (impurity(c, stats), probs)
        }
        Criterion::SquaredError => {
            let mean = if stats[0] > 0.0 { stats[1] / stats[0] } else { 0.0 };
            (impurity(c, stats), vec![mean as f32])
        }
        Criterion::AbsoluteError => {
            prepare_ranks(d, rows, s);
            let mut t = MedianTracker::new(&s.values);
            for &r in rows {
                t.add(s.ranks[r as usize] as usize, f64::from(w[r as usize]));
            }
            let imp = if t.total_weight() > 0.0 { t.abs_deviation() / t.total_weight() } else { 0.0 };
            (imp, vec![t.median() as f32])
        }
    }
}
