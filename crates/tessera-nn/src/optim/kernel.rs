//! Updating parameters in place: an optimizer step reads each gradient and rewrites the
//! parameter's own buffer (no new tensor per step), chunked over rayon for large parameters.

use std::sync::Mutex;

use candle_core::{CpuStorage, DType, Device, InplaceOp1, Layout, Storage, Tensor};
use rayon::prelude::*;
use tessera_autograd::Var;

use crate::error::Result;

/// Elements per parallel task; small parameters run on the calling thread.
const CHUNK: usize = 1 << 15;

/// An elementwise update over a parameter chunk, its gradient chunk and `N` state chunks.
pub(crate) trait Update<const N: usize>: Sync {
    fn apply(&self, p: &mut [f32], g: &[f32], state: [&mut [f32]; N]);
}

/// Runs `update` compiled for the best instruction set this CPU has: `with_simd` and the `apply`
/// methods are `#[inline(always)]`, so the loop is generated inside pulp's target-feature function
/// (a closure there is not guaranteed to be inlined, and would then run as portable code).
fn vectorised<const N: usize, U: Update<N>>(p: &mut [f32], g: &[f32], state: [&mut [f32]; N], update: &U) {
    pulp::Arch::new().dispatch(Vectorised { p, g, state, update });
}

struct Vectorised<'a, const N: usize, U> {
    p: &'a mut [f32],
    g: &'a [f32],
    state: [&'a mut [f32]; N],
    update: &'a U,
}

impl<const N: usize, U: Update<N>> pulp::WithSimd for Vectorised<'_, N, U> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        self.update.apply(self.p, self.g, self.state);
    }
}

fn run<const N: usize, U: Update<N>>(p: &mut [f32], g: &[f32], state: [&mut [f32]; N], update: &U) {
    if p.len() <= CHUNK {
        vectorised(p, g, state, update);
        return;
    }
    let mut state_chunks = state.map(|s| s.chunks_mut(CHUNK));
    let mut tasks = Vec::with_capacity(p.len().div_ceil(CHUNK));
    for (pc, gc) in p.chunks_mut(CHUNK).zip(g.chunks(CHUNK)) {
        let sc: [&mut [f32]; N] = std::array::from_fn(|i| state_chunks[i].next().unwrap_or_default());
        tasks.push((pc, gc, sc));
    }
    tasks.into_par_iter().for_each(|(pc, gc, sc)| vectorised(pc, gc, sc, update));
}

struct InPlace<'a, const N: usize, U: Update<N>> {
    grad: &'a [f32],
    state: Mutex<Option<[&'a mut [f32]; N]>>,
    update: &'a U,
}

impl<const N: usize, U: Update<N>> InplaceOp1 for InPlace<'_, N, U> {
    fn name(&self) -> &'static str {
        "optimizer-step"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> candle_core::Result<()> {
        let (CpuStorage::F32(data), Some((start, end))) = (storage, layout.contiguous_offsets()) else {
            candle_core::bail!("optimizer-step: parameter is not contiguous f32");
        };
        let state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        let Some(state) = state else { candle_core::bail!("optimizer-step applied twice") };
        run(&mut data[start..end], self.grad, state, self.update);
        Ok(())
    }
}

/// Whether the tensor is a contiguous f32 CPU tensor, and the address of its data.
fn cpu_f32_address(t: &Tensor) -> Option<usize> {
    let (storage, layout) = t.storage_and_layout();
    match (&*storage, layout.contiguous_offsets()) {
        (Storage::Cpu(CpuStorage::F32(v)), Some((start, _))) => Some(v[start..].as_ptr() as usize),
        _ => None,
    }
}

/// Applies `update` to `param` with gradient `grad` and state buffers `state` (each as long as
/// the parameter). CPU f32 parameters are rewritten in place; others are updated through an f32
/// copy and replaced.
pub(crate) fn step_param<const N: usize, U: Update<N>>(
    param: &Var,
    grad: &Tensor,
    state: [&mut [f32]; N],
    update: &U,
) -> Result<()> {
    let p = param.tensor();
    let p_addr = cpu_f32_address(&p);
    // A gradient sharing the parameter's buffer (or not plain f32) is copied first: reading it
    // while the parameter is locked for writing would deadlock.
    let g = match cpu_f32_address(grad) {
        Some(addr) if Some(addr) != p_addr => grad.clone(),
        _ => grad.to_dtype(DType::F32)?.to_device(&Device::Cpu)?.contiguous()?.copy()?,
    };
    let (g_storage, g_layout) = g.storage_and_layout();
    let g_slice: &[f32] = match (&*g_storage, g_layout.contiguous_offsets()) {
        (Storage::Cpu(CpuStorage::F32(v)), Some((a, b))) => &v[a..b],
        _ => unreachable_grad()?,
    };
    if p_addr.is_some() {
        let op = InPlace { grad: g_slice, state: Mutex::new(Some(state)), update };
        p.inplace_op1(&op)?;
        return Ok(());
    }
    let mut values = p.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
    run(&mut values, g_slice, state, update);
    let updated =
        Tensor::from_vec(values, p.dims(), &Device::Cpu)?.to_dtype(p.dtype())?.to_device(p.device())?;
    param.set_data(updated)?;
    Ok(())
}

fn unreachable_grad<T>() -> Result<T> {
    Err(crate::Error::config("optimizer", "gradient could not be read as contiguous f32"))
}

/// The gradient of a parameter as a flat f32 vector (for norms).
pub(crate) fn squared_norm(grad: &Tensor) -> Result<f64> {
    let g = grad.to_dtype(DType::F32)?;
    Ok(g.sqr()?.sum_all()?.to_dtype(DType::F64)?.to_scalar::<f64>()?)
}
