#!/usr/bin/env python3
"""Parity fixture for tessera-trees: scikit-learn's cross-validated scores on the embedded datasets.

For each dataset (the same rows as crates/tessera-datasets/data/*.csv) this records a fold id per row
(StratifiedKFold / KFold, 5 folds, shuffled with random_state=seed) and, for every model, scikit-learn's mean
test score over the folds: accuracy for classifiers, RMSE for regressors. The Rust test
(crates/tessera-trees/tests/sklearn_parity.rs) trains tessera's counterparts on the very same folds and
requires their scores to be within 1.5 accuracy points / 3% RMSE of these, or better.

Run: pip install -r scripts/requirements.txt && python3 scripts/trees_parity.py  (or: cargo xtask fixtures)
"""
import json
import pathlib

import numpy as np
import sklearn
from sklearn import datasets
from sklearn.ensemble import (AdaBoostClassifier, AdaBoostRegressor, BaggingClassifier, BaggingRegressor,
                              GradientBoostingClassifier, GradientBoostingRegressor,
                              ExtraTreesClassifier, ExtraTreesRegressor, RandomForestClassifier,
                              RandomForestRegressor, StackingClassifier, StackingRegressor, VotingClassifier,
                              VotingRegressor)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

# Every model is scored with each of these seeds (random_state) and the scores averaged, on both sides, so
# the comparison is between the methods rather than between two particular random draws.
SEEDS = (0, 1, 2)

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "crates" / "tessera-trees" / "tests" / "fixtures" / "sklearn_scores.json"


def classifiers(seed):
    return {
        "cart": DecisionTreeClassifier(random_state=seed),
        "cart_entropy_depth4": DecisionTreeClassifier(criterion="entropy", max_depth=4, random_state=seed),
        "cart_leaves8": DecisionTreeClassifier(max_leaf_nodes=8, random_state=seed),
        "cart_ccp": DecisionTreeClassifier(ccp_alpha=0.01, random_state=seed),
        "random_forest": RandomForestClassifier(n_estimators=100, random_state=seed),
        "random_forest_log2": RandomForestClassifier(n_estimators=100, max_features="log2", random_state=seed),
        "extra_trees": ExtraTreesClassifier(n_estimators=100, random_state=seed),
        "bagging": BaggingClassifier(n_estimators=10, random_state=seed),
        "adaboost": AdaBoostClassifier(n_estimators=50, random_state=seed),
        "stacking": StackingClassifier(
            [("rf", RandomForestClassifier(n_estimators=50, random_state=seed)),
             ("et", ExtraTreesClassifier(n_estimators=50, random_state=seed))],
            final_estimator=LogisticRegression(), cv=5),
        "voting_soft": VotingClassifier(
            [("rf", RandomForestClassifier(n_estimators=50, random_state=seed)),
             ("et", ExtraTreesClassifier(n_estimators=50, random_state=seed)),
             ("ada", AdaBoostClassifier(n_estimators=50, random_state=seed))], voting="soft"),
        "voting_hard": VotingClassifier(
            [("rf", RandomForestClassifier(n_estimators=50, random_state=seed)),
             ("et", ExtraTreesClassifier(n_estimators=50, random_state=seed)),
             ("cart", DecisionTreeClassifier(random_state=seed))], voting="hard"),
        "gbdt": GradientBoostingClassifier(random_state=seed),
        "gbdt_subsample": GradientBoostingClassifier(subsample=0.5, n_estimators=50, random_state=seed),
    }


def regressors(seed):
    return {
        "cart": DecisionTreeRegressor(random_state=seed),
        "cart_depth4": DecisionTreeRegressor(max_depth=4, random_state=seed),
        "cart_mae_depth4": DecisionTreeRegressor(criterion="absolute_error", max_depth=4, random_state=seed),
        "random_forest": RandomForestRegressor(n_estimators=100, random_state=seed),
        "extra_trees": ExtraTreesRegressor(n_estimators=100, random_state=seed),
        "bagging": BaggingRegressor(n_estimators=10, random_state=seed),
        "adaboost": AdaBoostRegressor(n_estimators=50, random_state=seed),
        "stacking": StackingRegressor(
            [("rf", RandomForestRegressor(n_estimators=50, random_state=seed)),
             ("et", ExtraTreesRegressor(n_estimators=50, random_state=seed))],
            final_estimator=Ridge(), cv=5),
        "voting": VotingRegressor(
            [("rf", RandomForestRegressor(n_estimators=50, random_state=seed)),
             ("et", ExtraTreesRegressor(n_estimators=50, random_state=seed))]),
        "gbdt_squared": GradientBoostingRegressor(random_state=seed),
        "gbdt_absolute": GradientBoostingRegressor(loss="absolute_error", random_state=seed),
        "gbdt_huber": GradientBoostingRegressor(loss="huber", random_state=seed),
        "gbdt_quantile": GradientBoostingRegressor(loss="quantile", alpha=0.5, random_state=seed),
        "gbdt_subsample": GradientBoostingRegressor(subsample=0.5, random_state=seed),
    }


def main():
    out = {"sklearn_version": sklearn.__version__, "folds": 5, "seeds": list(SEEDS), "datasets": {}}
    loaders = {"iris": datasets.load_iris, "wine": datasets.load_wine,
               "breast_cancer": datasets.load_breast_cancer, "digits": datasets.load_digits,
               "diabetes": datasets.load_diabetes}
    for name, load in loaders.items():
        x, y = load(return_X_y=True)
        x = x.astype(np.float32)  # tessera stores features as float32
        regression = name == "diabetes"
        splitter = (KFold if regression else StratifiedKFold)(n_splits=5, shuffle=True, random_state=0)
        fold_of = np.zeros(len(y), dtype=int)
        splits = list(splitter.split(x, y))
        for k, (_, test) in enumerate(splits):
            fold_of[test] = k
        scores = {}
        names = (regressors if regression else classifiers)(0).keys()
        for model_name in names:
            fold_scores = []
            for seed in SEEDS:
                model = (regressors if regression else classifiers)(seed)[model_name]
                for train, test in splits:
                    model.fit(x[train], y[train])
                    pred = model.predict(x[test])
                    if regression:
                        fold_scores.append(float(np.sqrt(np.mean((pred - y[test]) ** 2))))
                    else:
                        fold_scores.append(float(np.mean(pred == y[test])))
            scores[model_name] = float(np.mean(fold_scores))
            print(f"{name:14} {model_name:22} {scores[model_name]:.4f}", flush=True)
        out["datasets"][name] = {"task": "regression" if regression else "classification",
                                 "fold_of_row": fold_of.tolist(), "scores": scores}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
