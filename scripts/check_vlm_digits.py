"""Checks that transformers loads a digits model trained by `tessera vlm train` and reproduces tessera's
embeddings end to end: its own tokenizer (AutoTokenizer on the saved tokenizer.json), its own image
processor (AutoImageProcessor, PIL backend) and the model, against `tessera vlm embed` on the same PNG
files and texts.

Run: cargo build --release -p tessera-cli
     target/release/tessera vlm train --arch clip --out /tmp/digits_clip
     target/release/tessera vlm train --arch siglip --out /tmp/digits_siglip
     python3 scripts/check_vlm_digits.py target/release/tessera /tmp/digits_clip /tmp/digits_siglip
"""

import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from PIL import Image
from transformers import AutoImageProcessor, AutoModel, AutoTokenizer

TEXTS = ["a drawing of the digit seven", "the number 3", "a handwritten zero", "a scan of a handwritten digit 9"]


def digit_pngs(folder, count=12):
    """The first `count` scikit-learn digits as 8x8 RGB PNGs, scaled as tessera scales them."""
    from sklearn.datasets import load_digits

    x = load_digits().images[:count]
    paths = []
    for i, img in enumerate(x):
        g = np.floor(np.clip(img, 0, 16) * 255.0 / 16.0 + 0.5).astype(np.uint8)
        path = os.path.join(folder, f"digit{i}.png")
        Image.fromarray(np.stack([g, g, g], axis=-1)).save(path)
        paths.append(path)
    return paths


def check(tessera, model_dir, paths):
    args = [tessera, "vlm", "embed", "--model", model_dir, "--json"]
    for p in paths:
        args += ["--image", p]
    for t in TEXTS:
        args += ["--text", t]
    ours = json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)
    model = AutoModel.from_pretrained(model_dir).eval()
    tok = AutoTokenizer.from_pretrained(model_dir)
    proc = AutoImageProcessor.from_pretrained(model_dir, backend="pil")
    images = [Image.open(p).convert("RGB") for p in paths]
    pixels = proc(images=images, return_tensors="pt")["pixel_values"]
    if model.config.model_type == "clip":
        enc = tok(TEXTS, padding=True, truncation=True, return_tensors="pt")
    else:
        enc = tok(TEXTS, padding="max_length", max_length=tok.model_max_length, truncation=True, return_tensors="pt")
        enc.pop("attention_mask", None)
    with torch.no_grad():
        r = model(pixel_values=pixels, **enc)
    worst = 0.0
    for key in ("image_embeds", "text_embeds"):
        d = float(np.abs(getattr(r, key).numpy() - np.array(ours[key], dtype=np.float32)).max())
        print(f"{os.path.basename(model_dir)} {key}: max diff {d:.2e}")
        worst = max(worst, d)
    return worst


def main(tessera, folders):
    with tempfile.TemporaryDirectory() as tmp:
        paths = digit_pngs(tmp)
        worst = max(check(tessera, f, paths) for f in folders)
    assert worst < 1e-4, worst
    print(f"transformers reproduces tessera's embeddings of the trained folders; worst difference {worst:.2e}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
