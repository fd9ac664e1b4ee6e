//! PyTorch semantics of the tape: accumulation, retain_grad, retain_graph, modes, hooks, custom
//! functions, higher derivatives.
#![allow(clippy::unwrap_used)]

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tessera_autograd::{
    BackwardOptions, Device, Error, Function, FunctionCtx, GradOptions, NextFunction, Result, Tensor, Var,
    apply, grad, inference_mode, no_grad,
};

fn t(values: &[f32]) -> Tensor {
    Tensor::new(values, &Device::Cpu).unwrap()
}

fn v(x: &Option<Tensor>) -> Vec<f32> {
    x.as_ref().unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

#[test]
fn gradients_accumulate_until_zero_grad() {
    let x = Var::parameter(t(&[1.0, 2.0]));
    x.mul_scalar(2.0).unwrap().sum_all().unwrap().backward().unwrap();
    assert_eq!(v(&x.grad()), [2.0, 2.0]);
    x.mul_scalar(3.0).unwrap().sum_all().unwrap().backward().unwrap();
    assert_eq!(v(&x.grad()), [5.0, 5.0]);
    x.zero_grad();
    assert!(x.grad().is_none());
}

#[test]
fn shared_inputs_sum_their_contributions() {
    // y = x*x + x: dy/dx = 2x + 1, reached through three edges.
    let x = Var::parameter(t(&[3.0]));
    x.mul(&x).unwrap().add(&x).unwrap().sum_all().unwrap().backward().unwrap();
    assert_eq!(v(&x.grad()), [7.0]);
}

#[test]
fn retain_grad_keeps_non_leaf_gradients() {
    let x = Var::parameter(t(&[1.0, -2.0]));
    let h = x.mul_scalar(2.0).unwrap();
    h.retain_grad();
    assert!(h.retains_grad() && !h.is_leaf());
    let unretained = x.add_scalar(1.0).unwrap();
    h.mul(&h).unwrap().add(&unretained).unwrap().sum_all().unwrap().backward().unwrap();
    assert_eq!(v(&h.grad()), [4.0, -8.0]);
    assert!(unretained.grad().is_none());
    assert_eq!(v(&x.grad()), [9.0, -15.0]);
}

#[test]
fn second_backward_needs_retain_graph() {
    let x = Var::parameter(t(&[2.0]));
    let y = x.exp().unwrap().sum_all().unwrap();
    y.backward().unwrap();
    match y.backward() {
        Err(Error::GraphFreed { node }) => assert_eq!(node, "SumBackward0"),
        other => panic!("expected GraphFreed, got {other:?}"),
    }
    let y = x.exp().unwrap().sum_all().unwrap();
    x.zero_grad();
    y.backward_with_options(None, BackwardOptions { retain_graph: true, create_graph: false }).unwrap();
    y.backward().unwrap();
    let e = 2f32.exp();
    assert!((v(&x.grad())[0] - 2.0 * e).abs() < 1e-4);
    assert!(!y.grad_fn().unwrap().is_alive());
}

#[test]
fn no_grad_and_detach_record_nothing() {
    let x = Var::parameter(t(&[1.0]));
    {
        let _g = no_grad();
        let y = x.mul_scalar(2.0).unwrap();
        assert!(!y.requires_grad() && y.grad_fn().is_none());
        assert!(!tessera_autograd::is_grad_enabled());
        let _inner = tessera_autograd::enable_grad();
        assert!(x.mul_scalar(2.0).unwrap().requires_grad());
    }
    assert!(tessera_autograd::is_grad_enabled());
    let d = x.detach();
    assert!(!d.requires_grad() && d.is_leaf());
    assert!(matches!(d.sum_all().unwrap().backward(), Err(Error::NoGradFn { .. })));
}

#[test]
fn inference_tensors_cannot_be_saved() {
    let w = Var::parameter(t(&[1.0, 2.0]));
    let x = {
        let _g = inference_mode();
        let x = Var::constant(t(&[3.0, 4.0])).mul_scalar(2.0).unwrap();
        assert!(x.is_inference() && tessera_autograd::is_inference_mode());
        assert!(!w.mul(&x).unwrap().requires_grad());
        x
    };
    assert!(!tessera_autograd::is_inference_mode());
    assert!(matches!(w.mul(&x), Err(Error::InferenceTensor { .. })));
}

#[test]
fn hooks_see_and_replace_gradients() {
    let x = Var::parameter(t(&[1.0, 1.0]));
    let seen = Arc::new(AtomicUsize::new(0));
    let s = seen.clone();
    let h = x.register_hook(move |g| {
        s.fetch_add(1, Ordering::SeqCst);
        Some(g.mul_scalar(10.0).unwrap())
    });
    let h = h.unwrap();
    let mid = x.mul_scalar(2.0).unwrap();
    mid.register_hook(|g| Some(g.add_scalar(1.0).unwrap())).unwrap();
    mid.sum_all().unwrap().backward().unwrap();
    // d mid = 1 -> hook on mid makes it 2 -> times 2 -> 4 -> leaf hook -> 40.
    assert_eq!(v(&x.grad()), [40.0, 40.0]);
    assert_eq!(seen.load(Ordering::SeqCst), 1);
    assert!(x.remove_hook(h));
    x.zero_grad();
    x.mul_scalar(2.0).unwrap().sum_all().unwrap().backward().unwrap();
    assert_eq!(v(&x.grad()), [2.0, 2.0]);
}

#[test]
fn post_accumulate_hooks_run_once_the_grad_is_final() {
    let x = Var::parameter(t(&[1.0, 2.0]));
    let calls = Arc::new(std::sync::Mutex::new(Vec::new()));
    let c = calls.clone();
    x.register_post_accumulate_grad_hook(move |p| c.lock().unwrap().push(v(&p.grad()))).unwrap();
    // Three paths into x: the hook must see the sum, once.
    let y = x.mul(&x).unwrap().add(&x).unwrap().sum_all().unwrap();
    y.backward().unwrap();
    assert_eq!(*calls.lock().unwrap(), vec![vec![3.0, 5.0]]);
    assert!(x.mul_scalar(2.0).unwrap().register_post_accumulate_grad_hook(|_| {}).is_err());
}

struct Cube;

impl Function for Cube {
    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("CubeBackward")
    }
    fn forward(&self, ctx: &mut FunctionCtx, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
        ctx.save_for_backward(&[&inputs[0]]);
        let y = inputs[0].powf(3.0)?;
        let count = Tensor::new(&[inputs[0].elem_count() as f32], inputs[0].device())?;
        ctx.mark_non_differentiable(1);
        Ok(vec![y, count])
    }
    fn backward(&self, ctx: &FunctionCtx, grads: &[Tensor]) -> Result<Vec<Option<Tensor>>> {
        let x = &ctx.saved_tensors()[0];
        Ok(vec![Some(grads[0].mul(&x.sqr()?.affine(3.0, 0.0)?)?)])
    }
}

struct WrongShape;

impl Function for WrongShape {
    fn forward(&self, _: &mut FunctionCtx, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
        Ok(vec![inputs[0].clone()])
    }
    fn backward(&self, _: &FunctionCtx, grads: &[Tensor]) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(grads[0].sum_all()?)])
    }
}

#[test]
fn custom_functions_join_the_graph() {
    let x = Var::parameter(t(&[1.0, 2.0]));
    let outs = apply(Cube, &[&x]).unwrap();
    assert_eq!(outs[0].grad_fn().unwrap().name(), "CubeBackward");
    assert!(!outs[1].requires_grad());
    outs[0].mul_scalar(2.0).unwrap().sum_all().unwrap().backward().unwrap();
    assert_eq!(v(&x.grad()), [6.0, 24.0]);

    let y = apply(WrongShape, &[&x]).unwrap().remove(0);
    match y.backward_with(&t(&[1.0, 1.0])) {
        Err(Error::CustomFunction { reason, .. }) => assert!(reason.contains("shape"), "{reason}"),
        other => panic!("expected a custom function error, got {other:?}"),
    }

    // Its backward is once differentiable: a second derivative is an error, not a wrong number.
    let y = apply(Cube, &[&x]).unwrap().remove(0).sum_all().unwrap();
    let opts = GradOptions { create_graph: true, ..GradOptions::default() };
    let g = grad(&[y], std::slice::from_ref(&x), None, opts).unwrap().remove(0).unwrap();
    assert!(matches!(g.sum_all().unwrap().backward(), Err(Error::NotTwiceDifferentiable { .. })));
}

#[test]
fn second_derivative_of_cube_is_six_x() {
    let x = Var::parameter(t(&[-1.5, 0.5, 2.0]));
    let y = x.powf(3.0).unwrap().sum_all().unwrap();
    let opts = GradOptions { create_graph: true, ..GradOptions::default() };
    let dy = grad(&[y], std::slice::from_ref(&x), None, opts).unwrap().remove(0).unwrap();
    assert_eq!(dy.to_vec_f32().unwrap(), [6.75, 0.75, 12.0]);
    assert!(dy.requires_grad());
    dy.sum_all().unwrap().backward().unwrap();
    assert_eq!(v(&x.grad()), [-9.0, 3.0, 12.0]);

    // The same through backward(create_graph): .grad carries a graph.
    let x = Var::parameter(t(&[2.0]));
    let y = x.mul(&x).unwrap().mul(&x).unwrap().sum_all().unwrap();
    y.backward_with_options(None, BackwardOptions { retain_graph: false, create_graph: true }).unwrap();
    let g = x.grad_var().unwrap();
    x.zero_grad();
    g.sum_all().unwrap().backward().unwrap();
    assert_eq!(v(&x.grad()), [12.0]);
}

#[test]
fn grad_fn_is_inspectable() {
    let a = Var::parameter(t(&[1.0]));
    let b = Var::constant(t(&[2.0]));
    let c = a.mul(&b).unwrap().exp().unwrap();
    let f = c.grad_fn().unwrap();
    assert_eq!(f.name(), "ExpBackward0");
    let next = f.next_functions();
    let Some(Some(NextFunction::GradFn(mul))) = next.first() else { panic!("expected MulBackward0") };
    assert_eq!(mul.name(), "MulBackward0");
    let inputs = mul.next_functions();
    assert!(matches!(&inputs[0], Some(NextFunction::AccumulateGrad(v)) if v.same(&a)));
    assert!(inputs[1].is_none());
    assert!(a.is_leaf() && !c.is_leaf() && format!("{c:?}").contains("ExpBackward0"));
}

#[test]
fn clear_errors_for_misuse() {
    let x = Var::parameter(t(&[1.0, 2.0]));
    let y = x.mul_scalar(2.0).unwrap();
    assert!(matches!(y.backward(), Err(Error::NotScalar { .. })));
    assert!(matches!(y.backward_with(&t(&[1.0])), Err(Error::ShapeMismatch { .. })));
    y.backward_with(&t(&[1.0, 0.5])).unwrap();
    assert_eq!(v(&x.grad()), [2.0, 1.0]);
    assert!(y.set_requires_grad(false).is_err());
    assert!(Var::constant(t(&[1.0])).register_hook(|_| None).is_err());
    let unused = Var::parameter(t(&[1.0]));
    let z = x.sum_all().unwrap();
    let opts = GradOptions { retain_graph: true, ..GradOptions::default() };
    assert!(matches!(
        grad(std::slice::from_ref(&z), &[x.clone(), unused.clone()], None, opts),
        Err(Error::UnusedInput { index: 1 })
    ));
    let opts = GradOptions { allow_unused: true, ..GradOptions::default() };
    let g = grad(&[z], &[x.clone(), unused], None, opts).unwrap();
    assert!(g[0].is_some() && g[1].is_none());
    // grad() leaves .grad alone.
    assert_eq!(v(&x.grad()), [2.0, 1.0]);
}

#[test]
fn broadcasting_gradients_reduce_to_input_shapes() {
    let a = Var::parameter(Tensor::ones((2, 3), candle_core::DType::F32, &Device::Cpu).unwrap());
    let b = Var::parameter(t(&[1.0, 2.0, 3.0]));
    let c = Var::parameter(Tensor::ones((2, 1), candle_core::DType::F32, &Device::Cpu).unwrap());
    a.mul(&b).unwrap().add(&c).unwrap().sum_all().unwrap().backward().unwrap();
    assert_eq!(b.grad().unwrap().dims(), [3]);
    assert_eq!(v(&b.grad()), [2.0, 2.0, 2.0]);
    assert_eq!(c.grad().unwrap().dims(), [2, 1]);
    assert_eq!(v(&c.grad()), [3.0, 3.0]);
    assert_eq!(v(&a.grad()), [1.0, 2.0, 3.0, 1.0, 2.0, 3.0]);
}

#[test]
fn variables_cross_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Var>();
    let w = Var::parameter(t(&[1.0, 2.0]));
    let handles: Vec<_> = (0..2)
        .map(|i| {
            let w = w.clone();
            std::thread::spawn(move || {
                let loss = w.mul_scalar(i as f64 + 1.0).unwrap().sum_all().unwrap();
                loss.backward().unwrap();
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(v(&w.grad()), [3.0, 3.0]);
}

#[test]
fn set_data_replaces_leaf_values() {
    let p = Var::parameter(t(&[1.0, 2.0]));
    let y = p.mul(&p).unwrap().sum_all().unwrap();
    p.set_data(t(&[5.0, 5.0])).unwrap();
    y.backward().unwrap();
    // As with PyTorch's `p.data = t`, a graph recorded earlier sees the new value.
    assert_eq!(v(&p.grad()), [10.0, 10.0]);
    assert!(p.set_data(t(&[1.0])).is_err());
}

#[test]
fn long_graphs_drop_without_deep_recursion() {
    // A chain of many recorded ops, dropped without a backward pass (and one after it): dropping must
    // not recurse once per node.
    let x = Var::parameter(t(&[1.0]));
    let mut y = x.clone();
    for _ in 0..200_000 {
        y = y.mul_scalar(1.0).unwrap();
    }
    drop(y);
    let mut y = x.clone();
    for _ in 0..200_000 {
        y = y.add_scalar(0.0).unwrap();
    }
    y.sum_all().unwrap().backward().unwrap();
    assert_eq!(v(&x.grad()), [1.0]);
    // Backward closures that capture their inputs (mul saves both operands).
    let w = Var::parameter(t(&[1.0]));
    let mut y = x.clone();
    for _ in 0..200_000 {
        y = y.mul(&w).unwrap();
    }
    drop(y);
}
