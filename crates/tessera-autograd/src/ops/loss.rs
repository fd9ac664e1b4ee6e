//! Loss functions, each reduced to the mean as PyTorch's defaults do.

use candle_core::{DType, Tensor};

use crate::error::{Error, Result};
use crate::graph::{record, tracks};
use crate::var::Var;

/// Cross entropy of `logits` `(batch, classes)` against integer class `targets` `(batch)`,
/// with label smoothing `epsilon` (PyTorch's `F.cross_entropy(..., label_smoothing=epsilon)`,
/// mean reduction).
pub fn cross_entropy(logits: &Var, targets: &Tensor, label_smoothing: f64) -> Result<Var> {
    let ld = logits.dims();
    if ld.len() != 2 {
        return Err(Error::invalid(
            "cross_entropy",
            format!("logits must be (batch, classes), found {ld:?}"),
        ));
    }
    if targets.dims() != [ld[0]] {
        return Err(Error::ShapeMismatch {
            what: "cross_entropy targets (one class index per row)".into(),
            expected: vec![ld[0]],
            found: targets.dims().to_vec(),
        });
    }
    if !(0.0..=1.0).contains(&label_smoothing) {
        return Err(Error::invalid(
            "cross_entropy",
            format!("label_smoothing must be in [0, 1], found {label_smoothing}"),
        ));
    }
    let classes = match targets.dtype() {
        DType::U32 | DType::U8 => targets.to_dtype(DType::U32)?,
        DType::I64 => {
            let min = targets.min(0)?.to_scalar::<i64>()?;
            if min < 0 {
                return Err(Error::invalid("cross_entropy", format!("target {min} is negative")));
            }
            targets.to_dtype(DType::U32)?
        }
        other => {
            return Err(Error::invalid(
                "cross_entropy",
                format!("targets must be integer class indices, found {other:?}"),
            ));
        }
    };
    if ld[0] > 0 {
        let max = classes.max(0)?.to_scalar::<u32>()? as usize;
        if max >= ld[1] {
            return Err(Error::invalid(
                "cross_entropy",
                format!("target {max} out of range for {} classes", ld[1]),
            ));
        }
    }
    let log_p = logits.log_softmax(1)?;
    let nll = log_p.gather(&classes.unsqueeze(1)?, 1)?.mean_all()?.neg()?;
    if label_smoothing == 0.0 {
        return Ok(nll);
    }
    // The smoothed target puts epsilon / C on every class: its loss term is -mean(log p).
    let smooth = log_p.mean_all()?.neg()?;
    nll.affine(1.0 - label_smoothing, 0.0)?.add(&smooth.affine(label_smoothing, 0.0)?)
}

/// Mean squared error between equally shaped `input` and `target`.
pub fn mse_loss(input: &Var, target: &Var) -> Result<Var> {
    if input.dims() != target.dims() {
        return Err(Error::ShapeMismatch {
            what: "mse_loss target".into(),
            expected: input.dims(),
            found: target.dims(),
        });
    }
    input.sub(target)?.sqr()?.mean_all()
}

/// Binary cross entropy on logits, `mean(max(x, 0) - x y + log(1 + e^-|x|))`, computed stably;
/// the gradient is `(sigmoid(x) - y) / n` (also at `x = 0`).
pub fn binary_cross_entropy_with_logits(logits: &Var, targets: &Var) -> Result<Var> {
    if logits.dims() != targets.dims() {
        return Err(Error::ShapeMismatch {
            what: "binary_cross_entropy_with_logits target".into(),
            expected: logits.dims(),
            found: targets.dims(),
        });
    }
    let (x, y) = (logits.tensor(), targets.tensor());
    let n = x.elem_count() as f64;
    let soft = x.abs()?.neg()?.exp()?.affine(1.0, 1.0)?.log()?;
    let out = x.relu()?.sub(&x.mul(&y)?)?.add(&soft)?.mean_all()?;
    if !tracks(&[logits, targets]) {
        return Ok(Var::result(out));
    }
    let (xv, yv) = (logits.clone(), targets.clone());
    record("BinaryCrossEntropyWithLogitsBackward0", out, &[logits, targets], move |g, needs| {
        let scale = g[0].affine(1.0 / n, 0.0)?;
        let gx = if needs[0] { Some(xv.sigmoid()?.sub(&yv)?.mul(&scale)?) } else { None };
        let gy = if needs[1] { Some(xv.neg()?.mul(&scale)?) } else { None };
        Ok(vec![gx, gy])
    })
}
