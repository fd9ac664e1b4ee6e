//! Growing one tree: depth-first, or best-first when `max_leaf_nodes` is set (the split with the largest
//! impurity decrease is made next, as scikit-learn's BestFirstTreeBuilder does).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use tessera_tensor::SeededRng;

use super::criterion::{Criterion, impurity, weight};
use super::data::{Target, TrainData};
use super::mae::MedianTracker;
use super::params::GrowParams;
use super::samples::{NodeStats, Samples, partition};
use super::split::{NodeView, Scratch, Split, acc, find_split, prepare_ranks};
use crate::binning::Binned;
use crate::tree::{Node, Tree};

/// Impurities below this count as pure.
const EPSILON: f64 = 1e-12;

/// A node waiting to be split (or to become a leaf).
#[derive(Clone)]
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
pub(crate) fn grow(d: &TrainData, p: &GrowParams, w: &[f32], rows: Vec<u32>, rng: &mut SeededRng) -> Tree {
    let (ys, classification): (Vec<f32>, bool) = match &d.target {
        Target::Class { y, .. } => (rows.iter().map(|&r| y[r as usize] as f32).collect(), true),
        Target::Reg { y } => (rows.iter().map(|&r| y[r as usize]).collect(), false),
    };
    let ws = rows.iter().map(|&r| w[r as usize]).collect();
    let mut samples = Samples::new(rows, ys, ws, classification, 0);
    let code_rows = p.random_split && p.criterion != Criterion::AbsoluteError;
    if let Some(all) = d.row_codes().filter(|_| code_rows) {
        let nf = d.n_features;
        samples.stride = nf;
        let root = &mut samples.bufs[0];
        root.codes = Vec::with_capacity(root.rows.len() * nf);
        for &r in &root.rows {
            root.codes.extend_from_slice(&all[r as usize * nf..(r as usize + 1) * nf]);
        }
    }
    let k = d.n_stats();
    let n_outputs = match &d.target {
        Target::Class { n_classes, .. } => *n_classes,
        Target::Reg { .. } => 1,
    };
    let mut tree = Tree::empty(d.n_features, n_outputs);
    let mut s = Scratch::default();
    let total_weight: f64 = samples.bufs[0].ws.iter().map(|&v| f64::from(v)).sum();
    let n = samples.bufs[0].rows.len();
    let root_stats = NodeStats::of(samples.view(0, n, 0), k);
    let root =
        make_node(d, p, w, samples.view(0, n, 0), &root_stats, 0, total_weight, &mut tree, rng, &mut s);
    let mut ctx = Ctx { p, k, total_weight, leaves: 1, tree: &mut tree, rng, s: &mut s };
    if p.max_leaf_nodes.is_some() {
        grow_best_first(d, w, &mut samples, root, &mut ctx);
    } else {
        // Code rows make localising unnecessary.
        let localize = p.localize && samples.stride == 0;
        grow_depth_first(d, w, &mut samples, root, localize, &mut ctx);
    }
    tree.max_depth = tree.compute_depth();
    tree
}

/// State shared by the growth loops of one tree.
struct Ctx<'a, 'p> {
    p: &'p GrowParams,
    k: usize,
    total_weight: f64,
    leaves: usize,
    tree: &'a mut Tree,
    rng: &'a mut SeededRng,
    s: &'a mut Scratch,
}

/// Subtrees with at most this many rows are grown on a compact copy of their rows (see
/// [`grow_depth_first`]); at least [`LOCAL_MIN_ROWS`] rows make the copy worth its cost.
const LOCAL_ROWS: usize = 8192;
const LOCAL_MIN_ROWS: usize = 512;

/// Splits `node` and its descendants depth-first. When `may_localize` and a pending node is small, its
/// rows' features (and bin codes) are first copied into a compact local [`TrainData`]: every deeper level
/// then reads a few kilobytes per feature instead of gathering from the full columns, which turns the
/// dominant cost of deep trees, cache-missing gathers, into cache hits.
fn grow_depth_first(
    d: &TrainData,
    w: &[f32],
    samples: &mut Samples,
    root: Pending,
    may_localize: bool,
    c: &mut Ctx<'_, '_>,
) {
    let mut stack = vec![root];
    while let Some(item) = stack.pop() {
        let Some(split) = item.split.clone() else { continue };
        let m = item.end - item.start;
        if may_localize && (LOCAL_MIN_ROWS..=LOCAL_ROWS).contains(&m) && d.n_rows > 2 * LOCAL_ROWS {
            let (local, mut local_samples, local_w) = localize(d, samples, item.start, item.end, item.depth);
            let local_root = Pending { start: 0, end: m, ..item };
            grow_depth_first(&local, &local_w, &mut local_samples, local_root, false, c);
            continue;
        }
        let (left, right) = split_node(d, w, samples, &item, &split, c);
        stack.push(right);
        stack.push(left);
    }
}

/// Splits nodes in order of decreasing impurity decrease until `max_leaf_nodes` leaves exist.
fn grow_best_first(d: &TrainData, w: &[f32], samples: &mut Samples, root: Pending, c: &mut Ctx<'_, '_>) {
    let mut heap = BinaryHeap::from([root]);
    while let Some(item) = heap.pop() {
        let Some(split) = item.split.clone() else { continue };
        if c.p.max_leaf_nodes.is_some_and(|m| c.leaves >= m) {
            continue;
        }
        let (left, right) = split_node(d, w, samples, &item, &split, c);
        heap.push(left);
        heap.push(right);
    }
}

/// Partitions a node's samples by its split and creates the two children.
fn split_node(
    d: &TrainData,
    w: &[f32],
    samples: &mut Samples,
    item: &Pending,
    split: &Split,
    c: &mut Ctx<'_, '_>,
) -> (Pending, Pending) {
    let (mid, left_stats, right_stats) = partition(d, samples, item.start, item.end, item.depth, split, c.k);
    c.leaves += 1;
    let depth = item.depth + 1;
    let mut left = make_node(
        d,
        c.p,
        w,
        samples.view(item.start, mid, depth),
        &left_stats,
        depth,
        c.total_weight,
        c.tree,
        c.rng,
        c.s,
    );
    let mut right = make_node(
        d,
        c.p,
        w,
        samples.view(mid, item.end, depth),
        &right_stats,
        depth,
        c.total_weight,
        c.tree,
        c.rng,
        c.s,
    );
    (left.start, left.end, right.start, right.end) = (item.start, mid, mid, item.end);
    debug_assert_eq!(right.node, left.node + 1);
    c.tree.nodes[item.node] =
        Node::split(split.feature, split.threshold, split.missing_left, left.node as u32);
    (left, right)
}

/// A compact copy of the samples `start..end` of a node at `depth`: local row `i` is that node's row `i`.
fn localize(
    d: &TrainData,
    samples: &Samples,
    start: usize,
    end: usize,
    depth: usize,
) -> (TrainData, Samples, Vec<f32>) {
    let node = samples.view(start, end, depth);
    let rows = node.rows;
    let m = rows.len();
    let mut cols = Vec::with_capacity(m * d.n_features);
    for f in 0..d.n_features {
        let col = d.column(f);
        cols.extend(rows.iter().map(|&r| col[r as usize]));
    }
    let bins = d.bins.as_ref().map(|b| {
        let mut codes = Vec::with_capacity(m * d.n_features);
        for f in 0..d.n_features {
            let col = b.column(f);
            codes.extend(rows.iter().map(|&r| col[r as usize]));
        }
        Binned {
            n_rows: m,
            codes,
            edges: b.edges.clone(),
            categorical: b.categorical.clone(),
            n_categories: b.n_categories.clone(),
            code_categories: b.code_categories.clone(),
        }
    });
    let ys = node.ys.to_vec();
    let ws = node.ws.to_vec();
    let target = match &d.target {
        Target::Class { n_classes, .. } => {
            Target::Class { y: ys.iter().map(|&v| v as u32).collect(), n_classes: *n_classes }
        }
        Target::Reg { .. } => Target::Reg { y: ys.clone() },
    };
    let local = TrainData::from_parts(cols, m, d.n_features, bins, target);
    let local_samples = Samples::new((0..m as u32).collect(), ys, ws.clone(), samples.classification, depth);
    (local, local_samples, ws)
}

/// Appends a node for `rows[start..end]`, computes its values and impurity, and searches its split.
#[allow(clippy::too_many_arguments)]
fn make_node(
    d: &TrainData,
    p: &GrowParams,
    w: &[f32],
    node: NodeView<'_>,
    stats: &NodeStats,
    depth: usize,
    total_weight: f64,
    tree: &mut Tree,
    rng: &mut SeededRng,
    s: &mut Scratch,
) -> Pending {
    let node_rows = node.rows;
    let classification = node.classification;
    let stats = stats.as_slice();
    let k = stats.len();
    let wn = weight(classification, stats);
    let id = tree.nodes.len();
    let imp = push_values(d, p.criterion, w, node_rows, stats, s, &mut tree.values);
    tree.nodes.push(Node::leaf(id, 0.0));
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
    if let Some(split) = find_split(d, p, w, node, stats, rng, s) {
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
            let mut scratch_values = Vec::new();
            let imp = push_values(d, p.criterion, w, rs, &st, s, &mut scratch_values);
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

/// Appends a node's output values (class probabilities, mean or median) to `values`; returns its impurity.
fn push_values(
    d: &TrainData,
    c: Criterion,
    w: &[f32],
    rows: &[u32],
    stats: &[f64],
    s: &mut Scratch,
    values: &mut Vec<f32>,
) -> f64 {
    match c {
        Criterion::Gini | Criterion::Entropy => {
            let total: f64 = stats.iter().sum();
            values.extend(stats.iter().map(|v| if total > 0.0 { (v / total) as f32 } else { 0.0 }));
            impurity(c, stats)
        }
        Criterion::SquaredError => {
            let mean = if stats[0] > 0.0 { stats[1] / stats[0] } else { 0.0 };
            values.push(mean as f32);
            impurity(c, stats)
        }
        Criterion::AbsoluteError => {
            prepare_ranks(d, rows, s);
            let mut t = MedianTracker::new(&s.values);
            for &r in rows {
                t.add(s.ranks[r as usize] as usize, f64::from(w[r as usize]));
            }
            values.push(t.median() as f32);
            if t.total_weight() > 0.0 { t.abs_deviation() / t.total_weight() } else { 0.0 }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::params::MaxFeatures;
    use super::*;

    fn et_params(n_features: usize, criterion: Criterion) -> GrowParams {
        GrowParams {
            criterion,
            max_depth: usize::MAX,
            min_samples_split: 2,
            min_samples_leaf: 1,
            min_impurity_decrease: 0.0,
            max_features: MaxFeatures::Sqrt.resolve(n_features).unwrap_or(1),
            max_leaf_nodes: None,
            random_split: true,
            localize: true,
        }
    }

    /// `x` with every `every`-th value (in row-major order) missing.
    fn with_missing(mut x: ndarray::Array2<f32>, every: usize) -> ndarray::Array2<f32> {
        x.iter_mut().step_by(every).for_each(|v| *v = f32::NAN);
        x
    }

    /// The values each training row's leaf predicts.
    fn leaf_values(tree: &Tree, x: &ndarray::Array2<f32>) -> Vec<Vec<f32>> {
        x.outer_iter()
            .map(|r| tree.node_values(tree.leaf_index(r.as_slice().unwrap_or(&[]))).to_vec())
            .collect()
    }

    /// Extra Trees on binned data (code rows) grown fully fit distinct training rows exactly, with missing
    /// values and three classes: every leaf is pure.
    #[test]
    fn code_row_extra_trees_fit_training_rows() {
        let mut rng = SeededRng::new(9);
        let n = 4000;
        let x = with_missing(rng.normal_array((n, 7), 0.0, 1.0), 13);
        let y: Vec<u32> = (0..n).map(|i| (i * 7919 % 3) as u32).collect();
        let d = TrainData::new(x.view(), Target::Class { y: y.clone(), n_classes: 3 }, true);
        let p = et_params(7, Criterion::Gini);
        let tree = grow(&d, &p, &vec![1.0; n], (0..n as u32).collect(), &mut SeededRng::new(3));
        for (values, &label) in leaf_values(&tree, &x).iter().zip(&y) {
            assert_eq!(values[label as usize], 1.0);
        }
        // Binary classes with uneven weights (the floating-point side sums, not the unit-weight counts).
        let yb: Vec<u32> = y.iter().map(|&c| c % 2).collect();
        let d = TrainData::new(x.view(), Target::Class { y: yb.clone(), n_classes: 2 }, true);
        let w: Vec<f32> = (0..n).map(|i| 0.5 + (i % 4) as f32 * 0.5).collect();
        let tree = grow(&d, &p, &w, (0..n as u32).collect(), &mut SeededRng::new(6));
        for (values, &label) in leaf_values(&tree, &x).iter().zip(&yb) {
            assert_eq!(values[label as usize], 1.0);
        }
        // Regression: each row's leaf predicts its own target.
        let yr: Vec<f32> = (0..n).map(|i| ((i * 31) % 101) as f32 / 7.0).collect();
        let d = TrainData::new(x.view(), Target::Reg { y: yr.clone() }, true);
        let tree = grow(
            &d,
            &et_params(7, Criterion::SquaredError),
            &vec![1.0; n],
            (0..n as u32).collect(),
            &mut SeededRng::new(4),
        );
        for (values, &target) in leaf_values(&tree, &x).iter().zip(&yr) {
            assert!((values[0] - target).abs() < 1e-4, "{} vs {target}", values[0]);
        }
    }

    /// The walks without the missing-value rule give the same scores on rows without NaN, for trees grown
    /// on data with missing values (so their missing-value directions vary).
    #[test]
    fn walks_without_missing_rule_agree_on_present_rows() {
        let mut rng = SeededRng::new(21);
        let n = 3000;
        let clean: ndarray::Array2<f32> = rng.normal_array((n, 6), 0.0, 1.0);
        let x = with_missing(clean.clone(), 7);
        let y: Vec<f32> = clean.outer_iter().map(|r| r[0] * 2.0 + r[1] * r[2]).collect();
        let rows: Vec<&[f32]> = clean.outer_iter().map(|r| r.to_slice().unwrap_or(&[])).collect();
        for (random_split, max_depth) in [(false, usize::MAX), (true, usize::MAX), (false, 6)] {
            let d = TrainData::new(x.view(), Target::Reg { y: y.clone() }, true);
            let mut p = et_params(6, Criterion::SquaredError);
            (p.random_split, p.max_depth) = (random_split, max_depth);
            let tree = grow(&d, &p, &vec![1.0; n], (0..n as u32).collect(), &mut SeededRng::new(8));
            assert!(tree.nodes.iter().any(|n| !n.is_leaf() && n.missing_left()));
            let (mut a, mut b) = (vec![0.0; n], vec![0.0; n]);
            tree.add_scores(&rows, &mut a);
            tree.add_scores_present(&rows, &mut b);
            assert_eq!(a, b);
            if max_depth <= 8 {
                let (mut c, mut e) = (vec![0.0; n], vec![0.0; n]);
                tree.add_scores_shallow(&rows, &mut c);
                tree.add_scores_shallow_present(&rows, &mut e);
                assert_eq!(c, a);
                assert_eq!(e, a);
            }
        }
    }

    /// Labels that alternate along one feature's sorted values put both classes in every one of its 255
    /// bins: code splits cannot separate them, and the exact fallback on values must.
    #[test]
    fn code_row_extra_trees_split_within_a_bin() {
        let n = 3000;
        let x = ndarray::Array2::from_shape_fn((n, 1), |(i, _)| i as f32 * 0.001);
        let y: Vec<u32> = (0..n as u32).map(|i| i % 2).collect();
        let d = TrainData::new(x.view(), Target::Class { y: y.clone(), n_classes: 2 }, true);
        assert!(d.bins.is_some());
        let tree = grow(
            &d,
            &et_params(1, Criterion::Gini),
            &vec![1.0; n],
            (0..n as u32).collect(),
            &mut SeededRng::new(2),
        );
        for (values, &label) in leaf_values(&tree, &x).iter().zip(&y) {
            assert_eq!(values[label as usize], 1.0);
        }
    }

    /// The branch-free partition keeps each sample's code row with it and splits like the threshold.
    #[test]
    fn partition_moves_code_rows_with_samples() {
        let mut rng = SeededRng::new(1);
        let n = 5000;
        let x: ndarray::Array2<f32> = rng.normal_array((n, 5), 0.0, 1.0);
        let y: Vec<u32> = (0..n as u32).map(|i| i % 2).collect();
        let d = TrainData::new(x.view(), Target::Class { y: y.clone(), n_classes: 2 }, true);
        let all = d.row_codes().map(<[u8]>::to_vec).unwrap_or_default();
        let rows: Vec<u32> = (0..n as u32).filter(|r| r % 3 != 0).collect();
        let ys = rows.iter().map(|&r| y[r as usize] as f32).collect();
        // The node at depth 3 (odd) lives in the second buffer when the root's depth is even.
        let mut samples = Samples::new(rows.clone(), ys, vec![1.0; rows.len()], true, 1);
        samples.stride = 5;
        samples.bufs[0].codes =
            rows.iter().flat_map(|&r| all[r as usize * 5..r as usize * 5 + 5].to_vec()).collect();
        let split = Split {
            feature: 2,
            threshold: 0.0,
            missing_left: false,
            proxy: 0.0,
            bin: Some(100),
            children: None,
        };
        let (start, end) = (10, rows.len() - 7);
        let (mid, left, right) = partition(&d, &mut samples, start, end, 3, &split, 2);
        let children = samples.at(4);
        let mut seen: Vec<u32> = children.rows[start..end].to_vec();
        seen.sort_unstable();
        let mut expected = rows[start..end].to_vec();
        expected.sort_unstable();
        assert_eq!(seen, expected);
        for i in start..end {
            let r = children.rows[i] as usize;
            assert_eq!(&children.codes[i * 5..i * 5 + 5], &all[r * 5..r * 5 + 5]);
            assert_eq!(children.ys[i], y[r] as f32);
            assert_eq!(i < mid, all[r * 5 + 2] <= 100);
        }
        let count = |range: std::ops::Range<usize>, class: u32| {
            children.rows[range].iter().filter(|&&r| y[r as usize] == class).count() as f64
        };
        assert_eq!(left.as_slice(), &[count(start..mid, 0), count(start..mid, 1)]);
        assert_eq!(right.as_slice(), &[count(mid..end, 0), count(mid..end, 1)]);
    }

    /// Growing small subtrees on local copies must give exactly the tree grown on the full columns.
    #[test]
    fn localized_growth_is_identical() {
        let mut rng = SeededRng::new(5);
        let n = 3 * LOCAL_ROWS;
        let x: ndarray::Array2<f32> = rng.normal_array((n, 5), 0.0, 1.0);
        let y: Vec<u32> =
            x.outer_iter().map(|r| u32::from(r[0] + r[1] * r[2] > 0.3) + u32::from(r[3] > 1.0)).collect();
        for random_split in [false, true] {
            let d = TrainData::new(x.view(), Target::Class { y: y.clone(), n_classes: 3 }, true);
            let mut p = GrowParams {
                criterion: Criterion::Gini,
                max_depth: usize::MAX,
                min_samples_split: 2,
                min_samples_leaf: 1,
                min_impurity_decrease: 0.0,
                max_features: MaxFeatures::Sqrt.resolve(5).unwrap_or(2),
                max_leaf_nodes: None,
                random_split,
                localize: true,
            };
            let w = vec![1.0; n];
            let rows: Vec<u32> = (0..n as u32).collect();
            let local = grow(&d, &p, &w, rows.clone(), &mut SeededRng::new(1));
            p.localize = false;
            let global = grow(&d, &p, &w, rows, &mut SeededRng::new(1));
            assert_eq!(local, global);
            assert!(local.node_count() > 100);
        }
    }
}
