//! Writing a dataset as CSV: atomically, with rows formatted in parallel.

use std::io::Write;
use std::path::Path;

use rayon::prelude::*;

use crate::dataset::{Dataset, Task};
use crate::error::Result;

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
