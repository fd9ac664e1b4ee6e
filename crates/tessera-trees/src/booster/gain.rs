//! XGBoost's regularised leaf weight and gain: the one place the formulas live, used by tree growth.

use super::params::BoosterParams;

/// The regularisation a leaf weight and a split gain depend on (`lambda`, `alpha`, `max_delta_step`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Gain {
    lambda: f64,
    alpha: f64,
    max_delta_step: f64,
}

impl Gain {
    /// The gain of `params` (with its `max_delta_step` already resolved for the objective).
    #[inline]
    pub(crate) fn of(params: &BoosterParams) -> Self {
        Gain { lambda: params.lambda, alpha: params.alpha, max_delta_step: params.max_delta_step }
    }

    /// The optimal weight of a leaf with gradient sum `g` and hessian sum `h`, capped by `max_delta_step`.
    #[inline]
    pub(crate) fn leaf_weight(&self, g: f64, h: f64) -> f64 {
        let mut w = -threshold_l1(g, self.alpha) / (h + self.lambda);
        if self.max_delta_step > 0.0 {
            w = w.clamp(-self.max_delta_step, self.max_delta_step);
        }
        w
    }

    /// The score of a node whose weight is `w` (not necessarily the optimum): XGBoost's
    /// `CalcGainGivenWeight`, used when monotone constraints clamp weights.
    #[inline]
    pub(crate) fn score_given_weight(&self, g: f64, h: f64, w: f64) -> f64 {
        if h <= 0.0 {
            return 0.0;
        }
        -(2.0 * g * w + (h + self.lambda) * w * w)
    }

    /// The score `T(G)^2 / (H + lambda)` a node contributes (XGBoost's gain terms, no 1/2).
    #[inline]
    pub(crate) fn score(&self, g: f64, h: f64) -> f64 {
        let t = threshold_l1(g, self.alpha);
        if self.max_delta_step > 0.0 {
            let w = self.leaf_weight(g, h);
            return -(2.0 * g * w + (h + self.lambda) * w * w) + self.alpha * w.abs();
        }
        t * t / (h + self.lambda)
    }
}

/// XGBoost's soft-threshold of a gradient sum for L1 regularisation.
#[inline]
fn threshold_l1(g: f64, alpha: f64) -> f64 {
    if g > alpha {
        g - alpha
    } else if g < -alpha {
        g + alpha
    } else {
        0.0
    }
}
