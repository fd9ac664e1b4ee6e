"""PyTorch side of `cargo xtask bench autograd`: tape overhead per op and MLP training steps on the CPU
with 2 threads. Prints one JSON line per case, in the format of crates/tessera-nn/benches/autograd.rs."""

import json
import time

import torch

torch.set_num_threads(2)
CHAIN = 1000


def median_time(fn, warmup, runs):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    times.sort()
    return times[runs // 2]


def emit(bench, params, field, value, suffix=""):
    print(json.dumps({"bench": bench, "impl": f"pytorch {torch.__version__.split('+')[0]}{suffix}", "params": params,
                      field: round(value, 3)}))


def tape_overhead():
    a = torch.tensor([1.0001, 0.9999, 1.0002, 0.9998])
    b = torch.tensor([0.001, -0.001, 0.002, -0.002])
    x = torch.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)

    def run():
        y = x
        for _ in range(CHAIN // 2):
            y = y * a + b
        y.sum().backward()
        x.grad = None

    secs = median_time(run, 5, 31)
    emit("tape overhead per op", "1000 ops (mul, add) on f32[4], forward + backward", "us_per_op",
         secs * 1e6 / CHAIN)


def mlp_step(n, fused):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512),
                                torch.nn.ReLU(), torch.nn.Linear(512, 10))
    # The default AdamW updates one tensor at a time; fused=True is PyTorch's fastest CPU update.
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=fused or None)
    x = torch.randn(n, 784)
    y = torch.randint(0, 10, (n,))

    def run():
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    runs = 501 if n == 1 else 51
    secs = median_time(run, 10, runs)
    emit(f"MLP training step, batch {n}", f"784-512-512-10 ReLU, cross entropy, AdamW, batch {n}", "us_per_step",
         secs * 1e6, suffix=" (fused AdamW)" if fused else "")


if __name__ == "__main__":
    tape_overhead()
    for fused in (False, True):
        mlp_step(128, fused)
        mlp_step(1, fused)
