//! Matrix products, batched and broadcasting.

use candle_core::Tensor;

use crate::error::{Error, Result};
use crate::graph::{record, tracks};
use crate::var::Var;

/// `a @ b` over the last two dimensions with numpy broadcasting of the batch dimensions.
/// candle's CPU kernel takes transposed operands as they are and at most two batch dimensions
/// with simple strides; anything else is made contiguous first.
pub(crate) fn matmul_tensors(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let (ra, rb) = (a.rank(), b.rank());
    if ra < 2 || rb < 2 {
        return Err(Error::invalid(
            "matmul",
            format!("needs operands with at least 2 dimensions, found {:?} and {:?}", a.dims(), b.dims()),
        ));
    }
    let (m, k) = (a.dims()[ra - 2], a.dims()[ra - 1]);
    let (k2, n) = (b.dims()[rb - 2], b.dims()[rb - 1]);
    if k != k2 {
        return Err(Error::ShapeMismatch {
            what: format!("matmul of {:?} and {:?} (inner dimensions)", a.dims(), b.dims()),
            expected: vec![k],
            found: vec![k2],
        });
    }
    if ra == 2 && rb == 2 {
        return Ok(plain(a)?.matmul(&plain(b)?)?);
    }
    // Broadcast the batch dimensions.
    let (ba, bb) = (&a.dims()[..ra - 2], &b.dims()[..rb - 2]);
    let rank = ba.len().max(bb.len());
    let mut batch = Vec::with_capacity(rank);
    for i in 0..rank {
        let x = if i + ba.len() >= rank { ba[i + ba.len() - rank] } else { 1 };
        let y = if i + bb.len() >= rank { bb[i + bb.len() - rank] } else { 1 };
        if x != y && x != 1 && y != 1 {
            return Err(Error::ShapeMismatch {
                what: format!("matmul batch dimensions of {:?} and {:?}", a.dims(), b.dims()),
                expected: ba.to_vec(),
                found: bb.to_vec(),
            });
        }
        batch.push(x.max(y));
    }
    let count: usize = batch.iter().product();
    let a3 = flatten_batch(a, &batch, count, m, k)?;
    let b3 = flatten_batch(b, &batch, count, k, n)?;
    let out = match a3.matmul(&b3) {
        Ok(out) => out,
        Err(_) => a3.contiguous()?.matmul(&b3.contiguous()?)?,
    };
    let mut dims = batch;
    dims.extend([m, n]);
    Ok(out.reshape(dims)?)
}

/// Broadcasts `t` to `batch + [r, c]` and views it as `[count, r, c]`; a batch that needs no
/// broadcasting keeps its (possibly transposed) matrix layout when candle's kernel takes it as it is.
fn flatten_batch(t: &Tensor, batch: &[usize], count: usize, r: usize, c: usize) -> Result<Tensor> {
    let rank = t.rank();
    if &t.dims()[..rank - 2] == batch && rank == 3 {
        return plain(t);
    }
    let mut full = batch.to_vec();
    full.extend([r, c]);
    let b = t.broadcast_as(full)?;
    if b.is_contiguous() {
        return Ok(b.reshape((count, r, c))?);
    }
    Ok(b.contiguous()?.reshape((count, r, c))?)
}

/// `t` (rank 2 or 3) in a layout candle's matmul computes correctly: each matrix row-major or transposed
/// (column-major) and, for a batch, one matrix after another. Anything else, a broadcast view with stride
/// 0 (the gradient of a sum, say) in particular, is made contiguous first: candle accepts some such views
/// and multiplies them wrongly, which made second derivatives through batched products wrong.
fn plain(t: &Tensor) -> Result<Tensor> {
    let (dims, strides) = (t.dims(), t.stride());
    let n = dims.len();
    let (r, c) = (dims[n - 2], dims[n - 1]);
    let (sr, sc) = (strides[n - 2], strides[n - 1]);
    // A dimension of size 1 may carry any stride.
    let row_major = (sc == 1 || c == 1) && (sr == c || r == 1);
    let col_major = (sr == 1 || r == 1) && (sc == r || c == 1);
    let batch_ok = n == 2 || strides[0] == r * c || dims[0] == 1;
    if (row_major || col_major) && batch_ok && t.layout().start_offset() == 0 {
        return Ok(t.clone());
    }
    Ok(t.contiguous()?)
}

impl Var {
    /// Matrix product over the last two dimensions, batch dimensions broadcast
    /// (`torch.matmul` for operands of rank >= 2).
    pub fn matmul(&self, rhs: &Var) -> Result<Var> {
        let (a, b) = (self.tensor(), rhs.tensor());
        let out = matmul_tensors(&a, &b)?;
        if !tracks(&[self, rhs]) {
            return Ok(Var::result(out));
        }
        let (x, y) = (self.clone(), rhs.clone());
        let (da, db) = (a.dims().to_vec(), b.dims().to_vec());
        let name = if a.rank() == 2 && b.rank() == 2 { "MmBackward0" } else { "BmmBackward0" };
        record(name, out, &[self, rhs], move |g, needs| {
            let ga = if needs[0] { Some(g[0].matmul(&y.t()?)?.sum_to(&da)?) } else { None };
            let gb = if needs[1] { Some(x.t()?.matmul(&g[0])?.sum_to(&db)?) } else { None };
            Ok(vec![ga, gb])
        })
    }
}
