#!/usr/bin/env python3
"""Export scikit-learn's bundled datasets for tessera-datasets.

Writes, from scikit-learn's own copies (no download):
  crates/tessera-datasets/data/<name>.csv        the embedded data (header: feature names, then `target`)
  crates/tessera-datasets/tests/fixtures/datasets_summary.json
                                                 shapes, names and per-column statistics computed by
                                                 scikit-learn/numpy, which the Rust tests check against.

Run: pip install scikit-learn && python3 scripts/export_datasets.py   (or: cargo xtask fixtures)
"""
import json
import pathlib

import numpy as np
import sklearn
from sklearn import datasets

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA = ROOT / "crates" / "tessera-datasets" / "data"
FIXTURES = ROOT / "crates" / "tessera-datasets" / "tests" / "fixtures"

LOADERS = {
    "iris": datasets.load_iris,
    "wine": datasets.load_wine,
    "breast_cancer": datasets.load_breast_cancer,
    "digits": datasets.load_digits,
    "diabetes": datasets.load_diabetes,
}


def fmt(v: float) -> str:
    # Shortest text that round-trips the value as float32, which is how tessera stores features.
    f = np.float32(v)
    if float(f).is_integer():
        return str(int(f))
    return np.format_float_positional(f, unique=True, trim="-")


def split_reference() -> dict:
    """Fold and split sizes/indices from scikit-learn's own splitters."""
    from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

    rng = np.random.RandomState(0)
    labels = rng.choice([0, 1, 2], size=67, p=[0.6, 0.3, 0.1]).astype(float)
    out = {
        "kfold_n": 103,
        "kfold_k": 5,
        "kfold_test": [t.tolist() for _, t in KFold(5).split(np.zeros(103))],
        "stratified_labels": labels.tolist(),
        "stratified_k": 4,
        "stratified_test": [t.tolist() for _, t in StratifiedKFold(4).split(np.zeros(67), labels)],
        "train_test_sizes": [],
        "stratified_test_counts": [],
    }
    for n, frac in [(150, 0.2), (101, 0.25), (10, 0.33), (1000, 0.1)]:
        tr, te = train_test_split(np.arange(n), test_size=frac, random_state=0)
        out["train_test_sizes"].append([n, frac, len(tr), len(te)])
    for frac in [0.2, 0.25, 0.33, 0.5]:
        _, te = train_test_split(np.arange(67), test_size=frac, random_state=0, stratify=labels)
        out["stratified_test_counts"].append([frac, np.bincount(labels[te].astype(int), minlength=3).tolist()])
    return out


def classification_reference() -> dict:
    """Class counts of scikit-learn's make_classification where they are deterministic (flip_y=0)."""
    cases = []
    for n, classes, cpc, weights in [(1001, 3, 2, [0.6, 0.3]), (500, 2, 1, None), (777, 4, 2, [0.1, 0.2, 0.3, 0.4])]:
        _, y = datasets.make_classification(
            n_samples=n, n_features=8, n_informative=4, n_redundant=2, n_classes=classes,
            n_clusters_per_class=cpc, weights=weights, flip_y=0.0, random_state=0)
        cases.append({"n_samples": n, "n_classes": classes, "n_clusters_per_class": cpc,
                      "weights": weights, "class_counts": np.bincount(y, minlength=classes).tolist()})
    return {"flip_free_class_counts": cases}


def main() -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    FIXTURES.mkdir(parents=True, exist_ok=True)
    summary = {"sklearn_version": sklearn.__version__, "datasets": {}}
    for name, loader in LOADERS.items():
        bunch = loader()
        x = np.asarray(bunch.data, dtype=np.float64)
        y = np.asarray(bunch.target, dtype=np.float64)
        names = [str(n) for n in getattr(bunch, "feature_names", [f"pixel_{i}" for i in range(x.shape[1])])]
        if name == "digits":
            names = [f"pixel_{i // 8}_{i % 8}" for i in range(x.shape[1])]
        with open(DATA / f"{name}.csv", "w", newline="\n") as f:
            f.write(",".join(names + ["target"]) + "\n")
            for row, t in zip(x, y):
                f.write(",".join(fmt(v) for v in row) + "," + fmt(t) + "\n")
        x32 = x.astype(np.float32).astype(np.float64)
        entry = {
            "n_samples": int(x.shape[0]),
            "n_features": int(x.shape[1]),
            "feature_names": names,
            "column_means": [float(m) for m in x32.mean(axis=0)],
            "column_stds": [float(s) for s in x32.std(axis=0)],
            "first_row": [float(v) for v in x32[0]],
            "target_mean": float(y.astype(np.float32).mean()),
        }
        if name == "diabetes":
            entry["task"] = "regression"
        else:
            entry["task"] = "classification"
            entry["target_names"] = [str(t) for t in bunch.target_names]
            entry["class_counts"] = [int(c) for c in np.bincount(y.astype(int))]
        summary["datasets"][name] = entry
    summary["splits"] = split_reference()
    summary["make_classification"] = classification_reference()
    (FIXTURES / "datasets_summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    print("wrote", ", ".join(LOADERS))


if __name__ == "__main__":
    main()
