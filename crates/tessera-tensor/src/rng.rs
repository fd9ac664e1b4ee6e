//! A seeded random source that yields the same numbers on every platform for a given seed.
//!
//! ChaCha8 is a portable, specified stream cipher, and normal samples are drawn by `rand_distr`'s
//! ziggurat with the pure-Rust `libm` (not the platform's), so a seed means the same array everywhere.
//! [`SeededRng::fork`] gives independent, reproducible streams for parallel work: chunk `i` of a job
//! draws from `fork(i)`, so results do not depend on how many threads ran the chunks.

use ndarray::{Array, Dimension, ShapeBuilder};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// A reproducible random number generator (ChaCha8) with helpers for ndarray arrays and candle tensors.
#[derive(Debug, Clone)]
pub struct SeededRng {
    seed: u64,
    rng: ChaCha8Rng,
}

impl SeededRng {
    /// A generator for `seed`, on stream 0.
    pub fn new(seed: u64) -> Self {
        SeededRng { seed, rng: ChaCha8Rng::seed_from_u64(seed) }
    }

    /// The seed this generator was created from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// An independent generator on stream `stream + 1` of the same seed. Forks with different
    /// `stream` values never overlap, and a fork does not depend on how far `self` has advanced.
    pub fn fork(&self, stream: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(stream.wrapping_add(1));
        SeededRng { seed: self.seed, rng }
    }

    /// A uniform 64-bit integer (for seeding child generators).
    pub fn next_u64(&mut self) -> u64 {
        self.rng.next_u64()
    }

    /// A uniform sample in `[0, 1)`.
    pub fn uniform(&mut self) -> f32 {
        self.rng.random::<f32>()
    }

    /// A uniform sample in `[0, 1)` with f64 precision.
    pub fn uniform_f64(&mut self) -> f64 {
        self.rng.random::<f64>()
    }

    /// A standard normal sample.
    pub fn normal(&mut self) -> f32 {
        StandardNormal.sample(&mut self.rng)
    }

    /// A standard normal sample with f64 precision.
    pub fn normal_f64(&mut self) -> f64 {
        StandardNormal.sample(&mut self.rng)
    }

    /// A uniform integer in `0..n`. `n` must be positive.
    pub fn below(&mut self, n: usize) -> usize {
        self.rng.random_range(0..n)
    }

    /// Shuffles `items` in place (Fisher-Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.rng.random_range(0..=i);
            items.swap(i, j);
        }
    }

    /// An array of the given shape with entries uniform in `[low, high)`, filled in row-major order.
    pub fn uniform_array<Sh, D>(&mut self, shape: Sh, low: f32, high: f32) -> Array<f32, D>
    where
        Sh: ShapeBuilder<Dim = D>,
        D: Dimension,
    {
        let width = high - low;
        Array::from_shape_simple_fn(shape, || low + width * self.uniform())
    }

    /// An array of the given shape with normal entries of the given mean and standard deviation.
    pub fn normal_array<Sh, D>(&mut self, shape: Sh, mean: f32, std: f32) -> Array<f32, D>
    where
        Sh: ShapeBuilder<Dim = D>,
        D: Dimension,
    {
        Array::from_shape_simple_fn(shape, || mean + std * self.normal())
    }
}

impl RngCore for SeededRng {
    fn next_u32(&mut self) -> u32 {
        self.rng.next_u32()
    }

    fn next_u64(&mut self) -> u64 {
        self.rng.next_u64()
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        self.rng.fill_bytes(dst)
    }
}

#[cfg(feature = "candle")]
mod tensors {
    use candle_core::{DType, Device, Tensor};

    use super::SeededRng;
    use crate::error::Result;

    impl SeededRng {
        /// A tensor with entries uniform in `[low, high)`, drawn on the CPU (so the values are the same
        /// for every device) and then converted to `dtype` and moved to `device`.
        pub fn uniform_tensor(
            &mut self,
            shape: &[usize],
            low: f64,
            high: f64,
            dtype: DType,
            device: &Device,
        ) -> Result<Tensor> {
            self.tensor_with(shape, dtype, device, |rng| low + (high - low) * rng.uniform_f64())
        }

        /// A tensor with normal entries of the given mean and standard deviation, drawn on the CPU and then
        /// converted to `dtype` and moved to `device`.
        pub fn normal_tensor(
            &mut self,
            shape: &[usize],
            mean: f64,
            std: f64,
            dtype: DType,
            device: &Device,
        ) -> Result<Tensor> {
            self.tensor_with(shape, dtype, device, |rng| mean + std * rng.normal_f64())
        }

        fn tensor_with(
            &mut self,
            shape: &[usize],
            dtype: DType,
            device: &Device,
            mut sample: impl FnMut(&mut SeededRng) -> f64,
        ) -> Result<Tensor> {
            let n: usize = shape.iter().product();
            let values: Vec<f64> = (0..n).map(|_| sample(self)).collect();
            let tensor = Tensor::from_vec(values, shape, &Device::Cpu)?;
            Ok(tensor.to_dtype(dtype)?.to_device(device)?)
        }
    }
}
