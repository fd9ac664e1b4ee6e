//! Bounds on what a text loader reads before it has checked it: the longest line, and the largest dense
//! matrix a sparse file may ask for. A newline-free stream (`/dev/zero`) or a tiny file naming a huge index
//! is then a clear error naming the file, never an unbounded allocation.

use std::io::BufRead;
use std::path::Path;

use crate::error::{Error, Result};

/// The longest header row a CSV file may have (16 MiB: about a million columns).
pub const MAX_HEADER_BYTES: usize = 16 << 20;

/// The longest data line a loader reads (256 MiB).
pub const MAX_LINE_BYTES: usize = 256 << 20;

/// Cells a sparse file may always densify to (2^24 cells, 64 MiB of f32).
pub const DENSE_CELLS_ALWAYS: u64 = 1 << 24;

/// Beyond [`DENSE_CELLS_ALWAYS`], the dense matrix may hold this many cells per value the file stores
/// (or per row, if more): a file of a few bytes cannot ask for gigabytes.
pub const DENSE_CELLS_PER_ENTRY: u64 = 1024;

/// Features a LibSVM file may always have when their count is inferred from its largest index.
pub const FEATURES_ALWAYS: u64 = 1 << 16;

/// Beyond [`FEATURES_ALWAYS`], an inferred feature count may be this many per stored value: each feature
/// gets a name and a column, so a one-line file naming index 13,131,101 is refused instead of building
/// thirteen million names.
pub const FEATURES_PER_ENTRY: u64 = 16;

/// Reads one line (up to and including `\n`) into `buf`, at most `max` bytes; returns the bytes read (0 at
/// the end). A longer line is an error naming `source`, its 1-based `line` and the limit.
pub(crate) fn read_line_bounded<R: BufRead>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
    source: &Path,
    line: u64,
) -> Result<usize> {
    buf.clear();
    let io = |e| Error::Io { path: source.to_path_buf(), source: e };
    loop {
        let available = reader.fill_buf().map_err(io)?;
        if available.is_empty() {
            return Ok(buf.len());
        }
        let (take, done) = match memchr::memchr(b'\n', available) {
            Some(p) => (p + 1, true),
            None => (available.len(), false),
        };
        if buf.len() + take > max {
            return Err(Error::Parse {
                path: source.to_path_buf(),
                line,
                column: "-".into(),
                message: format!("the line is longer than {max} bytes (is this a text file of rows?)"),
            });
        }
        buf.extend_from_slice(&available[..take]);
        reader.consume(take);
        if done {
            return Ok(buf.len());
        }
    }
}

/// Checks a feature count inferred from a sparse file's largest index against [`FEATURES_ALWAYS`] and
/// [`FEATURES_PER_ENTRY`] per stored value.
pub(crate) fn check_inferred_features(source: &Path, features: u64, entries: usize) -> Result<()> {
    let budget = FEATURES_ALWAYS.max(FEATURES_PER_ENTRY.saturating_mul(entries as u64));
    if features <= budget {
        return Ok(());
    }
    Err(Error::File {
        path: source.to_path_buf(),
        message: format!(
            "the largest index makes {features} features for {entries} stored values (at most {budget} are \
             inferred; pass the feature count if the file really is that wide)"
        ),
    })
}

/// Checks that a `rows x features` dense f32 matrix made from `entries` stored values stays within the
/// budget ([`DENSE_CELLS_ALWAYS`], or [`DENSE_CELLS_PER_ENTRY`] per stored value or row), with checked
/// arithmetic; the error gives the bytes it would take.
pub(crate) fn check_dense(source: &Path, rows: usize, features: u64, entries: usize) -> Result<()> {
    let cells = (rows as u64).checked_mul(features);
    let budget = DENSE_CELLS_ALWAYS.max(DENSE_CELLS_PER_ENTRY.saturating_mul(entries.max(rows) as u64));
    match cells {
        Some(c) if c <= budget => Ok(()),
        _ => Err(Error::File {
            path: source.to_path_buf(),
            message: format!(
                "{rows} rows x {features} features would be {} bytes dense, for {entries} stored values \
                 (the largest index is far beyond the data; check the file, or pass the feature count)",
                cells
                    .and_then(|c| c.checked_mul(4))
                    .map_or_else(|| "more than 2^64".to_string(), |b| b.to_string())
            ),
        }),
    }
}
