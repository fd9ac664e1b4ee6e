//! Growing one tree of the histogram booster: per-node gradient/hessian histograms (with subtraction for
//! the larger child), XGBoost's split search with learned missing-value directions, branch-free
//! partitions by bin code, and depth-wise or loss-guided expansion.

use rayon::prelude::*;

use tessera_tensor::SeededRng;

use crate::binning::{Binned, MISSING_BIN};
use crate::booster::{BoosterParams, GrowPolicy};
use crate::tree::{Node, Tree};

/// Gradient and hessian histogram of one node: `[G, H]` per (feature, bin).
type Hist = Vec<[f64; 2]>;

/// A node waiting to be split: its rows, histogram, gradient and hessian sums and best split.
#[derive(Clone)]
struct Frontier {
    id: usize,
    rows: Vec<u32>,
    hist: Hist,
    g: f64,
    h: f64,
    depth: usize,
    split: Option<(f64, usize, usize, bool)>,
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
        let gain = |f: &Frontier| f.split.map_or(f64::NEG_INFINITY, |s| s.0);
        gain(self).total_cmp(&gain(other)).then(other.order.cmp(&self.order))
    }
}

fn build_hist(bins: &Binned, rows: &[u32], gh: &[[f32; 2]], features: &[usize]) -> Hist {
    let mut hist = vec![[0.0; 2]; bins.edges.len() * 256];
    // The node's gradient pairs, gathered once so that every feature's pass reads them in sequence.
    let node_gh: Vec<[f32; 2]> = rows.iter().map(|&r| gh[r as usize]).collect();
    // One feature at a time: its 256 bins stay in L1 while the node's rows stream past.
    let one = |f: usize, out: &mut [[f64; 2]]| {
        let codes = bins.column(f);
        for (&r, &[g, h]) in rows.iter().zip(&node_gh) {
            let b = &mut out[codes[r as usize] as usize];
            b[0] += f64::from(g);
            b[1] += f64::from(h);
        }
    };
    if rows.len() < PARALLEL_HIST_ROWS {
        // Small nodes: a thread hand-off costs more than the work.
        for &f in features {
            one(f, &mut hist[f * 256..(f + 1) * 256]);
        }
        return hist;
    }
    let parts: Vec<(usize, Vec<[f64; 2]>)> = features
        .par_iter()
        .map(|&f| {
            let mut local = vec![[0.0f64; 2]; 256];
            one(f, &mut local);
            (f, local)
        })
        .collect();
    for (f, local) in parts {
        hist[f * 256..(f + 1) * 256].copy_from_slice(&local);
    }
    hist
}

/// Nodes with fewer rows build their histograms on one thread.
const PARALLEL_HIST_ROWS: usize = 4096;

/// Splits `rows` by bin code: left when `code <= bin` (present values) or when missing and
/// `missing_left`. Branch-free (both buffers are written, the matching cursor advances), since the side a
/// row takes is unpredictable.
fn partition_by_bin(rows: &[u32], codes: &[u8], bin: usize, missing_left: bool) -> (Vec<u32>, Vec<u32>) {
    if rows.len() >= 2 * PARALLEL_PARTITION_ROWS {
        // Large nodes: blocks in parallel, concatenated in block order (the result is the same).
        let parts: Vec<(Vec<u32>, Vec<u32>)> = rows
            .par_chunks(PARALLEL_PARTITION_ROWS)
            .map(|block| partition_block(block, codes, bin, missing_left))
            .collect();
        let (nl, nr) = parts.iter().fold((0, 0), |(a, b), (l, r)| (a + l.len(), b + r.len()));
        let (mut left, mut right) = (Vec::with_capacity(nl), Vec::with_capacity(nr));
        for (l, r) in parts {
            left.extend_from_slice(&l);
            right.extend_from_slice(&r);
        }
        return (left, right);
    }
    partition_block(rows, codes, bin, missing_left)
}

/// Rows per parallel partition block.
const PARALLEL_PARTITION_ROWS: usize = 32_768;

fn partition_block(rows: &[u32], codes: &[u8], bin: usize, missing_left: bool) -> (Vec<u32>, Vec<u32>) {
    let n = rows.len();
    let (mut left, mut right) = (vec![0u32; n + 1], vec![0u32; n + 1]);
    let (mut nl, mut nr) = (0usize, 0usize);
    for &r in rows {
        let c = codes[r as usize];
        let missing = c == MISSING_BIN;
        let go_left = (!missing & (usize::from(c) <= bin)) | (missing & missing_left);
        left[nl] = r;
        right[nr] = r;
        nl += usize::from(go_left);
        nr += usize::from(!go_left);
    }
    left.truncate(nl);
    right.truncate(nr);
    (left, right)
}

/// The best split of a node: (gain, feature, bin, missing_left). With monotone constraints, gains are
/// computed from weights clamped to the node's `bounds` (XGBoost's rule) and a split on a constrained
/// feature whose child weights go the wrong way is refused.
fn best_split(
    p: &BoosterParams,
    hist: &Hist,
    features: &[usize],
    g: f64,
    h: f64,
    bounds: (f64, f64),
) -> Option<(f64, usize, usize, bool)> {
    let constrained = !p.monotone_constraints.is_empty();
    let weight = |g: f64, h: f64| p.leaf_weight(g, h).clamp(bounds.0, bounds.1);
    let child_score =
        |g: f64, h: f64| if constrained { p.score_given_weight(g, h, weight(g, h)) } else { p.score(g, h) };
    let parent = child_score(g, h);
    let mut best: Option<(f64, usize, usize, bool)> = None;
    for &f in features {
        let constraint = p.monotone_constraints.get(f).copied().unwrap_or(0);
        let hf = &hist[f * 256..(f + 1) * 256];
        let [gm, hm] = hf[MISSING_BIN as usize];
        let (mut gl, mut hl) = (0.0, 0.0);
        for (b, bin) in hf.iter().enumerate().take(MISSING_BIN as usize - 1) {
            gl += bin[0];
            hl += bin[1];
            if bin[1] == 0.0 && bin[0] == 0.0 {
                continue;
            }
            // Without missing values in the node both directions give the same split: scan one.
            let directions: &[bool] = if hm == 0.0 && gm == 0.0 { &[false] } else { &[false, true] };
            for &missing_left in directions {
                let (gl2, hl2) = if missing_left { (gl + gm, hl + hm) } else { (gl, hl) };
                let (gr2, hr2) = (g - gl2, h - hl2);
                if hl2 < p.min_child_weight || hr2 < p.min_child_weight || hr2 <= 0.0 || hl2 <= 0.0 {
                    continue;
                }
                if constraint != 0 {
                    let (wl, wr) = (weight(gl2, hl2), weight(gr2, hr2));
                    if (constraint > 0 && wl > wr) || (constraint < 0 && wl < wr) {
                        continue;
                    }
                }
                let gain = child_score(gl2, hl2) + child_score(gr2, hr2) - parent;
                if best.is_none_or(|bb| gain > bb.0) {
                    best = Some((gain, f, b, missing_left));
                }
            }
        }
    }
    best.filter(|b| b.0 > p.gamma && b.0 > 1e-12)
}

/// Grows one tree on gradients `g`, hessians `h` for the rows `rows`, depth-wise.
#[allow(clippy::too_many_arguments)]
pub(crate) fn grow_tree(
    p: &BoosterParams,
    bins: &Binned,
    gh: &[[f32; 2]],
    rows: Vec<u32>,
    features: &[usize],
    split_stats: &mut [[f64; 3]],
    rng: &mut SeededRng,
) -> (Tree, Vec<u32>, Vec<usize>) {
    // Column sampling by level and by node: a subset of the tree's features per depth, and of that
    // per node. Histograms still cover the tree's features, so subtraction stays exact.
    let mut level_features: Vec<Vec<usize>> = Vec::new();
    let mut node_features = |depth: usize, rng: &mut SeededRng| -> Vec<usize> {
        let sample = |set: &[usize], fraction: f64, rng: &mut SeededRng| {
            let mut s = set.to_vec();
            if fraction < 1.0 {
                rng.shuffle(&mut s);
                s.truncate(((fraction * set.len() as f64).round() as usize).max(1));
                s.sort_unstable();
            }
            s
        };
        while level_features.len() <= depth {
            let level = sample(features, p.colsample_bylevel, rng);
            level_features.push(level);
        }
        sample(&level_features[depth], p.colsample_bynode, rng)
    };
    let mut tree = Tree {
        nodes: Vec::new(),
        max_depth: 0,
        values: Vec::new(),
        impurity: Vec::new(),
        weighted_n: Vec::new(),
        n_outputs: 1,
        n_features: bins.edges.len(),
    };
    let sums = |rs: &[u32]| {
        rs.iter().fold((0.0, 0.0), |(a, b), &r| {
            let [g, h] = gh[r as usize];
            (a + f64::from(g), b + f64::from(h))
        })
    };
    let push_leaf = |tree: &mut Tree, gs: f64, hs: f64, bounds: (f64, f64)| {
        let id = tree.nodes.len();
        tree.values.push((p.leaf_weight(gs, hs).clamp(bounds.0, bounds.1) * p.learning_rate) as f32);
        tree.impurity.push(0.0);
        tree.weighted_n.push(hs);
        tree.nodes.push(Node::leaf(id, 0.0));
        tree.nodes[id] = tree.leaf_node(id);
        id
    };
    let (g0, h0) = sums(&rows);
    let unbounded = (f64::NEG_INFINITY, f64::INFINITY);
    let root = push_leaf(&mut tree, g0, h0, unbounded);
    let root_hist = build_hist(bins, &rows, gh, features);
    let root_split = best_split(p, &root_hist, &node_features(0, rng), g0, h0, unbounded);
    let root = Frontier {
        id: root,
        rows,
        hist: root_hist,
        g: g0,
        h: h0,
        depth: 0,
        split: root_split,
        order: 0,
        bounds: unbounded,
    };
    // Depth-wise: first in, first out (level order). Loss-guided: the largest gain first.
    let lossguide = p.grow_policy == GrowPolicy::Lossguide;
    let mut fifo = std::collections::VecDeque::from([root.clone()]);
    let mut heap = std::collections::BinaryHeap::from([root]);
    if lossguide {
        fifo.clear();
    } else {
        heap.clear();
    }
    let mut leaf_rows: Vec<(usize, Vec<u32>)> = Vec::new();
    let mut leaves = 1usize;
    let mut created = 1usize;
    while let Some(node) = if lossguide { heap.pop() } else { fifo.pop_front() } {
        let depth_ok = p.max_depth == 0 || node.depth < p.max_depth;
        let leaves_ok = p.max_leaves == 0 || leaves < p.max_leaves;
        let Some((gain, f, b, missing_left)) = node.split.filter(|_| depth_ok && leaves_ok) else {
            leaf_rows.push((node.id, node.rows));
            continue;
        };
        // Past the last edge the split separates present values (left) from missing ones (right).
        let threshold = bins.edges[f].get(b).copied().unwrap_or(f32::INFINITY);
        // Bin codes agree with the raw comparison: code <= b exactly when x <= edges[b].
        let (left, right) = partition_by_bin(&node.rows, bins.column(f), b, missing_left);
        split_stats[f][0] += 1.0;
        split_stats[f][1] += gain;
        split_stats[f][2] += node.h;
        // The left child's sums are a prefix of the split feature's histogram (plus the missing bin).
        let hf = &node.hist[f * 256..(f + 1) * 256];
        let (mut gl, mut hl) =
            hf[..=b.min(MISSING_BIN as usize - 1)].iter().fold((0.0, 0.0), |(a, c), v| (a + v[0], c + v[1]));
        if missing_left {
            gl += hf[MISSING_BIN as usize][0];
            hl += hf[MISSING_BIN as usize][1];
        }
        let (gr, hr) = (node.g - gl, node.h - hl);
        // Monotone constraints: the children's weights (clamped to this node's bounds) meet at their
        // midpoint, which bounds the left side from above (increasing) or below (decreasing).
        let (mut bl, mut br) = (node.bounds, node.bounds);
        let constraint = p.monotone_constraints.get(f).copied().unwrap_or(0);
        if constraint != 0 {
            let clamp = |g: f64, h: f64| p.leaf_weight(g, h).clamp(node.bounds.0, node.bounds.1);
            let mid = (clamp(gl, hl) + clamp(gr, hr)) / 2.0;
            if constraint > 0 {
                (bl.1, br.0) = (mid, mid);
            } else {
                (bl.0, br.1) = (mid, mid);
            }
        }
        let l = push_leaf(&mut tree, gl, hl, bl);
        let r = push_leaf(&mut tree, gr, hr, br);
        tree.nodes[node.id] = Node::split(f, threshold, missing_left, l as u32);
        leaves += 1;
        // Histogram subtraction: build the smaller child, derive the larger.
        let (small_rows, small_is_left) =
            if left.len() <= right.len() { (&left, true) } else { (&right, false) };
        let small = build_hist(bins, small_rows, gh, features);
        let large: Hist = node.hist.iter().zip(&small).map(|(a, s)| [a[0] - s[0], a[1] - s[1]]).collect();
        let (hl_hist, hr_hist) = if small_is_left { (small, large) } else { (large, small) };
        for (id, rs, hist, gs, hs, bounds) in
            [(l, left, hl_hist, gl, hl, bl), (r, right, hr_hist, gr, hr, br)]
        {
            let split = best_split(p, &hist, &node_features(node.depth + 1, rng), gs, hs, bounds);
            let child = Frontier {
                id,
                rows: rs,
                hist,
                g: gs,
                h: hs,
                depth: node.depth + 1,
                split,
                order: created,
                bounds,
            };
            created += 1;
            if lossguide { heap.push(child) } else { fifo.push_back(child) }
        }
    }
    tree.max_depth = tree.compute_depth();
    // Rows per leaf, flattened, for objectives that refit leaf values.
    let mut order = Vec::new();
    let mut leaf_of = Vec::new();
    for (id, rs) in leaf_rows {
        leaf_of.extend(std::iter::repeat_n(id, rs.len()));
        order.extend(rs);
    }
    (tree, order, leaf_of)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use tessera_tensor::SeededRng;

    /// Histogram subtraction: parent minus the smaller child equals the larger child built directly.
    #[test]
    fn histogram_subtraction_equals_direct_construction() {
        let mut rng = SeededRng::new(3);
        let n = 5000;
        let x: Array2<f32> = rng.normal_array((n, 4), 0.0, 1.0);
        let mut cols = Vec::new();
        for c in x.columns() {
            cols.extend(c.iter().copied());
        }
        let bins = Binned::new(&cols, n);
        let g: Vec<f32> = (0..n).map(|_| rng.normal()).collect();
        let h: Vec<f32> = (0..n).map(|_| rng.uniform()).collect();
        let features = [0, 1, 2, 3];
        let all: Vec<u32> = (0..n as u32).collect();
        let (left, right): (Vec<u32>, Vec<u32>) = all.iter().partition(|&&r| x[[r as usize, 1]] < 0.3);
        let gh: Vec<[f32; 2]> = g.iter().zip(&h).map(|(&a, &b)| [a, b]).collect();
        let parent = build_hist(&bins, &all, &gh, &features);
        let small = build_hist(&bins, &left, &gh, &features);
        let direct = build_hist(&bins, &right, &gh, &features);
        for ((p, s), d) in parent.iter().zip(&small).zip(&direct) {
            assert!((p[0] - s[0] - d[0]).abs() < 1e-9 && (p[1] - s[1] - d[1]).abs() < 1e-9);
        }
    }
}
