#!/usr/bin/env python3
"""XGBoost interoperability fixture: models saved by XGBoost's own `save_model` (JSON) and the margins
XGBoost predicts for them (`output_margin=True`), which tessera must reproduce to 1e-5.

Models (tree_method=hist) on the embedded datasets; breast_cancer gets missing values at
(row * 31 + column * 7) % 11 == 0 so that learned default directions are exercised.
Writes crates/tessera-trees/tests/fixtures/xgboost/<name>.json and <name>.margins.json (margins of every
row, TreeSHAP contributions of the first 40).
Run: pip install -r scripts/requirements.txt && python3 scripts/xgboost_models.py  (or: cargo xtask fixtures)
"""
import json
import pathlib

import numpy as np
import xgboost as xgb
from sklearn import datasets

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "crates" / "tessera-trees" / "tests" / "fixtures" / "xgboost"


def with_missing(x):
    x = x.copy()
    rows, cols = np.indices(x.shape)
    x[(rows * 31 + cols * 7) % 11 == 0] = np.nan
    return x


CASES = [
    ("breast_cancer_logistic", datasets.load_breast_cancer, True, {"objective": "binary:logistic", "max_depth": 4}, 20),
    ("iris_softprob", datasets.load_iris, False, {"objective": "multi:softprob", "num_class": 3, "max_depth": 3}, 10),
    ("diabetes_squarederror", datasets.load_diabetes, False, {"objective": "reg:squarederror", "max_depth": 5}, 20),
    ("diabetes_absoluteerror", datasets.load_diabetes, False, {"objective": "reg:absoluteerror", "max_depth": 3}, 10),
    ("diabetes_poisson", datasets.load_diabetes, False, {"objective": "count:poisson", "max_depth": 3}, 10),
]


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for name, load, missing, params, rounds in CASES:
        x, y = load(return_X_y=True)
        x = x.astype(np.float32)
        if missing:
            x = with_missing(x)
        p = {"tree_method": "hist", "eta": 0.3, "seed": 0, "nthread": 2, **params}
        model = xgb.train(p, xgb.DMatrix(x, label=y), num_boost_round=rounds)
        model.save_model(str(OUT / f"{name}.json"))
        margins = model.predict(xgb.DMatrix(x), output_margin=True)
        # TreeSHAP contributions (the first 40 rows keep the fixture small).
        contribs = model.predict(xgb.DMatrix(x[:40]), pred_contribs=True)
        (OUT / f"{name}.margins.json").write_text(json.dumps(
            {"xgboost_version": xgb.__version__, "missing": missing, "margins": np.asarray(margins, dtype=float).tolist(),
             "contributions": np.asarray(contribs, dtype=float).tolist()}))
        print(name, margins.shape)


if __name__ == "__main__":
    main()
