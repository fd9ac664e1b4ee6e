//! Activation functions and (log-)softmax.

use super::saved_or_recompute;
use crate::error::{Error, Result};
use crate::graph::{record, tracks};
use crate::var::Var;

const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
const GELU_COEF: f64 = 0.044_715;

impl Var {
    /// `max(x, 0)`.
    pub fn relu(&self) -> Result<Var> {
        let t = self.tensor();
        let out = t.relu()?;
        if !tracks(&[self]) {
            return Ok(Var::result(out));
        }
        // sign(relu(x)) is the 0/1 mask of x > 0, without a comparison and a dtype conversion.
        let mask = Var::constant(out.sign()?);
        record("ReluBackward0", out, &[self], move |g, _| Ok(vec![Some(g[0].mul(&mask)?)]))
    }

    /// The logistic sigmoid `1 / (1 + e^-x)`.
    pub fn sigmoid(&self) -> Result<Var> {
        let t = self.tensor();
        let out = t.neg()?.exp()?.affine(1.0, 1.0)?.recip()?;
        if !tracks(&[self]) {
            return Ok(Var::result(out));
        }
        let (x, y) = (self.clone(), out.clone());
        record("SigmoidBackward0", out, &[self], move |g, _| {
            let y = saved_or_recompute(&y, || x.sigmoid())?;
            // s' = s (1 - s)
            Ok(vec![Some(g[0].mul(&y.mul(&y.affine(-1.0, 1.0)?)?)?)])
        })
    }

    /// Hyperbolic tangent.
    pub fn tanh(&self) -> Result<Var> {
        let out = self.tensor().tanh()?;
        if !tracks(&[self]) {
            return Ok(Var::result(out));
        }
        let (x, y) = (self.clone(), out.clone());
        record("TanhBackward0", out, &[self], move |g, _| {
            let y = saved_or_recompute(&y, || x.tanh())?;
            Ok(vec![Some(g[0].mul(&y.sqr()?.affine(-1.0, 1.0)?)?)])
        })
    }

    /// GELU with the exact Gaussian CDF: `x * Phi(x)` (`approximate='none'`).
    pub fn gelu_erf(&self) -> Result<Var> {
        let out = self.tensor().gelu_erf()?;
        if !tracks(&[self]) {
            return Ok(Var::result(out));
        }
        let x = self.clone();
        record("GeluBackward0", out, &[self], move |g, _| {
            // d/dx x Phi(x) = Phi(x) + x phi(x)
            let cdf = x.affine(std::f64::consts::FRAC_1_SQRT_2, 0.0)?.erf()?.affine(0.5, 0.5)?;
            let pdf = x.sqr()?.affine(-0.5, 0.0)?.exp()?.affine(0.398_942_280_401_432_7, 0.0)?;
            Ok(vec![Some(g[0].mul(&cdf.add(&x.mul(&pdf)?)?)?)])
        })
    }

    /// GELU with the tanh approximation (`approximate='tanh'`, GPT-2's "gelu_new").
    pub fn gelu(&self) -> Result<Var> {
        let out = self.tensor().gelu()?;
        if !tracks(&[self]) {
            return Ok(Var::result(out));
        }
        let x = self.clone();
        record("GeluBackward0", out, &[self], move |g, _| {
            // y = 0.5 x (1 + tanh(u)), u = c (x + a x^3)
            // y' = 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) c (1 + 3 a x^2)
            let x2 = x.sqr()?;
            let u = x.mul(&x2.affine(GELU_COEF, 1.0)?)?.affine(SQRT_2_OVER_PI, 0.0)?;
            let th = u.tanh()?;
            let du = x2.affine(3.0 * GELU_COEF * SQRT_2_OVER_PI, SQRT_2_OVER_PI)?;
            let left = th.affine(0.5, 0.5)?;
            let right = x.mul(&th.sqr()?.affine(-0.5, 0.5)?)?.mul(&du)?;
            Ok(vec![Some(g[0].mul(&left.add(&right)?)?)])
        })
    }

    /// `x * sigmoid(1.702 x)` (CLIP's QuickGELU).
    pub fn quick_gelu(&self) -> Result<Var> {
        self.mul(&self.affine(1.702, 0.0)?.sigmoid()?)
    }

    /// `x * sigmoid(x)` (SiLU / swish).
    pub fn silu(&self) -> Result<Var> {
        self.mul(&self.sigmoid()?)
    }

    /// Softmax over `dim` (computed stably, shifted by the maximum).
    pub fn softmax(&self, dim: usize) -> Result<Var> {
        let t = self.tensor();
        if dim >= t.rank() {
            return Err(Error::invalid(
                "softmax",
                format!("dimension {dim} out of range for rank {}", t.rank()),
            ));
        }
        let e = t.broadcast_sub(&t.max_keepdim(dim)?)?.exp()?;
        let out = e.broadcast_div(&e.sum_keepdim(dim)?)?;
        if !tracks(&[self]) {
            return Ok(Var::result(out));
        }
        let (x, y) = (self.clone(), out.clone());
        record("SoftmaxBackward0", out, &[self], move |g, _| {
            let y = saved_or_recompute(&y, || x.softmax(dim))?;
            // dx = y * (g - sum(g * y))
            let inner = g[0].mul(&y)?.sum_keepdim(&[dim])?;
            Ok(vec![Some(y.mul(&g[0].sub(&inner)?)?)])
        })
    }

    /// Log-softmax over `dim`.
    pub fn log_softmax(&self, dim: usize) -> Result<Var> {
        let t = self.tensor();
        if dim >= t.rank() {
            return Err(Error::invalid(
                "log_softmax",
                format!("dimension {dim} out of range for rank {}", t.rank()),
            ));
        }
        let shifted = t.broadcast_sub(&t.max_keepdim(dim)?)?;
        let out = shifted.broadcast_sub(&shifted.exp()?.sum_keepdim(dim)?.log()?)?;
        if !tracks(&[self]) {
            return Ok(Var::result(out));
        }
        let (x, y) = (self.clone(), out.clone());
        record("LogSoftmaxBackward0", out, &[self], move |g, _| {
            let p = if crate::mode::is_grad_enabled() { x.softmax(dim)? } else { Var::constant(y.exp()?) };
            // dx = g - softmax * sum(g)
            Ok(vec![Some(g[0].sub(&p.mul(&g[0].sum_keepdim(&[dim])?)?)?)])
        })
    }
}
