//! Loading an XGBoost `model.json`: every field checked against the others, and against the limits
//! tessera's trees have, before it sizes anything.

use std::collections::{HashMap, VecDeque};
use std::path::Path;

use super::super::{FittedBooster, Objective};
use super::schema::{File, Scalar, TreeJson};
use crate::data::ClassLabels;
use crate::error::{Error, Result};
use crate::estimator::Model;
use crate::tree::{CATEGORY_LIMIT, MAX_FEATURES, Node, Tree, check_per_node};

const SUPPORTED: &str = "reg:squarederror, reg:absoluteerror, reg:pseudohubererror, binary:logistic, multi:softprob, count:poisson";

/// The newest XGBoost major version whose model files this build reads.
const NEWEST_MAJOR: i64 = 3;

/// An XGBoost model as read from its JSON: the booster, and the feature names the file holds (empty when
/// XGBoost was trained from arrays).
#[derive(Debug, Clone, PartialEq)]
pub struct XgboostModel {
    /// The booster, predicting what XGBoost predicts.
    pub booster: FittedBooster,
    /// The file's `feature_names` (may be empty).
    pub feature_names: Vec<String>,
}

/// Loads an XGBoost JSON model file.
pub fn load_xgboost_json(path: impl AsRef<Path>) -> Result<FittedBooster> {
    let path = path.as_ref();
    booster_from_xgboost_json(&crate::file::read_model_text(path)?, path)
}

/// Parses an XGBoost JSON model; `source` names it in errors.
pub fn booster_from_xgboost_json(text: &str, source: &Path) -> Result<FittedBooster> {
    Ok(read_xgboost_json(text, source)?.booster)
}

/// Parses an XGBoost JSON model with its feature names; `source` names it in errors. One typed pass over
/// the text; a field that is missing, of the wrong type, out of range or inconsistent with another is an
/// [`Error::ModelFile`] naming it.
pub fn read_xgboost_json(text: &str, source: &Path) -> Result<XgboostModel> {
    let err = |message: String| Error::ModelFile { path: source.to_path_buf(), message };
    let file: File = serde_json::from_str(text).map_err(|e| {
        err(if e.is_syntax() || e.is_eof() {
            format!("not valid JSON: {e}")
        } else {
            format!("not a readable XGBoost model: {e}")
        })
    })?;
    check_version(file.version.as_ref()).map_err(err)?;
    let learner = file.learner.ok_or_else(|| err("not an XGBoost model (no `learner`)".into()))?;
    let missing = |field: &str| err(format!("`learner.{field}`: missing"));
    let objective_block = learner.objective.ok_or_else(|| missing("objective"))?;
    let name = objective_block.name.as_str();
    let mut objective = Objective::parse(name)
        .ok_or_else(|| err(format!("objective `{name}` is not supported (tessera reads {SUPPORTED})")))?;
    if let Objective::PseudoHuber { slope } = &mut objective
        && let Some(s) = objective_block.pseudo_huber_param.and_then(|p| p.huber_slope)
    {
        *slope = s
            .number()
            .filter(|v| v.is_finite() && *v > 0.0)
            .ok_or_else(|| err(format!("`huber_slope`: expected a finite number > 0, found {}", s.show())))?;
    }
    let gb = learner.gradient_booster.ok_or_else(|| missing("gradient_booster"))?;
    if gb.name != "gbtree" {
        return Err(err(format!("booster `{}` is not supported (only gbtree)", gb.name)));
    }
    let model = gb.model.ok_or_else(|| err("`gradient_booster.model`: missing".into()))?;
    if let Some(n) = model.gbtree_model_param.and_then(|p| p.num_parallel_tree)
        && n.number() != Some(1.0)
    {
        return Err(err(format!(
            "random-forest style models (num_parallel_tree {}) are not supported",
            n.show()
        )));
    }
    let params = learner.learner_model_param.ok_or_else(|| missing("learner_model_param"))?;
    let num_feature = whole("num_feature", params.num_feature.as_ref(), MAX_FEATURES).map_err(err)?;
    let num_feature = num_feature.ok_or_else(|| err("`num_feature`: missing".into()))?;
    let num_class =
        whole("num_class", params.num_class.as_ref(), u32::MAX as usize).map_err(err)?.unwrap_or(0);
    let trees_json = model.trees;
    let base = base_scores(params.base_score.as_ref()).map_err(err)?;
    let outputs = if objective == Objective::Softprob { num_class.max(1) } else { 1 };
    // Every output has a tree per round, or (a model of no rounds) a base score: a class count beyond
    // both is a corrupted field, refused before it sizes anything.
    if outputs > trees_json.len().max(base.len()) {
        return Err(err(format!(
            "`num_class`: {num_class} classes, but the file has {} trees and {} base scores",
            trees_json.len(),
            base.len()
        )));
    }
    if !trees_json.len().is_multiple_of(outputs) {
        return Err(err(format!(
            "`trees`: {} trees are not a whole number of rounds of {outputs}",
            trees_json.len()
        )));
    }
    let loss = objective.loss(0.0);
    let mut base_margin = Vec::with_capacity(outputs);
    for &b in &base {
        let m = loss.margin_of_score(b, 1)[0] as f32;
        if !m.is_finite() {
            return Err(err(format!(
                "`base_score`: {b} is outside what `{name}` allows{}",
                match objective {
                    Objective::Logistic => " (a probability in (0, 1))",
                    Objective::Poisson => " (a mean > 0)",
                    _ => " (a finite number)",
                }
            )));
        }
        base_margin.push(m);
    }
    let base_margin = match base_margin.len() {
        n if n == outputs => base_margin,
        1 => vec![base_margin[0]; outputs],
        n => return Err(err(format!("`base_score`: {n} base scores for {outputs} outputs"))),
    };
    if !model.tree_info.is_empty() && model.tree_info.len() != trees_json.len() {
        return Err(err(format!(
            "`tree_info`: {} entries for {} trees",
            model.tree_info.len(),
            trees_json.len()
        )));
    }
    let mut trees = Vec::with_capacity(trees_json.len());
    for (t, tj) in trees_json.iter().enumerate() {
        if let Some(&info) = model.tree_info.get(t)
            && info != (t % outputs) as i64
        {
            return Err(err(format!(
                "`tree_info[{t}]`: tree {t} belongs to output {info}, expected {}",
                t % outputs
            )));
        }
        trees.push(convert_tree(tj, num_feature).map_err(|m| err(format!("tree {t}: {m}")))?);
    }
    // XGBoost records early stopping in the learner's attributes (strings); its predict then uses them.
    let attr = |name: &str| {
        learner.attributes.as_ref().and_then(|a| a.get(name)).and_then(|v| v.as_str().map(str::to_string))
    };
    let best_iteration = match attr("best_iteration") {
        Some(v) => Some(v.trim().parse::<usize>().map_err(|_| {
            err(format!("`attributes.best_iteration`: expected a whole number, found \"{v}\""))
        })?),
        None => None,
    };
    let best_score = attr("best_score").and_then(|v| v.trim().parse::<f64>().ok());
    let labels = match objective {
        Objective::Logistic => Some(ClassLabels { classes: vec![0.0, 1.0] }),
        Objective::Softprob => Some(ClassLabels { classes: (0..outputs).map(|c| c as f32).collect() }),
        _ => None,
    };
    let booster = FittedBooster {
        objective,
        base_margin,
        trees,
        n_outputs: outputs,
        labels,
        n_features: num_feature,
        best_iteration,
        best_score,
        use_best: best_iteration.is_some(),
        eval_history: Vec::new(),
        // XGBoost's file holds no split statistics; empty means unknown.
        split_stats: Vec::new(),
    };
    booster.validate().map_err(|e| err(e.to_string()))?;
    if !learner.feature_names.is_empty() && learner.feature_names.len() != num_feature {
        return Err(err(format!(
            "`feature_names`: {} names for num_feature = {num_feature}",
            learner.feature_names.len()
        )));
    }
    Ok(XgboostModel { booster, feature_names: learner.feature_names })
}

/// `version`, when present, is `[major, minor, patch]` of an XGBoost this build reads.
fn check_version(v: Option<&serde_json::Value>) -> std::result::Result<(), String> {
    let Some(v) = v else { return Ok(()) };
    let parts: Option<Vec<i64>> =
        v.as_array().and_then(|a| a.iter().map(serde_json::Value::as_i64).collect());
    match parts.as_deref() {
        Some([major, _, _]) if (1..=NEWEST_MAJOR).contains(major) => Ok(()),
        Some([major, minor, patch]) if *major >= 0 => Err(format!(
            "`version`: written by XGBoost {major}.{minor}.{patch}; this build reads models of XGBoost 1 to {NEWEST_MAJOR}"
        )),
        _ => Err(format!("`version`: expected [major, minor, patch], found {v}")),
    }
}

/// A count written as a number or a string: a whole number at most `max`.
fn whole(field: &str, v: Option<&Scalar>, max: usize) -> std::result::Result<Option<usize>, String> {
    let Some(v) = v else { return Ok(None) };
    match v.number() {
        Some(x) if x >= 0.0 && x.fract() == 0.0 && x <= max as f64 => Ok(Some(x as usize)),
        _ => Err(format!("`{field}`: expected a whole number from 0 to {max}, found {}", v.show())),
    }
}

/// `base_score` is a number or a string, in XGBoost 3 a bracketed list such as `"[5E-1]"`; every score
/// must be finite. Missing means XGBoost's default, 0.5.
fn base_scores(v: Option<&Scalar>) -> std::result::Result<Vec<f64>, String> {
    let scores: Option<Vec<f64>> = match v {
        None => return Ok(vec![0.5]),
        Some(Scalar::Number(x)) => Some(vec![*x]),
        Some(Scalar::Text(s)) => {
            let s = s.trim().trim_start_matches('[').trim_end_matches(']');
            s.split(',').map(|p| p.trim().parse::<f64>().ok()).collect()
        }
    };
    match scores {
        Some(s) if !s.is_empty() && s.iter().all(|b| b.is_finite()) => Ok(s),
        _ => Err(format!(
            "`base_score`: expected finite numbers, found {}",
            v.map_or(String::new(), Scalar::show)
        )),
    }
}

/// The category sets of a tree's categorical splits, by XGBoost node: segments of `categories`, checked
/// to lie inside it and to hold categories below 2^24.
fn category_sets(tj: &TreeJson, n: usize) -> std::result::Result<HashMap<usize, Vec<u32>>, String> {
    let (nodes, segments, sizes) = (&tj.categories_nodes, &tj.categories_segments, &tj.categories_sizes);
    if nodes.len() != segments.len() || nodes.len() != sizes.len() {
        return Err(format!(
            "`categories_nodes`, `categories_segments` and `categories_sizes` disagree in length ({}, {}, {})",
            nodes.len(),
            segments.len(),
            sizes.len()
        ));
    }
    let mut out = HashMap::new();
    for ((&node, &start), &size) in nodes.iter().zip(segments).zip(sizes) {
        let node = usize::try_from(node)
            .ok()
            .filter(|&x| x < n)
            .ok_or(format!("`categories_nodes`: node {node} is not in the tree"))?;
        let range = usize::try_from(start)
            .ok()
            .zip(usize::try_from(size).ok())
            .and_then(|(s, z)| Some(s..s.checked_add(z)?))
            .filter(|r| r.end <= tj.categories.len())
            .ok_or(format!("node {node}: category segment {start}+{size} is outside `categories`"))?;
        let set: Option<Vec<u32>> = tj.categories[range]
            .iter()
            .map(|&c| u32::try_from(c).ok().filter(|&c| (c as f32) < CATEGORY_LIMIT))
            .collect();
        out.insert(node, set.ok_or(format!("node {node}: a category is negative or not below 2^24"))?);
    }
    Ok(out)
}

/// Converts one XGBoost tree, renumbering nodes breadth-first so that children follow their parent and
/// siblings are adjacent, as tessera's trees require.
fn convert_tree(tj: &TreeJson, num_feature: usize) -> std::result::Result<Tree, String> {
    let n = tj.left_children.len();
    if n == 0 {
        return Err("`left_children`: a tree needs at least one node".into());
    }
    let per_node = [
        ("right_children", tj.right_children.len()),
        ("split_indices", tj.split_indices.len()),
        ("default_left", tj.default_left.len()),
        ("split_conditions", tj.split_conditions.len()),
        ("sum_hessian", tj.sum_hessian.as_ref().map_or(n, Vec::len)),
        ("split_type", tj.split_type.as_ref().map_or(n, Vec::len)),
    ];
    check_per_node(&per_node, n)?;
    if let Some(i) = tj.split_conditions.iter().position(|c| !(c.is_finite() && (*c as f32).is_finite())) {
        return Err(format!(
            "`split_conditions[{i}]`: expected a finite f32, found {}",
            tj.split_conditions[i]
        ));
    }
    if let Some(h) = &tj.sum_hessian
        && let Some(i) = h.iter().position(|v| !(*v >= 0.0 && (*v as f32).is_finite()))
    {
        return Err(format!("`sum_hessian[{i}]`: expected a finite f32 >= 0, found {}", h[i]));
    }
    let hess = |i: usize| tj.sum_hessian.as_ref().map_or(0.0, |h| h[i]);
    let categorical = |i: usize| tj.split_type.as_ref().is_some_and(|t| t[i] != 0);
    let mut categories_of = if (0..n).any(categorical) { category_sets(tj, n)? } else { HashMap::new() };
    let mut tree = Tree::empty(num_feature, 1);
    // (xgboost node, tessera node)
    let mut queue = VecDeque::from([(0usize, 0usize)]);
    let mut placed = vec![false; n];
    tree.nodes.push(Node::leaf(0, 0.0));
    tree.values.push(0.0);
    tree.impurity.push(0.0);
    tree.weighted_n.push(hess(0));
    while let Some((x, t)) = queue.pop_front() {
        if std::mem::replace(&mut placed[x], true) {
            return Err(format!("node {x} is reached twice"));
        }
        let cond = tj.split_conditions[x] as f32;
        if tj.left_children[x] < 0 {
            tree.values[t] = cond;
            tree.nodes[t] = tree.leaf_node(t);
            continue;
        }
        let (l, r, f) = (tj.left_children[x], tj.right_children[x], tj.split_indices[x]);
        let child = |c: i64| usize::try_from(c).ok().filter(|&c| c < n);
        let (Some(l), Some(r)) = (child(l), child(r)) else {
            return Err(format!("node {x}: children {l} and {r} are not nodes of the tree"));
        };
        let Some(f) = usize::try_from(f).ok().filter(|&f| f < num_feature) else {
            return Err(format!("node {x}: feature {f} is not below num_feature = {num_feature}"));
        };
        let first = tree.nodes.len();
        for child in [l, r] {
            let id = tree.nodes.len();
            tree.nodes.push(Node::leaf(id, 0.0));
            tree.values.push(0.0);
            tree.impurity.push(0.0);
            tree.weighted_n.push(hess(child));
            queue.push_back((child, id));
        }
        let default_left = tj.default_left[x] != 0;
        tree.nodes[t] = if categorical(x) {
            let cats = categories_of.remove(&x).ok_or_else(|| format!("node {x} has no categories"))?;
            let set = tree.push_category_set(cats);
            Node::categorical(f, set, default_left, first as u32)
        } else {
            // XGBoost sends x < c left; tessera tests x <= t, so t is the largest f32 below c.
            Node::split(f, cond.next_down(), default_left, first as u32)
        };
    }
    tree.max_depth = tree.compute_depth();
    Ok(tree)
}
