//! Minimal cost-complexity pruning (Breiman et al.; scikit-learn's `ccp_alpha`): repeatedly collapse the
//! internal node whose subtree buys the least impurity per extra leaf, while that cost is at most alpha.

use crate::tree::{Node, Tree};

/// Prunes `tree` in place for complexity parameter `alpha` (> 0), then drops unreachable nodes.
pub(crate) fn prune(tree: &mut Tree, alpha: f64) {
    let n = tree.nodes.len();
    let root_w = tree.weighted_n[0].max(f64::MIN_POSITIVE);
    let risk: Vec<f64> = (0..n).map(|i| tree.weighted_n[i] / root_w * tree.impurity[i]).collect();
    loop {
        // Subtree risk and leaf count, children before parents (children have larger indices).
        let mut sub_risk = risk.clone();
        let mut leaves = vec![1usize; n];
        for i in (0..n).rev() {
            let node = tree.nodes[i];
            if !node.is_leaf() {
                let (l, r) = (node.left as usize, node.right() as usize);
                sub_risk[i] = sub_risk[l] + sub_risk[r];
                leaves[i] = leaves[l] + leaves[r];
            }
        }
        let reachable = reachable(tree);
        let weakest = (0..n)
            .filter(|&i| reachable[i] && !tree.nodes[i].is_leaf())
            .map(|i| (i, (risk[i] - sub_risk[i]) / (leaves[i] as f64 - 1.0)))
            .min_by(|a, b| a.1.total_cmp(&b.1));
        match weakest {
            Some((i, g)) if g <= alpha => tree.nodes[i] = tree.leaf_node(i),
            _ => break,
        }
    }
    compact(tree);
}

fn reachable(tree: &Tree) -> Vec<bool> {
    let mut seen = vec![false; tree.nodes.len()];
    let mut stack = vec![0usize];
    while let Some(i) = stack.pop() {
        seen[i] = true;
        let n = tree.nodes[i];
        if !n.is_leaf() {
            stack.push(n.left as usize);
            stack.push(n.right() as usize);
        }
    }
    seen
}

/// Renumbers the reachable nodes breadth-first (parents before children, siblings adjacent) and drops
/// the rest.
fn compact(tree: &mut Tree) {
    let mut order = vec![0usize];
    let mut i = 0;
    while i < order.len() {
        let n = tree.nodes[order[i]];
        if !n.is_leaf() {
            order.push(n.left as usize);
            order.push(n.right() as usize);
        }
        i += 1;
    }
    let mut new_id = vec![u32::MAX; tree.nodes.len()];
    for (new, &old) in order.iter().enumerate() {
        new_id[old] = new as u32;
    }
    let k = tree.n_outputs;
    let mut nodes = Vec::with_capacity(order.len());
    let mut values = Vec::with_capacity(order.len() * k);
    let (mut imp, mut wn) = (Vec::with_capacity(order.len()), Vec::with_capacity(order.len()));
    for &old in &order {
        let mut n = tree.nodes[old];
        if n.is_leaf() {
            n = Node::leaf(nodes.len(), n.threshold);
        } else {
            n.left = new_id[n.left as usize];
        }
        nodes.push(n);
        values.extend_from_slice(&tree.values[old * k..(old + 1) * k]);
        imp.push(tree.impurity[old]);
        wn.push(tree.weighted_n[old]);
    }
    tree.nodes = nodes;
    tree.values = values;
    tree.impurity = imp;
    tree.weighted_n = wn;
    tree.max_depth = tree.compute_depth();
}
