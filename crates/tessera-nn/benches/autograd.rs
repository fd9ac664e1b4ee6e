//! `cargo xtask bench autograd`: tape overhead per op and MLP training steps, tessera against
//! candle's own backprop (PyTorch runs in scripts/bench_autograd.py). Prints one JSON line per case.

use std::io::IsTerminal;
use std::time::Instant;

use candle_core::{DType, Device, Tensor, Var as CandleVar};
use tessera_autograd::{Var, cross_entropy};
use tessera_nn::{Activation, Adam, AdamConfig, Linear, Module, ModuleExt, Optimizer, Sequential};
use tessera_tensor::SeededRng;

const CHAIN: usize = 1000;
const SIZES: [usize; 4] = [784, 512, 512, 10];

fn progress(what: &str) {
    if std::io::stderr().is_terminal() {
        eprintln!("bench: {what} ...");
    }
}

/// Median seconds of `runs` calls after `warmup` calls.
fn time<F: FnMut()>(warmup: usize, runs: usize, mut f: F) -> f64 {
    for _ in 0..warmup {
        f();
    }
    let mut t: Vec<f64> = (0..runs)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[runs / 2]
}

fn emit(bench: &str, implementation: &str, params: &str, field: &str, value: f64) {
    println!(r#"{{"bench":"{bench}","impl":"{implementation}","params":"{params}","{field}":{value:.3}}}"#);
}

type R<T> = Result<T, Box<dyn std::error::Error>>;

fn tape_overhead() -> R<()> {
    progress("tape overhead");
    let dev = Device::Cpu;
    let a = Tensor::new(&[1.0001f32, 0.9999, 1.0002, 0.9998], &dev)?;
    let b = Tensor::new(&[0.001f32, -0.001, 0.002, -0.002], &dev)?;
    let x = Var::parameter(Tensor::new(&[1.0f32, 2.0, 3.0, 4.0], &dev)?);
    let (av, bv) = (Var::constant(a.clone()), Var::constant(b.clone()));
    let secs = time(5, 31, || {
        let mut y = x.clone();
        for _ in 0..CHAIN / 2 {
            y = y.mul(&av).and_then(|y| y.add(&bv)).expect("op");
        }
        y.sum_all().and_then(|s| s.backward()).expect("backward");
        x.zero_grad();
    });
    let params = "1000 ops (mul, add) on f32[4], forward + backward";
    emit("tape overhead per op", "tessera", params, "us_per_op", secs * 1e6 / CHAIN as f64);

    let cx = CandleVar::new(&[1.0f32, 2.0, 3.0, 4.0], &dev)?;
    let secs = time(5, 31, || {
        let mut y = cx.as_tensor().clone();
        for _ in 0..CHAIN / 2 {
            y = y.mul(&a).and_then(|y| y.add(&b)).expect("op");
        }
        let grads = y.sum_all().and_then(|s| s.backward()).expect("backward");
        assert!(grads.get(cx.as_tensor()).is_some());
    });
    emit("tape overhead per op", "candle", params, "us_per_op", secs * 1e6 / CHAIN as f64);
    Ok(())
}

fn batch(rng: &mut SeededRng, n: usize) -> R<(Tensor, Tensor)> {
    let x = rng.normal_tensor(&[n, SIZES[0]], 0.0, 1.0, DType::F32, &Device::Cpu)?;
    let y: Vec<u32> = (0..n).map(|_| rng.below(10) as u32).collect();
    Ok((x, Tensor::from_vec(y, n, &Device::Cpu)?))
}

fn tessera_step(n: usize) -> R<f64> {
    let mut rng = SeededRng::new(0);
    let model = Sequential::new()
        .add(Linear::new(SIZES[0], SIZES[1], true, &mut rng)?)
        .add(Activation::Relu)
        .add(Linear::new(SIZES[1], SIZES[2], true, &mut rng)?)
        .add(Activation::Relu)
        .add(Linear::new(SIZES[2], SIZES[3], true, &mut rng)?);
    let mut opt = Adam::new(model.named_parameters(), AdamConfig::adamw())?;
    let (x, y) = batch(&mut rng, n)?;
    let x = Var::constant(x);
    let runs = if n == 1 { 501 } else { 51 };
    Ok(time(10, runs, || {
        let loss = model.forward(&x).and_then(|l| Ok(cross_entropy(&l, &y, 0.0)?)).expect("forward");
        opt.zero_grad();
        loss.backward().expect("backward");
        opt.step().expect("step");
    }))
}

/// The same step written against candle's own autograd (`Var`, `backward`) with an AdamW update
/// in tensor ops, as candle-nn implements it.
fn candle_step(n: usize) -> R<f64> {
    let dev = Device::Cpu;
    let mut rng = SeededRng::new(0);
    let mut params = Vec::new();
    for w in SIZES.windows(2) {
        let bound = 1.0 / (w[0] as f64).sqrt();
        params.push(CandleVar::from_tensor(&rng.uniform_tensor(
            &[w[1], w[0]],
            -bound,
            bound,
            DType::F32,
            &dev,
        )?)?);
        params.push(CandleVar::from_tensor(&rng.uniform_tensor(
            &[w[1]],
            -bound,
            bound,
            DType::F32,
            &dev,
        )?)?);
    }
    let mut m: Vec<Tensor> = params.iter().map(|p| p.zeros_like()).collect::<Result<_, _>>()?;
    let mut v: Vec<Tensor> = params.iter().map(|p| p.zeros_like()).collect::<Result<_, _>>()?;
    let (x, y) = batch(&mut rng, n)?;
    let (lr, b1, b2, eps, wd) = (1e-3, 0.9f64, 0.999f64, 1e-8, 1e-2);
    let mut t = 0;
    let runs = if n == 1 { 501 } else { 51 };
    let mut step = || -> candle_core::Result<()> {
        let mut h = x.clone();
        for (i, pair) in params.chunks(2).enumerate() {
            h = h.matmul(&pair[0].t()?)?.broadcast_add(&pair[1])?;
            if i < 2 {
                h = h.relu()?;
            }
        }
        let shifted = h.broadcast_sub(&h.max_keepdim(1)?)?;
        let log_p = shifted.broadcast_sub(&shifted.exp()?.sum_keepdim(1)?.log()?)?;
        let loss = log_p.gather(&y.unsqueeze(1)?, 1)?.mean_all()?.neg()?;
        let grads = loss.backward()?;
        t += 1;
        let (bc1, bc2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
        for (i, p) in params.iter().enumerate() {
            let Some(g) = grads.get(p) else { continue };
            m[i] = ((&m[i] * b1)? + (g * (1.0 - b1))?)?;
            v[i] = ((&v[i] * b2)? + (g.sqr()? * (1.0 - b2))?)?;
            let update = ((&m[i] / bc1)? / ((&v[i] / bc2)?.sqrt()? + eps)?)?;
            p.set(&((p.as_tensor() * (1.0 - lr * wd))? - (update * lr)?)?)?;
        }
        Ok(())
    };
    Ok(time(10, runs, || step().expect("candle step")))
}

fn mlp_steps() -> R<()> {
    for n in [128, 1] {
        progress(&format!("MLP step batch {n}"));
        let params = format!("784-512-512-10 ReLU, cross entropy, AdamW, batch {n}");
        let bench = format!("MLP training step, batch {n}");
        emit(&bench, "tessera", &params, "us_per_step", tessera_step(n)? * 1e6);
        emit(&bench, "candle", &params, "us_per_step", candle_step(n)? * 1e6);
    }
    Ok(())
}

fn main() -> R<()> {
    tape_overhead()?;
    mlp_steps()?;
    Ok(())
}
