//! The kernels on candle tensors: `(batch, heads, seq, head_dim)` attention, its backward, packed
//! variable-length batches and KV-cache decoding.

use candle_core::{CpuStorage, DType, Device, Storage, Tensor, WithDType};
use half::{bf16, f16};

use crate::error::{Error, Result, shape, unsupported};
use crate::finite::{Side, check_finite};
use crate::kernel::backward::{Saved, backward};
use crate::kernel::decode::{forward_split, worth_splitting};
use crate::kernel::forward::forward;
use crate::kernel::tune::{self, Key};
use crate::kernel::{Element, KernelChoice, Problem, RowLayout, SeqPair, View, padded_dim};
use crate::options::AttentionOptions;

/// The largest head dimension the kernels take.
pub const MAX_HEAD_DIM: usize = 256;

/// Shapes of a dense call: `q (B, H, Lq, D)`, `k`/`v (B, Hkv, Lk, D)`.
#[derive(Debug, Clone, Copy)]
struct Dense {
    batch: usize,
    heads: usize,
    kv_heads: usize,
    lq: usize,
    lk: usize,
    dim: usize,
}

fn dims4(name: &str, t: &Tensor) -> Result<[usize; 4]> {
    match t.dims() {
        &[a, b, c, d] => Ok([a, b, c, d]),
        other => Err(shape(name, "(batch, heads, seq, head_dim)", format!("{other:?}"))),
    }
}

fn check_common(q: &Tensor, k: &Tensor, v: &Tensor) -> Result<()> {
    for (name, t) in [("k", k), ("v", v)] {
        if t.dtype() != q.dtype() {
            return Err(unsupported(
                name,
                t.dtype(),
                &format!("q, k and v must share a dtype; q is {:?}", q.dtype()),
            ));
        }
    }
    if !matches!(q.dtype(), DType::F32 | DType::F16 | DType::BF16) {
        return Err(unsupported("q", q.dtype(), "the kernels take f32, f16 and bf16"));
    }
    for (name, t) in [("q", q), ("k", k), ("v", v)] {
        if !matches!(t.device(), Device::Cpu) {
            return Err(unsupported(name, t.device(), "these kernels run on the CPU"));
        }
    }
    Ok(())
}

fn check_dense(q: &Tensor, k: &Tensor, v: &Tensor) -> Result<Dense> {
    check_common(q, k, v)?;
    let [b, h, lq, d] = dims4("q", q)?;
    let [bk, hk, lk, dk] = dims4("k", k)?;
    if v.dims() != k.dims() {
        return Err(shape("v", format!("the shape of k, {:?}", k.dims()), format!("{:?}", v.dims())));
    }
    if bk != b || dk != d {
        return Err(shape(
            "k",
            format!("(batch = {b}, kv_heads, seq_k, head_dim = {d}) to match q {:?}", q.dims()),
            format!("{:?}", k.dims()),
        ));
    }
    check_heads(h, hk, d)?;
    Ok(Dense { batch: b, heads: h, kv_heads: hk, lq, lk, dim: d })
}

pub(crate) fn check_heads(h: usize, hk: usize, d: usize) -> Result<()> {
    if hk == 0 || !h.is_multiple_of(hk) {
        return Err(shape("k", format!("a number of key/value heads dividing the {h} query heads"), hk));
    }
    if d == 0 || d > MAX_HEAD_DIM {
        return Err(shape("q", format!("head_dim in 1..={MAX_HEAD_DIM}"), d));
    }
    Ok(())
}

fn padding(options: &AttentionOptions, lengths: &[usize]) -> Result<Option<Vec<Vec<bool>>>> {
    let Some(mask) = &options.key_padding_mask else { return Ok(None) };
    let max = lengths.iter().copied().max().unwrap_or(0);
    if mask.dims() != [lengths.len(), max] {
        return Err(shape(
            "key_padding_mask",
            format!("(batch, seq_k) = ({}, {max})", lengths.len()),
            format!("{:?}", mask.dims()),
        ));
    }
    let rows = mask.to_dtype(DType::F32)?.to_vec2::<f32>()?;
    Ok(Some(rows.into_iter().map(|r| r.into_iter().map(|x| x != 0.0).collect()).collect()))
}

pub(crate) fn problem<'a>(
    options: &'a AttentionOptions,
    dtype: DType,
    heads: usize,
    kv_heads: usize,
    dim: usize,
    seqs: Vec<SeqPair>,
) -> Result<Problem<'a>> {
    let scale = options.scale.unwrap_or(1.0 / (dim as f64).sqrt());
    // Checked after the conversion the kernels use: 1e39 is a finite f64 but an infinite f32.
    if !(scale as f32).is_finite() {
        return Err(Error::InvalidParameter {
            name: "scale".into(),
            expected: "a number that is finite in f32 (|scale| < 3.4e38)".into(),
            found: scale.to_string(),
        });
    }
    let lengths: Vec<usize> = seqs.iter().map(|s| s.lk).collect();
    let total_q = seqs.iter().map(|s| s.lq).sum();
    let padding = padding(options, &lengths)?;
    // Chosen (calibrated on first use) only once the inputs have passed their checks.
    let dim_padded = padded_dim(dim);
    Ok(Problem {
        kernel: kernel_choice(dtype, dim_padded, options.causal),
        total_q,
        heads,
        kv_heads,
        dim,
        dim_padded,
        scale: scale as f32,
        padding,
        seqs,
        options,
    })
}

/// The matrix kernel for this element type, padded head dimension and masking (calibrated on
/// first use, see `kernel::tune`).
fn kernel_choice(dtype: DType, dim_padded: usize, causal: bool) -> KernelChoice {
    let key = Key { dtype: dtype.as_str(), dim_padded, causal };
    match dtype {
        DType::F16 => tune::choice::<f16>(key),
        DType::BF16 => tune::choice::<bf16>(key),
        _ => tune::choice::<f32>(key),
    }
}

/// The name of the matrix kernel attention runs for `dtype`, `head_dim` and `causal` on this
/// CPU (`avx512-4x64`, `avx512-6x64`, `avx2-6x16`, `avx2-4x16` or `portable`), calibrating it
/// if this process has not yet: the first call for a new combination times every candidate on a
/// small problem (a few milliseconds each), and `TESSERA_ATTENTION_TUNE` pins (`avx2-6x16`),
/// skips (`off`) or asks for (`auto`, the default) the measurement. Benchmarks report it.
pub fn attention_kernel(dtype: DType, head_dim: usize, causal: bool) -> &'static str {
    kernel_choice(dtype, padded_dim(head_dim.max(1)), causal).name()
}

/// Read access to the contiguous CPU buffer of a tensor.
struct Buffer {
    tensor: Tensor,
}

impl Buffer {
    fn new(t: &Tensor) -> Result<Buffer> {
        Ok(Buffer { tensor: t.contiguous()? })
    }

    fn with<T: WithDType, R>(&self, f: impl FnOnce(&[T]) -> Result<R>) -> Result<R> {
        let (storage, layout) = self.tensor.storage_and_layout();
        let Some((start, end)) = layout.contiguous_offsets() else {
            return Err(unsupported("input", "a non-contiguous layout", "contiguous tensors"));
        };
        match &*storage {
            Storage::Cpu(cpu) => f(&cpu_slice::<T>(cpu)?[start..end]),
            _ => Err(unsupported("input", "a non-CPU storage", "these kernels run on the CPU")),
        }
    }
}

fn cpu_slice<T: WithDType>(s: &CpuStorage) -> Result<&[T]> {
    Ok(s.as_slice::<T>()?)
}

fn run_forward<T: Element + WithDType>(
    p: &Problem<'_>,
    layouts: [RowLayout; 2],
    bufs: [&Buffer; 3],
    rows: usize,
    split: bool,
) -> Result<(Tensor, Tensor)> {
    for (buf, name, layout, side) in [
        (bufs[0], "q", layouts[0], Side::Query),
        (bufs[1], "k", layouts[1], Side::Key),
        (bufs[2], "v", layouts[1], Side::Key),
    ] {
        buf.with::<T, _>(|data| check_finite(p, name, data, layout, side))?;
    }
    let (o, l) = bufs[0].with::<T, _>(|q| {
        bufs[1].with::<T, _>(|k| bufs[2].with::<T, _>(|v| Ok(forward_on(p, layouts, [q, k, v], rows, split))))
    })?;
    Ok((Tensor::from_vec(o, rows * p.dim, &Device::Cpu)?, Tensor::from_vec(l, rows, &Device::Cpu)?))
}

/// The forward pass for `q`'s dtype: flat output (`rows * dim`) and LSE (`rows`) in chunk order.
fn forward_flat(
    p: &Problem<'_>,
    layouts: [RowLayout; 2],
    tensors: [&Tensor; 3],
    rows: usize,
    split: bool,
) -> Result<(Tensor, Tensor)> {
    let bufs = [Buffer::new(tensors[0])?, Buffer::new(tensors[1])?, Buffer::new(tensors[2])?];
    let bufs = [&bufs[0], &bufs[1], &bufs[2]];
    match tensors[0].dtype() {
        DType::F32 => run_forward::<f32>(p, layouts, bufs, rows, split),
        DType::F16 => run_forward::<f16>(p, layouts, bufs, rows, split),
        DType::BF16 => run_forward::<bf16>(p, layouts, bufs, rows, split),
        other => Err(unsupported("q", other, "the kernels take f32, f16 and bf16")),
    }
}

/// The forward pass on contiguous slices; `rows` output rows of `dim` values.
pub(crate) fn forward_on<T: Element>(
    p: &Problem<'_>,
    layouts: [RowLayout; 2],
    data: [&[T]; 3],
    rows: usize,
    split: bool,
) -> (Vec<T>, Vec<f32>) {
    let mut out = vec![T::from_f32(0.0); rows * p.dim];
    let mut lse = vec![0f32; rows];
    let q = View { data: data[0], layout: layouts[0] };
    let k = View { data: data[1], layout: layouts[1] };
    let v = View { data: data[2], layout: layouts[1] };
    if split {
        forward_split(p, q, k, v, &mut out, &mut lse);
    } else {
        forward(p, q, k, v, &mut out, &mut lse);
    }
    (out, lse)
}

/// `softmax(q k^T * scale + mask) v` for `q (batch, heads, seq_q, head_dim)` and
/// `k`, `v (batch, kv_heads, seq_k, head_dim)`, computed tile by tile without materialising the
/// scores. Returns the output (dtype of `q`) and the log-sum-exp of every row, f32
/// `(batch, heads, seq_q)` (`-inf` for a row that sees no key; its output is 0).
pub fn flash_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    options: &AttentionOptions,
) -> Result<(Tensor, Tensor)> {
    let s = check_dense(q, k, v)?;
    let seqs = vec![SeqPair { q_start: 0, lq: s.lq, k_start: 0, lk: s.lk }; s.batch];
    let p = problem(options, q.dtype(), s.heads, s.kv_heads, s.dim, seqs)?;
    let split = worth_splitting(&p);
    dense_forward(&p, s, q, k, v, split)
}

fn dense_forward(
    p: &Problem<'_>,
    s: Dense,
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    split: bool,
) -> Result<(Tensor, Tensor)> {
    let layouts = [
        RowLayout::Dense { heads: s.heads, seq: s.lq, dim: s.dim },
        RowLayout::Dense { heads: s.kv_heads, seq: k.dims()[2], dim: s.dim },
    ];
    let (o, lse) = forward_flat(p, layouts, [q, k, v], s.batch * s.heads * s.lq, split)?;
    Ok((o.reshape((s.batch, s.heads, s.lq, s.dim))?, lse.reshape((s.batch, s.heads, s.lq))?))
}

/// Attention of a few new queries `q (batch, heads, n, head_dim)` against a KV cache
/// `k_cache`/`v_cache (batch, kv_heads, capacity, head_dim)` of which the first `seqlens_k[b]`
/// positions of batch element `b` are filled. The keys are split across threads and the partial
/// softmax results combined (flash-decoding). Masks apply to the filled part (a causal query is
/// aligned to its end).
pub fn flash_decode(
    q: &Tensor,
    k_cache: &Tensor,
    v_cache: &Tensor,
    seqlens_k: &[usize],
    options: &AttentionOptions,
) -> Result<(Tensor, Tensor)> {
    let s = check_dense(q, k_cache, v_cache)?;
    if seqlens_k.len() != s.batch {
        return Err(shape(
            "seqlens_k",
            format!("{} entries (one per batch element)", s.batch),
            seqlens_k.len(),
        ));
    }
    if let Some((b, &n)) = seqlens_k.iter().enumerate().find(|(_, n)| **n > s.lk) {
        return Err(shape(&format!("seqlens_k[{b}]"), format!("at most the cache capacity {}", s.lk), n));
    }
    let seqs = seqlens_k.iter().map(|&lk| SeqPair { q_start: 0, lq: s.lq, k_start: 0, lk }).collect();
    let p = problem(options, q.dtype(), s.heads, s.kv_heads, s.dim, seqs)?;
    let split = s.lq <= crate::kernel::BR;
    dense_forward(&p, s, q, k_cache, v_cache, split)
}

fn run_backward<T: Element + WithDType>(
    p: &Problem<'_>,
    layouts: [RowLayout; 2],
    bufs: [&Buffer; 5],
    lse: &[f32],
    sizes: [usize; 2],
) -> Result<[Tensor; 3]> {
    for (buf, name, layout, side) in [
        (bufs[0], "q", layouts[0], Side::Query),
        (bufs[1], "k", layouts[1], Side::Key),
        (bufs[2], "v", layouts[1], Side::Key),
        (bufs[3], "o", layouts[0], Side::Query),
        (bufs[4], "d_o", layouts[0], Side::Query),
    ] {
        buf.with::<T, _>(|data| check_finite(p, name, data, layout, side))?;
    }
    let zero = T::from_f32(0.0);
    let (mut dq, mut dk, mut dv) = (vec![zero; sizes[0]], vec![zero; sizes[1]], vec![zero; sizes[1]]);
    bufs[0].with::<T, _>(|q| {
        bufs[1].with::<T, _>(|k| {
            bufs[2].with::<T, _>(|v| {
                bufs[3].with::<T, _>(|o| {
                    bufs[4].with::<T, _>(|d_o| {
                        let saved = Saved {
                            q: View { data: q, layout: layouts[0] },
                            k: View { data: k, layout: layouts[1] },
                            v: View { data: v, layout: layouts[1] },
                            o: View { data: o, layout: layouts[0] },
                            d_o: View { data: d_o, layout: layouts[0] },
                            lse,
                        };
                        backward(p, &saved, &mut dq, &mut dk, &mut dv);
                        Ok(())
                    })
                })
            })
        })
    })?;
    let dev = Device::Cpu;
    Ok([
        Tensor::from_vec(dq, sizes[0], &dev)?,
        Tensor::from_vec(dk, sizes[1], &dev)?,
        Tensor::from_vec(dv, sizes[1], &dev)?,
    ])
}

/// The backward pass for `q`'s dtype over `[q, k, v, o, d_o]`: flat `dq`, `dk`, `dv` in chunk order.
fn backward_flat(
    p: &Problem<'_>,
    layouts: [RowLayout; 2],
    tensors: [&Tensor; 5],
    lse: &[f32],
) -> Result<[Tensor; 3]> {
    let bufs = tensors.map(Buffer::new);
    let [a, b, c, d, e] = bufs;
    let bufs = [a?, b?, c?, d?, e?];
    let refs = [&bufs[0], &bufs[1], &bufs[2], &bufs[3], &bufs[4]];
    let sizes = [tensors[0].elem_count(), tensors[1].elem_count()];
    match tensors[0].dtype() {
        DType::F32 => run_backward::<f32>(p, layouts, refs, lse, sizes),
        DType::F16 => run_backward::<f16>(p, layouts, refs, lse, sizes),
        DType::BF16 => run_backward::<bf16>(p, layouts, refs, lse, sizes),
        other => Err(unsupported("q", other, "the kernels take f32, f16 and bf16")),
    }
}

fn lse_values(lse: &Tensor, expected: &[usize]) -> Result<Vec<f32>> {
    if lse.dims() != expected {
        return Err(shape("lse", format!("{expected:?}"), format!("{:?}", lse.dims())));
    }
    Ok(lse.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?)
}

fn check_like(name: &str, t: &Tensor, like: &Tensor) -> Result<()> {
    if t.dims() != like.dims() || t.dtype() != like.dtype() {
        return Err(shape(
            name,
            format!("the shape and dtype of q, {:?} {:?}", like.dims(), like.dtype()),
            format!("{:?} {:?}", t.dims(), t.dtype()),
        ));
    }
    Ok(())
}

/// Gradients `(dq, dk, dv)` of [`flash_attention`] given its output `o`, log-sum-exp `lse` and the
/// output gradient `d_o`. Scores are recomputed tile by tile; the result is deterministic (the
/// same for every run and thread count).
pub fn flash_attention_backward(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    o: &Tensor,
    lse: &Tensor,
    d_o: &Tensor,
    options: &AttentionOptions,
) -> Result<(Tensor, Tensor, Tensor)> {
    let s = check_dense(q, k, v)?;
    check_like("o", o, q)?;
    check_like("d_o", d_o, q)?;
    let lse = lse_values(lse, &[s.batch, s.heads, s.lq])?;
    let seqs = vec![SeqPair { q_start: 0, lq: s.lq, k_start: 0, lk: s.lk }; s.batch];
    let p = problem(options, q.dtype(), s.heads, s.kv_heads, s.dim, seqs)?;
    let layouts = [
        RowLayout::Dense { heads: s.heads, seq: s.lq, dim: s.dim },
        RowLayout::Dense { heads: s.kv_heads, seq: s.lk, dim: s.dim },
    ];
    let [dq, dk, dv] = backward_flat(&p, layouts, [q, k, v, o, d_o], &lse)?;
    Ok((dq.reshape(q.dims())?, dk.reshape(k.dims())?, dv.reshape(v.dims())?))
}

/// Sequences of a packed batch, from flash-attn's cumulative offsets.
fn packed_seqs(cu_q: &[u32], cu_k: &[u32], tq: usize, tk: usize) -> Result<Vec<SeqPair>> {
    if cu_q.len() != cu_k.len() || cu_q.len() < 2 {
        return Err(shape(
            "cu_seqlens_q/cu_seqlens_k",
            "batch + 1 >= 2 entries each",
            format!("{} and {}", cu_q.len(), cu_k.len()),
        ));
    }
    for (name, cu, total) in [("cu_seqlens_q", cu_q, tq), ("cu_seqlens_k", cu_k, tk)] {
        if cu[0] != 0 || cu.windows(2).any(|w| w[1] < w[0]) || *cu.last().unwrap_or(&0) as usize != total {
            return Err(shape(
                name,
                format!("offsets rising from 0 to the total token count {total}"),
                format!("{cu:?}"),
            ));
        }
    }
    Ok(cu_q
        .windows(2)
        .zip(cu_k.windows(2))
        .map(|(a, b)| SeqPair {
            q_start: a[0] as usize,
            lq: (a[1] - a[0]) as usize,
            k_start: b[0] as usize,
            lk: (b[1] - b[0]) as usize,
        })
        .collect())
}

fn dims3(name: &str, t: &Tensor) -> Result<[usize; 3]> {
    match t.dims() {
        &[a, b, c] => Ok([a, b, c]),
        other => Err(shape(name, "(tokens, heads, head_dim)", format!("{other:?}"))),
    }
}

fn check_packed(q: &Tensor, k: &Tensor, v: &Tensor) -> Result<([usize; 3], [usize; 3])> {
    check_common(q, k, v)?;
    let qd = dims3("q", q)?;
    let kd = dims3("k", k)?;
    if v.dims() != k.dims() || kd[2] != qd[2] {
        return Err(shape(
            "k/v",
            format!("equal shapes with q's head_dim {}", qd[2]),
            format!("{:?} and {:?}", k.dims(), v.dims()),
        ));
    }
    check_heads(qd[1], kd[1], qd[2])?;
    Ok((qd, kd))
}

/// A flat head-major `(heads, tokens, dim)` result as `(tokens, heads, dim)`.
fn from_head_major(data: Tensor, heads: usize, tokens: usize, dim: usize) -> Result<Tensor> {
    Ok(data.reshape((heads, tokens, dim))?.permute((1, 0, 2))?.contiguous()?)
}

/// Attention over a packed batch of variable-length sequences (flash-attn's varlen API):
/// `q (total_q, heads, head_dim)`, `k`/`v (total_k, kv_heads, head_dim)`, sequence `b` spanning
/// tokens `cu_seqlens_q[b]..cu_seqlens_q[b + 1]` (and likewise for keys). Returns the output
/// `(total_q, heads, head_dim)` and the log-sum-exp `(heads, total_q)`. A key padding mask, if
/// given, is `(batch, max seq_k)`.
pub fn flash_attention_varlen(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    cu_seqlens_q: &[u32],
    cu_seqlens_k: &[u32],
    options: &AttentionOptions,
) -> Result<(Tensor, Tensor)> {
    let (qd, kd) = check_packed(q, k, v)?;
    let seqs = packed_seqs(cu_seqlens_q, cu_seqlens_k, qd[0], kd[0])?;
    let p = problem(options, q.dtype(), qd[1], kd[1], qd[2], seqs)?;
    let layouts =
        [RowLayout::Packed { heads: qd[1], dim: qd[2] }, RowLayout::Packed { heads: kd[1], dim: kd[2] }];
    let (o, lse) = forward_flat(&p, layouts, [q, k, v], qd[0] * qd[1], false)?;
    Ok((from_head_major(o, qd[1], qd[0], qd[2])?, lse.reshape((qd[1], qd[0]))?))
}

/// Gradients of [`flash_attention_varlen`].
#[allow(clippy::too_many_arguments)]
pub fn flash_attention_varlen_backward(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    o: &Tensor,
    lse: &Tensor,
    d_o: &Tensor,
    cu_seqlens_q: &[u32],
    cu_seqlens_k: &[u32],
    options: &AttentionOptions,
) -> Result<(Tensor, Tensor, Tensor)> {
    let (qd, kd) = check_packed(q, k, v)?;
    check_like("o", o, q)?;
    check_like("d_o", d_o, q)?;
    let lse = lse_values(lse, &[qd[1], qd[0]])?;
    let seqs = packed_seqs(cu_seqlens_q, cu_seqlens_k, qd[0], kd[0])?;
    let p = problem(options, q.dtype(), qd[1], kd[1], qd[2], seqs)?;
    let layouts =
        [RowLayout::Packed { heads: qd[1], dim: qd[2] }, RowLayout::Packed { heads: kd[1], dim: kd[2] }];
    let [dq, dk, dv] = backward_flat(&p, layouts, [q, k, v, o, d_o], &lse)?;
    Ok((
        from_head_major(dq, qd[1], qd[0], qd[2])?,
        from_head_major(dk, kd[1], kd[0], kd[2])?,
        from_head_major(dv, kd[1], kd[0], kd[2])?,
    ))
}
