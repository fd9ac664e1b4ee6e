//! The element types collectives move ([`Element`]: f32, f64, f16, bf16, i64), their wire tag
//! ([`DType`]), the reduction operators ([`ReduceOp`]) and the kernels that combine two buffers.
//!
//! f16 and bf16 are reduced in f32 (each pair of elements is widened, combined and rounded back once), as
//! gloo and NCCL do; what travels between ranks stays 2 bytes per element.

use half::{bf16, f16};
use serde::{Deserialize, Serialize};

/// How a reducing collective combines the ranks' values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReduceOp {
    /// The sum over ranks.
    Sum,
    /// The sum over ranks divided by the world size (floating-point types only).
    Avg,
    /// The largest value (NaN wins, as `torch.max`).
    Max,
    /// The smallest value (NaN wins).
    Min,
}

impl ReduceOp {
    /// The lower-case name used in messages (`sum`, `avg`, `max`, `min`).
    pub fn name(self) -> &'static str {
        match self {
            ReduceOp::Sum => "sum",
            ReduceOp::Avg => "avg",
            ReduceOp::Max => "max",
            ReduceOp::Min => "min",
        }
    }

    pub(crate) fn code(self) -> u8 {
        match self {
            ReduceOp::Sum => 1,
            ReduceOp::Avg => 2,
            ReduceOp::Max => 3,
            ReduceOp::Min => 4,
        }
    }

    pub(crate) fn from_code(code: u8) -> Option<ReduceOp> {
        Some(match code {
            1 => ReduceOp::Sum,
            2 => ReduceOp::Avg,
            3 => ReduceOp::Max,
            4 => ReduceOp::Min,
            _ => return None,
        })
    }
}

/// The element type of a collective's buffers, as named in messages and carried on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DType {
    /// 32-bit float.
    F32,
    /// 64-bit float.
    F64,
    /// IEEE half precision (reduced in f32).
    F16,
    /// bfloat16 (reduced in f32).
    BF16,
    /// 64-bit signed integer (wrapping sums).
    I64,
}

impl DType {
    /// The lower-case name (`f32`, `bf16`, ...).
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F64 => "f64",
            DType::F16 => "f16",
            DType::BF16 => "bf16",
            DType::I64 => "i64",
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F64 | DType::I64 => 8,
            DType::F16 | DType::BF16 => 2,
        }
    }

    pub(crate) fn code(self) -> u8 {
        match self {
            DType::F32 => 1,
            DType::F64 => 2,
            DType::F16 => 3,
            DType::BF16 => 4,
            DType::I64 => 5,
        }
    }

    pub(crate) fn from_code(code: u8) -> Option<DType> {
        Some(match code {
            1 => DType::F32,
            2 => DType::F64,
            3 => DType::F16,
            4 => DType::BF16,
            5 => DType::I64,
            _ => return None,
        })
    }
}

impl std::fmt::Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
    impl Sealed for half::f16 {}
    impl Sealed for half::bf16 {}
    impl Sealed for i64 {}
}

/// A type collectives can move and reduce: f32, f64, f16, bf16 and i64 (sealed).
pub trait Element: bytemuck::Pod + Send + Sync + PartialEq + std::fmt::Debug + sealed::Sealed {
    /// The wire tag.
    const DTYPE: DType;

    /// `acc[i] = op(acc[i], other[i])` for `Sum`/`Avg` (the sum; [`Element::divide`] finishes an
    /// average), `Max` and `Min`. Commutative bit for bit, so every rank combining the same pair of
    /// buffers gets the same bits whichever side it holds.
    fn combine(acc: &mut [Self], other: &[Self], op: ReduceOp);

    /// Divides every element by `n` (the last step of `Avg`). Integers never reach here: `Avg` on i64 is
    /// refused at the call.
    fn divide(buf: &mut [Self], n: usize);

    /// `Self` from a small integer (benchmarks and tests build exact sums with it).
    fn from_i32(v: i32) -> Self;
}

/// `max`/`min` of one pair: NaN wins (as torch), and of +0 and -0 `max` is +0 and `min` is -0, so the
/// result is the same bits whichever side each value is on.
macro_rules! pick {
    ($a:expr, $b:expr, $op:expr) => {{
        let (a, b) = ($a, $b);
        if a.is_nan() {
            a
        } else if b.is_nan() {
            b
        } else if a > b {
            if matches!($op, ReduceOp::Max) { a } else { b }
        } else if b > a {
            if matches!($op, ReduceOp::Max) { b } else { a }
        } else if a.is_sign_negative() == matches!($op, ReduceOp::Max) {
            b
        } else {
            a
        }
    }};
}

macro_rules! float_element {
    ($t:ty, $tag:expr) => {
        impl Element for $t {
            const DTYPE: DType = $tag;

            fn combine(acc: &mut [Self], other: &[Self], op: ReduceOp) {
                match op {
                    ReduceOp::Sum | ReduceOp::Avg => {
                        for (a, b) in acc.iter_mut().zip(other) {
                            *a += *b;
                        }
                    }
                    ReduceOp::Max | ReduceOp::Min => {
                        for (a, b) in acc.iter_mut().zip(other) {
                            *a = pick!(*a, *b, op);
                        }
                    }
                }
            }

            fn divide(buf: &mut [Self], n: usize) {
                let d = n as $t;
                for v in buf {
                    *v /= d;
                }
            }

            fn from_i32(v: i32) -> Self {
                v as $t
            }
        }
    };
}

float_element!(f32, DType::F32);
float_element!(f64, DType::F64);

/// Widens 2-byte floats in blocks, combines in f32 and rounds back once per element.
macro_rules! half_element {
    ($t:ty, $tag:expr) => {
        impl Element for $t {
            const DTYPE: DType = $tag;

            fn combine(acc: &mut [Self], other: &[Self], op: ReduceOp) {
                const BLOCK: usize = 256;
                let mut wa = [0f32; BLOCK];
                let mut wb = [0f32; BLOCK];
                for (ca, cb) in acc.chunks_mut(BLOCK).zip(other.chunks(BLOCK)) {
                    let n = ca.len();
                    for i in 0..n {
                        wa[i] = ca[i].to_f32();
                        wb[i] = cb[i].to_f32();
                    }
                    f32::combine(&mut wa[..n], &wb[..n], op);
                    for i in 0..n {
                        ca[i] = <$t>::from_f32(wa[i]);
                    }
                }
            }

            fn divide(buf: &mut [Self], n: usize) {
                let d = n as f32;
                for v in buf {
                    *v = <$t>::from_f32(v.to_f32() / d);
                }
            }

            fn from_i32(v: i32) -> Self {
                <$t>::from_f32(v as f32)
            }
        }
    };
}

half_element!(f16, DType::F16);
half_element!(bf16, DType::BF16);

impl Element for i64 {
    const DTYPE: DType = DType::I64;

    fn combine(acc: &mut [Self], other: &[Self], op: ReduceOp) {
        for (a, b) in acc.iter_mut().zip(other) {
            *a = match op {
                ReduceOp::Sum | ReduceOp::Avg => a.wrapping_add(*b),
                ReduceOp::Max => (*a).max(*b),
                ReduceOp::Min => (*a).min(*b),
            };
        }
    }

    fn divide(buf: &mut [Self], n: usize) {
        let d = n as i64;
        for v in buf {
            *v /= d;
        }
    }

    fn from_i32(v: i32) -> Self {
        v as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_and_min_propagate_nan_from_either_side() {
        let mut a = [1.0f32, f32::NAN, 3.0];
        f32::combine(&mut a, &[f32::NAN, 2.0, 4.0], ReduceOp::Max);
        assert!(a[0].is_nan() && a[1].is_nan());
        assert_eq!(a[2], 4.0);
    }

    #[test]
    fn signed_zeros_give_the_same_bits_either_way() {
        for op in [ReduceOp::Max, ReduceOp::Min] {
            let mut x = [0.0f32];
            let mut y = [-0.0f32];
            f32::combine(&mut x, &[-0.0], op);
            f32::combine(&mut y, &[0.0], op);
            assert_eq!(x[0].to_bits(), y[0].to_bits());
            assert_eq!(x[0].is_sign_negative(), op == ReduceOp::Min);
        }
    }

    #[test]
    fn half_sums_round_once_per_pair() {
        let mut a = [f16::from_f32(1.0), f16::from_f32(2048.0)];
        f16::combine(&mut a, &[f16::from_f32(0.5), f16::from_f32(1.0)], ReduceOp::Sum);
        assert_eq!(a[0].to_f32(), 1.5);
        // 2049 is not representable in f16: rounds to even (2048).
        assert_eq!(a[1].to_f32(), 2048.0);
    }

    #[test]
    fn codes_round_trip() {
        for d in [DType::F32, DType::F64, DType::F16, DType::BF16, DType::I64] {
            assert_eq!(DType::from_code(d.code()), Some(d));
        }
        for op in [ReduceOp::Sum, ReduceOp::Avg, ReduceOp::Max, ReduceOp::Min] {
            assert_eq!(ReduceOp::from_code(op.code()), Some(op));
        }
    }
}
