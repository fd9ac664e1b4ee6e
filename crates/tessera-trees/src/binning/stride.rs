//! Fixed-width rows of bin codes: a macro that turns a row stride into a compile-time constant, so
//! the inner loops of the partitions (CART's and the booster's) move whole rows with fixed-size copies.

/// Calls `$body` with `$s` bound to the row stride as a constant (the strides [`stride_for`] picks up to
/// 64 bytes), or with `$s = 0` for the run-time stride of wider rows.
macro_rules! with_stride {
    ($stride:expr, $s:ident => $body:expr) => {
        with_stride!(@arms $stride, $s, $body,
            [1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 40 48 56 64])
    };
    (@arms $stride:expr, $s:ident, $body:expr, [$($n:literal)*]) => {
        match $stride {
            $($n => {
                const $s: usize = $n;
                $body
            })*
            _ => {
                const $s: usize = 0;
                $body
            }
        }
    };
}

pub(crate) use with_stride;
