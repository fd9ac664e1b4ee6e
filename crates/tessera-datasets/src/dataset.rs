//! The `Dataset` type: row-major f32 features, f32 targets, names and the kind of task.

use std::collections::BTreeMap;

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};

use crate::error::{Error, Result};

/// What the targets of a dataset mean.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Task {
    /// Class labels. `class_names[i]` names the class whose label is the i-th smallest target value;
    /// when the labels were read as text, the targets are the indices `0..n_classes` into `class_names`.
    Classification {
        /// The class names, in label order.
        class_names: Vec<String>,
    },
    /// Real-valued targets.
    Regression,
    /// No targets (a file read without a target column); the targets are all NaN.
    Unlabeled,
}

impl Task {
    /// The number of classes for a classification task, else `None`.
    pub fn n_classes(&self) -> Option<usize> {
        match self {
            Task::Classification { class_names } => Some(class_names.len()),
            _ => None,
        }
    }

    /// A short name: `classification`, `regression` or `unlabeled`.
    pub fn kind(&self) -> &'static str {
        match self {
            Task::Classification { .. } => "classification",
            Task::Regression => "regression",
            Task::Unlabeled => "unlabeled",
        }
    }
}

/// A table of examples: features (`n_samples x n_features`, row-major f32, NaN = missing), one f32 target
/// per row, the feature and target names, and the task.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    features: Array2<f32>,
    targets: Array1<f32>,
    feature_names: Vec<String>,
    target_name: String,
    task: Task,
}

impl Dataset {
    /// Builds a dataset, checking that the parts agree: one target per row, one name per column, no NaN
    /// target in a labelled task. The features are stored row-major whatever layout they arrive in.
    pub fn new(
        features: Array2<f32>,
        targets: Array1<f32>,
        feature_names: Vec<String>,
        target_name: impl Into<String>,
        task: Task,
    ) -> Result<Self> {
        let (rows, cols) = features.dim();
        if targets.len() != rows {
            return Err(Error::Shape(format!("{rows} feature rows but {} targets", targets.len())));
        }
        if feature_names.len() != cols {
            return Err(Error::Shape(format!(
                "{cols} feature columns but {} feature names",
                feature_names.len()
            )));
        }
        if task != Task::Unlabeled
            && let Some(i) = targets.iter().position(|t| t.is_nan())
        {
            return Err(Error::Shape(format!("target of row {i} is missing (NaN)")));
        }
        let features =
            if features.is_standard_layout() { features } else { features.as_standard_layout().into_owned() };
        Ok(Dataset { features, targets, feature_names, target_name: target_name.into(), task })
    }

    /// Builds a dataset with generated names (`x0`, `x1`, ...) and target name `target`.
    pub fn from_arrays(features: Array2<f32>, targets: Array1<f32>, task: Task) -> Result<Self> {
        let names = (0..features.ncols()).map(|i| format!("x{i}")).collect();
        Dataset::new(features, targets, names, "target", task)
    }

    /// The features, `n_samples x n_features`, row-major.
    pub fn features(&self) -> ArrayView2<'_, f32> {
        self.features.view()
    }

    /// The targets, one per row.
    pub fn targets(&self) -> ArrayView1<'_, f32> {
        self.targets.view()
    }

    /// The feature (column) names.
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    /// The target's name.
    pub fn target_name(&self) -> &str {
        &self.target_name
    }

    /// The task.
    pub fn task(&self) -> &Task {
        &self.task
    }

    /// Number of rows.
    pub fn n_samples(&self) -> usize {
        self.features.nrows()
    }

    /// Number of feature columns.
    pub fn n_features(&self) -> usize {
        self.features.ncols()
    }

    /// Takes the dataset apart: (features, targets, feature names, target name, task).
    pub fn into_parts(self) -> (Array2<f32>, Array1<f32>, Vec<String>, String, Task) {
        (self.features, self.targets, self.feature_names, self.target_name, self.task)
    }

    /// The rows at `indices` (in that order, repeats allowed) as a new dataset with the same names and task.
    /// An index past the end is an error.
    pub fn select(&self, indices: &[usize]) -> Result<Dataset> {
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.n_samples()) {
            return Err(Error::Shape(format!("row index {bad} out of range for {} rows", self.n_samples())));
        }
        Ok(Dataset {
            features: self.features.select(Axis(0), indices),
            targets: self.targets.select(Axis(0), indices),
            feature_names: self.feature_names.clone(),
            target_name: self.target_name.clone(),
            task: self.task.clone(),
        })
    }

    /// Rows, columns, missing values per column and the target distribution, as `tessera data info` prints.
    pub fn summary(&self) -> Summary {
        let missing_per_column =
            self.features.columns().into_iter().map(|c| c.iter().filter(|v| v.is_nan()).count()).collect();
        let mut class_counts = BTreeMap::new();
        let mut target_stats = None;
        match &self.task {
            Task::Classification { class_names } => {
                let labels = sorted_distinct(self.targets.iter().copied());
                for (i, name) in class_names.iter().enumerate() {
                    let label = labels.get(i).copied().unwrap_or(f32::NAN);
                    let count = self.targets.iter().filter(|&&t| t == label).count();
                    class_counts.insert(name.clone(), count);
                }
            }
            Task::Regression => {
                let n = self.targets.len().max(1) as f64;
                let mean = self.targets.iter().map(|&t| f64::from(t)).sum::<f64>() / n;
                let var = self.targets.iter().map(|&t| (f64::from(t) - mean).powi(2)).sum::<f64>() / n;
                let min = self.targets.iter().copied().fold(f32::INFINITY, f32::min);
                let max = self.targets.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                target_stats = Some(TargetStats { mean, std: var.sqrt(), min, max });
            }
            Task::Unlabeled => {}
        }
        Summary {
            n_samples: self.n_samples(),
            n_features: self.n_features(),
            feature_names: self.feature_names.clone(),
            missing_per_column,
            task: self.task.kind(),
            class_counts,
            target_stats,
        }
    }
}

/// The distinct non-NaN values of `values`, sorted ascending.
pub(crate) fn sorted_distinct(values: impl Iterator<Item = f32>) -> Vec<f32> {
    let mut v: Vec<f32> = values.filter(|x| !x.is_nan()).collect();
    v.sort_by(f32::total_cmp);
    v.dedup();
    v
}

/// Summary statistics of a regression target.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetStats {
    /// Mean.
    pub mean: f64,
    /// Population standard deviation.
    pub std: f64,
    /// Smallest value.
    pub min: f32,
    /// Largest value.
    pub max: f32,
}

/// What [`Dataset::summary`] reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Number of rows.
    pub n_samples: usize,
    /// Number of feature columns.
    pub n_features: usize,
    /// Feature names.
    pub feature_names: Vec<String>,
    /// Missing (NaN) values in each feature column.
    pub missing_per_column: Vec<usize>,
    /// `classification`, `regression` or `unlabeled`.
    pub task: &'static str,
    /// Rows per class, by class name (classification only).
    pub class_counts: BTreeMap<String, usize>,
    /// Target statistics (regression only).
    pub target_stats: Option<TargetStats>,
}

impl Summary {
    /// Total missing feature values.
    pub fn missing_total(&self) -> usize {
        self.missing_per_column.iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn new_checks_shapes_and_labels() {
        let x = array![[1.0f32, 2.0], [3.0, 4.0]];
        assert!(Dataset::from_arrays(x.clone(), array![0.0, 1.0, 2.0], Task::Regression).is_err());
        assert!(Dataset::new(x.clone(), array![0.0, 1.0], vec!["a".into()], "y", Task::Regression).is_err());
        let err = Dataset::from_arrays(x.clone(), array![0.0, f32::NAN], Task::Regression).unwrap_err();
        assert!(err.to_string().contains("row 1"), "{err}");
        assert!(Dataset::from_arrays(x, array![f32::NAN, f32::NAN], Task::Unlabeled).is_ok());
    }

    #[test]
    fn select_and_summary() {
        let x = array![[1.0f32, f32::NAN], [3.0, 4.0], [5.0, f32::NAN]];
        let task = Task::Classification { class_names: vec!["no".into(), "yes".into()] };
        let ds =
            Dataset::from_arrays(x.reversed_axes().reversed_axes(), array![0.0, 1.0, 1.0], task).unwrap();
        let sub = ds.select(&[2, 0]).unwrap();
        assert_eq!(sub.targets().to_vec(), vec![1.0, 0.0]);
        assert_eq!(sub.features()[[1, 0]], 1.0);
        assert!(ds.select(&[3]).is_err());
        let s = ds.summary();
        assert_eq!(s.missing_per_column, vec![0, 2]);
        assert_eq!(s.class_counts["yes"], 2);
        assert_eq!(s.class_counts["no"], 1);
    }
}
