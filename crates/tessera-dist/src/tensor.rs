//! Collectives on candle tensors (feature `candle`): the tensor is read out in its own element type
//! (f32, f64, f16, bf16, i64), the collective runs on the buffer, and a new tensor of the same shape and
//! device comes back (candle tensors are immutable).

use candle_core::{DType as CDType, Tensor};
use half::{bf16, f16};

use crate::element::{Element, ReduceOp};
use crate::error::{Error, Result};
use crate::group::ProcessGroup;

/// Runs `f` on the tensor's elements as a `Vec<T>` of its own type and rebuilds a tensor of `dims`.
fn map_tensor(
    t: &Tensor,
    dims: &[usize],
    f: &mut dyn FnMut(&mut dyn AnyBuf) -> Result<()>,
) -> Result<Tensor> {
    let flat = t.flatten_all()?;
    macro_rules! go {
        ($ty:ty) => {{
            let mut buf = Typed(flat.to_vec1::<$ty>()?);
            f(&mut buf)?;
            Tensor::from_vec(buf.0, dims, t.device())?
        }};
    }
    Ok(match t.dtype() {
        CDType::F32 => go!(f32),
        CDType::F64 => go!(f64),
        CDType::F16 => go!(f16),
        CDType::BF16 => go!(bf16),
        CDType::I64 => go!(i64),
        other => {
            return Err(Error::Unsupported {
                what: format!("a collective on a {other:?} tensor"),
                reason: "collectives move f32, f64, f16, bf16 and i64".to_string(),
            });
        }
    })
}

/// A typed buffer behind a trait object, so one closure serves every element type.
trait AnyBuf {
    fn all_reduce(&mut self, g: &ProcessGroup, op: ReduceOp) -> Result<()>;
    fn broadcast(&mut self, g: &ProcessGroup, root: usize) -> Result<()>;
    fn all_gather(&mut self, g: &ProcessGroup) -> Result<()>;
}

struct Typed<T>(Vec<T>);

impl<T: Element> AnyBuf for Typed<T> {
    fn all_reduce(&mut self, g: &ProcessGroup, op: ReduceOp) -> Result<()> {
        g.all_reduce(&mut self.0, op)
    }
    fn broadcast(&mut self, g: &ProcessGroup, root: usize) -> Result<()> {
        g.broadcast(&mut self.0, root)
    }
    fn all_gather(&mut self, g: &ProcessGroup) -> Result<()> {
        let mut out = vec![T::zeroed(); self.0.len() * g.world_size()];
        g.all_gather(&self.0, &mut out)?;
        self.0 = out;
        Ok(())
    }
}

impl ProcessGroup {
    /// [`ProcessGroup::all_reduce`] on a tensor: a new tensor of the same shape, dtype and device.
    pub fn all_reduce_tensor(&self, t: &Tensor, op: ReduceOp) -> Result<Tensor> {
        map_tensor(t, t.dims(), &mut |b| b.all_reduce(self, op))
    }

    /// [`ProcessGroup::broadcast`] on a tensor (every rank passes a tensor of the same shape).
    pub fn broadcast_tensor(&self, t: &Tensor, root: usize) -> Result<Tensor> {
        map_tensor(t, t.dims(), &mut |b| b.broadcast(self, root))
    }

    /// [`ProcessGroup::all_gather`] on a tensor: every rank's tensor concatenated along dimension 0
    /// (a scalar becomes a vector of `world_size`), as `torch.distributed.all_gather_into_tensor`.
    pub fn all_gather_tensor(&self, t: &Tensor) -> Result<Tensor> {
        let mut dims = t.dims().to_vec();
        match dims.first_mut() {
            Some(d0) => *d0 *= self.world_size(),
            None => dims.push(self.world_size()),
        }
        map_tensor(t, &dims, &mut |b| b.all_gather(self))
    }
}

#[cfg(test)]
mod tests {
    use candle_core::Device;

    use super::*;

    #[test]
    fn tensor_collectives_keep_shape_and_dtype() {
        let groups = ProcessGroup::threads(2).unwrap();
        let out: Vec<(Tensor, Tensor)> = std::thread::scope(|s| {
            let hs: Vec<_> = groups
                .iter()
                .map(|g| {
                    s.spawn(move || {
                        let t = Tensor::full(g.rank() as f32 + 1.0, (2, 3), &Device::Cpu)
                            .unwrap()
                            .to_dtype(CDType::BF16)
                            .unwrap();
                        (g.all_reduce_tensor(&t, ReduceOp::Sum).unwrap(), g.all_gather_tensor(&t).unwrap())
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (sum, gathered) in out {
            assert_eq!(sum.dtype(), CDType::BF16);
            assert_eq!(sum.dims(), &[2, 3]);
            assert_eq!(
                sum.to_dtype(CDType::F32).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap(),
                vec![3.0; 6]
            );
            assert_eq!(gathered.dims(), &[4, 3]);
        }
        let g = &ProcessGroup::threads(1).unwrap()[0];
        let u8t = Tensor::zeros(3, CDType::U8, &Device::Cpu).unwrap();
        assert!(matches!(g.all_reduce_tensor(&u8t, ReduceOp::Sum), Err(Error::Unsupported { .. })));
    }
}
