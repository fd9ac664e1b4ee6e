//! Trains a small CLIP (or SigLIP: `cargo run --release -p tessera-vlm --example train_digits -- siglip 1`,
//! the last argument a seed) from scratch on the embedded digits and prints the zero-shot accuracy on
//! held-out images with a template never used in training.

use tessera_vlm::Arch;
use tessera_vlm::train::{TrainOptions, train_digits};

fn main() -> Result<(), tessera_vlm::Error> {
    let mut args = std::env::args().skip(1);
    let arch = if args.next().as_deref() == Some("siglip") { Arch::Siglip } else { Arch::Clip };
    let seed = args.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let options = TrainOptions { seed, ..TrainOptions::new(arch) };
    let report = train_digits(&options, &mut |_| {})?;
    println!(
        "{arch:?} seed {seed}: zero-shot accuracy {:.3} on {} held-out images in {:.1} s; loss per epoch {:?}",
        report.zero_shot_accuracy,
        report.test_images,
        report.seconds,
        report.epoch_losses.iter().map(|l| (l * 1000.0).round() / 1000.0).collect::<Vec<_>>()
    );
    Ok(())
}
