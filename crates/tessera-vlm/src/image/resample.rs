//! Pillow's resize (`src/libImaging/Resample.c` and, for nearest, `Geometry.c`), ported so that 8-bit
//! RGB results are identical to `PIL.Image.resize` (Pillow 13).
//!
//! The rules: separable convolution with the filter stretched by the scale when downscaling
//! (antialiasing); per output pixel the taps `[xmin, xmin + n)` around `center = (x + 0.5) * scale`,
//! normalised to sum 1, then turned into 22-bit fixed point (rounded half away from zero); the
//! accumulator starts at `1 << 21` and the result is `clamp(acc >> 22, 0, 255)`; two passes with u8
//! rounding in between, horizontal first over only the rows the vertical pass reads — except that
//! Pillow 13 resizes vertically first when the height shrinks much more than the width; a pass whose
//! size is unchanged is skipped. Nearest is an affine scale with pixel centres accumulated in f64.

use crate::image::RgbImage;

/// Pillow's resampling filters (`PIL.Image.Resampling`), by their numeric codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// `NEAREST` (0).
    Nearest,
    /// `LANCZOS` (1): windowed sinc, support 3.
    Lanczos,
    /// `BILINEAR` (2): triangle, support 1.
    Bilinear,
    /// `BICUBIC` (3): Keys cubic with a = -0.5, support 2.
    Bicubic,
    /// `BOX` (4): support 0.5.
    Box,
    /// `HAMMING` (5): Hamming-windowed sinc, support 1.
    Hamming,
}

impl Filter {
    /// The filter for Pillow's numeric code (`resample` in `preprocessor_config.json`).
    pub fn from_code(code: u64) -> Option<Filter> {
        Some(match code {
            0 => Filter::Nearest,
            1 => Filter::Lanczos,
            2 => Filter::Bilinear,
            3 => Filter::Bicubic,
            4 => Filter::Box,
            5 => Filter::Hamming,
            _ => return None,
        })
    }

    /// Pillow's numeric code.
    pub fn code(self) -> u64 {
        match self {
            Filter::Nearest => 0,
            Filter::Lanczos => 1,
            Filter::Bilinear => 2,
            Filter::Bicubic => 3,
            Filter::Box => 4,
            Filter::Hamming => 5,
        }
    }

    fn support(self) -> f64 {
        match self {
            Filter::Nearest | Filter::Box => 0.5,
            Filter::Bilinear | Filter::Hamming => 1.0,
            Filter::Bicubic => 2.0,
            Filter::Lanczos => 3.0,
        }
    }

    fn weight(self, x: f64) -> f64 {
        match self {
            Filter::Nearest | Filter::Box => {
                if x > -0.5 && x <= 0.5 {
                    1.0
                } else {
                    0.0
                }
            }
            Filter::Bilinear => {
                let x = x.abs();
                if x < 1.0 { 1.0 - x } else { 0.0 }
            }
            Filter::Hamming => {
                let x = x.abs();
                if x == 0.0 {
                    1.0
                } else if x >= 1.0 {
                    0.0
                } else {
                    let x = x * std::f64::consts::PI;
                    x.sin() / x * (0.54 + 0.46 * x.cos())
                }
            }
            Filter::Bicubic => {
                const A: f64 = -0.5;
                let x = x.abs();
                if x < 1.0 {
                    ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
                } else if x < 2.0 {
                    (((x - 5.0) * x + 8.0) * x - 4.0) * A
                } else {
                    0.0
                }
            }
            Filter::Lanczos => {
                if (-3.0..3.0).contains(&x) {
                    sinc(x) * sinc(x / 3.0)
                } else {
                    0.0
                }
            }
        }
    }
}

fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        1.0
    } else {
        let x = x * std::f64::consts::PI;
        x.sin() / x
    }
}

const PRECISION_BITS: u32 = 32 - 8 - 2;

/// The taps of one axis: for each output index its first input index, its tap count, and its
/// fixed-point weights (`ksize` per output, zero-padded).
struct Taps {
    ksize: usize,
    bounds: Vec<(usize, usize)>,
    weights: Vec<i32>,
}

fn taps(in_size: usize, out_size: usize, filter: Filter) -> Taps {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = filter.support() * filterscale;
    let ksize = support.ceil() as usize * 2 + 1;
    let mut bounds = Vec::with_capacity(out_size);
    let mut weights = vec![0i32; out_size * ksize];
    let mut k = vec![0f64; ksize];
    for xx in 0..out_size {
        let center = (xx as f64 + 0.5) * scale;
        let ss = 1.0 / filterscale;
        // C's (int) truncates toward zero; both are clamped to [0, in_size].
        let xmin = ((center - support + 0.5) as i64).max(0) as usize;
        let xmax = ((center + support + 0.5) as i64).min(in_size as i64).max(xmin as i64) as usize - xmin;
        let n = xmax.min(ksize);
        let mut ww = 0.0;
        for (x, slot) in k.iter_mut().enumerate().take(n) {
            let w = filter.weight((x as f64 + xmin as f64 - center + 0.5) * ss);
            *slot = w;
            ww += w;
        }
        let row = &mut weights[xx * ksize..(xx + 1) * ksize];
        for x in 0..n {
            let w = if ww != 0.0 { k[x] / ww } else { k[x] };
            let f = w * f64::from(1u32 << PRECISION_BITS);
            row[x] = if w < 0.0 { (-0.5 + f) as i32 } else { (0.5 + f) as i32 };
        }
        bounds.push((xmin, n));
    }
    Taps { ksize, bounds, weights }
}

#[inline]
fn clip8(acc: i64) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Horizontal pass over rows `[row0, row0 + rows)` of `src` (width `w_in`) into `rows` rows of width
/// `taps.bounds.len()`.
fn horizontal(src: &[u8], w_in: usize, row0: usize, rows: usize, t: &Taps) -> Vec<u8> {
    let w_out = t.bounds.len();
    let mut out = vec![0u8; w_out * rows * 3];
    for y in 0..rows {
        let line = &src[(row0 + y) * w_in * 3..(row0 + y + 1) * w_in * 3];
        let dst = &mut out[y * w_out * 3..(y + 1) * w_out * 3];
        for (xx, &(xmin, n)) in t.bounds.iter().enumerate() {
            let k = &t.weights[xx * t.ksize..xx * t.ksize + n];
            let mut acc = [1i64 << (PRECISION_BITS - 1); 3];
            for (x, &w) in k.iter().enumerate() {
                let p = &line[(xmin + x) * 3..(xmin + x) * 3 + 3];
                for c in 0..3 {
                    acc[c] += i64::from(p[c]) * i64::from(w);
                }
            }
            for c in 0..3 {
                dst[xx * 3 + c] = clip8(acc[c]);
            }
        }
    }
    out
}

/// Vertical pass: `src` has width `w` and its rows are indexed from `row0` (taps' bounds are absolute).
fn vertical(src: &[u8], w: usize, row0: usize, t: &Taps) -> Vec<u8> {
    let h_out = t.bounds.len();
    let mut out = vec![0u8; w * h_out * 3];
    for (yy, &(ymin, n)) in t.bounds.iter().enumerate() {
        let k = &t.weights[yy * t.ksize..yy * t.ksize + n];
        let dst = &mut out[yy * w * 3..(yy + 1) * w * 3];
        for (i, d) in dst.iter_mut().enumerate() {
            let mut acc = 1i64 << (PRECISION_BITS - 1);
            for (y, &wt) in k.iter().enumerate() {
                acc += i64::from(src[(ymin - row0 + y) * w * 3 + i]) * i64::from(wt);
            }
            *d = clip8(acc);
        }
    }
    out
}

/// Pillow's nearest: an affine scale, source coordinates accumulated from the first pixel centre.
fn nearest(img: &RgbImage, w: usize, h: usize) -> RgbImage {
    let (w_in, h_in) = (img.width, img.height);
    let ax = w_in as f64 / w as f64;
    let ay = h_in as f64 / h as f64;
    let coord = |v: f64| if v < 0.0 { -1i64 } else { v as i64 };
    let mut xs = Vec::with_capacity(w);
    let mut xo = ax * 0.5;
    for _ in 0..w {
        xs.push(coord(xo).clamp(0, w_in as i64 - 1) as usize);
        xo += ax;
    }
    let mut data = vec![0u8; w * h * 3];
    let mut yo = ay * 0.5;
    for y in 0..h {
        let yi = coord(yo).clamp(0, h_in as i64 - 1) as usize;
        for (x, &xi) in xs.iter().enumerate() {
            let s = (yi * w_in + xi) * 3;
            data[(y * w + x) * 3..(y * w + x) * 3 + 3].copy_from_slice(&img.data[s..s + 3]);
        }
        yo += ay;
    }
    RgbImage { width: w, height: h, data }
}

/// `img.resize((w, h), filter)` as Pillow 13 computes it. `w` and `h` must be positive (the caller's
/// processor checks sizes once).
pub fn resize(img: &RgbImage, w: usize, h: usize, filter: Filter) -> RgbImage {
    let (w_in, h_in) = (img.width, img.height);
    if w == w_in && h == h_in {
        return img.clone();
    }
    if filter == Filter::Nearest {
        return nearest(img, w, h);
    }
    let need_h = w != w_in;
    let need_v = h != h_in;
    let th = taps(w_in, w, filter);
    let tv = taps(h_in, h, filter);
    // Pillow 13 (python-pillow/Pillow#9549): when the height shrinks much more than the width, the
    // vertical pass runs first, so the horizontal pass works on fewer rows.
    let dy = h_in as i64 - h as i64;
    let dx = w_in as i64 - w as i64;
    let vertical_first = need_h && need_v && dy > 0 && dy > 2 * dx;
    let data = if vertical_first {
        let v = vertical(&img.data, w_in, 0, &tv);
        horizontal(&v, w_in, 0, h, &th)
    } else if need_h {
        let first = tv.bounds.first().map_or(0, |b| b.0);
        let last = tv.bounds.last().map_or(h_in, |b| b.0 + b.1);
        let rows = if need_v { last - first } else { h_in };
        let row0 = if need_v { first } else { 0 };
        let tmp = horizontal(&img.data, w_in, row0, rows, &th);
        if need_v { vertical(&tmp, w, row0, &tv) } else { tmp }
    } else {
        vertical(&img.data, w_in, 0, &tv)
    };
    RgbImage { width: w, height: h, data }
}
