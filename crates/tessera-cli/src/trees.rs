//! `tessera trees`: `train` a tree model on a CSV file, `predict` with it, `eval` it. Flags use
//! scikit-learn's parameter names. Model files hold the feature names, so prediction files are matched
//! by column name, whatever their column order.

use std::time::Instant;

use clap::ValueEnum;
use serde_json::json;
use tessera_datasets::{CsvOptions, Dataset, Task, TaskKind};
use tessera_trees::{
    AdaBoostClassifier, AdaBoostRegressor, AnyEstimator, AnyModel, Bagging, BoosterParams,
    DecisionTreeClassifier, DecisionTreeRegressor, Estimator, ExtraTreesClassifier, ExtraTreesRegressor,
    FittedBooster, GbLoss, GradientBoostingClassifier, GradientBoostingRegressor, HistGradientBooster, Model,
    Objective, RandomForestClassifier, RandomForestRegressor, StackingClassifier, StackingRegressor,
    TreeParams, metrics, save_model,
};

use crate::CliError;
use crate::progress::spinner;
use crate::trees_io::{
    MODEL_KIND, SavedModel, check_libsvm_target, check_target_column, feature_options, features_for,
    is_libsvm, label_text, load, missing_column_hint, read_table, targets_for, text_classes,
};

pub use crate::trees_args::{EvalArgs, ModelKind, PredictArgs, SaveFormat, TrainArgs, TreesCommand};

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

/// An input file must exist before any (possibly long) work: a model file can take seconds to load.
fn require_file(flag: &str, path: &std::path::Path) -> Result<(), CliError> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Err(CliError::Usage(format!("{flag} {}: is a directory", path.display()))),
        Ok(_) => Ok(()),
        Err(e) => Err(CliError::Usage(format!("{flag} {}: {e}", path.display()))),
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
    let classes = text_classes(&data);
    if a.save_format == SaveFormat::Xgboost && classes.is_some() {
        return Err(CliError::Usage(
            "--save-format xgboost needs numeric class labels (XGBoost has no class names)".into(),
        ));
    }
    if a.model == ModelKind::Hist {
        // The booster shows its own bar over rounds; one progress line at a time.
        bar.finish_and_clear();
    }
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
        text_classes: classes,
        model,
    };
    match (a.save_format, &saved.model) {
        (SaveFormat::Tessera, _) => save_model(&saved, MODEL_KIND, &a.out)?,
        (SaveFormat::Xgboost, AnyModel::Booster(b)) => {
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
        let used = if model.use_best {
            format!(
                "; predictions use rounds 0..={best} of {} (--all-rounds for every one)",
                model.n_rounds()
            )
        } else {
            String::new()
        };
        eprintln!("best iteration {best}: eval metric {:.5}{used}", hist[best]);
    }
    Ok(model)
}

fn predict(a: &PredictArgs) -> Result<(), CliError> {
    tessera_tensor::check_output(&a.out, &[a.model.as_path(), a.data.as_path()])?;
    require_file("--data", &a.data)?;
    let model = load(&a.model, a.format, a.all_rounds)?;
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
    require_file("--data", &a.data)?;
    let model = load(&a.model, a.format, a.all_rounds)?;
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
