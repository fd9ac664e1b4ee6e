//! `gradcheck`: compares the Jacobian from backward passes with central finite differences, in
//! f64, and reports the worst element.

use std::fmt;

use candle_core::{DType, Tensor};

use crate::engine::{GradOptions, grad};
use crate::error::Result;
use crate::var::Var;

/// Step and tolerances of [`gradcheck`] (PyTorch's defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GradcheckOptions {
    /// Finite-difference step.
    pub eps: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance (of the numerical value).
    pub rtol: f64,
}

impl Default for GradcheckOptions {
    fn default() -> Self {
        GradcheckOptions { eps: 1e-6, atol: 1e-5, rtol: 1e-3 }
    }
}

/// One Jacobian entry: `d output[output_element] / d inputs[input][input_element]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JacobianEntry {
    /// Which input.
    pub input: usize,
    /// Flat index into that input.
    pub input_element: usize,
    /// Flat index into the output.
    pub output_element: usize,
    /// From the backward pass.
    pub analytical: f64,
    /// From central differences.
    pub numerical: f64,
}

/// The outcome of [`gradcheck`].
#[derive(Debug, Clone, PartialEq)]
pub struct GradcheckReport {
    /// Every entry was within `atol + rtol * |numerical|`.
    pub passed: bool,
    /// Number of Jacobian entries compared.
    pub checked: usize,
    /// Largest `|analytical - numerical|`.
    pub max_abs_error: f64,
    /// The entry furthest outside (or closest to) its tolerance.
    pub worst: Option<JacobianEntry>,
}

impl fmt::Display for GradcheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "gradcheck {}: {} entries, max abs error {:.3e}",
            if self.passed { "passed" } else { "FAILED" },
            self.checked,
            self.max_abs_error
        )?;
        if let Some(w) = &self.worst {
            write!(
                f,
                "; worst: d out[{}] / d input{}[{}] analytical {:.6e} numerical {:.6e}",
                w.output_element, w.input, w.input_element, w.analytical, w.numerical
            )?;
        }
        Ok(())
    }
}

fn flat_f64(t: &Tensor) -> Result<Vec<f64>> {
    Ok(t.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?)
}

/// Checks the gradients of `f` at `inputs` (converted to f64) against central finite
/// differences over the full Jacobian. The inputs are passed to `f` as variables that require
/// grad in every evaluation, so `f` may itself differentiate (to check second derivatives). Keep the inputs small: it runs one backward per output
/// element and two forwards per input element.
pub fn gradcheck<F>(f: F, inputs: &[Tensor], options: GradcheckOptions) -> Result<GradcheckReport>
where
    F: Fn(&[Var]) -> Result<Var>,
{
    let inputs: Vec<Tensor> =
        inputs.iter().map(|t| t.to_dtype(DType::F64)).collect::<candle_core::Result<_>>()?;
    let vars: Vec<Var> = inputs.iter().map(|t| Var::parameter(t.clone())).collect();
    let out = f(&vars)?;
    let out_t = out.tensor();
    let n_out = out_t.elem_count();

    // analytical[i][j * n_in_i + k] = d out[j] / d input i [k]
    let mut analytical: Vec<Vec<f64>> = inputs.iter().map(|t| vec![0.0; n_out * t.elem_count()]).collect();
    let options_grad = GradOptions { retain_graph: true, create_graph: false, allow_unused: true };
    for j in 0..n_out {
        let mut one_hot = vec![0.0f64; n_out];
        one_hot[j] = 1.0;
        let seed = Tensor::from_vec(one_hot, out_t.shape().clone(), out_t.device())?;
        if !out.requires_grad() {
            break;
        }
        let grads = grad(std::slice::from_ref(&out), &vars, Some(&[seed]), options_grad)?;
        for (i, g) in grads.iter().enumerate() {
            if let Some(g) = g {
                let values = flat_f64(&g.tensor())?;
                let n_in = values.len();
                analytical[i][j * n_in..(j + 1) * n_in].copy_from_slice(&values);
            }
        }
    }

    let mut report = GradcheckReport { passed: true, checked: 0, max_abs_error: 0.0, worst: None };
    let mut worst_ratio = f64::NEG_INFINITY;
    for (i, input) in inputs.iter().enumerate() {
        let base = flat_f64(input)?;
        let n_in = base.len();
        for k in 0..n_in {
            let eval = |delta: f64| -> Result<Vec<f64>> {
                let mut values = base.clone();
                values[k] += delta;
                let moved = Tensor::from_vec(values, input.shape().clone(), input.device())?;
                let args: Vec<Var> = vars
                    .iter()
                    .enumerate()
                    .map(|(m, v)| Var::parameter(if m == i { moved.clone() } else { v.tensor() }))
                    .collect();
                flat_f64(&f(&args)?.tensor())
            };
            let (plus, minus) = (eval(options.eps)?, eval(-options.eps)?);
            for j in 0..n_out {
                let numerical = (plus[j] - minus[j]) / (2.0 * options.eps);
                let a = analytical[i][j * n_in + k];
                let err = (a - numerical).abs();
                let tol = options.atol + options.rtol * numerical.abs();
                report.checked += 1;
                report.max_abs_error = report.max_abs_error.max(err);
                if err.is_nan() || err > tol {
                    report.passed = false;
                }
                let ratio = if err.is_nan() { f64::INFINITY } else { err / tol };
                if ratio > worst_ratio {
                    worst_ratio = ratio;
                    report.worst = Some(JacobianEntry {
                        input: i,
                        input_element: k,
                        output_element: j,
                        analytical: a,
                        numerical,
                    });
                }
            }
        }
    }
    Ok(report)
}
