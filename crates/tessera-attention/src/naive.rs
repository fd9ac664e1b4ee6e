//! Reference implementations that materialise the `L x L` scores: one in f64 on plain loops, one
//! composed of autograd ops (its gradients are autograd's). Tests check the kernels against both.

use candle_core::{DType, Device, Tensor};
use tessera_autograd::Var;

use crate::error::Result;
use crate::options::{AttentionOptions, Visibility};

fn shapes(q: &Tensor, k: &Tensor) -> Result<([usize; 4], [usize; 4])> {
    match (q.dims(), k.dims()) {
        (&[a, b, c, d], &[e, f, g, h]) if a == e && d == h && f > 0 && b % f == 0 => {
            Ok(([a, b, c, d], [e, f, g, h]))
        }
        (a, b) => Err(crate::error::shape(
            "q/k",
            "q (B, H, Lq, D) and k/v (B, Hkv, Lk, D) with H % Hkv == 0",
            format!("{a:?} and {b:?}"),
        )),
    }
}

/// `visible[b][i][j]`: whether query `i` of batch element `b` may see key `j`.
fn visible(options: &AttentionOptions, batch: usize, lq: usize, lk: usize) -> Result<Vec<Vec<Vec<bool>>>> {
    let vis = Visibility::new(options, lq, lk);
    let pad = match &options.key_padding_mask {
        Some(m) => {
            if m.dims() != [batch, lk] {
                return Err(crate::error::shape(
                    "key_padding_mask",
                    format!("({batch}, {lk})"),
                    format!("{:?}", m.dims()),
                ));
            }
            Some(m.to_dtype(DType::F32)?.to_vec2::<f32>()?)
        }
        None => None,
    };
    Ok((0..batch)
        .map(|b| {
            (0..lq)
                .map(|i| {
                    let (lo, hi) = vis.range(i);
                    (0..lk)
                        .map(|j| j >= lo && j < hi && pad.as_ref().is_none_or(|p| p[b][j] == 0.0))
                        .collect()
                })
                .collect()
        })
        .collect())
}

/// Attention with materialised scores, computed in f64: the output (dtype of `q`) and the
/// log-sum-exp `(batch, heads, seq_q)` in f32, with [`crate::flash_attention`]'s conventions.
pub fn naive_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    options: &AttentionOptions,
) -> Result<(Tensor, Tensor)> {
    let ([b, h, lq, d], [_, hk, lk, _]) = shapes(q, k)?;
    let scale = options.scale.unwrap_or(1.0 / (d as f64).sqrt());
    let qv = q.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?;
    let kv = k.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?;
    let vv = v.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?;
    let mask = visible(options, b, lq, lk)?;
    let mut out = vec![0f64; b * h * lq * d];
    let mut lse = vec![0f32; b * h * lq];
    let mut scores = vec![0f64; lk];
    for bi in 0..b {
        for hi in 0..h {
            let kh = hi / (h / hk);
            for i in 0..lq {
                let qrow = &qv[((bi * h + hi) * lq + i) * d..][..d];
                let mut max = f64::NEG_INFINITY;
                for (j, s) in scores.iter_mut().enumerate() {
                    let krow = &kv[((bi * hk + kh) * lk + j) * d..][..d];
                    *s = if mask[bi][i][j] {
                        scale * qrow.iter().zip(krow).map(|(a, b)| a * b).sum::<f64>()
                    } else {
                        f64::NEG_INFINITY
                    };
                    max = max.max(*s);
                }
                let row = (bi * h + hi) * lq + i;
                if max == f64::NEG_INFINITY {
                    lse[row] = f32::NEG_INFINITY;
                    continue;
                }
                let sum: f64 = scores.iter().map(|s| (s - max).exp()).sum();
                lse[row] = (max + sum.ln()) as f32;
                for (j, s) in scores.iter().enumerate() {
                    let w = (s - max).exp() / sum;
                    if w == 0.0 {
                        continue;
                    }
                    let vrow = &vv[((bi * hk + kh) * lk + j) * d..][..d];
                    for (o, x) in out[row * d..(row + 1) * d].iter_mut().zip(vrow) {
                        *o += w * x;
                    }
                }
            }
        }
    }
    Ok((
        Tensor::from_vec(out, (b, h, lq, d), &Device::Cpu)?.to_dtype(q.dtype())?,
        Tensor::from_vec(lse, (b, h, lq), &Device::Cpu)?,
    ))
}

/// Attention composed of autograd operations (matmul, masked softmax), so its gradients come
/// from the tape; rows that see no key give 0, as in the kernels.
pub fn naive_attention_var(q: &Var, k: &Var, v: &Var, options: &AttentionOptions) -> Result<Var> {
    let (qt, kt) = (q.tensor(), k.tensor());
    let ([b, h, lq, d], [_, hk, lk, _]) = shapes(&qt, &kt)?;
    let scale = options.scale.unwrap_or(1.0 / (d as f64).sqrt());
    let (k, v) = if hk == h {
        (k.clone(), v.clone())
    } else {
        let idx: Vec<u32> = (0..h).map(|i| (i / (h / hk)) as u32).collect();
        let idx = Tensor::new(idx.as_slice(), &Device::Cpu)?;
        (k.index_select(&idx, 1)?, v.index_select(&idx, 1)?)
    };
    let mask = visible(options, b, lq, lk)?;
    let dtype = qt.dtype();
    // A finite "minus infinity" keeps fully masked rows NaN-free; they are zeroed below.
    let bias: Vec<f32> = mask.iter().flatten().flatten().map(|&m| if m { 0.0 } else { -1e30 }).collect();
    let rows: Vec<f32> =
        mask.iter().flatten().map(|r| if r.iter().any(|&m| m) { 1.0 } else { 0.0 }).collect();
    let bias = Var::constant(Tensor::from_vec(bias, (b, 1, lq, lk), &Device::Cpu)?.to_dtype(dtype)?);
    let rows = Var::constant(Tensor::from_vec(rows, (b, 1, lq, 1), &Device::Cpu)?.to_dtype(dtype)?);
    let scores = q.matmul(&k.transpose(2, 3)?)?.affine(scale, 0.0)?.add(&bias)?;
    Ok(scores.softmax(3)?.mul(&rows)?.matmul(&v)?)
}
