#!/usr/bin/env python3
"""Categorical-split parity fixture for tessera's histogram booster, against XGBoost 3.2 (enable_categorical).

Data (seeded, written to crates/tessera-trees/tests/fixtures/categorical.csv, 5,000 rows, the first 4,000 for
training): `store` has 40 categories whose effects have no order (partition-based splits, 6% missing),
`weekday` 3 categories (one-hot splits, as fewer than max_cat_to_onehot = 4), `price` and `temperature`
numerical; targets `sales` (regression) and `busy` (binary). XGBoost (tree_method=hist, 100 rounds, depth 4,
eta 0.1) with the two categorical columns declared as such, and again with them read as numbers, gives test
RMSE and AUC; tessera's test (crates/tessera-trees/tests/booster_categorical.rs) must come within 2% RMSE and
0.005 AUC of the categorical scores. Also saves XGBoost's categorical regression and classification models and
their margins on all rows plus a few rows with invalid or unseen categories (negative, fractional, beyond the
largest seen; XGBoost sends those left), in crates/tessera-trees/tests/fixtures/xgboost/categorical_*.json;
tessera must reproduce them to 1e-5.

Run: pip install -r scripts/requirements.txt && python3 scripts/categorical_parity.py  (or: cargo xtask fixtures)
"""
import json
import pathlib

import numpy as np
import xgboost as xgb
from sklearn.metrics import roc_auc_score

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "crates" / "tessera-trees" / "tests" / "fixtures"
N, N_TRAIN = 5000, 4000
COLUMNS = ["store", "weekday", "price", "temperature", "sales", "busy"]
FEATURE_TYPES = ["c", "c", "q", "q"]


def make_data():
    rng = np.random.default_rng(7)
    store_effect = rng.normal(0.0, 1.5, 40)
    weekday_effect = np.array([1.0, -1.2, 0.3])
    store = rng.integers(0, 40, N).astype(np.float64)
    weekday = rng.integers(0, 3, N).astype(np.float64)
    price = rng.uniform(1.0, 10.0, N)
    temperature = rng.normal(15.0, 8.0, N)
    sales = (store_effect[store.astype(int)] + weekday_effect[weekday.astype(int)] - 0.3 * price
             + np.sin(temperature / 5.0) + rng.normal(0.0, 0.5, N))
    busy = (sales + rng.normal(0.0, 0.5, N) > np.median(sales)).astype(np.float64)
    store[rng.random(N) < 0.06] = np.nan
    return np.column_stack([store, weekday, price, temperature, sales, busy]).astype(np.float32)


def write_csv(data):
    lines = [",".join(COLUMNS)]
    for row in data:
        lines.append(",".join("" if np.isnan(v) else f"{v:.9g}" for v in row))
    (FIXTURES / "categorical.csv").write_text("\n".join(lines) + "\n")


def params(objective):
    return {"objective": objective, "tree_method": "hist", "max_depth": 4, "eta": 0.1, "max_bin": 256,
            "nthread": 2, "seed": 0}


def matrix(x, y=None, categorical=True):
    if categorical:
        return xgb.DMatrix(x, label=y, feature_types=FEATURE_TYPES, enable_categorical=True)
    return xgb.DMatrix(x, label=y)


def main():
    FIXTURES.mkdir(parents=True, exist_ok=True)
    data = make_data()
    write_csv(data)
    x, sales, busy = data[:, :4], data[:, 4], data[:, 5]
    xtr, xte = x[:N_TRAIN], x[N_TRAIN:]
    out = {"xgboost_version": xgb.__version__, "n_train": N_TRAIN, "rounds": 100, "max_depth": 4, "eta": 0.1}
    for categorical in (True, False):
        key = "categorical" if categorical else "as_numbers"
        reg = xgb.train(params("reg:squarederror"), matrix(xtr, sales[:N_TRAIN], categorical), 100)
        clf = xgb.train(params("binary:logistic"), matrix(xtr, busy[:N_TRAIN], categorical), 100)
        rmse = float(np.sqrt(np.mean((reg.predict(matrix(xte, categorical=categorical)) - sales[N_TRAIN:]) ** 2)))
        auc = float(roc_auc_score(busy[N_TRAIN:], clf.predict(matrix(xte, categorical=categorical))))
        out[key] = {"rmse": rmse, "auc": auc}
        print(f"{key:12} rmse {rmse:.4f} auc {auc:.4f}")
        if categorical:
            extra = np.array([[-1, 0, 5, 15], [2.7, 1, 5, 15], [39.5, 2, 5, 15], [100, 3, 5, 15],
                              [1e9, 0, 5, 15], [np.nan, np.nan, 5, 15]], dtype=np.float32)
            for name, model in (("categorical_squarederror", reg), ("categorical_logistic", clf)):
                model.save_model(str(FIXTURES / "xgboost" / f"{name}.json"))
                margins = model.predict(matrix(x), output_margin=True)
                extra_margins = model.predict(matrix(extra), output_margin=True)
                contribs = model.predict(matrix(x[:40]), pred_contribs=True)
                (FIXTURES / "xgboost" / f"{name}.margins.json").write_text(json.dumps(
                    {"xgboost_version": xgb.__version__, "margins": np.round(margins.astype(float), 7).tolist(),
                     "extra_rows": [[None if np.isnan(v) else float(v) for v in row] for row in extra],
                     "extra_margins": extra_margins.astype(float).tolist(),
                     "contributions": np.asarray(contribs, dtype=float).tolist()}))
    (FIXTURES / "xgboost_categorical.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
