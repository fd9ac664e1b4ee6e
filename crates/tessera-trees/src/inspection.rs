//! Model inspection: permutation feature importance (scikit-learn's `permutation_importance`).

use ndarray::{ArrayView1, ArrayView2};
use rayon::prelude::*;
use tessera_tensor::SeededRng;

use crate::error::Result;
use crate::estimator::Model;
use crate::metrics;

/// Mean and standard deviation of the score drop when each feature is shuffled.
#[derive(Debug, Clone, PartialEq)]
pub struct PermutationImportance {
    /// Mean score decrease per feature.
    pub mean: Vec<f64>,
    /// Standard deviation of the decrease over the repeats.
    pub std: Vec<f64>,
    /// The score with no feature shuffled.
    pub baseline: f64,
}

fn score<M: Model>(model: &M, x: ArrayView2<'_, f32>, y: ArrayView1<'_, f32>) -> Result<f64> {
    let pred = model.predict(x)?;
    if model.classes().is_some() { metrics::accuracy(y, pred.view()) } else { metrics::r2(y, pred.view()) }
}

/// Shuffles each feature column `n_repeats` times and reports how much the score (accuracy for
/// classifiers, R² for regressors) drops. Features are processed in parallel; feature `j` uses random
/// stream `j` of `seed`, so results do not depend on the thread count.
pub fn permutation_importance<M: Model>(
    model: &M,
    x: ArrayView2<'_, f32>,
    y: ArrayView1<'_, f32>,
    n_repeats: usize,
    seed: u64,
) -> Result<PermutationImportance> {
    let baseline = score(model, x, y)?;
    let base_rng = SeededRng::new(seed);
    let per_feature: Vec<(f64, f64)> = (0..x.ncols())
        .into_par_iter()
        .map(|j| {
            let mut rng = base_rng.fork(j as u64);
            let mut xs = x.to_owned();
            let mut drops = Vec::with_capacity(n_repeats);
            for _ in 0..n_repeats.max(1) {
                let mut col: Vec<f32> = x.column(j).to_vec();
                rng.shuffle(&mut col);
                xs.column_mut(j).assign(&ArrayView1::from(&col));
                drops.push(baseline - score(model, xs.view(), y)?);
            }
            let mean = drops.iter().sum::<f64>() / drops.len() as f64;
            let var = drops.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / drops.len() as f64;
            Ok((mean, var.sqrt()))
        })
        .collect::<Result<_>>()?;
    Ok(PermutationImportance {
        mean: per_feature.iter().map(|p| p.0).collect(),
        std: per_feature.iter().map(|p| p.1).collect(),
        baseline,
    })
}
