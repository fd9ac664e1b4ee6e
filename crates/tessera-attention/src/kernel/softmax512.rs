//! AVX-512 forms of the forward softmax's two row passes (row maxima; `2^(s - m)` with row sums),
//! written with intrinsics because LLVM turns the portable forms' per-row maxima into 128-bit code.
//! They compute exactly what the portable forms in `forward.rs` compute, operation for operation
//! (the same `2^x` polynomial in fused multiply-adds, lanes folded 8, 4, 2, 1), so results do not
//! depend on which runs (tested).
//!
//! The intrinsics need `unsafe`: each public function checks the lengths its body reads and writes
//! and is only called after AVX-512F was detected.
#![allow(unsafe_code)]

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use super::{BC, BR};

/// Whether these forms can run here.
pub(crate) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *AVAILABLE.get_or_init(|| {
            super::gemm::isa() == super::gemm::Isa::Avx512 && is_x86_feature_detected!("avx512f")
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `max[r]` = the largest score of row `r` (`-inf` if all are), for rows `0..rows` of `s`
/// (`BC` per row).
pub(crate) fn row_maxima(s: &[f32], rows: usize, max: &mut [f32; BR]) {
    assert!(available() && rows <= BR && s.len() >= rows * BC);
    #[cfg(target_arch = "x86_64")]
    // SAFETY: AVX-512F is present (checked by `available`); rows * BC values of `s` exist.
    unsafe {
        row_maxima_avx512(s, rows, max)
    }
}

/// `s[r][c] <- 2^(s[r][c] - m[r])` and `sums[r]` = the row's sum, for rows `0..rows`.
pub(crate) fn exp_rows(s: &mut [f32], rows: usize, m: &[f32; BR], sums: &mut [f32; BR]) {
    assert!(available() && rows <= BR && s.len() >= rows * BC);
    #[cfg(target_arch = "x86_64")]
    // SAFETY: AVX-512F is present (checked by `available`); rows * BC values of `s` exist.
    unsafe {
        exp_rows_avx512(s, rows, m, sums)
    }
}

/// Vectors of 16 per row.
const VECTORS: usize = BC / 16;

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn row_maxima_avx512(s: &[f32], rows: usize, max: &mut [f32; BR]) {
    for (r, out) in max.iter_mut().enumerate().take(rows) {
        let p = unsafe { s.as_ptr().add(r * BC) };
        let mut lanes = _mm512_set1_ps(f32::NEG_INFINITY);
        for v in 0..VECTORS {
            // `if x > m { x } else { m }`, as the portable form: vmaxps returns its second operand
            // when they compare equal, which only differs for signed zeros (same exponentials).
            let x = unsafe { _mm512_loadu_ps(p.add(16 * v)) };
            lanes = _mm512_max_ps(x, lanes);
        }
        *out = fold(lanes, |a, b| _mm_max_ps(b, a), |a, b| _mm256_max_ps(b, a));
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn exp_rows_avx512(s: &mut [f32], rows: usize, m: &[f32; BR], sums: &mut [f32; BR]) {
    for r in 0..rows {
        let p = unsafe { s.as_mut_ptr().add(r * BC) };
        let mu = _mm512_set1_ps(m[r]);
        let mut lanes = _mm512_setzero_ps();
        for v in 0..VECTORS {
            let x = unsafe { _mm512_loadu_ps(p.add(16 * v)) };
            let e = exp2(_mm512_sub_ps(x, mu));
            unsafe { _mm512_storeu_ps(p.add(16 * v), e) };
            lanes = _mm512_add_ps(lanes, e);
        }
        sums[r] = fold(lanes, |a, b| _mm_add_ps(a, b), |a, b| _mm256_add_ps(a, b));
    }
}

/// Folds 16 lanes pairwise, `v[l] = f(v[l], v[l + width])` for widths 8, 4, 2, 1, as `reduce` in
/// `forward.rs` does.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn fold(v: __m512, f128: impl Fn(__m128, __m128) -> __m128, f256: impl Fn(__m256, __m256) -> __m256) -> f32 {
    let lo = _mm512_castps512_ps256(v);
    let hi = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(v)));
    let v8 = f256(lo, hi);
    let v4 = f128(_mm256_castps256_ps128(v8), _mm256_extractf128_ps::<1>(v8));
    let v2 = f128(v4, _mm_movehl_ps(v4, v4));
    let v1 = f128(v2, _mm_movehdup_ps(v2));
    _mm_cvtss_f32(v1)
}

/// `gemm::exp2_with::<true>` on 16 lanes, step for step.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn exp2(x: __m512) -> __m512 {
    const ROUNDER: f32 = 12_582_912.0;
    let limit = _mm512_set1_ps(-126.0);
    // `if x > -126 { x } else { -126 }`
    let xc = _mm512_max_ps(x, limit);
    let rounder = _mm512_set1_ps(ROUNDER);
    let shifted = _mm512_add_ps(xc, rounder);
    let n = _mm512_sub_ps(shifted, rounder);
    let ni = _mm512_sub_epi32(_mm512_castps_si512(shifted), _mm512_castps_si512(rounder));
    let f = _mm512_sub_ps(xc, n);
    let mut p = _mm512_set1_ps(super::gemm::EXP2_POLY[0]);
    for &c in &super::gemm::EXP2_POLY[1..] {
        p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(c));
    }
    let scale = _mm512_castsi512_ps(_mm512_slli_epi32::<23>(_mm512_add_epi32(ni, _mm512_set1_epi32(127))));
    // `if x < -126 { 0 } else { p * scale }`
    let keep = _mm512_cmp_ps_mask::<_CMP_NLT_UQ>(x, limit);
    _mm512_maskz_mul_ps(keep, p, scale)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::forward::reduce;
    use crate::kernel::gemm::exp2_with;

    /// Rows of scores with masked (`-inf`) runs, very negative values and signed zeros.
    fn scores() -> Vec<f32> {
        (0..BR * BC)
            .map(|i| match i % 97 {
                0..=9 => f32::NEG_INFINITY,
                10 => -0.0,
                11 => 0.0,
                12 => -300.0,
                _ => ((i * 7919 % 1000) as f32 - 500.0) / 37.0,
            })
            .collect()
    }

    #[test]
    fn the_avx512_forms_match_the_portable_ones_bit_for_bit() {
        if !available() {
            return;
        }
        let s = scores();
        for rows in [1, 5, BR] {
            let mut max = [0f32; BR];
            row_maxima(&s, rows, &mut max);
            let mut m_use = [0f32; BR];
            for r in 0..rows {
                let mut lanes = [f32::NEG_INFINITY; 16];
                for chunk in s[r * BC..(r + 1) * BC].chunks_exact(16) {
                    for (m, &x) in lanes.iter_mut().zip(chunk) {
                        *m = if x > *m { x } else { *m };
                    }
                }
                let want = reduce(lanes, |a, b| if b > a { b } else { a });
                assert_eq!(max[r], want, "row {r}");
                m_use[r] = if want == f32::NEG_INFINITY { 0.0 } else { want };
            }
            let mut fast = s.clone();
            let mut sums = [0f32; BR];
            exp_rows(&mut fast, rows, &m_use, &mut sums);
            for r in 0..rows {
                let mut lanes = [0f32; 16];
                let mut row = s[r * BC..(r + 1) * BC].to_vec();
                for chunk in row.chunks_exact_mut(16) {
                    for (acc, x) in lanes.iter_mut().zip(chunk.iter_mut()) {
                        *x = exp2_with::<true>(*x - m_use[r]);
                        *acc += *x;
                    }
                }
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&fast[r * BC..(r + 1) * BC]), bits(&row), "row {r}");
                assert_eq!(sums[r].to_bits(), reduce(lanes, |a, b| a + b).to_bits(), "row {r}");
            }
        }
    }
}
