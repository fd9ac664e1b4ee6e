//! Second derivatives (`create_graph`) of every op family on broadcast and batched shapes, against
//! finite differences of the first derivative: for `f(v)`, the gradient of `sum_i sum(grad(f, v_i)^2)`.
//! A broadcast gradient (stride 0, from a sum) arriving into a batched matmul's backward was once
//! multiplied wrongly; these shapes are the ones that found it.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use tessera_autograd::{
    Device, GradOptions, GradcheckOptions, Result, Tensor, Var, cross_entropy, grad, gradcheck, layer_norm,
    linear, mse_loss,
};

mod common;
use common::{broadcast_pair, normal, uniform};

/// Checks the second derivative of `f` (a scalar function) by finite differences of its gradient: the
/// function checked is `sum over inputs of sum(d f / d v_i)^2`, built with `create_graph`.
fn check2(f: impl Fn(&[Var]) -> Result<Var>, inputs: &[Tensor]) {
    let second = |v: &[Var]| -> Result<Var> {
        let y = f(v)?;
        let opts = GradOptions { create_graph: true, ..GradOptions::default() };
        let grads = grad(&[y], v, None, opts)?;
        let mut total: Option<Var> = None;
        for g in grads.into_iter().flatten() {
            let s = g.sqr()?.sum_all()?;
            total = Some(match total {
                Some(t) => t.add(&s)?,
                None => s,
            });
        }
        Ok(total.unwrap())
    };
    let report =
        gradcheck(second, inputs, GradcheckOptions { atol: 1e-5, rtol: 1e-4, ..Default::default() }).unwrap();
    assert!(report.passed, "{report}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, .. ProptestConfig::default() })]

    #[test]
    fn matmul_batched_broadcast_and_transposed(m in 1usize..4, k in 1usize..4, n in 1usize..4, batch in 1usize..4, seed in 0u64..1000) {
        // The reported case: (2, 3, 5) @ (5, 4), loss on tanh of the product.
        check2(|v| v[0].matmul(&v[1])?.tanh()?.sum_all(), &[normal(&[2, 3, 5], seed), normal(&[5, 4], seed + 1)]);
        check2(|v| v[0].matmul(&v[1])?.tanh()?.sum_all(), &[normal(&[batch, m, k], seed), normal(&[k, n], seed + 1)]);
        check2(|v| v[0].matmul(&v[1])?.sqr()?.mean_all(), &[normal(&[m, k], seed), normal(&[batch, k, n], seed + 1)]);
        check2(|v| v[0].matmul(&v[1])?.tanh()?.sqr()?.sum_all(), &[normal(&[batch, m, k], seed), normal(&[batch, k, n], seed + 1)]);
        check2(|v| v[0].matmul(&v[1])?.tanh()?.sum_all(), &[normal(&[2, batch, m, k], seed), normal(&[batch, k, n], seed + 1)]);
        check2(|v| v[0].matmul(&v[1])?.tanh()?.sum_all(), &[normal(&[batch, 1, m, k], seed), normal(&[2, k, n], seed + 1)]);
        check2(|v| v[0].t()?.matmul(&v[1])?.tanh()?.sum_all(), &[normal(&[batch, k, m], seed), normal(&[batch, k, n], seed + 1)]);
        check2(|v| v[0].matmul(&v[1].t()?)?.tanh()?.sum_all(), &[normal(&[batch, m, k], seed), normal(&[n, k], seed + 1)]);
        check2(|v| v[0].matmul(&v[1])?.sum_all()?.sqr(), &[normal(&[batch, m, k], seed), normal(&[k, n], seed + 1)]);
    }

    #[test]
    fn binary_ops_broadcast((a, b) in broadcast_pair(), swap in any::<bool>(), seed in 0u64..1000) {
        let (a, b) = if swap { (b, a) } else { (a, b) };
        let (x, y) = (normal(&a, seed), uniform(&b, seed + 1, 0.5, 2.0));
        check2(|v| v[0].add(&v[1])?.tanh()?.sum_all(), &[x.clone(), y.clone()]);
        check2(|v| v[0].sub(&v[1])?.sqr()?.sum_all(), &[x.clone(), y.clone()]);
        check2(|v| v[0].mul(&v[1])?.tanh()?.sqr()?.sum_all(), &[x.clone(), y.clone()]);
        check2(|v| v[0].div(&v[1])?.tanh()?.sum_all(), &[x.clone(), y.clone()]);
        check2(|v| v[1].pow(&v[0].affine(0.3, 0.0)?)?.sum_all(), &[x, y]);
    }

    #[test]
    fn unary_reductions_and_shapes(dims in prop::collection::vec(1usize..4, 2..4), seed in 0u64..1000) {
        let x = normal(&dims, seed);
        let r = dims.len();
        let one = std::slice::from_ref(&x);
        check2(|v| v[0].exp()?.mul(&v[0].tanh()?.sqr()?)?.sum_all(), one);
        check2(|v| v[0].sigmoid()?.mul(&v[0])?.mean_all(), one);
        check2(|v| v[0].sum(&[r - 1], true)?.tanh()?.sum_all(), one);
        check2(|v| v[0].mean(&[0], false)?.sqr()?.sum_all(), one);
        check2(|v| v[0].softmax(r - 1)?.mul(&v[0])?.sum_all(), one);
        check2(|v| v[0].log_softmax(0)?.tanh()?.sqr()?.sum_all(), one);
        check2(|v| v[0].transpose(0, r - 1)?.tanh()?.sum_all(), one);
        check2(|v| v[0].broadcast_as(&[2].iter().chain(dims.iter()).copied().collect::<Vec<_>>())?.tanh()?.sqr()?.sum_all(), one);
        let n: usize = dims.iter().product();
        check2(|v| v[0].reshape(&[n])?.tanh()?.sum_all(), one);
        let last = dims[r - 1];
        check2(|v| v[0].narrow(r - 1, 0, last)?.sqr()?.tanh()?.sqr()?.sum_all(), one);
    }

    #[test]
    fn nn_ops_on_batches(batch in 1usize..3, features in 2usize..5, outputs in 1usize..4, seed in 0u64..1000) {
        let x = normal(&[batch, 2, features], seed);
        check2(|v| linear(&v[0], &v[1], Some(&v[2]))?.tanh()?.sum_all(), &[x.clone(), normal(&[outputs, features], seed + 1), normal(&[outputs], seed + 2)]);
        check2(|v| layer_norm(&v[0], &[features], Some(&v[1]), Some(&v[2]), 1e-5)?.tanh()?.sqr()?.sum_all(), &[x.clone(), normal(&[features], seed + 3), normal(&[features], seed + 4)]);
        let target = Var::constant(normal(&[batch, 2, features], seed + 5));
        check2(|v| mse_loss(&v[0], &target), std::slice::from_ref(&x));
        let labels = Tensor::from_vec((0..batch as u32).map(|i| i % features as u32).collect::<Vec<_>>(), batch, &Device::Cpu).unwrap();
        check2(|v| cross_entropy(&v[0], &labels, 0.0), &[normal(&[batch, features], seed + 6)]);
    }
}
