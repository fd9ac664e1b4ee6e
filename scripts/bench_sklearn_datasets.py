#!/usr/bin/env python3
"""scikit-learn's side of `cargo xtask bench datasets`: the same generators with the same shapes.

Prints one JSON object per line in the schema of crates/tessera-datasets/benches/datasets.rs.
"""
import json
import time

import numpy as np
import sklearn
from sklearn.datasets import make_classification, make_friedman1, make_regression


def best_of(reps, f):
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t)
    return best


def report(bench, params, seconds, rows, impl=None):
    print(json.dumps({"bench": bench, "impl": impl or f"scikit-learn {sklearn.__version__}", "params": params,
                      "seconds": round(seconds, 4), "rows_per_s": round(rows / seconds)}))


def main():
    s = best_of(3, lambda: make_classification(n_samples=1_000_000, n_features=28, n_informative=20,
                                               n_redundant=2, random_state=0))
    report("make_classification", "1000000x28, 20 informative (numpy, float64)", s, 1_000_000)
    s = best_of(3, lambda: make_regression(n_samples=500_000, n_features=20, n_informative=10, noise=1.0,
                                           random_state=0))
    report("make_regression", "500000x20 (numpy, float64)", s, 500_000)
    s = best_of(3, lambda: make_friedman1(n_samples=500_000, n_features=20, noise=1.0, random_state=0))
    report("make_friedman1", "500000x20 (numpy, float64)", s, 500_000)
    x, y = make_classification(n_samples=200_000, n_features=28, n_informative=20, n_redundant=2, random_state=0)
    try:
        import pandas as pd
    except ImportError:
        return
    import os
    import tempfile
    d = tempfile.mkdtemp()
    path = os.path.join(d, "bench.csv")
    df = pd.DataFrame(x.astype(np.float32), columns=[f"x{i}" for i in range(28)])
    df["target"] = y
    s = best_of(3, lambda: df.to_csv(path, index=False))
    report("write_csv", "200000x28", s, 200_000, f"pandas {pd.__version__}")
    s = best_of(3, lambda: pd.read_csv(path))
    report("read_csv", "200000x28", s, 200_000, f"pandas {pd.__version__}")


if __name__ == "__main__":
    main()
