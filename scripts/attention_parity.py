"""PyTorch reference outputs and gradients for tessera-attention's parity test.

Runs torch.nn.functional.scaled_dot_product_attention in float64 on float32-representable inputs for
a few configurations (full, causal with seq_q == seq_k, causal with seq_q != seq_k aligned to the
bottom-right, grouped-query attention, a boolean mask for key padding, a custom scale) and writes
crates/tessera-attention/tests/fixtures/sdpa.safetensors with, per case, q, k, v, d_o, o, dq, dk, dv.

Run: python scripts/attention_parity.py   (needs torch and safetensors; see scripts/requirements.txt)
"""

import os

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch.nn.attention.bias import causal_lower_right

OUT = os.path.join(os.path.dirname(__file__), "..", "crates", "tessera-attention", "tests", "fixtures")

CASES = {
    # name: (batch, heads, kv_heads, seq_q, seq_k, dim, kind, scale)
    "full": (2, 3, 3, 37, 37, 32, "full", None),
    "causal": (1, 2, 2, 70, 70, 64, "causal", None),
    "causal_lower_right": (1, 2, 2, 23, 61, 48, "causal_lower_right", None),
    "gqa": (2, 4, 2, 19, 29, 16, "full", 0.3),
    "padding": (2, 2, 2, 17, 21, 24, "padding", None),
}


def main():
    gen = torch.Generator().manual_seed(0)
    tensors = {}
    for name, (b, h, hk, lq, lk, d, kind, scale) in CASES.items():
        q = torch.randn(b, h, lq, d, generator=gen).double().requires_grad_()
        k = torch.randn(b, hk, lk, d, generator=gen).double().requires_grad_()
        v = torch.randn(b, hk, lk, d, generator=gen).double().requires_grad_()
        d_o = torch.randn(b, h, lq, d, generator=gen).double()
        kwargs = {"scale": scale, "enable_gqa": hk != h}
        if kind == "causal":
            o = F.scaled_dot_product_attention(q, k, v, is_causal=True, **kwargs)
        elif kind == "causal_lower_right":
            o = F.scaled_dot_product_attention(q, k, v, attn_mask=causal_lower_right(lq, lk), **kwargs)
        elif kind == "padding":
            pad = torch.zeros(b, lk, dtype=torch.bool)
            pad[0, -5:] = True
            pad[1, :3] = True
            tensors[f"{name}.key_padding_mask"] = pad.to(torch.uint8)
            keep = ~pad[:, None, None, :]  # SDPA's boolean mask: True = take part
            o = F.scaled_dot_product_attention(q, k, v, attn_mask=keep, **kwargs)
        else:
            o = F.scaled_dot_product_attention(q, k, v, **kwargs)
        o.backward(d_o)
        for key, t in {"q": q, "k": k, "v": v, "d_o": d_o}.items():
            tensors[f"{name}.{key}"] = t.detach().float().contiguous()
        tensors.update({f"{name}.o": o.detach(), f"{name}.dq": q.grad, f"{name}.dk": k.grad, f"{name}.dv": v.grad})
    os.makedirs(OUT, exist_ok=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(OUT, "sdpa.safetensors"),
              metadata={"torch": torch.__version__})
    print("wrote", len(tensors), "tensors")


if __name__ == "__main__":
    main()
