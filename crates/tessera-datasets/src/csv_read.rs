//! Reading CSV with a header row: the target column is chosen by name; empty, `NA` and `NaN` cells are
//! missing values; errors name the file, line and column.
//!
//! Files are read in blocks of [`BLOCK_BYTES`]; each block is cut at line ends into one piece per thread and
//! the pieces are parsed in parallel, so memory stays at one block plus the parsed data and parsing uses
//! every core. Files with quoted fields (which may hide delimiters and line ends) go through the `csv`
//! crate's streaming reader instead, as do readers that are not files.

use std::collections::HashMap;
use std::io::{BufReader, Read};
use std::path::Path;

use ndarray::{Array1, Array2};
use rayon::prelude::*;

use crate::dataset::{Dataset, Task};
use crate::error::{Error, Result};
use crate::limits::{MAX_HEADER_BYTES, MAX_LINE_BYTES};
use crate::targets::Targets;

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

/// The byte order mark some editors put at the start of a UTF-8 file; not part of the first column's name.
const UTF8_BOM: &[u8] = b"\xef\xbb\xbf";

/// Bytes read per block by the parallel reader.
pub const BLOCK_BYTES: usize = 16 << 20;

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
    /// Read only these columns as features (in file order); `None` reads every non-target column. Other
    /// columns (ids, free text) are skipped unparsed.
    pub features: Option<Vec<String>>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions { target: None, task: None, delimiter: b',', features: None }
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

/// A feature cell: NaN when missing, `None` when not a finite number (`inf`, and numbers beyond f32's
/// range such as `1e400`, are refused: a model cannot split on them, and an empty cell says "missing").
fn parse_cell(cell: &str) -> Option<f32> {
    if let Some(v) = fast_f32(cell.as_bytes()) {
        return Some(v);
    }
    if is_missing(cell) { Some(f32::NAN) } else { cell.trim().parse::<f32>().ok().filter(|v| v.is_finite()) }
}

/// The message for a feature cell [`parse_cell`] refuses.
fn bad_cell(cell: &str) -> String {
    match cell.trim().parse::<f32>() {
        Ok(_) => format!("`{cell}` is not a finite number (use an empty cell for a missing value)"),
        Err(_) => format!("cannot read `{cell}` as a number"),
    }
}

/// Powers of ten exactly representable in f64.
const POW10_F64: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18,
    1e19, 1e20, 1e21, 1e22,
];

/// A whole cell through [`scan_field`]'s fast path, or `None`.
fn fast_f32(cell: &[u8]) -> Option<f32> {
    match scan_field(cell, b'\n') {
        (value, len) if len == cell.len() => value,
        _ => None,
    }
}

/// Scans the field at the start of `bytes` (up to `delimiter` or the end) and returns its length and,
/// when it is a plain decimal `[-]digits[.digits]`, its value with the same bits as `str::parse`.
///
/// Clinger's fast path: when there are at most 15 digits, the integer they form is below 2^53, so
/// integer and power of ten are exact in f64 and one division rounds correctly to f64. Rounding that f64
/// to f32 is then correct too unless it landed exactly on a midpoint between two f32 values (any midpoint
/// lying between the exact value and its f64 rounding would itself be a nearer f64); that case, like
/// subnormals and anything that is not a plain decimal, yields `None` for the general parser.
fn scan_field(bytes: &[u8], delimiter: u8) -> (Option<f32>, usize) {
    let field_len = |from: usize| memchr::memchr(delimiter, &bytes[from..]).map_or(bytes.len(), |p| from + p);
    let negative = bytes.first() == Some(&b'-');
    let mut i = usize::from(negative);
    let mut mantissa = 0u64;
    let int_start = i;
    while let Some(d) = bytes.get(i).and_then(|b| b.checked_sub(b'0')).filter(|d| *d < 10) {
        mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(d));
        i += 1;
    }
    let int_digits = i - int_start;
    let mut decimals = 0;
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        let frac_start = i;
        while let Some(d) = bytes.get(i).and_then(|b| b.checked_sub(b'0')).filter(|d| *d < 10) {
            mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(d));
            i += 1;
        }
        decimals = i - frac_start;
    }
    if i < bytes.len() && bytes[i] != delimiter {
        return (None, field_len(i));
    }
    // At most 15 digits keep the integer below 10^15 < 2^53 (and the arithmetic above from wrapping).
    let digits = int_digits + decimals;
    if digits == 0 || digits > 15 {
        return (None, i);
    }
    let wide = mantissa as f64 / POW10_F64[decimals];
    let normal = wide == 0.0 || (f64::from(f32::MIN_POSITIVE)..=f64::from(f32::MAX)).contains(&wide);
    // An exact f32 midpoint has the 29 bits below f32's mantissa equal to 1 followed by zeros.
    if !normal || wide.to_bits() & ((1 << 29) - 1) == 1 << 28 {
        return (None, i);
    }
    let value = wide as f32;
    (Some(if negative { -value } else { value }), i)
}

/// Reads a CSV file with a header row into a [`Dataset`], in parallel. Errors name the file, line and
/// column.
pub fn read_csv(path: impl AsRef<Path>, options: &CsvOptions) -> Result<Dataset> {
    let path = path.as_ref();
    let open = || std::fs::File::open(path).map_err(|e| Error::Io { path: path.to_path_buf(), source: e });
    match read_parallel(open()?, path, options, BLOCK_BYTES)? {
        Some(ds) => Ok(ds),
        None => {
            if let Some(line) = unterminated_quote(BufReader::with_capacity(1 << 20, open()?), path)? {
                return Err(Error::Parse {
                    path: path.to_path_buf(),
                    line,
                    column: "-".into(),
                    message: "a quoted field opened on this line is never closed".into(),
                });
            }
            read_csv_from(BufReader::with_capacity(1 << 20, open()?), path, options)
        }
    }
}

/// The 1-based line of a quote that opens a field and is never closed, if the text has one (RFC 4180:
/// a quote inside a quoted field is written twice, which keeps the count even). One pass, no allocation.
fn unterminated_quote<R: Read>(mut reader: BufReader<R>, source: &Path) -> Result<Option<u64>> {
    use std::io::BufRead;
    let (mut line, mut open_line, mut quoted) = (1u64, 0u64, false);
    loop {
        let buf = reader.fill_buf().map_err(|e| Error::Io { path: source.to_path_buf(), source: e })?;
        if buf.is_empty() {
            return Ok(quoted.then_some(open_line));
        }
        for &b in buf {
            match b {
                b'"' => {
                    quoted = !quoted;
                    if quoted {
                        open_line = line;
                    }
                }
                b'\n' => line += 1,
                _ => {}
            }
        }
        let n = buf.len();
        reader.consume(n);
    }
}

/// Reads only the header row of a CSV file: the column names.
pub fn read_csv_header(path: impl AsRef<Path>) -> Result<Vec<String>> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(|e| Error::Io { path: path.to_path_buf(), source: e })?;
    let mut line = Vec::new();
    crate::limits::read_line_bounded(&mut BufReader::new(file), &mut line, MAX_HEADER_BYTES, path, 1)?;
    // The csv crate reads the (possibly quoted) row and strips a byte order mark.
    let mut rdr = csv::ReaderBuilder::new().has_headers(true).from_reader(line.as_slice());
    let headers = rdr.headers().map_err(|e| csv_error(path, &e, &[]))?;
    Ok(headers.iter().map(|h| h.trim().to_string()).collect())
}

/// The header's columns, split into features, the target, and skipped columns.
struct Layout {
    headers: Vec<String>,
    target_col: Option<usize>,
    /// Whether each column is read as a feature.
    is_feature: Vec<bool>,
}

/// An [`Error::MissingColumn`].
fn missing(source: &Path, name: &str, headers: &[String]) -> Error {
    Error::MissingColumn { path: source.to_path_buf(), name: name.to_string(), columns: headers.to_vec() }
}

impl Layout {
    fn new(headers: Vec<String>, source: &Path, options: &CsvOptions) -> Result<Self> {
        if headers.is_empty() || headers.iter().all(String::is_empty) {
            return Err(file_error(source, "the file is empty or has no header row"));
        }
        let mut seen: HashMap<&str, usize> = HashMap::with_capacity(headers.len());
        for (i, h) in headers.iter().enumerate() {
            if let Some(first) = seen.insert(h.as_str(), i) {
                return Err(file_error(
                    source,
                    &format!(
                        "columns #{} and #{} are both named `{h}`: names must be unique (rename one)",
                        first + 1,
                        i + 1
                    ),
                ));
            }
        }
        let target_col = match &options.target {
            Some(name) => {
                Some(headers.iter().position(|h| h == name).ok_or_else(|| missing(source, name, &headers))?)
            }
            None => None,
        };
        let mut is_feature: Vec<bool> = (0..headers.len()).map(|i| Some(i) != target_col).collect();
        if let Some(wanted) = &options.features {
            is_feature.iter_mut().for_each(|f| *f = false);
            for name in wanted {
                let i =
                    headers.iter().position(|h| h == name).ok_or_else(|| missing(source, name, &headers))?;
                is_feature[i] = Some(i) != target_col;
            }
        }
        Ok(Layout { headers, target_col, is_feature })
    }

    fn feature_names(&self) -> Vec<String> {
        self.headers.iter().zip(&self.is_feature).filter(|(_, f)| **f).map(|(h, _)| h.clone()).collect()
    }

    fn column_name(&self, i: usize) -> String {
        match self.headers.get(i) {
            Some(h) if !h.is_empty() => format!("`{h}` (#{})", i + 1),
            _ => format!("#{}", i + 1),
        }
    }

    fn parse_error(&self, source: &Path, line: u64, col: usize, message: &str) -> Error {
        Error::Parse {
            path: source.to_path_buf(),
            line,
            column: self.column_name(col),
            message: message.to_string(),
        }
    }

    /// Assembles the dataset from parsed rows.
    fn finish(
        &self,
        source: &Path,
        features: Vec<f32>,
        targets: Targets,
        rows: usize,
        task: Option<TaskKind>,
    ) -> Result<Dataset> {
        if rows == 0 {
            return Err(file_error(source, "the file has a header but no rows"));
        }
        let names = self.feature_names();
        let features =
            Array2::from_shape_vec((rows, names.len()), features).map_err(|e| Error::Shape(e.to_string()))?;
        let Some(tc) = self.target_col else {
            return Dataset::new(features, Array1::from_elem(rows, f32::NAN), names, "", Task::Unlabeled);
        };
        let (y, task) = targets.encode(task).map_err(|(line, message)| Error::Parse {
            path: source.to_path_buf(),
            line,
            column: self.column_name(tc),
            message,
        })?;
        Dataset::new(features, y, names, self.headers[tc].clone(), task)
    }
}

fn file_error(source: &Path, message: &str) -> Error {
    Error::File { path: source.to_path_buf(), message: message.to_string() }
}

/// Reads CSV text from any reader (streaming, one thread, quoted fields allowed); `source` names it in
/// errors.
pub fn read_csv_from<R: Read>(reader: R, source: &Path, options: &CsvOptions) -> Result<Dataset> {
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(options.delimiter)
        .has_headers(true)
        .flexible(false)
        .from_reader(reader);
    let headers: Vec<String> =
        rdr.headers().map_err(|e| csv_error(source, &e, &[]))?.iter().map(|h| h.trim().to_string()).collect();
    let layout = Layout::new(headers, source, options)?;
    let mut features: Vec<f32> = Vec::new();
    let mut targets = Targets::default();
    let mut record = csv::StringRecord::new();
    let mut rows = 0usize;
    loop {
        match rdr.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_error(source, &e, &layout.headers)),
        }
        let line = record.position().map_or(0, csv::Position::line);
        for (i, cell) in record.iter().enumerate() {
            if Some(i) == layout.target_col {
                if is_missing(cell) {
                    return Err(layout.parse_error(source, line, i, "the target value is missing"));
                }
                targets.push(cell, line);
            } else if layout.is_feature.get(i).copied().unwrap_or(false) {
                features.push(
                    parse_cell(cell).ok_or_else(|| layout.parse_error(source, line, i, &bad_cell(cell)))?,
                );
            }
        }
        rows += 1;
    }
    layout.finish(source, features, targets, rows, options.task)
}

/// What one piece of a block parsed to.
struct Piece {
    features: Vec<f32>,
    targets: Targets,
    rows: usize,
    lines: u64,
}

/// A parse failure inside a piece: the piece-local line index (0-based), the column, the message.
type PieceError = (u64, usize, String);

/// The parallel reader. Returns `Ok(None)` when the file has quoted fields and must be read by the
/// streaming reader instead.
fn read_parallel(
    file: std::fs::File,
    source: &Path,
    options: &CsvOptions,
    block_bytes: usize,
) -> Result<Option<Dataset>> {
    let io = |e: std::io::Error| Error::Io { path: source.to_path_buf(), source: e };
    let file_len = file.metadata().map_or(0, |m| m.len());
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut header = Vec::new();
    crate::limits::read_line_bounded(&mut reader, &mut header, MAX_HEADER_BYTES, source, 1)?;
    if header.contains(&b'"') {
        return Ok(None);
    }
    let header = header.strip_prefix(UTF8_BOM).unwrap_or(&header);
    let header_text = std::str::from_utf8(header).map_err(|_| Error::Parse {
        path: source.to_path_buf(),
        line: 1,
        column: "-".into(),
        message: "not UTF-8".into(),
    })?;
    let headers: Vec<String> = header_text
        .trim_end_matches(['\n', '\r'])
        .split(options.delimiter as char)
        .map(|h| h.trim().to_string())
        .collect();
    let layout = Layout::new(headers, source, options)?;

    let mut features = Vec::new();
    let mut targets = Targets::default();
    let mut rows = 0usize;
    let mut lines_before = 1u64; // the header
    let mut block: Vec<u8> = Vec::with_capacity(block_bytes + (1 << 16));
    let mut eof = false;
    let mut consumed = 0usize;
    while !eof {
        // Fill the block (after any partial line carried over) up to BLOCK_BYTES.
        let start_len = block.len();
        let want = block_bytes.saturating_sub(start_len).max(block_bytes.min(1 << 16));
        let read = reader.by_ref().take(want as u64).read_to_end(&mut block).map_err(io)?;
        eof = read == 0 || read < want;
        if block.contains(&b'"') {
            return Ok(None);
        }
        let cut =
            if eof { block.len() } else { block.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1) };
        if cut == 0 && !eof {
            if block.len() > MAX_LINE_BYTES {
                return Err(layout.parse_error(
                    source,
                    lines_before + 1,
                    0,
                    &format!("the line is longer than {MAX_LINE_BYTES} bytes"),
                ));
            }
            continue; // one line longer than the block: read more
        }
        let pieces = split_at_lines(&block[..cut], rayon::current_num_threads().max(1) * 2);
        let parsed: Vec<std::result::Result<Piece, PieceError>> =
            pieces.par_iter().map(|p| parse_piece(p, &layout, options.delimiter)).collect();
        let mut piece_line = lines_before;
        for result in parsed {
            match result {
                Ok(p) => {
                    piece_line += p.lines;
                    features.extend_from_slice(&p.features);
                    rows += p.rows;
                    // Text targets record piece-local lines; shift them to file lines.
                    let mut t = p.targets;
                    let shift = |l: u64| l + piece_line - p.lines + 1;
                    t.first_text_line = t.first_text_line.map(shift);
                    t.first_non_finite = t.first_non_finite.map(|(l, text)| (shift(l), text));
                    targets.append(t);
                }
                Err((local_line, col, message)) => {
                    return Err(layout.parse_error(source, piece_line + local_line + 1, col, &message));
                }
            }
        }
        lines_before = piece_line;
        if consumed == 0 && !eof && cut > 0 {
            // After the first block, size the output for the whole file (saves regrowing and copying it).
            let estimate = features.len() as f64 * file_len as f64 / cut as f64 * 1.05;
            features.reserve((estimate as usize).saturating_sub(features.len()));
        }
        consumed += cut;
        block.drain(..cut);
    }
    layout.finish(source, features, targets, rows, options.task).map(Some)
}

/// Cuts `bytes` (whole lines) into about `n` pieces, each ending at a line end.
fn split_at_lines(bytes: &[u8], n: usize) -> Vec<&[u8]> {
    let mut pieces = Vec::with_capacity(n);
    let target = bytes.len() / n + 1;
    let mut rest = bytes;
    while !rest.is_empty() {
        let end = if rest.len() <= target {
            rest.len()
        } else {
            rest[target..].iter().position(|&b| b == b'\n').map_or(rest.len(), |p| target + p + 1)
        };
        let (head, tail) = rest.split_at(end);
        pieces.push(head);
        rest = tail;
    }
    pieces
}

fn parse_piece(piece: &[u8], layout: &Layout, delimiter: u8) -> std::result::Result<Piece, PieceError> {
    let ncols = layout.headers.len();
    let target_col = layout.target_col.unwrap_or(usize::MAX);
    let mut out = Piece {
        features: Vec::with_capacity(piece.len() / 8),
        targets: Targets::default(),
        rows: 0,
        lines: 0,
    };
    let mut line_start = 0;
    let ends = memchr::memchr_iter(b'\n', piece).chain((piece.last() != Some(&b'\n')).then_some(piece.len()));
    for (local, end) in ends.enumerate() {
        out.lines += 1;
        let line = &piece[line_start..end];
        line_start = end + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        let local = local as u64;
        let row_start = out.features.len();
        let mut fields = 0usize;
        let mut rest = line;
        loop {
            let col = fields;
            fields += 1;
            let len = if col >= ncols || (col != target_col && !layout.is_feature[col]) {
                memchr::memchr(delimiter, rest).unwrap_or(rest.len())
            } else if col == target_col {
                let len = memchr::memchr(delimiter, rest).unwrap_or(rest.len());
                let cell = cell_text(&rest[..len], local, col)?;
                if is_missing(cell) {
                    return Err((local, col, "the target value is missing".to_string()));
                }
                // Piece-local line; read_parallel shifts it to the file line.
                out.targets.push(cell, local);
                len
            } else {
                let (value, len) = scan_field(rest, delimiter);
                let value = match value {
                    Some(v) => v,
                    None => {
                        let cell = cell_text(&rest[..len], local, col)?;
                        parse_cell(cell).ok_or_else(|| (local, col, bad_cell(cell)))?
                    }
                };
                out.features.push(value);
                len
            };
            if len >= rest.len() {
                break;
            }
            rest = &rest[len + 1..];
        }
        if fields != ncols {
            out.features.truncate(row_start);
            return Err((
                local,
                fields.min(ncols) - 1,
                format!("the row has {fields} fields, the header has {ncols}"),
            ));
        }
        out.rows += 1;
    }
    Ok(out)
}

fn cell_text(cell: &[u8], local: u64, col: usize) -> std::result::Result<&str, PieceError> {
    std::str::from_utf8(cell).map_err(|_| (local, col, "the cell is not valid UTF-8".to_string()))
}

fn csv_error(source: &Path, e: &csv::Error, headers: &[String]) -> Error {
    let line = e.position().map_or(0, csv::Position::line);
    let layout = Layout { headers: headers.to_vec(), target_col: None, is_feature: Vec::new() };
    match e.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => Error::Parse {
            path: source.to_path_buf(),
            line,
            column: layout.column_name((*len as usize).min(*expected_len as usize)),
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

    /// Reads `text` with the parallel reader (blocks of `block` bytes) and with the streaming reader.
    fn both(text: &str, options: &CsvOptions, block: usize) -> (Result<Dataset>, Result<Dataset>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("test.csv");
        std::fs::write(&path, text).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let parallel = read_parallel(file, &path, options, block).map(|d| d.expect("no quotes"));
        let streaming = read_csv_from(text.as_bytes(), &path, options);
        (parallel, streaming)
    }

    fn same(a: &Dataset, b: &Dataset) -> bool {
        a.feature_names() == b.feature_names()
            && a.task() == b.task()
            && a.targets() == b.targets()
            && a.features().iter().zip(b.features().iter()).all(|(x, y)| x.to_bits() == y.to_bits())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        #[test]
        fn parallel_reader_equals_streaming_reader(
            rows in proptest::collection::vec(
                (proptest::collection::vec(-1000i32..1000, 3), 0u8..4, proptest::bool::ANY), 1..60),
            block in 1usize..200,
            crlf in proptest::bool::ANY,
            text_labels in proptest::bool::ANY,
            bad_row in proptest::option::of(0usize..60),
        ) {
            let eol = if crlf { "\r\n" } else { "\n" };
            let mut text = format!("a,b,c,label{eol}");
            let mut line = 1;
            let mut bad_line = None;
            for (i, (vals, label, blank_after)) in rows.iter().enumerate() {
                line += 1;
                if bad_row == Some(i) {
                    bad_line = Some(line);
                }
                let cells: Vec<String> = vals.iter().map(|v| match v % 7 {
                    0 => String::new(),
                    1 => "NA".to_string(),
                    _ => format!("{}", *v as f32 / 8.0),
                }).collect();
                let a = if bad_row == Some(i) { "oops".to_string() } else { cells[0].clone() };
                let label = if text_labels { format!("k{label}") } else { label.to_string() };
                text.push_str(&format!("{a},{},{},{label}{eol}", cells[1], cells[2]));
                if *blank_after {
                    text.push_str(eol);
                    line += 1;
                }
            }
            let options = CsvOptions::with_target("label");
            match both(&text, &options, block) {
                (Ok(p), Ok(s)) => proptest::prop_assert!(same(&p, &s)),
                (Err(p), Err(s)) => {
                    // The parallel reader counts every line; the csv crate skips blank lines when
                    // counting, so only the message after the line number is compared with it.
                    let (p, s) = (p.to_string(), s.to_string());
                    let expected_line = bad_line.expect("only the bad row fails");
                    proptest::prop_assert!(p.contains(&format!("test.csv:{expected_line}:")), "{p}");
                    proptest::prop_assert_eq!(p.split_once(": ").map(|x| x.1), s.split_once(": ").map(|x| x.1));
                }
                (p, s) => proptest::prop_assert!(false, "parallel {:?} vs streaming {:?}", p.err(), s.err()),
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn fast_float_path_matches_the_standard_parser(v in proptest::num::f32::NORMAL | proptest::num::f32::ZERO,
                                                       m in 0u32..(1 << 24), d in 0usize..12, neg in proptest::bool::ANY) {
            for text in [v.to_string(), format!("{}{}", if neg { "-" } else { "" }, m), {
                let digits = m.to_string();
                let cut = digits.len().saturating_sub(d);
                format!("{}{}.{}", if neg { "-" } else { "" }, &digits[..cut], &digits[cut..])
            }] {
                let want = text.parse::<f32>().ok();
                proptest::prop_assert_eq!(parse_cell(&text).map(f32::to_bits), want.map(f32::to_bits), "{}", text);
            }
        }
    }

    #[test]
    fn selected_features_skip_other_columns() {
        let options =
            CsvOptions { features: Some(vec!["b".into(), "a".into()]), ..CsvOptions::with_target("y") };
        for block in [3, 1000] {
            let (p, s) = both("id,a,note,b,y\nx1,1,hello,2,0\nx2,3,,4,1\n", &options, block);
            for ds in [p.unwrap(), s.unwrap()] {
                assert_eq!(ds.feature_names(), ["a", "b"]);
                assert_eq!(ds.features().row(1).to_vec(), vec![3.0, 4.0]);
            }
        }
        let bad = CsvOptions { features: Some(vec!["zzz".into()]), ..CsvOptions::default() };
        assert!(both("a,b\n1,2\n", &bad, 10).0.unwrap_err().to_string().contains("zzz"));
    }

    #[test]
    fn quoted_files_fall_back_to_the_streaming_reader() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.csv");
        std::fs::write(&path, "\"a,1\",y\n1,\"x, y\"\n2,z\n").unwrap();
        let ds = read_csv(&path, &CsvOptions::with_target("y")).unwrap();
        assert_eq!(ds.feature_names(), ["a,1"]);
        assert_eq!(ds.task().n_classes(), Some(2));
    }

    #[test]
    fn text_target_in_a_regression_names_its_line() {
        let options = CsvOptions { task: Some(TaskKind::Regression), ..CsvOptions::with_target("y") };
        for block in [1, 4, 9, 1000] {
            let (p, _) = both("a,y\n1,0\n\n2,1.5\n3,cat\n4,dog\n", &options, block);
            let p = p.unwrap_err().to_string();
            assert!(p.contains("test.csv:5") && p.contains("`cat`"), "block {block}: {p}");
        }
    }

    #[test]
    fn ragged_rows_error_in_the_parallel_reader() {
        let (p, s) = both("a,b,y\n1,2,0\n1,2\n", &CsvOptions::with_target("y"), 5);
        let (p, s) = (p.unwrap_err().to_string(), s.unwrap_err().to_string());
        assert!(p.contains("test.csv:3") && p.contains("2 fields"), "{p}");
        assert!(s.contains("test.csv:3") && s.contains("2 fields"), "{s}");
    }
}
