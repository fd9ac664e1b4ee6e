//! [`Var`]: a tensor with a place in the autograd graph.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use candle_core::{DType, Device, Tensor};

use crate::engine::{self, BackwardOptions};
use crate::error::{Error, Result};
use crate::graph::{Edge, Node};
use crate::mode::is_inference_mode;

/// A gradient hook: sees the gradient flowing into a variable and may return a replacement.
pub(crate) type GradHook = Arc<dyn Fn(&Var) -> Option<Var> + Send + Sync>;
/// A post-accumulate hook: runs on a leaf after its `.grad` was updated.
pub(crate) type PostAccumulateHook = Arc<dyn Fn(&Var) + Send + Sync>;

static NEXT_HOOK_ID: AtomicU64 = AtomicU64::new(1);

/// Locks a mutex, ignoring poisoning: every critical section here leaves the data consistent.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) struct VarInner {
    pub(crate) data: RwLock<Tensor>,
    pub(crate) requires_grad: AtomicBool,
    /// The node that made this variable and which of its outputs it is; `None` for leaves.
    pub(crate) grad_fn: Option<(Arc<Node>, usize)>,
    pub(crate) grad: Mutex<Option<Var>>,
    /// Gradient hooks of a leaf (non-leaf hooks live on the node).
    pub(crate) hooks: Mutex<Vec<(u64, GradHook)>>,
    pub(crate) post_hooks: Mutex<Vec<(u64, PostAccumulateHook)>>,
    pub(crate) retains_grad: AtomicBool,
    pub(crate) inference: bool,
}

/// A tensor that takes part in automatic differentiation, with PyTorch's semantics.
///
/// Cloning a `Var` is cheap and yields the same variable (shared gradient, hooks and graph), as
/// assigning a tensor does in Python. `Var` is `Send + Sync`; graphs may be built and differentiated
/// on any thread.
#[derive(Clone)]
pub struct Var(pub(crate) Arc<VarInner>);

/// Identifies a registered hook so it can be removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HookHandle(u64);

/// A read-only view of a node of the graph (PyTorch's `grad_fn`).
#[derive(Clone)]
pub struct GradFn {
    node: Arc<Node>,
}

/// Where a [`GradFn`] input leads.
#[derive(Clone)]
pub enum NextFunction {
    /// Another recorded operation.
    GradFn(GradFn),
    /// A leaf variable that accumulates its gradient (PyTorch's `AccumulateGrad`).
    AccumulateGrad(Var),
}

impl GradFn {
    /// The operation's name, as PyTorch spells it (`MulBackward0`, `MmBackward0`, ...).
    pub fn name(&self) -> &str {
        &self.node.name
    }

    /// One entry per input of the operation: where its gradient goes, or `None` when the input
    /// does not require grad.
    pub fn next_functions(&self) -> Vec<Option<NextFunction>> {
        self.node
            .edges
            .iter()
            .map(|e| match e {
                Edge::None => None,
                Edge::Node(n, _) => Some(NextFunction::GradFn(GradFn { node: n.clone() })),
                Edge::Leaf(v) => Some(NextFunction::AccumulateGrad(Var(v.clone()))),
            })
            .collect()
    }

    /// Whether the node still holds its saved tensors (false after a backward without
    /// `retain_graph`).
    pub fn is_alive(&self) -> bool {
        lock(&self.node.backward).is_some()
    }
}

impl fmt::Debug for GradFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}>", self.node.name)
    }
}

impl Var {
    fn with_parts(data: Tensor, requires_grad: bool, grad_fn: Option<(Arc<Node>, usize)>) -> Var {
        Var(Arc::new(VarInner {
            data: RwLock::new(data),
            requires_grad: AtomicBool::new(requires_grad),
            grad_fn,
            grad: Mutex::new(None),
            hooks: Mutex::new(Vec::new()),
            post_hooks: Mutex::new(Vec::new()),
            retains_grad: AtomicBool::new(false),
            inference: is_inference_mode(),
        }))
    }

    /// A leaf variable; with `requires_grad`, backward passes accumulate its gradient in
    /// [`Var::grad`].
    pub fn new(tensor: Tensor, requires_grad: bool) -> Var {
        Var::with_parts(tensor, requires_grad, None)
    }

    /// A leaf that requires grad (a trainable parameter).
    pub fn parameter(tensor: Tensor) -> Var {
        Var::new(tensor, true)
    }

    /// A leaf that does not require grad (inputs, targets, masks).
    pub fn constant(tensor: Tensor) -> Var {
        Var::new(tensor, false)
    }

    /// The result of an op that recorded nothing.
    pub(crate) fn result(tensor: Tensor) -> Var {
        Var::with_parts(tensor, false, None)
    }

    pub(crate) fn non_leaf(tensor: Tensor, node: Arc<Node>, output: usize) -> Var {
        Var::with_parts(tensor, true, Some((node, output)))
    }

    /// The current value (a cheap handle sharing storage).
    pub fn tensor(&self) -> Tensor {
        self.0.data.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Replaces the value of a leaf (PyTorch's `p.data = t`); the shape must stay the same.
    /// As in PyTorch, graphs recorded before the change see the new value when differentiated:
    /// optimizers update parameters between a backward and the next forward.
    pub fn set_data(&self, tensor: Tensor) -> Result<()> {
        if !self.is_leaf() {
            return Err(Error::invalid("set_data", "only a leaf variable's data can be replaced"));
        }
        let mut data = self.0.data.write().unwrap_or_else(PoisonError::into_inner);
        if data.dims() != tensor.dims() {
            return Err(Error::ShapeMismatch {
                what: "set_data".into(),
                expected: data.dims().to_vec(),
                found: tensor.dims().to_vec(),
            });
        }
        *data = tensor;
        Ok(())
    }

    /// The shape.
    pub fn dims(&self) -> Vec<usize> {
        self.0.data.read().unwrap_or_else(PoisonError::into_inner).dims().to_vec()
    }

    /// The number of dimensions.
    pub fn rank(&self) -> usize {
        self.0.data.read().unwrap_or_else(PoisonError::into_inner).rank()
    }

    /// The number of elements.
    pub fn elem_count(&self) -> usize {
        self.0.data.read().unwrap_or_else(PoisonError::into_inner).elem_count()
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.0.data.read().unwrap_or_else(PoisonError::into_inner).dtype()
    }

    /// The device holding the value.
    pub fn device(&self) -> Device {
        self.0.data.read().unwrap_or_else(PoisonError::into_inner).device().clone()
    }

    /// Whether gradients flow to this variable.
    #[inline]
    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad.load(Ordering::Relaxed)
    }

    /// Turns gradient tracking of a leaf on or off (`requires_grad_()`).
    pub fn set_requires_grad(&self, requires_grad: bool) -> Result<()> {
        if !self.is_leaf() {
            return Err(Error::invalid(
                "set_requires_grad",
                "requires_grad can only be changed on leaf variables; use detach() for a non-leaf",
            ));
        }
        self.0.requires_grad.store(requires_grad, Ordering::Relaxed);
        Ok(())
    }

    /// A leaf is a variable no recorded operation produced (`grad_fn` is `None`).
    pub fn is_leaf(&self) -> bool {
        self.0.grad_fn.is_none()
    }

    /// Whether this variable was made inside [`crate::inference_mode`].
    pub fn is_inference(&self) -> bool {
        self.0.inference
    }

    /// The operation that produced this variable.
    pub fn grad_fn(&self) -> Option<GradFn> {
        self.0.grad_fn.as_ref().map(|(node, _)| GradFn { node: node.clone() })
    }

    /// The accumulated gradient: set on leaves that require grad (and on non-leaves after
    /// [`Var::retain_grad`]) by backward passes, until [`Var::zero_grad`].
    pub fn grad(&self) -> Option<Tensor> {
        lock(&self.0.grad).as_ref().map(Var::tensor)
    }

    /// The accumulated gradient as a variable; after `backward` with `create_graph` it carries a
    /// graph of its own, so it can be differentiated again.
    pub fn grad_var(&self) -> Option<Var> {
        lock(&self.0.grad).clone()
    }

    /// Replaces the accumulated gradient (`p.grad = g`); the shape must match.
    pub fn set_grad(&self, grad: Option<Tensor>) -> Result<()> {
        if let Some(g) = &grad {
            let dims = self.dims();
            if g.dims() != dims.as_slice() {
                return Err(Error::ShapeMismatch {
                    what: "set_grad".into(),
                    expected: dims,
                    found: g.dims().to_vec(),
                });
            }
        }
        *lock(&self.0.grad) = grad.map(Var::constant);
        Ok(())
    }

    /// Clears the accumulated gradient (PyTorch's `zero_grad(set_to_none=True)`).
    pub fn zero_grad(&self) {
        *lock(&self.0.grad) = None;
    }

    /// Keeps the gradient of a non-leaf in [`Var::grad`] during backward passes.
    pub fn retain_grad(&self) {
        if let Some((node, nr)) = &self.0.grad_fn
            && !self.0.retains_grad.swap(true, Ordering::Relaxed)
        {
            lock(&node.retained).push((*nr, Arc::downgrade(&self.0)));
        }
    }

    /// Whether a non-leaf keeps its gradient.
    pub fn retains_grad(&self) -> bool {
        self.0.retains_grad.load(Ordering::Relaxed)
    }

    /// A leaf sharing this variable's value that does not require grad (`detach()`).
    pub fn detach(&self) -> Var {
        Var::result(self.tensor())
    }

    /// Registers a hook that sees the gradient with respect to this variable each time it is
    /// computed and may return a replacement (`register_hook`).
    pub fn register_hook<F>(&self, hook: F) -> Result<HookHandle>
    where
        F: Fn(&Var) -> Option<Var> + Send + Sync + 'static,
    {
        if !self.requires_grad() {
            return Err(Error::invalid(
                "register_hook",
                "cannot register a hook on a variable that does not require grad",
            ));
        }
        let id = NEXT_HOOK_ID.fetch_add(1, Ordering::Relaxed);
        match &self.0.grad_fn {
            Some((node, nr)) => lock(&node.hooks).push((*nr, id, Arc::new(hook))),
            None => lock(&self.0.hooks).push((id, Arc::new(hook))),
        }
        Ok(HookHandle(id))
    }

    /// Registers a hook that runs on a leaf right after a backward pass accumulated into its
    /// `.grad` (`register_post_accumulate_grad_hook`); data-parallel training starts communicating
    /// a gradient from here.
    pub fn register_post_accumulate_grad_hook<F>(&self, hook: F) -> Result<HookHandle>
    where
        F: Fn(&Var) + Send + Sync + 'static,
    {
        if !self.is_leaf() || !self.requires_grad() {
            return Err(Error::invalid(
                "register_post_accumulate_grad_hook",
                "post-accumulate hooks can only be registered on leaves that require grad",
            ));
        }
        let id = NEXT_HOOK_ID.fetch_add(1, Ordering::Relaxed);
        lock(&self.0.post_hooks).push((id, Arc::new(hook)));
        Ok(HookHandle(id))
    }

    /// Removes a hook registered on this variable; returns whether it was found.
    pub fn remove_hook(&self, handle: HookHandle) -> bool {
        let mut found = false;
        lock(&self.0.hooks).retain(|(id, _)| {
            let keep = *id != handle.0;
            found |= !keep;
            keep
        });
        lock(&self.0.post_hooks).retain(|(id, _)| {
            let keep = *id != handle.0;
            found |= !keep;
            keep
        });
        if let Some((node, _)) = &self.0.grad_fn {
            lock(&node.hooks).retain(|(_, id, _)| {
                let keep = *id != handle.0;
                found |= !keep;
                keep
            });
        }
        found
    }

    /// Backpropagates from this scalar: gradients accumulate into the `.grad` of every leaf that
    /// requires grad, and the graph is freed.
    pub fn backward(&self) -> Result<()> {
        self.backward_with_options(None, BackwardOptions::default())
    }

    /// Backpropagates with an explicit output gradient (needed for non-scalar outputs).
    pub fn backward_with(&self, grad: &Tensor) -> Result<()> {
        self.backward_with_options(Some(grad), BackwardOptions::default())
    }

    /// Backpropagates with options (`retain_graph`, `create_graph`); `grad` defaults to one for a
    /// scalar.
    pub fn backward_with_options(&self, grad: Option<&Tensor>, options: BackwardOptions) -> Result<()> {
        let grad = match grad {
            Some(g) => g.clone(),
            None => {
                let t = self.tensor();
                if t.elem_count() != 1 {
                    return Err(Error::NotScalar { shape: t.dims().to_vec() });
                }
                t.ones_like()?
            }
        };
        engine::backward(std::slice::from_ref(self), &[grad], options)
    }

    /// The value of a one-element variable as f64.
    pub fn to_scalar_f64(&self) -> Result<f64> {
        let t = self.tensor();
        if t.elem_count() != 1 {
            return Err(Error::NotScalar { shape: t.dims().to_vec() });
        }
        Ok(t.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?[0])
    }

    /// The value as a flat `Vec<f32>` (any float dtype converts).
    pub fn to_vec_f32(&self) -> Result<Vec<f32>> {
        Ok(self.tensor().flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>()?)
    }

    /// Whether `self` and `other` are the same variable.
    pub fn same(&self, other: &Var) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl fmt::Debug for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.tensor();
        let mut s = f.debug_struct("Var");
        s.field("shape", &t.dims()).field("dtype", &t.dtype());
        match &self.0.grad_fn {
            Some((node, _)) => s.field("grad_fn", &node.name),
            None => s.field("requires_grad", &self.requires_grad()),
        };
        s.finish()
    }
}
