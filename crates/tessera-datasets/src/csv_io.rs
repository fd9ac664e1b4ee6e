//! CSV with a header: reading (target column chosen by name; empty, `NA` and `NaN` cells are missing
//! values) and atomic, parallel writing.

use std::io::{Read, Write};
use std::path::Path;

use ndarray::{Array1, Array2};
use rayon::prelude::*;

use crate::dataset::{Dataset, Task, sorted_distinct};
use crate::error::{Error, Result};

/// Which task to read a target column as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskKind {
    /// Class labels (numbers or text).
    Classification,
    /// Real values.
    Regression,
}

/// Numeric targets with at most this many distinct integer values are read as class labels when the
/// task is not given; anything else numeric is a regression target.
pub const MAX_INFERRED_CLASSES: usize = 100;

/// How to read a CSV file.
#[derive(Debug, Clone)]
pub struct CsvOptions {
    /// The target column's name; `None` reads every column as a feature (an unlabeled dataset).
    pub target: Option<String>,
    /// The task; `None` infers it: text labels, or at most [`MAX_INFERRED_CLASSES`] distinct integer
    /// values, mean classification, other numbers regression.
    pub task: Option<TaskKind>,
    /// The field delimiter (default `,`).
    pub delimiter: u8,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions { target: None, task: None, delimiter: b',' }
    }
}

impl CsvOptions {
    /// Options reading `target` as the target column, task inferred.
    pub fn with_target(target: impl Into<String>) -> Self {
        CsvOptions { target: Some(target.into()), ..CsvOptions::default() }
    }
}

/// True for the cells that mean "missing": empty, `NA`, `NaN` (any case, surrounding spaces ignored).
pub fn is_missing(cell: &str) -> bool {
    let c = cell.trim();
    c.is_empty() || c.eq_ignore_ascii_case("na") || c.eq_ignore_ascii_case("nan")
}

/// Reads a CSV file with a header row into a [`Dataset`]. Errors name the file, line and column.
pub fn read_csv(path: impl AsRef<Path>, options: &CsvOptions) -> Result<Dataset> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(|e| Error::Io { path: path.to_path_buf(), source: e })?;
    read_csv_from(std::io::BufReader::with_capacity(1 << 20, file), path, options)
}

/// Reads only the header row of a CSV file: the column names.
pub fn read_csv_header(path: impl AsRef<Path>) -> Result<Vec<String>> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(|e| Error::Io { path: path.to_path_buf(), source: e })?;
    let mut rdr = csv::ReaderBuilder::new().has_headers(true).from_reader(file);
    let headers = rdr.headers().map_err(|e| csv_error(path, &e, &[]))?;
    Ok(headers.iter().map(|h| h.trim().to_string()).collect())
}

/// Reads CSV text from any reader; `source` names it in errors.
pub fn read_csv_from<R: Read>(reader: R, source: &Path, options: &CsvOptions) -> Result<Dataset> {
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(options.delimiter)
        .has_headers(true)
        .flexible(false)
        .from_reader(reader);
    let file_err = |message: String| Error::File { path: source.to_path_buf(), message };
    let headers: Vec<String> =
        rdr.headers().map_err(|e| csv_error(source, &e, &[]))?.iter().map(|h| h.trim().to_string()).collect();
    if headers.is_empty() || headers.iter().all(String::is_empty) {
        return Err(file_err("the file is empty or has no header row".to_string()));
    }
    let target_col = match &options.target {
        Some(name) => Some(headers.iter().position(|h| h == name).ok_or_else(|| {
            file_err(format!("no column named `{name}` (columns: {})", headers.join(", ")))
        })?),
        None => None,
    };
    let feature_names: Vec<String> =
        headers.iter().enumerate().filter(|(i, _)| Some(*i) != target_col).map(|(_, h)| h.clone()).collect();

    let mut features: Vec<f32> = Vec::new();
    let mut raw_targets: Vec<String> = Vec::new();
    let mut record = csv::StringRecord::new();
    let mut rows = 0usize;
    loop {
        match rdr.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_error(source, &e, &headers)),
        }
        let line = record.position().map_or(0, csv::Position::line);
        for (i, cell) in record.iter().enumerate() {
            if Some(i) == target_col {
                if is_missing(cell) {
                    return Err(parse_error(source, line, &headers, i, "the target value is missing"));
                }
                raw_targets.push(cell.trim().to_string());
            } else {
                features.push(parse_cell(cell).ok_or_else(|| {
                    parse_error(source, line, &headers, i, &format!("cannot read `{cell}` as a number"))
                })?);
            }
        }
        rows += 1;
    }
    if rows == 0 {
        return Err(file_err("the file has a header but no rows".to_string()));
    }
    let features = Array2::from_shape_vec((rows, feature_names.len()), features)
        .map_err(|e| Error::Shape(e.to_string()))?;
    let Some(tc) = target_col else {
        return Dataset::new(features, Array1::from_elem(rows, f32::NAN), feature_names, "", Task::Unlabeled);
    };
    let (targets, task) =
        encode_targets(&raw_targets, options.task).map_err(|(row, message)| Error::Parse {
            path: source.to_path_buf(),
            line: row as u64 + 2,
            column: column_name(&headers, tc),
            message,
        })?;
    Dataset::new(features, targets, feature_names, headers[tc].clone(), task)
}

fn parse_cell(cell: &str) -> Option<f32> {
    if is_missing(cell) { Some(f32::NAN) } else { cell.trim().parse::<f32>().ok() }
}

/// Turns raw target cells into f32 targets and a task. On failure returns (row index, message).
fn encode_targets(
    raw: &[String],
    task: Option<TaskKind>,
) -> std::result::Result<(Array1<f32>, Task), (usize, String)> {
    let numeric: Vec<Option<f32>> =
        raw.iter().map(|s| s.parse::<f32>().ok().filter(|v| v.is_finite())).collect();
    if let Some(first_text) = numeric.iter().position(Option::is_none) {
        if task == Some(TaskKind::Regression) {
            return Err((first_text, format!("cannot read target `{}` as a number", raw[first_text])));
        }
        // Text labels: classes in sorted order, targets are indices.
        let mut names: Vec<&str> = raw.iter().map(String::as_str).collect();
        names.sort_unstable();
        names.dedup();
        let targets = raw
            .iter()
            .map(|s| names.binary_search(&s.as_str()).map(|i| i as f32).unwrap_or(f32::NAN))
            .collect();
        let class_names = names.into_iter().map(str::to_string).collect();
        return Ok((targets, Task::Classification { class_names }));
    }
    let values: Array1<f32> = numeric.into_iter().map(|v| v.unwrap_or(f32::NAN)).collect();
    let task = match task {
        Some(TaskKind::Regression) => Task::Regression,
        Some(TaskKind::Classification) => class_task(&values),
        None => {
            let integral = values.iter().all(|v| v.fract() == 0.0);
            let distinct = sorted_distinct(values.iter().copied());
            if integral && distinct.len() <= MAX_INFERRED_CLASSES && distinct.len() >= 2 {
                class_task(&values)
            } else {
                Task::Regression
            }
        }
    };
    Ok((values, task))
}

/// A classification task whose class names are the distinct label values, in ascending order.
pub(crate) fn class_task(values: &Array1<f32>) -> Task {
    let class_names = sorted_distinct(values.iter().copied()).into_iter().map(|v| v.to_string()).collect();
    Task::Classification { class_names }
}

fn column_name(headers: &[String], i: usize) -> String {
    match headers.get(i) {
        Some(h) if !h.is_empty() => format!("`{h}` (#{})", i + 1),
        _ => format!("#{}", i + 1),
    }
}

fn parse_error(source: &Path, line: u64, headers: &[String], col: usize, message: &str) -> Error {
    Error::Parse {
        path: source.to_path_buf(),
        line,
        column: column_name(headers, col),
        message: message.to_string(),
    }
}

fn csv_error(source: &Path, e: &csv::Error, headers: &[String]) -> Error {
    let line = e.position().map_or(0, csv::Position::line);
    match e.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => Error::Parse {
            path: source.to_path_buf(),
            line,
            column: column_name(headers, (*len as usize).min(*expected_len as usize)),
            message: format!("the row has {len} fields, the header has {expected_len}"),
        },
        csv::ErrorKind::Io(io) => {
            Error::Io { path: source.to_path_buf(), source: std::io::Error::new(io.kind(), io.to_string()) }
        }
        _ => {
            Error::Parse { path: source.to_path_buf(), line, column: "-".to_string(), message: e.to_string() }
        }
    }
}

/// Rows formatted per parallel task when writing.
const WRITE_CHUNK_ROWS: usize = 8192;

/// Writes a dataset as CSV with a header (feature names, then the target column unless the dataset is
/// unlabeled). Missing values are written as empty cells; numbers in their shortest exact form. The file
/// is written atomically and rows are formatted in parallel.
pub fn write_csv(dataset: &Dataset, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let labelled = *dataset.task() != Task::Unlabeled;
    let x = dataset.features();
    let y = dataset.targets();
    tessera_tensor::write_atomic(path, |w| {
        let mut header: Vec<String> = dataset.feature_names().iter().map(|n| quote(n)).collect();
        if labelled {
            header.push(quote(dataset.target_name()));
        }
        writeln!(w, "{}", header.join(","))?;
        let n = dataset.n_samples();
        let starts: Vec<usize> = (0..n).step_by(WRITE_CHUNK_ROWS).collect();
        // Format a bounded number of chunks at a time so memory stays flat for large files.
        for group in starts.chunks(rayon::current_num_threads().max(1) * 4) {
            let buffers: Vec<Vec<u8>> = group
                .par_iter()
                .map(|&start| {
                    let end = (start + WRITE_CHUNK_ROWS).min(n);
                    let mut buf = Vec::with_capacity((end - start) * (x.ncols() + 1) * 10);
                    for r in start..end {
                        for (c, v) in x.row(r).iter().enumerate() {
                            if c > 0 {
                                buf.push(b',');
                            }
                            push_number(&mut buf, *v);
                        }
                        if labelled {
                            if x.ncols() > 0 {
                                buf.push(b',');
                            }
                            push_number(&mut buf, y[r]);
                        }
                        buf.push(b'\n');
                    }
                    buf
                })
                .collect();
            for b in buffers {
                w.write_all(&b)?;
            }
        }
        Ok(())
    })?;
    Ok(())
}

fn push_number(buf: &mut Vec<u8>, v: f32) {
    if !v.is_nan() {
        // Display gives the shortest text that reads back as the same f32.
        let _ = write!(buf, "{v}");
    }
}

fn quote(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn read(text: &str, options: &CsvOptions) -> Result<Dataset> {
        read_csv_from(text.as_bytes(), &PathBuf::from("test.csv"), options)
    }

    #[test]
    fn missing_cells_become_nan() {
        let ds = read("a,b,y\n1,,0\nNA,2.5,1\nnan, 3 ,1\n", &CsvOptions::with_target("y")).unwrap();
        assert_eq!(ds.feature_names(), ["a", "b"]);
        let x = ds.features();
        assert!(x[[0, 1]].is_nan() && x[[1, 0]].is_nan() && x[[2, 0]].is_nan());
        assert_eq!(x[[2, 1]], 3.0);
        assert_eq!(ds.task().n_classes(), Some(2));
    }

    #[test]
    fn text_labels_are_classes_in_sorted_order() {
        let ds = read("x,species\n1,b\n2,a\n3,b\n", &CsvOptions::with_target("species")).unwrap();
        assert_eq!(ds.targets().to_vec(), vec![1.0, 0.0, 1.0]);
        assert_eq!(*ds.task(), Task::Classification { class_names: vec!["a".into(), "b".into()] });
    }

    #[test]
    fn infers_regression_and_respects_forced_task() {
        let ds = read("x,y\n1,0.5\n2,1.5\n", &CsvOptions::with_target("y")).unwrap();
        assert_eq!(*ds.task(), Task::Regression);
        let opts = CsvOptions { task: Some(TaskKind::Regression), ..CsvOptions::with_target("y") };
        let ds = read("x,y\n1,0\n2,1\n", &opts).unwrap();
        assert_eq!(*ds.task(), Task::Regression);
        let err = read("x,y\n1,0\n2,cat\n", &opts).unwrap_err().to_string();
        assert!(err.contains("test.csv:3") && err.contains("`y`") && err.contains("cat"), "{err}");
    }

    #[test]
    fn errors_name_line_and_column() {
        let opts = CsvOptions::with_target("y");
        let err = read("a,b,y\n1,2,0\n1,oops,1\n", &opts).unwrap_err().to_string();
        assert!(err.contains("test.csv:3") && err.contains("`b` (#2)") && err.contains("oops"), "{err}");
        let err = read("a,b,y\n1,2,0\n1,2\n", &opts).unwrap_err().to_string();
        assert!(err.contains("test.csv:3") && err.contains("2 fields"), "{err}");
        let err = read("a,b,y\n1,2,\n", &opts).unwrap_err().to_string();
        assert!(err.contains("target value is missing"), "{err}");
        let err = read("a,b\n1,2\n", &opts).unwrap_err().to_string();
        assert!(err.contains("no column named `y`"), "{err}");
        assert!(read("", &opts).is_err());
        assert!(read("a,b,y\n", &opts).unwrap_err().to_string().contains("no rows"));
    }

    #[test]
    fn unlabeled_without_target() {
        let ds = read("a,b\n1,2\n3,4\n", &CsvOptions::default()).unwrap();
        assert_eq!(*ds.task(), Task::Unlabeled);
        assert_eq!(ds.n_features(), 2);
    }
}
