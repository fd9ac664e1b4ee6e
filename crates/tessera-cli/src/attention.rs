//! `tessera attention run|bench`: flash attention on tensors from a safetensors file, and timings on
//! random inputs.

use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, Subcommand, ValueEnum};
use tessera_attention::{AttentionOptions, flash_attention, flash_attention_backward};
use tessera_tensor::{DType, Device, SafetensorsFile, SeededRng, Tensor};

use crate::CliError;

/// Flash attention from the command line.
#[derive(Debug, Subcommand)]
pub enum AttentionCommand {
    /// Read tensors `q`, `k`, `v` (and optionally `do`) from a safetensors file, write `o (B, H, Lq, D)` and
    /// `lse (B, H, Lq)`, the log-sum-exp of each row's scaled scores in natural log (`-inf` for a row that
    /// sees no key), and, when `do` is given, the gradients `dq`, `dk`, `dv`.
    Run(RunArgs),
    /// Write seeded standard-normal `q (B, H, L, D)`, `k` and `v (B, Hkv, L, D)` (and `do` with --grad) to a
    /// safetensors file for `attention run`.
    MakeInputs(MakeInputsArgs),
    /// Time flash attention on random inputs: milliseconds, GFLOP/s, peak extra memory.
    Bench(BenchArgs),
    /// Measure this machine's f32 multiply-add limit on all threads (GFLOP/s), the ceiling benchmark
    /// tables compare against.
    Peak(PeakArgs),
}

/// Options of `attention peak`.
#[derive(Debug, Args)]
pub struct PeakArgs {
    /// One JSON line instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Masks and scale shared by both commands.
#[derive(Debug, Args)]
pub struct MaskArgs {
    /// Causal masking (aligned to the bottom-right corner when seq_q != seq_k).
    #[arg(long)]
    causal: bool,
    /// Softmax scale (default 1/sqrt(head_dim)).
    #[arg(long, allow_negative_numbers = true)]
    scale: Option<f64>,
    /// Sliding window: keys a query sees before its diagonal.
    #[arg(long)]
    window_left: Option<usize>,
    /// Sliding window: keys a query sees after its diagonal.
    #[arg(long)]
    window_right: Option<usize>,
}

impl MaskArgs {
    fn options(&self) -> AttentionOptions {
        AttentionOptions {
            scale: self.scale,
            causal: self.causal,
            window_left: self.window_left,
            window_right: self.window_right,
            key_padding_mask: None,
        }
    }
}

/// Arguments of `tessera attention run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Safetensors file with `q (B, H, Lq, D)`, `k` and `v (B, Hkv, Lk, D)`, optionally `do` and
    /// `key_padding_mask (B, Lk)`.
    #[arg(long)]
    input: PathBuf,
    /// Where to write the results (safetensors, written atomically; `-` for stdout).
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    mask: MaskArgs,
}

/// Arguments of `tessera attention make-inputs`.
#[derive(Debug, Args)]
pub struct MakeInputsArgs {
    /// Batch size.
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Query heads.
    #[arg(long, default_value_t = 8)]
    heads: usize,
    /// Key/value heads (default: as many as query heads).
    #[arg(long)]
    kv_heads: Option<usize>,
    /// Sequence length (queries and keys).
    #[arg(long, default_value_t = 128)]
    seq: usize,
    /// Head dimension.
    #[arg(long, default_value_t = 64)]
    dim: usize,
    /// Also write an output gradient `do`, so that `attention run` computes `dq`, `dk`, `dv`.
    #[arg(long)]
    grad: bool,
    /// Element type.
    #[arg(long, value_enum, default_value_t = Dtype::F32)]
    dtype: Dtype,
    /// Random seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Where to write the tensors (safetensors; `-` for stdout).
    #[arg(long)]
    out: PathBuf,
}

/// Element type of the benchmark inputs.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Dtype {
    /// 32-bit float.
    F32,
    /// IEEE half.
    F16,
    /// bfloat16.
    Bf16,
}

/// Arguments of `tessera attention bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Batch size.
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Query heads.
    #[arg(long, default_value_t = 8)]
    heads: usize,
    /// Key/value heads (default: as many as query heads).
    #[arg(long)]
    kv_heads: Option<usize>,
    /// Sequence length (queries and keys).
    #[arg(long, default_value_t = 4096)]
    seq: usize,
    /// Head dimension.
    #[arg(long, default_value_t = 64)]
    dim: usize,
    /// Element type.
    #[arg(long, value_enum, default_value_t = Dtype::F32)]
    dtype: Dtype,
    /// Time forward + backward instead of the forward alone.
    #[arg(long)]
    backward: bool,
    /// Timed repetitions (the median is reported), after one warm-up run (at most 1000).
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Print one JSON line instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    mask: MaskArgs,
}

/// Runs an attention subcommand.
/// An attention error about the inputs (shapes, dtypes, options) as a usage error naming where they came
/// from; any other (a failed tensor operation) as itself.
fn input_error(e: tessera_attention::Error, input: &str) -> CliError {
    match e {
        tessera_attention::Error::Shape { .. }
        | tessera_attention::Error::InvalidParameter { .. }
        | tessera_attention::Error::Unsupported { .. }
        | tessera_attention::Error::NonFinite { .. } => CliError::Usage(format!("{input}: {e}")),
        other => CliError::Attention(other),
    }
}

pub fn run(cmd: AttentionCommand) -> Result<(), CliError> {
    match cmd {
        AttentionCommand::Run(args) => run_file(&args),
        AttentionCommand::Bench(args) => bench(&args),
        AttentionCommand::MakeInputs(args) => make_inputs(&args),
        AttentionCommand::Peak(args) => {
            let gflops = tessera_attention::fma_peak_gflops();
            let threads = rayon::current_num_threads();
            if args.json {
                println!(
                    r#"{{"bench":"fma peak","impl":"machine","gflops":{gflops:.1},"threads":{threads}}}"#
                );
            } else {
                println!("f32 multiply-add limit: {gflops:.1} GFLOP/s ({threads} threads)");
            }
            Ok(())
        }
    }
}

fn run_file(args: &RunArgs) -> Result<(), CliError> {
    tessera_tensor::check_output(&args.out, &[args.input.as_path()])?;
    let file = SafetensorsFile::open(&args.input)?;
    let dev = Device::Cpu;
    let (q, k, v) = (file.load("q", &dev)?, file.load("k", &dev)?, file.load("v", &dev)?);
    let names = file.names();
    let mut options = args.mask.options();
    if names.iter().any(|n| n == "key_padding_mask") {
        options.key_padding_mask = Some(file.load("key_padding_mask", &dev)?);
    }
    let input = args.input.display().to_string();
    let (o, lse) = flash_attention(&q, &k, &v, &options).map_err(|e| input_error(e, &input))?;
    let mut outputs: Vec<(&str, Tensor)> = vec![("o", o.clone()), ("lse", lse.clone())];
    if names.iter().any(|n| n == "do") {
        let d_o = file.load("do", &dev)?;
        let (dq, dk, dv) = flash_attention_backward(&q, &k, &v, &o, &lse, &d_o, &options)
            .map_err(|e| input_error(e, &input))?;
        outputs.extend([("dq", dq), ("dk", dk), ("dv", dv)]);
    }
    let refs: Vec<(&str, &Tensor)> = outputs.iter().map(|(n, t)| (*n, t)).collect();
    tessera_tensor::save(&args.out, &refs)?;
    eprintln!(
        "wrote {} ({})",
        args.out.display(),
        outputs.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
    );
    Ok(())
}

fn dtype_of(d: Dtype) -> DType {
    match d {
        Dtype::F32 => DType::F32,
        Dtype::F16 => DType::F16,
        Dtype::Bf16 => DType::BF16,
    }
}

/// A seeded standard-normal input of shape `dims` (drawn in f32, then converted to `dtype`).
fn normal_input(rng: &mut SeededRng, dims: [usize; 4], dtype: DType) -> Result<Tensor, CliError> {
    let t = rng.normal_tensor(&dims, 0.0, 1.0, DType::F32, &Device::Cpu)?;
    Ok(t.to_dtype(dtype).map_err(tessera_tensor::Error::from)?)
}

fn make_inputs(args: &MakeInputsArgs) -> Result<(), CliError> {
    tessera_tensor::check_output(&args.out, &[])?;
    let kv_heads = args.kv_heads.unwrap_or(args.heads);
    check_shape(args.batch, args.heads, kv_heads, args.seq, args.dim)?;
    let dtype = dtype_of(args.dtype);
    let tensor = |h: usize| tessera_tensor::bytes_for([args.batch, h, args.seq, args.dim], 4);
    let total = [
        tensor(args.heads),
        tensor(kv_heads),
        tensor(kv_heads),
        if args.grad { tensor(args.heads) } else { Some(0) },
    ]
    .into_iter()
    .try_fold(0u64, |acc, t| acc.checked_add(t?));
    tessera_tensor::check_fits("the inputs", total.and_then(|t| t.checked_mul(2)))?;
    let mut rng = SeededRng::new(args.seed);
    let mut random = |heads: usize| normal_input(&mut rng, [args.batch, heads, args.seq, args.dim], dtype);
    let mut tensors = vec![("q", random(args.heads)?), ("k", random(kv_heads)?), ("v", random(kv_heads)?)];
    if args.grad {
        tensors.push(("do", random(args.heads)?));
    }
    let refs: Vec<(&str, &Tensor)> = tensors.iter().map(|(n, t)| (*n, t)).collect();
    tessera_tensor::save(&args.out, &refs)?;
    eprintln!(
        "wrote {} ({})",
        args.out.display(),
        tensors.iter().map(|(n, t)| format!("{n} {:?}", t.dims())).collect::<Vec<_>>().join(", ")
    );
    Ok(())
}

/// Resident and peak resident memory of this process, in bytes (Linux; zeros elsewhere).
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The most timed repetitions `attention bench` runs.
const MAX_REPEATS: usize = 1000;

/// Work beyond this many floating-point operations per run gets a warning with an estimate of the time.
const WARN_FLOPS: f64 = 1e12;

/// Every size of an attention problem is at least 1, and the query heads share key heads evenly.
fn check_shape(batch: usize, heads: usize, kv_heads: usize, seq: usize, dim: usize) -> Result<(), CliError> {
    for (name, v) in
        [("--batch", batch), ("--heads", heads), ("--kv-heads", kv_heads), ("--seq", seq), ("--dim", dim)]
    {
        if v == 0 {
            return Err(CliError::Usage(format!("{name} must be at least 1")));
        }
    }
    if !heads.is_multiple_of(kv_heads) {
        return Err(CliError::Usage(format!(
            "--heads {heads} is not a multiple of --kv-heads {kv_heads} (grouped-query attention shares each key head)"
        )));
    }
    Ok(())
}

/// Checks the benchmark's sizes before anything is allocated: every count at least 1, the inputs and outputs
/// (computed with checked arithmetic) within the available memory, and the repeats bounded. Warns, with an
/// estimate, when one run is long (attention is O(L^2) work in O(L) memory: a size that fits can still take
/// hours).
fn check_bench(args: &BenchArgs, kv_heads: usize, dtype: DType) -> Result<(), CliError> {
    check_shape(args.batch, args.heads, kv_heads, args.seq, args.dim)?;
    if args.repeats > MAX_REPEATS {
        return Err(CliError::Usage(format!("--repeats {} is more than {MAX_REPEATS}", args.repeats)));
    }
    let elem = dtype.size_in_bytes();
    let tensor = |heads: usize| tessera_tensor::bytes_for([args.batch, heads, args.seq, args.dim], elem);
    // q, o (and do, dq) on the query side; k, v (and dk, dv) on the key side; f32 conversions on the way.
    let per_side = if args.backward { 3 } else { 2 };
    let total = [tensor(args.heads), tensor(kv_heads)]
        .into_iter()
        .try_fold(0u64, |acc, t| acc.checked_add(t?.checked_mul(per_side)?))
        .and_then(|b| b.checked_mul(2));
    tessera_tensor::check_fits("the benchmark's inputs and outputs", total)?;
    let (b, h, l, d) = (args.batch as f64, args.heads as f64, args.seq as f64, args.dim as f64);
    let flops = 4.0 * b * h * l * l * d * if args.backward { 3.5 } else { 1.0 };
    if flops > WARN_FLOPS {
        eprintln!(
            "warning: one run is {flops:.2e} floating-point operations: about {:.0} s at 50 GFLOP/s, times {} runs",
            flops / 50e9,
            args.repeats + 1
        );
    }
    Ok(())
}

fn bench(args: &BenchArgs) -> Result<(), CliError> {
    let kv_heads = args.kv_heads.unwrap_or(args.heads);
    let dtype = dtype_of(args.dtype);
    check_bench(args, kv_heads, dtype)?;
    let mut rng = SeededRng::new(0);
    let mut random = |heads: usize| normal_input(&mut rng, [args.batch, heads, args.seq, args.dim], dtype);
    let (q, k, v) = (random(args.heads)?, random(kv_heads)?, random(kv_heads)?);
    let d_o = if args.backward { Some(random(args.heads)?) } else { None };
    let options = args.mask.options();
    let attention_error = |e: tessera_attention::Error| input_error(e, "the generated inputs");
    let (baseline, _) = memory();
    let step = || -> Result<(), CliError> {
        let (o, lse) = flash_attention(&q, &k, &v, &options).map_err(attention_error)?;
        if let Some(d_o) = &d_o {
            flash_attention_backward(&q, &k, &v, &o, &lse, d_o, &options).map_err(attention_error)?;
        }
        Ok(())
    };
    step()?;
    let mut times = Vec::new();
    for _ in 0..args.repeats.max(1) {
        let start = Instant::now();
        step()?;
        times.push(start.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let secs = times[times.len() / 2];
    let (_, peak) = memory();
    let extra_mib = peak.saturating_sub(baseline) as f64 / (1024.0 * 1024.0);
    let (b, h, l, d) = (args.batch as f64, args.heads as f64, args.seq as f64, args.dim as f64);
    let mut flops = 4.0 * b * h * l * l * d;
    if args.mask.causal {
        flops /= 2.0;
    }
    if args.backward {
        flops *= 3.5;
    }
    let gflops = flops / secs / 1e9;
    let pass = if args.backward { "forward+backward" } else { "forward" };
    let params = format!(
        "B={} H={} Hkv={kv_heads} L={} D={} {:?}{}",
        args.batch,
        args.heads,
        args.seq,
        args.dim,
        args.dtype,
        if args.mask.causal { " causal" } else { "" }
    );
    // Chosen (calibrated) during the warm-up step above.
    let kernel = tessera_attention::attention_kernel(dtype, args.dim, args.mask.causal);
    if args.json {
        println!(
            r#"{{"bench":"attention {pass}","impl":"tessera","params":"{params}","ms":{:.2},"gflops":{gflops:.1},"extra_mib":{extra_mib:.1},"threads":{},"kernel":"{kernel}"}}"#,
            secs * 1e3,
            rayon::current_num_threads()
        );
    } else {
        println!(
            "flash attention {pass}, {params}: {:.2} ms, {gflops:.1} GFLOP/s, peak extra memory {extra_mib:.1} MiB ({} threads, kernel {kernel})",
            secs * 1e3,
            rayon::current_num_threads()
        );
    }
    Ok(())
}
