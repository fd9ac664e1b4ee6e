//! Learning-rate schedules.

use crate::error::{Error, Result};

/// A learning rate as a function of the step (0-based).
pub trait LrSchedule {
    /// The learning rate for `step`.
    fn lr(&self, step: usize) -> f64;
}

/// Linear warmup from 0 to `base_lr` over `warmup_steps`, then cosine decay to `min_lr` at
/// `total_steps` (Hugging Face's `get_cosine_schedule_with_warmup` when `min_lr` is 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WarmupCosine {
    /// Peak learning rate.
    pub base_lr: f64,
    /// Floor reached at the end.
    pub min_lr: f64,
    /// Steps of linear warmup.
    pub warmup_steps: usize,
    /// Length of the whole schedule.
    pub total_steps: usize,
}

impl WarmupCosine {
    /// A schedule; `warmup_steps` must not exceed `total_steps`.
    pub fn new(base_lr: f64, min_lr: f64, warmup_steps: usize, total_steps: usize) -> Result<WarmupCosine> {
        if warmup_steps > total_steps
            || total_steps == 0
            || min_lr.is_nan()
            || base_lr.is_nan()
            || min_lr > base_lr
            || min_lr < 0.0
        {
            return Err(Error::config(
                "WarmupCosine",
                format!("need 0 <= min_lr <= base_lr and warmup {warmup_steps} <= total {total_steps} (> 0)"),
            ));
        }
        Ok(WarmupCosine { base_lr, min_lr, warmup_steps, total_steps })
    }
}

impl LrSchedule for WarmupCosine {
    fn lr(&self, step: usize) -> f64 {
        if step < self.warmup_steps {
            return self.base_lr * step as f64 / self.warmup_steps.max(1) as f64;
        }
        let span = (self.total_steps - self.warmup_steps).max(1) as f64;
        let progress = ((step - self.warmup_steps) as f64 / span).min(1.0);
        let factor = 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
        self.min_lr + (self.base_lr - self.min_lr) * factor
    }
}

/// The same learning rate at every step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConstantLr(pub f64);

impl LrSchedule for ConstantLr {
    fn lr(&self, _: usize) -> f64 {
        self.0
    }
}
