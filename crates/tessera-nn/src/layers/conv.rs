//! `Conv2d`.

use tessera_autograd::{Conv2dOptions, Var, conv2d};
use tessera_tensor::SeededRng;

use crate::error::{Error, Result};
use crate::init;
use crate::module::{Module, join};

/// A 2-D convolution with weight `(out, in / groups, k, k)` and bias `(out)`, initialised as
/// PyTorch does (`torch.nn.Conv2d` with a square kernel).
#[derive(Debug, Clone)]
pub struct Conv2d {
    /// Kernel, `(out_channels, in_channels / groups, k, k)`.
    pub weight: Var,
    /// Bias, `(out_channels)`.
    pub bias: Option<Var>,
    /// Stride, padding, dilation, groups.
    pub options: Conv2dOptions,
}

impl Conv2d {
    /// A new convolution.
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel_size: usize,
        options: Conv2dOptions,
        bias: bool,
        rng: &mut SeededRng,
    ) -> Result<Conv2d> {
        let g = options.groups;
        if g == 0 || !in_channels.is_multiple_of(g) || !out_channels.is_multiple_of(g) || kernel_size == 0 {
            return Err(Error::config(
                "Conv2d",
                format!(
                    "{in_channels} -> {out_channels} channels, kernel {kernel_size}, groups {g}: channels must divide by groups"
                ),
            ));
        }
        let fan_in = in_channels / g * kernel_size * kernel_size;
        let weight = Var::parameter(init::kaiming_uniform(
            &[out_channels, in_channels / g, kernel_size, kernel_size],
            fan_in,
            rng,
        )?);
        let bias = if bias {
            Some(Var::parameter(init::uniform(&[out_channels], 1.0 / (fan_in as f64).sqrt(), rng)?))
        } else {
            None
        };
        Ok(Conv2d { weight, bias, options })
    }
}

impl Module for Conv2d {
    fn forward(&self, x: &Var) -> Result<Var> {
        Ok(conv2d(x, &self.weight, self.bias.as_ref(), self.options)?)
    }

    fn visit_parameters(&self, prefix: &str, f: &mut dyn FnMut(String, &Var)) {
        f(join(prefix, "weight"), &self.weight);
        if let Some(b) = &self.bias {
            f(join(prefix, "bias"), b);
        }
    }
}
