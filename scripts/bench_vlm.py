"""transformers' CLIP / SigLIP towers on PyTorch CPU, timed as `tessera vlm bench` times ours: random
weights from the default configuration, one warm-up, best of several runs, eager fp32.

python3 scripts/bench_vlm.py --arch clip --tower image --batch-size 16 [--runs 3] [--threads 2]
python3 scripts/bench_vlm.py --tower preprocess --folder DIR --image a.png --image b.jpg --batch-size 4
prints {"images_per_s": X, "peak_rss_mb": M} (or texts_per_s); `preprocess` times the folder's image
processor with the PIL backend on the decoded photos, `--batch-size` calls (one per pass) per run.
"""

import argparse
import json
import resource
import time

import torch
from transformers import CLIPConfig, CLIPModel, SiglipConfig, SiglipModel


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--arch", choices=["clip", "siglip"], default="clip")
    p.add_argument("--tower", choices=["image", "text", "preprocess"], default="image")
    p.add_argument("--folder", help="model folder (its preprocessor_config.json) for --tower preprocess")
    p.add_argument("--image", action="append", default=[], help="photo for --tower preprocess")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    b = a.batch_size
    if a.tower == "preprocess":
        from PIL import Image
        from transformers import AutoImageProcessor

        proc = AutoImageProcessor.from_pretrained(a.folder, backend="pil")
        photos = [Image.open(f).convert("RGB") for f in a.image]

        def passes():
            for _ in range(b):
                proc(images=photos, return_tensors="pt")

        timed(passes, a.runs, b * len(photos), "images_per_s")
        return
    model = (CLIPModel(CLIPConfig()) if a.arch == "clip" else SiglipModel(SiglipConfig())).eval()
    if a.tower == "image":
        s = model.config.vision_config.image_size
        x = torch.randn(b, 3, s, s)
        run = lambda: model.get_image_features(pixel_values=x)
        key = "images_per_s"
    else:
        l = model.config.text_config.max_position_embeddings
        ids = torch.randint(0, 1000, (b, l))
        run = lambda: model.get_text_features(input_ids=ids)
        key = "texts_per_s"
    with torch.inference_mode():
        timed(run, a.runs, b, key)


def timed(run, runs, items, key):
    """One warm-up, best of `runs`; prints the rate and the process's peak resident memory."""
    run()
    best = float("inf")
    for _ in range(runs):
        t = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({key: items / best, "peak_rss_mb": peak_mb}))


if __name__ == "__main__":
    main()
