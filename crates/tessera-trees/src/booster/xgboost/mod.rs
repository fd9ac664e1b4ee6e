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
//!
//! Loading reads the file in one typed pass (`schema.rs`): fields tessera does not use are skipped
//! without being built, so memory follows the model, not the file's size; every field is then checked
//! against the others (`load.rs`) before any allocation it sizes.

mod load;
mod save;
mod schema;

pub use load::{XgboostModel, booster_from_xgboost_json, load_xgboost_json, read_xgboost_json};
pub use save::booster_to_xgboost_json;
