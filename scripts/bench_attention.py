"""PyTorch side of `cargo xtask bench attention`: torch.nn.functional.scaled_dot_product_attention on the
CPU (its flash kernel), 2 threads, f32, same shapes and FLOP convention as `tessera attention bench`.
Prints one JSON line per case.

Usage: python scripts/bench_attention.py [--seq L --dim D [--causal] [--backward] [--repeats R] [--heads H]]
(one case, with `tessera attention bench`'s flags: what `cargo xtask bench attention` runs, interleaved with
tessera case by case), or with no arguments every case of the table."""

import argparse

import json
import sys
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(2)


def case(seq, dim, causal, backward, heads=8, repeats=3):
    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, heads, seq, dim, generator=gen, requires_grad=backward) for _ in range(3))
    d_o = torch.randn(1, heads, seq, dim, generator=gen)

    def step():
        if backward:
            o = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
            o.backward(d_o)
        else:
            with torch.no_grad():
                F.scaled_dot_product_attention(q, k, v, is_causal=causal)

    step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    times.sort()
    secs = times[len(times) // 2]
    flops = 4.0 * heads * seq * seq * dim * (0.5 if causal else 1.0) * (3.5 if backward else 1.0)
    params = f"B=1 H={heads} Hkv={heads} L={seq} D={dim} F32" + (" causal" if causal else "")
    print(json.dumps({"bench": "attention " + ("forward+backward" if backward else "forward"),
                      "impl": f"pytorch {torch.__version__.split('+')[0]} sdpa", "params": params,
                      "ms": round(secs * 1e3, 2), "gflops": round(flops / secs / 1e9, 1)}), flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 1:
        ap = argparse.ArgumentParser()
        ap.add_argument("--seq", type=int, required=True)
        ap.add_argument("--dim", type=int, required=True)
        ap.add_argument("--heads", type=int, default=8)
        ap.add_argument("--causal", action="store_true")
        ap.add_argument("--backward", action="store_true")
        ap.add_argument("--repeats", type=int, default=3)
        a = ap.parse_args()
        case(a.seq, a.dim, a.causal, a.backward, heads=a.heads, repeats=a.repeats)
        sys.exit(0)
    for seq in [1024, 4096, 16384]:
        for dim in (64, 128):
            for causal in (False, True):
                for backward in (False, True):
                    case(seq, dim, causal, backward, repeats=1 if seq >= 16384 else 3)
