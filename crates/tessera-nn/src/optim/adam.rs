//! Adam and AdamW (decoupled weight decay).

use std::path::Path;

use tessera_autograd::Var;

use super::kernel::{Update, step_param};
use super::{Optimizer, Slot, check_lr, load_slots, save_slots, slots};
use crate::error::{Error, Result};

/// Hyper-parameters of [`Adam`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    /// Learning rate.
    pub lr: f64,
    /// Decay rates of the first and second moment estimates.
    pub betas: (f64, f64),
    /// Added to the denominator.
    pub eps: f64,
    /// Weight decay: an L2 term in the gradient (Adam) or a decoupled shrink of the weights
    /// (AdamW).
    pub weight_decay: f64,
    /// AdamW's decoupled weight decay (Loshchilov & Hutter).
    pub decoupled_weight_decay: bool,
}

impl AdamConfig {
    /// `torch.optim.Adam` defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, no weight decay.
    pub fn adam() -> AdamConfig {
        AdamConfig {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled_weight_decay: false,
        }
    }

    /// `torch.optim.AdamW` defaults: as Adam with decoupled weight decay 1e-2.
    pub fn adamw() -> AdamConfig {
        AdamConfig { weight_decay: 1e-2, decoupled_weight_decay: true, ..AdamConfig::adam() }
    }

    /// The same with another learning rate.
    pub fn with_lr(self, lr: f64) -> AdamConfig {
        AdamConfig { lr, ..self }
    }
}

/// `torch.optim.Adam` / `torch.optim.AdamW` (without amsgrad).
pub struct Adam {
    config: AdamConfig,
    slots: Vec<Slot>,
}

struct AdamUpdate {
    b1: f32,
    b2: f32,
    eps: f32,
    /// Multiplies the weights first (AdamW): `1 - lr * weight_decay`.
    shrink: f32,
    /// Added to the gradient (Adam's L2 term).
    l2: f32,
    step_size: f32,
    inv_sqrt_bc2: f32,
}

impl Update<2> for AdamUpdate {
    #[inline(always)]
    fn apply(&self, p: &mut [f32], g: &[f32], [m, v]: [&mut [f32]; 2]) {
        for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
            let w = *p * self.shrink;
            let d = g + self.l2 * *p;
            *m += (1.0 - self.b1) * (d - *m);
            *v = self.b2 * *v + (1.0 - self.b2) * d * d;
            let denom = v.sqrt() * self.inv_sqrt_bc2 + self.eps;
            *p = w - self.step_size * *m / denom;
        }
    }
}

impl Adam {
    /// An optimizer over named parameters (names key the saved state).
    pub fn new(params: Vec<(String, Var)>, config: AdamConfig) -> Result<Adam> {
        check_lr("Adam", config.lr)?;
        let (b1, b2) = config.betas;
        if !(0.0..1.0).contains(&b1) || !(0.0..1.0).contains(&b2) {
            return Err(Error::config("Adam", format!("betas must be in [0, 1), found ({b1}, {b2})")));
        }
        if config.eps.is_nan()
            || config.eps < 0.0
            || config.weight_decay.is_nan()
            || config.weight_decay < 0.0
        {
            return Err(Error::config("Adam", "eps and weight_decay must be >= 0"));
        }
        Ok(Adam { config, slots: slots(params)? })
    }

    fn kind(&self) -> &'static str {
        if self.config.decoupled_weight_decay { "AdamW" } else { "Adam" }
    }
}

impl Optimizer for Adam {
    fn step(&mut self) -> Result<()> {
        let c = self.config;
        for s in &mut self.slots {
            let Some(grad) = s.var.grad() else { continue };
            if s.buffers.is_empty() {
                let n = s.var.elem_count();
                s.buffers = vec![vec![0.0; n], vec![0.0; n]];
            }
            s.steps += 1;
            let t = s.steps as i32;
            let bc1 = 1.0 - c.betas.0.powi(t);
            let bc2 = 1.0 - c.betas.1.powi(t);
            let (shrink, l2) = if c.decoupled_weight_decay {
                (1.0 - c.lr * c.weight_decay, 0.0)
            } else {
                (1.0, c.weight_decay)
            };
            let update = AdamUpdate {
                b1: c.betas.0 as f32,
                b2: c.betas.1 as f32,
                eps: c.eps as f32,
                shrink: shrink as f32,
                l2: l2 as f32,
                step_size: (c.lr / bc1) as f32,
                inv_sqrt_bc2: (1.0 / bc2.sqrt()) as f32,
            };
            let [m, v] = &mut s.buffers[..] else {
                return Err(Error::config("Adam", "state buffers missing"));
            };
            step_param(&s.var, &grad, [m, v], &update)?;
        }
        Ok(())
    }

    fn zero_grad(&self) {
        self.slots.iter().for_each(|s| s.var.zero_grad());
    }

    fn learning_rate(&self) -> f64 {
        self.config.lr
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.config.lr = lr;
    }

    fn save_state(&self, path: &Path) -> Result<()> {
        save_slots(path, self.kind(), &["exp_avg", "exp_avg_sq"], &self.slots)
    }

    fn load_state(&mut self, path: &Path) -> Result<()> {
        let kind = self.kind();
        load_slots(path, kind, &["exp_avg", "exp_avg_sq"], &mut self.slots)
    }
}
