//! Thread-local grad mode: `no_grad`, `enable_grad` and `inference_mode` scopes.
//!
//! As in PyTorch, the mode belongs to the thread: a guard changes it until it is dropped, and guards
//! nest. Guards are deliberately `!Send` so a scope cannot leak into another thread.

use std::cell::Cell;
use std::marker::PhantomData;

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
    static INFERENCE: Cell<bool> = const { Cell::new(false) };
}

/// Whether operations on this thread currently record a graph.
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(Cell::get)
}

/// Whether this thread is inside an [`inference_mode`] scope.
pub fn is_inference_mode() -> bool {
    INFERENCE.with(Cell::get)
}

/// Restores the previous grad mode when dropped.
#[must_use = "the mode is restored as soon as the guard is dropped"]
pub struct GradModeGuard {
    previous: bool,
    _not_send: PhantomData<*const ()>,
}

impl Drop for GradModeGuard {
    fn drop(&mut self) {
        GRAD_ENABLED.with(|g| g.set(self.previous));
    }
}

/// Sets whether operations record a graph until the guard is dropped.
pub fn set_grad_enabled(enabled: bool) -> GradModeGuard {
    let previous = GRAD_ENABLED.with(|g| g.replace(enabled));
    GradModeGuard { previous, _not_send: PhantomData }
}

/// Stops recording until the guard is dropped (PyTorch's `torch.no_grad()`).
pub fn no_grad() -> GradModeGuard {
    set_grad_enabled(false)
}

/// Records again inside a `no_grad` scope until the guard is dropped (`torch.enable_grad()`).
pub fn enable_grad() -> GradModeGuard {
    set_grad_enabled(true)
}

/// Restores the previous inference mode and grad mode when dropped.
#[must_use = "the mode is restored as soon as the guard is dropped"]
pub struct InferenceModeGuard {
    previous_inference: bool,
    _grad: GradModeGuard,
}

impl Drop for InferenceModeGuard {
    fn drop(&mut self) {
        INFERENCE.with(|g| g.set(self.previous_inference));
    }
}

/// Records nothing and marks every tensor made in the scope as an inference tensor, which later
/// recording operations refuse to save (`torch.inference_mode()`).
pub fn inference_mode() -> InferenceModeGuard {
    let previous_inference = INFERENCE.with(|g| g.replace(true));
    InferenceModeGuard { previous_inference, _grad: set_grad_enabled(false) }
}
