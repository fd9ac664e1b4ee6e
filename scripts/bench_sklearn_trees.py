#!/usr/bin/env python3
"""scikit-learn's side of `cargo xtask bench trees`: the same CSV, split and ensemble sizes, 2 threads.

Reads target/bench-data/trees_200k.csv (written by `cargo bench -p tessera-trees --bench trees`); prints one
JSON object per line in the schema of crates/tessera-trees/benches/trees.rs. An optional argument runs one
benchmark only (random_forest, extra_trees, adaboost).
"""
import json
import pathlib
import resource
import sys
import time

import numpy as np
import sklearn
from sklearn.ensemble import AdaBoostClassifier, ExtraTreesClassifier, RandomForestClassifier
from sklearn.metrics import accuracy_score

ROOT = pathlib.Path(__file__).resolve().parent.parent
CSV = ROOT / "target" / "bench-data" / "trees_200k.csv"


def main():
    data = np.loadtxt(CSV, delimiter=",", skiprows=1, dtype=np.float32)
    x, y = data[:, :-1], data[:, -1]
    n_train = len(y) * 4 // 5
    xtr, ytr, xte, yte = x[:n_train], y[:n_train], x[n_train:], y[n_train:]
    only = sys.argv[1] if len(sys.argv) > 1 else None
    cases = {
        "random_forest": ("160000x28 train, 100 trees", lambda: RandomForestClassifier(n_estimators=100, n_jobs=2, random_state=0)),
        "extra_trees": ("160000x28 train, 100 trees", lambda: ExtraTreesClassifier(n_estimators=100, n_jobs=2, random_state=0)),
        "adaboost": ("160000x28 train, 100 stumps", lambda: AdaBoostClassifier(n_estimators=100, random_state=0)),
    }
    try:
        import xgboost as xgb
        cases["hist_booster"] = ("160000x28 train, 100 rounds, depth 6, eta 0.3", lambda: xgb.XGBClassifier(
            n_estimators=100, max_depth=6, learning_rate=0.3, tree_method="hist", max_bin=256, n_jobs=2,
            random_state=0))
    except ImportError:
        pass
    for name, (params, make) in cases.items():
        if only and name != only:
            continue
        model = make()
        t = time.perf_counter()
        model.fit(xtr, ytr)
        fit_s = time.perf_counter() - t
        pred = model.predict(xte)
        predict_s = float("inf")
        for _ in range(3):  # throughput: best of three predictions of all 200,000 rows
            t = time.perf_counter()
            model.predict(x)
            predict_s = min(predict_s, time.perf_counter() - t)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        impl = f"xgboost {model.__module__.split('.')[0] == 'xgboost' and __import__('xgboost').__version__}" if name == "hist_booster" else f"scikit-learn {sklearn.__version__}"
        print(json.dumps({"bench": name, "impl": impl, "params": params + ", 2 threads",
                          "fit_s": round(fit_s, 3), "predict_rows_per_s": round(len(y) / predict_s),
                          "accuracy": round(float(accuracy_score(yte, pred)), 4), "peak_rss_mib": round(rss)}), flush=True)


if __name__ == "__main__":
    main()
