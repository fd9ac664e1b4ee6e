//! The tessera tour (`cargo xtask demo`): each crate's flagship on embedded data, with a short report.
//! Later crates add their sections here.

use std::time::Instant;

use tessera::datasets::{
    ClassificationParams, EMBEDDED_NAMES, StratifiedKFold, Task, load_embedded, make_classification,
    train_test_split,
};
use tessera::tensor::{DType, Device, SafetensorsFile, SeededRng, from_ndarray, save, to_ndarray};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("tessera tour\n============\n");
    datasets()?;
    tensor()?;
    println!("\nDone. Crates still to come: autograd, nn, attention, trees, vlm, dist.");
    Ok(())
}

fn datasets() -> Result<(), Box<dyn std::error::Error>> {
    println!("[datasets] embedded real datasets (exported from scikit-learn)");
    for name in EMBEDDED_NAMES {
        let ds = load_embedded(name)?;
        let task = match ds.task() {
            Task::Classification { class_names } => format!("classification, {} classes", class_names.len()),
            other => other.kind().to_string(),
        };
        println!("  {name:<14} {:>5} rows x {:>2} features  ({task})", ds.n_samples(), ds.n_features());
    }
    let digits = load_embedded("digits")?;
    let (train, test) = train_test_split(&digits, 0.25, 0, true)?;
    println!("  digits stratified 75/25 split: {} train, {} test rows", train.n_samples(), test.n_samples());
    let folds = StratifiedKFold { n_splits: 5, shuffle: true, seed: 0 }
        .split(digits.targets().as_slice().ok_or("targets are contiguous")?)?;
    let sizes: Vec<usize> = folds.iter().map(|f| f.test.len()).collect();
    println!("  digits stratified 5-fold test sizes: {sizes:?}");

    let t = Instant::now();
    let synth = make_classification(&ClassificationParams {
        n_samples: 1_000_000,
        n_features: 28,
        n_informative: 20,
        seed: 0,
        ..Default::default()
    })?;
    let secs = t.elapsed().as_secs_f64();
    let mib = (synth.n_samples() * synth.n_features() * 4) as f64 / 1048576.0;
    println!(
        "  make_classification 1,000,000 x 28 in {secs:.2} s on {} threads ({mib:.0} MiB of features)",
        rayon_threads()
    );
    Ok(())
}

fn tensor() -> Result<(), Box<dyn std::error::Error>> {
    println!("\n[tensor] candle tensors, safetensors IO, ndarray interop");
    let iris = load_embedded("iris")?;
    let x = from_ndarray(iris.features().to_owned(), &Device::Cpu)?;
    let means = x.mean(0)?.to_vec1::<f32>()?;
    println!("  iris as a tensor {:?}, column means {:.3?}", x.dims(), means);

    let w = SeededRng::new(0).normal_tensor(&[512, 256], 0.0, 0.02, DType::BF16, &Device::Cpu)?;
    let dir = std::env::temp_dir().join(format!("tessera-tour-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("weights.safetensors");
    save(&path, &[("encoder.weight", &w), ("iris", &x)])?;
    let file = SafetensorsFile::open(&path)?;
    let back = file.load_checked("encoder.weight", &[512, 256], DType::F32, &Device::Cpu)?;
    let same = to_ndarray::<f32>(&back)? == to_ndarray::<f32>(&w.to_dtype(DType::F32)?)?;
    println!(
        "  saved bf16 [512, 256] + f32 iris to safetensors ({} bytes); reloaded as f32: identical = {same}",
        std::fs::metadata(&path)?.len()
    );
    match file.load_checked("encoder.weight", &[256, 512], DType::F32, &Device::Cpu) {
        Err(e) => println!("  a wrong expected shape is a clear error: {e}"),
        Ok(_) => println!("  unexpected: a wrong shape loaded"),
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
