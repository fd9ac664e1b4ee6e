//! TreeSHAP (Lundberg, Erion and Lee, "Consistent Individualized Feature Attribution for Tree Ensembles",
//! 2018, Algorithm 2): exact Shapley values of a tree's output in polynomial time, using each node's cover
//! (training hessian or weight sum) to weigh the paths a feature's absence would take. A row's
//! contributions plus the tree's expected value equal the tree's output for that row.

use crate::tree::Tree;

/// One element of the feature path: the feature that split (`None` for the root sentinel), the fraction
/// of "feature absent" paths and of "feature present" paths that flow through, and the permutation weight.
#[derive(Debug, Clone, Copy)]
struct PathItem {
    feature: Option<usize>,
    zero: f64,
    one: f64,
    weight: f64,
}

fn extend(path: &mut Vec<PathItem>, zero: f64, one: f64, feature: Option<usize>) {
    let l = path.len();
    path.push(PathItem { feature, zero, one, weight: if l == 0 { 1.0 } else { 0.0 } });
    for i in (0..l).rev() {
        path[i + 1].weight += one * path[i].weight * (i + 1) as f64 / (l + 1) as f64;
        path[i].weight = zero * path[i].weight * (l - i) as f64 / (l + 1) as f64;
    }
}

fn unwind(path: &mut Vec<PathItem>, i: usize) {
    let l = path.len() - 1;
    let (one, zero) = (path[i].one, path[i].zero);
    let mut next = path[l].weight;
    for j in (0..l).rev() {
        if one != 0.0 {
            let t = path[j].weight;
            path[j].weight = next * (l + 1) as f64 / ((j + 1) as f64 * one);
            next = t - path[j].weight * zero * (l - j) as f64 / (l + 1) as f64;
        } else {
            path[j].weight = path[j].weight * (l + 1) as f64 / (zero * (l - j) as f64);
        }
    }
    for j in i..l {
        path[j].feature = path[j + 1].feature;
        path[j].zero = path[j + 1].zero;
        path[j].one = path[j + 1].one;
    }
    path.pop();
}

/// The total permutation weight if element `i` were unwound (without modifying the path).
fn unwound_sum(path: &[PathItem], i: usize) -> f64 {
    let l = path.len() - 1;
    let (one, zero) = (path[i].one, path[i].zero);
    let mut total = 0.0;
    if one != 0.0 {
        let mut next = path[l].weight;
        for j in (0..l).rev() {
            let t = next * (l + 1) as f64 / ((j + 1) as f64 * one);
            total += t;
            next = path[j].weight - t * zero * (l - j) as f64 / (l + 1) as f64;
        }
    } else {
        for j in (0..l).rev() {
            total += path[j].weight * (l + 1) as f64 / (zero * (l - j) as f64);
        }
    }
    total
}

/// Cover-weighted mean output of each node's subtree (the tree's expected value at the root).
fn node_means(tree: &Tree) -> Vec<f64> {
    let n = tree.nodes.len();
    let mut mean = vec![0.0; n];
    for i in (0..n).rev() {
        let node = tree.nodes[i];
        if node.is_leaf() {
            mean[i] = f64::from(tree.node_values(i)[0]);
        } else {
            let (l, r) = (node.left as usize, node.right() as usize);
            let (cl, cr) = (tree.weighted_n[l], tree.weighted_n[r]);
            mean[i] = if cl + cr > 0.0 { (mean[l] * cl + mean[r] * cr) / (cl + cr) } else { 0.0 };
        }
    }
    mean
}

/// Adds the SHAP values of a single-output tree for `row` to `phi[..n_features]` and its expected value
/// to `phi[n_features]`.
pub(crate) fn add_tree_shap(tree: &Tree, row: &[f32], phi: &mut [f64]) {
    let means = node_means(tree);
    phi[tree.n_features] += means[0];
    recurse(tree, row, phi, 0, &[], 1.0, 1.0, None);
}

#[allow(clippy::too_many_arguments)]
fn recurse(
    tree: &Tree,
    row: &[f32],
    phi: &mut [f64],
    node: usize,
    parent_path: &[PathItem],
    zero: f64,
    one: f64,
    feature: Option<usize>,
) {
    let mut path = parent_path.to_vec();
    extend(&mut path, zero, one, feature);
    let n = tree.nodes[node];
    if n.is_leaf() {
        let value = f64::from(tree.node_values(node)[0]);
        for i in 1..path.len() {
            let w = unwound_sum(&path, i);
            if let Some(f) = path[i].feature {
                phi[f] += w * (path[i].one - path[i].zero) * value;
            }
        }
        return;
    }
    let f = n.feature();
    let x = row[f];
    let goes_left = tree.goes_left(&n, x);
    let (hot, cold) =
        if goes_left { (n.left as usize, n.right() as usize) } else { (n.right() as usize, n.left as usize) };
    let cover = tree.weighted_n[node];
    let (hot_frac, cold_frac) =
        if cover > 0.0 { (tree.weighted_n[hot] / cover, tree.weighted_n[cold] / cover) } else { (0.5, 0.5) };
    // A feature already on the path: undo its earlier split before splitting on it again.
    let (mut inc_zero, mut inc_one) = (1.0, 1.0);
    if let Some(k) = path.iter().position(|p| p.feature == Some(f)) {
        inc_zero = path[k].zero;
        inc_one = path[k].one;
        unwind(&mut path, k);
    }
    recurse(tree, row, phi, hot, &path, inc_zero * hot_frac, inc_one, Some(f));
    recurse(tree, row, phi, cold, &path, inc_zero * cold_frac, 0.0, Some(f));
}
