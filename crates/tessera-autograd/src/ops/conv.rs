//! 2-D convolution (cross-correlation, as PyTorch's `conv2d`).

use candle_core::Tensor;

use crate::error::{Error, Result};
use crate::graph::{once_differentiable, record, tracks};
use crate::ops::cat;
use crate::var::Var;

/// Stride, padding, dilation and groups of [`conv2d`] (the same in both spatial dimensions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2dOptions {
    /// Step between applications of the kernel.
    pub stride: usize,
    /// Zeros added on every side.
    pub padding: usize,
    /// Spacing between kernel taps.
    pub dilation: usize,
    /// Channel groups: input and output channels are split into this many independent groups.
    pub groups: usize,
}

impl Default for Conv2dOptions {
    fn default() -> Self {
        Conv2dOptions { stride: 1, padding: 0, dilation: 1, groups: 1 }
    }
}

/// Convolves `x` of shape `(batch, in, h, w)` with `weight` of shape
/// `(out, in / groups, kh, kw)`, adding `bias` of shape `(out)` when given.
///
/// The backward (input and weight gradients by transposed convolution) is differentiable once:
/// a second derivative through it returns an error rather than a wrong value.
pub fn conv2d(x: &Var, weight: &Var, bias: Option<&Var>, options: Conv2dOptions) -> Result<Var> {
    let (xd, wd) = (x.dims(), weight.dims());
    let Conv2dOptions { stride, padding, dilation, groups } = options;
    if xd.len() != 4 || wd.len() != 4 {
        return Err(Error::invalid(
            "conv2d",
            format!(
                "input must be (batch, channels, h, w) and weight (out, in/groups, kh, kw); found {xd:?} and {wd:?}"
            ),
        ));
    }
    if stride == 0 || dilation == 0 || groups == 0 {
        return Err(Error::invalid("conv2d", "stride, dilation and groups must be at least 1"));
    }
    if xd[1] != wd[1] * groups || wd[0] % groups != 0 {
        return Err(Error::invalid(
            "conv2d",
            format!(
                "input has {} channels but weight {wd:?} with {groups} groups expects {}",
                xd[1],
                wd[1] * groups
            ),
        ));
    }
    for (axis, (size, k)) in [(xd[2], wd[2]), (xd[3], wd[3])].into_iter().enumerate() {
        if size + 2 * padding < dilation * (k - 1) + 1 {
            return Err(Error::invalid(
                "conv2d",
                format!(
                    "kernel {k} (dilation {dilation}) larger than padded input {} on axis {}",
                    size + 2 * padding,
                    axis + 2
                ),
            ));
        }
    }
    let mut y = if groups == 1 {
        conv2d_single(x, weight, stride, padding, dilation)?
    } else {
        let (cin, cout) = (wd[1], wd[0] / groups);
        let parts = (0..groups)
            .map(|g| {
                conv2d_single(
                    &x.narrow(1, g * cin, cin)?,
                    &weight.narrow(0, g * cout, cout)?,
                    stride,
                    padding,
                    dilation,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        cat(&parts.iter().collect::<Vec<_>>(), 1)?
    };
    if let Some(b) = bias {
        if b.dims() != [wd[0]] {
            return Err(Error::ShapeMismatch {
                what: "conv2d bias".into(),
                expected: vec![wd[0]],
                found: b.dims(),
            });
        }
        y = y.add(&b.reshape(&[1, wd[0], 1, 1])?)?;
    }
    Ok(y)
}

fn conv2d_single(x: &Var, weight: &Var, stride: usize, padding: usize, dilation: usize) -> Result<Var> {
    let (xt, wt) = (x.tensor(), weight.tensor());
    let out = xt.conv2d(&wt, padding, stride, dilation, 1)?;
    if !tracks(&[x, weight]) {
        return Ok(Var::result(out));
    }
    let (xv, wv) = (x.clone(), weight.clone());
    record("ConvolutionBackward0", out, &[x, weight], move |g, needs| {
        let gt = g[0].tensor();
        let (xt, wt) = (xv.tensor(), wv.tensor());
        let sources = [&g[0], &xv, &wv];
        let gx = if needs[0] {
            // The full transposed convolution (no padding), cropped by `padding` on each side;
            // rows the forward never read (up to stride - 1 at the end) get zeros.
            let full = gt.conv_transpose2d(&wt, 0, 0, stride, dilation)?;
            let gx = crop(full, padding, xt.dims()[2], xt.dims()[3])?;
            Some(once_differentiable("Convolution", gx, &sources))
        } else {
            None
        };
        let gw = if needs[1] {
            let (kh, kw) = (wt.dims()[2], wt.dims()[3]);
            let gw = xt
                .transpose(0, 1)?
                .conv2d(&gt.transpose(0, 1)?, padding, dilation, stride, 1)?
                .transpose(0, 1)?;
            let gw = gw.narrow(2, 0, kh)?.narrow(3, 0, kw)?.contiguous()?;
            Some(once_differentiable("Convolution", gw, &sources))
        } else {
            None
        };
        Ok(vec![gx, gw])
    })
}

/// Rows and columns `padding..padding + h` (and `.. + w`) of `t`, zero-padded at the end where
/// `t` is shorter.
fn crop(t: Tensor, padding: usize, h: usize, w: usize) -> Result<Tensor> {
    let mut t = t;
    for (axis, want) in [(2, h), (3, w)] {
        let have = t.dims()[axis];
        let take = have.saturating_sub(padding).min(want);
        t = t.narrow(axis, padding.min(have), take)?;
        if take < want {
            t = t.pad_with_zeros(axis, 0, want - take)?;
        }
    }
    Ok(t)
}
