//! Synthetic data generators, deterministic by seed and parallel: rows are generated in fixed-size chunks,
//! chunk `i` drawing from its own forked random stream, so the output is the same for every thread count.

mod classification;
mod regression;

pub use classification::{ClassificationParams, make_classification};
pub use regression::{Friedman1Params, RegressionParams, make_friedman1, make_regression};

use ndarray::{Array2, ArrayViewMut1, ArrayViewMut2, Axis};
use rayon::prelude::*;
use tessera_tensor::SeededRng;

/// Checks that `n` rows of `d` features (f32, with a target, and the generator's f64 working copy) fit in
/// memory, with checked arithmetic.
pub(crate) fn check_size(n: usize, d: usize) -> crate::error::Result<()> {
    let bytes = tessera_tensor::bytes_for([n, d.saturating_add(1)], 4 + 8);
    Ok(tessera_tensor::check_fits(&format!("{n} rows x {d} features"), bytes)?)
}

/// Rows per generation chunk (and per forked random stream). Fixed, so results never depend on threads.
pub(crate) const CHUNK_ROWS: usize = 4096;

/// Fills `x` (and `y`) chunk by chunk in parallel; `fill(chunk_index, first_row, rng, x_chunk, y_chunk)`.
pub(crate) fn fill_chunks<F>(x: &mut Array2<f32>, y: &mut ndarray::Array1<f32>, rng: &SeededRng, fill: F)
where
    F: Fn(usize, &mut SeededRng, ArrayViewMut2<'_, f32>, ArrayViewMut1<'_, f32>) + Sync,
{
    x.axis_chunks_iter_mut(Axis(0), CHUNK_ROWS)
        .into_par_iter()
        .zip(y.axis_chunks_iter_mut(Axis(0), CHUNK_ROWS).into_par_iter())
        .enumerate()
        .for_each(|(chunk, (xc, yc))| {
            let mut local = rng.fork(chunk as u64);
            fill(chunk * CHUNK_ROWS, &mut local, xc, yc);
        });
}

/// A uniformly random permutation of `0..n`.
pub(crate) fn permutation(rng: &mut SeededRng, n: usize) -> Vec<usize> {
    let mut p: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut p);
    p
}
