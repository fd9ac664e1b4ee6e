//! Linear meta-learners for stacking, implemented here: L2-regularized logistic regression (binomial or
//! multinomial, solved with L-BFGS) and ridge regression (solved exactly with a Cholesky factorization).
//! Both match scikit-learn's objectives (`LogisticRegression(C)`, `Ridge(alpha)`).

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::check;
use crate::data::{ClassLabels, check_fit_input};
use crate::error::{Error, Result};
use crate::error::{finite_predictions, model_agrees, model_finite};
use crate::estimator::{Estimator, Model, check_predict};

fn reject_missing(x: ArrayView2<'_, f32>) -> Result<()> {
    if let Some(i) = x.iter().position(|v| v.is_nan()) {
        return Err(Error::Data(format!(
            "linear models need complete data; X[{}, {}] is missing (NaN)",
            i / x.ncols(),
            i % x.ncols()
        )));
    }
    Ok(())
}

/// Logistic regression with an L2 penalty: minimizes `sum_i w_i * log_loss_i + ||W||^2 / (2C)` (the
/// intercept is not penalized), binomial for two classes and multinomial (softmax) otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticRegression {
    /// Inverse regularization strength.
    pub c: f64,
    /// Maximum L-BFGS iterations.
    pub max_iter: usize,
    /// Stop when the largest gradient entry of the sample-averaged objective is below this.
    pub tol: f64,
}

impl Default for LogisticRegression {
    fn default() -> Self {
        LogisticRegression { c: 1.0, max_iter: 100, tol: 1e-4 }
    }
}

/// A fitted logistic regression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedLogistic {
    /// Coefficients, one row per output (1 for two classes, K otherwise), `n_features` columns.
    pub coef: Array2<f64>,
    /// Intercepts, one per output.
    pub intercept: Array1<f64>,
    /// The class labels.
    pub labels: ClassLabels,
    /// L-BFGS iterations used.
    pub n_iter: usize,
}

/// The objective and its gradient at parameters `theta` (`outputs x (d + 1)`, intercept last).
fn logistic_objective(
    theta: &[f64],
    x: &Array2<f64>,
    y: &[usize],
    w: &[f64],
    outputs: usize,
    inv_c: f64,
    grad: &mut [f64],
) -> f64 {
    let (n, d) = x.dim();
    let sw: f64 = w.iter().sum();
    grad.iter_mut().for_each(|g| *g = 0.0);
    let mut loss = 0.0;
    let mut z = vec![0.0; outputs];
    for i in 0..n {
        let row = x.row(i);
        for (o, zo) in z.iter_mut().enumerate() {
            let p = &theta[o * (d + 1)..(o + 1) * (d + 1)];
            *zo = p[d] + row.iter().zip(p).map(|(a, b)| a * b).sum::<f64>();
        }
        let wi = w[i];
        if outputs == 1 {
            // Binomial: class 1 has logit z.
            let t = if y[i] == 1 { 1.0 } else { 0.0 };
            let zz = z[0];
            loss += wi * (zz.max(0.0) - zz * t + (-zz.abs()).exp().ln_1p());
            let g = wi * (1.0 / (1.0 + (-zz).exp()) - t);
            for j in 0..d {
                grad[j] += g * row[j];
            }
            grad[d] += g;
        } else {
            let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let sum: f64 = z.iter().map(|v| (v - max).exp()).sum();
            let lse = max + sum.ln();
            loss += wi * (lse - z[y[i]]);
            for o in 0..outputs {
                let p = (z[o] - lse).exp() - if o == y[i] { 1.0 } else { 0.0 };
                let g = &mut grad[o * (d + 1)..(o + 1) * (d + 1)];
                for j in 0..d {
                    g[j] += wi * p * row[j];
                }
                g[d] += wi * p;
            }
        }
    }
    // Penalty on coefficients only, then average over the sample weight (scikit-learn's scaling).
    for o in 0..outputs {
        for j in 0..d {
            let t = theta[o * (d + 1) + j];
            loss += 0.5 * inv_c * t * t;
            grad[o * (d + 1) + j] += inv_c * t;
        }
    }
    grad.iter_mut().for_each(|g| *g /= sw);
    loss / sw
}

/// Minimizes `f` with L-BFGS (10 corrections, backtracking Armijo line search). Returns iterations used.
fn lbfgs(
    theta: &mut [f64],
    max_iter: usize,
    tol: f64,
    mut f: impl FnMut(&[f64], &mut [f64]) -> f64,
) -> usize {
    let n = theta.len();
    let m = 10;
    let mut grad = vec![0.0; n];
    let mut value = f(theta, &mut grad);
    let (mut s_hist, mut y_hist): (Vec<Vec<f64>>, Vec<Vec<f64>>) = (Vec::new(), Vec::new());
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    for iter in 0..max_iter {
        if grad.iter().fold(0.0f64, |a, g| a.max(g.abs())) <= tol {
            return iter;
        }
        // Two-loop recursion for the search direction.
        let mut q = grad.clone();
        let mut alphas = vec![0.0; s_hist.len()];
        for k in (0..s_hist.len()).rev() {
            let rho = 1.0 / dot(&y_hist[k], &s_hist[k]);
            alphas[k] = rho * dot(&s_hist[k], &q);
            for (qi, yi) in q.iter_mut().zip(&y_hist[k]) {
                *qi -= alphas[k] * yi;
            }
        }
        if let (Some(s), Some(y)) = (s_hist.last(), y_hist.last()) {
            let gamma = dot(s, y) / dot(y, y);
            q.iter_mut().for_each(|v| *v *= gamma);
        }
        for k in 0..s_hist.len() {
            let rho = 1.0 / dot(&y_hist[k], &s_hist[k]);
            let beta = rho * dot(&y_hist[k], &q);
            for (qi, si) in q.iter_mut().zip(&s_hist[k]) {
                *qi += (alphas[k] - beta) * si;
            }
        }
        let dir: Vec<f64> = q.iter().map(|v| -v).collect();
        let slope = dot(&dir, &grad);
        let dir = if slope < 0.0 { dir } else { grad.iter().map(|g| -g).collect() };
        let slope = dot(&dir, &grad);
        let mut step = 1.0;
        let mut new_theta = vec![0.0; n];
        let mut new_grad = vec![0.0; n];
        let mut new_value;
        loop {
            for i in 0..n {
                new_theta[i] = theta[i] + step * dir[i];
            }
            new_value = f(&new_theta, &mut new_grad);
            if new_value <= value + 1e-4 * step * slope || step < 1e-12 {
                break;
            }
            step *= 0.5;
        }
        let s: Vec<f64> = (0..n).map(|i| new_theta[i] - theta[i]).collect();
        let yv: Vec<f64> = (0..n).map(|i| new_grad[i] - grad[i]).collect();
        if dot(&s, &yv) > 1e-12 {
            s_hist.push(s);
            y_hist.push(yv);
            if s_hist.len() > m {
                s_hist.remove(0);
                y_hist.remove(0);
            }
        }
        theta.copy_from_slice(&new_theta);
        grad.copy_from_slice(&new_grad);
        if (value - new_value).abs() <= f64::EPSILON * value.abs().max(1.0) {
            return iter + 1;
        }
        value = new_value;
    }
    max_iter
}

impl Estimator for LogisticRegression {
    type Model = FittedLogistic;

    fn fit_weighted(
        &self,
        x: ArrayView2<'_, f32>,
        y: ArrayView1<'_, f32>,
        w: Option<ArrayView1<'_, f32>>,
    ) -> Result<FittedLogistic> {
        check::positive("c", self.c)?;
        check::at_least("max_iter", self.max_iter, 1)?;
        let weights = check_fit_input(x, y, w)?;
        reject_missing(x)?;
        let (labels, enc) = ClassLabels::fit(y)?;
        let k = labels.len();
        let outputs = if k == 2 { 1 } else { k };
        let d = x.ncols();
        let xf = x.mapv(f64::from);
        let yi: Vec<usize> = enc.iter().map(|&c| c as usize).collect();
        let wf: Vec<f64> = weights.iter().map(|&v| f64::from(v)).collect();
        let mut theta = vec![0.0; outputs * (d + 1)];
        let inv_c = 1.0 / self.c;
        let n_iter = lbfgs(&mut theta, self.max_iter, self.tol, |t, g| {
            logistic_objective(t, &xf, &yi, &wf, outputs, inv_c, g)
        });
        let coef = Array2::from_shape_fn((outputs, d), |(o, j)| theta[o * (d + 1) + j]);
        let intercept = (0..outputs).map(|o| theta[o * (d + 1) + d]).collect();
        Ok(FittedLogistic { coef, intercept, labels, n_iter })
    }

    fn with_seed(&self, _seed: u64) -> Self {
        self.clone()
    }
}

impl Model for FittedLogistic {
    fn validate(&self) -> Result<()> {
        self.labels.validate("labels", None)?;
        let outputs = if self.labels.len() == 2 { 1 } else { self.labels.len() };
        model_agrees("coef", self.coef.nrows(), outputs, "rows: 1 for two classes, else one per class")?;
        model_agrees("intercept", self.intercept.len(), outputs, "one per output")?;
        model_finite("coef", self.coef.iter().copied())?;
        model_finite("intercept", self.intercept.iter().copied())
    }

    fn predict(&self, x: ArrayView2<'_, f32>) -> Result<Array1<f32>> {
        let p = self.predict_proba(x)?;
        Ok(p.outer_iter()
            .map(|r| self.labels.classes[crate::stats::argmax(r.as_slice().unwrap_or(&[]))])
            .collect())
    }

    fn n_features(&self) -> usize {
        self.coef.ncols()
    }

    fn classes(&self) -> Option<&[f32]> {
        Some(&self.labels.classes)
    }

    fn predict_proba(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        check_predict(self, x)?;
        reject_missing(x)?;
        let z = x.mapv(f64::from).dot(&self.coef.t()) + &self.intercept;
        finite_predictions(z.iter().copied(), z.ncols())?;
        let k = self.labels.len();
        let mut out = Array2::<f32>::zeros((x.nrows(), k));
        for (i, zr) in z.outer_iter().enumerate() {
            if k == 2 {
                let p1 = 1.0 / (1.0 + (-zr[0]).exp());
                out[[i, 0]] = (1.0 - p1) as f32;
                out[[i, 1]] = p1 as f32;
            } else {
                let max = zr.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let e: Vec<f64> = zr.iter().map(|v| (v - max).exp()).collect();
                let s: f64 = e.iter().sum();
                for (j, v) in e.iter().enumerate() {
                    out[[i, j]] = (v / s) as f32;
                }
            }
        }
        Ok(out)
    }
}

/// Ridge regression: minimizes `sum_i w_i (y_i - x_i b - c)^2 + alpha ||b||^2`, solved exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ridge {
    /// Regularization strength.
    pub alpha: f64,
}

impl Default for Ridge {
    fn default() -> Self {
        Ridge { alpha: 1.0 }
    }
}

/// A fitted ridge regression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedRidge {
    /// Coefficients.
    pub coef: Array1<f64>,
    /// Intercept.
    pub intercept: f64,
}

impl Estimator for Ridge {
    type Model = FittedRidge;

    fn fit_weighted(
        &self,
        x: ArrayView2<'_, f32>,
        y: ArrayView1<'_, f32>,
        w: Option<ArrayView1<'_, f32>>,
    ) -> Result<FittedRidge> {
        check::non_negative("alpha", self.alpha)?;
        let weights = check_fit_input(x, y, w)?;
        reject_missing(x)?;
        let (n, d) = x.dim();
        let w: Vec<f64> = weights.iter().map(|&v| f64::from(v)).collect();
        let sw: f64 = w.iter().sum();
        let xf = x.mapv(f64::from);
        let x_mean: Array1<f64> =
            (0..d).map(|j| (0..n).map(|i| w[i] * xf[[i, j]]).sum::<f64>() / sw).collect();
        let y_mean = (0..n).map(|i| w[i] * f64::from(y[i])).sum::<f64>() / sw;
        let mut gram = Array2::<f64>::zeros((d, d));
        let mut rhs = Array1::<f64>::zeros(d);
        for i in 0..n {
            let xc: Vec<f64> = (0..d).map(|j| xf[[i, j]] - x_mean[j]).collect();
            let yc = f64::from(y[i]) - y_mean;
            for a in 0..d {
                rhs[a] += w[i] * xc[a] * yc;
                for b in 0..=a {
                    gram[[a, b]] += w[i] * xc[a] * xc[b];
                }
            }
        }
        for a in 0..d {
            for b in 0..a {
                gram[[b, a]] = gram[[a, b]];
            }
            gram[[a, a]] += self.alpha;
        }
        let coef = cholesky_solve(gram, rhs)
            .ok_or_else(|| Error::Data("the ridge system is singular; use alpha > 0".into()))?;
        let intercept = y_mean - x_mean.dot(&coef);
        Ok(FittedRidge { coef, intercept })
    }

    fn with_seed(&self, _seed: u64) -> Self {
        self.clone()
    }
}

/// Solves `a x = b` for symmetric positive definite `a`.
fn cholesky_solve(mut a: Array2<f64>, mut b: Array1<f64>) -> Option<Array1<f64>> {
    let n = b.len();
    for j in 0..n {
        let mut diag = a[[j, j]];
        for k in 0..j {
            diag -= a[[j, k]] * a[[j, k]];
        }
        if diag <= 1e-300 {
            return None;
        }
        let l = diag.sqrt();
        a[[j, j]] = l;
        for i in j + 1..n {
            let mut v = a[[i, j]];
            for k in 0..j {
                v -= a[[i, k]] * a[[j, k]];
            }
            a[[i, j]] = v / l;
        }
    }
    for i in 0..n {
        let mut v = b[i];
        for k in 0..i {
            v -= a[[i, k]] * b[k];
        }
        b[i] = v / a[[i, i]];
    }
    for i in (0..n).rev() {
        let mut v = b[i];
        for k in i + 1..n {
            v -= a[[k, i]] * b[k];
        }
        b[i] = v / a[[i, i]];
    }
    Some(b)
}

impl Model for FittedRidge {
    fn validate(&self) -> Result<()> {
        model_finite("coef", self.coef.iter().copied())?;
        model_finite("intercept", [self.intercept])
    }

    fn predict(&self, x: ArrayView2<'_, f32>) -> Result<Array1<f32>> {
        check_predict(self, x)?;
        reject_missing(x)?;
        let raw = x.mapv(f64::from).dot(&self.coef) + self.intercept;
        finite_predictions(raw.iter().copied(), 1)?;
        Ok(raw.mapv(|v| v as f32))
    }

    fn n_features(&self) -> usize {
        self.coef.len()
    }

    fn classes(&self) -> Option<&[f32]> {
        None
    }
}
