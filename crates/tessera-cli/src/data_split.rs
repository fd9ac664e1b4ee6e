//! `tessera data split`: a CSV file into train and test files (and optionally a validation file), rows kept
//! byte for byte, chosen at random by a seed, stratified by a column when asked (each class keeps its share
//! in every part, as scikit-learn's `train_test_split(stratify=...)`).

use std::path::{Path, PathBuf};

use clap::Args;
use tessera_datasets::train_test_indices;

use crate::CliError;

/// Arguments of `tessera data split`.
#[derive(Debug, Args)]
pub struct SplitArgs {
    /// The CSV file to split (with a header row, which every part keeps).
    #[arg(long)]
    pub data: PathBuf,
    /// The test part: a fraction of the rows (0.2) or a count (30).
    #[arg(long, default_value = "0.2")]
    pub test_size: String,
    /// A validation part taken from the rest, as a fraction of all rows or a count (with --valid-out).
    #[arg(long)]
    pub valid_size: Option<String>,
    /// Keep each value of this column in the same proportion in every part.
    #[arg(long)]
    pub stratify: Option<String>,
    /// Random seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where to write the training rows (`-` for stdout).
    #[arg(long)]
    pub train_out: PathBuf,
    /// Where to write the test rows.
    #[arg(long)]
    pub test_out: PathBuf,
    /// Where to write the validation rows (with --valid-size).
    #[arg(long)]
    pub valid_out: Option<PathBuf>,
}

/// A part's size: a fraction in (0, 1) of `n` rows, or a whole count below `n`, as a fraction.
fn fraction(flag: &str, text: &str, n: usize) -> Result<f64, CliError> {
    let bad = || {
        CliError::Usage(format!("{flag} `{text}`: expected a fraction in (0, 1) or a row count below {n}"))
    };
    if let Ok(count) = text.trim().parse::<usize>() {
        return if count >= 1 && count < n { Ok(count as f64 / n as f64) } else { Err(bad()) };
    }
    match text.trim().parse::<f64>() {
        Ok(f) if f > 0.0 && f < 1.0 => Ok(f),
        _ => Err(bad()),
    }
}

/// The stratification labels: each row's value in `column`, as the index of that value among the distinct
/// ones.
fn labels(
    header: &csv::ByteRecord,
    rows: &[csv::ByteRecord],
    column: &str,
    source: &Path,
) -> Result<Vec<f32>, CliError> {
    let names: Vec<String> = header.iter().map(|h| String::from_utf8_lossy(h).trim().to_string()).collect();
    let Some(col) = names.iter().position(|h| h == column) else {
        return Err(CliError::Usage(format!(
            "--stratify `{column}`: {} has no such column (columns: {})",
            source.display(),
            names.join(", ")
        )));
    };
    let mut index: std::collections::HashMap<&[u8], f32> = Default::default();
    Ok(rows
        .iter()
        .map(|r| {
            let value = r.get(col).unwrap_or(b"");
            let next = index.len() as f32;
            *index.entry(value).or_insert(next)
        })
        .collect())
}

fn write_rows(
    path: &Path,
    header: &csv::ByteRecord,
    rows: &[csv::ByteRecord],
    order: &[usize],
) -> Result<(), CliError> {
    tessera_tensor::write_atomic(path, |w| {
        let mut out = csv::Writer::from_writer(w);
        out.write_byte_record(header).map_err(std::io::Error::other)?;
        for &i in order {
            out.write_byte_record(&rows[i]).map_err(std::io::Error::other)?;
        }
        out.flush()
    })?;
    Ok(())
}

/// Runs `tessera data split`.
pub fn split(a: &SplitArgs) -> Result<(), CliError> {
    let mut outs: Vec<&Path> = vec![&a.train_out, &a.test_out];
    match (&a.valid_size, &a.valid_out) {
        (Some(_), Some(v)) => outs.push(v),
        (None, None) => {}
        _ => return Err(CliError::Usage("--valid-size and --valid-out go together".into())),
    }
    for (i, out) in outs.iter().enumerate() {
        tessera_tensor::check_output(out, &[a.data.as_path()])?;
        if outs[..i].iter().any(|o| o == out && o.as_os_str() != "-") {
            return Err(CliError::Usage(format!("{} is named as two outputs", out.display())));
        }
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_path(&a.data)
        .map_err(|e| CliError::Usage(format!("{}: {e}", a.data.display())))?;
    let header =
        reader.byte_headers().map_err(|e| CliError::Usage(format!("{}: {e}", a.data.display())))?.clone();
    let rows: Vec<csv::ByteRecord> = reader
        .byte_records()
        .collect::<Result<_, _>>()
        .map_err(|e| CliError::Usage(format!("{}: {e}", a.data.display())))?;
    let n = rows.len();
    if n < 2 {
        return Err(CliError::Usage(format!("{}: {n} rows cannot be split in two", a.data.display())));
    }
    let strat = a.stratify.as_deref().map(|c| labels(&header, &rows, c, &a.data)).transpose()?;
    let test_fraction = fraction("--test-size", &a.test_size, n)?;
    let first = train_test_indices(n, test_fraction, a.seed, strat.as_deref())?;
    let (train, valid) = match &a.valid_size {
        Some(v) => {
            let wanted = fraction("--valid-size", v, n)? * n as f64;
            let rest = first.train.len();
            let of_rest = wanted / rest as f64;
            let sub_labels: Option<Vec<f32>> =
                strat.as_ref().map(|l| first.train.iter().map(|&i| l[i]).collect());
            let second = train_test_indices(rest, of_rest, a.seed.wrapping_add(1), sub_labels.as_deref())?;
            let pick = |idx: &[usize]| idx.iter().map(|&i| first.train[i]).collect::<Vec<_>>();
            (pick(&second.train), Some(pick(&second.test)))
        }
        None => (first.train.clone(), None),
    };
    write_rows(&a.train_out, &header, &rows, &train)?;
    write_rows(&a.test_out, &header, &rows, &first.test)?;
    if let (Some(out), Some(v)) = (&a.valid_out, &valid) {
        write_rows(out, &header, &rows, v)?;
    }
    eprintln!(
        "split {} rows: {} train ({}), {} test ({}){}",
        n,
        train.len(),
        a.train_out.display(),
        first.test.len(),
        a.test_out.display(),
        match (&a.valid_out, &valid) {
            (Some(out), Some(v)) => format!(", {} validation ({})", v.len(), out.display()),
            _ => String::new(),
        }
    );
    Ok(())
}
