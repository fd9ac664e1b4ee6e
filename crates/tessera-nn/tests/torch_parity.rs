//! Gradients of a composite model against PyTorch's (fixtures from scripts/autograd_parity.py):
//! embedding, layer norm, masked multi-head attention, GELU MLP, cross entropy with label
//! smoothing, and a strided conv2d. The reference ran in f64 from the same f32 parameters.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use candle_core::{DType, Device, Tensor};
use tessera_autograd::{Conv2dOptions, Var, conv2d, cross_entropy};
use tessera_nn::{
    Activation, AttentionMask, Embedding, LayerNorm, Linear, Mlp, Module, ModuleExt, MultiheadAttention,
};
use tessera_tensor::{SafetensorsFile, SeededRng};

const VOCAB: usize = 11;
const DIM: usize = 8;
const CLASSES: usize = 5;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

struct Composite {
    tok: Embedding,
    ln: LayerNorm,
    attn: MultiheadAttention,
    ln2: LayerNorm,
    mlp: Mlp,
    head: Linear,
}

impl Composite {
    fn new() -> Composite {
        let mut rng = SeededRng::new(1);
        Composite {
            tok: Embedding::new(VOCAB, DIM, &mut rng).unwrap(),
            ln: LayerNorm::new(&[DIM], 1e-5).unwrap(),
            attn: MultiheadAttention::new(DIM, 2, &mut rng).unwrap(),
            ln2: LayerNorm::new(&[DIM], 1e-5).unwrap(),
            mlp: Mlp::new(DIM, 16, DIM, Activation::Gelu, &mut rng).unwrap(),
            head: Linear::new(DIM, CLASSES, true, &mut rng).unwrap(),
        }
    }

    fn loss(&self, ids: &Tensor, padding: &Tensor, targets: &Tensor) -> tessera_nn::Result<Var> {
        let x = self.tok.lookup(ids)?;
        let h = self.ln.forward(&x)?;
        let mask = AttentionMask { causal: true, key_padding_mask: Some(padding) };
        let x = x.add(&self.attn.attend(&h, &h, &h, mask)?)?;
        let x = x.add(&self.mlp.forward(&self.ln2.forward(&x)?)?)?;
        let logits = self.head.forward(&x)?;
        let n = targets.elem_count();
        Ok(cross_entropy(&logits.reshape(&[n, CLASSES])?, &targets.flatten_all()?, 0.1)?)
    }
}

impl Module for Composite {
    fn forward(&self, x: &Var) -> tessera_nn::Result<Var> {
        Ok(x.clone())
    }

    fn visit_parameters(&self, prefix: &str, f: &mut dyn FnMut(String, &Var)) {
        use tessera_nn::join;
        self.tok.visit_parameters(&join(prefix, "tok"), f);
        self.ln.visit_parameters(&join(prefix, "ln"), f);
        self.attn.visit_parameters(&join(prefix, "attn"), f);
        self.ln2.visit_parameters(&join(prefix, "ln2"), f);
        self.mlp.visit_parameters(&join(prefix, "mlp"), f);
        self.head.visit_parameters(&join(prefix, "head"), f);
    }
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    let a = a.to_dtype(DType::F64).unwrap();
    let b = b.to_dtype(DType::F64).unwrap();
    a.sub(&b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f64>().unwrap()
}

fn check_composite(dtype: DType, tolerance: f64) {
    let model = Composite::new();
    // Strict: every parameter name matches PyTorch's state_dict.
    let report = model.load_safetensors(fixture("composite_model.safetensors"), true).unwrap();
    assert_eq!(report.loaded.len(), 15);
    if dtype != DType::F32 {
        for (_, p) in model.named_parameters() {
            p.set_data(p.tensor().to_dtype(dtype).unwrap()).unwrap();
        }
    }
    let expected = SafetensorsFile::open(fixture("composite_expected.safetensors")).unwrap();
    let load = |name: &str| expected.load(name, &Device::Cpu).unwrap();
    let loss = model.loss(&load("ids"), &load("padding"), &load("targets")).unwrap();
    let want_loss = load("loss").to_dtype(DType::F64).unwrap().to_vec1::<f64>().unwrap()[0];
    assert!((loss.to_scalar_f64().unwrap() - want_loss).abs() < tolerance, "loss {loss:?} vs {want_loss}");
    loss.backward().unwrap();
    let mut worst = (String::new(), 0.0);
    for (name, p) in model.named_parameters() {
        let d = max_abs_diff(&p.grad().unwrap(), &load(&format!("grad.{name}")));
        if d > worst.1 {
            worst = (name, d);
        }
    }
    assert!(worst.1 <= tolerance, "{dtype:?}: gradient of {} differs by {:.3e}", worst.0, worst.1);
}

#[test]
fn composite_gradients_match_pytorch_f32() {
    check_composite(DType::F32, 1e-5);
}

#[test]
fn composite_gradients_match_pytorch_f64() {
    check_composite(DType::F64, 1e-10);
}

#[test]
fn conv2d_gradients_match_pytorch() {
    let expected = SafetensorsFile::open(fixture("composite_expected.safetensors")).unwrap();
    let load = |name: &str| expected.load(name, &Device::Cpu).unwrap();
    for (dtype, tolerance) in [(DType::F32, 1e-5), (DType::F64, 1e-10)] {
        let x = Var::parameter(load("conv.x").to_dtype(dtype).unwrap());
        let w = Var::parameter(load("conv.w").to_dtype(dtype).unwrap());
        let b = Var::parameter(load("conv.b").to_dtype(dtype).unwrap());
        let options = Conv2dOptions { stride: 2, padding: 1, dilation: 1, groups: 1 };
        let y = conv2d(&x, &w, Some(&b), options).unwrap();
        let loss = y.tanh().unwrap().sqr().unwrap().sum_all().unwrap();
        let want = load("conv.loss").to_vec1::<f64>().unwrap()[0];
        // The loss sums 2 x 4 x 4 x 3 terms: its rounding error scales with that.
        assert!((loss.to_scalar_f64().unwrap() - want).abs() < tolerance * 100.0);
        loss.backward().unwrap();
        for (name, v) in [("x", &x), ("w", &w), ("b", &b)] {
            let d = max_abs_diff(&v.grad().unwrap(), &load(&format!("conv.grad.{name}")));
            assert!(d <= tolerance, "{dtype:?} conv grad {name} differs by {d:.3e}");
        }
    }
}

#[test]
fn optimizers_follow_pytorch_trajectories() {
    use tessera_nn::{Adam, AdamConfig, Optimizer, Sgd, SgdConfig};
    let expected = SafetensorsFile::open(fixture("composite_expected.safetensors")).unwrap();
    let load = |name: &str| expected.load(name, &Device::Cpu).unwrap();
    let (start, grads) = (load("optim.start"), load("optim.grads"));
    type Make = fn(Vec<(String, Var)>) -> Box<dyn Optimizer>;
    let cases: [(&str, Make); 5] = [
        ("sgd", |p| Box::new(Sgd::new(p, SgdConfig { lr: 0.1, ..SgdConfig::default() }).unwrap())),
        ("sgd_momentum", |p| {
            let c = SgdConfig { lr: 0.1, momentum: 0.9, dampening: 0.1, weight_decay: 0.01, nesterov: false };
            Box::new(Sgd::new(p, c).unwrap())
        }),
        ("sgd_nesterov", |p| {
            let c = SgdConfig { lr: 0.1, momentum: 0.9, dampening: 0.0, weight_decay: 0.01, nesterov: true };
            Box::new(Sgd::new(p, c).unwrap())
        }),
        ("adam", |p| {
            Box::new(
                Adam::new(p, AdamConfig { weight_decay: 0.01, ..AdamConfig::adam().with_lr(0.01) }).unwrap(),
            )
        }),
        ("adamw", |p| {
            let c = AdamConfig {
                lr: 0.01,
                betas: (0.8, 0.99),
                eps: 1e-6,
                weight_decay: 0.1,
                decoupled_weight_decay: true,
            };
            Box::new(Adam::new(p, c).unwrap())
        }),
    ];
    for (name, make) in cases {
        let p = Var::parameter(start.copy().unwrap());
        let mut opt = make(vec![("p".to_string(), p.clone())]);
        let want = load(&format!("optim.{name}"));
        for step in 0..grads.dims()[0] {
            p.set_grad(Some(grads.get(step).unwrap())).unwrap();
            opt.step().unwrap();
            let d = max_abs_diff(&p.tensor(), &want.get(step).unwrap());
            assert!(d < 2e-6, "{name} step {step}: differs from PyTorch by {d:.3e}");
        }
    }
}

#[test]
fn clip_grad_norm_matches_pytorch() {
    let expected = SafetensorsFile::open(fixture("composite_expected.safetensors")).unwrap();
    let load = |name: &str| expected.load(name, &Device::Cpu).unwrap();
    let a = Var::parameter(load("clip.a").zeros_like().unwrap());
    let b = Var::parameter(load("clip.b").zeros_like().unwrap());
    a.set_grad(Some(load("clip.a"))).unwrap();
    b.set_grad(Some(load("clip.b"))).unwrap();
    let norm = tessera_nn::clip_grad_norm(&[a.clone(), b.clone()], 1.5).unwrap();
    assert!((norm - load("clip.norm").to_vec1::<f32>().unwrap()[0] as f64).abs() < 1e-5);
    assert!(max_abs_diff(&a.grad().unwrap(), &load("clip.a_clipped")) < 1e-6);
    assert!(max_abs_diff(&b.grad().unwrap(), &load("clip.b_clipped")) < 1e-6);
}
