//! The backward engine: runs the recorded graph in reverse, once per node, in dependency order.
//!
//! A pass first counts, for every node and leaf reachable from the outputs, how many edges lead
//! to it; a node runs when all its gradient contributions have arrived (so each node runs once,
//! with the summed gradient, as in PyTorch). Leaves finalise the same way: hooks, accumulation
//! into `.grad`, then post-accumulate hooks, as soon as their last contribution arrives.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use candle_core::Tensor;

use crate::error::{Error, Result};
use crate::graph::{Edge, Node};
use crate::mode::set_grad_enabled;
use crate::var::{Var, VarInner, lock};

/// Options of [`Var::backward_with_options`] and [`backward`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackwardOptions {
    /// Keep the saved tensors so the graph can be differentiated again.
    pub retain_graph: bool,
    /// Record the backward pass itself, so the gradients can be differentiated (higher-order
    /// derivatives). Implies `retain_graph`.
    pub create_graph: bool,
}

/// Options of [`grad`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GradOptions {
    /// Keep the saved tensors so the graph can be differentiated again.
    pub retain_graph: bool,
    /// Record the backward pass so the returned gradients can be differentiated. Implies
    /// `retain_graph`.
    pub create_graph: bool,
    /// Return `None` for inputs the outputs do not depend on instead of an error.
    pub allow_unused: bool,
}

/// Hashes pointers: they are already unique, only the low alignment bits need mixing out.
#[derive(Default)]
struct PtrHasher(u64);

impl Hasher for PtrHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8 | u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64 >> 4).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type PtrMap<V> = HashMap<usize, V, BuildHasherDefault<PtrHasher>>;

fn node_key(node: &Arc<Node>) -> usize {
    Arc::as_ptr(node) as usize
}

fn leaf_key(leaf: &Arc<VarInner>) -> usize {
    Arc::as_ptr(leaf) as usize
}

/// Adds `g` into an optional accumulator.
fn accumulate(slot: &mut Option<Var>, g: Var) -> Result<()> {
    *slot = Some(match slot.take() {
        None => g,
        Some(acc) => acc.add(&g)?,
    });
    Ok(())
}

struct PendingNode {
    node: Arc<Node>,
    grads: Vec<Option<Var>>,
}

struct PendingLeaf {
    leaf: Arc<VarInner>,
    grad: Option<Var>,
    deps: usize,
}

/// Where gradients of `grad()`'s inputs are collected.
struct Capture {
    leaves: PtrMap<Vec<usize>>,
    outputs: HashMap<(usize, usize), Vec<usize>>,
    grads: Vec<Option<Var>>,
}

struct Pass {
    keep_graph: bool,
    capture: Option<Capture>,
    nodes: PtrMap<PendingNode>,
    deps: PtrMap<usize>,
    leaves: PtrMap<PendingLeaf>,
    ready: Vec<usize>,
}

impl Pass {
    fn new(keep_graph: bool, capture: Option<Capture>) -> Pass {
        Pass {
            keep_graph,
            capture,
            nodes: PtrMap::default(),
            deps: PtrMap::default(),
            leaves: PtrMap::default(),
            ready: Vec::new(),
        }
    }

    fn add_node_grad(&mut self, node: &Arc<Node>, output: usize, g: Option<Var>) -> Result<()> {
        let entry = self
            .nodes
            .entry(node_key(node))
            .or_insert_with(|| PendingNode { node: node.clone(), grads: vec![None; node.num_outputs] });
        if let Some(g) = g {
            accumulate(&mut entry.grads[output], g)?;
        }
        Ok(())
    }

    fn leaf_entry(&mut self, leaf: &Arc<VarInner>) -> &mut PendingLeaf {
        self.leaves.entry(leaf_key(leaf)).or_insert_with(|| PendingLeaf {
            leaf: leaf.clone(),
            grad: None,
            deps: 0,
        })
    }

    /// Counts the edges into every node and leaf reachable from `roots` (a node is in `deps` once
    /// seen, so the map doubles as the visited set).
    fn count_dependencies(&mut self, roots: &[Arc<Node>]) {
        let mut stack: Vec<Arc<Node>> = Vec::new();
        for r in roots {
            if let std::collections::hash_map::Entry::Vacant(e) = self.deps.entry(node_key(r)) {
                e.insert(0);
                stack.push(r.clone());
            }
        }
        while let Some(node) = stack.pop() {
            for edge in node.edges.iter() {
                match edge {
                    Edge::None => {}
                    Edge::Node(child, _) => match self.deps.entry(node_key(child)) {
                        std::collections::hash_map::Entry::Occupied(mut e) => *e.get_mut() += 1,
                        std::collections::hash_map::Entry::Vacant(e) => {
                            e.insert(1);
                            stack.push(child.clone());
                        }
                    },
                    Edge::Leaf(leaf) => self.leaf_entry(leaf).deps += 1,
                }
            }
        }
        self.nodes.reserve(self.deps.len());
    }

    fn run(&mut self) -> Result<()> {
        while let Some(key) = self.ready.pop() {
            let Some(PendingNode { node, mut grads }) = self.nodes.remove(&key) else {
                continue;
            };
            self.run_node(&node, &mut grads)?;
        }
        Ok(())
    }

    fn run_node(&mut self, node: &Arc<Node>, grads: &mut [Option<Var>]) -> Result<()> {
        let key = node_key(node);
        let hooks = lock(&node.hooks).clone();
        for (nr, _, hook) in hooks {
            if let Some(g) = &grads[nr]
                && let Some(replacement) = hook(g)
            {
                grads[nr] = Some(replacement);
            }
        }
        if let Some(capture) = &mut self.capture {
            for (nr, g) in grads.iter().enumerate() {
                if let Some(slots) = capture.outputs.get(&(key, nr)) {
                    for &s in slots {
                        capture.grads[s] = g.clone();
                    }
                }
            }
        } else {
            let retained = lock(&node.retained).clone();
            for (nr, weak) in retained {
                if let (Some(inner), Some(g)) = (weak.upgrade(), &grads[nr]) {
                    accumulate(&mut lock(&inner.grad), g.clone())?;
                }
            }
        }
        let results = if grads.iter().all(Option::is_none) {
            vec![None; node.edges.len()]
        } else {
            let many: Vec<Var>;
            let materialised: &[Var] = match &*grads {
                [Some(g)] => std::slice::from_ref(g),
                _ => {
                    many = materialise(node, grads)?;
                    &many
                }
            };
            let mut needs_inline = [false; 4];
            let needs_heap: Vec<bool>;
            let needs: &[bool] = if node.edges.len() <= needs_inline.len() {
                for (n, e) in needs_inline.iter_mut().zip(node.edges.iter()) {
                    *n = !matches!(e, Edge::None);
                }
                &needs_inline[..node.edges.len()]
            } else {
                needs_heap = node.edges.iter().map(|e| !matches!(e, Edge::None)).collect();
                &needs_heap
            };
            let mut slot = lock(&node.backward);
            let results = if self.keep_graph {
                match slot.as_ref() {
                    Some(f) => f(materialised, needs)?,
                    None => return Err(Error::GraphFreed { node: node.name.to_string() }),
                }
            } else {
                match slot.take() {
                    Some(f) => {
                        drop(slot);
                        f(materialised, needs)?
                    }
                    None => return Err(Error::GraphFreed { node: node.name.to_string() }),
                }
            };
            if results.len() != node.edges.len() {
                return Err(Error::CustomFunction {
                    name: node.name.to_string(),
                    reason: format!(
                        "backward returned {} gradients for {} inputs",
                        results.len(),
                        node.edges.len()
                    ),
                });
            }
            results
        };
        for (edge, g) in node.edges.iter().zip(results) {
            match edge {
                Edge::None => {}
                Edge::Node(child, nr) => {
                    self.add_node_grad(child, *nr, g)?;
                    let ck = node_key(child);
                    let deps = self.deps.get_mut(&ck).map(|d| {
                        *d -= 1;
                        *d
                    });
                    if deps == Some(0) {
                        self.ready.push(ck);
                    }
                }
                Edge::Leaf(leaf) => {
                    let entry = self.leaf_entry(leaf);
                    if let Some(g) = g {
                        accumulate(&mut entry.grad, g)?;
                    }
                    entry.deps -= 1;
                    if entry.deps == 0 {
                        self.finish_leaf(leaf_key(leaf))?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Runs a leaf's hooks and stores its summed gradient (or captures it for `grad()`).
    fn finish_leaf(&mut self, key: usize) -> Result<()> {
        let Some(PendingLeaf { leaf, grad, .. }) = self.leaves.remove(&key) else {
            return Ok(());
        };
        let Some(mut g) = grad else {
            return Ok(());
        };
        let hooks = lock(&leaf.hooks).clone();
        for (_, hook) in hooks {
            if let Some(replacement) = hook(&g) {
                g = replacement;
            }
        }
        if let Some(capture) = &mut self.capture {
            if let Some(slots) = capture.leaves.get(&key) {
                for &s in slots {
                    capture.grads[s] = Some(g.clone());
                }
            }
            return Ok(());
        }
        accumulate(&mut lock(&leaf.grad), g)?;
        let post = lock(&leaf.post_hooks).clone();
        let var = Var(leaf);
        for (_, hook) in post {
            hook(&var);
        }
        Ok(())
    }
}

/// Fills in zeros for the outputs of a multi-output node that received no gradient.
fn materialise(node: &Node, grads: &[Option<Var>]) -> Result<Vec<Var>> {
    grads
        .iter()
        .enumerate()
        .map(|(i, g)| match g {
            Some(g) => Ok(g.clone()),
            None => {
                let meta = &node.outputs[i];
                Ok(Var::constant(Tensor::zeros(meta.shape.clone(), meta.dtype, &meta.device)?))
            }
        })
        .collect()
}

fn check_grad_shape(what: impl FnOnce() -> String, var: &Var, grad: &Tensor) -> Result<()> {
    let dims = var.dims();
    if grad.dims() != dims.as_slice() {
        return Err(Error::ShapeMismatch { what: what(), expected: dims, found: grad.dims().to_vec() });
    }
    Ok(())
}

/// Seeds the pass with the output gradients and runs it.
fn execute(pass: &mut Pass, outputs: &[Var], grads: &[Tensor]) -> Result<()> {
    if outputs.len() != grads.len() {
        return Err(Error::invalid(
            "backward",
            format!("{} outputs but {} output gradients", outputs.len(), grads.len()),
        ));
    }
    let mut roots = Vec::new();
    let mut root_leaves = Vec::new();
    for (i, (out, g)) in outputs.iter().zip(grads).enumerate() {
        check_grad_shape(|| format!("gradient of output {i}"), out, g)?;
        let g = Var::constant(g.clone());
        match &out.0.grad_fn {
            Some((node, nr)) => {
                pass.add_node_grad(node, *nr, Some(g))?;
                roots.push(node.clone());
            }
            None if out.requires_grad() => {
                accumulate(&mut pass.leaf_entry(&out.0).grad, g)?;
                root_leaves.push(leaf_key(&out.0));
            }
            None => return Err(Error::NoGradFn { what: format!("output {i}") }),
        }
    }
    pass.count_dependencies(&roots);
    for key in root_leaves {
        if pass.leaves.get(&key).is_some_and(|l| l.deps == 0) {
            pass.finish_leaf(key)?;
        }
    }
    for r in &roots {
        let key = node_key(r);
        if pass.deps.get(&key) == Some(&0) && !pass.ready.contains(&key) {
            pass.ready.push(key);
        }
    }
    pass.run()
}

/// Backpropagates from several outputs at once, accumulating into the leaves' `.grad`
/// (`torch.autograd.backward`).
pub fn backward(outputs: &[Var], grads: &[Tensor], options: BackwardOptions) -> Result<()> {
    let _mode = set_grad_enabled(options.create_graph);
    let mut pass = Pass::new(options.retain_graph || options.create_graph, None);
    execute(&mut pass, outputs, grads)
}

/// Computes and returns the gradients of `outputs` with respect to `inputs` without touching any
/// `.grad` (`torch.autograd.grad`). `grad_outputs` defaults to ones for scalar outputs.
pub fn grad(
    outputs: &[Var],
    inputs: &[Var],
    grad_outputs: Option<&[Tensor]>,
    options: GradOptions,
) -> Result<Vec<Option<Var>>> {
    let grads: Vec<Tensor> = match grad_outputs {
        Some(g) => g.to_vec(),
        None => outputs
            .iter()
            .map(|o| {
                let t = o.tensor();
                if t.elem_count() != 1 {
                    return Err(Error::NotScalar { shape: t.dims().to_vec() });
                }
                Ok(t.ones_like()?)
            })
            .collect::<Result<_>>()?,
    };
    let mut capture =
        Capture { leaves: PtrMap::default(), outputs: HashMap::new(), grads: vec![None; inputs.len()] };
    for (i, input) in inputs.iter().enumerate() {
        if !input.requires_grad() {
            return Err(Error::NoGradFn { what: format!("input {i} of grad()") });
        }
        match &input.0.grad_fn {
            Some((node, nr)) => capture.outputs.entry((node_key(node), *nr)).or_default().push(i),
            None => capture.leaves.entry(leaf_key(&input.0)).or_default().push(i),
        }
    }
    let _mode = set_grad_enabled(options.create_graph);
    let mut pass = Pass::new(options.retain_graph || options.create_graph, Some(capture));
    execute(&mut pass, outputs, &grads)?;
    let result = pass.capture.map(|c| c.grads).unwrap_or_default();
    if !options.allow_unused
        && let Some(index) = result.iter().position(Option::is_none)
    {
        return Err(Error::UnusedInput { index });
    }
    Ok(result)
}
