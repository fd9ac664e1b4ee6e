//! The serialized form of a [`Tree`]: one array per node field (compact JSON, easy to read with other
//! tools), checked field by field against the others when loaded, so a corrupted file is an error naming
//! the field, never a panic, a huge allocation or a model that predicts NaN.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{CATEGORY_LIMIT, FEATURE_MASK, Node, Tree, VALUE_LIMIT};

/// The serialized tree.
#[derive(Serialize, Deserialize)]
pub(super) struct TreeRepr {
    n_features: usize,
    n_outputs: usize,
    feature: Vec<i64>,
    /// Split thresholds. A split that sends every present value one way (present versus missing) has the
    /// threshold `+inf`, which JSON cannot hold as a number: infinities are written as the strings `"inf"`
    /// and `"-inf"`, so every threshold survives saving and loading.
    #[serde(serialize_with = "write_thresholds", deserialize_with = "read_thresholds")]
    threshold: Vec<f32>,
    left: Vec<u32>,
    right: Vec<u32>,
    missing_left: Vec<u8>,
    values: Vec<f32>,
    impurity: Vec<f64>,
    weighted_n: Vec<f64>,
    /// 1 for categorical splits (whose `threshold` is the index of their set in `category_sets`);
    /// absent in files without categorical splits.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    categorical: Vec<u8>,
    /// The categories of each categorical split's set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    category_sets: Vec<Vec<u32>>,
}

/// A threshold as JSON: a number when finite, else `"inf"` / `"-inf"` (`"nan"` is never written: a NaN
/// threshold is refused on loading).
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Threshold {
    Number(f32),
    Text(String),
}

fn write_thresholds<S: Serializer>(thresholds: &[f32], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(thresholds.iter().map(|&t| match t {
        t if t.is_finite() => Threshold::Number(t),
        t if t > 0.0 => Threshold::Text("inf".into()),
        t if t < 0.0 => Threshold::Text("-inf".into()),
        _ => Threshold::Text("nan".into()),
    }))
}

fn read_thresholds<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f32>, D::Error> {
    let raw: Vec<Threshold> = Vec::deserialize(d)?;
    raw.into_iter()
        .map(|t| match t {
            Threshold::Number(v) => Ok(v),
            Threshold::Text(s) if s == "inf" => Ok(f32::INFINITY),
            Threshold::Text(s) if s == "-inf" => Ok(f32::NEG_INFINITY),
            Threshold::Text(s) => Err(serde::de::Error::custom(format!(
                "threshold `{s}`: expected a number, \"inf\" or \"-inf\""
            ))),
        })
        .collect()
}

impl From<Tree> for TreeRepr {
    fn from(t: Tree) -> Self {
        TreeRepr {
            n_features: t.n_features,
            n_outputs: t.n_outputs,
            feature: t.nodes.iter().map(|n| if n.is_leaf() { -1 } else { n.feature() as i64 }).collect(),
            threshold: t
                .nodes
                .iter()
                .map(|n| match (n.is_leaf(), n.is_categorical()) {
                    (true, _) => 0.0,
                    (false, true) => n.cat_set() as f32,
                    (false, false) => n.threshold,
                })
                .collect(),
            left: t.nodes.iter().map(|n| if n.is_leaf() { 0 } else { n.left }).collect(),
            right: t.nodes.iter().map(|n| if n.is_leaf() { 0 } else { n.right() }).collect(),
            missing_left: t.nodes.iter().map(|n| u8::from(!n.is_leaf() && n.missing_left())).collect(),
            categorical: if t.cat_sets.is_empty() {
                Vec::new()
            } else {
                t.nodes.iter().map(|n| u8::from(!n.is_leaf() && n.is_categorical())).collect()
            },
            category_sets: t.cat_sets.iter().map(super::CatSet::categories).collect(),
            values: t.values,
            impurity: t.impurity,
            weighted_n: t.weighted_n,
        }
    }
}

impl TreeRepr {
    /// Every per-node array has one entry per node (`values` one per node and output).
    fn check_lengths(&self) -> Result<usize, String> {
        let n = self.feature.len();
        if n == 0 {
            return Err("`feature`: a tree needs at least one node".into());
        }
        if self.n_outputs == 0 {
            return Err("`n_outputs`: expected at least 1, found 0".into());
        }
        let per_node = [
            ("threshold", self.threshold.len()),
            ("left", self.left.len()),
            ("right", self.right.len()),
            ("missing_left", self.missing_left.len()),
            ("impurity", self.impurity.len()),
            ("weighted_n", self.weighted_n.len()),
        ];
        check_per_node(&per_node, n)?;
        if !self.categorical.is_empty() && self.categorical.len() != n {
            return Err(format!(
                "`categorical`: expected {n} entries (one per node), found {}",
                self.categorical.len()
            ));
        }
        let values = n.checked_mul(self.n_outputs).ok_or("`n_outputs`: too large")?;
        if self.values.len() != values {
            return Err(format!(
                "`values`: expected {values} entries ({n} nodes x {} outputs), found {}",
                self.n_outputs,
                self.values.len()
            ));
        }
        Ok(n)
    }

    /// Values are finite, and class probabilities (more than one output) lie in [0, 1]; impurities and
    /// weights are finite and not negative.
    fn check_values(&self) -> Result<(), String> {
        let k = self.n_outputs;
        let bad = |v: &f32| !(v.abs() <= VALUE_LIMIT) || (k > 1 && !(0.0..=1.0).contains(v));
        if let Some(i) = self.values.iter().position(bad) {
            let expected = if k > 1 {
                "class probabilities in [0, 1]".to_string()
            } else {
                format!("finite values within +-{VALUE_LIMIT:e}")
            };
            return Err(format!("`values` of node {}: expected {expected}, found {}", i / k, self.values[i]));
        }
        for (name, field) in [("impurity", &self.impurity), ("weighted_n", &self.weighted_n)] {
            if let Some(i) = field.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
                return Err(format!(
                    "`{name}` of node {i}: expected a finite number >= 0, found {}",
                    field[i]
                ));
            }
        }
        Ok(())
    }
}

/// Every per-node array `(name, length)` of a serialized tree (tessera's or XGBoost's) has `n` entries.
pub(crate) fn check_per_node(arrays: &[(&str, usize)], n: usize) -> Result<(), String> {
    match arrays.iter().find(|(_, len)| *len != n) {
        Some((name, len)) => Err(format!("`{name}`: expected {n} entries (one per node), found {len}")),
        None => Ok(()),
    }
}

impl TryFrom<TreeRepr> for Tree {
    type Error = String;

    fn try_from(r: TreeRepr) -> Result<Self, String> {
        let n = r.check_lengths()?;
        r.check_values()?;
        let mut tree = Tree::empty(r.n_features, r.n_outputs);
        for (s, set) in r.category_sets.iter().enumerate() {
            if let Some(c) = set.iter().find(|&&c| c as f32 >= CATEGORY_LIMIT) {
                return Err(format!("`category_sets[{s}]`: category {c} is not below 2^24"));
            }
            tree.push_category_set(set.iter().copied());
        }
        let mut nodes = Vec::with_capacity(n);
        for i in 0..n {
            let node = if r.feature[i] < 0 {
                Node::leaf(i, 0.0)
            } else {
                let f = r.feature[i] as u64;
                let (l, rt) = (r.left[i] as usize, r.right[i] as usize);
                if f >= r.n_features as u64 || f >= u64::from(FEATURE_MASK) {
                    return Err(format!(
                        "`feature` of node {i}: expected a feature below n_features = {}, found {f}",
                        r.n_features
                    ));
                }
                // Children come after their parent (which rules out cycles) and siblings are adjacent.
                if l <= i || rt != l + 1 || rt >= n {
                    return Err(format!(
                        "node {i}: children {l} and {rt} are not an adjacent pair after it within {n} nodes"
                    ));
                }
                if r.categorical.get(i).is_some_and(|&c| c != 0) {
                    let set = r.threshold[i];
                    if !(set >= 0.0 && (set as usize) < tree.cat_sets.len() && set.fract() == 0.0) {
                        return Err(format!("node {i} refers to category set {set}, which does not exist"));
                    }
                    Node::categorical(f as usize, set as usize, r.missing_left[i] != 0, r.left[i])
                } else {
                    if r.threshold[i].is_nan() {
                        return Err(format!("`threshold` of node {i}: expected a number, found NaN"));
                    }
                    Node::split(f as usize, r.threshold[i], r.missing_left[i] != 0, r.left[i])
                }
            };
            nodes.push(node);
        }
        tree.nodes = nodes;
        tree.values = r.values;
        tree.impurity = r.impurity;
        tree.weighted_n = r.weighted_n;
        for i in 0..tree.nodes.len() {
            if tree.nodes[i].is_leaf() {
                tree.nodes[i] = tree.leaf_node(i);
            }
        }
        tree.max_depth = tree.compute_depth();
        Ok(tree)
    }
}
