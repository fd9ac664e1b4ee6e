//! LibSVM / SVMlight sparse text: `label index:value index:value ...  # comment`.
//!
//! Entries absent from a line are zeros (the format's meaning, as in scikit-learn's
//! `load_svmlight_file`); a value written `nan` is a missing value. Indices are one-based unless the file
//! uses index 0 somewhere (auto-detected, as scikit-learn's `zero_based="auto"`), or the caller says.
//! `qid:N` tokens (ranking groups) are skipped.

use std::io::{BufReader, Read};
use std::path::Path;

use ndarray::{Array1, Array2};

use crate::csv_read::TaskKind;
use crate::dataset::{Dataset, Task};
use crate::error::{Error, Result};
use crate::limits::{MAX_LINE_BYTES, check_dense, check_inferred_features, read_line_bounded};
use crate::targets::{class_task, infer_task};

/// How to read a LibSVM file.
#[derive(Debug, Clone, Default)]
pub struct LibSvmOptions {
    /// The number of features; `None` takes one more than the largest index seen. An index at or past a
    /// given count is an error.
    pub n_features: Option<usize>,
    /// Whether indices start at 0; `None` detects it (zero-based if any index is 0).
    pub zero_based: Option<bool>,
    /// The task; `None` infers it as for CSV (few distinct integer labels mean classification).
    pub task: Option<TaskKind>,
}

/// Reads a LibSVM file into a dense [`Dataset`]. Errors name the file, line and column (1-based
/// character position of the bad token).
pub fn read_libsvm(path: impl AsRef<Path>, options: &LibSvmOptions) -> Result<Dataset> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(|e| Error::Io { path: path.to_path_buf(), source: e })?;
    read_libsvm_from(file, path, options)
}

/// Reads LibSVM text from any reader; `source` names it in errors.
pub fn read_libsvm_from<R: Read>(reader: R, source: &Path, options: &LibSvmOptions) -> Result<Dataset> {
    let mut reader = BufReader::with_capacity(1 << 20, reader);
    let mut labels: Vec<f32> = Vec::new();
    // (row, raw index, value) triplets, densified once the feature count is known.
    let mut entries: Vec<(u32, u64, f32)> = Vec::new();
    let mut min_index = u64::MAX;
    let mut max_index = 0u64;
    let err = |line: usize, col: usize, message: String| Error::Parse {
        path: source.to_path_buf(),
        line: line as u64,
        column: col.to_string(),
        message,
    };
    let mut bytes = Vec::new();
    for lineno in 1usize.. {
        if read_line_bounded(&mut reader, &mut bytes, MAX_LINE_BYTES, source, lineno as u64)? == 0 {
            break;
        }
        let line = std::str::from_utf8(&bytes)
            .map_err(|e| err(lineno, e.valid_up_to() + 1, "the line is not valid UTF-8".to_string()))?;
        let content = line.split('#').next().unwrap_or("");
        let mut tokens = tokens_with_columns(content);
        let Some((col, label)) = tokens.next() else { continue };
        let label: f32 = label
            .parse()
            .ok()
            .filter(|v: &f32| v.is_finite())
            .ok_or_else(|| err(lineno, col, format!("cannot read label `{label}` as a number")))?;
        let row = u32::try_from(labels.len()).map_err(|_| err(lineno, col, "too many rows".to_string()))?;
        labels.push(label);
        let mut previous: Option<u64> = None;
        for (col, token) in tokens {
            let (index, value) = token
                .split_once(':')
                .ok_or_else(|| err(lineno, col, format!("expected `index:value`, found `{token}`")))?;
            if index == "qid" {
                continue;
            }
            let index: u64 =
                index.parse().map_err(|_| err(lineno, col, format!("cannot read index `{index}`")))?;
            let value: f32 = value.parse().ok().filter(|v: &f32| !v.is_infinite()).ok_or_else(|| {
                err(lineno, col, format!("cannot read value `{value}` as a finite number (`nan` is missing)"))
            })?;
            if previous.is_some_and(|p| index <= p) {
                return Err(err(lineno, col, format!("index {index} is not greater than the one before it")));
            }
            previous = Some(index);
            min_index = min_index.min(index);
            max_index = max_index.max(index);
            entries.push((row, index, value));
        }
    }
    if labels.is_empty() {
        return Err(Error::File {
            path: source.to_path_buf(),
            message: "the file has no data lines".to_string(),
        });
    }
    let zero_based = options.zero_based.unwrap_or(min_index == 0);
    if !zero_based && min_index == 0 {
        return Err(Error::File {
            path: source.to_path_buf(),
            message: "index 0 found in a file read as one-based".to_string(),
        });
    }
    let offset = u64::from(!zero_based);
    // One more than the largest (0-based) index (at u64::MAX it does not fit: the dense check refuses it).
    let seen = if entries.is_empty() { 0 } else { (max_index - offset).saturating_add(1) };
    let dense = |features: u64| check_dense(source, labels.len(), features, entries.len());
    if options.n_features.is_none() {
        check_inferred_features(source, seen, entries.len())?;
    }
    dense(options.n_features.map_or(seen, |n| n as u64).max(seen))?;
    let seen = usize::try_from(seen).map_err(|_| Error::File {
        path: source.to_path_buf(),
        message: format!("feature index {max_index} does not fit this platform's sizes"),
    })?;
    let n_features = match options.n_features {
        Some(n) if n < seen => {
            return Err(Error::File {
                path: source.to_path_buf(),
                message: format!("feature index {max_index} is past the {n} features asked for"),
            });
        }
        Some(n) => n,
        None => seen,
    };
    let mut features = Array2::<f32>::zeros((labels.len(), n_features));
    for (row, index, value) in entries {
        features[[row as usize, (index - offset) as usize]] = value;
    }
    let names = (0..n_features).map(|j| format!("f{}", j as u64 + offset)).collect();
    let targets = Array1::from(labels);
    let task = match options.task {
        Some(TaskKind::Regression) => Task::Regression,
        Some(TaskKind::Classification) => class_task(&targets),
        None => infer_task(&targets),
    };
    Dataset::new(features, targets, names, "label", task)
}

/// Whitespace-separated tokens with their 1-based character column.
fn tokens_with_columns(line: &str) -> impl Iterator<Item = (usize, &str)> {
    line.split_ascii_whitespace().map(move |t| (t.as_ptr() as usize - line.as_ptr() as usize + 1, t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn read(text: &str, options: &LibSvmOptions) -> Result<Dataset> {
        read_libsvm_from(text.as_bytes(), &PathBuf::from("d.svm"), options)
    }

    #[test]
    fn reads_one_based_sparse_rows() {
        let ds = read("1 1:0.5 3:2 # c\n\n-1 2:1.5 qid:3\n", &LibSvmOptions::default()).unwrap();
        assert_eq!(ds.n_samples(), 2);
        assert_eq!(ds.n_features(), 3);
        assert_eq!(ds.features().row(0).to_vec(), vec![0.5, 0.0, 2.0]);
        assert_eq!(ds.features().row(1).to_vec(), vec![0.0, 1.5, 0.0]);
        assert_eq!(ds.targets().to_vec(), vec![1.0, -1.0]);
        assert_eq!(ds.task().n_classes(), Some(2));
        assert_eq!(ds.feature_names(), ["f1", "f2", "f3"]);
    }

    #[test]
    fn detects_zero_based_and_pads_features() {
        let opts = LibSvmOptions { n_features: Some(5), ..Default::default() };
        let ds = read("0.5 0:1 2:nan\n1.25 1:3\n", &opts).unwrap();
        assert_eq!(ds.n_features(), 5);
        assert_eq!(ds.features()[[0, 0]], 1.0);
        assert!(ds.features()[[0, 2]].is_nan());
        assert_eq!(*ds.task(), Task::Regression);
    }

    #[test]
    fn errors_name_line_and_column() {
        let o = LibSvmOptions::default();
        let e = read("1 1:2\n0 1:2 x\n", &o).unwrap_err().to_string();
        assert!(e.contains("d.svm:2") && e.contains("column 7") && e.contains("index:value"), "{e}");
        let e = read("1 2:1 1:3\n", &o).unwrap_err().to_string();
        assert!(e.contains("not greater"), "{e}");
        let e = read("abc 1:1\n", &o).unwrap_err().to_string();
        assert!(e.contains("d.svm:1") && e.contains("label"), "{e}");
        let e = read("1 1:zz\n", &o).unwrap_err().to_string();
        assert!(e.contains("zz"), "{e}");
        let too_few = LibSvmOptions { n_features: Some(2), ..Default::default() };
        assert!(read("1 5:1\n", &too_few).is_err());
        assert!(read("# only a comment\n", &o).is_err());
    }
}
