//! The recorded graph: nodes (`grad_fn`s), the edges to their inputs, and how an op records itself.

use std::borrow::Cow;
use std::sync::{Arc, Mutex, Weak};

use candle_core::{DType, Device, Shape, Tensor};

use crate::error::{Error, Result};
use crate::mode::is_grad_enabled;
use crate::var::{GradHook, Var, VarInner};

/// A node's backward: given the gradient of each output (materialised) and which inputs need a
/// gradient, returns one optional gradient per input. Written with `Var` operations, so that it is
/// itself recorded when the engine runs with `create_graph`.
pub(crate) type BackwardFn = Box<dyn Fn(&[Var], &[bool]) -> Result<Vec<Option<Var>>> + Send + Sync>;

/// Where the gradient of a node's input goes.
pub(crate) enum Edge {
    /// The input does not require grad.
    None,
    /// The input is output `.1` of another node.
    Node(Arc<Node>, usize),
    /// The input is a leaf that requires grad (its gradient accumulates into `.grad`).
    Leaf(Arc<VarInner>),
}

impl Edge {
    pub(crate) fn of(var: &Var) -> Edge {
        match &var.0.grad_fn {
            Some((node, nr)) => Edge::Node(node.clone(), *nr),
            None if var.requires_grad() => Edge::Leaf(var.0.clone()),
            None => Edge::None,
        }
    }
}

/// A node's edges, stored inline for the common one- and two-input ops (one allocation fewer per
/// recorded op).
pub(crate) enum Edges {
    Inline([Edge; 2], usize),
    Heap(Vec<Edge>),
}

impl Edges {
    pub(crate) fn as_slice(&self) -> &[Edge] {
        match self {
            Edges::Inline(e, n) => &e[..*n],
            Edges::Heap(v) => v,
        }
    }
}

impl FromIterator<Edge> for Edges {
    fn from_iter<I: IntoIterator<Item = Edge>>(iter: I) -> Edges {
        let mut inline = [Edge::None, Edge::None];
        let mut n = 0;
        let mut iter = iter.into_iter();
        for e in iter.by_ref() {
            if n == 2 {
                let mut v: Vec<Edge> = Vec::from(inline);
                v.push(e);
                v.extend(iter);
                return Edges::Heap(v);
            }
            inline[n] = e;
            n += 1;
        }
        Edges::Inline(inline, n)
    }
}

impl std::ops::Deref for Edges {
    type Target = [Edge];
    fn deref(&self) -> &[Edge] {
        self.as_slice()
    }
}

/// Shape, dtype and device of a node output, kept for multi-output nodes so a missing output
/// gradient can be materialised as zeros.
pub(crate) struct OutputMeta {
    pub(crate) shape: Shape,
    pub(crate) dtype: DType,
    pub(crate) device: Device,
}

/// One recorded operation (PyTorch's `grad_fn`).
pub(crate) struct Node {
    pub(crate) name: Cow<'static, str>,
    pub(crate) edges: Edges,
    /// `None` once a backward pass without `retain_graph` has run it (saved tensors freed).
    pub(crate) backward: Mutex<Option<BackwardFn>>,
    /// Number of outputs; `outputs` is filled only for multi-output nodes.
    pub(crate) num_outputs: usize,
    pub(crate) outputs: Vec<OutputMeta>,
    /// Gradient hooks of non-leaf variables, by output number.
    pub(crate) hooks: Mutex<Vec<(usize, u64, GradHook)>>,
    /// Non-leaf variables that asked to retain their gradient, by output number.
    pub(crate) retained: Mutex<Vec<(usize, Weak<VarInner>)>>,
}

impl Node {
    pub(crate) fn new(name: Cow<'static, str>, edges: Edges, backward: BackwardFn) -> Node {
        Node {
            name,
            edges,
            backward: Mutex::new(Some(backward)),
            num_outputs: 1,
            outputs: Vec::new(),
            hooks: Mutex::new(Vec::new()),
            retained: Mutex::new(Vec::new()),
        }
    }
}

impl Node {
    /// Moves this node's children onto `stack` and frees its backward (and what it saved). The
    /// children are taken out before the closure is dropped, so the variables it captured are never the
    /// last owners of their nodes: nothing below is freed recursively.
    fn dismantle(&mut self, stack: &mut Vec<Arc<Node>>) {
        let edges = std::mem::replace(&mut self.edges, Edges::Inline([Edge::None, Edge::None], 0));
        let children = |e: Edge| if let Edge::Node(child, _) = e { Some(child) } else { None };
        match edges {
            Edges::Inline(pair, n) => stack.extend(pair.into_iter().take(n).filter_map(children)),
            Edges::Heap(all) => stack.extend(all.into_iter().filter_map(children)),
        }
        let backward = self.backward.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        drop(backward);
    }
}

impl Drop for Node {
    /// Frees a graph iteratively: a chain of a million recorded ops would otherwise drop one stack
    /// frame per node and overflow the stack.
    fn drop(&mut self) {
        let mut stack = Vec::new();
        self.dismantle(&mut stack);
        while let Some(node) = stack.pop() {
            // Only the last owner takes a node apart; shared nodes are freed by their other owners.
            if let Ok(mut node) = Arc::try_unwrap(node) {
                node.dismantle(&mut stack);
            }
        }
    }
}

/// Whether an op over `inputs` records a node: grad mode is on and some input requires grad.
#[inline]
pub(crate) fn tracks(inputs: &[&Var]) -> bool {
    inputs.iter().any(|v| v.requires_grad()) && is_grad_enabled()
}

/// Wraps an op's result as a non-leaf whose `grad_fn` runs `backward`. Callers check [`tracks`]
/// first, so that nothing is captured for the backward when nothing is recorded.
pub(crate) fn record<F>(name: &'static str, out: Tensor, inputs: &[&Var], backward: F) -> Result<Var>
where
    F: Fn(&[Var], &[bool]) -> Result<Vec<Option<Var>>> + Send + Sync + 'static,
{
    if inputs.iter().any(|v| v.0.inference) {
        return Err(Error::InferenceTensor { op: name.to_string() });
    }
    let edges = inputs.iter().map(|v| Edge::of(v)).collect();
    let node = Arc::new(Node::new(Cow::Borrowed(name), edges, Box::new(backward)));
    Ok(Var::non_leaf(out, node, 0))
}

/// Wraps the gradients computed outside the graph by a once-differentiable backward (a custom
/// function, conv2d): constants normally, and under `create_graph` variables whose own backward
/// refuses with a clear error instead of silently returning a wrong second derivative.
pub(crate) fn once_differentiable(node: &str, grad: Tensor, sources: &[&Var]) -> Var {
    if !is_grad_enabled() || !sources.iter().any(|v| v.requires_grad()) {
        return Var::result(grad);
    }
    let name = format!("{node}Backward");
    let edges = sources.iter().map(|v| Edge::of(v)).collect();
    let backward: BackwardFn =
        Box::new(move |_, _| Err(Error::NotTwiceDifferentiable { node: name.clone() }));
    let node = Arc::new(Node::new(Cow::Owned(format!("{node}DoubleBackward")), edges, backward));
    Var::non_leaf(grad, node, 0)
}
