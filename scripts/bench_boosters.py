#!/usr/bin/env python3
"""XGBoost's and LightGBM's side of `cargo xtask bench boosting`: the same CSV files, split, rounds, depth,
learning rate and bins as crates/tessera-trees/benches/boosting.rs, 2 threads. LightGBM grows leaf-wise;
num_leaves=63 with max_depth=6 is its closest equivalent of a depth-6 tree.
"""
import json
import pathlib
import resource
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA = ROOT / "target" / "bench-data"
CASES = {"binary_1m": ("boost_classification_1m.csv", "binary"), "regression_500k": ("boost_friedman_500k.csv", "regression")}


def load(name):
    data = np.loadtxt(DATA / name, delimiter=",", skiprows=1, dtype=np.float32)
    x, y = data[:, :-1], data[:, -1]
    n = len(y) * 4 // 5
    return x[:n], y[:n], x[n:], y[n:]


def quality(kind, y, p):
    from sklearn.metrics import roc_auc_score
    if kind == "binary":
        return {"auc": round(float(roc_auc_score(y, p)), 5)}
    return {"rmse": round(float(np.sqrt(np.mean((p - y) ** 2))), 5)}


def report(bench, impl, xtr, fit_s, pred_s, n_test, q):
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"bench": bench, "impl": impl, "params": f"{len(xtr)} train rows x {xtr.shape[1]}, 500 rounds, depth 6, eta 0.1, 2 threads",
                      "fit_s": round(fit_s, 3), "predict_rows_per_s": round(n_test / pred_s), **q, "peak_rss_mib": round(rss)}), flush=True)


def main():
    only = sys.argv[1] if len(sys.argv) > 1 else None
    for bench, (file, kind) in CASES.items():
        if only and only != bench:
            continue
        xtr, ytr, xte, yte = load(file)
        try:
            import xgboost as xgb
            params = {"objective": "binary:logistic" if kind == "binary" else "reg:squarederror", "tree_method": "hist",
                      "max_depth": 6, "eta": 0.1, "max_bin": 256, "nthread": 2}
            dtrain = xgb.DMatrix(xtr, label=ytr)
            t = time.perf_counter()
            model = xgb.train(params, dtrain, num_boost_round=500)
            fit_s = time.perf_counter() - t
            dtest = xgb.DMatrix(xte)
            t = time.perf_counter()
            p = model.predict(dtest)
            pred_s = time.perf_counter() - t
            report(bench, f"xgboost {xgb.__version__}", xtr, fit_s, pred_s, len(yte), quality(kind, yte, p))
        except ImportError:
            pass
        try:
            import lightgbm as lgb
            params = {"objective": "binary" if kind == "binary" else "regression", "num_leaves": 63, "max_depth": 6,
                      "learning_rate": 0.1, "max_bin": 255, "num_threads": 2, "verbose": -1}
            t = time.perf_counter()
            model = lgb.train(params, lgb.Dataset(xtr, label=ytr), num_boost_round=500)
            fit_s = time.perf_counter() - t
            t = time.perf_counter()
            p = model.predict(xte)
            pred_s = time.perf_counter() - t
            report(bench, f"lightgbm {lgb.__version__}", xtr, fit_s, pred_s, len(yte), quality(kind, yte, p))
        except ImportError:
            pass


if __name__ == "__main__":
    main()
