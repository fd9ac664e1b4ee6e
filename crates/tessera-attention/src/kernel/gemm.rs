//! The two numeric primitives of every attention tile: a small register-blocked matrix product
//! `C (+)= A B` and a vectorisable `2^x`, both compiled for the best instruction set the CPU has
//! (AVX-512 or AVX2/FMA, chosen at run time through `pulp`; portable code otherwise).
//!
//! The loops are written over fixed-size arrays so that, inside the dispatched closure, LLVM keeps
//! the `MB x NB` accumulator block in vector registers and turns the inner loop into fused
//! multiply-adds.

/// Operands of [`gemm`]: `a` is `m x k` with element `(r, p)` at `a[r * lda + p]` (or, with
/// `a_transposed`, at `a[p * lda + r]`: the product then uses `a`'s transpose without copying it);
/// `b` is `k x n` row-major with row stride `ldb`; `c` is `m x n` row-major with row stride `ldc`.
pub(crate) struct Gemm<'a> {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub a: &'a [f32],
    pub lda: usize,
    pub a_transposed: bool,
    pub b: &'a [f32],
    pub ldb: usize,
    pub ldc: usize,
}

impl<'a> Gemm<'a> {
    /// `c (m x n) = a (m x k) b (k x n)`, all row-major.
    pub(crate) fn new(
        m: usize,
        n: usize,
        k: usize,
        a: &'a [f32],
        lda: usize,
        b: &'a [f32],
        ldb: usize,
        ldc: usize,
    ) -> Self {
        Gemm { m, n, k, a, lda, a_transposed: false, b, ldb, ldc }
    }

    /// `c (m x n) = a^T b` where `a` is stored `k x m` row-major with row stride `lda`.
    pub(crate) fn transposed_a(
        m: usize,
        n: usize,
        k: usize,
        a: &'a [f32],
        lda: usize,
        b: &'a [f32],
        ldb: usize,
        ldc: usize,
    ) -> Self {
        Gemm { m, n, k, a, lda, a_transposed: true, b, ldb, ldc }
    }
}

/// Instruction set picked once per process.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Isa {
    Avx512,
    Avx2,
    Portable,
}

pub(crate) fn isa() -> Isa {
    static ISA: std::sync::OnceLock<Isa> = std::sync::OnceLock::new();
    *ISA.get_or_init(|| {
        let best = match pulp::Arch::new() {
            #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
            pulp::Arch::V4(_) => Isa::Avx512,
            #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
            pulp::Arch::V3(_) => Isa::Avx2,
            #[allow(unreachable_patterns)]
            _ => Isa::Portable,
        };
        // TESSERA_ATTENTION_ISA=avx2|portable selects a lesser kernel set (to test the fallbacks
        // on a machine that has more).
        match std::env::var("TESSERA_ATTENTION_ISA").as_deref() {
            Ok("portable") => Isa::Portable,
            Ok("avx2") if best != Isa::Portable => Isa::Avx2,
            _ => best,
        }
    })
}

/// A kernel body to compile for the CPU's best instruction set. Implementations mark `run`
/// `#[inline(always)]` and call only `#[inline(always)]` code, so all of it is generated inside
/// the target-feature function that [`dispatch`] enters (a closure would not be guaranteed to be
/// inlined there, and would then run as portable code).
pub(crate) trait Kernel {
    type Output;
    fn run(self) -> Self::Output;
}

struct Dispatched<K>(K);

impl<K: Kernel> pulp::WithSimd for Dispatched<K> {
    type Output = K::Output;
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) -> K::Output {
        self.0.run()
    }
}

/// Runs `kernel` compiled for the CPU's best instruction set.
#[inline(always)]
pub(crate) fn dispatch<K: Kernel>(kernel: K) -> K::Output {
    pulp::Arch::new().dispatch(Dispatched(kernel))
}

/// Runs `kernel` compiled for `isa` (portable code where the CPU lacks it).
#[inline(always)]
fn dispatch_on<K: Kernel>(isa: Isa, kernel: K) -> K::Output {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    {
        match isa {
            Isa::Avx512 => {
                if let Some(simd) = pulp::x86::V4::try_new() {
                    return pulp::Simd::vectorize(simd, Dispatched(kernel));
                }
            }
            Isa::Avx2 => {
                if let Some(simd) = pulp::x86::V3::try_new() {
                    return pulp::Simd::vectorize(simd, Dispatched(kernel));
                }
            }
            Isa::Portable => {}
        }
    }
    let _ = isa;
    kernel.run()
}

/// A register blocking of the matrix kernel on one instruction set: what run-time calibration
/// chooses between (`kernel::tune`). Every blocking sums each output element over `k` in the same
/// order with fused multiply-adds, so all of them give the same bits; `Portable` (no FMA) is used
/// only where the CPU has neither AVX2 nor AVX-512, or `TESSERA_ATTENTION_ISA=portable` says so.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub(crate) enum KernelChoice {
    /// AVX-512, 4 rows x 64 columns (16 zmm accumulators).
    Avx512Rows4x64,
    /// AVX-512, 6 rows x 64 columns (24 zmm accumulators).
    Avx512Rows6x64,
    /// AVX2/FMA, 6 rows x 16 columns (12 ymm accumulators).
    Avx2Rows6x16,
    /// AVX2/FMA, 4 rows x 16 columns (8 ymm accumulators).
    Avx2Rows4x16,
    /// Plain code, 4 x 16.
    Portable,
}

impl KernelChoice {
    /// Every choice, in the default order of preference.
    pub(crate) const ALL: [KernelChoice; 5] = [
        KernelChoice::Avx512Rows4x64,
        KernelChoice::Avx512Rows6x64,
        KernelChoice::Avx2Rows6x16,
        KernelChoice::Avx2Rows4x16,
        KernelChoice::Portable,
    ];

    /// The name `TESSERA_ATTENTION_TUNE` pins and benchmarks report.
    pub(crate) fn name(self) -> &'static str {
        match self {
            KernelChoice::Avx512Rows4x64 => "avx512-4x64",
            KernelChoice::Avx512Rows6x64 => "avx512-6x64",
            KernelChoice::Avx2Rows6x16 => "avx2-6x16",
            KernelChoice::Avx2Rows4x16 => "avx2-4x16",
            KernelChoice::Portable => "portable",
        }
    }

    pub(crate) fn isa(self) -> Isa {
        match self {
            KernelChoice::Avx512Rows4x64 | KernelChoice::Avx512Rows6x64 => Isa::Avx512,
            KernelChoice::Avx2Rows6x16 | KernelChoice::Avx2Rows4x16 => Isa::Avx2,
            KernelChoice::Portable => Isa::Portable,
        }
    }

    /// The choices this CPU runs (under the `TESSERA_ATTENTION_ISA` cap), preferred first:
    /// every AVX-512 and AVX2 blocking where the CPU has them, or `Portable` alone.
    pub(crate) fn available() -> Vec<KernelChoice> {
        let best = isa();
        let usable = |c: &KernelChoice| match c.isa() {
            Isa::Avx512 => best == Isa::Avx512,
            Isa::Avx2 => best != Isa::Portable,
            Isa::Portable => best == Isa::Portable,
        };
        KernelChoice::ALL.into_iter().filter(usable).collect()
    }
}

struct GemmKernel<'a, 'b, const MB: usize, const NB: usize> {
    g: &'a Gemm<'b>,
    c: &'a mut [f32],
    accumulate: bool,
}

impl<const MB: usize, const NB: usize> Kernel for GemmKernel<'_, '_, MB, NB> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        blocked::<MB, NB, true>(self.g, self.c, self.accumulate);
    }
}

/// `c = a b` (or `c += a b` with `accumulate`) with the register blocking `kernel`. `n` must be a
/// multiple of 16.
pub(crate) fn gemm(kernel: KernelChoice, g: &Gemm<'_>, c: &mut [f32], accumulate: bool) {
    debug_assert!(g.n.is_multiple_of(16));
    let isa = kernel.isa();
    match kernel {
        KernelChoice::Avx512Rows4x64 => dispatch_on(isa, GemmKernel::<4, 64> { g, c, accumulate }),
        KernelChoice::Avx512Rows6x64 => dispatch_on(isa, GemmKernel::<6, 64> { g, c, accumulate }),
        KernelChoice::Avx2Rows6x16 => dispatch_on(isa, GemmKernel::<6, 16> { g, c, accumulate }),
        KernelChoice::Avx2Rows4x16 => dispatch_on(isa, GemmKernel::<4, 16> { g, c, accumulate }),
        KernelChoice::Portable => blocked::<4, 16, false>(g, c, accumulate),
    }
}

#[inline(always)]
fn blocked<const MB: usize, const NB: usize, const FMA: bool>(g: &Gemm<'_>, c: &mut [f32], accumulate: bool) {
    let mut j = 0;
    while j < g.n {
        if g.n - j >= NB {
            rows::<MB, NB, FMA>(g, j, c, accumulate);
            j += NB;
        } else {
            rows::<MB, 16, FMA>(g, j, c, accumulate);
            j += 16;
        }
    }
}

#[inline(always)]
fn rows<const MB: usize, const NB: usize, const FMA: bool>(
    g: &Gemm<'_>,
    j: usize,
    c: &mut [f32],
    accumulate: bool,
) {
    let mut i = 0;
    while i < g.m {
        let take = MB.min(g.m - i);
        if take == MB {
            micro::<MB, NB, FMA>(g, i, j, MB, c, accumulate);
        } else {
            // Tail rows in full blocks of 4, 2 and 1 rows (one row at a time is load-bound: a
            // 6-row blocking would leave 4 of every 64 rows to it).
            let mut r = i;
            while MB > 4 && g.m - r >= 4 {
                micro::<4, NB, FMA>(g, r, j, 4, c, accumulate);
                r += 4;
            }
            while g.m - r >= 2 {
                micro::<2, NB, FMA>(g, r, j, 2, c, accumulate);
                r += 2;
            }
            if r < g.m {
                micro::<1, NB, FMA>(g, r, j, 1, c, accumulate);
            }
        }
        i += take;
    }
}

/// One `MB x NB` block of `c` at row `i`, column `j`.
// Indexed loops over fixed-size arrays are what LLVM turns into register-resident vector FMAs.
#[allow(clippy::needless_range_loop)]
#[inline(always)]
fn micro<const MB: usize, const NB: usize, const FMA: bool>(
    g: &Gemm<'_>,
    i: usize,
    j: usize,
    rows: usize,
    c: &mut [f32],
    accumulate: bool,
) {
    let mut acc = [[0f32; NB]; MB];
    if accumulate {
        for (r, row) in acc.iter_mut().enumerate().take(rows) {
            let start = (i + r) * g.ldc + j;
            if let Some(src) = c[start..].first_chunk::<NB>() {
                *row = *src;
            }
        }
    }
    if g.a_transposed {
        // Row p of the stored matrix holds column p of `a`: MB consecutive values.
        for p in 0..g.k {
            let Some(b) = g.b[p * g.ldb + j..].first_chunk::<NB>() else { return };
            let Some(a) = g.a[p * g.lda + i..].first_chunk::<MB>() else { return };
            fma_rows::<MB, NB, FMA>(a, b, &mut acc);
        }
    } else {
        let a_rows: [&[f32]; MB] = std::array::from_fn(|r| {
            let start = (i + r.min(rows - 1)) * g.lda;
            &g.a[start..start + g.k]
        });
        for p in 0..g.k {
            let Some(b) = g.b[p * g.ldb + j..].first_chunk::<NB>() else { return };
            let a: [f32; MB] = std::array::from_fn(|r| a_rows[r][p]);
            fma_rows::<MB, NB, FMA>(&a, b, &mut acc);
        }
    }
    for (r, row) in acc.iter().enumerate().take(rows) {
        let start = (i + r) * g.ldc + j;
        if let Some(dst) = c[start..].first_chunk_mut::<NB>() {
            *dst = *row;
        }
    }
}

/// `acc[r] += a[r] * b` for every row.
#[allow(clippy::needless_range_loop)]
#[inline(always)]
fn fma_rows<const MB: usize, const NB: usize, const FMA: bool>(
    a: &[f32; MB],
    b: &[f32; NB],
    acc: &mut [[f32; NB]; MB],
) {
    for r in 0..MB {
        let av = a[r];
        let row = &mut acc[r];
        for l in 0..NB {
            row[l] = if FMA { av.mul_add(b[l], row[l]) } else { av * b[l] + row[l] };
        }
    }
}

/// The coefficients of [`exp2_with`]'s polynomial, highest degree first.
// The linear coefficient is fitted (0.693147), not ln 2 (0.6931472) by mistake.
#[allow(clippy::approx_constant)]
pub(crate) const EXP2_POLY: [f32; 6] =
    [1.326_472_7e-3, 9.671_513e-3, 5.550_733_6e-2, 0.240_222_42, 0.693_147, 1.0];

/// `2^x` to about 2e-7 relative error; `0` below `-126` (masked scores arrive as `-inf`).
/// With the polynomial in fused multiply-adds when `FMA` (only inside kernels dispatched to an
/// instruction set that has them; elsewhere `mul_add` would be a slow library call).
///
/// Written without `floor`, float-to-int casts or `max` (whose NaN rules get in the way) so that
/// loops over it vectorise: rounding to the nearest integer is done by adding `1.5 * 2^23`, which
/// leaves the integer in the low mantissa bits.
#[inline(always)]
pub(crate) fn exp2_with<const FMA: bool>(x: f32) -> f32 {
    const ROUNDER: f32 = 12_582_912.0; // 1.5 * 2^23
    let xc = if x > -126.0 { x } else { -126.0 };
    let shifted = xc + ROUNDER;
    let n = shifted - ROUNDER; // xc rounded to the nearest integer
    let ni = (shifted.to_bits() as i32).wrapping_sub(ROUNDER.to_bits() as i32);
    let f = xc - n; // in [-0.5, 0.5]
    // A near-minimax polynomial for 2^f on [-0.5, 0.5], degree 5: relative error 1.6e-7 in exact
    // arithmetic, 1.7e-7 in f32 (fitted by reweighted least squares with p(0) = 1 exactly; one
    // multiply-add fewer than Taylor's degree 6, for a smaller error).
    let step = |p: f32, c: f32| if FMA { p.mul_add(f, c) } else { p * f + c };
    let mut p = EXP2_POLY[0];
    for &c in &EXP2_POLY[1..] {
        p = step(p, c);
    }
    let scale = f32::from_bits((ni.wrapping_add(127) << 23) as u32);
    if x < -126.0 { 0.0 } else { p * scale }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(g: &Gemm<'_>) -> Vec<f32> {
        let mut c = vec![0f32; g.m * g.ldc];
        for i in 0..g.m {
            for j in 0..g.n {
                let mut s = 0f64;
                for p in 0..g.k {
                    s += g.a[i * g.lda + p] as f64 * g.b[p * g.ldb + j] as f64;
                }
                c[i * g.ldc + j] = s as f32;
            }
        }
        c
    }

    #[test]
    fn gemm_matches_a_plain_product() {
        for (m, n, k) in [(1, 16, 1), (5, 32, 7), (13, 80, 33), (64, 64, 64), (7, 144, 130)] {
            let a: Vec<f32> = (0..m * (k + 3)).map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0).collect();
            let b: Vec<f32> = (0..k * (n + 16)).map(|i| ((i * 53 % 97) as f32 - 48.0) / 24.0).collect();
            let g = Gemm::new(m, n, k, &a, k + 3, &b, n + 16, n + 16);
            let want = reference(&g);
            let mut c = vec![0f32; m * (n + 16)];
            gemm(KernelChoice::available()[0], &g, &mut c, false);
            // Every blocking the CPU runs gives the same bits.
            for choice in KernelChoice::available() {
                let mut other = vec![0f32; m * (n + 16)];
                gemm(choice, &g, &mut other, false);
                assert_eq!(other, c, "{m}x{n}x{k} with {}", choice.name());
            }
            for i in 0..m {
                for j in 0..n {
                    let (x, y) = (c[i * (n + 16) + j], want[i * (n + 16) + j]);
                    assert!((x - y).abs() <= 1e-4 * (1.0 + y.abs()), "{m}x{n}x{k} at {i},{j}: {x} vs {y}");
                }
            }
            gemm(KernelChoice::available()[0], &g, &mut c, true);
            assert!((c[0] - 2.0 * want[0]).abs() <= 1e-4 * (1.0 + want[0].abs()));
            // The same product through a stored transpose of `a`.
            let mut at = vec![0f32; k * (m + 5)];
            for i in 0..m {
                for p in 0..k {
                    at[p * (m + 5) + i] = a[i * (k + 3) + p];
                }
            }
            let gt = Gemm::transposed_a(m, n, k, &at, m + 5, &b, n + 16, n + 16);
            let mut ct = vec![0f32; m * (n + 16)];
            gemm(KernelChoice::available()[0], &gt, &mut ct, false);
            for (x, y) in ct.iter().zip(&want) {
                assert!((x - y).abs() <= 1e-4 * (1.0 + y.abs()));
            }
        }
    }

    #[test]
    fn exp2_is_accurate() {
        let mut worst = 0f64;
        let mut x = -125.0f32;
        while x <= 10.0 {
            let want = (x as f64).exp2();
            let got = exp2_with::<false>(x) as f64;
            worst = worst.max(((got - want) / want).abs());
            x += 0.0137;
        }
        assert!(worst < 4e-7, "relative error {worst}");
        assert_eq!(exp2_with::<true>(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp2_with::<false>(-200.0), 0.0);
        assert_eq!(exp2_with::<true>(0.0), 1.0);
    }
}
