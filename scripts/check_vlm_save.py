"""Checks that transformers loads the folders tessera-vlm's save_pretrained writes and reproduces the
embeddings of the parity fixtures (which tessera matches within 1e-4).

Run: TESSERA_VLM_SAVE_DIR=/tmp/vlm_saved cargo test -p tessera-vlm --test pipeline save_pretrained
     python3 scripts/check_vlm_save.py /tmp/vlm_saved
"""

import json
import os
import sys

import numpy as np
import torch
from safetensors.numpy import load_file
from transformers import AutoModel, AutoTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "crates", "tessera-vlm", "tests", "fixtures")


def main(saved):
    worst = 0.0
    for name in ["clip_a", "clip_b", "siglip_a", "siglip_b"]:
        folder = os.path.join(saved, name)
        model = AutoModel.from_pretrained(folder).eval()
        tok = AutoTokenizer.from_pretrained(folder)
        exp = load_file(os.path.join(FIX, f"{name}.expected.safetensors"))
        texts = json.load(open(os.path.join(FIX, f"{name}.texts.json")))["texts"]
        if name.startswith("clip"):
            enc = tok(texts, padding=True, truncation=True, return_tensors="pt")
            assert np.array_equal(enc["input_ids"].numpy(), exp["input_ids"]), name
        else:
            enc = tok(texts, padding="max_length", max_length=64, truncation=True, return_tensors="pt")
            assert np.array_equal(enc["input_ids"].numpy(), exp["input_ids"]), name
            enc.pop("attention_mask", None)
        with torch.no_grad():
            r = model(pixel_values=torch.from_numpy(exp["pixel_values"]), **enc)
        for key in ("image_embeds", "text_embeds"):
            d = float(np.abs(getattr(r, key).numpy() - exp[key]).max())
            worst = max(worst, d)
            print(f"{name} {key}: max diff {d:.2e}")
    assert worst < 1e-5, worst
    print(f"transformers loads all four saved folders; worst difference {worst:.2e}")


if __name__ == "__main__":
    main(sys.argv[1])
