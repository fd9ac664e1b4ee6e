//! Models trained on data with missing values keep every value they hold through saving and loading:
//! tessera's JSON (every model) and XGBoost's JSON (the booster, every objective) give back models that
//! predict bit for bit what the trained ones did. Thresholds of present-versus-missing splits are +inf,
//! which JSON numbers cannot hold; few bins make such splits common here.

#![allow(clippy::unwrap_used)] // Tests assert by unwrapping.

use ndarray::{Array1, Array2};
use proptest::prelude::*;
use tessera_trees::{
    AnyEstimator, AnyModel, BoosterParams, DecisionTreeClassifier, DecisionTreeRegressor, Estimator,
    ExtraTreesClassifier, ExtraTreesRegressor, GradientBoostingClassifier, GradientBoostingRegressor,
    HistGradientBooster, Model, Objective, RandomForestClassifier, RandomForestRegressor,
    booster_to_xgboost_json, model_from_json, model_to_json, read_xgboost_json,
};

/// A small deterministic generator (the data only has to vary with the seed).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// `n x d` features in [0, 1) with a fraction `missing` of NaN (one column missing more often), and a
/// score per row that targets are made from.
fn data(seed: u64, n: usize, d: usize, missing: f32) -> (Array2<f32>, Vec<f32>) {
    let mut g = Lcg(seed);
    let x = Array2::from_shape_fn((n, d), |(_, j)| {
        let v = g.next();
        let p = if j == 0 { (missing * 2.0).min(0.9) } else { missing };
        if g.next() < p { f32::NAN } else { v }
    });
    let score =
        x.outer_iter().map(|r| r.iter().map(|v| if v.is_nan() { 0.7 } else { *v }).sum::<f32>()).collect();
    (x, score)
}

fn bits(a: &Array2<f32>) -> Vec<u32> {
    a.iter().map(|v| v.to_bits()).collect()
}

fn bits1(a: &Array1<f32>) -> Vec<u32> {
    a.iter().map(|v| v.to_bits()).collect()
}

/// Five boosting stages.
fn gb(mut p: tessera_trees::GbParams) -> tessera_trees::GbParams {
    p.n_estimators = 5;
    p
}

/// The model's predictions (and probabilities) survive tessera's JSON bit for bit.
fn assert_tessera_round_trip(model: &AnyModel, x: &Array2<f32>) {
    let json = model_to_json(model, "model").unwrap();
    let back: AnyModel = model_from_json(&json, "model", std::path::Path::new("mem.json")).unwrap();
    assert_eq!(bits1(&model.predict(x.view()).unwrap()), bits1(&back.predict(x.view()).unwrap()));
    if model.classes().is_some() {
        assert_eq!(
            bits(&model.predict_proba(x.view()).unwrap()),
            bits(&back.predict_proba(x.view()).unwrap())
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10))]

    #[test]
    fn boosters_of_every_objective_round_trip_both_formats(
        seed in any::<u64>(),
        n in 40usize..160,
        d in 1usize..5,
        missing in 0.05f32..0.5,
        max_bin in 2usize..8,
    ) {
        let (x, score) = data(seed, n, d, missing);
        let median = {
            let mut s = score.clone();
            s.sort_by(f32::total_cmp);
            s[s.len() / 2]
        };
        let objectives = [
            (Objective::SquaredError, score.clone()),
            (Objective::AbsoluteError, score.clone()),
            (Objective::PseudoHuber { slope: 1.0 }, score.clone()),
            (Objective::Poisson, score.iter().map(|s| s + 0.1).collect()),
            (Objective::Logistic, score.iter().map(|&s| f32::from(s > median)).collect()),
            (Objective::Softprob, score.iter().map(|&s| (s * 2.0).floor().clamp(0.0, 2.0)).collect()),
        ];
        for (objective, y) in objectives {
            let y = Array1::from(y);
            if objective == Objective::Softprob && (0..3).any(|c| !y.iter().any(|&v| v == c as f32)) {
                continue;
            }
            if objective == Objective::Logistic && !(y.iter().any(|&v| v == 0.0) && y.iter().any(|&v| v == 1.0)) {
                continue;
            }
            let params = BoosterParams { objective, n_estimators: 4, max_depth: 3, max_bin, seed, ..Default::default() };
            let booster = HistGradientBooster { params }.fit(x.view(), y.view()).unwrap();
            let margin = booster.predict_margin(x.view(), None).unwrap();
            assert_tessera_round_trip(&AnyModel::Booster(booster.clone()), &x);
            let xgb = booster_to_xgboost_json(&booster, None);
            prop_assert!(!xgb.contains("null"), "XGBoost JSON holds a null");
            let back = read_xgboost_json(&xgb, std::path::Path::new("mem.json")).unwrap().booster;
            prop_assert_eq!(bits(&margin), bits(&back.predict_margin(x.view(), None).unwrap()), "{:?}", booster.objective);
        }
    }

    #[test]
    fn trees_forests_and_gbdt_round_trip(
        seed in any::<u64>(),
        n in 40usize..160,
        d in 1usize..5,
        missing in 0.05f32..0.5,
    ) {
        let (x, score) = data(seed, n, d, missing);
        let classes = Array1::from(score.iter().map(|&s| (s * 1.5).floor().clamp(0.0, 2.0)).collect::<Vec<_>>());
        let values = Array1::from(score);
        let classify: Vec<AnyEstimator> = vec![
            AnyEstimator::DecisionTreeClassifier(DecisionTreeClassifier::new()),
            AnyEstimator::RandomForestClassifier(RandomForestClassifier::new().n_estimators(5).seed(seed)),
            AnyEstimator::ExtraTreesClassifier(ExtraTreesClassifier::new().n_estimators(5).seed(seed)),
            AnyEstimator::GradientBoostingClassifier(GradientBoostingClassifier { params: gb(GradientBoostingClassifier::new().params) }),
        ];
        let regress: Vec<AnyEstimator> = vec![
            AnyEstimator::DecisionTreeRegressor(DecisionTreeRegressor::new()),
            AnyEstimator::RandomForestRegressor(RandomForestRegressor::new().n_estimators(5).seed(seed)),
            AnyEstimator::ExtraTreesRegressor(ExtraTreesRegressor::new().n_estimators(5).seed(seed)),
            AnyEstimator::GradientBoostingRegressor(GradientBoostingRegressor { params: gb(GradientBoostingRegressor::new().params) }),
        ];
        let two_classes = classes.iter().any(|&c| c != classes[0]);
        for e in classify.iter().filter(|_| two_classes) {
            assert_tessera_round_trip(&e.fit(x.view(), classes.view()).unwrap(), &x);
        }
        for e in &regress {
            assert_tessera_round_trip(&e.fit(x.view(), values.view()).unwrap(), &x);
        }
    }
}
