//! `tessera trees`: `train` a tree model on a CSV file, `predict` with it, `eval` it. Flags use
//! scikit-learn's parameter names. Model files hold the feature names, so prediction files are matched
//! by column name, whatever their column order.

use std::path::Path;
use std::time::Instant;

use clap::ValueEnum;
use ndarray::{Array2, Axis};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tessera_datasets::{CsvOptions, Dataset, Task, TaskKind, read_csv};
use tessera_trees::{
    AdaBoostClassifier, AdaBoostRegressor, AnyEstimator, AnyModel, Bagging, BoosterParams,
    DecisionTreeClassifier, DecisionTreeRegressor, Estimator, ExtraTreesClassifier, ExtraTreesRegressor,
    FittedBooster, GbLoss, GradientBoostingClassifier, GradientBoostingRegressor, HistGradientBooster, Model,
    Objective, RandomForestClassifier, RandomForestRegressor, StackingClassifier, StackingRegressor,
    TreeParams, metrics, save_model,
};

use crate::CliError;
use crate::progress::spinner;

/// The kind under which the CLI saves its model files.
const MODEL_KIND: &str = "tessera_cli_model";

pub use crate::trees_args::{
    EvalArgs, ModelFormat, ModelKind, PredictArgs, SaveFormat, TrainArgs, TreesCommand,
};

/// What the CLI saves: the model with the feature columns it expects, by name.
#[derive(Debug, Serialize, Deserialize)]
struct SavedModel {
    feature_names: Vec<String>,
    target: String,
    /// The class names when the training labels were text (the model then predicts their indices).
    text_classes: Option<Vec<String>>,
    model: AnyModel,
}

/// The class names of a classification data set whose labels were text, if they were.
fn text_classes(data: &Dataset) -> Option<Vec<String>> {
    match data.task() {
        Task::Classification { class_names } if class_names.iter().any(|c| c.parse::<f32>().is_err()) => {
            Some(class_names.clone())
        }
        _ => None,
    }
}

/// The targets of `data` in the model's label space. A classifier's labels are matched by name: text
/// labels to the training classes' names, numbers to its numeric classes; a label the model never saw, or
/// text for a model of numbers (and the reverse), is an error naming it.
fn targets_for(model: &SavedModel, data: &Dataset, source: &Path) -> Result<ndarray::Array1<f32>, CliError> {
    let (Some(classes), Task::Classification { class_names }) = (model.model.classes(), data.task()) else {
        return Ok(data.targets().to_owned());
    };
    let is_text = |n: &str| n.parse::<f32>().is_err();
    let file_is_text = class_names.iter().any(|n| is_text(n));
    let shown: Vec<String> = classes.iter().map(|&c| label_text(model, c)).collect();
    let unseen = |name: &str| {
        CliError::Usage(format!(
            "{}: label `{name}` did not occur in the training data (the model's classes: {})",
            source.display(),
            shown.join(", ")
        ))
    };
    match (&model.text_classes, file_is_text) {
        (None, true) => Err(CliError::Usage(format!(
            "{}: the labels are text (`{}`), but the model was trained on numeric classes ({})",
            source.display(),
            class_names.iter().find(|n| is_text(n)).map_or("", String::as_str),
            shown.join(", ")
        ))),
        (Some(known), _) => data
            .targets()
            .iter()
            .map(|&t| {
                let name = &class_names[t as usize];
                known.iter().position(|k| k == name).map(|i| i as f32).ok_or_else(|| unseen(name))
            })
            .collect(),
        (None, false) => data
            .targets()
            .iter()
            .map(|&t| if classes.contains(&t) { Ok(t) } else { Err(unseen(&t.to_string())) })
            .collect(),
    }
}

/// A prediction as written to a file: the class name for text labels, else the number.
fn label_text(model: &SavedModel, v: f32) -> String {
    match &model.text_classes {
        Some(names) => names.get(v as usize).cloned().unwrap_or_else(|| v.to_string()),
        None => v.to_string(),
    }
}

fn model_name(kind: ModelKind) -> String {
    kind.to_possible_value().map_or_else(|| format!("{kind:?}"), |v| v.get_name().to_string())
}

/// Runs a `tessera trees` command.
pub fn run(cmd: TreesCommand) -> Result<(), CliError> {
    match cmd {
        TreesCommand::Train(a) => train(&a),
        TreesCommand::Predict(a) => predict(&a),
        TreesCommand::Eval(a) => eval(&a),
    }
}

fn tree_params(a: &TrainArgs, mut p: TreeParams) -> Result<TreeParams, CliError> {
    if let Some(c) = a.criterion {
        p.criterion = c;
    }
    if let Some(m) = a.max_features {
        p.max_features = m;
    }
    p.max_depth = a.max_depth.or(p.max_depth);
    p.min_samples_split = a.min_samples_split.unwrap_or(p.min_samples_split);
    p.min_samples_leaf = a.min_samples_leaf.unwrap_or(p.min_samples_leaf);
    p.max_leaf_nodes = a.max_leaf_nodes.or(p.max_leaf_nodes);
    p.ccp_alpha = a.ccp_alpha.unwrap_or(p.ccp_alpha);
    p.seed = a.seed;
    Ok(p)
}

fn estimator(a: &TrainArgs, classify: bool) -> Result<AnyEstimator, CliError> {
    let forest = |mut p: tessera_trees::ForestParams| -> Result<tessera_trees::ForestParams, CliError> {
        p.tree = tree_params(a, p.tree)?;
        p.n_estimators = a.n_estimators.unwrap_or(p.n_estimators);
        p.bootstrap = a.bootstrap.unwrap_or(p.bootstrap);
        p.oob_score = a.oob_score;
        p.seed = a.seed;
        Ok(p)
    };
    Ok(match (a.model, classify) {
        (ModelKind::Cart, true) => AnyEstimator::DecisionTreeClassifier(DecisionTreeClassifier {
            params: tree_params(a, DecisionTreeClassifier::new().params)?,
        }),
        (ModelKind::Cart, false) => AnyEstimator::DecisionTreeRegressor(DecisionTreeRegressor {
            params: tree_params(a, DecisionTreeRegressor::new().params)?,
        }),
        (ModelKind::Rf, true) => AnyEstimator::RandomForestClassifier(RandomForestClassifier {
            params: forest(RandomForestClassifier::new().params)?,
        }),
        (ModelKind::Rf, false) => AnyEstimator::RandomForestRegressor(RandomForestRegressor {
            params: forest(RandomForestRegressor::new().params)?,
        }),
        (ModelKind::ExtraTrees, true) => AnyEstimator::ExtraTreesClassifier(ExtraTreesClassifier {
            params: forest(ExtraTreesClassifier::new().params)?,
        }),
        (ModelKind::ExtraTrees, false) => AnyEstimator::ExtraTreesRegressor(ExtraTreesRegressor {
            params: forest(ExtraTreesRegressor::new().params)?,
        }),
        (ModelKind::Adaboost, true) => {
            let mut e = AdaBoostClassifier::new().seed(a.seed);
            e.estimator.params = tree_params(a, e.estimator.params)?;
            e.params.n_estimators = a.n_estimators.unwrap_or(e.params.n_estimators);
            e.params.learning_rate = a.learning_rate.unwrap_or(e.params.learning_rate);
            AnyEstimator::AdaBoostClassifier(e)
        }
        (ModelKind::Adaboost, false) => {
            let mut e = AdaBoostRegressor::new().seed(a.seed);
            e.estimator.params = tree_params(a, e.estimator.params)?;
            e.params.n_estimators = a.n_estimators.unwrap_or(e.params.n_estimators);
            e.params.learning_rate = a.learning_rate.unwrap_or(e.params.learning_rate);
            AnyEstimator::AdaBoostRegressor(e)
        }
        (ModelKind::Gbdt, _) => {
            // The quantile of the huber and quantile losses comes from --alpha.
            let loss = match a.loss {
                None if classify => GbLoss::LogLoss,
                None => GbLoss::SquaredError,
                Some(GbLoss::Huber { .. }) => GbLoss::Huber { alpha: a.alpha.unwrap_or(0.9) },
                Some(GbLoss::Quantile { .. }) => GbLoss::Quantile { alpha: a.alpha.unwrap_or(0.9) },
                Some(loss) => loss,
            };
            let mut p = if classify {
                GradientBoostingClassifier::new().params
            } else {
                GradientBoostingRegressor::new().params
            };
            p.loss = loss;
            p.tree = tree_params(a, p.tree)?;
            p.n_estimators = a.n_estimators.unwrap_or(p.n_estimators);
            p.learning_rate = a.learning_rate.unwrap_or(p.learning_rate);
            p.subsample = a.subsample.unwrap_or(p.subsample);
            p.seed = a.seed;
            if classify {
                AnyEstimator::GradientBoostingClassifier(GradientBoostingClassifier { params: p })
            } else {
                AnyEstimator::GradientBoostingRegressor(GradientBoostingRegressor { params: p })
            }
        }
        (ModelKind::Bagging | ModelKind::Stacking | ModelKind::Hist, _) => {
            return Err(CliError::Usage("internal: bagging and stacking are built separately".into()));
        }
    })
}

fn fit(a: &TrainArgs, data: &Dataset, classify: bool) -> Result<AnyModel, CliError> {
    let (x, y) = (data.features(), data.targets());
    let model = match a.model {
        ModelKind::Hist => AnyModel::Booster(fit_hist(a, data, classify)?),
        ModelKind::Bagging => {
            fn configure<E>(mut b: Bagging<E>, a: &TrainArgs) -> Bagging<E> {
                b.params.n_estimators = a.n_estimators.unwrap_or(b.params.n_estimators);
                b.oob_score(a.oob_score).seed(a.seed)
            }
            let fitted = if classify {
                let tree =
                    DecisionTreeClassifier { params: tree_params(a, DecisionTreeClassifier::new().params)? };
                configure(Bagging::new(tree), a).fit(x, y)?
            } else {
                let tree =
                    DecisionTreeRegressor { params: tree_params(a, DecisionTreeRegressor::new().params)? };
                configure(Bagging::new(tree), a).fit(x, y)?
            };
            if let Some(s) = fitted.oob_score {
                eprintln!("out-of-bag score: {s:.4}");
            }
            AnyModel::Bagging(fitted)
        }
        ModelKind::Stacking => {
            let n = a.n_estimators.unwrap_or(50);
            let members = if classify {
                vec![
                    (
                        "rf".to_string(),
                        AnyEstimator::RandomForestClassifier(RandomForestClassifier::new().n_estimators(n)),
                    ),
                    (
                        "et".to_string(),
                        AnyEstimator::ExtraTreesClassifier(ExtraTreesClassifier::new().n_estimators(n)),
                    ),
                ]
            } else {
                vec![
                    (
                        "rf".to_string(),
                        AnyEstimator::RandomForestRegressor(RandomForestRegressor::new().n_estimators(n)),
                    ),
                    (
                        "et".to_string(),
                        AnyEstimator::ExtraTreesRegressor(ExtraTreesRegressor::new().n_estimators(n)),
                    ),
                ]
            };
            let fitted = if classify {
                let mut s = StackingClassifier::new(members);
                (s.params.cv, s.params.passthrough, s.params.seed) =
                    (a.cv.unwrap_or(5), a.passthrough, a.seed);
                s.fit(x, y)?
            } else {
                let mut s = StackingRegressor::new(members);
                (s.params.cv, s.params.passthrough, s.params.seed) =
                    (a.cv.unwrap_or(5), a.passthrough, a.seed);
                s.fit(x, y)?
            };
            AnyModel::Stacking(fitted)
        }
        _ => {
            let m = estimator(a, classify)?.fit(x, y)?;
            if let AnyModel::Forest(f) = &m
                && let Some(s) = f.oob_score
            {
                eprintln!("out-of-bag score: {s:.4}");
            }
            m
        }
    };
    Ok(model)
}

/// The task the target is read as: `--task`, or the one a histogram booster's `--objective` implies (a
/// regression objective on integer labels is a regression; a classification objective needs classes).
fn train_task(a: &TrainArgs) -> Result<Option<TaskKind>, CliError> {
    let from_objective = a.objective.map(|objective| {
        let booster = HistGradientBooster { params: BoosterParams { objective, ..Default::default() } };
        if booster.is_classifier() { TaskKind::Classification } else { TaskKind::Regression }
    });
    let given = a.task.map(TaskKind::from);
    match (given, from_objective) {
        (Some(t), Some(o)) if t != o => Err(CliError::Usage(format!(
            "--task {} contradicts --objective {} (a {} objective)",
            if t == TaskKind::Regression { "regression" } else { "classification" },
            a.objective.map(|o| format!("{o:?}")).unwrap_or_default(),
            if o == TaskKind::Regression { "regression" } else { "classification" },
        ))),
        (Some(t), _) => Ok(Some(t)),
        (None, o) => Ok(o),
    }
}

/// Whether `path` names a LibSVM file (by its extension, as `data info` decides).
fn is_libsvm(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref(),
        Some("svm" | "libsvm" | "svmlight")
    )
}

/// Reads a table: CSV, or LibSVM by extension (`.svm`, `.libsvm`, `.svmlight`), whose label comes first on
/// each line (so `--target` and `--ignore` do not apply) and whose features are `f1`, `f2`, ...;
/// `n_features` pads a LibSVM file to the model's width.
/// For a LibSVM file, `--target` must be `label` (the format's label comes first on each line).
fn check_libsvm_target(path: &Path, target: &str) -> Result<(), CliError> {
    if is_libsvm(path) && target != "label" {
        return Err(CliError::Usage(format!(
            "{}: a LibSVM file's target is its first column: pass --target label (not `{target}`)",
            path.display()
        )));
    }
    Ok(())
}

fn read_table(
    path: &Path,
    options: &CsvOptions,
    n_features: Option<usize>,
) -> Result<Dataset, tessera_datasets::Error> {
    if !is_libsvm(path) {
        return read_csv(path, options);
    }
    let task = options.task;
    let ds = tessera_datasets::read_libsvm(
        path,
        &tessera_datasets::LibSvmOptions { n_features, zero_based: Some(false), task },
    )?;
    if options.target.is_none() {
        return Dataset::new(
            ds.features().to_owned(),
            ndarray::Array1::from_elem(ds.n_samples(), f32::NAN),
            ds.feature_names().to_vec(),
            "",
            Task::Unlabeled,
        );
    }
    Ok(ds)
}

/// Rewords a missing column of a prediction file as what the model needs.
fn missing_column_hint(e: tessera_datasets::Error, source: &Path) -> CliError {
    match &e {
        tessera_datasets::Error::MissingColumn { name, .. } => CliError::Usage(format!(
            "{}: the model needs column `{name}`, which the file lacks",
            source.display()
        )),
        _ => CliError::Datasets(e),
    }
}

fn train(a: &TrainArgs) -> Result<(), CliError> {
    crate::trees_flags::check_train_flags(a)?;
    let threads = crate::trees_flags::threads(a.threads)?;
    let mut inputs = vec![a.data.as_path()];
    inputs.extend(a.eval_data.as_deref());
    tessera_tensor::check_output(&a.out, &inputs)?;
    check_libsvm_target(&a.data, &a.target)?;
    if is_libsvm(&a.data) && !a.ignore.is_empty() {
        return Err(CliError::Usage("--ignore applies to CSV files (LibSVM columns have no names)".into()));
    }
    let bar = spinner(&format!("reading {}", a.data.display()));
    let features = if a.ignore.is_empty() {
        None
    } else {
        let header = tessera_datasets::read_csv_header(&a.data)?;
        if let Some(unknown) = a.ignore.iter().find(|c| !header.contains(c)) {
            return Err(CliError::Usage(format!(
                "--ignore `{unknown}`: {} has no such column",
                a.data.display()
            )));
        }
        Some(header.into_iter().filter(|c| *c != a.target && !a.ignore.contains(c)).collect())
    };
    let options = CsvOptions {
        target: Some(a.target.clone()),
        task: train_task(a)?,
        features,
        ..CsvOptions::default()
    };
    let data = read_table(&a.data, &options, None)?;
    let classify = match data.task() {
        Task::Classification { class_names } if class_names.len() < 2 => {
            return Err(CliError::Usage(format!(
                "{}: the target `{}` holds only one class (`{}`); a classifier needs at least two",
                a.data.display(),
                a.target,
                class_names.first().map_or("", String::as_str)
            )));
        }
        Task::Classification { .. } => true,
        Task::Regression => false,
        Task::Unlabeled => return Err(CliError::Usage("the training data has no target".into())),
    };
    bar.set_message(format!(
        "training {} ({}) on {} rows x {} features",
        model_name(a.model),
        if classify { "classification" } else { "regression" },
        data.n_samples(),
        data.n_features()
    ));
    let start = Instant::now();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| CliError::Usage(format!("--threads: {e}")))?;
    let model = pool.install(|| fit(a, &data, classify))?;
    let secs = start.elapsed().as_secs_f64();
    let saved = SavedModel {
        feature_names: data.feature_names().to_vec(),
        target: a.target.clone(),
        text_classes: text_classes(&data),
        model,
    };
    match (a.save_format, &saved.model) {
        (SaveFormat::Tessera, _) => save_model(&saved, MODEL_KIND, &a.out)?,
        (SaveFormat::Xgboost, AnyModel::Booster(b)) => {
            if saved.text_classes.is_some() {
                return Err(CliError::Usage(
                    "--save-format xgboost needs numeric class labels (XGBoost has no class names)".into(),
                ));
            }
            let json = tessera_trees::booster_to_xgboost_json(b, Some(&saved.feature_names));
            tessera_tensor::write_atomic(&a.out, |w| std::io::Write::write_all(w, json.as_bytes()))?;
        }
        (SaveFormat::Xgboost, _) => {
            return Err(CliError::Usage("--save-format xgboost applies to --model hist only".into()));
        }
    }
    bar.finish_and_clear();
    let pred = saved.model.predict(data.features())?;
    let train_metric = if classify {
        format!("training accuracy {:.4}", metrics::accuracy(data.targets(), pred.view())?)
    } else {
        format!("training RMSE {:.4}", metrics::rmse(data.targets(), pred.view())?)
    };
    eprintln!(
        "trained {} on {} rows x {} features in {secs:.2} s ({train_metric}); saved {}",
        model_name(a.model),
        data.n_samples(),
        data.n_features(),
        a.out.display()
    );
    Ok(())
}

/// `"(1,0,-1)"` (XGBoost's syntax; the parentheses are optional) as one constraint per feature.
fn parse_constraints(text: &str) -> Result<Vec<i8>, CliError> {
    let inner = text.trim().trim_start_matches('(').trim_end_matches(')');
    inner
        .split(',')
        .map(|v| {
            v.trim().parse::<i8>().ok().filter(|c| (-1..=1).contains(c)).ok_or_else(|| {
                CliError::Usage(format!(
                    "--monotone-constraints `{text}`: expected -1, 0 or 1 per feature, as in (1,0,-1)"
                ))
            })
        })
        .collect()
}

/// `--categorical-features`: column names or 0-based feature indices, comma-separated.
fn parse_categorical(text: &str, names: &[String]) -> Result<Vec<usize>, CliError> {
    text.split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| {
            names
                .iter()
                .position(|n| n == c)
                .or_else(|| c.parse::<usize>().ok().filter(|&i| i < names.len()))
                .ok_or_else(|| {
                    CliError::Usage(format!(
                        "--categorical-features: `{c}` is neither a feature column nor an index below {} \
                         (features: {})",
                        names.len(),
                        names.join(", ")
                    ))
                })
        })
        .collect()
}

/// The categorical columns `features`, once every value in them is checked to be a category (an integer
/// below 2^24) or missing; the error names the column and the first bad row (1-based, as in the file).
fn check_categories(data: &Dataset, features: Vec<usize>) -> Result<Vec<usize>, CliError> {
    let x = data.features();
    for &f in &features {
        if let Some((row, v)) =
            x.column(f).iter().enumerate().find(|(_, v)| !(v.is_nan() || tessera_trees::is_category(**v)))
        {
            return Err(CliError::Usage(format!(
                "--categorical-features: column `{}` holds {v} in data row {}: categories must be non-negative \
                 integers below 2^24 (empty cells are missing values)",
                data.feature_names()[f],
                row + 1
            )));
        }
    }
    Ok(features)
}

/// Trains the histogram booster with XGBoost's parameter names, printing each round's evaluation metric
/// (and elapsed time) on a terminal.
fn fit_hist(a: &TrainArgs, data: &Dataset, classify: bool) -> Result<FittedBooster, CliError> {
    let objective = match a.objective {
        Some(objective) => objective,
        None if classify => {
            if data.task().n_classes() == Some(2) {
                Objective::Logistic
            } else {
                Objective::Softprob
            }
        }
        None => Objective::SquaredError,
    };
    let d = BoosterParams::default();
    let params = BoosterParams {
        objective,
        n_estimators: a.n_estimators.unwrap_or(d.n_estimators),
        learning_rate: a.learning_rate.unwrap_or(d.learning_rate),
        max_depth: a.max_depth.unwrap_or(d.max_depth),
        lambda: a.lambda.unwrap_or(d.lambda),
        alpha: a.reg_alpha.unwrap_or(d.alpha),
        gamma: a.gamma.unwrap_or(d.gamma),
        min_child_weight: a.min_child_weight.unwrap_or(d.min_child_weight),
        subsample: a.subsample.unwrap_or(d.subsample),
        colsample_bytree: a.colsample_bytree.unwrap_or(d.colsample_bytree),
        colsample_bylevel: a.colsample_bylevel.unwrap_or(d.colsample_bylevel),
        colsample_bynode: a.colsample_bynode.unwrap_or(d.colsample_bynode),
        max_bin: a.max_bin.unwrap_or(d.max_bin),
        categorical_features: match &a.categorical_features {
            Some(text) => check_categories(data, parse_categorical(text, data.feature_names())?)?,
            None => Vec::new(),
        },
        max_cat_to_onehot: a.max_cat_to_onehot.unwrap_or(d.max_cat_to_onehot),
        max_cat_threshold: a.max_cat_threshold.unwrap_or(d.max_cat_threshold),
        monotone_constraints: match &a.monotone_constraints {
            Some(text) => parse_constraints(text)?,
            None => Vec::new(),
        },
        eval_metric: a.eval_metric,
        max_leaves: a.max_leaves.unwrap_or(d.max_leaves),
        grow_policy: a.grow_policy.unwrap_or(d.grow_policy),
        seed: a.seed,
        ..d
    };
    let eval = match &a.eval_data {
        Some(path) => {
            let options = CsvOptions {
                target: Some(a.target.clone()),
                task: Some(if classify { TaskKind::Classification } else { TaskKind::Regression }),
                features: Some(data.feature_names().to_vec()),
                ..CsvOptions::default()
            };
            Some(
                read_table(path, &options, Some(data.n_features()))
                    .map_err(|e| missing_column_hint(e, path))?,
            )
        }
        None => None,
    };
    let eval_sets: Vec<tessera_trees::EvalSet<'_>> =
        eval.iter().map(|e| ("eval", e.features(), e.targets())).collect();
    let bar = crate::progress::rounds(params.n_estimators as u64);
    let start = Instant::now();
    let model = HistGradientBooster { params }.fit_eval(
        data.features(),
        data.targets(),
        None,
        &eval_sets,
        a.early_stopping_rounds,
        |round, metrics| {
            let shown: Vec<String> = metrics.iter().map(|(n, v)| format!("{n} {v:.5}")).collect();
            bar.set_position(round as u64 + 1);
            bar.set_message(format!("{} [{:.1} s]", shown.join(", "), start.elapsed().as_secs_f64()));
        },
    )?;
    bar.finish_and_clear();
    if let (Some(best), Some((_, hist))) = (model.best_iteration, model.eval_history.first()) {
        eprintln!("best iteration {best}: eval metric {:.5}", hist[best]);
    }
    Ok(model)
}

/// Loads a tessera model file, or an XGBoost `model.json` (read once, parsed once), and checks it whole:
/// the model's fields ([`Model::validate`]) and the CLI's own (feature names and text classes against the
/// model). XGBoost models without feature names take the file's feature columns in order.
fn load(path: &Path, format: ModelFormat) -> Result<SavedModel, CliError> {
    let text = tessera_trees::read_model_text(path)?;
    let xgboost = match format {
        ModelFormat::Tessera => false,
        ModelFormat::Xgboost => true,
        ModelFormat::Auto => text.trim_start().starts_with('{') && text.contains("\"learner\""),
    };
    let saved = if xgboost {
        let m = tessera_trees::read_xgboost_json(&text, path)?;
        SavedModel {
            feature_names: m.feature_names,
            target: String::new(),
            text_classes: None,
            model: AnyModel::Booster(m.booster),
        }
    } else {
        tessera_trees::model_from_json::<SavedModel>(&text, MODEL_KIND, path)?
    };
    saved
        .validate()
        .map_err(|message| tessera_trees::Error::ModelFile { path: path.to_path_buf(), message })?;
    Ok(saved)
}

impl SavedModel {
    /// The model's own check, then the CLI's fields against it.
    fn validate(&self) -> Result<(), String> {
        self.model.validate().map_err(|e| e.to_string())?;
        let d = self.model.n_features();
        if !self.feature_names.is_empty() && self.feature_names.len() != d {
            return Err(format!(
                "`feature_names`: {} names for a model of {d} features",
                self.feature_names.len()
            ));
        }
        if let Some(dup) = first_duplicate(&self.feature_names) {
            return Err(format!("`feature_names`: `{dup}` appears twice"));
        }
        if let Some(names) = &self.text_classes {
            let classes = self.model.classes().map_or(0, <[f32]>::len);
            if names.len() != classes {
                return Err(format!("`text_classes`: {} names for {classes} classes", names.len()));
            }
            // A text-label model predicts class indices 0..K.
            let indices = self.model.classes().unwrap_or(&[]).iter().enumerate().all(|(i, &c)| c == i as f32);
            if !indices {
                return Err(
                    "`text_classes`: the model's classes are not the indices 0, 1, ... of the names".into()
                );
            }
        }
        Ok(())
    }
}

/// The first name that occurs twice, if any.
fn first_duplicate(names: &[String]) -> Option<&str> {
    let mut seen = std::collections::HashSet::new();
    names.iter().find(|n| !seen.insert(n.as_str())).map(String::as_str)
}

/// CSV options reading a model's features: by name, or (a model without names) every column but `target`.
fn feature_options(model: &SavedModel, target: Option<&str>) -> CsvOptions {
    CsvOptions {
        target: target.map(str::to_string),
        features: (!model.feature_names.is_empty()).then(|| model.feature_names.clone()),
        ..CsvOptions::default()
    }
}

/// Checks `--target NAME` against the file's header and the model: the column must exist and must not be
/// one of the model's features. Returns the header.
fn check_target_column(data: &Path, target: &str, model: &SavedModel) -> Result<Vec<String>, CliError> {
    let header = tessera_datasets::read_csv_header(data)?;
    if !header.iter().any(|c| c == target) {
        return Err(CliError::Usage(format!(
            "--target `{target}`: {} has no such column (columns: {})",
            data.display(),
            header.join(", ")
        )));
    }
    if model.feature_names.iter().any(|f| f == target) {
        let trained = if model.target.is_empty() {
            String::new()
        } else {
            format!("; it was trained to predict `{}`", model.target)
        };
        return Err(CliError::Usage(format!("--target `{target}` is one of the model's features{trained}")));
    }
    Ok(header)
}

/// The model's feature columns from `data`, matched by name (or, for a model without names, all of them in
/// order, which must be as many as the model has).
fn features_for(model: &SavedModel, data: &Dataset, source: &Path) -> Result<Array2<f32>, CliError> {
    if model.feature_names.is_empty() {
        let want = model.model.n_features();
        if data.n_features() != want {
            return Err(CliError::Usage(format!(
                "{}: the model has {want} features and no feature names; the file has {} feature columns{}",
                source.display(),
                data.n_features(),
                if data.n_features() == want + 1 {
                    " (pass --target NAME to leave the label column out)"
                } else {
                    ""
                }
            )));
        }
        return Ok(data.features().to_owned());
    }
    let index: Vec<usize> = model
        .feature_names
        .iter()
        .map(|name| {
            data.feature_names().iter().position(|n| n == name).ok_or_else(|| {
                CliError::Usage(format!(
                    "{}: the model needs column `{name}`, which the file lacks",
                    source.display()
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(data.features().select(Axis(1), &index))
}

fn predict(a: &PredictArgs) -> Result<(), CliError> {
    tessera_tensor::check_output(&a.out, &[a.model.as_path(), a.data.as_path()])?;
    let model = load(&a.model, a.format)?;
    let mut options = feature_options(&model, None);
    if let Some(target) = a.target.as_ref().filter(|_| !is_libsvm(&a.data)) {
        let header = check_target_column(&a.data, target, &model)?;
        if options.features.is_none() {
            options.features = Some(header.into_iter().filter(|c| c != target).collect());
        }
    }
    let data = read_table(&a.data, &options, Some(model.model.n_features()))
        .map_err(|e| missing_column_hint(e, &a.data))?;
    let x = features_for(&model, &data, &a.data)?;
    let mut header = Vec::new();
    let columns: Vec<Vec<String>> = if a.proba {
        let classes = model.model.classes().ok_or_else(|| {
            CliError::Usage("--proba needs a classifier; this model predicts values".into())
        })?;
        header.extend(classes.iter().map(|&c| format!("proba_{}", label_text(&model, c))));
        let p = model.model.predict_proba(x.view())?;
        p.columns().into_iter().map(|c| c.iter().map(f32::to_string).collect()).collect()
    } else {
        header.push("prediction".to_string());
        vec![model.model.predict(x.view())?.iter().map(|&v| label_text(&model, v)).collect()]
    };
    let mut columns = columns;
    if a.contributions {
        let AnyModel::Booster(b) = &model.model else {
            return Err(CliError::Usage(
                "--contributions needs a histogram booster or an XGBoost model".into(),
            ));
        };
        let c = b.predict_contributions(x.view())?;
        let d = b.n_features;
        let names: Vec<String> = if model.feature_names.is_empty() {
            (0..d).map(|j| format!("f{j}")).collect()
        } else {
            model.feature_names.clone()
        };
        for o in 0..b.n_outputs {
            let prefix = if b.n_outputs > 1 { format!("contrib_{o}_") } else { "contrib_".to_string() };
            header.extend(names.iter().map(|n| format!("{prefix}{n}")));
            header.push(if b.n_outputs > 1 { format!("bias_{o}") } else { "bias".to_string() });
        }
        columns.extend(c.columns().into_iter().map(|col| col.iter().map(f32::to_string).collect()));
    }
    let n = x.nrows();
    tessera_tensor::write_atomic(&a.out, |w| {
        writeln!(w, "{}", header.join(","))?;
        for i in 0..n {
            let row: Vec<&str> = columns.iter().map(|c| c[i].as_str()).collect();
            writeln!(w, "{}", row.join(","))?;
        }
        Ok(())
    })?;
    eprintln!("wrote {} predictions to {}", n, a.out.display());
    Ok(())
}

fn eval(a: &EvalArgs) -> Result<(), CliError> {
    let model = load(&a.model, a.format)?;
    check_libsvm_target(&a.data, &a.target)?;
    if !is_libsvm(&a.data) {
        check_target_column(&a.data, &a.target, &model)?;
    }
    let task = if model.model.classes().is_some() { TaskKind::Classification } else { TaskKind::Regression };
    let options = CsvOptions { task: Some(task), ..feature_options(&model, Some(&a.target)) };
    let data = read_table(&a.data, &options, Some(model.model.n_features()))
        .map_err(|e| missing_column_hint(e, &a.data))?;
    let x = features_for(&model, &data, &a.data)?;
    let y_owned = targets_for(&model, &data, &a.data)?;
    let y = y_owned.view();
    let pred = model.model.predict(x.view())?;
    let out = match model.model.classes() {
        Some(classes) => {
            let proba = model.model.predict_proba(x.view()).ok();
            let mut m = json!({
                "rows": y.len(),
                "accuracy": metrics::accuracy(y, pred.view())?,
                "confusion_matrix": metrics::confusion_matrix(y, pred.view(), classes)?,
                "classes": classes,
            });
            if let Some(p) = &proba {
                if let Ok(l) = metrics::log_loss(y, p.view(), classes) {
                    m["log_loss"] = json!(l);
                }
                if classes.len() == 2 {
                    // Undefined (null) when the file holds only one of the two classes.
                    m["roc_auc"] = json!(metrics::roc_auc(y, p.column(1), classes[1]).ok());
                }
            }
            m
        }
        None => json!({
            "rows": y.len(),
            "rmse": metrics::rmse(y, pred.view())?,
            "mae": metrics::mae(y, pred.view())?,
            "r2": metrics::r2(y, pred.view())?,
        }),
    };
    println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    Ok(())
}
