//! Elementwise arithmetic (with broadcasting) and elementwise math functions.

use candle_core::Tensor;

use super::{saved_or_recompute, when};
use crate::error::{Error, Result};
use crate::graph::{record, tracks};
use crate::var::Var;

/// The input's shape when it differs from the output's (a broadcast happened), so the gradient
/// is summed back to it.
fn reduce_target(input: &Tensor, out: &Tensor) -> Option<Vec<usize>> {
    (input.dims() != out.dims()).then(|| input.dims().to_vec())
}

fn to_input(g: &Var, target: &Option<Vec<usize>>) -> Result<Var> {
    match target {
        Some(dims) => g.sum_to(dims),
        None => Ok(g.clone()),
    }
}

macro_rules! broadcasting {
    ($a:expr, $b:expr, $same:ident, $bcast:ident) => {
        if $a.dims() == $b.dims() { $a.$same(&$b)? } else { $a.$bcast(&$b)? }
    };
}

impl Var {
    /// `self + rhs`, broadcasting as numpy does.
    pub fn add(&self, rhs: &Var) -> Result<Var> {
        let (a, b) = (self.tensor(), rhs.tensor());
        let out = broadcasting!(a, b, add, broadcast_add);
        if !tracks(&[self, rhs]) {
            return Ok(Var::result(out));
        }
        let (ta, tb) = (reduce_target(&a, &out), reduce_target(&b, &out));
        record("AddBackward0", out, &[self, rhs], move |g, needs| {
            Ok(vec![when(needs[0], || to_input(&g[0], &ta))?, when(needs[1], || to_input(&g[0], &tb))?])
        })
    }

    /// `self - rhs`, broadcasting.
    pub fn sub(&self, rhs: &Var) -> Result<Var> {
        let (a, b) = (self.tensor(), rhs.tensor());
        let out = broadcasting!(a, b, sub, broadcast_sub);
        if !tracks(&[self, rhs]) {
            return Ok(Var::result(out));
        }
        let (ta, tb) = (reduce_target(&a, &out), reduce_target(&b, &out));
        record("SubBackward0", out, &[self, rhs], move |g, needs| {
            Ok(vec![
                when(needs[0], || to_input(&g[0], &ta))?,
                when(needs[1], || to_input(&g[0].neg()?, &tb))?,
            ])
        })
    }

    /// `self * rhs` elementwise, broadcasting.
    pub fn mul(&self, rhs: &Var) -> Result<Var> {
        let (a, b) = (self.tensor(), rhs.tensor());
        let out = broadcasting!(a, b, mul, broadcast_mul);
        if !tracks(&[self, rhs]) {
            return Ok(Var::result(out));
        }
        let (ta, tb) = (reduce_target(&a, &out), reduce_target(&b, &out));
        let (x, y) = (self.clone(), rhs.clone());
        record("MulBackward0", out, &[self, rhs], move |g, needs| {
            Ok(vec![
                when(needs[0], || to_input(&g[0].mul(&y)?, &ta))?,
                when(needs[1], || to_input(&g[0].mul(&x)?, &tb))?,
            ])
        })
    }

    /// `self / rhs` elementwise, broadcasting.
    pub fn div(&self, rhs: &Var) -> Result<Var> {
        let (a, b) = (self.tensor(), rhs.tensor());
        let out = broadcasting!(a, b, div, broadcast_div);
        if !tracks(&[self, rhs]) {
            return Ok(Var::result(out));
        }
        let (ta, tb) = (reduce_target(&a, &out), reduce_target(&b, &out));
        let (x, y) = (self.clone(), rhs.clone());
        record("DivBackward0", out, &[self, rhs], move |g, needs| {
            Ok(vec![
                when(needs[0], || to_input(&g[0].div(&y)?, &ta))?,
                when(needs[1], || to_input(&g[0].mul(&x)?.div(&y.sqr()?)?.neg()?, &tb))?,
            ])
        })
    }

    /// `self * mul + add` with scalars.
    pub fn affine(&self, mul: f64, add: f64) -> Result<Var> {
        let out = self.tensor().affine(mul, add)?;
        if !tracks(&[self]) {
            return Ok(Var::result(out));
        }
        record("AffineBackward0", out, &[self], move |g, _| Ok(vec![Some(g[0].affine(mul, 0.0)?)]))
    }

    /// `self + s`.
    pub fn add_scalar(&self, s: f64) -> Result<Var> {
        self.affine(1.0, s)
    }

    /// `self * s`.
    pub fn mul_scalar(&self, s: f64) -> Result<Var> {
        self.affine(s, 0.0)
    }

    /// `-self`.
    pub fn neg(&self) -> Result<Var> {
        self.affine(-1.0, 0.0)
    }

    /// `self * self`.
    pub fn sqr(&self) -> Result<Var> {
        let out = self.tensor().sqr()?;
        if !tracks(&[self]) {
            return Ok(Var::result(out));
        }
        let x = self.clone();
        record("PowBackward0", out, &[self], move |g, _| Ok(vec![Some(g[0].mul(&x)?.affine(2.0, 0.0)?)]))
    }

    /// `self ^ e` for a scalar exponent.
    pub fn powf(&self, e: f64) -> Result<Var> {
        if e == 2.0 {
            return self.sqr();
        }
        let out = self.tensor().powf(e)?;
        if !tracks(&[self]) {
            return Ok(Var::result(out));
        }
        let x = self.clone();
        record("PowBackward0", out, &[self], move |g, _| {
            let d = if e == 1.0 { x.ones_like()? } else { x.powf(e - 1.0)?.affine(e, 0.0)? };
            Ok(vec![Some(g[0].mul(&d)?)])
        })
    }

    /// `self ^ rhs` elementwise, broadcasting (the base must be positive where `rhs` is not an
    /// integer, as for real powers).
    pub fn pow(&self, rhs: &Var) -> Result<Var> {
        // x^y = exp(y ln x): composed, so both gradients and their derivatives follow.
        self.log()?.mul(rhs)?.exp()
    }

    /// `e ^ self`.
    pub fn exp(&self) -> Result<Var> {
        let out = self.tensor().exp()?;
        if !tracks(&[self]) {
            return Ok(Var::result(out));
        }
        let (x, y) = (self.clone(), out.clone());
        record("ExpBackward0", out, &[self], move |g, _| {
            let y = saved_or_recompute(&y, || x.exp())?;
            Ok(vec![Some(g[0].mul(&y)?)])
        })
    }

    /// Natural logarithm.
    pub fn log(&self) -> Result<Var> {
        let out = self.tensor().log()?;
        if !tracks(&[self]) {
            return Ok(Var::result(out));
        }
        let x = self.clone();
        record("LogBackward0", out, &[self], move |g, _| Ok(vec![Some(g[0].div(&x)?)]))
    }

    /// Square root.
    pub fn sqrt(&self) -> Result<Var> {
        let out = self.tensor().sqrt()?;
        if !tracks(&[self]) {
            return Ok(Var::result(out));
        }
        let (x, y) = (self.clone(), out.clone());
        record("SqrtBackward0", out, &[self], move |g, _| {
            let y = saved_or_recompute(&y, || x.sqrt())?;
            Ok(vec![Some(g[0].div(&y)?.affine(0.5, 0.0)?)])
        })
    }

    /// `1 / self`.
    pub fn recip(&self) -> Result<Var> {
        let out = self.tensor().recip()?;
        if !tracks(&[self]) {
            return Ok(Var::result(out));
        }
        let x = self.clone();
        record("ReciprocalBackward0", out, &[self], move |g, _| Ok(vec![Some(g[0].div(&x.sqr()?)?.neg()?)]))
    }

    /// Absolute value (gradient `sign(x)`, zero at zero as in PyTorch).
    pub fn abs(&self) -> Result<Var> {
        let t = self.tensor();
        let out = t.abs()?;
        if !tracks(&[self]) {
            return Ok(Var::result(out));
        }
        let sign = Var::constant(t.sign()?);
        record("AbsBackward0", out, &[self], move |g, _| Ok(vec![Some(g[0].mul(&sign)?)]))
    }

    /// Clamps into `[min, max]`; the gradient passes where the input is inside the interval
    /// (bounds included, as in PyTorch).
    pub fn clamp(&self, min: f64, max: f64) -> Result<Var> {
        if min > max || min.is_nan() || max.is_nan() {
            return Err(Error::invalid("clamp", format!("min ({min}) must not exceed max ({max})")));
        }
        let t = self.tensor();
        let out = t.clamp(min, max)?;
        if !tracks(&[self]) {
            return Ok(Var::result(out));
        }
        let inside = t.ge(min)?.mul(&t.le(max)?)?.to_dtype(t.dtype())?;
        let mask = Var::constant(inside);
        record("ClampBackward1", out, &[self], move |g, _| Ok(vec![Some(g[0].mul(&mask)?)]))
    }

    /// The Gauss error function.
    pub fn erf(&self) -> Result<Var> {
        let out = self.tensor().erf()?;
        if !tracks(&[self]) {
            return Ok(Var::result(out));
        }
        let x = self.clone();
        record("ErfBackward0", out, &[self], move |g, _| {
            // d/dx erf(x) = 2/sqrt(pi) exp(-x^2)
            let d = x.sqr()?.neg()?.exp()?.affine(std::f64::consts::FRAC_2_SQRT_PI, 0.0)?;
            Ok(vec![Some(g[0].mul(&d)?)])
        })
    }

    /// A variable of zeros shaped like this one (not recorded).
    pub fn zeros_like(&self) -> Result<Var> {
        Ok(Var::result(self.tensor().zeros_like()?))
    }

    /// A variable of ones shaped like this one (not recorded).
    pub fn ones_like(&self) -> Result<Var> {
        Ok(Var::result(self.tensor().ones_like()?))
    }
}
