//! Accuracy parity with scikit-learn. `scripts/trees_parity.py` cross-validates scikit-learn's models on
//! the embedded datasets (5 shuffled folds, fold ids stored per row, three seeds) and records their mean
//! scores; this
//! test trains tessera's counterparts on exactly the same folds and requires each score to be within 1.5
//! accuracy points (classification) or 3% RMSE (regression) of scikit-learn's, or better.

#![allow(clippy::unwrap_used)] // Tests assert by unwrapping.

use ndarray::Axis;
use serde_json::Value;
use tessera_datasets::{Dataset, load_embedded};
use tessera_trees::{
    AdaBoostClassifier, AdaBoostRegressor, AnyEstimator, Bagging, Criterion, DecisionTreeClassifier,
    DecisionTreeRegressor, Estimator, ExtraTreesClassifier, ExtraTreesRegressor, GbLoss,
    GradientBoostingClassifier, GradientBoostingRegressor, MaxFeatures, Model, RandomForestClassifier,
    RandomForestRegressor, StackingClassifier, StackingRegressor, Voting, VotingEnsemble, metrics,
};

const ACCURACY_TOLERANCE: f64 = 0.015;
const RMSE_TOLERANCE: f64 = 0.03;

fn fixture() -> Value {
    serde_json::from_str(include_str!("fixtures/sklearn_scores.json")).unwrap()
}

/// Seeds every model is scored with (as in the fixture script); scores are averaged over them.
const SEEDS: [u64; 3] = [0, 1, 2];

/// Mean test score over the fixture's folds and [`SEEDS`]: accuracy, or RMSE for regression.
fn cv_score<E: Estimator>(est: &E, data: &Dataset, fold_of: &[usize], regression: bool) -> f64 {
    let folds = fold_of.iter().max().unwrap() + 1;
    let mut total = 0.0;
    for (seed, k) in SEEDS.iter().flat_map(|&s| (0..folds).map(move |k| (s, k))) {
        let est = est.with_seed(seed);
        let train: Vec<usize> = (0..fold_of.len()).filter(|&i| fold_of[i] != k).collect();
        let test: Vec<usize> = (0..fold_of.len()).filter(|&i| fold_of[i] == k).collect();
        let (x, y) = (data.features(), data.targets());
        let xt = x.select(Axis(0), &train);
        let yt = y.select(Axis(0), &train);
        let model = est.fit(xt.view(), yt.view()).unwrap();
        let xv = x.select(Axis(0), &test);
        let yv = y.select(Axis(0), &test);
        let pred = model.predict(xv.view()).unwrap();
        total += if regression {
            metrics::rmse(yv.view(), pred.view()).unwrap()
        } else {
            metrics::accuracy(yv.view(), pred.view()).unwrap()
        };
    }
    total / (folds * SEEDS.len()) as f64
}

fn rf_c(n: usize) -> AnyEstimator {
    AnyEstimator::RandomForestClassifier(RandomForestClassifier::new().n_estimators(n))
}
fn et_c(n: usize) -> AnyEstimator {
    AnyEstimator::ExtraTreesClassifier(ExtraTreesClassifier::new().n_estimators(n))
}
fn rf_r(n: usize) -> AnyEstimator {
    AnyEstimator::RandomForestRegressor(RandomForestRegressor::new().n_estimators(n))
}
fn et_r(n: usize) -> AnyEstimator {
    AnyEstimator::ExtraTreesRegressor(ExtraTreesRegressor::new().n_estimators(n))
}

fn classifier_score(name: &str, data: &Dataset, folds: &[usize]) -> f64 {
    let tree = DecisionTreeClassifier::new();
    match name {
        "cart" => cv_score(&tree, data, folds, false),
        "cart_entropy_depth4" => {
            cv_score(&tree.criterion(Criterion::Entropy).max_depth(4), data, folds, false)
        }
        "cart_leaves8" => cv_score(&tree.max_leaf_nodes(8), data, folds, false),
        "cart_ccp" => cv_score(&tree.ccp_alpha(0.01), data, folds, false),
        "random_forest" => cv_score(&RandomForestClassifier::new(), data, folds, false),
        "random_forest_log2" => {
            cv_score(&RandomForestClassifier::new().max_features(MaxFeatures::Log2), data, folds, false)
        }
        "extra_trees" => cv_score(&ExtraTreesClassifier::new(), data, folds, false),
        "bagging" => cv_score(&Bagging::new(tree), data, folds, false),
        "adaboost" => cv_score(&AdaBoostClassifier::new(), data, folds, false),
        "stacking" => cv_score(
            &StackingClassifier::new(vec![("rf".into(), rf_c(50)), ("et".into(), et_c(50))]),
            data,
            folds,
            false,
        ),
        "voting_soft" => cv_score(
            &VotingEnsemble::new(
                vec![
                    ("rf".into(), rf_c(50)),
                    ("et".into(), et_c(50)),
                    ("ada".into(), AnyEstimator::AdaBoostClassifier(AdaBoostClassifier::new())),
                ],
                Voting::Soft,
            ),
            data,
            folds,
            false,
        ),
        "voting_hard" => cv_score(
            &VotingEnsemble::new(
                vec![
                    ("rf".into(), rf_c(50)),
                    ("et".into(), et_c(50)),
                    ("cart".into(), AnyEstimator::DecisionTreeClassifier(DecisionTreeClassifier::new())),
                ],
                Voting::Hard,
            ),
            data,
            folds,
            false,
        ),
        "gbdt" => cv_score(&GradientBoostingClassifier::new(), data, folds, false),
        "gbdt_subsample" => {
            let mut gb = GradientBoostingClassifier::new();
            (gb.params.subsample, gb.params.n_estimators) = (0.5, 50);
            cv_score(&gb, data, folds, false)
        }
        other => panic!("no tessera counterpart for `{other}`"),
    }
}

fn regressor_score(name: &str, data: &Dataset, folds: &[usize]) -> f64 {
    let tree = DecisionTreeRegressor::new();
    match name {
        "cart" => cv_score(&tree, data, folds, true),
        "cart_depth4" => cv_score(&tree.max_depth(4), data, folds, true),
        "cart_mae_depth4" => {
            cv_score(&tree.criterion(Criterion::AbsoluteError).max_depth(4), data, folds, true)
        }
        "random_forest" => cv_score(&RandomForestRegressor::new(), data, folds, true),
        "extra_trees" => cv_score(&ExtraTreesRegressor::new(), data, folds, true),
        "bagging" => cv_score(&Bagging::new(tree), data, folds, true),
        "adaboost" => cv_score(&AdaBoostRegressor::new(), data, folds, true),
        "stacking" => cv_score(
            &StackingRegressor::new(vec![("rf".into(), rf_r(50)), ("et".into(), et_r(50))]),
            data,
            folds,
            true,
        ),
        "voting" => cv_score(
            &VotingEnsemble::new(vec![("rf".into(), rf_r(50)), ("et".into(), et_r(50))], Voting::Soft),
            data,
            folds,
            true,
        ),
        "gbdt_squared" => cv_score(&GradientBoostingRegressor::new(), data, folds, true),
        "gbdt_absolute" => {
            cv_score(&GradientBoostingRegressor::new().loss(GbLoss::AbsoluteError), data, folds, true)
        }
        "gbdt_huber" => {
            cv_score(&GradientBoostingRegressor::new().loss(GbLoss::Huber { alpha: 0.9 }), data, folds, true)
        }
        "gbdt_quantile" => cv_score(
            &GradientBoostingRegressor::new().loss(GbLoss::Quantile { alpha: 0.5 }),
            data,
            folds,
            true,
        ),
        "gbdt_subsample" => {
            let mut gb = GradientBoostingRegressor::new();
            gb.params.subsample = 0.5;
            cv_score(&gb, data, folds, true)
        }
        other => panic!("no tessera counterpart for `{other}`"),
    }
}

fn check_dataset(name: &str) {
    let fx = fixture();
    let entry = &fx["datasets"][name];
    let data = load_embedded(name).unwrap();
    let folds: Vec<usize> =
        entry["fold_of_row"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
    let regression = entry["task"] == "regression";
    let mut failures = Vec::new();
    let mut report = String::new();
    for (model, want) in entry["scores"].as_object().unwrap() {
        let want = want.as_f64().unwrap();
        let got = if regression {
            regressor_score(model, &data, &folds)
        } else {
            classifier_score(model, &data, &folds)
        };
        let ok =
            if regression { got <= want * (1.0 + RMSE_TOLERANCE) } else { got >= want - ACCURACY_TOLERANCE };
        report.push_str(&format!(
            "{name:14} {model:22} tessera {got:.4}  scikit-learn {want:.4}  {}\n",
            if ok { "ok" } else { "WORSE" }
        ));
        if !ok {
            failures.push(model.clone());
        }
    }
    eprintln!("{report}");
    assert!(failures.is_empty(), "{name}: worse than scikit-learn beyond tolerance: {failures:?}\n{report}");
}

#[test]
fn iris() {
    check_dataset("iris");
}

#[test]
fn wine() {
    check_dataset("wine");
}

#[test]
fn breast_cancer() {
    check_dataset("breast_cancer");
}

#[test]
fn digits() {
    check_dataset("digits");
}

#[test]
fn diabetes() {
    check_dataset("diabetes");
}
