//! Inputs shared by the gradient-check suites: seeded f64 tensors and shape strategies, broadcasting
//! pairs included.

#![allow(dead_code, clippy::unwrap_used)] // Each suite uses some helpers; tests assert by unwrapping.

use proptest::prelude::*;
use tessera_autograd::{DType, Device, Tensor};
use tessera_tensor::SeededRng;

/// Standard normal values, f64.
pub fn normal(dims: &[usize], seed: u64) -> Tensor {
    SeededRng::new(seed).normal_tensor(dims, 0.0, 1.0, DType::F64, &Device::Cpu).unwrap()
}

/// Values in `[lo, hi)`, for functions defined or smooth only there.
pub fn uniform(dims: &[usize], seed: u64, lo: f64, hi: f64) -> Tensor {
    SeededRng::new(seed).uniform_tensor(dims, lo, hi, DType::F64, &Device::Cpu).unwrap()
}

/// Shapes of rank 1 to 3 with sides 1 to 3.
pub fn shape() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..4, 1..4)
}

/// A shape `b` that broadcasts against `a`: some leading dimensions dropped, some set to one.
pub fn broadcast_pair() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    (shape(), any::<u8>(), 0usize..3).prop_map(|(a, ones, drop)| {
        let drop = drop.min(a.len() - 1);
        let b: Vec<usize> =
            a[drop..].iter().enumerate().map(|(i, &d)| if ones >> i & 1 == 1 { 1 } else { d }).collect();
        (a, b)
    })
}
