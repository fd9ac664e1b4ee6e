//! What `tessera trees` reads: tables (CSV, or LibSVM by extension), the CLI's model files (`SavedModel`:
//! the model with its feature names, target and text classes) and XGBoost `model.json` files, each checked
//! whole when loaded; and how a table is matched to a model (features by name, labels by name).

use std::path::Path;

use ndarray::{Array2, Axis};
use serde::{Deserialize, Serialize};
use tessera_datasets::{CsvOptions, Dataset, Task, read_csv};
use tessera_trees::{AnyModel, Model};

use crate::CliError;
use crate::trees_args::ModelFormat;

/// The kind under which the CLI saves its model files.
pub(crate) const MODEL_KIND: &str = "tessera_cli_model";

/// What the CLI saves: the model with the feature columns it expects, by name.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct SavedModel {
    pub(crate) feature_names: Vec<String>,
    pub(crate) target: String,
    /// The class names when the training labels were text (the model then predicts their indices).
    pub(crate) text_classes: Option<Vec<String>>,
    pub(crate) model: AnyModel,
}

/// The class names of a classification data set whose labels were text, if they were.
pub(crate) fn text_classes(data: &Dataset) -> Option<Vec<String>> {
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
pub(crate) fn targets_for(
    model: &SavedModel,
    data: &Dataset,
    source: &Path,
) -> Result<ndarray::Array1<f32>, CliError> {
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
pub(crate) fn label_text(model: &SavedModel, v: f32) -> String {
    match &model.text_classes {
        Some(names) => names.get(v as usize).cloned().unwrap_or_else(|| v.to_string()),
        None => v.to_string(),
    }
}

/// Whether `path` names a LibSVM file (by its extension, as `data info` decides).
pub(crate) fn is_libsvm(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref(),
        Some("svm" | "libsvm" | "svmlight")
    )
}

/// For a LibSVM file, `--target` must be `label` (the format's label comes first on each line).
pub(crate) fn check_libsvm_target(path: &Path, target: &str) -> Result<(), CliError> {
    if is_libsvm(path) && target != "label" {
        return Err(CliError::Usage(format!(
            "{}: a LibSVM file's target is its first column: pass --target label (not `{target}`)",
            path.display()
        )));
    }
    Ok(())
}

/// Reads a table: CSV, or LibSVM by extension (`.svm`, `.libsvm`, `.svmlight`), whose label comes first on
/// each line (so `--target` and `--ignore` do not apply) and whose features are `f1`, `f2`, ...;
/// `n_features` pads a LibSVM file to the model's width.
pub(crate) fn read_table(
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
pub(crate) fn missing_column_hint(e: tessera_datasets::Error, source: &Path) -> CliError {
    match &e {
        tessera_datasets::Error::MissingColumn { name, .. } => CliError::Usage(format!(
            "{}: the model needs column `{name}`, which the file lacks",
            source.display()
        )),
        _ => CliError::Datasets(e),
    }
}

/// Loads a tessera model file, or an XGBoost `model.json` (read once, parsed once), and checks it whole:
/// the model's fields ([`Model::validate`]) and the CLI's own (feature names and text classes against the
/// model). XGBoost models without feature names take the file's feature columns in order.
pub(crate) fn load(path: &Path, format: ModelFormat, all_rounds: bool) -> Result<SavedModel, CliError> {
    let text = tessera_trees::read_model_text(path)?;
    let xgboost = match format {
        ModelFormat::Tessera => false,
        ModelFormat::Xgboost => true,
        ModelFormat::Auto => text.trim_start().starts_with('{') && text.contains("\"learner\""),
    };
    let mut saved = if xgboost {
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
    if all_rounds {
        match &mut saved.model {
            AnyModel::Booster(b) => b.use_best = false,
            _ => {
                return Err(CliError::Usage(
                    "--all-rounds applies to boosters (hist, XGBoost models)".into(),
                ));
            }
        }
    }
    Ok(saved)
}

impl SavedModel {
    /// The model's own check, then the CLI's fields against it.
    pub(crate) fn validate(&self) -> Result<(), String> {
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
pub(crate) fn first_duplicate(names: &[String]) -> Option<&str> {
    let mut seen = std::collections::HashSet::new();
    names.iter().find(|n| !seen.insert(n.as_str())).map(String::as_str)
}

/// CSV options reading a model's features: by name, or (a model without names) every column but `target`.
pub(crate) fn feature_options(model: &SavedModel, target: Option<&str>) -> CsvOptions {
    CsvOptions {
        target: target.map(str::to_string),
        features: (!model.feature_names.is_empty()).then(|| model.feature_names.clone()),
        ..CsvOptions::default()
    }
}

/// Checks `--target NAME` against the file's header and the model: the column must exist and must not be
/// one of the model's features. Returns the header.
pub(crate) fn check_target_column(
    data: &Path,
    target: &str,
    model: &SavedModel,
) -> Result<Vec<String>, CliError> {
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
pub(crate) fn features_for(
    model: &SavedModel,
    data: &Dataset,
    source: &Path,
) -> Result<Array2<f32>, CliError> {
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
