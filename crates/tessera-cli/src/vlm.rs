//! `tessera vlm embed|tokenize|preprocess|zero-shot|retrieve|bench|train`: CLIP and SigLIP from Hugging Face folders.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Map, Value, json};
use tessera_tensor::DType;
use tessera_vlm::image::RgbImage;
use tessera_vlm::{LoadOptions, Vlm, recall_at_k};

use crate::CliError;

/// CLIP and SigLIP: embeddings, tokens, pixels, zero-shot labels, retrieval.
#[derive(Debug, Subcommand)]
pub enum VlmCommand {
    /// L2-normalised image and text embeddings, in input order.
    Embed(EmbedArgs),
    /// Token ids as the model consumes them (CLIP: padded to the longest text; SigLIP: to 64).
    Tokenize(TokenizeArgs),
    /// The model's `pixel_values` for images, written as safetensors.
    Preprocess(PreprocessArgs),
    /// Zero-shot classification: probabilities of labels per image (softmax for CLIP, sigmoid for SigLIP).
    ZeroShot(ZeroShotArgs),
    /// Image-text retrieval: recall@1/5/10 both ways.
    Retrieve(RetrieveArgs),
    /// Steady-state throughput of one tower (after a warm-up, best of several runs).
    Bench(crate::vlm_bench::BenchArgs),
    /// Trains a small model from scratch on the embedded digits and saves it as a Hugging Face folder.
    Train(crate::vlm_train::TrainArgs),
}

/// The model folder and how to run it.
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// A Hugging Face model folder (config.json, model.safetensors, tokenizer.json, preprocessor_config.json).
    #[arg(long)]
    model: PathBuf,
    /// Weights and activations in f32 or bf16.
    #[arg(long, value_enum, default_value_t = DtypeArg::F32)]
    dtype: DtypeArg,
    /// Images or texts per forward pass.
    #[arg(long, default_value_t = 16)]
    batch_size: usize,
}

/// `--dtype`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DtypeArg {
    /// 32-bit floats.
    F32,
    /// bfloat16 weights and activations.
    Bf16,
}

impl ModelArgs {
    fn load(&self) -> Result<Vlm, CliError> {
        let dtype = match self.dtype {
            DtypeArg::F32 => DType::F32,
            DtypeArg::Bf16 => DType::BF16,
        };
        if self.batch_size == 0 {
            return Err(CliError::Usage("--batch-size must be at least 1".into()));
        }
        Ok(Vlm::load(&self.model, &LoadOptions { dtype, ..LoadOptions::default() })?)
    }
}

/// `tessera vlm embed`.
#[derive(Debug, Args)]
pub struct EmbedArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// An image file (PNG or JPEG); repeat for several.
    #[arg(long)]
    image: Vec<PathBuf>,
    /// A text; repeat for several.
    #[arg(long)]
    text: Vec<String>,
    /// Print one JSON object `{"image_embeds": [...], "text_embeds": [...]}` on stdout.
    #[arg(long)]
    json: bool,
}

/// `tessera vlm tokenize`.
#[derive(Debug, Args)]
pub struct TokenizeArgs {
    /// A Hugging Face model folder.
    #[arg(long)]
    model: PathBuf,
    /// Texts to tokenise.
    #[arg(long, num_args = 1.., required = true)]
    text: Vec<String>,
    /// Print one JSON object `{"input_ids": [[...], ...]}` on stdout.
    #[arg(long)]
    json: bool,
}

/// `tessera vlm preprocess`.
#[derive(Debug, Args)]
pub struct PreprocessArgs {
    /// A Hugging Face model folder.
    #[arg(long)]
    model: PathBuf,
    /// Image files (PNG or JPEG).
    #[arg(long, num_args = 1.., required = true)]
    image: Vec<PathBuf>,
    /// Where to write tensor `pixel_values` (safetensors, written atomically; `-` for stdout).
    #[arg(long)]
    out: PathBuf,
}

/// `tessera vlm zero-shot`.
#[derive(Debug, Args)]
pub struct ZeroShotArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Image files.
    #[arg(long, num_args = 1.., required = true)]
    image: Vec<PathBuf>,
    /// Comma-separated labels.
    #[arg(long)]
    labels: String,
    /// A prompt template with `{}` for the label; repeat to ensemble (default "a photo of a {}.").
    #[arg(long)]
    template: Vec<String>,
    /// Print one JSON object `{"labels": [...], "probs": [[...], ...]}` on stdout.
    #[arg(long)]
    json: bool,
}

/// `tessera vlm retrieve`.
#[derive(Debug, Args)]
pub struct RetrieveArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// A text file with one image path per line (relative paths are relative to the file's folder).
    #[arg(long)]
    images: PathBuf,
    /// A text file of `IMAGE<TAB>CAPTION` lines; IMAGE is a path as written in --images or its 0-based
    /// line number there. An image may have several captions.
    #[arg(long)]
    captions: PathBuf,
    /// Print one JSON object on stdout.
    #[arg(long)]
    json: bool,
}

/// Runs a `vlm` subcommand.
pub fn run(cmd: VlmCommand) -> Result<(), CliError> {
    match cmd {
        VlmCommand::Embed(a) => embed(a),
        VlmCommand::Tokenize(a) => tokenize(a),
        VlmCommand::Preprocess(a) => preprocess(a),
        VlmCommand::ZeroShot(a) => zero_shot(a),
        VlmCommand::Retrieve(a) => retrieve(a),
        VlmCommand::Bench(a) => crate::vlm_bench::bench(a),
        VlmCommand::Train(a) => crate::vlm_train::train(a),
    }
}

fn open_images(paths: &[PathBuf]) -> Result<Vec<RgbImage>, CliError> {
    paths.iter().map(|p| RgbImage::open(p).map_err(CliError::from)).collect()
}

fn rows(t: &tessera_tensor::Tensor) -> Result<Vec<Vec<f32>>, CliError> {
    Ok(t.to_vec2::<f32>().map_err(tessera_vlm::Error::from)?)
}

fn print_json(v: &Value) {
    println!("{v}");
}

fn embed(a: EmbedArgs) -> Result<(), CliError> {
    if a.image.is_empty() && a.text.is_empty() {
        return Err(CliError::Usage("give at least one --image or --text".into()));
    }
    let images = open_images(&a.image)?;
    let vlm = a.model.load()?;
    let image_embeds =
        if images.is_empty() { Vec::new() } else { rows(&vlm.embed_images(&images, a.model.batch_size)?)? };
    let texts: Vec<&str> = a.text.iter().map(String::as_str).collect();
    let text_embeds =
        if texts.is_empty() { Vec::new() } else { rows(&vlm.embed_texts(&texts, a.model.batch_size)?)? };
    if a.json {
        print_json(&json!({ "image_embeds": image_embeds, "text_embeds": text_embeds }));
    } else {
        for (p, e) in a.image.iter().zip(&image_embeds) {
            println!("image {}: {} dims, first {:?}", p.display(), e.len(), &e[..e.len().min(4)]);
        }
        for (t, e) in a.text.iter().zip(&text_embeds) {
            println!("text {t:?}: {} dims, first {:?}", e.len(), &e[..e.len().min(4)]);
        }
    }
    Ok(())
}

fn tokenize(a: TokenizeArgs) -> Result<(), CliError> {
    let config = tessera_vlm::ModelConfig::from_file(&a.model.join("config.json"))?;
    let tok = tessera_vlm::TextTokenizer::from_dir(&a.model, &config)?;
    let texts: Vec<&str> = a.text.iter().map(String::as_str).collect();
    let enc = tok.encode_batch(&texts)?;
    if a.json {
        print_json(&json!({ "input_ids": enc.input_ids }));
    } else {
        for (t, ids) in a.text.iter().zip(&enc.input_ids) {
            println!("{t:?}: {ids:?}");
        }
    }
    Ok(())
}

fn preprocess(a: PreprocessArgs) -> Result<(), CliError> {
    let inputs: Vec<&Path> = a.image.iter().map(PathBuf::as_path).collect();
    tessera_tensor::check_output(&a.out, &inputs)?;
    let processor = tessera_vlm::image::ImageProcessor::from_file(&a.model.join("preprocessor_config.json"))?;
    let images = open_images(&a.image)?;
    let pixels = processor.preprocess(&images, &tessera_tensor::Device::Cpu)?;
    tessera_tensor::save(&a.out, &[("pixel_values", &pixels)])?;
    if a.out.as_os_str() != "-" {
        eprintln!("wrote pixel_values {:?} to {}", pixels.dims(), a.out.display());
    }
    Ok(())
}

fn zero_shot(a: ZeroShotArgs) -> Result<(), CliError> {
    let labels: Vec<&str> = a.labels.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    if labels.is_empty() {
        return Err(CliError::Usage("--labels needs at least one label (comma-separated)".into()));
    }
    let images = open_images(&a.image)?;
    let vlm = a.model.load()?;
    let templates: Vec<&str> = a.template.iter().map(String::as_str).collect();
    let z = vlm.zero_shot(&images, &labels, &templates, a.model.batch_size)?;
    if a.json {
        print_json(&json!({ "labels": z.labels, "probs": z.probs }));
    } else {
        for (p, row) in a.image.iter().zip(&z.probs) {
            let best = row.iter().enumerate().max_by(|x, y| x.1.total_cmp(y.1)).map_or(0, |(i, _)| i);
            println!("{}: {} ({:.3})", p.display(), z.labels[best], row[best]);
        }
    }
    Ok(())
}

/// Image paths, captions, and the image index of each caption.
type RetrievalInputs = (Vec<PathBuf>, Vec<String>, Vec<usize>);

/// Reads the image list and the captions, mapping each caption to its image's index.
fn read_retrieval_files(images: &Path, captions: &Path) -> Result<RetrievalInputs, CliError> {
    // Lists are read whole, so their size is bounded before reading (a regular file of at most 64 MiB).
    const MAX_LIST_BYTES: u64 = 64 << 20;
    let read = |p: &Path| -> Result<String, CliError> {
        let fail = |e: String| CliError::Usage(format!("{}: {e}", p.display()));
        let meta = std::fs::metadata(p).map_err(|e| fail(e.to_string()))?;
        if !meta.is_file() || meta.len() > MAX_LIST_BYTES {
            return Err(fail(format!("expected a regular text file of at most {MAX_LIST_BYTES} bytes")));
        }
        std::fs::read_to_string(p).map_err(|e| fail(e.to_string()))
    };
    let base = images.parent().unwrap_or(Path::new("."));
    let list_text = read(images)?;
    let names: Vec<&str> = list_text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    if names.is_empty() {
        return Err(CliError::Usage(format!("{}: no image paths", images.display())));
    }
    let by_name: HashMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let mut texts = Vec::new();
    let mut owner = Vec::new();
    for (lineno, line) in read(captions)?.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let Some((image, caption)) = line.split_once('\t') else {
            return Err(CliError::Usage(format!(
                "{}:{}: expected IMAGE<TAB>CAPTION",
                captions.display(),
                lineno + 1
            )));
        };
        let index = match by_name.get(image.trim()) {
            Some(&i) => i,
            None => match image.trim().parse::<usize>() {
                Ok(i) if i < names.len() => i,
                _ => {
                    return Err(CliError::Usage(format!(
                        "{}:{}: image `{image}` is neither a path in {} nor a line number below {}",
                        captions.display(),
                        lineno + 1,
                        images.display(),
                        names.len()
                    )));
                }
            },
        };
        texts.push(caption.to_string());
        owner.push(index);
    }
    if texts.is_empty() {
        return Err(CliError::Usage(format!("{}: no captions", captions.display())));
    }
    let paths = names
        .iter()
        .map(|n| if Path::new(n).is_absolute() { PathBuf::from(n) } else { base.join(n) })
        .collect();
    Ok((paths, texts, owner))
}

fn retrieve(a: RetrieveArgs) -> Result<(), CliError> {
    let (paths, texts, owner) = read_retrieval_files(&a.images, &a.captions)?;
    let images = open_images(&paths)?;
    let vlm = a.model.load()?;
    let img = vlm.embed_images(&images, a.model.batch_size)?;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let txt = vlm.embed_texts(&refs, a.model.batch_size)?;
    let r = recall_at_k(&img, &txt, &owner, &[1, 5, 10])?;
    let table = |v: &[(usize, f64)]| {
        let mut m = Map::new();
        for (k, x) in v {
            m.insert(format!("R@{k}"), json!(x));
        }
        Value::Object(m)
    };
    if a.json {
        print_json(&json!({
            "images": paths.len(),
            "captions": texts.len(),
            "image_to_text": table(&r.image_to_text),
            "text_to_image": table(&r.text_to_image),
        }));
    } else {
        println!("{} images, {} captions", paths.len(), texts.len());
        for ((k, i2t), (_, t2i)) in r.image_to_text.iter().zip(&r.text_to_image) {
            println!("R@{k}: image->text {i2t:.3}  text->image {t2i:.3}");
        }
    }
    Ok(())
}
