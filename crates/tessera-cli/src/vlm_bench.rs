//! `tessera vlm bench`: steady-state throughput of a tower or of the image processor, and the process's
//! peak memory.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde_json::json;
use tessera_tensor::{DType, Device, Tensor};
use tessera_vlm::image::{ImageProcessor, RgbImage};
use tessera_vlm::{LoadOptions, ModelConfig, VlmModel};

use crate::CliError;
use crate::vlm::DtypeArg;

/// `--tower`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TowerArg {
    /// The image tower (images per second).
    Image,
    /// The text tower at its full context (texts per second).
    Text,
    /// The folder's image processor (resize, crop, rescale, normalise) on the `--image` files, decoded
    /// beforehand (images per second).
    Preprocess,
}

/// `tessera vlm bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// A model folder; with --random-weights only its config.json is read (and, for --tower preprocess,
    /// only its preprocessor_config.json).
    #[arg(long)]
    model: PathBuf,
    /// Images or texts per forward pass (with --tower preprocess: passes over the images per run).
    #[arg(long, default_value_t = 16)]
    batch_size: usize,
    /// What to time.
    #[arg(long, value_enum, default_value_t = TowerArg::Image)]
    tower: TowerArg,
    /// Weights and activations.
    #[arg(long, value_enum, default_value_t = DtypeArg::F32)]
    dtype: DtypeArg,
    /// Seeded random weights from config.json (time a configuration without its checkpoint).
    #[arg(long)]
    random_weights: bool,
    /// Timed runs after the warm-up (the best is reported).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Photos for --tower preprocess.
    #[arg(long)]
    image: Vec<PathBuf>,
    /// Print one JSON object `{"images_per_s": X, "peak_rss_mb": M}` (or `texts_per_s`) on stdout.
    #[arg(long)]
    json: bool,
}

type Job = Box<dyn Fn() -> Result<(), CliError>>;

/// The largest batch timed (random pixels or ids are allocated up front; a typo must not ask for terabytes).
const MAX_BATCH: usize = 4096;
/// The most timed runs.
const MAX_RUNS: usize = 1000;

/// Times the chosen tower (or processor) and prints its throughput.
pub fn bench(a: BenchArgs) -> Result<(), CliError> {
    if !(1..=MAX_BATCH).contains(&a.batch_size) || !(1..=MAX_RUNS).contains(&a.runs) {
        return Err(CliError::Usage(format!(
            "--batch-size must be 1..={MAX_BATCH} and --runs 1..={MAX_RUNS}, found {} and {}",
            a.batch_size, a.runs
        )));
    }
    let (run, items): (Job, usize) = match a.tower {
        TowerArg::Preprocess => preprocess_job(&a)?,
        TowerArg::Image | TowerArg::Text => (tower_job(&a)?, a.batch_size),
    };
    run()?; // warm-up
    let mut best = f64::INFINITY;
    for _ in 0..a.runs {
        let t = std::time::Instant::now();
        run()?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    let rate = items as f64 / best;
    let key = match a.tower {
        TowerArg::Image | TowerArg::Preprocess => "images_per_s",
        TowerArg::Text => "texts_per_s",
    };
    let peak = peak_rss_mb();
    if a.json {
        let mut v = json!({ key: rate });
        if let (Some(p), Some(m)) = (peak, v.as_object_mut()) {
            m.insert("peak_rss_mb".into(), p.into());
        }
        println!("{v}");
    } else {
        let mem = peak.map_or(String::new(), |p| format!(", peak memory {p:.0} MB"));
        println!(
            "{key}: {rate:.2} (batch {}, best of {} runs: {:.1} ms{mem})",
            a.batch_size,
            a.runs,
            best * 1e3
        );
    }
    Ok(())
}

fn tower_job(a: &BenchArgs) -> Result<Job, CliError> {
    let dtype = match a.dtype {
        DtypeArg::F32 => DType::F32,
        DtypeArg::Bf16 => DType::BF16,
    };
    let model = if a.random_weights {
        let config = ModelConfig::from_file(&a.model.join("config.json"))?;
        VlmModel::init(config, 0, dtype, &Device::Cpu)?
    } else {
        VlmModel::load(&a.model, &LoadOptions { dtype, ..LoadOptions::default() })?
    };
    let config = model.config().clone();
    let b = a.batch_size;
    let mut rng = tessera_tensor::SeededRng::new(1);
    Ok(match a.tower {
        TowerArg::Text => {
            let l = config.text.max_positions;
            let vocab = config.text.vocab_size as u64;
            let mut ids: Vec<u32> = (0..b * l).map(|i| ((i as u64 * 2_654_435_761) % vocab) as u32).collect();
            if let Some(eos) = config.text.eos_token_id.filter(|&e| e < config.text.vocab_size) {
                for row in 0..b {
                    ids[row * l + l - 1] = eos as u32;
                }
            }
            let ids = Tensor::from_vec(ids, (b, l), &Device::Cpu).map_err(tessera_vlm::Error::from)?;
            Box::new(move || {
                model.text_embeds(&ids, None)?;
                Ok(())
            })
        }
        _ => {
            let s = config.vision.image_size;
            let shape = [b, config.vision.num_channels, s, s];
            let pixels = rng.normal_tensor(&shape, 0.0, 1.0, DType::F32, &Device::Cpu)?;
            Box::new(move || {
                model.image_embeds(&pixels)?;
                Ok(())
            })
        }
    })
}

/// The processor on `batch_size` passes over the decoded photos (each pass one call, as a service
/// preprocesses one request's images); returns the job and its image count.
fn preprocess_job(a: &BenchArgs) -> Result<(Job, usize), CliError> {
    if a.image.is_empty() {
        return Err(CliError::Usage("--tower preprocess needs at least one --image".into()));
    }
    let processor = ImageProcessor::from_file(&a.model.join("preprocessor_config.json"))?;
    let photos: Vec<RgbImage> = a.image.iter().map(|p| RgbImage::open(p)).collect::<Result<_, _>>()?;
    let (passes, count) = (a.batch_size, photos.len() * a.batch_size);
    Ok((
        Box::new(move || {
            for _ in 0..passes {
                processor.preprocess(&photos, &Device::Cpu)?;
            }
            Ok(())
        }),
        count,
    ))
}

/// The process's peak resident memory (`VmHWM`), in MB, where /proc has it.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
