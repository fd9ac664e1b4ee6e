//! `tessera vlm train`: a small CLIP or SigLIP trained from scratch on the embedded digits, saved as a
//! Hugging Face folder.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde_json::json;
use tessera_vlm::Arch;
use tessera_vlm::train::{TrainOptions, train_digits};

use crate::CliError;

/// `--arch`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ArchArg {
    /// CLIP: symmetric InfoNCE with a learned temperature.
    Clip,
    /// SigLIP: the pairwise sigmoid loss with a learned scale and bias.
    Siglip,
}

/// `tessera vlm train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// The architecture and its loss.
    #[arg(long, value_enum)]
    arch: ArchArg,
    /// The folder the trained model is saved to (config, weights, tokenizer, processor); created.
    #[arg(long)]
    out: PathBuf,
    /// Seeds the split, the weights, the batch order and the captions.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Passes over the training images (default: the architecture's).
    #[arg(long)]
    epochs: Option<usize>,
    /// Pairs per optimizer step (default: the architecture's).
    #[arg(long)]
    batch_size: Option<usize>,
    /// Micro-batches per step with cached features (a large batch in small memory).
    #[arg(long, default_value_t = 1)]
    accumulation: usize,
    /// Peak learning rate of AdamW (default: the architecture's).
    #[arg(long)]
    lr: Option<f64>,
    /// Width of both towers (default: the architecture's).
    #[arg(long)]
    width: Option<usize>,
    /// Transformer layers per tower.
    #[arg(long)]
    layers: Option<usize>,
    /// Print one JSON object (accuracy, losses, sizes, seconds) on stdout.
    #[arg(long)]
    json: bool,
}

/// Trains, saves and reports.
pub fn train(a: TrainArgs) -> Result<(), CliError> {
    let arch = match a.arch {
        ArchArg::Clip => Arch::Clip,
        ArchArg::Siglip => Arch::Siglip,
    };
    if a.out.exists() && !a.out.is_dir() {
        return Err(CliError::Usage(format!("--out {}: exists and is not a folder", a.out.display())));
    }
    let mut o = TrainOptions::new(arch);
    o.seed = a.seed;
    o.accumulation = a.accumulation;
    o.epochs = a.epochs.unwrap_or(o.epochs);
    o.batch_size = a.batch_size.unwrap_or(o.batch_size);
    o.lr = a.lr.unwrap_or(o.lr);
    o.width = a.width.unwrap_or(o.width);
    o.layers = a.layers.unwrap_or(o.layers);
    let bar = crate::progress::counted(0, "step");
    let report = train_digits(&o, &mut |p| {
        bar.set_length(p.total_steps as u64);
        bar.set_position(p.step as u64);
        bar.set_message(format!("loss {:.3}", p.loss));
    })?;
    bar.finish_and_clear();
    report.vlm.save_pretrained(&a.out)?;
    let summary = json!({
        "arch": arch.model_type(),
        "out": a.out.display().to_string(),
        "zero_shot_accuracy": report.zero_shot_accuracy,
        "test_images": report.test_images,
        "train_images": report.train_images,
        "epoch_losses": report.epoch_losses,
        "seconds": report.seconds,
    });
    if a.json {
        println!("{summary}");
    } else {
        println!(
            "{}: zero-shot accuracy {:.1}% on {} held-out digits (template \"{}\"), {} epochs in {:.1} s; saved to {}",
            arch.model_type(),
            100.0 * report.zero_shot_accuracy,
            report.test_images,
            tessera_vlm::train::digits::HELD_OUT_TEMPLATE,
            o.epochs,
            report.seconds,
            a.out.display()
        );
    }
    Ok(())
}
