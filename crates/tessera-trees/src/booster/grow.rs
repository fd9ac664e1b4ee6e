//! Growing one tree of the histogram booster: per-node gradient/hessian histograms (with subtraction for
//! the larger child), XGBoost's split search with learned missing-value directions (thresholds for
//! numerical features, category sets for categorical ones), and depth-wise (a level at a time) or
//! loss-guided expansion. Rows live in a [`RowPartition`].

use rayon::prelude::*;
use tessera_tensor::SeededRng;

use super::gain::Gain;
use super::hist::Hist;
use super::partition::{RowPartition, SplitJob, threshold_sides};
use super::{BoosterParams, GrowPolicy};
use crate::binning::{Binned, CODES, MISSING_BIN};
use crate::tree::{Node, Tree};

/// A node waiting to be split: its range of rows, histogram, gradient and hessian sums and best split.
struct Frontier {
    id: usize,
    /// The node's rows in the partition.
    range: (usize, usize),
    hist: Hist,
    g: f64,
    h: f64,
    depth: usize,
    split: Option<Candidate>,
    /// Creation order, to break gain ties deterministically.
    order: usize,
    /// Bounds on the node's weight from monotone constraints of its ancestors' splits.
    bounds: (f64, f64),
}

impl PartialEq for Frontier {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}
impl Eq for Frontier {}
impl PartialOrd for Frontier {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Frontier {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let gain = |f: &Frontier| f.split.map_or(f64::NEG_INFINITY, |s| s.gain);
        gain(self).total_cmp(&gain(other)).then(other.order.cmp(&self.order))
    }
}

/// How a split sends present values: by bin threshold (codes up to it go left) or, for a categorical
/// feature, by the set of categories that go right.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Rule {
    Threshold(usize),
    /// Bit `c` set: category `c` goes right.
    Categories([u64; 4]),
}

/// A node's best split.
#[derive(Clone, Copy, Debug)]
struct Candidate {
    gain: f64,
    feature: usize,
    rule: Rule,
    missing_left: bool,
}

impl Candidate {
    /// The side of every code (the missing code included): `true` goes left.
    fn sides(&self) -> [bool; CODES] {
        match self.rule {
            Rule::Threshold(bin) => threshold_sides(bin, self.missing_left),
            Rule::Categories(set) => std::array::from_fn(|c| {
                if c == usize::from(MISSING_BIN) {
                    self.missing_left
                } else {
                    (set[c / 64] >> (c % 64)) & 1 == 0
                }
            }),
        }
    }
}

/// The best split of a node, or `None` when no split gains more than `gamma`. With monotone
/// constraints, gains are computed from weights clamped to the node's `bounds` (XGBoost's rule) and a
/// split on a constrained feature whose child weights go the wrong way is refused.
fn best_split(
    p: &BoosterParams,
    bins: &Binned,
    hist: &Hist,
    features: &[usize],
    g: f64,
    h: f64,
    bounds: (f64, f64),
) -> Option<Candidate> {
    let gain = Gain::of(p);
    let constrained = !p.monotone_constraints.is_empty();
    let weight = |g: f64, h: f64| gain.leaf_weight(g, h).clamp(bounds.0, bounds.1);
    let child_score = |g: f64, h: f64| {
        if constrained { gain.score_given_weight(g, h, weight(g, h)) } else { gain.score(g, h) }
    };
    let parent = child_score(g, h);
    // The gain of sending (gl, hl) left and the rest right, if both children are allowed.
    let gain_of = |gl: f64, hl: f64, constraint: i8| -> Option<f64> {
        let (gr, hr) = (g - gl, h - hl);
        if hl < p.min_child_weight || hr < p.min_child_weight || hr <= 0.0 || hl <= 0.0 {
            return None;
        }
        if constraint != 0 {
            let (wl, wr) = (weight(gl, hl), weight(gr, hr));
            if (constraint > 0 && wl > wr) || (constraint < 0 && wl < wr) {
                return None;
            }
        }
        Some(child_score(gl, hl) + child_score(gr, hr) - parent)
    };
    // Without constraints, L1 or a weight cap, a child's score is G^2 / (H + lambda): the thresholds of a
    // feature are scanned by a vectorisable loop (same values, same first-best choice).
    let plain = !constrained && p.alpha == 0.0 && p.max_delta_step == 0.0;
    let mut best: Option<Candidate> = None;
    let mut offer = |gain: f64, feature: usize, rule: Rule, missing_left: bool| {
        if best.is_none_or(|b| gain > b.gain) {
            best = Some(Candidate { gain, feature, rule, missing_left });
        }
    };
    for &f in features {
        let hf = hist.feature(f);
        let [gm, hm] = hf[MISSING_BIN as usize];
        // Without missing values in the node both directions give the same split: scan one.
        let directions: &[bool] = if hm == 0.0 && gm == 0.0 { &[false] } else { &[false, true] };
        if bins.categorical[f] {
            categorical_splits(p, bins, f, hf, directions, &gain_of, &mut offer);
            continue;
        }
        let constraint = p.monotone_constraints.get(f).copied().unwrap_or(0);
        if plain {
            let gains: Vec<[f64; THRESHOLD_BINS]> =
                directions.iter().map(|&ml| plain_threshold_gains(p, hf, g, h, parent, ml)).collect();
            // In the general scan's order: bin by bin, missing right before missing left.
            for b in 0..THRESHOLD_BINS {
                for (gains, &missing_left) in gains.iter().zip(directions) {
                    if gains[b] > f64::NEG_INFINITY {
                        offer(gains[b], f, Rule::Threshold(b), missing_left);
                    }
                }
            }
            continue;
        }
        let (mut gl, mut hl) = (0.0, 0.0);
        for (b, bin) in hf.iter().enumerate().take(THRESHOLD_BINS) {
            gl += bin[0];
            hl += bin[1];
            if bin[1] == 0.0 && bin[0] == 0.0 {
                continue;
            }
            for &missing_left in directions {
                let (gl2, hl2) = if missing_left { (gl + gm, hl + hm) } else { (gl, hl) };
                if let Some(gain) = gain_of(gl2, hl2, constraint) {
                    offer(gain, f, Rule::Threshold(b), missing_left);
                }
            }
        }
    }
    best.filter(|b| b.gain > p.gamma && b.gain > 1e-12)
}

/// Bins a threshold may follow (the last code before the missing one is never a threshold).
const THRESHOLD_BINS: usize = MISSING_BIN as usize - 1;

/// The gains of every threshold of one feature's histogram `hf` with its missing values sent left or
/// right, when a child's score is `G^2 / (H + lambda)`; `-inf` where the split is not allowed or the bin is
/// empty (its split equals the previous bin's). Same operations as the general scan, so the same values.
fn plain_threshold_gains(
    p: &BoosterParams,
    hf: &[[f64; 2]],
    g: f64,
    h: f64,
    parent: f64,
    missing_left: bool,
) -> [f64; THRESHOLD_BINS] {
    let [gm, hm] = hf[MISSING_BIN as usize];
    let (mut gl, mut hl) = ([0.0f64; THRESHOLD_BINS], [0.0f64; THRESHOLD_BINS]);
    let (mut pg, mut ph) = (0.0f64, 0.0f64);
    for b in 0..THRESHOLD_BINS {
        // The prefix sums as the general scan forms them: present bins first, then the missing bin.
        pg += hf[b][0];
        ph += hf[b][1];
        (gl[b], hl[b]) = if missing_left { (pg + gm, ph + hm) } else { (pg, ph) };
    }
    let (lambda, mcw) = (p.lambda, p.min_child_weight);
    let mut gains = [f64::NEG_INFINITY; THRESHOLD_BINS];
    for b in 0..THRESHOLD_BINS {
        let (l_g, l_h) = (gl[b], hl[b]);
        let (r_g, r_h) = (g - l_g, h - l_h);
        let gain = l_g * l_g / (l_h + lambda) + r_g * r_g / (r_h + lambda) - parent;
        let empty = hf[b][0] == 0.0 && hf[b][1] == 0.0;
        let ok = !empty && l_h >= mcw && r_h >= mcw && r_h > 0.0 && l_h > 0.0;
        gains[b] = if ok { gain } else { f64::NEG_INFINITY };
    }
    gains
}

/// Offers the category splits of categorical feature `f`: with fewer than `max_cat_to_onehot`
/// categories, each category alone against the rest; otherwise the node's categories sorted by their
/// leaf weight and cut at every point of that order (the best partition for a convex loss lies on it),
/// the smaller side becoming the set that goes right, of at most `max_cat_threshold` categories.
fn categorical_splits(
    p: &BoosterParams,
    bins: &Binned,
    f: usize,
    hf: &[[f64; 2]],
    directions: &[bool],
    gain_of: &dyn Fn(f64, f64, i8) -> Option<f64>,
    offer: &mut dyn FnMut(f64, usize, Rule, bool),
) {
    let gain = Gain::of(p);
    let [gm, hm] = hf[MISSING_BIN as usize];
    let (gt, ht) = hf.iter().fold((0.0, 0.0), |(a, b), v| (a + v[0], b + v[1]));
    let present: Vec<(usize, [f64; 2])> = hf
        .iter()
        .enumerate()
        .take(MISSING_BIN as usize)
        .filter(|(_, v)| v[0] != 0.0 || v[1] != 0.0)
        .map(|(c, &v)| (c, v))
        .collect();
    if present.len() < 2 {
        return;
    }
    let set_of = |cats: &mut dyn Iterator<Item = usize>| {
        let mut set = [0u64; 4];
        for c in cats {
            set[c / 64] |= 1 << (c % 64);
        }
        set
    };
    // (g, h) of the rows that go right, present values only.
    let mut try_right = |gr: f64, hr: f64, set: [u64; 4]| {
        for &missing_left in directions {
            // Left gets everything else: the other categories, and the missing values when asked.
            let (gl, hl) = if missing_left { (gt - gr, ht - hr) } else { (gt - gr - gm, ht - hr - hm) };
            if let Some(gain) = gain_of(gl, hl, 0) {
                offer(gain, f, Rule::Categories(set), missing_left);
            }
        }
    };
    if bins.n_categories[f] < p.max_cat_to_onehot {
        for &(c, [g, h]) in &present {
            try_right(g, h, set_of(&mut std::iter::once(c)));
        }
        return;
    }
    let mut order = present;
    order.sort_by(|a, b| {
        gain.leaf_weight(a.1[0], a.1[1]).total_cmp(&gain.leaf_weight(b.1[0], b.1[1])).then(a.0.cmp(&b.0))
    });
    let (mut g_prefix, mut h_prefix) = (0.0, 0.0);
    let k_all = order.len();
    for k in 1..k_all {
        g_prefix += order[k - 1].1[0];
        h_prefix += order[k - 1].1[1];
        let (prefix_right, size) = if k <= k_all - k { (true, k) } else { (false, k_all - k) };
        if size > p.max_cat_threshold {
            continue;
        }
        if prefix_right {
            try_right(g_prefix, h_prefix, set_of(&mut order[..k].iter().map(|e| e.0)));
        } else {
            let (gp, hp) = (gt - gm - g_prefix, ht - hm - h_prefix);
            try_right(gp, hp, set_of(&mut order[k..].iter().map(|e| e.0)));
        }
    }
}

/// A leaf of a grown tree: its node id and where its rows are in the partition (range, depth).
pub(crate) type LeafRows = (usize, (usize, usize), usize);

/// What growing trees needs across a fit: the checked parameters, the bins, the row partition (reused by
/// every tree), the per-feature split statistics it adds to, and the random stream.
pub(crate) struct Grower<'a> {
    /// The checked parameters.
    pub p: &'a BoosterParams,
    /// The bin edges and category tables.
    pub bins: &'a Binned,
    /// The rows of each node, contiguous, with their codes.
    pub part: &'a mut RowPartition,
    /// Per feature: splits, total gain, total cover.
    pub split_stats: &'a mut [[f64; 3]],
    /// Column sampling by level and node.
    pub rng: &'a mut SeededRng,
}

impl Grower<'_> {
    /// Grows one tree on the gradient pairs `gh` (one per training row) for `rows` (ascending; `None`
    /// for all) over the tree's `features`, depth-wise or loss-guided. Returns the tree and its leaves'
    /// rows in the partition.
    pub(crate) fn grow(
        &mut self,
        gh: &[[f32; 2]],
        rows: Option<&[u32]>,
        features: &[usize],
    ) -> (Tree, Vec<LeafRows>) {
        let p = self.p;
        let mut columns = ColumnSampler::new(p, features);
        let mut tree = Tree::empty(self.bins.edges.len(), 1);
        let m = self.part.start(rows, gh);
        let root_hist = self.part.hist((0, m), 0, features);
        // Every row is in exactly one bin of each feature: any feature's bins sum to the node's totals.
        let (g0, h0) =
            root_hist.feature(features[0]).iter().fold((0.0, 0.0), |(a, b), v| (a + v[0], b + v[1]));
        let unbounded = (f64::NEG_INFINITY, f64::INFINITY);
        let root = push_leaf(&mut tree, p, g0, h0, unbounded);
        let root_split =
            best_split(p, self.bins, &root_hist, &columns.for_node(0, self.rng), g0, h0, unbounded);
        let root = Frontier {
            id: root,
            range: (0, m),
            hist: root_hist,
            g: g0,
            h: h0,
            depth: 0,
            split: root_split,
            order: 0,
            bounds: unbounded,
        };
        // Depth-wise: a whole level at a time (its nodes' partitions and histograms in one parallel pass
        // each). Loss-guided: the node with the largest gain first.
        let lossguide = p.grow_policy == GrowPolicy::Lossguide;
        let (mut heap, mut level) = (std::collections::BinaryHeap::new(), Vec::new());
        if lossguide {
            heap.push(root);
        } else {
            level.push(root);
        }
        let mut leaf_rows: Vec<LeafRows> = Vec::new();
        let mut leaves = 1usize;
        let mut created = 1usize;
        loop {
            let batch = match heap.pop() {
                Some(node) => vec![node],
                None if level.is_empty() => break,
                None => std::mem::take(&mut level),
            };
            // The nodes that split, in order (max_leaves counts the leaves made so far).
            let mut splitting = Vec::new();
            for node in batch {
                let depth_ok = p.max_depth == 0 || node.depth < p.max_depth;
                let leaves_ok = p.max_leaves == 0 || leaves < p.max_leaves;
                match node.split.filter(|_| depth_ok && leaves_ok) {
                    Some(split) => {
                        leaves += 1;
                        splitting.push((node, split));
                    }
                    None => leaf_rows.push((node.id, node.range, node.depth)),
                }
            }
            if splitting.is_empty() {
                continue;
            }
            let depth = splitting[0].0.depth;
            // Children at the depth limit stay leaves: no histograms, no split search, no codes.
            let terminal = p.max_depth != 0 && depth + 1 >= p.max_depth;
            let children = self.split(&mut tree, &splitting, depth, terminal);
            if terminal {
                for (id, range, ..) in children {
                    leaf_rows.push((id, range, depth + 1));
                }
                continue;
            }
            let hists = self.child_hists(splitting, &children, depth, features);
            // Feature samples in child order, then the children's split searches in parallel.
            let child_features: Vec<Vec<usize>> =
                children.iter().map(|_| columns.for_node(depth + 1, self.rng)).collect();
            let bins = self.bins;
            let splits: Vec<Option<Candidate>> = children
                .par_iter()
                .zip(&hists)
                .zip(&child_features)
                .map(|((&(_, _, g, h, bounds), hist), fs)| best_split(p, bins, hist, fs, g, h, bounds))
                .collect();
            for (((id, range, g, h, bounds), hist), split) in children.into_iter().zip(hists).zip(splits) {
                let child =
                    Frontier { id, range, hist, g, h, depth: depth + 1, split, order: created, bounds };
                created += 1;
                if lossguide { heap.push(child) } else { level.push(child) }
            }
        }
        tree.max_depth = tree.compute_depth();
        (tree, leaf_rows)
    }

    /// Partitions the rows of the `splitting` nodes (all at `depth`; the children's codes are moved too
    /// unless they are `terminal`), records the splits in `tree` and the split statistics, and returns the
    /// children in order, left then right of each node.
    fn split(
        &mut self,
        tree: &mut Tree,
        splitting: &[(Frontier, Candidate)],
        depth: usize,
        terminal: bool,
    ) -> Vec<Child> {
        let (p, bins) = (self.p, self.bins);
        let gain = Gain::of(p);
        // Bin codes agree with the raw comparison: code <= b exactly when x <= edges[b]; a categorical
        // feature's codes are its categories.
        let jobs: Vec<SplitJob> = splitting
            .iter()
            .map(|(node, split)| SplitJob {
                range: node.range,
                feature: split.feature,
                goes_left: split.sides(),
            })
            .collect();
        let n_lefts = self.part.split_many(&jobs, depth, !terminal);
        let mut children = Vec::with_capacity(2 * splitting.len());
        for ((node, split), (job, &n_left)) in splitting.iter().zip(jobs.iter().zip(&n_lefts)) {
            let f = split.feature;
            let (lo, hi) = node.range;
            self.split_stats[f][0] += 1.0;
            self.split_stats[f][1] += split.gain;
            self.split_stats[f][2] += node.h;
            // The left child's sums are those of the split feature's bins that go left.
            let hf = node.hist.feature(f);
            let (gl, hl) = hf
                .iter()
                .zip(&job.goes_left)
                .filter(|(_, left)| **left)
                .fold((0.0, 0.0), |(a, c), (v, _)| (a + v[0], c + v[1]));
            let (gr, hr) = (node.g - gl, node.h - hl);
            // Monotone constraints: the children's weights (clamped to this node's bounds) meet at their
            // midpoint, which bounds the left side from above (increasing) or below (decreasing).
            let (mut bl, mut br) = (node.bounds, node.bounds);
            let constraint = p.monotone_constraints.get(f).copied().unwrap_or(0);
            if constraint != 0 {
                let clamp = |g: f64, h: f64| gain.leaf_weight(g, h).clamp(node.bounds.0, node.bounds.1);
                let mid = (clamp(gl, hl) + clamp(gr, hr)) / 2.0;
                if constraint > 0 {
                    (bl.1, br.0) = (mid, mid);
                } else {
                    (bl.0, br.1) = (mid, mid);
                }
            }
            let l = push_leaf(tree, p, gl, hl, bl);
            let r = push_leaf(tree, p, gr, hr, br);
            tree.nodes[node.id] = match split.rule {
                // Past the last edge the split separates present values (left) from missing ones (right).
                Rule::Threshold(b) => {
                    let threshold = bins.edges[f].get(b).copied().unwrap_or(f32::INFINITY);
                    Node::split(f, threshold, split.missing_left, l as u32)
                }
                Rule::Categories(set) => {
                    // The set's codes stand for categories (code 254 for every rare one).
                    let cats = (0..255usize)
                        .filter(|&c| (set[c / 64] >> (c % 64)) & 1 == 1)
                        .flat_map(|c| bins.code_categories[f][c].iter().copied());
                    let index = tree.push_category_set(cats);
                    Node::categorical(f, index, split.missing_left, l as u32)
                }
            };
            children.push((l, (lo, lo + n_left), gl, hl, bl));
            children.push((r, (lo + n_left, hi), gr, hr, br));
        }
        children
    }

    /// The children's histograms, in child order, by subtraction: each node's smaller child is built at
    /// `depth + 1`, the larger one is the parent minus it.
    fn child_hists(
        &self,
        splitting: Vec<(Frontier, Candidate)>,
        children: &[Child],
        depth: usize,
        features: &[usize],
    ) -> Vec<Hist> {
        let small_is_left: Vec<bool> =
            children.chunks_exact(2).map(|c| c[0].1.1 - c[0].1.0 <= c[1].1.1 - c[1].1.0).collect();
        let small_ranges: Vec<(usize, usize)> = children
            .chunks_exact(2)
            .zip(&small_is_left)
            .map(|(c, &l)| if l { c[0].1 } else { c[1].1 })
            .collect();
        let small = self.part.hists(&small_ranges, depth + 1, features);
        let mut hists = Vec::with_capacity(children.len());
        for (((node, _), small), &left) in splitting.into_iter().zip(small).zip(&small_is_left) {
            let large = node.hist.minus(&small);
            if left {
                hists.extend([small, large]);
            } else {
                hists.extend([large, small]);
            }
        }
        hists
    }
}

/// A child made by a split: (node id, rows in the partition, gradient sum, hessian sum, weight bounds).
type Child = (usize, (usize, usize), f64, f64, (f64, f64));

/// Appends a leaf with gradient sum `gs` and hessian sum `hs` (its weight clamped to `bounds`, shrunk by
/// the learning rate) and returns its id.
fn push_leaf(tree: &mut Tree, p: &BoosterParams, gs: f64, hs: f64, bounds: (f64, f64)) -> usize {
    let id = tree.nodes.len();
    tree.values.push((Gain::of(p).leaf_weight(gs, hs).clamp(bounds.0, bounds.1) * p.learning_rate) as f32);
    tree.impurity.push(0.0);
    tree.weighted_n.push(hs);
    tree.nodes.push(Node::leaf(id, 0.0));
    tree.nodes[id] = tree.leaf_node(id);
    id
}

/// Column sampling by level and by node: a subset of the tree's features per depth, and of that per node.
/// Histograms still cover the tree's features, so subtraction stays exact.
struct ColumnSampler<'a> {
    features: &'a [usize],
    by_level: f64,
    by_node: f64,
    levels: Vec<Vec<usize>>,
}

impl<'a> ColumnSampler<'a> {
    fn new(p: &BoosterParams, features: &'a [usize]) -> Self {
        ColumnSampler {
            features,
            by_level: p.colsample_bylevel,
            by_node: p.colsample_bynode,
            levels: Vec::new(),
        }
    }

    /// The features a node at `depth` may split on (levels are drawn the first time they are reached).
    fn for_node(&mut self, depth: usize, rng: &mut SeededRng) -> Vec<usize> {
        while self.levels.len() <= depth {
            let level = sample(self.features, self.by_level, rng);
            self.levels.push(level);
        }
        sample(&self.levels[depth], self.by_node, rng)
    }
}

/// A `fraction` of `set`, drawn without replacement and kept in ascending order (all of it at 1).
fn sample(set: &[usize], fraction: f64, rng: &mut SeededRng) -> Vec<usize> {
    let mut s = set.to_vec();
    if fraction < 1.0 {
        rng.shuffle(&mut s);
        s.truncate(((fraction * set.len() as f64).round() as usize).max(1));
        s.sort_unstable();
    }
    s
}
