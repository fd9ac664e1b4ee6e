"""Checks that XGBoost reads an early-stopped tessera booster exported in its format and predicts with the
same best round: `best_iteration` in the attributes, and XGBoost's predictions (native Booster with
`iteration_range`, and the scikit-learn API, which uses the best iteration by itself) equal tessera's.

Usage (after the walkthrough's commands, in the directory holding their files):
    tessera trees train --model hist --data train.csv --target target --eval-data valid.csv \
        --early-stopping-rounds 10 --save-format xgboost --out model.json
    tessera trees predict --model model.json --data test.csv --target target --proba --out p.csv
    python3 scripts/check_early_stopping_export.py model.json test.csv p.csv
Needs: pip install xgboost scikit-learn pandas numpy.
"""

import csv
import sys

import numpy as np
import pandas as pd
import xgboost as xgb


def main(model_path: str, test_csv: str, tessera_proba_csv: str) -> None:
    rows = list(csv.reader(open(test_csv)))
    names = rows[0][:-1]
    x = pd.DataFrame(np.array([[float(v) for v in r[:-1]] for r in rows[1:]], dtype=np.float32), columns=names)
    ours = np.array([float(r[-1]) for r in list(csv.reader(open(tessera_proba_csv)))[1:]])
    booster = xgb.Booster()
    booster.load_model(model_path)
    best = int(booster.attributes()["best_iteration"])
    native = booster.predict(xgb.DMatrix(x), iteration_range=(0, best + 1))
    clf = xgb.XGBClassifier()
    clf.load_model(model_path)
    sk = clf.predict_proba(x)[:, 1]
    print(f"xgboost {xgb.__version__}: best_iteration {best} (sklearn API: {clf.best_iteration}) of "
          f"{booster.num_boosted_rounds()} rounds; max |p - tessera|: native {np.abs(native - ours).max():.3g}, "
          f"sklearn API {np.abs(sk - ours).max():.3g}")
    assert clf.best_iteration == best
    assert np.abs(native - ours).max() < 1e-5 and np.abs(sk - ours).max() < 1e-5


if __name__ == "__main__":
    main(*sys.argv[1:4])
