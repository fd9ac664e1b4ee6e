//! The tessera tour (`cargo xtask demo`): each crate's flagship on embedded data, with a short report.
//! Later crates add their sections here.

use std::time::Instant;

use tessera::datasets::{
    ClassificationParams, EMBEDDED_NAMES, StratifiedKFold, Task, load_embedded, make_classification,
    train_test_split,
};
use tessera::tensor::{DType, Device, SafetensorsFile, SeededRng, from_ndarray, save, to_ndarray};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::var_os("TESSERA_TOUR_RANK").is_some() {
        return dist_rank();
    }
    println!("tessera tour\n============\n");
    datasets()?;
    tensor()?;
    trees()?;
    boosting()?;
    neural()?;
    attention()?;
    dist()?;
    vlm()?;
    println!("\nDone.");
    println!(
        "\nNext, try the CLI (README.md has the walkthrough; `cargo install --path crates/tessera-cli --locked`):"
    );
    for command in [
        "tessera data synth classification --rows 5000 --informative 8 --out data.csv",
        "tessera data split --data data.csv --stratify target --train-out train.csv --test-out test.csv",
        "tessera trees train --model hist --data train.csv --target target --out model.json",
        "tessera trees eval --model model.json --data test.csv --target target",
        "tessera attention bench --seq 2048 --causal",
        "tessera dist bench --backend tcp --nproc 2 --sizes 1KiB,1MiB,64MiB",
        "tessera launch --nproc 2 -- YOUR_PROGRAM   (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT as torchrun sets them)",
        "tessera vlm train --arch siglip --out digits-siglip",
        "tessera vlm zero-shot --model digits-siglip --image YOUR_DIGIT.png --labels zero,one,two,three,four,five,six,seven,eight,nine --template 'a drawing of the digit {}' --json",
        "tessera vlm embed --model A_HUGGING_FACE_CLIP_FOLDER --image photo.jpg --text 'a photo of a cat' --json",
    ] {
        println!("  {command}");
    }
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

fn trees() -> Result<(), Box<dyn std::error::Error>> {
    use tessera::trees::{
        AdaBoostClassifier, AnyEstimator, DecisionTreeClassifier, Estimator, ExtraTreesClassifier, Model,
        RandomForestClassifier, RandomForestRegressor, StackingClassifier, metrics, model_from_json,
        model_to_json,
    };
    println!("\n[trees] CART, forests, boosting and stacking on embedded data (25% stratified test split)");
    let data = load_embedded("breast_cancer")?;
    let (train, test) = train_test_split(&data, 0.25, 0, true)?;
    let (xt, yt) = (test.features(), test.targets());
    let report =
        |name: &str, pred: ndarray::Array1<f32>, secs: f64| -> Result<(), Box<dyn std::error::Error>> {
            let acc = metrics::accuracy(yt, pred.view())?;
            println!("  breast_cancer {name:<28} accuracy {acc:.4}  ({secs:.3} s)");
            Ok(())
        };
    let t = Instant::now();
    let cart = DecisionTreeClassifier::new().max_depth(4).fit_dataset(&train)?;
    report("decision tree (depth 4)", cart.predict(xt)?, t.elapsed().as_secs_f64())?;
    let t = Instant::now();
    let rf = RandomForestClassifier::new().n_estimators(200).oob_score(true).fit_dataset(&train)?;
    report("random forest (200 trees)", rf.predict(xt)?, t.elapsed().as_secs_f64())?;
    println!("    out-of-bag accuracy {:.4}", rf.oob_score.unwrap_or(f64::NAN));
    let mut imp: Vec<(usize, f64)> = rf.feature_importances().into_iter().enumerate().collect();
    imp.sort_by(|a, b| b.1.total_cmp(&a.1));
    let names = data.feature_names();
    let top: Vec<String> = imp.iter().take(3).map(|(i, v)| format!("{} {:.3}", names[*i], v)).collect();
    println!("    top importances: {}", top.join(", "));
    let t = Instant::now();
    let et = ExtraTreesClassifier::new().n_estimators(200).fit_dataset(&train)?;
    report("extra trees (200 trees)", et.predict(xt)?, t.elapsed().as_secs_f64())?;
    let t = Instant::now();
    let ada = AdaBoostClassifier::new().n_estimators(100).fit_dataset(&train)?;
    report("AdaBoost (100 stumps)", ada.predict(xt)?, t.elapsed().as_secs_f64())?;
    let t = Instant::now();
    let stack = StackingClassifier::new(vec![
        ("rf".into(), AnyEstimator::RandomForestClassifier(RandomForestClassifier::new().n_estimators(100))),
        ("et".into(), AnyEstimator::ExtraTreesClassifier(ExtraTreesClassifier::new().n_estimators(100))),
    ])
    .fit_dataset(&train)?;
    report("stacking (rf + et -> logistic)", stack.predict(xt)?, t.elapsed().as_secs_f64())?;
    let json = model_to_json(&rf, "forest")?;
    let back: tessera::trees::FittedForest =
        model_from_json(&json, "forest", std::path::Path::new("memory"))?;
    println!(
        "  the forest saved as JSON ({} KiB) and reloaded predicts identically: {}",
        json.len() / 1024,
        back.predict_proba(xt)? == rf.predict_proba(xt)?
    );
    let diabetes = load_embedded("diabetes")?;
    let (train, test) = train_test_split(&diabetes, 0.25, 0, false)?;
    let rf = RandomForestRegressor::new().fit_dataset(&train)?;
    let pred = rf.predict(test.features())?;
    println!(
        "  diabetes random forest regressor: held-out RMSE {:.2}, R^2 {:.3}",
        metrics::rmse(test.targets(), pred.view())?,
        metrics::r2(test.targets(), pred.view())?
    );
    Ok(())
}

fn boosting() -> Result<(), Box<dyn std::error::Error>> {
    use tessera::trees::Estimator;
    use tessera::trees::{
        BoosterParams, GradientBoostingClassifier, HistGradientBooster, Model, Objective, load_xgboost_json,
        metrics,
    };
    println!("\n[boosting] gradient boosting and the histogram booster");
    let data = load_embedded("breast_cancer")?;
    let (train, test) = train_test_split(&data, 0.25, 0, true)?;
    let t = Instant::now();
    let gb = GradientBoostingClassifier::new().fit_dataset(&train)?;
    let acc = metrics::accuracy(test.targets(), gb.predict(test.features())?.view())?;
    println!(
        "  breast_cancer GBDT (100 depth-3 trees)        accuracy {acc:.4}  ({:.3} s)",
        t.elapsed().as_secs_f64()
    );
    let booster = HistGradientBooster {
        params: BoosterParams {
            objective: Objective::Logistic,
            n_estimators: 300,
            learning_rate: 0.1,
            ..Default::default()
        },
    };
    let t = Instant::now();
    // Early stopping watches a validation split of the training rows; the test rows stay unseen until scored.
    let (fit_part, valid) = train_test_split(&train, 0.2, 1, true)?;
    let (x, y) = (fit_part.features(), fit_part.targets());
    let m =
        booster.fit_eval(x, y, None, &[("valid", valid.features(), valid.targets())], Some(20), |_, _| {})?;
    let acc = metrics::accuracy(test.targets(), m.predict(test.features())?.view())?;
    println!(
        "  breast_cancer histogram booster (early stop)  accuracy {acc:.4}  best round {} of {} (predicts with it)  ({:.3} s)",
        m.rounds_in_use(),
        m.n_rounds(),
        t.elapsed().as_secs_f64()
    );
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tessera-trees/tests/fixtures/xgboost/diabetes_squarederror.json"
    );
    let xgb = load_xgboost_json(path)?;
    let diabetes = load_embedded("diabetes")?;
    let pred = xgb.predict(diabetes.features())?;
    println!(
        "  an XGBoost 3.2 model.json loaded and applied: {} trees, RMSE {:.2} on the diabetes rows it was trained on (XGBoost's own margins match to 1e-5)",
        xgb.trees.len(),
        metrics::rmse(diabetes.targets(), pred.view())?
    );
    // Categorical splits: a 40-category and a 3-category column (the XGBoost parity fixture).
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tessera-trees/tests/fixtures/categorical.csv");
    let options = tessera::datasets::CsvOptions {
        features: Some(["store", "weekday", "price", "temperature"].map(String::from).to_vec()),
        ..tessera::datasets::CsvOptions::with_target("sales")
    };
    let sales = tessera::datasets::read_csv(path, &options)?;
    let (train, test) = train_test_split(&sales, 0.2, 0, false)?;
    let rmse = |categorical_features: Vec<usize>| -> Result<f64, Box<dyn std::error::Error>> {
        let params = BoosterParams {
            n_estimators: 100,
            max_depth: 4,
            learning_rate: 0.1,
            categorical_features,
            ..Default::default()
        };
        let m = HistGradientBooster { params }.fit(train.features(), train.targets())?;
        Ok(metrics::rmse(test.targets(), m.predict(test.features())?.view())?)
    };
    println!(
        "  store (40 categories) and weekday as categories: test RMSE {:.3}; read as numbers: {:.3}",
        rmse(vec![0, 1])?,
        rmse(Vec::new())?
    );
    Ok(())
}

fn neural() -> Result<(), Box<dyn std::error::Error>> {
    use tessera::autograd::{GradOptions, Tensor, Var, cross_entropy, grad, no_grad};
    use tessera::nn::{
        Activation, Adam, AdamConfig, Linear, LrSchedule, Module, ModuleExt, Optimizer, Sequential,
        WarmupCosine,
    };
    println!("\n[autograd, nn] define-by-run autodiff and an MLP on digits");
    let x = Var::parameter(Tensor::new(&[0.5f32, 2.0], &Device::Cpu)?);
    let y = x.powf(3.0)?.sum_all()?;
    let opts = GradOptions { create_graph: true, ..GradOptions::default() };
    let dy = grad(&[y], std::slice::from_ref(&x), None, opts)?.remove(0).ok_or("gradient")?;
    let d2 = grad(&[dy.sum_all()?], std::slice::from_ref(&x), None, GradOptions::default())?
        .remove(0)
        .ok_or("second derivative")?;
    println!("  d/dx x^3 at [0.5, 2] = {:?}; d2/dx2 = {:?} (6x)", dy.to_vec_f32()?, d2.to_vec_f32()?);

    let digits = load_embedded("digits")?;
    let (train, test) = train_test_split(&digits, 0.25, 0, true)?;
    let to_tensors =
        |d: &tessera::datasets::Dataset| -> Result<(Tensor, Tensor), Box<dyn std::error::Error>> {
            let n = d.n_samples();
            let x = from_ndarray(d.features().mapv(|v| v / 16.0), &Device::Cpu)?;
            let y: Vec<u32> = d.targets().iter().map(|&c| c as u32).collect();
            Ok((x, Tensor::from_vec(y, n, &Device::Cpu)?))
        };
    let ((xs, ys), (xt, yt)) = (to_tensors(&train)?, to_tensors(&test)?);
    let mut rng = SeededRng::new(0);
    let model = Sequential::new()
        .add(Linear::new(64, 256, true, &mut rng)?)
        .add(Activation::Relu)
        .add(Linear::new(256, 10, true, &mut rng)?);
    let (epochs, batch) = (30, 32);
    let steps = train.n_samples().div_ceil(batch);
    let schedule = WarmupCosine::new(3e-3, 1e-5, steps, epochs * steps)?;
    let mut opt = Adam::new(model.named_parameters(), AdamConfig::adamw())?;
    let mut order: Vec<u32> = (0..train.n_samples() as u32).collect();
    let t = Instant::now();
    let mut step = 0;
    for _ in 0..epochs {
        rng.shuffle(&mut order);
        for chunk in order.chunks(batch) {
            let idx = Tensor::new(chunk, &Device::Cpu)?;
            let logits = model.forward(&Var::constant(xs.index_select(&idx, 0)?))?;
            let loss = cross_entropy(&logits, &ys.index_select(&idx, 0)?, 0.0)?;
            opt.set_learning_rate(schedule.lr(step));
            opt.zero_grad();
            loss.backward()?;
            opt.step()?;
            step += 1;
        }
    }
    let seconds = t.elapsed().as_secs_f64();
    let _guard = no_grad();
    let predicted = model.forward(&Var::constant(xt))?.tensor().argmax(1)?;
    let correct = predicted.eq(&yt)?.to_dtype(DType::F64)?.sum_all()?.to_scalar::<f64>()?;
    println!(
        "  digits MLP 64-256-10, AdamW + warmup/cosine, {epochs} epochs ({step} steps) in {seconds:.2} s: test accuracy {:.2}%",
        100.0 * correct / test.n_samples() as f64
    );
    println!(
        "  ({} parameters, named as PyTorch names them: {:?})",
        model.num_parameters(),
        model.named_parameters().iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>()
    );
    Ok(())
}

fn attention() -> Result<(), Box<dyn std::error::Error>> {
    use tessera::attention::{AttentionOptions, flash_attention, flash_attention_var, naive_attention_var};
    use tessera::autograd::{Var, no_grad};
    println!("\n[attention] FlashAttention on the CPU against materialised attention");
    let (heads, seq, dim) = (8, 2048, 64);
    let mut rng = SeededRng::new(0);
    let mut random = || rng.normal_tensor(&[1, heads, seq, dim], 0.0, 1.0, DType::F32, &Device::Cpu);
    let (q, k, v) = (random()?, random()?, random()?);
    let options = AttentionOptions::causal();
    let t = Instant::now();
    let (o, _) = flash_attention(&q, &k, &v, &options)?;
    let flash_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let reference = {
        let _guard = no_grad();
        naive_attention_var(
            &Var::constant(q.clone()),
            &Var::constant(k.clone()),
            &Var::constant(v.clone()),
            &options,
        )?
    };
    let naive_s = t.elapsed().as_secs_f64();
    let diff = o.sub(&reference.tensor())?.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()?;
    let scores_mib = (heads * seq * seq * 4) as f64 / (1024.0 * 1024.0);
    println!(
        "  causal, 8 heads x {seq} tokens x {dim}: flash {:.1} ms, materialised {:.1} ms, max |difference| {diff:.1e}",
        flash_s * 1e3,
        naive_s * 1e3
    );
    println!(
        "  memory: the materialised path holds {scores_mib:.0} MiB of scores (and as much again for probabilities); flash holds 64-row tiles"
    );
    let (qv, kv, vv) = (Var::parameter(q), Var::parameter(k), Var::parameter(v));
    let (out, _) = flash_attention_var(&qv, &kv, &vv, &options)?;
    let t = Instant::now();
    out.sqr()?.mean_all()?.backward()?;
    println!(
        "  autograd through the flash backward (recomputes scores tile by tile): {:.1} ms, |dq| max {:.3e}",
        t.elapsed().as_secs_f64() * 1e3,
        qv.grad().ok_or("gradient")?.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()?
    );
    println!(
        "  (`tessera attention bench --seq 32768 --causal` runs 32k tokens in well under 1 GiB; the scores alone would need 32 GiB)"
    );
    Ok(())
}

fn dist() -> Result<(), Box<dyn std::error::Error>> {
    use tessera::dist::launch::{LaunchOptions, launch};
    use tessera::dist::{Fault, FaultKind, GroupOptions, ProcessGroup, ReduceOp};
    println!("\n[dist] collectives: 4 thread ranks, 2 TCP processes, and a rank that dies");
    let len = 4 << 20; // 16 MiB of f32 per rank
    let groups = ProcessGroup::threads(4)?;
    let results: Vec<(Vec<f32>, f64)> = std::thread::scope(|s| {
        let handles: Vec<_> = groups
            .iter()
            .map(|g| {
                s.spawn(move || {
                    let mut grad: Vec<f32> =
                        (0..len).map(|i| ((i % 1000) as f32 + g.rank() as f32) * 1e-3).collect();
                    g.barrier()?;
                    let t = Instant::now();
                    g.all_reduce(&mut grad, ReduceOp::Avg)?;
                    Ok::<_, tessera::dist::Error>((grad, t.elapsed().as_secs_f64()))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().map_err(|_| "a rank panicked")?.map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()
    })?;
    let secs = results.iter().map(|r| r.1).fold(0.0, f64::max);
    let sums: Vec<&Vec<f32>> = results.iter().map(|r| &r.0).collect();
    let same = sums.windows(2).all(|w| w[0].iter().zip(w[1].iter()).all(|(a, b)| a.to_bits() == b.to_bits()));
    println!(
        "  threads: 4 ranks average 16 MiB of gradients in {:.1} ms (bus bandwidth {:.2} GB/s); every rank holds the same bits: {same}",
        secs * 1e3,
        (len * 4) as f64 / secs * 1.5 / 1e9
    );
    let exe = std::env::current_exe()?.to_string_lossy().into_owned();
    let mut opts = LaunchOptions::new(2, exe, Vec::new());
    opts.env = vec![("TESSERA_TOUR_RANK".into(), "1".into())];
    opts.capture_rank0 = true;
    let report = launch(&opts)?;
    if let Some(f) = report.failure {
        return Err(format!("the TCP demo failed: {f}").into());
    }
    print!("{}", String::from_utf8_lossy(&report.rank0_stdout));
    let faults = vec![Fault { rank: 2, at: 3, kind: FaultKind::Kill }];
    let options = GroupOptions { timeout: std::time::Duration::from_secs(10), ..GroupOptions::default() };
    let groups = ProcessGroup::threads_with(4, options, faults)?;
    let t = Instant::now();
    let errors: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = groups
            .iter()
            .map(|g| {
                s.spawn(move || {
                    let mut v = vec![1.0f32; 1 << 16];
                    for _ in 0..5 {
                        if let Err(e) = g.all_reduce(&mut v, ReduceOp::Sum) {
                            return e.to_string();
                        }
                    }
                    "finished".to_string()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| "panicked".into())).collect()
    });
    println!(
        "  a simulated loss (rank 2 killed at its third all-reduce); every rank fails within {:.0} ms:",
        t.elapsed().as_secs_f64() * 1e3
    );
    for (rank, e) in errors.iter().enumerate() {
        println!("    rank {rank}: {e}");
    }
    Ok(())
}

/// One rank of the tour's TCP demo (the tour started again by `launch`, with torchrun's environment).
fn dist_rank() -> Result<(), Box<dyn std::error::Error>> {
    use tessera::dist::{ReduceOp, init_from_env};
    let g = init_from_env()?;
    let mut v: Vec<f64> = (0..1 << 20).map(|i| (i % 7) as f64 * (g.rank() + 1) as f64).collect();
    let t = Instant::now();
    g.all_reduce(&mut v, ReduceOp::Sum)?;
    let ms = t.elapsed().as_secs_f64() * 1e3;
    let exact = (0..1usize << 20).all(|i| v[i] == (i % 7) as f64 * 3.0);
    if g.rank() == 0 {
        println!(
            "  tcp: 2 processes (started by tessera::dist::launch, rendezvous on loopback) all-reduce 8 MiB of f64 in {ms:.1} ms; exact: {exact}"
        );
    }
    Ok(())
}

fn vlm() -> Result<(), Box<dyn std::error::Error>> {
    use std::io::IsTerminal;
    use tessera::vlm::Arch;
    use tessera::vlm::train::{TrainOptions, digits::HELD_OUT_TEMPLATE, train_digits};
    println!(
        "\n[vlm] CLIP and SigLIP trained from scratch on the digits images paired with generated captions"
    );
    for arch in [Arch::Clip, Arch::Siglip] {
        let options = TrainOptions::new(arch);
        let bar = if std::io::stderr().is_terminal() {
            indicatif::ProgressBar::new(0)
        } else {
            indicatif::ProgressBar::hidden()
        };
        let report = train_digits(&options, &mut |p| {
            bar.set_length(p.total_steps as u64);
            bar.set_position(p.step as u64);
            bar.set_message(format!("loss {:.3}", p.loss));
        })?;
        bar.finish_and_clear();
        let dir =
            std::env::temp_dir().join(format!("tessera-tour-{}-{}", arch.model_type(), std::process::id()));
        report.vlm.save_pretrained(&dir)?;
        let reloaded = tessera::vlm::Vlm::load(&dir, &tessera::vlm::LoadOptions::default())?;
        let probe = ["a drawing of the digit four"];
        let same =
            report.vlm.embed_texts(&probe, 1)?.sub(&reloaded.embed_texts(&probe, 1)?)?.abs()?.max_all()?;
        println!(
            "  {:<6} {} epochs, width {}, batch {}: zero-shot accuracy {:.1}% on {} held-out images with the unseen \
             template \"{HELD_OUT_TEMPLATE}\" (chance 10%)  ({:.1} s); saved as a Hugging Face folder and \
             reloaded: embeddings differ by {:.0e}",
            arch.model_type(),
            options.epochs,
            options.width,
            options.batch_size,
            100.0 * report.zero_shot_accuracy,
            report.test_images,
            report.seconds,
            same.to_scalar::<f32>()?
        );
        std::fs::remove_dir_all(&dir)?;
    }
    println!(
        "  loading real checkpoints: transformers' CLIP/SigLIP folders embed within 1e-4 of transformers \
         (crates/tessera-vlm/tests/models.rs); B/32 image throughput vs transformers in docs/benchmarks.md"
    );
    Ok(())
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
