#!/usr/bin/env python3
"""Checks that XGBoost loads models saved by tessera in its JSON schema and predicts tessera's margins.

Run: cargo run --release -p tessera-trees --example export_xgboost -- target/xgb-export
     python3 scripts/check_xgboost_export.py target/xgb-export
"""
import json
import pathlib
import sys

import numpy as np
import xgboost as xgb


def main():
    folder = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/xgb-export")
    worst_all = 0.0
    for model_path in sorted(folder.glob("*.json")):
        if model_path.name.endswith(".margins.json"):
            continue
        data = json.loads(model_path.with_suffix(".margins.json").read_text())
        x = np.array([[np.nan if v is None else v for v in row] for row in data["x"]], dtype=np.float32)
        booster = xgb.Booster()
        booster.load_model(str(model_path))
        margins = booster.predict(xgb.DMatrix(x), output_margin=True)
        want = np.array(data["margins"], dtype=np.float64).reshape(margins.shape)
        worst = float(np.max(np.abs(margins - want)))
        worst_all = max(worst_all, worst)
        print(f"{model_path.name:40} worst margin difference {worst:.3g}")
    print(f"xgboost {xgb.__version__}: worst over all models {worst_all:.3g}")
    sys.exit(0 if worst_all <= 1e-5 else 1)


if __name__ == "__main__":
    main()
