//! bf16 forward tiles on AVX-512 BF16 (`vdpbf16ps`: two bf16 products accumulated into each f32
//! lane per instruction, twice the multiply-adds of an f32 FMA).
//!
//! Scores `q k^T` take bf16 `q` and `k` exactly as given; probabilities are rounded to bf16 for
//! `P v` (as flash-attn does on GPUs); all sums are f32. Used only for bf16 inputs on CPUs that
//! report `avx512bf16`; everything else runs the f32 kernels.
//!
//! The intrinsics need `unsafe`: every function here checks the slice lengths it reads and
//! writes before entering its `#[target_feature]` body, and is only called after the CPU feature
//! was detected.
#![allow(unsafe_code)]

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use super::BC;

/// Whether the bf16 kernels can run here.
pub(crate) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *AVAILABLE.get_or_init(|| {
            super::gemm::isa() == super::gemm::Isa::Avx512
                && is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512bf16")
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `s[r][c] = factor * sum_d q[r][d] k[c][d]` for `rows` query rows (bf16 bits, `dp` per row) and a
/// key block packed as pairs: `kt[t * BC + c] = k[c][2t] | k[c][2t+1] << 16`.
pub(crate) fn scores(q: &[u16], kt: &[u32], s: &mut [f32], rows: usize, dp: usize, factor: f32) {
    assert!(
        available()
            && dp.is_multiple_of(2)
            && q.len() >= rows * dp
            && kt.len() >= dp / 2 * BC
            && s.len() >= rows * BC
    );
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the CPU has AVX-512F and AVX-512 BF16 (checked by `available`), and the lengths
    // asserted above cover every load and store the body makes.
    unsafe {
        scores_avx512(q, kt, s, rows, dp, factor)
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bf16")]
unsafe fn scores_avx512(q: &[u16], kt: &[u32], s: &mut [f32], rows: usize, dp: usize, factor: f32) {
    let mut i = 0;
    while i + 4 <= rows {
        // SAFETY: rows i..i+4 exist; the caller's length checks cover the rest.
        unsafe { scores_rows::<4>(q, kt, s, i, dp, factor) };
        i += 4;
    }
    while i < rows {
        // SAFETY: as above, one row.
        unsafe { scores_rows::<1>(q, kt, s, i, dp, factor) };
        i += 1;
    }
}

/// Rows `i..i + R` of the score tile; the `R x 4` accumulators stay in registers (constant bounds).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bf16")]
#[inline]
unsafe fn scores_rows<const R: usize>(
    q: &[u16],
    kt: &[u32],
    s: &mut [f32],
    i: usize,
    dp: usize,
    factor: f32,
) {
    let mut acc = [[_mm512_setzero_ps(); 4]; R];
    for t in 0..dp / 2 {
        // SAFETY (all loads): t < dp/2 and 64 keys per pair row stay inside `kt`; rows i..i+R
        // stay inside `q` (pairs at even offsets of a dp-wide row).
        let kp = unsafe { kt.as_ptr().add(t * BC) };
        let b = unsafe {
            [
                std::mem::transmute::<__m512i, __m512bh>(_mm512_loadu_si512(kp.cast())),
                std::mem::transmute::<__m512i, __m512bh>(_mm512_loadu_si512(kp.add(16).cast())),
                std::mem::transmute::<__m512i, __m512bh>(_mm512_loadu_si512(kp.add(32).cast())),
                std::mem::transmute::<__m512i, __m512bh>(_mm512_loadu_si512(kp.add(48).cast())),
            ]
        };
        for (r, row) in acc.iter_mut().enumerate() {
            let pair = unsafe { q.as_ptr().add((i + r) * dp + 2 * t).cast::<u32>().read_unaligned() };
            let a = unsafe { std::mem::transmute::<__m512i, __m512bh>(_mm512_set1_epi32(pair as i32)) };
            for (x, bc) in row.iter_mut().zip(b) {
                *x = _mm512_dpbf16_ps(*x, a, bc);
            }
        }
    }
    let scale = _mm512_set1_ps(factor);
    for (r, row) in acc.iter().enumerate() {
        for (c, x) in row.iter().enumerate() {
            // SAFETY: row i + r of the tile, columns 16c..16c+16 < BC.
            unsafe { _mm512_storeu_ps(s.as_mut_ptr().add((i + r) * BC + 16 * c), _mm512_mul_ps(*x, scale)) };
        }
    }
}

/// Rounds `rows` rows of probabilities (`BC` f32 each) to bf16 (round to nearest even), in the same
/// order, so consecutive keys form the pairs [`values`] reads.
pub(crate) fn round_probabilities(p: &[f32], out: &mut [u16], rows: usize) {
    assert!(available() && p.len() >= rows * BC && out.len() >= rows * BC);
    #[cfg(target_arch = "x86_64")]
    // SAFETY: feature checked; `rows * BC` elements are read and written, within the asserted lengths.
    unsafe {
        round_avx512(p, out, rows)
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bf16")]
unsafe fn round_avx512(p: &[f32], out: &mut [u16], rows: usize) {
    for k in 0..rows * BC / 16 {
        // SAFETY: 16 * k + 16 <= rows * BC for both slices.
        unsafe {
            let v = _mm512_loadu_ps(p.as_ptr().add(16 * k));
            let h = std::mem::transmute::<__m256bh, __m256i>(_mm512_cvtneps_pbh(v));
            _mm256_storeu_si256(out.as_mut_ptr().add(16 * k).cast(), h);
        }
    }
}

/// `acc[r][d] += sum_j p[r][j] v[j][d]` over `pairs` key pairs, with `p` as bf16 rows (`BC` per
/// row) and the value block packed as `vp[t * dp + d] = v[2t][d] | v[2t+1][d] << 16`.
pub(crate) fn values(p: &[u16], vp: &[u32], acc: &mut [f32], rows: usize, dp: usize, pairs: usize) {
    assert!(available() && dp.is_multiple_of(16) && pairs <= BC / 2);
    assert!(p.len() >= rows * BC && vp.len() >= pairs * dp && acc.len() >= rows * dp);
    #[cfg(target_arch = "x86_64")]
    // SAFETY: feature checked; every index below stays within the asserted lengths.
    unsafe {
        values_avx512(p, vp, acc, rows, dp, pairs)
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bf16")]
unsafe fn values_avx512(p: &[u16], vp: &[u32], acc: &mut [f32], rows: usize, dp: usize, pairs: usize) {
    let mut i = 0;
    while i < rows {
        let four = rows - i >= 4;
        let mut d0 = 0;
        while d0 < dp {
            let wide = dp - d0 >= 64;
            // SAFETY: rows i..i+R and columns d0..d0+16W exist; the caller checked the lengths.
            unsafe {
                match (four, wide) {
                    (true, true) => values_tile::<4, 4>(p, vp, acc, i, d0, dp, pairs),
                    (true, false) => values_tile::<4, 1>(p, vp, acc, i, d0, dp, pairs),
                    (false, true) => values_tile::<1, 4>(p, vp, acc, i, d0, dp, pairs),
                    (false, false) => values_tile::<1, 1>(p, vp, acc, i, d0, dp, pairs),
                }
            }
            d0 += if wide { 64 } else { 16 };
        }
        i += if four { 4 } else { 1 };
    }
}

/// Rows `i..i + R`, columns `d0..d0 + 16 W` of the output accumulator.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bf16")]
#[inline]
unsafe fn values_tile<const R: usize, const W: usize>(
    p: &[u16],
    vp: &[u32],
    acc: &mut [f32],
    i: usize,
    d0: usize,
    dp: usize,
    pairs: usize,
) {
    let mut a = [[_mm512_setzero_ps(); W]; R];
    for (r, row) in a.iter_mut().enumerate() {
        for (c, x) in row.iter_mut().enumerate() {
            // SAFETY: row i + r < rows, columns d0 + 16c + 16 <= dp.
            *x = unsafe { _mm512_loadu_ps(acc.as_ptr().add((i + r) * dp + d0 + 16 * c)) };
        }
    }
    for t in 0..pairs {
        let mut b = [_mm512_setzero_ps(); W].map(|z| unsafe { std::mem::transmute::<__m512, __m512bh>(z) });
        for (c, bc) in b.iter_mut().enumerate() {
            // SAFETY: t < pairs and d0 + 16c + 16 <= dp stay inside `vp`.
            *bc = unsafe {
                std::mem::transmute::<__m512i, __m512bh>(_mm512_loadu_si512(
                    vp.as_ptr().add(t * dp + d0 + 16 * c).cast(),
                ))
            };
        }
        for (r, row) in a.iter_mut().enumerate() {
            // SAFETY: 2t + 1 < BC inside row i + r of `p`.
            let pair = unsafe { p.as_ptr().add((i + r) * BC + 2 * t).cast::<u32>().read_unaligned() };
            let w = unsafe { std::mem::transmute::<__m512i, __m512bh>(_mm512_set1_epi32(pair as i32)) };
            for (x, bc) in row.iter_mut().zip(b) {
                *x = _mm512_dpbf16_ps(*x, w, bc);
            }
        }
    }
    for (r, row) in a.iter().enumerate() {
        for (c, x) in row.iter().enumerate() {
            // SAFETY: as for the loads.
            unsafe { _mm512_storeu_ps(acc.as_mut_ptr().add((i + r) * dp + d0 + 16 * c), *x) };
        }
    }
}
