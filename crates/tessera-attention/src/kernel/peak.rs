//! The machine's measured multiply-add limit, for benchmark tables: every thread runs independent
//! chains of fused multiply-adds on the widest vectors the CPU has (register operands only, enough
//! chains to cover the instruction latency), all at once.

use std::time::Instant;

use pulp::Simd;

/// Independent accumulators per thread (latency 4 x 2 pipes needs at least 8).
const CHAINS: usize = 12;
/// Multiply-add steps per chain per measurement (about a third of a second per core at 4 GHz).
const STEPS: usize = 40_000_000;

struct Chains {
    steps: usize,
}

impl pulp::WithSimd for Chains {
    /// The lanes of one vector and a sum of the results (returned so nothing is optimised out).
    type Output = (usize, f32);
    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> (usize, f32) {
        let (b, c) = (simd.splat_f32s(0.999_9), simd.splat_f32s(1e-4));
        let mut acc = [simd.splat_f32s(0.5); CHAINS];
        for _ in 0..self.steps {
            for a in &mut acc {
                *a = simd.mul_add_f32s(*a, b, c);
            }
        }
        let total = acc.iter().fold(0.0, |s, &a| s + simd.reduce_sum_f32s(a));
        (S::F32_LANES, total)
    }
}

/// The f32 multiply-add rate of all rayon threads together, GFLOP/s (a multiply-add counts two),
/// best of three measurements; portable code where the CPU has no vector FMA.
pub fn fma_peak_gflops() -> f64 {
    let threads = rayon::current_num_threads();
    let mut best = 0f64;
    for _ in 0..3 {
        let start = Instant::now();
        let results = rayon::broadcast(|_| pulp::Arch::new().dispatch(Chains { steps: STEPS }));
        let secs = start.elapsed().as_secs_f64();
        let lanes = results.first().map_or(1, |r| r.0);
        // The sums feed the result so the loops must run; they are always finite and positive.
        let check = results.iter().map(|r| r.1).sum::<f32>();
        let flops = (threads * STEPS * CHAINS * lanes * 2) as f64;
        if secs > 0.0 && check.is_finite() {
            best = best.max(flops / secs / 1e9);
        }
    }
    best
}
