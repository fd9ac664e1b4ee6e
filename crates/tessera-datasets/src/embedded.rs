//! Real datasets compiled into the crate, exported from scikit-learn's bundled copies by
//! `scripts/export_datasets.py` (sources and licences in the crate README).

use std::path::Path;

use crate::csv_read::{CsvOptions, TaskKind, read_csv_from};
use crate::dataset::{Dataset, Task};
use crate::error::{Error, Result};

struct Embedded {
    name: &'static str,
    csv: &'static str,
    /// Class names in label order; empty for regression.
    classes: &'static [&'static str],
}

const DIGIT_CLASSES: &[&str] = &["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

const EMBEDDED: [Embedded; 5] = [
    Embedded {
        name: "iris",
        csv: include_str!("../data/iris.csv"),
        classes: &["setosa", "versicolor", "virginica"],
    },
    Embedded {
        name: "wine",
        csv: include_str!("../data/wine.csv"),
        classes: &["class_0", "class_1", "class_2"],
    },
    Embedded {
        name: "breast_cancer",
        csv: include_str!("../data/breast_cancer.csv"),
        classes: &["malignant", "benign"],
    },
    Embedded { name: "digits", csv: include_str!("../data/digits.csv"), classes: DIGIT_CLASSES },
    Embedded { name: "diabetes", csv: include_str!("../data/diabetes.csv"), classes: &[] },
];

/// The names of the embedded datasets.
pub const EMBEDDED_NAMES: [&str; 5] = ["iris", "wine", "breast_cancer", "digits", "diabetes"];

/// Loads an embedded dataset by name (`iris`, `wine`, `breast_cancer`, `digits`, `diabetes`; `-` may stand
/// for `_`).
pub fn load_embedded(name: &str) -> Result<Dataset> {
    let wanted = name.trim().to_ascii_lowercase().replace('-', "_");
    let entry = EMBEDDED.iter().find(|e| e.name == wanted).ok_or_else(|| Error::UnknownDataset {
        name: name.to_string(),
        available: EMBEDDED_NAMES.join(", "),
    })?;
    let task = if entry.classes.is_empty() { TaskKind::Regression } else { TaskKind::Classification };
    let options = CsvOptions { task: Some(task), ..CsvOptions::with_target("target") };
    let source = format!("<embedded {}>", entry.name);
    let ds = read_csv_from(entry.csv.as_bytes(), Path::new(&source), &options)?;
    if entry.classes.is_empty() {
        return Ok(ds);
    }
    let (x, y, names, target, _) = ds.into_parts();
    let class_names = entry.classes.iter().map(|c| c.to_string()).collect();
    Dataset::new(x, y, names, target, Task::Classification { class_names })
}

fn embedded(name: &str) -> Dataset {
    // The data is compiled in and checked by this crate's tests, so this cannot fail at run time.
    #[allow(clippy::expect_used)]
    load_embedded(name).expect("embedded datasets are valid")
}

/// Iris: 150 flowers, 4 measurements (cm), 3 species. Fisher (1936).
pub fn load_iris() -> Dataset {
    embedded("iris")
}

/// Wine: 178 wines, 13 chemical measurements, 3 cultivars.
pub fn load_wine() -> Dataset {
    embedded("wine")
}

/// Breast cancer Wisconsin (diagnostic): 569 tumours, 30 features, malignant (0) or benign (1).
pub fn load_breast_cancer() -> Dataset {
    embedded("breast_cancer")
}

/// Digits: 1,797 8x8 images of handwritten digits, pixel values 0-16, 10 classes.
pub fn load_digits() -> Dataset {
    embedded("digits")
}

/// Diabetes: 442 patients, 10 baseline variables (mean-centred and scaled as scikit-learn ships them),
/// target a quantitative measure of disease progression one year later.
pub fn load_diabetes() -> Dataset {
    embedded("diabetes")
}
