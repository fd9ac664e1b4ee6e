//! Model files written by an earlier build keep loading and predicting bit-identically, and refitting the
//! same estimator on the same data gives the same file byte for byte.
//!
//! The fixtures in `tests/fixtures/saved/` were written by the code as it stood before the crate's layout
//! change (one model of every kind, on data large enough to take the histogram paths as well as the exact
//! ones, with missing values). To rewrite them after a deliberate format or algorithm change:
//! `TESSERA_WRITE_SAVED_MODELS=1 cargo test -p tessera-trees --test saved_models`.

#![allow(clippy::unwrap_used)] // Tests assert by unwrapping.

use std::path::PathBuf;

use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};
use tessera_datasets::{
    ClassificationParams, Friedman1Params, load_diabetes, load_iris, make_classification, make_friedman1,
};
use tessera_trees::{
    AdaBoostClassifier, AdaBoostRegressor, AnyEstimator, AnyModel, Bagging, BoosterParams,
    DecisionTreeClassifier, DecisionTreeRegressor, Estimator, ExtraTreesClassifier, ExtraTreesRegressor,
    GbLoss, GradientBoostingClassifier, GradientBoostingRegressor, HistGradientBooster, LogisticRegression,
    MaxFeatures, Model, Objective, RandomForestClassifier, RandomForestRegressor, Ridge, StackingClassifier,
    Voting, VotingEnsemble, model_from_json, model_to_json,
};

/// Predictions stored beside a model: `predict` and, for classifiers, `predict_proba` (row-major).
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Stored {
    predict: Vec<f32>,
    proba: Option<Vec<f32>>,
}

/// A classification problem with missing values: 3,000 rows (histogram splits), `classes` classes.
fn classification(classes: usize) -> (Array2<f32>, Array1<f32>) {
    let ds = make_classification(&ClassificationParams {
        n_samples: 3000,
        n_features: 8,
        n_informative: 5,
        n_redundant: 1,
        n_classes: classes,
        seed: 7,
        ..Default::default()
    })
    .unwrap();
    with_missing(ds.features().to_owned(), ds.targets().to_owned())
}

/// Friedman #1 with missing values, 3,000 rows.
fn regression() -> (Array2<f32>, Array1<f32>) {
    let ds =
        make_friedman1(&Friedman1Params { n_samples: 3000, n_features: 6, noise: 0.5, seed: 3 }).unwrap();
    with_missing(ds.features().to_owned(), ds.targets().to_owned())
}

fn with_missing(mut x: Array2<f32>, y: Array1<f32>) -> (Array2<f32>, Array1<f32>) {
    for (i, v) in x.iter_mut().enumerate() {
        if i % 37 == 5 {
            *v = f32::NAN;
        }
    }
    (x, y)
}

/// Small embedded data: the exact (non-histogram) split paths.
fn iris() -> (Array2<f32>, Array1<f32>) {
    let d = load_iris();
    (d.features().to_owned(), d.targets().to_owned())
}

fn diabetes() -> (Array2<f32>, Array1<f32>) {
    let d = load_diabetes();
    (d.features().to_owned(), d.targets().to_owned())
}

/// A categorical column (codes 0..12) replacing feature 0 of `x`.
fn with_categories(mut x: Array2<f32>) -> Array2<f32> {
    for (r, v) in x.column_mut(0).iter_mut().enumerate() {
        *v = if r % 29 == 3 { f32::NAN } else { ((r * 7919) % 12) as f32 };
    }
    x
}

fn booster(objective: Objective, rounds: usize) -> BoosterParams {
    BoosterParams { objective, n_estimators: rounds, max_depth: 4, seed: 5, ..Default::default() }
}

type Case = (&'static str, Box<dyn Fn() -> (AnyModel, Array2<f32>)>);

fn fit<E: Estimator>(
    e: E,
    data: (Array2<f32>, Array1<f32>),
    wrap: fn(E::Model) -> AnyModel,
) -> (AnyModel, Array2<f32>) {
    let (x, y) = data;
    (wrap(e.fit(x.view(), y.view()).unwrap()), x)
}

fn cases() -> Vec<Case> {
    let tree_c = || AnyEstimator::DecisionTreeClassifier(DecisionTreeClassifier::new().max_depth(4));
    let rf_c =
        || AnyEstimator::RandomForestClassifier(RandomForestClassifier::new().n_estimators(4).max_depth(5));
    vec![
        (
            "tree_classifier_hist",
            Box::new(|| fit(DecisionTreeClassifier::new().max_depth(6), classification(3), AnyModel::Tree)),
        ),
        ("tree_classifier_exact", Box::new(|| fit(DecisionTreeClassifier::new(), iris(), AnyModel::Tree))),
        (
            "tree_regressor_hist",
            Box::new(|| fit(DecisionTreeRegressor::new().max_depth(6), regression(), AnyModel::Tree)),
        ),
        (
            "tree_regressor_pruned",
            Box::new(|| {
                fit(
                    DecisionTreeRegressor::new().ccp_alpha(50.0).max_leaf_nodes(30),
                    diabetes(),
                    AnyModel::Tree,
                )
            }),
        ),
        (
            "random_forest_classifier",
            Box::new(|| {
                fit(
                    RandomForestClassifier::new().n_estimators(5).max_depth(6),
                    classification(2),
                    AnyModel::Forest,
                )
            }),
        ),
        (
            "random_forest_regressor",
            Box::new(|| {
                fit(
                    RandomForestRegressor::new().n_estimators(4).max_depth(6).max_features(MaxFeatures::Sqrt),
                    regression(),
                    AnyModel::Forest,
                )
            }),
        ),
        (
            "extra_trees_classifier",
            Box::new(|| {
                fit(
                    ExtraTreesClassifier::new().n_estimators(5).max_depth(7),
                    classification(3),
                    AnyModel::Forest,
                )
            }),
        ),
        (
            "extra_trees_regressor",
            Box::new(|| {
                fit(ExtraTreesRegressor::new().n_estimators(4).max_depth(7), regression(), AnyModel::Forest)
            }),
        ),
        (
            "adaboost_classifier",
            Box::new(|| {
                fit(
                    AdaBoostClassifier::new().n_estimators(6),
                    classification(3),
                    AnyModel::AdaBoostClassifier,
                )
            }),
        ),
        (
            "adaboost_regressor",
            Box::new(|| {
                fit(AdaBoostRegressor::new().n_estimators(5), diabetes(), AnyModel::AdaBoostRegressor)
            }),
        ),
        (
            "bagging",
            Box::new(|| {
                fit(
                    Bagging::new(DecisionTreeRegressor::new().max_depth(5)).n_estimators(4),
                    regression(),
                    AnyModel::Bagging,
                )
            }),
        ),
        ("logistic", Box::new(|| fit(LogisticRegression::default(), iris(), AnyModel::Logistic))),
        ("ridge", Box::new(|| fit(Ridge::default(), diabetes(), AnyModel::Ridge))),
        (
            "gbdt_classifier",
            Box::new(|| {
                let mut e = GradientBoostingClassifier::new();
                e.params.n_estimators = 8;
                e.params.subsample = 0.8;
                fit(e, classification(3), AnyModel::GradientBoosting)
            }),
        ),
        (
            "gbdt_regressor_huber",
            Box::new(|| {
                let mut e = GradientBoostingRegressor::new().loss(GbLoss::Huber { alpha: 0.9 });
                e.params.n_estimators = 8;
                fit(e, regression(), AnyModel::GradientBoosting)
            }),
        ),
        (
            "stacking",
            Box::new(move || {
                fit(
                    StackingClassifier::new(vec![("tree".into(), tree_c()), ("rf".into(), rf_c())]),
                    classification(2),
                    AnyModel::Stacking,
                )
            }),
        ),
        (
            "voting",
            Box::new(move || {
                fit(
                    VotingEnsemble::new(vec![("tree".into(), tree_c()), ("rf".into(), rf_c())], Voting::Soft),
                    classification(3),
                    AnyModel::Voting,
                )
            }),
        ),
        (
            "booster_binary",
            Box::new(|| {
                let (x, y) = classification(2);
                let mut p = booster(Objective::Logistic, 12);
                p.subsample = 0.8;
                p.colsample_bynode = 0.8;
                (AnyModel::Booster(HistGradientBooster { params: p }.fit(x.view(), y.view()).unwrap()), x)
            }),
        ),
        (
            "booster_softprob",
            Box::new(|| {
                let (x, y) = classification(3);
                let m = HistGradientBooster { params: booster(Objective::Softprob, 6) }
                    .fit(x.view(), y.view())
                    .unwrap();
                (AnyModel::Booster(m), x)
            }),
        ),
        (
            "booster_regression_lossguide",
            Box::new(|| {
                let (x, y) = regression();
                let mut p = booster(Objective::SquaredError, 10);
                p.grow_policy = tessera_trees::GrowPolicy::Lossguide;
                p.max_leaves = 12;
                p.monotone_constraints = vec![0, 0, 0, 1, 1, 0];
                (AnyModel::Booster(HistGradientBooster { params: p }.fit(x.view(), y.view()).unwrap()), x)
            }),
        ),
        (
            "booster_absolute_categorical",
            Box::new(|| {
                let (x, y) = regression();
                let x = with_categories(x);
                let mut p = booster(Objective::AbsoluteError, 8);
                p.categorical_features = vec![0];
                (AnyModel::Booster(HistGradientBooster { params: p }.fit(x.view(), y.view()).unwrap()), x)
            }),
        ),
    ]
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/saved").join(name)
}

/// Predictions are stored for the first 400 rows (the fixtures stay small).
fn stored(model: &AnyModel, x: &Array2<f32>) -> Stored {
    let x = x.slice(ndarray::s![..x.nrows().min(400), ..]);
    Stored {
        predict: model.predict(x.view()).unwrap().to_vec(),
        proba: model.classes().map(|_| model.predict_proba(x.view()).unwrap().iter().copied().collect()),
    }
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|f| f.to_bits()).collect()
}

#[test]
fn saved_models_load_predict_and_refit_identically() {
    let write = std::env::var_os("TESSERA_WRITE_SAVED_MODELS").is_some();
    for (name, make) in cases() {
        let (model, x) = make();
        let json = model_to_json(&model, "any").unwrap();
        let model_path = fixture(&format!("{name}.json"));
        let pred_path = fixture(&format!("{name}.predictions.json"));
        if write {
            std::fs::create_dir_all(fixture("")).unwrap();
            std::fs::write(&model_path, &json).unwrap();
            std::fs::write(&pred_path, serde_json::to_string(&stored(&model, &x)).unwrap()).unwrap();
            continue;
        }
        let saved_text = std::fs::read_to_string(&model_path).unwrap();
        let saved: AnyModel = model_from_json(&saved_text, "any", &model_path).unwrap();
        let expected: Stored = serde_json::from_str(&std::fs::read_to_string(&pred_path).unwrap()).unwrap();
        let now = stored(&saved, &x);
        assert_eq!(
            bits(&now.predict),
            bits(&expected.predict),
            "{name}: predictions of the saved model changed"
        );
        assert_eq!(
            now.proba.as_deref().map(bits),
            expected.proba.as_deref().map(bits),
            "{name}: probabilities of the saved model changed"
        );
        assert!(json == saved_text, "{name}: refitting gives a different model than the saved one");
    }
}
