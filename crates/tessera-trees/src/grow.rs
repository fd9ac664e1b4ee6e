//! Growing one tree: depth-first, or best-first when `max_leaf_nodes` is set (the split with the largest
//! impurity decrease is made next, as scikit-learn's BestFirstTreeBuilder does).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use ndarray::ArrayView2;
use tessera_tensor::SeededRng;

use crate::binning::Binned;
use crate::criterion::{Criterion, add, impurity, weight};
use crate::mae::MedianTracker;
use crate::split::{HIST_MIN_ROWS, Scratch, Split, find_split, prepare_ranks};
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
        let bins = (histograms && n_rows >= HIST_MIN_ROWS).then(|| Binned::new(&cols, n_rows));
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

/// Grows a tree on the rows listed in `rows` (rows of weight 0 should be left out) with sample weights `w`.
pub(crate) fn grow(d: &TrainData, p: &GrowParams, w: &[f32], mut rows: Vec<u32>, rng: &mut SeededRng) -> Tree {
    let k = d.n_stats();
    let n_outputs = match &d.target {
        Target::Class { n_classes, .. } => *n_classes,
        Target::Reg { .. } => 1,
    };
    let mut tree = Tree {
        nodes: Vec::new(),
        values: Vec::new(),
        impurity: Vec::new(),
        weighted_n: Vec::new(),
        n_outputs,
        n_features: d.n_features,
    };
    let mut s = Scratch::default();
    let total_weight: f64 = rows.iter().map(|&r| f64::from(w[r as usize])).sum();
    let n = rows.len();
    let root = make_node(d, p, w, &rows, 0, n, 0, k, total_weight, &mut tree, rng, &mut s);
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
        let mid = partition(d, &mut rows[item.start..item.end], &split) + item.start;
        leaves += 1;
        let node = &mut tree.nodes[item.node];
        node.feature = split.feature as u32;
        node.threshold = split.threshold;
        node.missing_left = split.missing_left;
        let depth = item.depth + 1;
        let left = make_node(d, p, w, &rows, item.start, mid, depth, k, total_weight, &mut tree, rng, &mut s);
        let right = make_node(d, p, w, &rows, mid, item.end, depth, k, total_weight, &mut tree, rng, &mut s);
        tree.nodes[item.node].left = left.node as u32;
        tree.nodes[item.node].right = right.node as u32;
        if best_first {
            heap.push(left);
            heap.push(right);
        } else {
            stack.push(right);
            stack.push(left);
        }
    }
    tree
}

/// Moves the rows going left to the front; returns how many there are.
fn partition(d: &TrainData, rows: &mut [u32], split: &Split) -> usize {
    let col = d.column(split.feature);
    let goes_left = |r: u32| {
        let x = col[r as usize];
        x <= split.threshold || (split.missing_left && x.is_nan())
    };
    let mut i = 0;
    for j in 0..rows.len() {
        if goes_left(rows[j]) {
            rows.swap(i, j);
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
    rows: &[u32],
    start: usize,
    end: usize,
    depth: usize,
    k: usize,
    total_weight: f64,
    tree: &mut Tree,
    rng: &mut SeededRng,
    s: &mut Scratch,
) -> Pending {
    let node_rows = &rows[start..end];
    let mut stats = vec![0.0; k];
    for &r in node_rows {
        let r = r as usize;
        match &d.target {
            Target::Class { y, .. } => add(&mut stats, true, y[r], 0.0, w[r]),
            Target::Reg { y } => add(&mut stats, false, 0, y[r], w[r]),
        }
    }
    let classification = matches!(d.target, Target::Class { .. });
    let wn = weight(classification, &stats);
    let (imp, values) = node_impurity_and_values(d, p.criterion, w, node_rows, &stats, s);
    let id = tree.nodes.len();
    tree.nodes.push(Node::leaf());
    tree.values.extend(values);
    tree.impurity.push(imp);
    tree.weighted_n.push(wn);

    let n = end - start;
    let can_split = depth < p.max_depth
        && n >= p.min_samples_split
        && n >= 2 * p.min_samples_leaf
        && imp > EPSILON
        && p.max_leaf_nodes.is_none_or(|m| m > 1);
    let mut pending = Pending { node: id, start, end, depth, split: None, improvement: 0.0 };
    if !can_split {
        return pending;
    }
    if let Some(split) = find_split(d, p, w, node_rows, &stats, rng, s) {
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
                    Target::Class { y, .. } => add(&mut st, true, y[row], 0.0, w[row]),
                    Target::Reg { y } => add(&mut st, false, 0, y[row], w[row]),
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
