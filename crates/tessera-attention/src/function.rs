//! Flash attention as an autograd custom function and as a candle custom op.

use std::borrow::Cow;

use candle_core::{CpuStorage, CustomOp3, Layout, Shape, Tensor, WithDType};
use half::{bf16, f16};
use tessera_autograd::{Function, FunctionCtx, Var, apply};

use crate::api::{check_heads, flash_attention, flash_attention_backward, forward_on, problem};
use crate::error::Result;
use crate::kernel::{Element, RowLayout, SeqPair};
use crate::options::AttentionOptions;

/// [`flash_attention`] as a recorded operation: its backward is [`flash_attention_backward`].
struct FlashAttentionFn {
    options: AttentionOptions,
}

impl Function for FlashAttentionFn {
    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("FlashAttentionBackward")
    }

    fn forward(&self, ctx: &mut FunctionCtx, inputs: &[Tensor]) -> tessera_autograd::Result<Vec<Tensor>> {
        let (o, lse) =
            flash_attention(&inputs[0], &inputs[1], &inputs[2], &self.options).map_err(to_autograd)?;
        ctx.save_for_backward(&[&inputs[0], &inputs[1], &inputs[2], &o, &lse]);
        ctx.mark_non_differentiable(1);
        Ok(vec![o, lse])
    }

    fn backward(&self, ctx: &FunctionCtx, grads: &[Tensor]) -> tessera_autograd::Result<Vec<Option<Tensor>>> {
        let s = ctx.saved_tensors();
        let (dq, dk, dv) =
            flash_attention_backward(&s[0], &s[1], &s[2], &s[3], &s[4], &grads[0], &self.options)
                .map_err(to_autograd)?;
        let needs = ctx.needs_input_grad();
        Ok(vec![needs[0].then_some(dq), needs[1].then_some(dk), needs[2].then_some(dv)])
    }
}

fn to_autograd(e: crate::Error) -> tessera_autograd::Error {
    match e {
        crate::Error::Autograd(e) => e,
        crate::Error::Candle(e) => tessera_autograd::Error::Candle(e),
        other => tessera_autograd::Error::CustomFunction {
            name: "flash_attention".into(),
            reason: other.to_string(),
        },
    }
}

/// Flash attention on autograd variables: returns the output (differentiable, with the flash
/// backward) and the log-sum-exp (not differentiable).
pub fn flash_attention_var(q: &Var, k: &Var, v: &Var, options: &AttentionOptions) -> Result<(Var, Var)> {
    let mut out = apply(FlashAttentionFn { options: options.clone() }, &[q, k, v])?;
    let lse = out.pop();
    let o = out.pop();
    match (o, lse) {
        (Some(o), Some(lse)) => Ok((o, lse)),
        _ => Err(crate::error::shape("output", "one output tensor", "none")),
    }
}

/// Flash attention as a candle custom op over `(q, k, v)` (`Tensor::apply_op3_no_bwd`); returns the
/// output only. Inputs must be contiguous CPU tensors.
#[derive(Debug, Clone, Default)]
pub struct FlashAttentionOp {
    /// Masks and scale.
    pub options: AttentionOptions,
}

fn slice<'a, T: WithDType>(s: &'a CpuStorage, l: &Layout) -> candle_core::Result<&'a [T]> {
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&s.as_slice::<T>()?[a..b]),
        None => candle_core::bail!("flash-attention: inputs must be contiguous"),
    }
}

impl FlashAttentionOp {
    fn run<T: Element + WithDType>(
        &self,
        s: [&CpuStorage; 3],
        l: [&Layout; 3],
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (qd, kd) = (l[0].dims(), l[1].dims());
        let (&[b, h, lq, d], &[bk, hk, lk, dk]) = (qd, kd) else {
            candle_core::bail!(
                "flash-attention: q, k, v must be (batch, heads, seq, head_dim), found {qd:?} and {kd:?}"
            )
        };
        if b != bk || d != dk || l[2].dims() != kd {
            candle_core::bail!("flash-attention: shapes {qd:?}, {kd:?}, {:?} do not fit", l[2].dims());
        }
        check_heads(h, hk, d).map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        let seqs = vec![SeqPair { q_start: 0, lq, k_start: 0, lk }; b];
        let p = problem(&self.options, T::DTYPE, h, hk, d, seqs)
            .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        let layouts =
            [RowLayout::Dense { heads: h, seq: lq, dim: d }, RowLayout::Dense { heads: hk, seq: lk, dim: d }];
        let data = [slice::<T>(s[0], l[0])?, slice::<T>(s[1], l[1])?, slice::<T>(s[2], l[2])?];
        let (out, _) = forward_on(&p, layouts, data, b * h * lq, false);
        Ok((T::to_cpu_storage_owned(out), Shape::from((b, h, lq, d))))
    }
}

impl CustomOp3 for FlashAttentionOp {
    fn name(&self) -> &'static str {
        "flash-attention"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        match s1 {
            CpuStorage::F32(_) => self.run::<f32>([s1, s2, s3], [l1, l2, l3]),
            CpuStorage::F16(_) => self.run::<f16>([s1, s2, s3], [l1, l2, l3]),
            CpuStorage::BF16(_) => self.run::<bf16>([s1, s2, s3], [l1, l2, l3]),
            _ => candle_core::bail!("flash-attention: the kernels take f32, f16 and bf16"),
        }
    }
}
