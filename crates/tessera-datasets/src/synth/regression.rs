//! `make_regression` and `make_friedman1` as scikit-learn defines them.

use ndarray::{Array1, Array2};

use super::{fill_chunks, permutation};
use crate::dataset::{Dataset, Task};
use crate::error::{Error, Result};
use tessera_tensor::SeededRng;

/// Parameters of [`make_regression`], named and defaulted as scikit-learn's (a single target; the
/// low-rank `effective_rank` option is not offered).
#[derive(Debug, Clone, PartialEq)]
pub struct RegressionParams {
    /// Number of rows.
    pub n_samples: usize,
    /// Number of features (standard normal).
    pub n_features: usize,
    /// Features with a non-zero coefficient (uniform in `[0, 100)`).
    pub n_informative: usize,
    /// Added to every target.
    pub bias: f64,
    /// Standard deviation of the Gaussian noise added to the targets.
    pub noise: f64,
    /// Place the informative features at random columns (otherwise they come first). Rows are i.i.d.,
    /// so their order needs no shuffle.
    pub shuffle: bool,
    /// Random seed.
    pub seed: u64,
}

impl Default for RegressionParams {
    fn default() -> Self {
        RegressionParams {
            n_samples: 100,
            n_features: 100,
            n_informative: 10,
            bias: 0.0,
            noise: 0.0,
            shuffle: true,
            seed: 0,
        }
    }
}

/// Generates `y = X w + bias + noise` with standard normal `X`, as scikit-learn's `make_regression`.
/// Returns the dataset and the true coefficients `w` (zero for the uninformative columns).
pub fn make_regression(p: &RegressionParams) -> Result<(Dataset, Array1<f32>)> {
    if p.n_samples == 0 || p.n_features == 0 {
        return Err(Error::InvalidParameter("n_samples and n_features must be at least 1".into()));
    }
    if p.noise < 0.0 || !p.noise.is_finite() {
        return Err(Error::InvalidParameter(format!("noise must be a non-negative number, got {}", p.noise)));
    }
    if !p.bias.is_finite() {
        return Err(Error::InvalidParameter(format!("bias must be a finite number, got {}", p.bias)));
    }
    super::check_size(p.n_samples, p.n_features)?;
    let (n, d) = (p.n_samples, p.n_features);
    let informative = p.n_informative.min(d);
    let mut rng = SeededRng::new(p.seed);
    let mut coef = vec![0.0f64; d];
    for c in coef.iter_mut().take(informative) {
        *c = 100.0 * rng.uniform_f64();
    }
    if p.shuffle {
        let order = permutation(&mut rng, d);
        coef = order.iter().map(|&i| coef[i]).collect();
    }
    let mut x = Array2::<f32>::zeros((n, d));
    let mut y = Array1::<f32>::zeros(n);
    fill_chunks(&mut x, &mut y, &rng, |_, local, mut xc, mut yc| {
        for r in 0..xc.nrows() {
            let mut acc = p.bias;
            for (j, c) in coef.iter().enumerate() {
                let v = local.normal_f64();
                xc[[r, j]] = v as f32;
                acc += v * c;
            }
            if p.noise > 0.0 {
                acc += p.noise * local.normal_f64();
            }
            yc[r] = acc as f32;
        }
    });
    let ds = Dataset::from_arrays(x, y, Task::Regression)?;
    Ok((ds, coef.into_iter().map(|c| c as f32).collect()))
}

/// Parameters of [`make_friedman1`], as scikit-learn's.
#[derive(Debug, Clone, PartialEq)]
pub struct Friedman1Params {
    /// Number of rows.
    pub n_samples: usize,
    /// Number of features, at least 5 (only the first five matter).
    pub n_features: usize,
    /// Standard deviation of the Gaussian noise added to the targets.
    pub noise: f64,
    /// Random seed.
    pub seed: u64,
}

impl Default for Friedman1Params {
    fn default() -> Self {
        Friedman1Params { n_samples: 100, n_features: 10, noise: 0.0, seed: 0 }
    }
}

/// Friedman #1: `X ~ U[0,1]^d`, `y = 10 sin(pi x0 x1) + 20 (x2 - 0.5)^2 + 10 x3 + 5 x4 + noise * N(0,1)`.
pub fn make_friedman1(p: &Friedman1Params) -> Result<Dataset> {
    if p.n_features < 5 {
        return Err(Error::InvalidParameter(format!(
            "make_friedman1 needs n_features >= 5, got {}",
            p.n_features
        )));
    }
    if p.n_samples == 0 {
        return Err(Error::InvalidParameter("n_samples must be at least 1".into()));
    }
    if p.noise < 0.0 || !p.noise.is_finite() {
        return Err(Error::InvalidParameter(format!("noise must be a non-negative number, got {}", p.noise)));
    }
    super::check_size(p.n_samples, p.n_features)?;
    let rng = SeededRng::new(p.seed);
    let mut x = Array2::<f32>::zeros((p.n_samples, p.n_features));
    let mut y = Array1::<f32>::zeros(p.n_samples);
    fill_chunks(&mut x, &mut y, &rng, |_, local, mut xc, mut yc| {
        let mut row = vec![0.0f64; p.n_features];
        for r in 0..xc.nrows() {
            for (j, v) in row.iter_mut().enumerate() {
                *v = local.uniform_f64();
                xc[[r, j]] = *v as f32;
            }
            let mut t = 10.0 * (std::f64::consts::PI * row[0] * row[1]).sin()
                + 20.0 * (row[2] - 0.5).powi(2)
                + 10.0 * row[3]
                + 5.0 * row[4];
            if p.noise > 0.0 {
                t += p.noise * local.normal_f64();
            }
            yc[r] = t as f32;
        }
    });
    Dataset::from_arrays(x, y, Task::Regression)
}
