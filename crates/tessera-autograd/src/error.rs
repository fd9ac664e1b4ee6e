//! The crate's error type.

/// Everything that can go wrong while recording or differentiating a computation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A tensor operation failed (shape or dtype mismatch inside candle, for instance).
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// An error from the tensor crate (safetensors IO, device selection).
    #[error(transparent)]
    Tensor(#[from] tessera_tensor::Error),
    /// An argument is out of range or inconsistent with the tensors it applies to.
    #[error("{op}: {reason}")]
    InvalidArgument {
        /// The operation that refused the argument.
        op: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// A gradient or replacement tensor has the wrong shape.
    #[error("{what}: expected shape {expected:?}, found {found:?}")]
    ShapeMismatch {
        /// Which tensor was checked.
        what: String,
        /// The shape it must have.
        expected: Vec<usize>,
        /// The shape it had.
        found: Vec<usize>,
    },
    /// `backward()` without an explicit gradient on a tensor with more than one element.
    #[error(
        "backward() needs a scalar output, found shape {shape:?}; pass the output gradient with backward_with(grad)"
    )]
    NotScalar {
        /// The shape of the tensor `backward` was called on.
        shape: Vec<usize>,
    },
    /// Differentiation was asked of a tensor that is not part of any graph.
    #[error("{what} does not require grad and has no grad_fn")]
    NoGradFn {
        /// Which tensor (an output of `grad`/`backward`, or an input of `grad`).
        what: String,
    },
    /// A second backward pass reached a node whose saved tensors the first pass freed.
    #[error(
        "trying to backward through {node} a second time, after its saved tensors were freed; \
         pass retain_graph = true to the first backward if you need to backward twice"
    )]
    GraphFreed {
        /// The `grad_fn` name of the freed node.
        node: String,
    },
    /// A tensor made in inference mode was used in an operation that records a graph.
    #[error(
        "{op}: tensors created in inference mode cannot be saved for backward; make them outside inference_mode"
    )]
    InferenceTensor {
        /// The recording operation.
        op: String,
    },
    /// Double backward through an operation whose backward is only once differentiable.
    #[error(
        "{node} is only once differentiable: its backward cannot itself be differentiated (create_graph)"
    )]
    NotTwiceDifferentiable {
        /// The node whose backward was differentiated.
        node: String,
    },
    /// `grad()` was asked for an input the outputs do not depend on.
    #[error(
        "input {index} of grad() was not used to compute the outputs; pass allow_unused = true to get None"
    )]
    UnusedInput {
        /// Position of the input in the `inputs` slice.
        index: usize,
    },
    /// A custom function broke its contract (wrong number or shape of gradients).
    #[error("custom function {name}: {reason}")]
    CustomFunction {
        /// The function's name.
        name: String,
        /// What was wrong.
        reason: String,
    },
}

impl Error {
    pub(crate) fn invalid(op: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidArgument { op, reason: reason.into() }
    }
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;
