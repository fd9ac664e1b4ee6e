//! # tessera-datasets
//!
//! Data for tessera's models, with no network access needed:
//!
//! - **Embedded real datasets** compiled into the crate: [`load_iris`], [`load_wine`],
//!   [`load_breast_cancer`], [`load_digits`], [`load_diabetes`] (exported from scikit-learn's bundled copies);
//! - **Loaders**: [`read_csv`] (header row, target column by name, empty/`NA`/`NaN` cells missing) and
//!   [`read_libsvm`]; malformed files give errors with the line and column;
//! - **Generators**, deterministic by seed and parallel: [`make_classification`], [`make_regression`],
//!   [`make_friedman1`], as scikit-learn defines them;
//! - **Splits**: [`train_test_split`] (optionally stratified), [`KFold`], [`StratifiedKFold`];
//! - the [`Dataset`] type: row-major f32 features, f32 targets, names and the [`Task`].
//!
//! ```
//! use tessera_datasets::{load_iris, train_test_split, StratifiedKFold};
//!
//! let iris = load_iris();
//! assert_eq!(iris.features().dim(), (150, 4));
//! let (train, test) = train_test_split(&iris, 0.2, 42, true).unwrap();
//! assert_eq!((train.n_samples(), test.n_samples()), (120, 30));
//! // Stratified: each class keeps 10 of its 50 rows in the test part.
//! assert_eq!(test.summary().class_counts["setosa"], 10);
//!
//! let folds = StratifiedKFold::new(5).split(iris.targets().as_slice().unwrap()).unwrap();
//! assert!(folds.iter().all(|f| f.test.len() == 30));
//! ```

mod csv_read;
mod csv_write;
mod dataset;
mod embedded;
mod error;
mod libsvm;
mod limits;
mod split;
mod synth;
mod targets;

pub use csv_read::{
    BLOCK_BYTES, CsvOptions, MAX_INFERRED_CLASSES, TaskKind, is_missing, read_csv, read_csv_from,
    read_csv_header,
};
pub use csv_write::write_csv;
pub use dataset::{Dataset, Summary, TargetStats, Task};
pub use embedded::{
    EMBEDDED_NAMES, load_breast_cancer, load_diabetes, load_digits, load_embedded, load_iris, load_wine,
};
pub use error::{Error, Result};
pub use libsvm::{LibSvmOptions, read_libsvm, read_libsvm_from};
pub use limits::{
    DENSE_CELLS_ALWAYS, DENSE_CELLS_PER_ENTRY, FEATURES_ALWAYS, FEATURES_PER_ENTRY, MAX_HEADER_BYTES,
    MAX_LINE_BYTES,
};
pub use split::{KFold, SplitIndices, StratifiedKFold, train_test_indices, train_test_split};
pub use synth::{
    ClassificationParams, Friedman1Params, RegressionParams, make_classification, make_friedman1,
    make_regression,
};
