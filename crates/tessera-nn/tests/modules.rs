//! Module naming, state dicts, train/eval, optimizer state, schedules and error reporting.
#![allow(clippy::unwrap_used)]

use candle_core::{DType, Device, Tensor};
use proptest::prelude::*;
use tessera_autograd::{Conv2dOptions, Var};
use tessera_nn::{
    Activation, Adam, AdamConfig, Conv2d, Dropout, Embedding, Error, LayerNorm, Linear, LrSchedule, Mlp,
    Module, ModuleExt, MultiheadAttention, Optimizer, Sequential, Sgd, SgdConfig, WarmupCosine,
    clip_grad_norm,
};
use tessera_tensor::SeededRng;

fn names(m: &dyn Module) -> Vec<String> {
    m.named_parameters().into_iter().map(|(n, _)| n).collect()
}

fn mlp(seed: u64, width: usize) -> Sequential {
    let mut rng = SeededRng::new(seed);
    Sequential::new()
        .add(Linear::new(5, width, true, &mut rng).unwrap())
        .add(Activation::Gelu)
        .add(LayerNorm::new(&[width], 1e-5).unwrap())
        .add(Linear::new(width, 3, false, &mut rng).unwrap())
}

fn input(seed: u64, rows: usize) -> Var {
    Var::constant(SeededRng::new(seed).normal_tensor(&[rows, 5], 0.0, 1.0, DType::F32, &Device::Cpu).unwrap())
}

#[test]
fn parameter_names_follow_pytorch() {
    assert_eq!(names(&mlp(0, 4)), ["0.weight", "0.bias", "2.weight", "2.bias", "3.weight"]);
    let mut rng = SeededRng::new(0);
    let m = Mlp::new(4, 8, 4, Activation::QuickGelu, &mut rng).unwrap();
    assert_eq!(names(&m), ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]);
    let a = MultiheadAttention::new(8, 2, &mut rng).unwrap();
    assert_eq!(names(&a), ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]);
    let c = Conv2d::new(3, 6, 3, Conv2dOptions { groups: 3, ..Default::default() }, true, &mut rng).unwrap();
    assert_eq!(c.weight.dims(), [6, 1, 3, 3]);
    assert_eq!(mlp(0, 4).num_parameters(), 5 * 4 + 4 + 4 + 4 + 4 * 3);
}

#[test]
fn initialisers_use_pytorch_bounds() {
    let mut rng = SeededRng::new(3);
    let l = Linear::new(100, 50, true, &mut rng).unwrap();
    let bound = 0.1f32;
    for v in [&l.weight, l.bias.as_ref().unwrap()] {
        let values = v.to_vec_f32().unwrap();
        assert!(values.iter().all(|x| x.abs() <= bound));
        assert!(values.iter().any(|x| x.abs() > 0.9 * bound));
    }
    let e = Embedding::new(1000, 10, &mut rng).unwrap().weight.to_vec_f32().unwrap();
    let mean = e.iter().sum::<f32>() / e.len() as f32;
    let std = (e.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / e.len() as f32).sqrt();
    assert!(mean.abs() < 0.05 && (std - 1.0).abs() < 0.05, "mean {mean} std {std}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, .. ProptestConfig::default() })]

    #[test]
    fn saved_and_loaded_models_predict_identically(width in 1usize..20, seed in 0u64..1000) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.safetensors");
        let trained = mlp(seed, width);
        trained.save_safetensors(&path).unwrap();
        let fresh = mlp(seed + 1, width);
        let report = fresh.load_safetensors(&path, true).unwrap();
        prop_assert_eq!(report.loaded.len(), 5);
        let x = input(seed, 7);
        let (a, b) = (trained.forward(&x).unwrap().to_vec_f32().unwrap(), fresh.forward(&x).unwrap().to_vec_f32().unwrap());
        prop_assert_eq!(a.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), b.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
    }
}

#[test]
fn state_dict_mismatches_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    mlp(0, 4).save_safetensors(&path).unwrap();
    let mut rng = SeededRng::new(0);
    let other = Sequential::new().add(Linear::new(5, 4, true, &mut rng).unwrap());
    match other.load_safetensors(&path, true) {
        Err(Error::StateDictMismatch { unexpected, missing, .. }) => {
            assert!(missing.is_empty());
            assert_eq!(unexpected, ["2.bias", "2.weight", "3.weight"]);
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }
    let report = other.load_safetensors(&path, false).unwrap();
    assert_eq!(report.loaded, ["0.weight", "0.bias"]);
    // A shape mismatch names the tensor and leaves the module untouched.
    let wide = mlp(1, 6);
    let before = wide.state_dict();
    let err = wide.load_safetensors(&path, true).unwrap_err().to_string();
    assert!(err.contains("0.weight"), "{err}");
    for ((_, a), (_, b)) in before.iter().zip(wide.state_dict()) {
        assert_eq!(a.to_vec2::<f32>().ok(), b.to_vec2::<f32>().ok());
    }
}

#[test]
fn dropout_obeys_train_and_eval() {
    let model = Sequential::new().add(Dropout::new(0.5, 7).unwrap());
    let x = Var::constant(Tensor::ones((1000,), DType::F32, &Device::Cpu).unwrap());
    let y = model.forward(&x).unwrap().to_vec_f32().unwrap();
    let zeros = y.iter().filter(|v| **v == 0.0).count();
    assert!((400..600).contains(&zeros), "{zeros} zeros");
    assert!(y.iter().all(|v| *v == 0.0 || *v == 2.0));
    model.eval();
    assert!(model.forward(&x).unwrap().to_vec_f32().unwrap().iter().all(|v| *v == 1.0));
    assert!(Dropout::new(1.5, 0).is_err());
}

fn train_steps(model: &Sequential, opt: &mut dyn Optimizer, steps: usize) {
    for s in 0..steps {
        let loss = model.forward(&input(s as u64, 8)).unwrap().sqr().unwrap().mean_all().unwrap();
        opt.zero_grad();
        loss.backward().unwrap();
        opt.step().unwrap();
    }
}

#[test]
fn optimizer_state_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("adam.safetensors");
    let weights = dir.path().join("weights.safetensors");
    let a = mlp(0, 6);
    let mut opt_a = Adam::new(a.named_parameters(), AdamConfig::adamw()).unwrap();
    train_steps(&a, &mut opt_a, 3);
    opt_a.save_state(&state).unwrap();
    a.save_safetensors(&weights).unwrap();

    let b = mlp(5, 6);
    b.load_safetensors(&weights, true).unwrap();
    let mut opt_b = Adam::new(b.named_parameters(), AdamConfig::adamw()).unwrap();
    opt_b.load_state(&state).unwrap();
    train_steps(&a, &mut opt_a, 2);
    train_steps(&b, &mut opt_b, 2);
    for ((_, x), (_, y)) in a.state_dict().iter().zip(b.state_dict()) {
        assert_eq!(
            x.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            y.flatten_all().unwrap().to_vec1::<f32>().unwrap()
        );
    }
    // State of another optimizer kind is refused.
    let mut sgd =
        Sgd::new(b.named_parameters(), SgdConfig { momentum: 0.9, ..SgdConfig::default() }).unwrap();
    assert!(matches!(sgd.load_state(&state), Err(Error::OptimizerState { .. })));
}

#[test]
fn non_f32_and_large_parameters_update_the_same_way() {
    // 100,000 elements take the parallel in-place path in f32 and the copy path in f64.
    let start = SeededRng::new(9).normal_tensor(&[100_000], 0.0, 1.0, DType::F32, &Device::Cpu).unwrap();
    let grad = SeededRng::new(10).normal_tensor(&[100_000], 0.0, 1.0, DType::F32, &Device::Cpu).unwrap();
    // In-place updates write through to every handle of the parameter's buffer (as PyTorch's
    // do), so the parameter gets its own copy.
    let p32 = Var::parameter(start.copy().unwrap());
    let p64 = Var::parameter(start.to_dtype(DType::F64).unwrap());
    let mut o32 = Adam::new(vec![("p".into(), p32.clone())], AdamConfig::adamw()).unwrap();
    let mut o64 = Adam::new(vec![("p".into(), p64.clone())], AdamConfig::adamw()).unwrap();
    for _ in 0..3 {
        p32.set_grad(Some(grad.clone())).unwrap();
        p64.set_grad(Some(grad.to_dtype(DType::F64).unwrap())).unwrap();
        o32.step().unwrap();
        o64.step().unwrap();
    }
    assert_eq!(p64.dtype(), DType::F64);
    let (a, b) = (p32.to_vec_f32().unwrap(), p64.to_vec_f32().unwrap());
    assert!(a == b, "in-place f32 and copied f64 updates differ");
    assert!(a != start.to_vec1::<f32>().unwrap(), "the parameter did not change");
}

#[test]
fn warmup_cosine_schedule() {
    let s = WarmupCosine::new(1.0, 0.1, 10, 110).unwrap();
    assert_eq!(s.lr(0), 0.0);
    assert!((s.lr(5) - 0.5).abs() < 1e-12);
    assert!((s.lr(10) - 1.0).abs() < 1e-12);
    assert!((s.lr(60) - 0.55).abs() < 1e-12);
    assert!((s.lr(110) - 0.1).abs() < 1e-12 && (s.lr(500) - 0.1).abs() < 1e-12);
    assert!((10..110).all(|i| s.lr(i + 1) <= s.lr(i)));
    assert!(WarmupCosine::new(1.0, 2.0, 0, 10).is_err());
    assert!(WarmupCosine::new(1.0, 0.0, 20, 10).is_err());
}

#[test]
fn bad_configurations_are_refused() {
    let mut rng = SeededRng::new(0);
    assert!(Linear::new(0, 3, true, &mut rng).is_err());
    assert!(MultiheadAttention::new(10, 3, &mut rng).is_err());
    assert!(LayerNorm::new(&[], 1e-5).is_err());
    let p = vec![("w".to_string(), Var::parameter(Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap()))];
    assert!(Adam::new(p.clone(), AdamConfig { betas: (1.0, 0.9), ..AdamConfig::adam() }).is_err());
    assert!(Sgd::new(p.clone(), SgdConfig { nesterov: true, ..SgdConfig::default() }).is_err());
    let twice = vec![p[0].clone(), p[0].clone()];
    assert!(Sgd::new(twice, SgdConfig::default()).is_err());
    assert!(clip_grad_norm(&[p[0].1.clone()], 0.0).is_err());
    let e = Linear::new(3, 2, true, &mut rng).unwrap().forward(&input(0, 2)).unwrap_err().to_string();
    assert!(e.contains("linear"), "{e}");
}

#[test]
fn clipping_leaves_small_gradients_alone() {
    let p = Var::parameter(Tensor::zeros(2, DType::F32, &Device::Cpu).unwrap());
    p.set_grad(Some(Tensor::new(&[0.3f32, 0.4], &Device::Cpu).unwrap())).unwrap();
    let norm = clip_grad_norm(std::slice::from_ref(&p), 1.0).unwrap();
    assert!((norm - 0.5).abs() < 1e-7);
    assert_eq!(p.grad().unwrap().to_vec1::<f32>().unwrap(), [0.3, 0.4]);
}
