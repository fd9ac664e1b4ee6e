//! XGBoost model interoperability: load a `model.json` saved by XGBoost (gbtree booster, numerical and
//! categorical splits, the objectives tessera's booster knows) into a [`FittedBooster`] that predicts the
//! same margins, and save tessera's boosters in that schema.
//!
//! Facts that make the reproduction exact (checked against XGBoost 3.2): a row goes left when
//! `x < split_condition` (tessera's trees test `x <= t`, so `t` is the largest f32 below the condition),
//! missing values follow `default_left`, leaves keep their value in `split_conditions`, leaf values are
//! added in f32 one tree at a time in file order onto the base margin, `binary:logistic` and
//! `count:poisson` store `base_score` as a mean (turned into log-odds or a log here), and `multi:softprob`
//! stores one margin per class. A categorical split (`split_type` 1) lists in `categories` the categories that
//! go right; other values, invalid ones included, go left.

use std::collections::VecDeque;
use std::path::Path;

use serde_json::Value;

use super::{FittedBooster, Objective};
use crate::data::ClassLabels;
use crate::error::{Error, Result};
use crate::tree::{Node, Tree};

/// Loads an XGBoost JSON model file.
pub fn load_xgboost_json(path: impl AsRef<Path>) -> Result<FittedBooster> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::ModelFile { path: path.to_path_buf(), message: e.to_string() })?;
    booster_from_xgboost_json(&text, path)
}

/// Parses an XGBoost JSON model; `source` names it in errors.
pub fn booster_from_xgboost_json(text: &str, source: &Path) -> Result<FittedBooster> {
    let err = |message: String| Error::ModelFile { path: source.to_path_buf(), message };
    let v: Value = serde_json::from_str(text).map_err(|e| err(format!("not valid JSON: {e}")))?;
    let learner = v.get("learner").ok_or_else(|| err("not an XGBoost model (no `learner`)".into()))?;
    let objective_name = learner["objective"]["name"].as_str().unwrap_or("");
    let mut objective = Objective::parse(objective_name).ok_or_else(|| {
        err(format!("objective `{objective_name}` is not supported (tessera reads {})", SUPPORTED))
    })?;
    if let Objective::PseudoHuber { slope } = &mut objective
        && let Some(s) = parse_num(&learner["objective"]["pseudo_huber_param"]["huber_slope"])
    {
        *slope = s;
    }
    let gb = &learner["gradient_booster"];
    if gb["name"].as_str() != Some("gbtree") {
        return Err(err(format!("booster `{}` is not supported (only gbtree)", gb["name"])));
    }
    let model = &gb["model"];
    if model["gbtree_model_param"]["num_parallel_tree"].as_str().unwrap_or("1") != "1" {
        return Err(err("random-forest style models (num_parallel_tree > 1) are not supported".into()));
    }
    let params = &learner["learner_model_param"];
    let num_feature =
        parse_num(&params["num_feature"]).ok_or_else(|| err("missing num_feature".into()))? as usize;
    let num_class = parse_num(&params["num_class"]).unwrap_or(0.0) as usize;
    let outputs = if objective == Objective::Softprob { num_class.max(1) } else { 1 };
    let base: Vec<f64> =
        parse_base_score(&params["base_score"]).ok_or_else(|| err("unreadable base_score".into()))?;
    let loss = objective.loss(0.0);
    let base_margin: Vec<f32> = base.iter().map(|&b| loss.margin_of_score(b, 1)[0] as f32).collect();
    let base_margin = if base_margin.len() == outputs {
        base_margin
    } else if base_margin.len() == 1 {
        vec![base_margin[0]; outputs]
    } else {
        return Err(err(format!("{} base scores for {outputs} outputs", base_margin.len())));
    };
    let tree_info: Vec<usize> = model["tree_info"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).map(|v| v as usize).collect())
        .unwrap_or_default();
    let trees_json = model["trees"].as_array().ok_or_else(|| err("no trees".into()))?;
    let mut trees = Vec::with_capacity(trees_json.len());
    for (t, tj) in trees_json.iter().enumerate() {
        if tree_info.get(t).copied().unwrap_or(0) != t % outputs {
            return Err(err(format!(
                "tree {t} belongs to output {:?}, expected round-major order",
                tree_info.get(t)
            )));
        }
        trees.push(convert_tree(tj, num_feature).map_err(|m| err(format!("tree {t}: {m}")))?);
    }
    let labels = match objective {
        Objective::Logistic => Some(ClassLabels { classes: vec![0.0, 1.0] }),
        Objective::Softprob => Some(ClassLabels { classes: (0..outputs).map(|c| c as f32).collect() }),
        _ => None,
    };
    Ok(FittedBooster {
        objective,
        base_margin,
        trees,
        n_outputs: outputs,
        labels,
        n_features: num_feature,
        best_iteration: None,
        eval_history: Vec::new(),
        split_stats: vec![[0.0; 3]; num_feature],
    })
}

const SUPPORTED: &str = "reg:squarederror, reg:absoluteerror, reg:pseudohubererror, binary:logistic, multi:softprob, count:poisson";

fn parse_num(v: &Value) -> Option<f64> {
    v.as_f64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

/// `base_score` is a number or a string, in XGBoost 3 a bracketed list such as `"[5E-1]"`.
fn parse_base_score(v: &Value) -> Option<Vec<f64>> {
    if let Some(x) = v.as_f64() {
        return Some(vec![x]);
    }
    let s = v.as_str()?.trim().trim_start_matches('[').trim_end_matches(']');
    s.split(',').map(|p| p.trim().parse::<f64>().ok()).collect()
}

fn int_array(tj: &Value, key: &str) -> std::result::Result<Vec<i64>, String> {
    tj[key]
        .as_array()
        .ok_or_else(|| format!("missing `{key}`"))?
        .iter()
        .map(|v| v.as_i64().ok_or_else(|| format!("`{key}` is not integral")))
        .collect()
}

fn float_array(tj: &Value, key: &str) -> std::result::Result<Vec<f32>, String> {
    tj[key]
        .as_array()
        .ok_or_else(|| format!("missing `{key}`"))?
        .iter()
        .map(|v| v.as_f64().map(|f| f as f32).ok_or_else(|| format!("`{key}` is not numeric")))
        .collect()
}

/// Converts one XGBoost tree, renumbering nodes breadth-first so that children follow their parent and
/// siblings are adjacent, as tessera's trees require.
fn convert_tree(tj: &Value, num_feature: usize) -> std::result::Result<Tree, String> {
    let left = int_array(tj, "left_children")?;
    let right = int_array(tj, "right_children")?;
    let feature = int_array(tj, "split_indices")?;
    let default_left = int_array(tj, "default_left")?;
    let cond = float_array(tj, "split_conditions")?;
    let hess = float_array(tj, "sum_hessian").unwrap_or_else(|_| vec![0.0; left.len()]);
    let n = left.len();
    if [right.len(), feature.len(), default_left.len(), cond.len()].iter().any(|&l| l != n) || n == 0 {
        return Err("node arrays disagree in length".into());
    }
    // Categorical splits: node -> its categories (those that go right).
    let split_type = int_array(tj, "split_type").unwrap_or_else(|_| vec![0; n]);
    if split_type.len() != n {
        return Err("node arrays disagree in length".into());
    }
    let mut categories_of: std::collections::HashMap<usize, Vec<u32>> = Default::default();
    if split_type.iter().any(|&t| t != 0) {
        let cats = int_array(tj, "categories")?;
        let nodes = int_array(tj, "categories_nodes")?;
        let segments = int_array(tj, "categories_segments")?;
        let sizes = int_array(tj, "categories_sizes")?;
        if nodes.len() != segments.len() || nodes.len() != sizes.len() {
            return Err("categorical split arrays disagree in length".into());
        }
        for ((&node, &start), &size) in nodes.iter().zip(&segments).zip(&sizes) {
            let (start, size) = (usize::try_from(start), usize::try_from(size));
            let (Ok(start), Ok(size)) = (start, size) else {
                return Err("negative categorical segment".into());
            };
            let slice = cats.get(start..start + size).ok_or("categorical segment out of range")?;
            let set: Option<Vec<u32>> = slice.iter().map(|&c| u32::try_from(c).ok()).collect();
            categories_of.insert(node as usize, set.ok_or("negative category")?);
        }
    }
    let mut tree = Tree::empty(num_feature, 1);
    // (xgboost node, tessera node)
    let mut queue = VecDeque::from([(0usize, 0usize)]);
    let mut placed = vec![false; n];
    tree.nodes.push(Node::leaf(0, 0.0));
    tree.values.push(0.0);
    tree.impurity.push(0.0);
    tree.weighted_n.push(f64::from(hess[0]));
    while let Some((x, t)) = queue.pop_front() {
        if std::mem::replace(&mut placed[x], true) {
            return Err(format!("node {x} is reached twice"));
        }
        if left[x] < 0 {
            tree.values[t] = cond[x];
            tree.nodes[t] = tree.leaf_node(t);
            continue;
        }
        let (l, r) = (left[x] as usize, right[x] as usize);
        let f = feature[x];
        if l >= n || r >= n || f < 0 || f as usize >= num_feature {
            return Err(format!("node {x} has an invalid child or feature"));
        }
        let first = tree.nodes.len();
        for child in [l, r] {
            let id = tree.nodes.len();
            tree.nodes.push(Node::leaf(id, 0.0));
            tree.values.push(0.0);
            tree.impurity.push(0.0);
            tree.weighted_n.push(f64::from(hess[child]));
            queue.push_back((child, id));
        }
        tree.nodes[t] = if split_type[x] != 0 {
            let cats = categories_of.remove(&x).ok_or_else(|| format!("node {x} has no categories"))?;
            let set = tree.push_category_set(cats);
            Node::categorical(f as usize, set, default_left[x] != 0, first as u32)
        } else {
            // XGBoost sends x < c left; tessera tests x <= t, so t is the largest f32 below c.
            Node::split(f as usize, cond[x].next_down(), default_left[x] != 0, first as u32)
        };
    }
    tree.max_depth = tree.compute_depth();
    Ok(tree)
}

/// Serializes a booster in XGBoost's JSON model schema (version 3.2), so XGBoost's `Booster.load_model`
/// reads it and predicts the same margins. Splits `x <= t` become XGBoost's `x < c` with `c` the smallest
/// f32 above `t`; categorical splits keep their category sets. Feature names, when given, are stored so tools
/// can match columns; feature types (`c` for features with categorical splits, else `float`) are stored when
/// names are given or the model has categorical splits.
pub fn booster_to_xgboost_json(model: &FittedBooster, feature_names: Option<&[String]>) -> String {
    let k = model.n_outputs;
    let loss = model.objective.loss(0.0);
    let base: Vec<f64> = model.base_margin.iter().map(|&m| loss.score_of_margin(f64::from(m))).collect();
    let base_score =
        format!("[{}]", base.iter().map(|v| format!("{:e}", *v as f32)).collect::<Vec<_>>().join(","));
    let objective = loss.xgboost_objective(k);
    let trees: Vec<Value> =
        model.trees.iter().enumerate().map(|(id, t)| tree_json(t, id, model.n_features)).collect();
    let n = model.trees.len();
    let mut categorical = vec![false; model.n_features];
    for t in &model.trees {
        for node in t.nodes.iter().filter(|n| !n.is_leaf() && n.is_categorical()) {
            categorical[node.feature()] = true;
        }
    }
    let feature_types: Vec<&str> = if feature_names.is_some() || categorical.contains(&true) {
        categorical.iter().map(|&c| if c { "c" } else { "float" }).collect()
    } else {
        Vec::new()
    };
    serde_json::json!({
        "learner": {
            "attributes": {},
            "feature_names": feature_names.unwrap_or(&[]),
            "feature_types": feature_types,
            "gradient_booster": {
                "model": {
                    "cats": {"enc": [], "feature_segments": [], "sorted_idx": []},
                    "gbtree_model_param": {"num_parallel_tree": "1", "num_trees": n.to_string()},
                    "iteration_indptr": (0..=n / k.max(1)).map(|r| r * k).collect::<Vec<_>>(),
                    "tree_info": (0..n).map(|t| t % k.max(1)).collect::<Vec<_>>(),
                    "trees": trees,
                },
                "name": "gbtree"
            },
            "learner_model_param": {
                "base_score": base_score,
                "boost_from_average": "1",
                "num_class": if model.objective == Objective::Softprob { k.to_string() } else { "0".to_string() },
                "num_feature": model.n_features.to_string(),
                "num_target": "1"
            },
            "objective": objective
        },
        "version": [3, 2, 0]
    })
    .to_string()
}

fn tree_json(t: &Tree, id: usize, n_features: usize) -> Value {
    let n = t.nodes.len();
    let mut parents = vec![2_147_483_647i64; n];
    let (mut left, mut right, mut feature, mut cond, mut default_left) =
        (vec![-1i64; n], vec![-1i64; n], vec![0i64; n], vec![0f32; n], vec![0u8; n]);
    let mut split_type = vec![0u8; n];
    let (mut categories, mut cat_nodes, mut cat_segments, mut cat_sizes) = (vec![], vec![], vec![], vec![]);
    for (i, node) in t.nodes.iter().enumerate() {
        if node.is_leaf() {
            cond[i] = t.node_values(i)[0];
        } else {
            let l = node.left as usize;
            (left[i], right[i]) = (l as i64, l as i64 + 1);
            parents[l] = i as i64;
            parents[l + 1] = i as i64;
            feature[i] = node.feature() as i64;
            default_left[i] = u8::from(node.missing_left());
            if node.is_categorical() {
                let set = t.categories(node.cat_set());
                split_type[i] = 1;
                cat_nodes.push(i);
                cat_segments.push(categories.len());
                cat_sizes.push(set.len());
                categories.extend(set);
            } else {
                cond[i] = node.threshold.next_up();
            }
        }
    }
    let base_weights: Vec<f32> = (0..n).map(|i| if t.nodes[i].is_leaf() { cond[i] } else { 0.0 }).collect();
    serde_json::json!({
        "base_weights": base_weights,
        "categories": categories,
        "categories_nodes": cat_nodes,
        "categories_segments": cat_segments,
        "categories_sizes": cat_sizes,
        "default_left": default_left,
        "id": id,
        "left_children": left,
        "loss_changes": vec![0.0f32; n],
        "parents": parents,
        "right_children": right,
        "split_conditions": cond,
        "split_indices": feature,
        "split_type": split_type,
        "sum_hessian": t.weighted_n.iter().map(|&h| h as f32).collect::<Vec<_>>(),
        "tree_param": {"num_deleted": "0", "num_feature": n_features.to_string(), "num_nodes": n.to_string(), "size_leaf_vector": "1"}
    })
}
