"""Times transformers' training step on the digits models `tessera vlm train` builds (same config, batch,
sequence length and AdamW), for the training figures in docs/benchmarks.md.

Run: target/release/tessera vlm train --arch clip --out /tmp/digits_clip --json   (prints its seconds)
     python3 scripts/bench_vlm_train.py /tmp/digits_clip --steps 528
"""

import argparse
import time

import torch
from transformers import AutoConfig, AutoModel


def main():
    p = argparse.ArgumentParser()
    p.add_argument("folder")
    p.add_argument("--steps", type=int, default=528)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    config = AutoConfig.from_pretrained(a.folder)
    model = AutoModel.from_config(config).train()
    siglip = config.model_type == "siglip"
    s = config.vision_config.image_size
    b = a.batch_size
    length = config.text_config.max_position_embeddings if siglip else 9
    pixels = torch.randn(b, 3, s, s)
    ids = torch.randint(3, config.text_config.vocab_size, (b, length))
    ids[:, -1] = config.text_config.eos_token_id
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.1)
    kwargs = {} if siglip else {"attention_mask": torch.ones_like(ids)}
    t = None
    for step in range(a.steps + 5):
        if step == 5:
            t = time.perf_counter()  # after a warm-up
        opt.zero_grad()
        out = model(input_ids=ids, pixel_values=pixels, return_loss=True, **kwargs)
        out.loss.backward()
        opt.step()
    seconds = time.perf_counter() - t
    print(f"{config.model_type}: {a.steps} steps in {seconds:.2f} s ({1e3 * seconds / a.steps:.1f} ms/step)")


if __name__ == "__main__":
    main()
