//! Stochastic gradient descent with momentum, dampening, Nesterov and weight decay.

use std::path::Path;

use tessera_autograd::Var;

use super::kernel::{Update, step_param};
use super::{Optimizer, Slot, check_lr, load_slots, save_slots, slots};
use crate::error::{Error, Result};

/// Hyper-parameters of [`Sgd`] (PyTorch's names and defaults, except `lr` which PyTorch requires).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdConfig {
    /// Learning rate.
    pub lr: f64,
    /// Momentum factor (0 disables the buffer).
    pub momentum: f64,
    /// Dampening of the momentum's gradient term.
    pub dampening: f64,
    /// L2 penalty added to the gradient.
    pub weight_decay: f64,
    /// Nesterov momentum (needs momentum > 0 and dampening 0).
    pub nesterov: bool,
}

impl Default for SgdConfig {
    fn default() -> Self {
        SgdConfig { lr: 1e-2, momentum: 0.0, dampening: 0.0, weight_decay: 0.0, nesterov: false }
    }
}

/// `torch.optim.SGD`.
pub struct Sgd {
    config: SgdConfig,
    slots: Vec<Slot>,
}

struct Plain {
    lr: f32,
    wd: f32,
}

impl Update<0> for Plain {
    #[inline(always)]
    fn apply(&self, p: &mut [f32], g: &[f32], _: [&mut [f32]; 0]) {
        for (p, &g) in p.iter_mut().zip(g) {
            *p -= self.lr * (g + self.wd * *p);
        }
    }
}

struct Momentum {
    lr: f32,
    wd: f32,
    momentum: f32,
    dampening: f32,
    nesterov: bool,
    first: bool,
}

impl Update<1> for Momentum {
    #[inline(always)]
    fn apply(&self, p: &mut [f32], g: &[f32], [buf]: [&mut [f32]; 1]) {
        for ((p, &g), b) in p.iter_mut().zip(g).zip(buf.iter_mut()) {
            let d = g + self.wd * *p;
            *b = if self.first { d } else { self.momentum * *b + (1.0 - self.dampening) * d };
            let dir = if self.nesterov { d + self.momentum * *b } else { *b };
            *p -= self.lr * dir;
        }
    }
}

impl Sgd {
    /// An optimizer over named parameters (names key the saved state).
    pub fn new(params: Vec<(String, Var)>, config: SgdConfig) -> Result<Sgd> {
        check_lr("SGD", config.lr)?;
        if config.momentum < 0.0 || config.weight_decay < 0.0 {
            return Err(Error::config("SGD", "momentum and weight_decay must be >= 0"));
        }
        if config.nesterov && (config.momentum <= 0.0 || config.dampening != 0.0) {
            return Err(Error::config("SGD", "Nesterov momentum requires momentum > 0 and zero dampening"));
        }
        Ok(Sgd { config, slots: slots(params)? })
    }
}

impl Optimizer for Sgd {
    fn step(&mut self) -> Result<()> {
        let c = self.config;
        for s in &mut self.slots {
            let Some(grad) = s.var.grad() else { continue };
            if c.momentum == 0.0 {
                step_param(&s.var, &grad, [], &Plain { lr: c.lr as f32, wd: c.weight_decay as f32 })?;
            } else {
                let first = s.buffers.is_empty();
                if first {
                    s.buffers = vec![vec![0.0; s.var.elem_count()]];
                }
                let update = Momentum {
                    lr: c.lr as f32,
                    wd: c.weight_decay as f32,
                    momentum: c.momentum as f32,
                    dampening: c.dampening as f32,
                    nesterov: c.nesterov,
                    first,
                };
                step_param(&s.var, &grad, [&mut s.buffers[0]], &update)?;
            }
            s.steps += 1;
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
        save_slots(path, "SGD", &["momentum_buffer"], &self.slots)
    }

    fn load_state(&mut self, path: &Path) -> Result<()> {
        load_slots(path, "SGD", &["momentum_buffer"], &mut self.slots)
    }
}
