//! Reductions (sum, mean, max, min) and their adjoints (broadcast, sum back to a shape).

use candle_core::{DType, Tensor};

use crate::error::{Error, Result};
use crate::graph::{record, tracks};
use crate::var::Var;

fn check_dims(op: &'static str, dims: &[usize], rank: usize) -> Result<()> {
    if let Some(d) = dims.iter().find(|&&d| d >= rank) {
        return Err(Error::invalid(op, format!("dimension {d} out of range for a tensor of rank {rank}")));
    }
    Ok(())
}

/// The shape after removing `dims` (reductions without keepdim).
fn squeezed(dims: &[usize], keep: &[usize]) -> Vec<usize> {
    keep.iter().enumerate().filter(|(i, _)| !dims.contains(i)).map(|(_, &d)| d).collect()
}

impl Var {
    /// Sums over `dims`, keeping them with size one.
    pub fn sum_keepdim(&self, dims: &[usize]) -> Result<Var> {
        let t = self.tensor();
        check_dims("sum", dims, t.rank())?;
        let out = t.sum_keepdim(dims)?;
        if !tracks(&[self]) {
            return Ok(Var::result(out));
        }
        let in_dims = t.dims().to_vec();
        record("SumBackward1", out, &[self], move |g, _| Ok(vec![Some(g[0].broadcast_as(&in_dims)?)]))
    }

    /// Sums over `dims`; with `keepdim` they stay with size one, else they are removed.
    pub fn sum(&self, dims: &[usize], keepdim: bool) -> Result<Var> {
        let kept = self.sum_keepdim(dims)?;
        if keepdim { Ok(kept) } else { kept.reshape(&squeezed(dims, &kept.dims())) }
    }

    /// Sums every element into a scalar (shape `[]`).
    pub fn sum_all(&self) -> Result<Var> {
        let t = self.tensor();
        let out = t.sum_all()?;
        if !tracks(&[self]) {
            return Ok(Var::result(out));
        }
        let in_dims = t.dims().to_vec();
        record("SumBackward0", out, &[self], move |g, _| Ok(vec![Some(g[0].broadcast_as(&in_dims)?)]))
    }

    /// Mean over `dims`.
    pub fn mean(&self, dims: &[usize], keepdim: bool) -> Result<Var> {
        let shape = self.dims();
        check_dims("mean", dims, shape.len())?;
        let n: usize = dims.iter().map(|&d| shape[d]).product();
        self.sum(dims, keepdim)?.affine(1.0 / n as f64, 0.0)
    }

    /// Mean of every element (a scalar).
    pub fn mean_all(&self) -> Result<Var> {
        let n = self.elem_count();
        self.sum_all()?.affine(1.0 / n as f64, 0.0)
    }

    /// Maximum over `dim`; the gradient goes to the (first) position of the maximum, as
    /// `torch.max(x, dim)` routes it.
    pub fn max(&self, dim: usize, keepdim: bool) -> Result<Var> {
        self.extremum(dim, keepdim, true)
    }

    /// Minimum over `dim`; the gradient goes to the (first) position of the minimum.
    pub fn min(&self, dim: usize, keepdim: bool) -> Result<Var> {
        self.extremum(dim, keepdim, false)
    }

    fn extremum(&self, dim: usize, keepdim: bool, max: bool) -> Result<Var> {
        let t = self.tensor();
        check_dims(if max { "max" } else { "min" }, &[dim], t.rank())?;
        let out = if max { t.max_keepdim(dim)? } else { t.min_keepdim(dim)? };
        let kept = if !tracks(&[self]) {
            Var::result(out)
        } else {
            let idx = if max { t.argmax_keepdim(dim)? } else { t.argmin_keepdim(dim)? };
            let positions = Tensor::arange(0u32, t.dims()[dim] as u32, t.device())?;
            let mut view = vec![1; t.rank()];
            view[dim] = t.dims()[dim];
            let one_hot = positions.reshape(view)?.broadcast_eq(&idx)?.to_dtype(t.dtype())?;
            let mask = Var::constant(one_hot);
            let in_dims = t.dims().to_vec();
            let name = if max { "MaxBackward0" } else { "MinBackward0" };
            record(name, out, &[self], move |g, _| Ok(vec![Some(g[0].broadcast_as(&in_dims)?.mul(&mask)?)]))?
        };
        if keepdim { Ok(kept) } else { kept.reshape(&squeezed(&[dim], &kept.dims())) }
    }

    /// Broadcasts to `dims` (numpy rules: leading dimensions added, size-one dimensions
    /// repeated); the gradient is summed back.
    pub fn broadcast_as(&self, dims: &[usize]) -> Result<Var> {
        let t = self.tensor();
        if t.dims() == dims {
            return Ok(self.clone());
        }
        let out = t.broadcast_as(dims)?;
        if !tracks(&[self]) {
            return Ok(Var::result(out));
        }
        let in_dims = t.dims().to_vec();
        record("ExpandBackward0", out, &[self], move |g, _| Ok(vec![Some(g[0].sum_to(&in_dims)?)]))
    }

    /// Sums a broadcast result back to `dims`: the leading extra dimensions are summed away and
    /// dimensions where `dims` has size one are summed with keepdim.
    pub fn sum_to(&self, dims: &[usize]) -> Result<Var> {
        let shape = self.dims();
        if shape == dims {
            return Ok(self.clone());
        }
        if dims.len() > shape.len() {
            return Err(Error::ShapeMismatch {
                what: "sum_to".into(),
                expected: dims.to_vec(),
                found: shape,
            });
        }
        let extra = shape.len() - dims.len();
        let mut reduce: Vec<usize> = (0..extra).collect();
        for (i, &d) in dims.iter().enumerate() {
            let s = shape[extra + i];
            if d == 1 && s != 1 {
                reduce.push(extra + i);
            } else if d != s {
                return Err(Error::ShapeMismatch {
                    what: "sum_to".into(),
                    expected: dims.to_vec(),
                    found: shape,
                });
            }
        }
        let summed = if reduce.is_empty() { self.clone() } else { self.sum_keepdim(&reduce)? };
        summed.reshape(dims)
    }

    /// The value converted to another float dtype; the gradient is converted back.
    pub fn to_dtype(&self, dtype: DType) -> Result<Var> {
        let t = self.tensor();
        if t.dtype() == dtype {
            return Ok(self.clone());
        }
        let out = t.to_dtype(dtype)?;
        if !tracks(&[self]) {
            return Ok(Var::result(out));
        }
        let from = t.dtype();
        record("ToCopyBackward0", out, &[self], move |g, _| Ok(vec![Some(g[0].to_dtype(from)?)]))
    }
}
