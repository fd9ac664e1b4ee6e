//! The parts of XGBoost's JSON model schema tessera reads, as serde types. Unknown fields are skipped
//! without being built.

use serde::Deserialize;

/// The file: `{"learner": ..., "version": [major, minor, patch]}`.
#[derive(Deserialize)]
pub(super) struct File {
    pub learner: Option<Learner>,
    pub version: Option<serde_json::Value>,
}

#[derive(Deserialize)]
pub(super) struct Learner {
    pub objective: Option<ObjectiveBlock>,
    pub gradient_booster: Option<GradientBooster>,
    pub learner_model_param: Option<ModelParam>,
    #[serde(default)]
    pub feature_names: Vec<String>,
    /// String attributes; XGBoost keeps `best_iteration` and `best_score` here after early stopping.
    pub attributes: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Deserialize)]
pub(super) struct ObjectiveBlock {
    pub name: String,
    pub pseudo_huber_param: Option<PseudoHuberParam>,
}

#[derive(Deserialize)]
pub(super) struct PseudoHuberParam {
    pub huber_slope: Option<Scalar>,
}

#[derive(Deserialize)]
pub(super) struct GradientBooster {
    pub name: String,
    pub model: Option<GbModel>,
}

#[derive(Deserialize)]
pub(super) struct GbModel {
    pub gbtree_model_param: Option<GbTreeParam>,
    #[serde(default)]
    pub tree_info: Vec<i64>,
    pub trees: Vec<TreeJson>,
}

#[derive(Deserialize)]
pub(super) struct GbTreeParam {
    pub num_parallel_tree: Option<Scalar>,
}

#[derive(Deserialize)]
pub(super) struct ModelParam {
    pub num_feature: Option<Scalar>,
    pub num_class: Option<Scalar>,
    pub base_score: Option<Scalar>,
}

/// One tree, column-wise as XGBoost writes it.
#[derive(Deserialize)]
pub(super) struct TreeJson {
    pub left_children: Vec<i64>,
    pub right_children: Vec<i64>,
    pub split_indices: Vec<i64>,
    pub default_left: Vec<i64>,
    pub split_conditions: Vec<f64>,
    pub sum_hessian: Option<Vec<f64>>,
    pub split_type: Option<Vec<i64>>,
    #[serde(default)]
    pub categories: Vec<i64>,
    #[serde(default)]
    pub categories_nodes: Vec<i64>,
    #[serde(default)]
    pub categories_segments: Vec<i64>,
    #[serde(default)]
    pub categories_sizes: Vec<i64>,
}

/// A number XGBoost may write as a JSON number or as a string (`"8"`, `"[5E-1]"`).
#[derive(Deserialize, Clone, Debug)]
#[serde(untagged)]
pub(super) enum Scalar {
    Number(f64),
    Text(String),
}

impl Scalar {
    /// The text of the value, for messages.
    pub fn show(&self) -> String {
        match self {
            Scalar::Number(v) => v.to_string(),
            Scalar::Text(s) => format!("\"{s}\""),
        }
    }

    /// The value as a number, if it is one or a string holding one.
    pub fn number(&self) -> Option<f64> {
        match self {
            Scalar::Number(v) => Some(*v),
            Scalar::Text(s) => s.trim().parse().ok(),
        }
    }
}
