//! Custom functions: user-written forward and backward on plain tensors, recorded as one node.
//!
//! This is how kernels with their own backward (flash attention, fused ops) join the graph, as a
//! subclass of `torch.autograd.Function` does in PyTorch.

use std::borrow::Cow;
use std::sync::Arc;

use candle_core::Tensor;

use crate::error::{Error, Result};
use crate::graph::{Edge, Node, OutputMeta, once_differentiable, tracks};
use crate::var::Var;

/// What the forward of a custom function leaves for its backward.
#[derive(Debug, Default)]
pub struct FunctionCtx {
    saved: Vec<Tensor>,
    needs_input_grad: Vec<bool>,
    non_differentiable: Vec<usize>,
}

impl FunctionCtx {
    /// Keeps tensors for the backward (`ctx.save_for_backward`).
    pub fn save_for_backward(&mut self, tensors: &[&Tensor]) {
        self.saved.extend(tensors.iter().map(|&t| t.clone()));
    }

    /// The tensors saved by the forward, in order.
    pub fn saved_tensors(&self) -> &[Tensor] {
        &self.saved
    }

    /// Which inputs need a gradient; the backward may return `None` for the others.
    pub fn needs_input_grad(&self) -> &[bool] {
        &self.needs_input_grad
    }

    /// Marks output `index` as not differentiable (an index, a log-sum-exp kept only for the
    /// backward): its variable does not require grad.
    pub fn mark_non_differentiable(&mut self, index: usize) {
        self.non_differentiable.push(index);
    }
}

/// A differentiable operation with a hand-written backward.
///
/// The backward computes on tensors, so it is differentiable once: differentiating the returned
/// gradients again (`create_graph`) reports an error instead of a wrong value.
pub trait Function: Send + Sync + 'static {
    /// The node's name, shown by [`crate::GradFn::name`].
    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed(std::any::type_name::<Self>())
    }

    /// Computes the outputs from the input values; may save tensors in `ctx`.
    fn forward(&self, ctx: &mut FunctionCtx, inputs: &[Tensor]) -> Result<Vec<Tensor>>;

    /// Given the gradient of every output (zeros for outputs that received none), returns one
    /// gradient per input (`None` where the input needs none), each of the input's shape.
    fn backward(&self, ctx: &FunctionCtx, grad_outputs: &[Tensor]) -> Result<Vec<Option<Tensor>>>;
}

/// Runs a custom function on variables and records it (`Function.apply`).
pub fn apply<F: Function>(function: F, inputs: &[&Var]) -> Result<Vec<Var>> {
    let values: Vec<Tensor> = inputs.iter().map(|v| v.tensor()).collect();
    let mut ctx = FunctionCtx {
        needs_input_grad: inputs.iter().map(|v| v.requires_grad()).collect(),
        ..FunctionCtx::default()
    };
    let outputs = function.forward(&mut ctx, &values)?;
    if !tracks(inputs) {
        return Ok(outputs.into_iter().map(Var::result).collect());
    }
    let name = function.name();
    if inputs.iter().any(|v| v.is_inference()) {
        return Err(Error::InferenceTensor { op: name.to_string() });
    }
    let metas = outputs
        .iter()
        .map(|t| OutputMeta { shape: t.shape().clone(), dtype: t.dtype(), device: t.device().clone() })
        .collect::<Vec<_>>();
    let input_dims: Vec<Vec<usize>> = values.iter().map(|t| t.dims().to_vec()).collect();
    let non_differentiable = std::mem::take(&mut ctx.non_differentiable);
    let sources: Vec<Var> = inputs.iter().map(|&v| v.clone()).collect();
    let fname = name.clone();
    let backward = move |grads: &[Var], _needs: &[bool]| -> Result<Vec<Option<Var>>> {
        let g: Vec<Tensor> = grads.iter().map(Var::tensor).collect();
        let result = function.backward(&ctx, &g)?;
        if result.len() != input_dims.len() {
            return Err(Error::CustomFunction {
                name: fname.to_string(),
                reason: format!(
                    "backward returned {} gradients for {} inputs",
                    result.len(),
                    input_dims.len()
                ),
            });
        }
        let refs: Vec<&Var> = grads.iter().chain(sources.iter()).collect();
        result
            .into_iter()
            .enumerate()
            .map(|(i, g)| match g {
                Some(g) if g.dims() != input_dims[i].as_slice() => Err(Error::CustomFunction {
                    name: fname.to_string(),
                    reason: format!(
                        "gradient {i} has shape {:?} but input {i} has shape {:?}",
                        g.dims(),
                        input_dims[i]
                    ),
                }),
                Some(g) => Ok(Some(once_differentiable(&fname, g, &refs))),
                None => Ok(None),
            })
            .collect()
    };
    let edges = inputs.iter().map(|v| Edge::of(v)).collect();
    let mut node = Node::new(name, edges, Box::new(backward));
    node.num_outputs = outputs.len();
    node.outputs = metas;
    let node = Arc::new(node);
    Ok(outputs
        .into_iter()
        .enumerate()
        .map(
            |(i, t)| {
                if non_differentiable.contains(&i) {
                    Var::result(t)
                } else {
                    Var::non_leaf(t, node.clone(), i)
                }
            },
        )
        .collect())
}
