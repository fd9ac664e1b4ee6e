"""Reference side of `cargo xtask bench dist`: torch.distributed all_reduce (SUM, float32) with the gloo
backend, one process per rank on loopback, timed as `tessera dist bench` times its own: two warm-up calls,
then as many calls as fill the budget (3 to 1000, agreed by all ranks), the mean per call of the slowest
rank, every result checked against the exact sum. Prints {"results": [{"bytes", "time_us", "busbw_gbps"}]}.
Usage: python scripts/bench_gloo.py NPROC BYTES[,BYTES...] [BUDGET_MS]"""

import json
import os
import socket
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def worker(rank, world, port, sizes, budget, queue):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    results = []
    for nbytes in sizes:
        n = nbytes // 4
        base = (torch.arange(n) % 251).to(torch.float32)
        want = base * world + world * (world - 1) / 2

        def once():
            buf = base + rank
            t = time.perf_counter()
            dist.all_reduce(buf)
            dt = time.perf_counter() - t
            if not torch.equal(buf, want):
                raise RuntimeError(f"wrong sum at {nbytes} bytes")
            return dt

        once()
        probe = torch.tensor([once()], dtype=torch.float64)
        dist.all_reduce(probe, op=dist.ReduceOp.MAX)
        iters = int(min(max(budget / max(probe.item(), 1e-7), 3), 1000))
        total = sum(once() for _ in range(iters))
        mean = torch.tensor([total / iters], dtype=torch.float64)
        dist.all_reduce(mean, op=dist.ReduceOp.MAX)
        factor = 2 * (world - 1) / world if world > 1 else 1
        results.append({"bytes": nbytes, "time_us": mean.item() * 1e6,
                        "busbw_gbps": nbytes / mean.item() * factor / 1e9})
    if rank == 0:
        queue.put(results)
    dist.destroy_process_group()


def main():
    world = int(sys.argv[1])
    sizes = [int(s) for s in sys.argv[2].split(",")]
    budget = (float(sys.argv[3]) if len(sys.argv) > 3 else 300) / 1000
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    mp.spawn(worker, args=(world, port, sizes, budget, queue), nprocs=world, join=True)
    print(json.dumps({"results": queue.get()}))


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
