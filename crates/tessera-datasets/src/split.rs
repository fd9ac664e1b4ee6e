//! Train/test splits (optionally stratified), K-fold and stratified K-fold cross-validation, with the
//! fold sizes scikit-learn uses.

use std::collections::BTreeMap;

use tessera_tensor::SeededRng;

use crate::dataset::Dataset;
use crate::error::{Error, Result};

/// Row indices of a train/test split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitIndices {
    /// Training rows.
    pub train: Vec<usize>,
    /// Test rows.
    pub test: Vec<usize>,
}

/// Splits `n` rows into train and test: `ceil(test_fraction * n)` test rows, chosen at random by `seed`.
/// With `stratify_by`, each class keeps its share in both parts (its test count is its proportional
/// share, remainders going to the classes with the largest fractional parts).
pub fn train_test_indices(
    n: usize,
    test_fraction: f64,
    seed: u64,
    stratify_by: Option<&[f32]>,
) -> Result<SplitIndices> {
    if !(test_fraction > 0.0 && test_fraction < 1.0) {
        return Err(Error::InvalidParameter(format!("test fraction must be in (0, 1), got {test_fraction}")));
    }
    let n_test = (test_fraction * n as f64).ceil() as usize;
    if n_test == 0 || n_test >= n {
        return Err(Error::InvalidParameter(format!(
            "a test fraction of {test_fraction} leaves {n_test} of {n} rows for testing; both parts must be non-empty"
        )));
    }
    let mut rng = SeededRng::new(seed);
    let Some(labels) = stratify_by else {
        let mut order: Vec<usize> = (0..n).collect();
        rng.shuffle(&mut order);
        let test = order.split_off(n - n_test);
        return Ok(SplitIndices { train: order, test });
    };
    if labels.len() != n {
        return Err(Error::Shape(format!("{} labels to stratify {n} rows", labels.len())));
    }
    let groups = group_by_label(labels);
    // Largest-remainder apportionment of the test rows across classes.
    let quotas: Vec<f64> = groups.values().map(|g| g.len() as f64 * n_test as f64 / n as f64).collect();
    let mut counts: Vec<usize> = quotas.iter().map(|q| q.floor() as usize).collect();
    let mut by_remainder: Vec<usize> = (0..counts.len()).collect();
    by_remainder
        .sort_by(|&a, &b| (quotas[b] - quotas[b].floor()).total_cmp(&(quotas[a] - quotas[a].floor())));
    let mut missing = n_test - counts.iter().sum::<usize>();
    for &i in by_remainder.iter().cycle().take(by_remainder.len() * 2) {
        if missing == 0 {
            break;
        }
        if counts[i] < groups.values().nth(i).map_or(0, Vec::len) {
            counts[i] += 1;
            missing -= 1;
        }
    }
    let (mut train, mut test) = (Vec::with_capacity(n - n_test), Vec::with_capacity(n_test));
    for (group, &count) in groups.values().zip(&counts) {
        let mut g = group.clone();
        rng.shuffle(&mut g);
        test.extend_from_slice(&g[..count]);
        train.extend_from_slice(&g[count..]);
    }
    rng.shuffle(&mut train);
    rng.shuffle(&mut test);
    Ok(SplitIndices { train, test })
}

/// Splits a dataset into (train, test); see [`train_test_indices`]. `stratify` keeps class proportions
/// (classification datasets only).
pub fn train_test_split(
    dataset: &Dataset,
    test_fraction: f64,
    seed: u64,
    stratify: bool,
) -> Result<(Dataset, Dataset)> {
    let labels = dataset.targets().to_vec();
    if stratify && dataset.task().n_classes().is_none() {
        return Err(Error::InvalidParameter("stratified splits need a classification dataset".into()));
    }
    let idx = train_test_indices(dataset.n_samples(), test_fraction, seed, stratify.then_some(&labels[..]))?;
    Ok((dataset.select(&idx.train)?, dataset.select(&idx.test)?))
}

/// K-fold cross-validation: `n_splits` folds of consecutive (or, with `shuffle`, seeded random) rows; the
/// first `n % n_splits` folds hold one row more, as in scikit-learn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KFold {
    /// Number of folds, at least 2.
    pub n_splits: usize,
    /// Shuffle rows before cutting folds.
    pub shuffle: bool,
    /// Seed for the shuffle.
    pub seed: u64,
}

impl KFold {
    /// `n_splits` folds without shuffling.
    pub fn new(n_splits: usize) -> Self {
        KFold { n_splits, shuffle: false, seed: 0 }
    }

    /// The (train, test) indices of each fold.
    pub fn split(&self, n: usize) -> Result<Vec<SplitIndices>> {
        check_splits(self.n_splits, n)?;
        let mut order: Vec<usize> = (0..n).collect();
        if self.shuffle {
            SeededRng::new(self.seed).shuffle(&mut order);
        }
        let mut folds = vec![Vec::new(); self.n_splits];
        let mut start = 0;
        for (f, fold) in folds.iter_mut().enumerate() {
            let size = n / self.n_splits + usize::from(f < n % self.n_splits);
            fold.extend_from_slice(&order[start..start + size]);
            start += size;
        }
        Ok(folds_to_splits(&folds))
    }
}

/// Stratified K-fold: each fold holds every class in (nearly) the dataset's proportion, allocated as in
/// scikit-learn: the sorted labels are dealt to the folds in turn, which fixes how many rows of each class
/// each fold gets (counts differ by at most one), then each class's rows, in order or shuffled, fill its
/// folds in consecutive blocks. Without shuffling the folds equal scikit-learn's exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StratifiedKFold {
    /// Number of folds, at least 2.
    pub n_splits: usize,
    /// Shuffle each class's rows before filling the folds.
    pub shuffle: bool,
    /// Seed for the shuffle.
    pub seed: u64,
}

impl StratifiedKFold {
    /// `n_splits` folds without shuffling.
    pub fn new(n_splits: usize) -> Self {
        StratifiedKFold { n_splits, shuffle: false, seed: 0 }
    }

    /// The (train, test) indices of each fold, stratified by `labels`.
    pub fn split(&self, labels: &[f32]) -> Result<Vec<SplitIndices>> {
        check_splits(self.n_splits, labels.len())?;
        let k = self.n_splits;
        let mut rng = SeededRng::new(self.seed);
        let mut folds = vec![Vec::new(); k];
        let mut dealt = 0;
        for group in group_by_label(labels).into_values() {
            // Rows of this class per fold, from dealing the sorted labels round-robin.
            let per_fold: Vec<usize> =
                (0..k).map(|f| (0..group.len()).filter(|i| (dealt + i) % k == f).count()).collect();
            dealt += group.len();
            let mut g = group;
            if self.shuffle {
                rng.shuffle(&mut g);
            }
            let mut rows = g.into_iter();
            for (fold, &count) in folds.iter_mut().zip(&per_fold) {
                fold.extend(rows.by_ref().take(count));
            }
        }
        for f in &mut folds {
            f.sort_unstable();
        }
        Ok(folds_to_splits(&folds))
    }
}

fn check_splits(n_splits: usize, n: usize) -> Result<()> {
    if n_splits < 2 || n_splits > n {
        return Err(Error::InvalidParameter(format!(
            "n_splits must be in 2..={n} for {n} rows, got {n_splits}"
        )));
    }
    Ok(())
}

fn folds_to_splits(folds: &[Vec<usize>]) -> Vec<SplitIndices> {
    (0..folds.len())
        .map(|k| SplitIndices {
            train: folds
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != k)
                .flat_map(|(_, f)| f.iter().copied())
                .collect(),
            test: folds[k].clone(),
        })
        .collect()
}

/// Row indices per distinct label, labels in ascending order.
fn group_by_label(labels: &[f32]) -> BTreeMap<u32, Vec<usize>> {
    let mut groups: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (i, l) in labels.iter().enumerate() {
        // Order-preserving key for floats, so classes come out in ascending label order.
        let bits = l.to_bits();
        let key = if bits >> 31 == 1 { !bits } else { bits | 1 << 31 };
        groups.entry(key).or_default().push(i);
    }
    groups
}
