//! Batch prediction helpers shared by every family: rows of a matrix as slices, and the chunk size of
//! parallel prediction.

use ndarray::{ArrayView1, ArrayView2, Axis};

/// Rows predicted per parallel task.
pub(crate) const PREDICT_CHUNK: usize = 1024;

/// Iterates rows as contiguous slices (copying only when the view is not row-major).
#[inline]
pub(crate) fn rows_of<'a>(x: ArrayView2<'a, f32>) -> impl Iterator<Item = std::borrow::Cow<'a, [f32]>> + 'a {
    (0..x.nrows()).map(move |i| {
        let r: ArrayView1<'a, f32> = x.index_axis_move(Axis(0), i);
        match r.to_slice() {
            Some(s) => std::borrow::Cow::Borrowed(s),
            None => std::borrow::Cow::Owned(r.to_vec()),
        }
    })
}
