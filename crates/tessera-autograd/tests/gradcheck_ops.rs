//! Every differentiable op against finite differences (f64, full Jacobian) over random shapes,
//! broadcasting included.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use tessera_autograd::{
    Conv2dOptions, DType, Device, GradcheckOptions, Result, Tensor, Var, binary_cross_entropy_with_logits,
    cat, conv2d, cross_entropy, dropout, embedding, gradcheck, layer_norm, linear, mse_loss, stack,
};
use tessera_tensor::SeededRng;

mod common;
use common::{broadcast_pair, normal, shape, uniform};

/// Values at least `gap` away from zero (for kinks at 0).
fn away_from_zero(dims: &[usize], seed: u64, gap: f64) -> Tensor {
    let t = normal(dims, seed);
    let sign = t.ge(0.0).unwrap().to_dtype(DType::F64).unwrap().affine(2.0, -1.0).unwrap();
    t.abs().unwrap().affine(1.0, gap).unwrap().mul(&sign).unwrap()
}

fn check(f: impl Fn(&[Var]) -> Result<Var>, inputs: &[Tensor]) {
    let report = gradcheck(f, inputs, GradcheckOptions::default()).unwrap();
    assert!(report.passed, "{report}");
    assert!(report.checked > 0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, .. ProptestConfig::default() })]

    #[test]
    fn binary_ops_broadcast((a, b) in broadcast_pair(), swap in any::<bool>(), seed in 0u64..1000) {
        let (a, b) = if swap { (b, a) } else { (a, b) };
        let (x, y) = (normal(&a, seed), uniform(&b, seed + 1, 0.5, 2.0));
        check(|v| v[0].add(&v[1]), &[x.clone(), y.clone()]);
        check(|v| v[0].sub(&v[1]), &[x.clone(), y.clone()]);
        check(|v| v[0].mul(&v[1]), &[x.clone(), y.clone()]);
        check(|v| v[0].div(&v[1]), &[x.clone(), y.clone()]);
        check(|v| v[1].pow(&v[0].affine(0.3, 0.0)?), &[x, y]);
    }

    #[test]
    fn unary_math(dims in shape(), seed in 0u64..1000) {
        let x = normal(&dims, seed);
        let pos = uniform(&dims, seed, 0.3, 3.0);
        let kinked = away_from_zero(&dims, seed, 0.1);
        check(|v| v[0].exp(), std::slice::from_ref(&x));
        check(|v| v[0].log(), std::slice::from_ref(&pos));
        check(|v| v[0].sqrt(), std::slice::from_ref(&pos));
        check(|v| v[0].recip(), std::slice::from_ref(&pos));
        check(|v| v[0].powf(2.5), std::slice::from_ref(&pos));
        check(|v| v[0].powf(3.0), std::slice::from_ref(&x));
        check(|v| v[0].sqr(), std::slice::from_ref(&x));
        check(|v| v[0].neg()?.affine(2.0, 1.0), std::slice::from_ref(&x));
        check(|v| v[0].abs(), std::slice::from_ref(&kinked));
        check(|v| v[0].erf(), std::slice::from_ref(&x));
        // Inputs 0.1 or more away from the bounds +-0.5 (where clamp has kinks).
        let clampable = kinked.affine(1.0, 0.5).unwrap();
        check(|v| v[0].clamp(0.0, 1.0), &[clampable]);
    }

    #[test]
    fn activations(dims in shape(), seed in 0u64..1000) {
        let x = normal(&dims, seed);
        check(|v| v[0].relu(), &[away_from_zero(&dims, seed, 0.1)]);
        check(|v| v[0].sigmoid(), std::slice::from_ref(&x));
        check(|v| v[0].tanh(), std::slice::from_ref(&x));
        check(|v| v[0].gelu(), std::slice::from_ref(&x));
        check(|v| v[0].gelu_erf(), std::slice::from_ref(&x));
        check(|v| v[0].quick_gelu(), std::slice::from_ref(&x));
        check(|v| v[0].silu(), std::slice::from_ref(&x));
        let dim = seed as usize % dims.len();
        check(|v| v[0].softmax(dim), std::slice::from_ref(&x));
        check(|v| v[0].log_softmax(dim), std::slice::from_ref(&x));
    }

    #[test]
    fn reductions(dims in shape(), seed in 0u64..1000, keepdim in any::<bool>()) {
        let x = normal(&dims, seed);
        let dim = seed as usize % dims.len();
        check(|v| v[0].sum_all(), std::slice::from_ref(&x));
        check(|v| v[0].mean_all(), std::slice::from_ref(&x));
        check(|v| v[0].sum(&[dim], keepdim), std::slice::from_ref(&x));
        check(|v| v[0].mean(&[dim], keepdim), std::slice::from_ref(&x));
        if dims.len() > 1 {
            check(|v| v[0].sum(&[0, dims.len() - 1], keepdim), std::slice::from_ref(&x));
        }
        // Distinct values so the maximum is unique and finite differences do not cross it.
        let n: usize = dims.iter().product();
        let mut values: Vec<f64> = (0..n).map(|i| i as f64 * 0.37).collect();
        SeededRng::new(seed).shuffle(&mut values);
        let spread = Tensor::from_vec(values, dims.clone(), &Device::Cpu).unwrap();
        check(|v| v[0].max(dim, keepdim), std::slice::from_ref(&spread));
        check(|v| v[0].min(dim, keepdim), std::slice::from_ref(&spread));
    }

    #[test]
    fn matmul_batched_and_broadcast(m in 1usize..4, k in 1usize..4, n in 1usize..4, batch in 1usize..3, seed in 0u64..1000) {
        check(|v| v[0].matmul(&v[1]), &[normal(&[m, k], seed), normal(&[k, n], seed + 1)]);
        check(|v| v[0].matmul(&v[1]), &[normal(&[batch, m, k], seed), normal(&[batch, k, n], seed + 1)]);
        check(|v| v[0].matmul(&v[1]), &[normal(&[2, batch, m, k], seed), normal(&[k, n], seed + 1)]);
        check(|v| v[0].matmul(&v[1]), &[normal(&[batch, 1, m, k], seed), normal(&[2, k, n], seed + 1)]);
        check(|v| v[0].t()?.matmul(&v[1]), &[normal(&[k, m], seed), normal(&[k, n], seed + 1)]);
        check(|v| linear(&v[0], &v[1], Some(&v[2])), &[normal(&[batch, 2, k], seed), normal(&[n, k], seed + 1), normal(&[n], seed + 2)]);
    }

    #[test]
    fn shape_ops(dims in prop::collection::vec(1usize..4, 2..4), seed in 0u64..1000) {
        let x = normal(&dims, seed);
        let r = dims.len();
        let n: usize = dims.iter().product();
        check(|v| v[0].reshape(&[n]), std::slice::from_ref(&x));
        check(|v| v[0].flatten(0, r - 1)?.unsqueeze(0)?.squeeze(0), std::slice::from_ref(&x));
        let perm: Vec<usize> = (0..r).rev().collect();
        check(|v| v[0].permute(&perm)?.mul(&Var::constant(normal(&dims.iter().rev().copied().collect::<Vec<_>>(), 7))), std::slice::from_ref(&x));
        check(|v| v[0].transpose(0, r - 1)?.exp(), std::slice::from_ref(&x));
        let last = dims[r - 1];
        let start = seed as usize % last;
        check(|v| v[0].narrow(r - 1, start, last - start), std::slice::from_ref(&x));
        check(|v| v[0].slice(0, 0, 1), std::slice::from_ref(&x));
        check(|v| v[0].pad_zeros(0, 1, 2), std::slice::from_ref(&x));
        check(|v| v[0].broadcast_as(&[2].iter().chain(dims.iter()).copied().collect::<Vec<_>>()), std::slice::from_ref(&x));
        check(|v| cat(&[&v[0], &v[1]], 0), &[x.clone(), normal(&dims, seed + 1)]);
        check(|v| cat(&[&v[0], &v[1]], r - 1), &[x.clone(), normal(&dims, seed + 1)]);
        check(|v| stack(&[&v[0], &v[1]], 1), &[x.clone(), normal(&dims, seed + 1)]);
    }

    #[test]
    fn indexing(rows in 1usize..5, cols in 1usize..4, picks in prop::collection::vec(0u32..16, 1..6), seed in 0u64..1000) {
        let x = normal(&[rows, cols], seed);
        // Repeated indices accumulate.
        let idx: Vec<u32> = picks.iter().map(|p| p % rows as u32).collect();
        let index = Tensor::new(idx.as_slice(), &Device::Cpu).unwrap();
        check(|v| v[0].index_select(&index, 0), std::slice::from_ref(&x));
        // Gradients arriving non-contiguous (through a transpose) into index_select's backward.
        check(|v| v[0].index_select(&index, 0)?.t()?.exp(), std::slice::from_ref(&x));
        check(|v| v[0].t()?.index_select(&index, 1)?.t(), std::slice::from_ref(&x));
        let gather_idx: Vec<u32> = (0..rows * 2).map(|i| picks[i % picks.len()] % cols as u32).collect();
        let gather_idx = Tensor::from_vec(gather_idx, (rows, 2), &Device::Cpu).unwrap();
        check(|v| v[0].gather(&gather_idx, 1), std::slice::from_ref(&x));
        let ids = Tensor::from_vec(idx.clone(), (1, idx.len()), &Device::Cpu).unwrap();
        check(|v| embedding(&ids, &v[0]), std::slice::from_ref(&x));
    }

    #[test]
    fn nn_ops(batch in 1usize..3, features in 2usize..5, seed in 0u64..1000) {
        let x = normal(&[batch, 2, features], seed);
        let w = normal(&[features], seed + 1);
        let b = normal(&[features], seed + 2);
        check(|v| layer_norm(&v[0], &[features], Some(&v[1]), Some(&v[2]), 1e-5), &[x.clone(), w, b]);
        check(|v| layer_norm(&v[0], &[2, features], None, None, 1e-5), std::slice::from_ref(&x));
        check(|v| { let mut rng = SeededRng::new(seed); dropout(&v[0], 0.3, true, &mut rng) }, std::slice::from_ref(&x));
    }

    #[test]
    fn losses(batch in 1usize..4, classes in 2usize..5, smoothing in 0.0f64..0.3, seed in 0u64..1000) {
        let logits = normal(&[batch, classes], seed);
        let targets: Vec<u32> = (0..batch).map(|i| ((seed as usize + i * 7) % classes) as u32).collect();
        let targets = Tensor::new(targets.as_slice(), &Device::Cpu).unwrap();
        check(|v| cross_entropy(&v[0], &targets, smoothing), std::slice::from_ref(&logits));
        check(|v| cross_entropy(&v[0], &targets, 0.0), std::slice::from_ref(&logits));
        let y = uniform(&[batch, classes], seed + 3, 0.0, 1.0);
        check(|v| mse_loss(&v[0], &v[1]), &[logits.clone(), y.clone()]);
        check(|v| binary_cross_entropy_with_logits(&v[0], &v[1]), &[logits, y]);
    }

    #[test]
    fn convolution(cin in 1usize..3, cout in 1usize..3, size in 3usize..6, k in 1usize..4, stride in 1usize..3, padding in 0usize..2, dilation in 1usize..3, seed in 0u64..1000) {
        prop_assume!(size + 2 * padding > dilation * (k - 1));
        let x = normal(&[1, cin, size, size + 1], seed);
        let w = normal(&[cout, cin, k, k], seed + 1);
        let b = normal(&[cout], seed + 2);
        let options = Conv2dOptions { stride, padding, dilation, groups: 1 };
        check(|v| conv2d(&v[0], &v[1], Some(&v[2]), options), &[x, w, b]);
    }

    #[test]
    fn grouped_convolution(groups in 1usize..3, seed in 0u64..1000) {
        let x = normal(&[2, 2 * groups, 4, 4], seed);
        let w = normal(&[2 * groups, 2, 3, 3], seed + 1);
        let options = Conv2dOptions { stride: 1, padding: 1, dilation: 1, groups };
        check(|v| conv2d(&v[0], &v[1], None, options), &[x, w]);
    }
}

#[test]
fn gradcheck_reports_a_wrong_gradient() {
    // A custom function with a deliberately wrong backward must fail, naming the element.
    struct Wrong;
    impl tessera_autograd::Function for Wrong {
        fn forward(&self, _: &mut tessera_autograd::FunctionCtx, x: &[Tensor]) -> Result<Vec<Tensor>> {
            Ok(vec![x[0].sqr()?])
        }
        fn backward(&self, _: &tessera_autograd::FunctionCtx, g: &[Tensor]) -> Result<Vec<Option<Tensor>>> {
            Ok(vec![Some(g[0].clone())])
        }
    }
    let report = gradcheck(
        |v| Ok(tessera_autograd::apply(Wrong, &[&v[0]])?.remove(0)),
        &[Tensor::new(&[3.0f64, 1.0], &Device::Cpu).unwrap()],
        GradcheckOptions::default(),
    )
    .unwrap();
    assert!(!report.passed);
    let worst = report.worst.unwrap();
    assert_eq!((worst.input, worst.input_element, worst.output_element), (0, 0, 0));
    assert!((worst.numerical - 6.0).abs() < 1e-6 && worst.analytical == 1.0);
    assert!(report.to_string().contains("FAILED"));
}

#[test]
fn second_derivatives_match_finite_differences() {
    use tessera_autograd::{GradOptions, grad};
    // Gradient of a function of the gradient: d/dx of sum(d(sum f)/dx) checked by gradcheck.
    let f = |v: &[Var]| -> Result<Var> {
        let y = v[0].matmul(&v[1])?.tanh()?.sum_all()?.add(&v[0].exp()?.mean_all()?)?;
        let opts = GradOptions { create_graph: true, ..GradOptions::default() };
        let g = grad(&[y], &v[..2], None, opts)?;
        g[0].as_ref().unwrap().sqr()?.sum_all()?.add(&g[1].as_ref().unwrap().sum_all()?)
    };
    check(f, &[normal(&[2, 3], 1), normal(&[3, 2], 2)]);
    let g = |v: &[Var]| -> Result<Var> {
        let y = v[0].softmax(1)?.mul(&v[0].sigmoid()?)?.log_softmax(0)?.sum(&[1], false)?.max(0, false)?;
        let opts = GradOptions { create_graph: true, ..GradOptions::default() };
        grad(&[y], &v[..1], None, opts)?.remove(0).unwrap().sum_all()
    };
    check(g, &[normal(&[3, 2], 3)]);
}
