//! Shape and indexing operations: reshape, permute, narrow, indexing, concatenation.

use candle_core::{DType, Tensor};

use crate::error::{Error, Result};
use crate::graph::{record, tracks};
use crate::var::Var;

fn check_dim(op: &'static str, dim: usize, rank: usize) -> Result<()> {
    if dim >= rank {
        return Err(Error::invalid(op, format!("dimension {dim} out of range for a tensor of rank {rank}")));
    }
    Ok(())
}

fn check_index(op: &'static str, index: &Tensor) -> Result<()> {
    if !matches!(index.dtype(), DType::U32 | DType::I64 | DType::U8) {
        return Err(Error::invalid(op, format!("indices must be u32, i64 or u8, found {:?}", index.dtype())));
    }
    Ok(())
}

impl Var {
    /// The same elements in a new shape (the element count must match).
    pub fn reshape(&self, dims: &[usize]) -> Result<Var> {
        let t = self.tensor();
        if t.dims() == dims {
            return Ok(self.clone());
        }
        let n: usize = dims.iter().product();
        if n != t.elem_count() {
            return Err(Error::ShapeMismatch {
                what: format!("reshape of {} elements", t.elem_count()),
                expected: t.dims().to_vec(),
                found: dims.to_vec(),
            });
        }
        let out = t.reshape(dims)?;
        if !tracks(&[self]) {
            return Ok(Var::result(out));
        }
        let in_dims = t.dims().to_vec();
        record("ViewBackward0", out, &[self], move |g, _| Ok(vec![Some(g[0].reshape(&in_dims)?)]))
    }

    /// Merges dimensions `start..=end` into one.
    pub fn flatten(&self, start: usize, end: usize) -> Result<Var> {
        let d = self.dims();
        if start > end || end >= d.len() {
            return Err(Error::invalid("flatten", format!("bad range {start}..={end} for rank {}", d.len())));
        }
        let mut out: Vec<usize> = d[..start].to_vec();
        out.push(d[start..=end].iter().product());
        out.extend_from_slice(&d[end + 1..]);
        self.reshape(&out)
    }

    /// Inserts a dimension of size one at `dim`.
    pub fn unsqueeze(&self, dim: usize) -> Result<Var> {
        let mut d = self.dims();
        if dim > d.len() {
            return Err(Error::invalid(
                "unsqueeze",
                format!("dimension {dim} out of range for rank {}", d.len()),
            ));
        }
        d.insert(dim, 1);
        self.reshape(&d)
    }

    /// Removes dimension `dim`, which must have size one.
    pub fn squeeze(&self, dim: usize) -> Result<Var> {
        let mut d = self.dims();
        check_dim("squeeze", dim, d.len())?;
        if d[dim] != 1 {
            return Err(Error::invalid("squeeze", format!("dimension {dim} has size {}, not 1", d[dim])));
        }
        d.remove(dim);
        self.reshape(&d)
    }

    /// Reorders the dimensions: output dimension `i` is input dimension `perm[i]`.
    pub fn permute(&self, perm: &[usize]) -> Result<Var> {
        let t = self.tensor();
        let mut seen = vec![false; t.rank()];
        if perm.len() != t.rank()
            || perm.iter().any(|&p| p >= t.rank() || std::mem::replace(&mut seen[p], true))
        {
            return Err(Error::invalid(
                "permute",
                format!("{perm:?} is not a permutation of 0..{}", t.rank()),
            ));
        }
        let out = t.permute(perm)?;
        if !tracks(&[self]) {
            return Ok(Var::result(out));
        }
        let mut inverse = vec![0; perm.len()];
        for (i, &p) in perm.iter().enumerate() {
            inverse[p] = i;
        }
        record("PermuteBackward0", out, &[self], move |g, _| Ok(vec![Some(g[0].permute(&inverse)?)]))
    }

    /// Swaps two dimensions.
    pub fn transpose(&self, d0: usize, d1: usize) -> Result<Var> {
        let t = self.tensor();
        check_dim("transpose", d0.max(d1), t.rank())?;
        if d0 == d1 {
            return Ok(self.clone());
        }
        let out = t.transpose(d0, d1)?;
        if !tracks(&[self]) {
            return Ok(Var::result(out));
        }
        record("TransposeBackward0", out, &[self], move |g, _| Ok(vec![Some(g[0].transpose(d0, d1)?)]))
    }

    /// Swaps the last two dimensions (the matrix transpose of a batch of matrices).
    pub fn t(&self) -> Result<Var> {
        let r = self.rank();
        if r < 2 {
            return Err(Error::invalid("t", format!("needs at least 2 dimensions, found {r}")));
        }
        self.transpose(r - 2, r - 1)
    }

    /// Elements `start..start + len` along `dim` (a view); the gradient is zero-padded back.
    pub fn narrow(&self, dim: usize, start: usize, len: usize) -> Result<Var> {
        let t = self.tensor();
        check_dim("narrow", dim, t.rank())?;
        let size = t.dims()[dim];
        if start + len > size {
            return Err(Error::invalid(
                "narrow",
                format!("range {start}..{} out of bounds for dimension {dim} of size {size}", start + len),
            ));
        }
        if start == 0 && len == size {
            return Ok(self.clone());
        }
        let out = t.narrow(dim, start, len)?;
        if !tracks(&[self]) {
            return Ok(Var::result(out));
        }
        let right = size - start - len;
        record("SliceBackward0", out, &[self], move |g, _| Ok(vec![Some(g[0].pad_zeros(dim, start, right)?)]))
    }

    /// Alias of [`Var::narrow`] with PyTorch's slicing vocabulary: `x[.., start..end, ..]`.
    pub fn slice(&self, dim: usize, start: usize, end: usize) -> Result<Var> {
        if end < start {
            return Err(Error::invalid("slice", format!("end {end} before start {start}")));
        }
        self.narrow(dim, start, end - start)
    }

    /// Pads `dim` with `left` zeros before and `right` zeros after.
    pub fn pad_zeros(&self, dim: usize, left: usize, right: usize) -> Result<Var> {
        let t = self.tensor();
        check_dim("pad_zeros", dim, t.rank())?;
        let len = t.dims()[dim];
        let out = t.pad_with_zeros(dim, left, right)?;
        if !tracks(&[self]) {
            return Ok(Var::result(out));
        }
        record("ConstantPadNdBackward0", out, &[self], move |g, _| {
            Ok(vec![Some(g[0].narrow(dim, left, len)?)])
        })
    }

    /// Rows (along `dim`) picked by a 1-D index tensor; the gradient is added back at the picked
    /// positions (repeated indices accumulate).
    pub fn index_select(&self, index: &Tensor, dim: usize) -> Result<Var> {
        let t = self.tensor();
        check_dim("index_select", dim, t.rank())?;
        check_index("index_select", index)?;
        // candle's index_select and gather read their input as contiguous memory.
        let out = t.contiguous()?.index_select(index, dim)?;
        if !tracks(&[self]) {
            return Ok(Var::result(out));
        }
        let (index, in_dims) = (index.clone(), t.dims().to_vec());
        record("IndexSelectBackward0", out, &[self], move |g, _| {
            Ok(vec![Some(g[0].index_add_into(&in_dims, &index, dim)?)])
        })
    }

    /// Zeros of shape `dims` with `self`'s slices added at `index` along `dim` (the adjoint of
    /// [`Var::index_select`]).
    pub fn index_add_into(&self, dims: &[usize], index: &Tensor, dim: usize) -> Result<Var> {
        // candle's index_add reads its source as contiguous memory.
        let t = self.tensor().contiguous()?;
        check_index("index_add", index)?;
        let zeros = Tensor::zeros(dims, t.dtype(), t.device())?;
        let out = zeros.index_add(index, &t, dim)?;
        if !tracks(&[self]) {
            return Ok(Var::result(out));
        }
        let index = index.clone();
        record("IndexAddBackward0", out, &[self], move |g, _| Ok(vec![Some(g[0].index_select(&index, dim)?)]))
    }

    /// Elements picked along `dim` by an index tensor of the output's shape
    /// (`torch.gather`).
    pub fn gather(&self, index: &Tensor, dim: usize) -> Result<Var> {
        let t = self.tensor();
        check_dim("gather", dim, t.rank())?;
        check_index("gather", index)?;
        let out = t.contiguous()?.gather(&index.contiguous()?, dim)?;
        if !tracks(&[self]) {
            return Ok(Var::result(out));
        }
        let (index, in_dims) = (index.contiguous()?, t.dims().to_vec());
        record("GatherBackward0", out, &[self], move |g, _| {
            Ok(vec![Some(g[0].scatter_add_into(&in_dims, &index, dim)?)])
        })
    }

    /// Zeros of shape `dims` with `self`'s elements added at `index` along `dim` (the adjoint of
    /// [`Var::gather`]).
    pub fn scatter_add_into(&self, dims: &[usize], index: &Tensor, dim: usize) -> Result<Var> {
        let t = self.tensor().contiguous()?;
        check_index("scatter_add", index)?;
        let zeros = Tensor::zeros(dims, t.dtype(), t.device())?;
        let out = zeros.scatter_add(index, &t, dim)?;
        if !tracks(&[self]) {
            return Ok(Var::result(out));
        }
        let index = index.clone();
        record("ScatterAddBackward0", out, &[self], move |g, _| Ok(vec![Some(g[0].gather(&index, dim)?)]))
    }

    /// A contiguous copy (recorded as identity).
    pub fn contiguous(&self) -> Result<Var> {
        let t = self.tensor();
        if t.is_contiguous() {
            return Ok(self.clone());
        }
        let out = t.contiguous()?;
        if !tracks(&[self]) {
            return Ok(Var::result(out));
        }
        record("CloneBackward0", out, &[self], move |g, _| Ok(vec![Some(g[0].clone())]))
    }
}

/// Concatenates along `dim`; every other dimension must match.
pub fn cat(vars: &[&Var], dim: usize) -> Result<Var> {
    let Some(first) = vars.first() else {
        return Err(Error::invalid("cat", "needs at least one tensor"));
    };
    check_dim("cat", dim, first.rank())?;
    let tensors: Vec<Tensor> = vars.iter().map(|v| v.tensor()).collect();
    for (i, t) in tensors.iter().enumerate() {
        let (a, b) = (t.dims(), tensors[0].dims());
        if a.len() != b.len() || a.iter().zip(b).enumerate().any(|(d, (x, y))| d != dim && x != y) {
            return Err(Error::ShapeMismatch {
                what: format!("cat input {i} (all dimensions but {dim} must match)"),
                expected: b.to_vec(),
                found: a.to_vec(),
            });
        }
    }
    let out = Tensor::cat(&tensors, dim)?;
    if !tracks(vars) {
        return Ok(Var::result(out));
    }
    let sizes: Vec<usize> = tensors.iter().map(|t| t.dims()[dim]).collect();
    record("CatBackward0", out, vars, move |g, needs| {
        let mut start = 0;
        let mut grads = Vec::with_capacity(sizes.len());
        for (&len, &need) in sizes.iter().zip(needs) {
            grads.push(if need { Some(g[0].narrow(dim, start, len)?) } else { None });
            start += len;
        }
        Ok(grads)
    })
}

/// Stacks equally shaped tensors along a new dimension `dim`.
pub fn stack(vars: &[&Var], dim: usize) -> Result<Var> {
    let expanded = vars.iter().map(|v| v.unsqueeze(dim)).collect::<Result<Vec<_>>>()?;
    let refs: Vec<&Var> = expanded.iter().collect();
    cat(&refs, dim)
}
