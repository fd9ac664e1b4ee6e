"""Parity fixtures for tessera-vlm, made with transformers (PIL image backend), Pillow and tokenizers.

Writes crates/tessera-vlm/tests/fixtures/:
  images/          real photos (scikit-image's PNG and JPEG files, a grayscale, an RGBA, a portrait crop)
  clip_a, clip_b, siglip_a, siglip_b/
                   tiny seeded models saved with save_pretrained, every weight perturbed by seeded noise,
                   each with a real tokenizer (CLIP: the first merges of OpenAI's BPE from the open-clip-torch
                   wheel; SigLIP: a SentencePiece-style Unigram trained here on real English text)
  <model>.expected.safetensors
                   input_ids, pixel_values, embeddings, logits (f32 and bf16) from transformers
  preprocess.safetensors
                   what CLIPImageProcessorPil / SiglipImageProcessorPil make of every image, losslessly
                   encoded as the u8 image after resize+crop (the script asserts that rescale+normalise of it
                   gives the processor's pixel_values bit for bit), plus one f32 pixel_values as made
  resample.safetensors
                   Pillow's resize of a noise image to many sizes with each filter (both pass orders)
  jpeg_rgb.safetensors
                   the RGB that PIL (libjpeg-turbo) decodes from the JPEG, so JPEG cases start from it

Run: python3 scripts/vlm_parity.py   (pip install transformers open-clip-torch scikit-image pillow safetensors)
"""

import gzip
import json
import os
import shutil

import numpy as np
import open_clip
import PIL
import skimage.data
import sklearn.datasets
import torch
from PIL import Image
from safetensors.numpy import save_file
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import (
    CLIPConfig,
    CLIPImageProcessorPil,
    CLIPModel,
    CLIPTokenizer,
    PreTrainedTokenizerFast,
    SiglipConfig,
    SiglipImageProcessorPil,
    SiglipModel,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "crates", "tessera-vlm", "tests", "fixtures")
SKI = os.path.dirname(skimage.data.__file__)
assert PIL.__version__.split(".")[0] == "13", f"fixtures are made with Pillow 13, found {PIL.__version__}"

TEXTS = [
    "a photo of a cat",
    "A PHOTO of the digit seven!",
    "",
    "  two   spaces   ",
    "naïve café, Zürich & 東京 — ok?",
    "a rocket on a launch pad at night",
    " ".join(["the quick brown fox jumps over the lazy dog"] * 12),  # > 77 tokens: truncation keeps EOS
]


def fresh(path):
    if os.path.exists(path):
        shutil.rmtree(path)
    os.makedirs(path)


# ---------------------------------------------------------------------------------------------- images
def make_images():
    d = os.path.join(OUT, "images")
    fresh(d)
    shutil.copy(os.path.join(SKI, "chelsea.png"), os.path.join(d, "chelsea.png"))  # 451x300 RGB
    shutil.copy(os.path.join(SKI, "horse.png"), os.path.join(d, "horse.png"))  # 400x328 RGBA
    Image.open(os.path.join(SKI, "camera.png")).crop((128, 64, 384, 320)).save(os.path.join(d, "camera.png"))  # L
    Image.open(os.path.join(SKI, "astronaut.png")).crop((150, 0, 350, 512)).save(
        os.path.join(d, "portrait.png")
    )  # 200x512: height shrinks much more than width
    # A real JPEG photo, kept small: rocket.jpg cropped and re-encoded (still a libjpeg baseline file).
    Image.open(os.path.join(SKI, "rocket.jpg")).crop((100, 60, 420, 300)).save(
        os.path.join(d, "rocket.jpg"), quality=90
    )
    return ["chelsea.png", "horse.png", "camera.png", "portrait.png", "rocket.jpg"]


# ---------------------------------------------------------------------------------------------- resample
def make_resample():
    rng = np.random.default_rng(7)
    src = rng.integers(0, 256, size=(47, 61, 3), dtype=np.uint8)
    # Smooth part + noise part, so both flat and sharp regions are resampled.
    src[:, :30] = (np.linspace(0, 255, 30)[None, :, None] * np.ones((47, 1, 3))).astype(np.uint8)
    im = Image.fromarray(src)
    out = {"src": src}
    sizes = [(61, 47), (30, 23), (16, 40), (60, 10), (7, 5), (122, 94), (100, 30), (20, 90), (61, 20), (13, 47),
             (200, 11), (3, 150), (45, 46), (1, 1)]
    filters = {"nearest": Image.Resampling.NEAREST, "bilinear": Image.Resampling.BILINEAR,
               "bicubic": Image.Resampling.BICUBIC}
    for fname, f in filters.items():
        for (w, h) in sizes:
            out[f"{fname}_{w}x{h}"] = np.asarray(im.resize((w, h), f))
    save_file(out, os.path.join(OUT, "resample.safetensors"))


# ---------------------------------------------------------------------------------------------- preprocess
def processor_configs():
    return {
        "clip224": CLIPImageProcessorPil(),
        "clip80_nearest": CLIPImageProcessorPil(size={"shortest_edge": 80}, crop_size={"height": 72, "width": 64},
                                                resample=Image.Resampling.NEAREST),
        "siglip224": SiglipImageProcessorPil(),
        "siglip_bilinear_96x128": SiglipImageProcessorPil(size={"height": 96, "width": 128},
                                                          resample=Image.Resampling.BILINEAR),
    }


# The 224-pixel cases are the real models' settings; to keep fixtures small they run on a subset.
SUBSETS = {"clip224": ["chelsea.png", "rocket.jpg", "camera.png", "portrait.png"],
           "siglip224": ["portrait.png", "horse.png"]}


def encode_lossless(proc, pixel_values):
    """The u8 image whose rescale+normalise is `pixel_values` (C, H, W), asserted bit-exact."""
    mean = np.array(proc.image_mean, dtype=np.float32)[:, None, None]
    std = np.array(proc.image_std, dtype=np.float32)[:, None, None]
    u8 = np.clip(np.round((pixel_values * std + mean) * 255.0), 0, 255).astype(np.uint8)
    again = ((u8.astype(np.float64) * (1 / 255)).astype(np.float32) - mean) / std
    assert np.array_equal(again.astype(np.float32), pixel_values), "lossless encoding failed"
    return np.ascontiguousarray(np.moveaxis(u8, 0, -1))  # (H, W, 3)


def make_preprocess(names):
    out = {}
    meta = {}
    for key, proc in processor_configs().items():
        meta[key] = proc.to_dict()
        for name in names:
            if key in SUBSETS and name not in SUBSETS[key]:
                continue
            pv = proc(images=Image.open(os.path.join(OUT, "images", name)), return_tensors="np")["pixel_values"][0]
            out[f"{key}/{name}"] = encode_lossless(proc, pv)
            if key == "clip80_nearest" and name == "chelsea.png":
                out[f"{key}/{name}/pixel_values"] = pv
    save_file(out, os.path.join(OUT, "preprocess.safetensors"))
    with open(os.path.join(OUT, "preprocess_configs.json"), "w") as f:
        json.dump({k: {kk: v[kk] for kk in ("size", "crop_size", "resample", "do_resize", "do_center_crop",
                                            "do_rescale", "rescale_factor", "do_normalize", "image_mean",
                                            "image_std", "do_convert_rgb") if kk in v}
                   for k, v in meta.items()}, f, indent=1, default=str)
    jpeg = {n: np.asarray(Image.open(os.path.join(OUT, "images", n)).convert("RGB")) for n in names if n.endswith(".jpg")}
    save_file(jpeg, os.path.join(OUT, "jpeg_rgb.safetensors"))


# ---------------------------------------------------------------------------------------------- tokenizers
def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def clip_tokenizer(folder, n_merges):
    """OpenAI's CLIP BPE, cut to its first `n_merges` merges (vocabulary in OpenAI's order)."""
    path = os.path.join(os.path.dirname(open_clip.__file__), "bpe_simple_vocab_16e6.txt.gz")
    merges = gzip.open(path).read().decode("utf-8").split("\n")[1 : 1 + n_merges]
    merges = [tuple(m.split()) for m in merges]
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab] + ["".join(m) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
    tok = CLIPTokenizer(vocab={t: i for i, t in enumerate(vocab)}, merges=merges,
                        model_max_length=77)
    return tok, len(vocab)


def corpus():
    text = []
    for load in (sklearn.datasets.load_iris, sklearn.datasets.load_wine, sklearn.datasets.load_breast_cancer,
                 sklearn.datasets.load_diabetes, sklearn.datasets.load_digits):
        text += load().DESCR.split("\n")
    digits = "zero one two three four five six seven eight nine".split()
    for d in digits:
        text += [f"a photo of the digit {d}", f"a picture of a handwritten {d}", f"the number {d}"]
    return [t for t in text if t.strip()] + [t for t in TEXTS if t.strip()]


def siglip_tokenizer(folder, vocab_size, pad):
    """A SentencePiece-style Unigram (Metaspace, lower-cased) trained on real English text."""
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase(),
                                           normalizers.Replace(" {2,}", " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=["<pad>", "</s>", "<unk>"],
                                      unk_token="<unk>")
    tok.train_from_iterator(corpus(), trainer)
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", eos_token="</s>", pad_token=pad,
                                   model_max_length=64)
    return fast, tok.get_vocab_size()


# ---------------------------------------------------------------------------------------------- models
def perturb(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            p.add_(torch.randn(p.shape, generator=g) * 0.05)
    return model


def round_to(model, dtype):
    """Rounds every weight to `dtype` (the checkpoint is saved in it; the f32 reference runs on the rounded values)."""
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(dtype).to(torch.float32))
    return model


def save_folder(folder, model, tok, proc, dtype):
    """save_pretrained of model (in `dtype` when given: its weights rounded first), tokenizer and processor."""
    if dtype is not None:
        round_to(model, dtype)
        model.to(dtype).save_pretrained(folder)
        model.to(torch.float32)
    else:
        model.save_pretrained(folder)
    tok.save_pretrained(folder)
    proc.save_pretrained(folder)


def run_model(name, model, tok, proc, names, kind):
    folder = os.path.join(OUT, name)
    model.eval()
    if kind == "clip":
        enc = tok(TEXTS, padding=True, truncation=True, return_tensors="pt")
    else:
        enc = tok(TEXTS, padding="max_length", max_length=64, truncation=True,
                  return_tensors="pt")
    images = [Image.open(os.path.join(OUT, "images", n)) for n in names]
    pixels = proc(images=images, return_tensors="pt")["pixel_values"]
    out = {"input_ids": enc["input_ids"].to(torch.int64).numpy(), "pixel_values": pixels.numpy()}
    if kind == "clip":
        out["attention_mask"] = enc["attention_mask"].to(torch.int64).numpy()
    with torch.no_grad():
        kwargs = {"input_ids": enc["input_ids"], "pixel_values": pixels}
        if kind == "clip":
            kwargs["attention_mask"] = enc["attention_mask"]
        r = model(**kwargs)
        out["image_embeds"] = r.image_embeds.numpy()
        out["text_embeds"] = r.text_embeds.numpy()
        out["logits_per_image"] = r.logits_per_image.numpy()
        out["vision_last_hidden_state"] = r.vision_model_output.last_hidden_state.numpy()
        out["text_last_hidden_state"] = r.text_model_output.last_hidden_state.numpy()
        out["text_pooler_output"] = r.text_model_output.pooler_output.numpy()
        out["vision_pooler_output"] = r.vision_model_output.pooler_output.numpy()
        bf = model.to(torch.bfloat16)
        kwargs["pixel_values"] = pixels.to(torch.bfloat16)
        rb = bf(**kwargs)
        out["bf16_image_embeds"] = rb.image_embeds.float().numpy()
        out["bf16_text_embeds"] = rb.text_embeds.float().numpy()
        model.to(torch.float32)
    save_file({k: np.ascontiguousarray(v) for k, v in out.items()}, os.path.join(OUT, f"{name}.expected.safetensors"))
    with open(os.path.join(OUT, f"{name}.texts.json"), "w") as f:
        json.dump({"texts": TEXTS, "images": names}, f, ensure_ascii=False, indent=1)


def make_clip(name, seed, n_merges, text, vision, projection_dim, legacy_eos, proc_kwargs, names, dtype=None):
    folder = os.path.join(OUT, name)
    fresh(folder)
    tok, vocab_size = clip_tokenizer(folder, n_merges)
    eos = 2 if legacy_eos else tok.eos_token_id
    config = CLIPConfig(
        text_config=dict(vocab_size=vocab_size, max_position_embeddings=77, bos_token_id=tok.bos_token_id,
                         eos_token_id=eos, pad_token_id=tok.pad_token_id, **text),
        vision_config=dict(num_channels=3, **vision),
        projection_dim=projection_dim,
    )
    torch.manual_seed(seed)
    model = perturb(CLIPModel(config), seed)
    proc = CLIPImageProcessorPil(**proc_kwargs)
    save_folder(folder, model, tok, proc, dtype)
    run_model(name, model, tok, proc, names, "clip")


def make_siglip(name, seed, vocab, pad, text, vision, proc_kwargs, names, dtype=None):
    folder = os.path.join(OUT, name)
    fresh(folder)
    tok, vocab_size = siglip_tokenizer(folder, vocab, pad)
    config = SiglipConfig(
        text_config=dict(vocab_size=vocab_size, max_position_embeddings=64, pad_token_id=tok.pad_token_id,
                         eos_token_id=1, bos_token_id=None, **text),
        vision_config=dict(num_channels=3, **vision),
    )
    torch.manual_seed(seed)
    model = perturb(SiglipModel(config), seed)
    proc = SiglipImageProcessorPil(**proc_kwargs)
    save_folder(folder, model, tok, proc, dtype)
    run_model(name, model, tok, proc, names, "siglip")


def make_losses():
    """CLIP's symmetric InfoNCE and SigLIP's sigmoid loss with their gradients, in f64 (torch autograd)."""
    out = {}
    g = torch.Generator().manual_seed(11)
    for case, (b, n, d) in {"square": (6, 6, 5), "wide": (4, 4, 9), "one": (1, 1, 3)}.items():
        img = torch.nn.functional.normalize(torch.randn(b, d, generator=g, dtype=torch.float64), dim=-1)
        txt = torch.nn.functional.normalize(torch.randn(n, d, generator=g, dtype=torch.float64), dim=-1)
        for kind in ("clip", "siglip"):
            i = img.clone().requires_grad_()
            t = txt.clone().requires_grad_()
            scale = torch.tensor(2.6592 if kind == "clip" else np.log(10.0), dtype=torch.float64, requires_grad=True)
            bias = torch.tensor(-10.0 if kind == "siglip" else 0.0, dtype=torch.float64, requires_grad=True)
            logits = scale.exp() * i @ t.T + (bias if kind == "siglip" else 0.0)
            if kind == "clip":
                labels = torch.arange(b)
                loss = (torch.nn.functional.cross_entropy(logits, labels)
                        + torch.nn.functional.cross_entropy(logits.T, labels)) / 2
            else:
                # transformers' SiglipModel loss: -(logsigmoid(m1_diag1 * logits)).sum(-1).mean()
                m1_diag1 = 2 * torch.eye(b, dtype=torch.float64) - 1
                loss = -torch.nn.functional.logsigmoid(m1_diag1 * logits).sum(-1).mean()
            loss.backward()
            p = f"{kind}/{case}"
            out[f"{p}/image"] = img.numpy()
            out[f"{p}/text"] = txt.numpy()
            out[f"{p}/loss"] = loss.detach().numpy().reshape(1)
            out[f"{p}/grad_image"] = i.grad.numpy()
            out[f"{p}/grad_text"] = t.grad.numpy()
            out[f"{p}/grad_scale"] = scale.grad.numpy().reshape(1)
            if kind == "siglip":
                out[f"{p}/grad_bias"] = bias.grad.numpy().reshape(1)
    save_file(out, os.path.join(OUT, "losses.safetensors"))


def main():
    os.makedirs(OUT, exist_ok=True)
    make_losses()
    names = make_images()
    make_resample()
    make_preprocess(names)
    make_clip("clip_a", 1, 1500,
              dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                   hidden_act="quick_gelu", layer_norm_eps=1e-5),
              dict(hidden_size=48, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4, image_size=32,
                   patch_size=8, hidden_act="quick_gelu", layer_norm_eps=1e-5),
              24, True, dict(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}), names)
    make_clip("clip_b", 2, 1200,
              dict(hidden_size=40, intermediate_size=72, num_hidden_layers=3, num_attention_heads=5,
                   hidden_act="gelu", layer_norm_eps=1e-6),
              dict(hidden_size=64, intermediate_size=80, num_hidden_layers=3, num_attention_heads=2, image_size=48,
                   patch_size=16, hidden_act="gelu", layer_norm_eps=1e-6),
              32, False, dict(size={"shortest_edge": 48}, crop_size={"height": 48, "width": 48}), names,
              dtype=torch.float16)
    make_siglip("siglip_a", 3, 600, "</s>",
                dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                     projection_size=48),
                dict(hidden_size=48, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4, image_size=32,
                     patch_size=8),
                dict(size={"height": 32, "width": 32}), names)
    make_siglip("siglip_b", 4, 700, "<pad>",
                dict(hidden_size=48, intermediate_size=64, num_hidden_layers=3, num_attention_heads=3,
                     hidden_act="gelu_pytorch_tanh", projection_size=40),
                dict(hidden_size=40, intermediate_size=56, num_hidden_layers=1, num_attention_heads=5, image_size=48,
                     patch_size=12, hidden_act="gelu"),
                dict(size={"height": 48, "width": 48}, resample=Image.Resampling.BILINEAR), names,
                dtype=torch.bfloat16)
    total = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(OUT) for f in fs)
    print(f"wrote {OUT}: {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
