//! `tessera data`: `info` (rows, columns, missing values, label distribution), `export` (an embedded
//! dataset to CSV), `synth` (generated data to CSV) and `split` (train/test/validation files).

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;
use tessera_datasets::{
    ClassificationParams, CsvOptions, Dataset, EMBEDDED_NAMES, Friedman1Params, LibSvmOptions,
    RegressionParams, Task, TaskKind, load_embedded, make_classification, make_friedman1, make_regression,
    read_csv, read_csv_header, read_libsvm, write_csv,
};

use crate::CliError;
use crate::progress::spinner;

/// `tessera data ...`
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Rows, columns, missing values and the label distribution of a CSV or LibSVM file or an embedded dataset.
    Info(InfoArgs),
    /// Write an embedded dataset to CSV (feature columns, then `target`).
    Export(ExportArgs),
    /// Generate a synthetic dataset and write it to CSV.
    Synth(SynthArgs),
    /// Split a CSV file into train and test files (and a validation file), optionally stratified.
    Split(crate::data_split::SplitArgs),
}

/// File formats `tessera data info` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Comma-separated values with a header row.
    Csv,
    /// LibSVM / SVMlight sparse text.
    Libsvm,
}

/// Arguments of `tessera data info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// A CSV or LibSVM file, or an embedded dataset name (iris, wine, breast_cancer, digits, diabetes).
    pub source: PathBuf,
    /// The target column of a CSV file (default: a column named `target`, `label` or `y`, if any).
    #[arg(long)]
    pub target: Option<String>,
    /// Read the target as this task instead of inferring it.
    #[arg(long, value_enum)]
    pub task: Option<TaskArg>,
    /// The file format (default: from the extension; `.svm`, `.libsvm` and `.svmlight` mean LibSVM).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// A task named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TaskArg {
    /// Class labels.
    Classification,
    /// Real-valued targets.
    Regression,
}

impl From<TaskArg> for TaskKind {
    fn from(t: TaskArg) -> Self {
        match t {
            TaskArg::Classification => TaskKind::Classification,
            TaskArg::Regression => TaskKind::Regression,
        }
    }
}

/// Arguments of `tessera data export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The embedded dataset: iris, wine, breast_cancer, digits or diabetes.
    pub name: String,
    /// The CSV file to write (atomically; `-` for stdout).
    #[arg(long)]
    pub out: PathBuf,
}

/// Arguments of `tessera data synth`.
#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Which generator.
    #[arg(value_enum)]
    pub kind: SynthKind,
    /// Number of rows.
    #[arg(long, default_value_t = 1000)]
    pub rows: usize,
    /// Number of features.
    #[arg(long, default_value_t = 20)]
    pub features: usize,
    /// Informative features (classification default 2, regression default 10).
    #[arg(long)]
    pub informative: Option<usize>,
    /// Redundant features (classification).
    #[arg(long, default_value_t = 2)]
    pub redundant: usize,
    /// Number of classes (classification).
    #[arg(long, default_value_t = 2)]
    pub classes: usize,
    /// Clusters per class (classification).
    #[arg(long, default_value_t = 2)]
    pub clusters_per_class: usize,
    /// Fraction of randomly flipped labels (classification).
    #[arg(long, default_value_t = 0.01, allow_negative_numbers = true)]
    pub flip_y: f64,
    /// Class separation (classification).
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub class_sep: f64,
    /// Standard deviation of the target noise (regression, friedman1).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub noise: f64,
    /// Random seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The CSV file to write (atomically; `-` for stdout).
    #[arg(long)]
    pub out: PathBuf,
}

/// Generators `tessera data synth` offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SynthKind {
    /// scikit-learn's make_classification.
    Classification,
    /// scikit-learn's make_regression.
    Regression,
    /// scikit-learn's make_friedman1.
    Friedman1,
}

/// Runs a `tessera data` command.
pub fn run(cmd: DataCommand) -> Result<(), CliError> {
    match cmd {
        DataCommand::Info(args) => info(&args),
        DataCommand::Export(args) => {
            tessera_tensor::check_output(&args.out, &[])?;
            let ds = load_embedded(&args.name)?;
            write_csv(&ds, &args.out)?;
            eprintln!(
                "wrote {} ({} rows, {} features + target)",
                args.out.display(),
                ds.n_samples(),
                ds.n_features()
            );
            Ok(())
        }
        DataCommand::Synth(args) => synth(&args),
        DataCommand::Split(args) => crate::data_split::split(&args),
    }
}

fn load_source(args: &InfoArgs) -> Result<(Dataset, String), CliError> {
    let path = args.source.as_path();
    if !path.exists() {
        // Embedded names are matched as `data export` matches them: any case, `-` for `_`.
        let name = path.to_str().map(|s| s.trim().to_ascii_lowercase().replace('-', "_"));
        if let Some(name) = name.filter(|n| EMBEDDED_NAMES.contains(&n.as_str())) {
            return Ok((load_embedded(&name)?, format!("embedded dataset `{name}`")));
        }
        return Err(CliError::Usage(format!(
            "`{}` is neither a file nor an embedded dataset ({})",
            path.display(),
            EMBEDDED_NAMES.join(", ")
        )));
    }
    let format = args.format.unwrap_or_else(|| {
        match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("svm" | "libsvm" | "svmlight") => Format::Libsvm,
            _ => Format::Csv,
        }
    });
    let task = args.task.map(TaskKind::from);
    match format {
        Format::Libsvm => {
            if args.target.is_some() {
                return Err(CliError::Usage(
                    "--target applies to CSV files; LibSVM labels come first".into(),
                ));
            }
            let ds = read_libsvm(path, &LibSvmOptions { task, ..Default::default() })?;
            Ok((ds, format!("LibSVM file {}", path.display())))
        }
        Format::Csv => {
            let target = match &args.target {
                Some(t) => Some(t.clone()),
                None => detect_target(path)?,
            };
            let ds = read_csv(path, &CsvOptions { target, task, ..CsvOptions::default() })?;
            Ok((ds, format!("CSV file {}", path.display())))
        }
    }
}

/// A header column named `target`, `label` or `y` (in that order of preference), if the file has one.
fn detect_target(path: &Path) -> Result<Option<String>, CliError> {
    let names = read_csv_header(path)?;
    Ok(["target", "label", "y"].iter().find(|c| names.iter().any(|n| n == *c)).map(|c| c.to_string()))
}

fn info(args: &InfoArgs) -> Result<(), CliError> {
    let (ds, source) = load_source(args)?;
    let s = ds.summary();
    let missing: Vec<(&String, usize)> =
        s.feature_names.iter().zip(s.missing_per_column.iter().copied()).filter(|(_, m)| *m > 0).collect();
    if args.json {
        let mut out = json!({
            "source": source,
            "rows": s.n_samples,
            "features": s.n_features,
            "target": ds.target_name(),
            "task": s.task,
            "missing_values": s.missing_total(),
            "missing_per_column": missing.iter().map(|(n, m)| json!({"column": n, "missing": m})).collect::<Vec<_>>(),
        });
        if let Task::Classification { .. } = ds.task() {
            out["class_counts"] = json!(s.class_counts);
        }
        if let Some(t) = &s.target_stats {
            out["target_stats"] = json!({"mean": t.mean, "std": t.std, "min": t.min, "max": t.max});
        }
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        return Ok(());
    }
    println!("source:   {source}");
    println!("rows:     {}", s.n_samples);
    match ds.task() {
        Task::Unlabeled => println!("columns:  {} features, no target column", s.n_features),
        _ => println!("columns:  {} features + target `{}`", s.n_features, ds.target_name()),
    }
    match ds.task() {
        Task::Classification { class_names } => {
            println!("task:     classification ({} classes)", class_names.len())
        }
        other => println!("task:     {}", other.kind()),
    }
    println!("missing:  {} values in {} columns", s.missing_total(), missing.len());
    for (name, m) in missing.iter().take(20) {
        println!("  {name}: {m} ({:.1}%)", 100.0 * *m as f64 / s.n_samples as f64);
    }
    if missing.len() > 20 {
        println!("  ... and {} more columns", missing.len() - 20);
    }
    if !s.class_counts.is_empty() {
        println!("labels:");
        let width = s.class_counts.keys().map(String::len).max().unwrap_or(0);
        for (class, count) in &s.class_counts {
            println!("  {class:<width$}  {count:>8}  ({:.1}%)", 100.0 * *count as f64 / s.n_samples as f64);
        }
    }
    if let Some(t) = &s.target_stats {
        println!("target:   mean {:.6}, std {:.6}, min {}, max {}", t.mean, t.std, t.min, t.max);
    }
    Ok(())
}

fn synth(args: &SynthArgs) -> Result<(), CliError> {
    tessera_tensor::check_output(&args.out, &[])?;
    let bar = spinner(&format!("generating {} rows x {} features", args.rows, args.features));
    let start = Instant::now();
    let ds = match args.kind {
        SynthKind::Classification => make_classification(&ClassificationParams {
            n_samples: args.rows,
            n_features: args.features,
            n_informative: args.informative.unwrap_or(2),
            n_redundant: args.redundant,
            n_classes: args.classes,
            n_clusters_per_class: args.clusters_per_class,
            flip_y: args.flip_y,
            class_sep: args.class_sep,
            seed: args.seed,
            ..Default::default()
        })?,
        SynthKind::Regression => {
            make_regression(&RegressionParams {
                n_samples: args.rows,
                n_features: args.features,
                n_informative: args.informative.unwrap_or(10),
                noise: args.noise,
                seed: args.seed,
                ..Default::default()
            })?
            .0
        }
        SynthKind::Friedman1 => make_friedman1(&Friedman1Params {
            n_samples: args.rows,
            n_features: args.features,
            noise: args.noise,
            seed: args.seed,
        })?,
    };
    let generated = start.elapsed();
    bar.set_message(format!("writing {}", args.out.display()));
    write_csv(&ds, &args.out)?;
    bar.finish_and_clear();
    eprintln!(
        "wrote {} ({} rows x {} features; generated in {:.2?}, total {:.2?})",
        args.out.display(),
        ds.n_samples(),
        ds.n_features(),
        generated,
        start.elapsed()
    );
    Ok(())
}
