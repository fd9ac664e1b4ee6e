//! The histogram booster is an `Estimator` like every other model: it can be bagged, stacked and held in
//! `AnyEstimator`, and the ensembles it joins behave as they do with trees.

#![allow(clippy::unwrap_used)] // Tests assert by unwrapping.

use tessera_datasets::{load_breast_cancer, load_diabetes, train_test_split};
use tessera_trees::{
    AnyEstimator, AnyModel, Bagging, BoosterParams, Estimator, FitOptions, HistGradientBooster, Model,
    Objective, RandomForestClassifier, StackingClassifier, StackingRegressor, metrics, model_from_json,
    model_to_json,
};

fn booster(objective: Objective, rounds: usize) -> HistGradientBooster {
    HistGradientBooster {
        params: BoosterParams { objective, n_estimators: rounds, max_depth: 3, ..Default::default() },
    }
}

#[test]
fn bagging_over_the_booster_averages_members_fitted_on_bootstrap_samples() {
    let (train, test) = train_test_split(&load_diabetes(), 0.3, 0, false).unwrap();
    let single = booster(Objective::SquaredError, 30);
    let bag = Bagging::new(single.clone()).n_estimators(5).seed(3).oob_score(true);
    let fitted = bag.fit(train.features(), train.targets()).unwrap();
    assert_eq!(fitted.members.len(), 5);
    // Members differ (each saw its own bootstrap sample and seed), and the bag is their mean.
    let preds: Vec<_> = fitted.members.iter().map(|m| m.predict(test.features()).unwrap()).collect();
    assert!(preds.windows(2).all(|w| w[0] != w[1]));
    let bagged = fitted.predict(test.features()).unwrap();
    for i in [0, 7, 40] {
        let mean = preds.iter().map(|p| p[i]).sum::<f32>() / 5.0;
        assert!((bagged[i] - mean).abs() < 1e-3, "row {i}: {} vs mean {mean}", bagged[i]);
    }
    let r2 = metrics::r2(test.targets(), bagged.view()).unwrap();
    assert!(r2 > 0.3, "bagged booster r2 {r2}");
    assert!(fitted.oob_score.is_some_and(|s| s > 0.2));
    // Reruns give the same model.
    assert_eq!(bag.fit(train.features(), train.targets()).unwrap(), fitted);
}

#[test]
fn stacking_a_booster_and_a_forest() {
    let (train, test) = train_test_split(&load_breast_cancer(), 0.3, 1, true).unwrap();
    let stack = StackingClassifier::new(vec![
        ("booster".into(), AnyEstimator::HistGradientBooster(booster(Objective::Logistic, 40))),
        (
            "forest".into(),
            AnyEstimator::RandomForestClassifier(RandomForestClassifier::new().n_estimators(30)),
        ),
    ]);
    let fitted = stack.fit(train.features(), train.targets()).unwrap();
    assert!(matches!(fitted.base[0].1, AnyModel::Booster(_)));
    let acc = metrics::accuracy(test.targets(), fitted.predict(test.features()).unwrap().view()).unwrap();
    assert!(acc > 0.93, "stacked accuracy {acc}");
    let proba = fitted.predict_proba(test.features()).unwrap();
    assert!(proba.rows().into_iter().all(|r| (r.sum() - 1.0).abs() < 1e-4));
    // The stacked model saves and loads with the booster inside it.
    let json = model_to_json(&AnyModel::Stacking(fitted.clone()), "any").unwrap();
    let back: AnyModel = model_from_json(&json, "any", "stack.json".as_ref()).unwrap();
    assert_eq!(back.predict(test.features()).unwrap(), fitted.predict(test.features()).unwrap());

    let (train, test) = train_test_split(&load_diabetes(), 0.3, 0, false).unwrap();
    let reg = StackingRegressor::new(vec![
        ("booster".into(), AnyEstimator::HistGradientBooster(booster(Objective::SquaredError, 40))),
        (
            "forest".into(),
            AnyEstimator::RandomForestRegressor(tessera_trees::RandomForestRegressor::new().n_estimators(20)),
        ),
    ])
    .fit(train.features(), train.targets())
    .unwrap();
    let r2 = metrics::r2(test.targets(), reg.predict(test.features()).unwrap().view()).unwrap();
    assert!(r2 > 0.3, "stacked regression r2 {r2}");
}

#[test]
fn the_estimator_route_equals_the_booster_own_fit() {
    let data = load_breast_cancer();
    let b = booster(Objective::Logistic, 15);
    let own = b.fit(data.features(), data.targets()).unwrap();
    let via_trait = Estimator::fit(&b, data.features(), data.targets()).unwrap();
    assert_eq!(own, via_trait);
    let w: Vec<f32> = (0..data.n_samples()).map(|i| 1.0 + (i % 3) as f32).collect();
    let weighted = b.fit_weighted(data.features(), data.targets(), Some(w.as_slice().into())).unwrap();
    let options = FitOptions { weights: Some(w.as_slice().into()), ..Default::default() };
    assert_eq!(weighted, b.fit_with(data.features(), data.targets(), options).unwrap());
    assert_ne!(weighted, own);
    assert!(AnyEstimator::HistGradientBooster(b.clone()).is_classifier());
    assert!(!AnyEstimator::HistGradientBooster(booster(Objective::Poisson, 2)).is_classifier());
    assert_eq!(b.with_seed(9).params.seed, 9);
}
