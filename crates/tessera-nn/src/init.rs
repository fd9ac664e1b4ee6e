//! Parameter initialisers with PyTorch's defaults, drawn from a [`SeededRng`].

use candle_core::{DType, Device, Tensor};
use tessera_tensor::SeededRng;

use crate::error::Result;

/// Uniform in `[-bound, bound)`.
pub fn uniform(dims: &[usize], bound: f64, rng: &mut SeededRng) -> Result<Tensor> {
    Ok(rng.uniform_tensor(dims, -bound, bound, DType::F32, &Device::Cpu)?)
}

/// Normal with the given mean and standard deviation.
pub fn normal(dims: &[usize], mean: f64, std: f64, rng: &mut SeededRng) -> Result<Tensor> {
    Ok(rng.normal_tensor(dims, mean, std, DType::F32, &Device::Cpu)?)
}

/// PyTorch's default for `Linear` and `Conv` weights: `kaiming_uniform_(a = sqrt(5))`, which is
/// uniform in `+-1/sqrt(fan_in)`.
pub fn kaiming_uniform(dims: &[usize], fan_in: usize, rng: &mut SeededRng) -> Result<Tensor> {
    // gain = sqrt(2 / (1 + a^2)) = sqrt(1/3); bound = gain * sqrt(3 / fan_in) = 1 / sqrt(fan_in)
    uniform(dims, 1.0 / (fan_in.max(1) as f64).sqrt(), rng)
}

/// Glorot/Xavier uniform: `+-sqrt(6 / (fan_in + fan_out))` (attention in-projections).
pub fn xavier_uniform(dims: &[usize], fan_in: usize, fan_out: usize, rng: &mut SeededRng) -> Result<Tensor> {
    uniform(dims, (6.0 / (fan_in + fan_out).max(1) as f64).sqrt(), rng)
}

/// Zeros (f32, CPU).
pub fn zeros(dims: &[usize]) -> Result<Tensor> {
    Ok(Tensor::zeros(dims, DType::F32, &Device::Cpu)?)
}

/// Ones (f32, CPU).
pub fn ones(dims: &[usize]) -> Result<Tensor> {
    Ok(Tensor::ones(dims, DType::F32, &Device::Cpu)?)
}
