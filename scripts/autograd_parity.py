"""PyTorch reference gradients for tessera-nn's parity test.

Builds a small composite model (embedding, layer norm, multi-head attention with causal and key
padding masks, GELU MLP, linear head, cross entropy with label smoothing) and a strided conv2d
from fixed seeded weights, runs forward and backward in float64, and writes

  crates/tessera-nn/tests/fixtures/composite_model.safetensors   parameters, named as tessera names them
  crates/tessera-nn/tests/fixtures/composite_expected.safetensors inputs, loss and every gradient

Run: python scripts/autograd_parity.py   (needs torch and safetensors; see scripts/requirements.txt)
"""

import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "crates", "tessera-nn", "tests", "fixtures")
VOCAB, DIM, HEADS, HIDDEN, CLASSES, BATCH, SEQ = 11, 8, 2, 16, 5, 2, 5


class Composite(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok = nn.Embedding(VOCAB, DIM)
        self.ln = nn.LayerNorm(DIM)
        self.attn = nn.MultiheadAttention(DIM, HEADS, batch_first=True)
        self.ln2 = nn.LayerNorm(DIM)
        self.mlp = nn.Module()
        self.mlp.fc1 = nn.Linear(DIM, HIDDEN)
        self.mlp.fc2 = nn.Linear(HIDDEN, DIM)
        self.head = nn.Linear(DIM, CLASSES)

    def forward(self, ids, padding, targets):
        x = self.tok(ids)
        h = self.ln(x)
        causal = torch.triu(torch.ones(SEQ, SEQ, dtype=torch.bool), diagonal=1)
        a, _ = self.attn(h, h, h, key_padding_mask=padding, attn_mask=causal, need_weights=False)
        x = x + a
        x = x + self.mlp.fc2(F.gelu(self.mlp.fc1(self.ln2(x))))
        logits = self.head(x)
        return F.cross_entropy(logits.reshape(-1, CLASSES), targets.reshape(-1), label_smoothing=0.1)


OPTIMIZERS = {
    "sgd": lambda p: torch.optim.SGD([p], lr=0.1),
    "sgd_momentum": lambda p: torch.optim.SGD([p], lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01),
    "sgd_nesterov": lambda p: torch.optim.SGD([p], lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    "adam": lambda p: torch.optim.Adam([p], lr=0.01, weight_decay=0.01),
    "adamw": lambda p: torch.optim.AdamW([p], lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
}


def optimizer_trajectories(steps=5):
    """Parameter values after each of `steps` updates with fixed gradients, per optimizer."""
    gen = torch.Generator().manual_seed(1)
    start = torch.randn(3, 4, generator=gen)
    grads = torch.randn(steps, 3, 4, generator=gen)
    out = {"optim.start": start, "optim.grads": grads}
    for name, make in OPTIMIZERS.items():
        p = start.clone().requires_grad_()
        opt = make(p)
        trajectory = []
        for g in grads:
            p.grad = g.clone()
            opt.step()
            trajectory.append(p.detach().clone())
        out["optim." + name] = torch.stack(trajectory)
    # clip_grad_norm_ over two parameters.
    a, b = torch.randn(5, generator=gen) * 3, torch.randn(2, 2, generator=gen) * 3
    pa, pb = torch.zeros(5, requires_grad=True), torch.zeros(2, 2, requires_grad=True)
    pa.grad, pb.grad = a.clone(), b.clone()
    norm = torch.nn.utils.clip_grad_norm_([pa, pb], 1.5)
    out.update({"clip.a": a, "clip.b": b, "clip.norm": norm.reshape(1),
                "clip.a_clipped": pa.grad, "clip.b_clipped": pb.grad})
    return out


def main():
    torch.manual_seed(0)
    model = Composite()
    # Non-trivial layer-norm affine parameters and attention biases (PyTorch inits them to 1/0).
    with torch.no_grad():
        for p in (model.ln.weight, model.ln.bias, model.ln2.weight, model.ln2.bias,
                  model.attn.in_proj_bias, model.attn.out_proj.bias):
            p.add_(0.1 * torch.randn_like(p))
    # Initialised in f32, evaluated in f64: the f32 parameters saved below are exactly the
    # reference's, so only the arithmetic differs between tessera's f32 run and this one.
    model = model.double()
    ids = torch.randint(0, VOCAB, (BATCH, SEQ))
    targets = torch.randint(0, CLASSES, (BATCH, SEQ))
    padding = torch.zeros(BATCH, SEQ, dtype=torch.bool)
    padding[1, -1] = True

    loss = model(ids, padding, targets)
    loss.backward()

    conv_x = torch.randn(2, 3, 7, 6).double().requires_grad_()
    conv_w = torch.randn(4, 3, 3, 3).double().requires_grad_()
    conv_b = torch.randn(4).double().requires_grad_()
    conv_y = F.conv2d(conv_x, conv_w, conv_b, stride=2, padding=1)
    conv_loss = (conv_y.tanh() ** 2).sum()
    conv_loss.backward()

    params = {name: p.detach().float().contiguous() for name, p in model.named_parameters()}
    expected = {"ids": ids.to(torch.int64), "targets": targets.to(torch.int64),
                "padding": padding.to(torch.uint8), "loss": loss.detach().reshape(1)}
    for name, p in model.named_parameters():
        expected["grad." + name] = p.grad.contiguous()
    expected.update({"conv.x": conv_x.detach(), "conv.w": conv_w.detach(), "conv.b": conv_b.detach(),
                     "conv.loss": conv_loss.detach().reshape(1), "conv.grad.x": conv_x.grad,
                     "conv.grad.w": conv_w.grad, "conv.grad.b": conv_b.grad})
    expected.update(optimizer_trajectories())
    os.makedirs(OUT, exist_ok=True)
    save_file(params, os.path.join(OUT, "composite_model.safetensors"),
              metadata={"torch": torch.__version__})
    save_file(expected, os.path.join(OUT, "composite_expected.safetensors"),
              metadata={"torch": torch.__version__})
    print("loss", loss.item(), "params", sum(p.numel() for p in model.parameters()))


if __name__ == "__main__":
    main()
