//! Saving a booster in XGBoost's JSON model schema.

use serde_json::Value;

use super::super::{FittedBooster, Objective};
use crate::tree::Tree;

/// Serializes a booster in XGBoost's JSON model schema (version 3.2), so XGBoost's `Booster.load_model`
/// reads it and predicts the same margins. Splits `x <= t` become XGBoost's `x < c` with `c` the smallest
/// f32 above `t` (`f32::MAX` for a split that sends every present value left); categorical splits keep
/// their category sets. Feature names, when given, are stored so tools
/// can match columns; feature types (`c` for features with categorical splits, else `float`) are stored when
/// names are given or the model has categorical splits.
pub fn booster_to_xgboost_json(model: &FittedBooster, feature_names: Option<&[String]>) -> String {
    let k = model.n_outputs;
    let loss = model.objective.loss(0.0);
    let base: Vec<f64> = model.base_margin.iter().map(|&m| loss.score_of_margin(f64::from(m))).collect();
    // Written in f64's shortest exact form, so that reading it back (a log or a logit of it, for Poisson and
    // logistic objectives) gives the same f32 margin; XGBoost reads it as an f32 score.
    let base_score = format!("[{}]", base.iter().map(|v| format!("{v:e}")).collect::<Vec<_>>().join(","));
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
    // Early stopping as XGBoost records it, so that its own predict uses the same rounds.
    let mut attributes = serde_json::Map::new();
    if let (true, Some(best)) = (model.use_best, model.best_iteration) {
        attributes.insert("best_iteration".into(), best.to_string().into());
        if let Some(score) = model.best_score {
            attributes.insert("best_score".into(), score.to_string().into());
        }
    }
    serde_json::json!({
        "learner": {
            "attributes": attributes,
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
                // JSON has no infinity: a present-versus-missing split (threshold +inf, every present value
                // left) becomes `x < f32::MAX`, which differs only for the value f32::MAX itself.
                cond[i] = node.threshold.next_up().clamp(f32::MIN, f32::MAX);
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
        // f32 in the file: a cover beyond f32's range is written as its largest value, never as null.
        "sum_hessian": t.weighted_n.iter().map(|&h| (h as f32).min(f32::MAX)).collect::<Vec<_>>(),
        "tree_param": {"num_deleted": "0", "num_feature": n_features.to_string(), "num_nodes": n.to_string(), "size_leaf_vector": "1"}
    })
}
