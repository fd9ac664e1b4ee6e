//! Which `tessera trees train` flags apply to which model family. A flag given to a model that would
//! ignore it is an error naming the flag and the models it applies to, before any data is read: a user who
//! types `--model rf --subsample 0.5` learns that forests do not subsample that way instead of training a
//! model that silently ignored the request.

use clap::ValueEnum;

use crate::CliError;
use crate::trees_args::{ModelKind, SaveFormat, TrainArgs};

use ModelKind::{Adaboost, Bagging, Cart, ExtraTrees, Gbdt, Hist, Rf, Stacking};

/// Models whose trees take the CART flags (`--max-depth`, `--criterion`, ...).
const CART_TREES: &[ModelKind] = &[Cart, Rf, ExtraTrees, Adaboost, Bagging, Gbdt];
/// The histogram booster only.
const HIST: &[ModelKind] = &[Hist];

/// The most worker threads `--threads` may ask for, per core.
pub const THREADS_PER_CORE: usize = 4;

/// Every flag that applies to some models only: its name, whether it was given, and the models it applies to.
fn flags(a: &TrainArgs) -> Vec<(&'static str, bool, &'static [ModelKind])> {
    vec![
        (
            "--n-estimators",
            a.n_estimators.is_some(),
            &[Rf, ExtraTrees, Adaboost, Bagging, Stacking, Gbdt, Hist],
        ),
        ("--max-depth", a.max_depth.is_some(), &[Cart, Rf, ExtraTrees, Adaboost, Bagging, Gbdt, Hist]),
        ("--max-features", a.max_features.is_some(), CART_TREES),
        ("--min-samples-split", a.min_samples_split.is_some(), CART_TREES),
        ("--min-samples-leaf", a.min_samples_leaf.is_some(), CART_TREES),
        ("--max-leaf-nodes", a.max_leaf_nodes.is_some(), CART_TREES),
        ("--criterion", a.criterion.is_some(), CART_TREES),
        ("--ccp-alpha", a.ccp_alpha.is_some(), CART_TREES),
        ("--learning-rate", a.learning_rate.is_some(), &[Adaboost, Gbdt, Hist]),
        ("--loss", a.loss.is_some(), &[Gbdt]),
        ("--alpha", a.alpha.is_some(), &[Gbdt]),
        ("--subsample", a.subsample.is_some(), &[Gbdt, Hist]),
        ("--objective", a.objective.is_some(), HIST),
        ("--lambda", a.lambda.is_some(), HIST),
        ("--reg-alpha", a.reg_alpha.is_some(), HIST),
        ("--gamma", a.gamma.is_some(), HIST),
        ("--min-child-weight", a.min_child_weight.is_some(), HIST),
        ("--colsample-bytree", a.colsample_bytree.is_some(), HIST),
        ("--colsample-bylevel", a.colsample_bylevel.is_some(), HIST),
        ("--colsample-bynode", a.colsample_bynode.is_some(), HIST),
        ("--monotone-constraints", a.monotone_constraints.is_some(), HIST),
        ("--max-bin", a.max_bin.is_some(), HIST),
        ("--categorical-features", a.categorical_features.is_some(), HIST),
        ("--max-cat-to-onehot", a.max_cat_to_onehot.is_some(), HIST),
        ("--max-cat-threshold", a.max_cat_threshold.is_some(), HIST),
        ("--eval-metric", a.eval_metric.is_some(), HIST),
        ("--max-leaves", a.max_leaves.is_some(), HIST),
        ("--grow-policy", a.grow_policy.is_some(), HIST),
        ("--eval-data", a.eval_data.is_some(), HIST),
        ("--early-stopping-rounds", a.early_stopping_rounds.is_some(), HIST),
        ("--save-format xgboost", a.save_format == SaveFormat::Xgboost, HIST),
        ("--bootstrap", a.bootstrap.is_some(), &[Rf, ExtraTrees]),
        ("--oob-score", a.oob_score, &[Rf, ExtraTrees, Bagging]),
        ("--cv", a.cv.is_some(), &[Stacking]),
        ("--passthrough", a.passthrough, &[Stacking]),
    ]
}

fn name(kind: ModelKind) -> String {
    kind.to_possible_value().map_or_else(|| format!("{kind:?}"), |v| v.get_name().to_string())
}

/// Refuses flags the chosen model would ignore, and flag combinations that cannot work, before any work.
pub fn check_train_flags(a: &TrainArgs) -> Result<(), CliError> {
    for (flag, given, models) in flags(a) {
        if given && !models.contains(&a.model) {
            let list: Vec<String> = models.iter().map(|&m| name(m)).collect();
            return Err(CliError::Usage(format!(
                "{flag} does not apply to --model {} (it applies to: {})",
                name(a.model),
                list.join(", ")
            )));
        }
    }
    if a.early_stopping_rounds.is_some() && a.eval_data.is_none() {
        return Err(CliError::Usage(
            "--early-stopping-rounds needs --eval-data (the set whose metric decides when to stop)".into(),
        ));
    }
    Ok(())
}

/// The worker threads for `--threads`: all cores by default; more than [`THREADS_PER_CORE`] per core is
/// refused (each thread costs memory and start-up time, and a tree fit gains nothing past the cores).
pub fn threads(requested: Option<usize>) -> Result<usize, CliError> {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    match requested {
        None => Ok(cores),
        Some(0) => Err(CliError::Usage("--threads must be at least 1".into())),
        Some(t) if t > THREADS_PER_CORE * cores => Err(CliError::Usage(format!(
            "--threads {t} is more than {THREADS_PER_CORE} per core on this machine ({cores} cores: at most {})",
            THREADS_PER_CORE * cores
        ))),
        Some(t) => Ok(t),
    }
}
