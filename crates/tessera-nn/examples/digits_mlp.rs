//! Trains a 64-256-10 MLP on the embedded digits dataset (8x8 images of handwritten digits) and
//! prints the test accuracy: `cargo run --release -p tessera-nn --example digits_mlp`.

use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use tessera_autograd::{Var, cross_entropy, no_grad};
use tessera_datasets::{load_digits, train_test_split};
use tessera_nn::{
    Activation, Adam, AdamConfig, Dropout, Linear, LrSchedule, Module, ModuleExt, Optimizer, Sequential,
    WarmupCosine,
};
use tessera_tensor::SeededRng;

/// What a training run reached.
pub struct DigitsReport {
    /// Accuracy on the held-out 25%.
    pub test_accuracy: f64,
    /// Mean training loss of the last epoch.
    pub final_loss: f64,
    /// Training rows, test rows.
    pub sizes: (usize, usize),
    /// Seconds spent training.
    pub seconds: f64,
}

fn tensors(ds: &tessera_datasets::Dataset) -> Result<(Tensor, Tensor), Box<dyn std::error::Error>> {
    // Pixel intensities are 0..16; scale them to 0..1.
    let x = ds.features().mapv(|v| v / 16.0);
    let (n, d) = x.dim();
    let x = Tensor::from_vec(x.into_raw_vec_and_offset().0, (n, d), &Device::Cpu)?;
    let y: Vec<u32> = ds.targets().iter().map(|&c| c as u32).collect();
    Ok((x, Tensor::from_vec(y, n, &Device::Cpu)?))
}

/// Trains from `seed` for `epochs` and evaluates on a stratified 75/25 split.
pub fn train(seed: u64, epochs: usize) -> Result<DigitsReport, Box<dyn std::error::Error>> {
    let digits = load_digits();
    let (train, test) = train_test_split(&digits, 0.25, 0, true)?;
    let ((x, y), (xt, yt)) = (tensors(&train)?, tensors(&test)?);
    let mut rng = SeededRng::new(seed);
    let model = Sequential::new()
        .add(Linear::new(64, 256, true, &mut rng)?)
        .add(Activation::Relu)
        .add(Dropout::new(0.1, seed)?)
        .add(Linear::new(256, 10, true, &mut rng)?);
    let batch = 32;
    let n = train.n_samples();
    let steps_per_epoch = n.div_ceil(batch);
    let schedule = WarmupCosine::new(3e-3, 1e-5, steps_per_epoch, epochs * steps_per_epoch)?;
    let mut optimizer = Adam::new(model.named_parameters(), AdamConfig::adamw().with_lr(3e-3))?;
    let started = Instant::now();
    let mut order: Vec<u32> = (0..n as u32).collect();
    let mut step = 0;
    let mut final_loss = 0.0;
    model.train();
    for _ in 0..epochs {
        rng.shuffle(&mut order);
        let mut total = 0.0;
        for chunk in order.chunks(batch) {
            let idx = Tensor::new(chunk, &Device::Cpu)?;
            let xb = Var::constant(x.index_select(&idx, 0)?);
            let loss = cross_entropy(&model.forward(&xb)?, &y.index_select(&idx, 0)?, 0.0)?;
            optimizer.set_learning_rate(schedule.lr(step));
            optimizer.zero_grad();
            loss.backward()?;
            optimizer.step()?;
            total += loss.to_scalar_f64()? * chunk.len() as f64;
            step += 1;
        }
        final_loss = total / n as f64;
    }
    let seconds = started.elapsed().as_secs_f64();
    model.eval();
    let _no_grad = no_grad();
    let predicted = model.forward(&Var::constant(xt))?.tensor().argmax(1)?;
    let correct = predicted.eq(&yt)?.to_dtype(DType::F64)?.sum_all()?.to_scalar::<f64>()?;
    Ok(DigitsReport {
        test_accuracy: correct / test.n_samples() as f64,
        final_loss,
        sizes: (n, test.n_samples()),
        seconds,
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let report = train(0, 40)?;
    println!(
        "digits MLP 64-256-10 (ReLU, dropout 0.1, AdamW, warmup+cosine, 40 epochs): {} train / {} test rows",
        report.sizes.0, report.sizes.1
    );
    println!(
        "final train loss {:.4}, test accuracy {:.2}%, trained in {:.2} s",
        report.final_loss,
        100.0 * report.test_accuracy,
        report.seconds
    );
    Ok(())
}
