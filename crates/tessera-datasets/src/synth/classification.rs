//! `make_classification` as scikit-learn defines it (after Guyon's Madelon design): clusters of normal
//! points at the vertices of a hypercube, each cluster linearly transformed, plus redundant (linear
//! combinations), repeated and noise features, and randomly flipped labels.

use ndarray::{Array1, Array2};

use super::{fill_chunks, permutation};
use crate::dataset::{Dataset, Task};
use crate::error::{Error, Result};
use tessera_tensor::SeededRng;

/// Parameters of [`make_classification`], named and defaulted as scikit-learn's.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassificationParams {
    /// Number of rows.
    pub n_samples: usize,
    /// Total number of features (informative + redundant + repeated + noise).
    pub n_features: usize,
    /// Features carrying the class structure.
    pub n_informative: usize,
    /// Random linear combinations of the informative features.
    pub n_redundant: usize,
    /// Copies of randomly chosen informative or redundant features.
    pub n_repeated: usize,
    /// Number of classes.
    pub n_classes: usize,
    /// Normal clusters per class.
    pub n_clusters_per_class: usize,
    /// Class proportions (`n_classes` values, or `n_classes - 1` with the last implied); `None` = balanced.
    pub weights: Option<Vec<f64>>,
    /// Fraction of labels replaced by uniformly random classes.
    pub flip_y: f64,
    /// Half the side of the hypercube: larger means easier.
    pub class_sep: f64,
    /// Put cluster centres on hypercube vertices (else on a random polytope).
    pub hypercube: bool,
    /// Added to every feature; `None` draws a shift per feature in `[-class_sep, class_sep]`.
    pub shift: Option<f64>,
    /// Multiplies every feature after the shift; `None` draws a scale per feature in `[1, 101]`.
    pub scale: Option<f64>,
    /// Shuffle rows and columns (otherwise columns are informative, redundant, repeated, noise).
    pub shuffle: bool,
    /// Random seed.
    pub seed: u64,
}

impl Default for ClassificationParams {
    fn default() -> Self {
        ClassificationParams {
            n_samples: 100,
            n_features: 20,
            n_informative: 2,
            n_redundant: 2,
            n_repeated: 0,
            n_classes: 2,
            n_clusters_per_class: 2,
            weights: None,
            flip_y: 0.01,
            class_sep: 1.0,
            hypercube: true,
            shift: Some(0.0),
            scale: Some(1.0),
            shuffle: true,
            seed: 0,
        }
    }
}

impl ClassificationParams {
    fn check(&self) -> Result<Vec<f64>> {
        let bad = |m: String| Err(Error::InvalidParameter(m));
        let structured = self.n_informative + self.n_redundant + self.n_repeated;
        if self.n_samples == 0 {
            return bad("n_samples must be at least 1".into());
        }
        if self.n_informative == 0 {
            return bad("n_informative must be at least 1".into());
        }
        if structured > self.n_features {
            return bad(format!(
                "n_informative + n_redundant + n_repeated = {structured} exceeds n_features = {}",
                self.n_features
            ));
        }
        if self.n_classes < 2 || self.n_clusters_per_class == 0 {
            return bad("n_classes must be at least 2 and n_clusters_per_class at least 1".into());
        }
        let clusters = self.n_classes * self.n_clusters_per_class;
        if self.n_informative < 64 && clusters as u128 > 1u128 << self.n_informative {
            return bad(format!(
                "n_classes * n_clusters_per_class = {clusters} must be at most 2^n_informative = {}",
                1u128 << self.n_informative
            ));
        }
        if !self.class_sep.is_finite() {
            return bad(format!("class_sep must be a finite number, got {}", self.class_sep));
        }
        for (name, v) in [("shift", self.shift), ("scale", self.scale)] {
            if v.is_some_and(|v| !v.is_finite()) {
                return bad(format!("{name} must be a finite number, got {v:?}"));
            }
        }
        super::check_size(self.n_samples, self.n_features)?;
        if !(0.0..=1.0).contains(&self.flip_y) {
            return bad(format!("flip_y must be in [0, 1], got {}", self.flip_y));
        }
        let weights = match &self.weights {
            None => vec![1.0 / self.n_classes as f64; self.n_classes],
            Some(w) if w.len() == self.n_classes => w.clone(),
            Some(w) if w.len() + 1 == self.n_classes => {
                let mut w = w.clone();
                w.push(1.0 - w.iter().sum::<f64>());
                w
            }
            Some(w) => return bad(format!("weights has {} values for {} classes", w.len(), self.n_classes)),
        };
        if weights.iter().any(|w| !w.is_finite() || *w < 0.0) {
            return bad(format!("weights must be non-negative, got {weights:?}"));
        }
        Ok(weights)
    }
}

/// Generates a random classification problem as scikit-learn's `make_classification` does. Features are
/// named `x0`, `x1`, ...; labels are `0..n_classes`. Deterministic for a seed, whatever the thread count.
///
/// ```
/// use tessera_datasets::{ClassificationParams, make_classification};
/// let ds = make_classification(&ClassificationParams {
///     n_samples: 1000, n_features: 10, n_informative: 4, seed: 7, ..Default::default()
/// }).unwrap();
/// assert_eq!(ds.features().dim(), (1000, 10));
/// assert_eq!(ds.task().n_classes(), Some(2));
/// ```
pub fn make_classification(p: &ClassificationParams) -> Result<Dataset> {
    let weights = p.check()?;
    let (n, d, ni) = (p.n_samples, p.n_features, p.n_informative);
    let clusters = p.n_classes * p.n_clusters_per_class;
    let mut rng = SeededRng::new(p.seed);

    // Rows per cluster, as scikit-learn: floor of the weighted share, the remainder dealt round-robin.
    let mut per_cluster: Vec<usize> = (0..clusters)
        .map(|k| (n as f64 * weights[k % p.n_classes] / p.n_clusters_per_class as f64) as usize)
        .collect();
    let assigned: usize = per_cluster.iter().sum();
    for i in 0..n.saturating_sub(assigned) {
        per_cluster[i % clusters] += 1;
    }
    let cluster_end: Vec<usize> = per_cluster
        .iter()
        .scan(0, |acc, &c| {
            *acc += c;
            Some(*acc)
        })
        .collect();

    // Cluster centres on distinct hypercube vertices, scaled to +-class_sep.
    let vertices = distinct_vertices(&mut rng, clusters, ni);
    let mut centroids = Array2::<f64>::zeros((clusters, ni));
    for (k, v) in vertices.iter().enumerate() {
        for j in 0..ni {
            centroids[[k, j]] = if v[j] { p.class_sep } else { -p.class_sep };
        }
    }
    if !p.hypercube {
        for k in 0..clusters {
            let s = rng.uniform_f64();
            centroids.row_mut(k).mapv_inplace(|c| c * s);
        }
        for j in 0..ni {
            let s = rng.uniform_f64();
            centroids.column_mut(j).mapv_inplace(|c| c * s);
        }
    }
    // One random linear map per cluster (covariance), the redundant mixing matrix, repeated sources.
    let maps: Vec<Array2<f64>> = (0..clusters)
        .map(|_| Array2::from_shape_simple_fn((ni, ni), || 2.0 * rng.uniform_f64() - 1.0))
        .collect();
    let mixing = Array2::from_shape_simple_fn((ni, p.n_redundant), || 2.0 * rng.uniform_f64() - 1.0);
    let repeat_src: Vec<usize> = (0..p.n_repeated)
        .map(|_| (((ni + p.n_redundant - 1) as f64) * rng.uniform_f64() + 0.5) as usize)
        .collect();
    let shift: Vec<f64> =
        (0..d).map(|_| p.shift.unwrap_or_else(|| (2.0 * rng.uniform_f64() - 1.0) * p.class_sep)).collect();
    let scale: Vec<f64> =
        (0..d).map(|_| p.scale.unwrap_or_else(|| 1.0 + 100.0 * rng.uniform_f64())).collect();
    let row_order = if p.shuffle { permutation(&mut rng, n) } else { (0..n).collect() };
    let col_order = if p.shuffle { permutation(&mut rng, d) } else { (0..d).collect() };

    let mut x = Array2::<f32>::zeros((n, d));
    let mut y = Array1::<f32>::zeros(n);
    fill_chunks(&mut x, &mut y, &rng, |first, local, mut xc, mut yc| {
        let mut z = vec![0.0f64; ni];
        let mut row = vec![0.0f64; d];
        for r in 0..xc.nrows() {
            let src = row_order[first + r];
            let k = cluster_end.partition_point(|&end| end <= src);
            for v in z.iter_mut() {
                *v = local.normal_f64();
            }
            let map = &maps[k];
            for j in 0..ni {
                let mut acc = centroids[[k, j]];
                for (i, zi) in z.iter().enumerate() {
                    acc += zi * map[[i, j]];
                }
                row[j] = acc;
            }
            for j in 0..p.n_redundant {
                row[ni + j] = (0..ni).map(|i| row[i] * mixing[[i, j]]).sum();
            }
            let rep0 = ni + p.n_redundant;
            for (j, &s) in repeat_src.iter().enumerate() {
                row[rep0 + j] = row[s];
            }
            for v in row[rep0 + p.n_repeated..].iter_mut() {
                *v = local.normal_f64();
            }
            let mut label = k % p.n_classes;
            if p.flip_y > 0.0 && local.uniform_f64() < p.flip_y {
                label = local.below(p.n_classes);
            }
            yc[r] = label as f32;
            let mut out = xc.row_mut(r);
            for (c, &src_col) in col_order.iter().enumerate() {
                out[c] = ((row[src_col] + shift[src_col]) * scale[src_col]) as f32;
            }
        }
    });
    let class_names = (0..p.n_classes).map(|c| c.to_string()).collect();
    Dataset::from_arrays(x, y, Task::Classification { class_names })
}

/// `count` distinct random vertices of the `dim`-dimensional unit hypercube, as bit vectors.
fn distinct_vertices(rng: &mut SeededRng, count: usize, dim: usize) -> Vec<Vec<bool>> {
    let mut out: Vec<Vec<bool>> = Vec::with_capacity(count);
    while out.len() < count {
        let v: Vec<bool> = (0..dim).map(|_| rng.uniform() < 0.5).collect();
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}
