"""transformers' CLIP / SigLIP towers on PyTorch CPU, timed as `tessera vlm bench` times ours: random
weights from the default configuration, one warm-up, best of several runs, eager fp32.

python3 scripts/bench_vlm.py --arch clip --tower image --batch-size 16 [--runs 3] [--threads 2]
prints {"images_per_s": X} (or texts_per_s)
"""

import argparse
import json
import time

import torch
from transformers import CLIPConfig, CLIPModel, SiglipConfig, SiglipModel


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--arch", choices=["clip", "siglip"], default="clip")
    p.add_argument("--tower", choices=["image", "text"], default="image")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = (CLIPModel(CLIPConfig()) if a.arch == "clip" else SiglipModel(SiglipConfig())).eval()
    b = a.batch_size
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
        run()
        best = float("inf")
        for _ in range(a.runs):
            t = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - t)
    print(json.dumps({key: b / best}))


if __name__ == "__main__":
    main()
