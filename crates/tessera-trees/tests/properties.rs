//! Property tests: trees fit separable data perfectly, importances sum to one, saved-and-loaded models
//! predict bit-identically, and results do not depend on the number of threads.

#![allow(clippy::unwrap_used)] // Tests assert by unwrapping.

use ndarray::{Array1, Array2};
use proptest::prelude::*;
use tessera_tensor::SeededRng;
use tessera_trees::{
    AdaBoostClassifier, AnyEstimator, AnyModel, Bagging, Criterion, DecisionTreeClassifier,
    DecisionTreeRegressor, Estimator, ExtraTreesRegressor, FittedForest, FittedTree, Model,
    RandomForestClassifier, StackingClassifier, load_model, model_from_json, model_to_json, save_model,
};

/// Random data with distinct rows and an arbitrary labelling (`n_classes` classes).
fn random_problem(
    seed: u64,
    rows: usize,
    cols: usize,
    n_classes: u32,
    missing: f32,
) -> (Array2<f32>, Array1<f32>) {
    let mut rng = SeededRng::new(seed);
    let mut x: Array2<f32> = rng.normal_array((rows, cols), 0.0, 1.0);
    for v in x.iter_mut() {
        if rng.uniform() < missing {
            *v = f32::NAN;
        }
    }
    // Column 0 is a distinct row id (never missing), so the rows are separable.
    for (i, v) in x.column_mut(0).iter_mut().enumerate() {
        *v = i as f32 * 0.5 + rng.uniform() * 0.1;
    }
    let y = (0..rows).map(|_| rng.below(n_classes as usize) as f32).collect();
    (x, y)
}

fn with_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(f)
}

fn same_predictions<M: Model>(a: &M, b: &M, x: &Array2<f32>) -> bool {
    let (pa, pb) = (a.predict(x.view()).unwrap(), b.predict(x.view()).unwrap());
    pa.iter().zip(pb.iter()).all(|(u, v)| u.to_bits() == v.to_bits())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn a_full_tree_fits_separable_data_perfectly(
        seed in any::<u64>(), rows in 2usize..300, cols in 1usize..6, classes in 2u32..5, missing in 0.0f32..0.3,
    ) {
        let (x, y) = random_problem(seed, rows, cols, classes, missing);
        prop_assume!(y.iter().any(|&v| v != y[0]));
        for criterion in [Criterion::Gini, Criterion::Entropy] {
            let m = DecisionTreeClassifier::new().criterion(criterion).seed(seed).fit(x.view(), y.view()).unwrap();
            prop_assert_eq!(m.predict(x.view()).unwrap(), y.clone());
        }
        let r = DecisionTreeRegressor::new().seed(seed).fit(x.view(), y.view()).unwrap();
        prop_assert_eq!(r.predict(x.view()).unwrap(), y.clone());
    }

    #[test]
    fn importances_sum_to_one(seed in any::<u64>(), rows in 10usize..200, cols in 2usize..6) {
        let (x, y) = random_problem(seed, rows, cols, 2, 0.1);
        prop_assume!(y.iter().any(|&v| v != y[0]));
        let tree = DecisionTreeClassifier::new().seed(seed).fit(x.view(), y.view()).unwrap();
        let forest = RandomForestClassifier::new().n_estimators(8).seed(seed).fit(x.view(), y.view()).unwrap();
        for imp in [tree.feature_importances(), forest.feature_importances()] {
            prop_assert!(imp.iter().all(|&v| v >= 0.0));
            prop_assert!((imp.iter().sum::<f64>() - 1.0).abs() < 1e-9, "{:?}", imp);
        }
    }

    #[test]
    fn saved_and_loaded_models_predict_identically(seed in any::<u64>(), rows in 20usize..200, cols in 2usize..5) {
        let (x, y) = random_problem(seed, rows, cols, 3, 0.1);
        prop_assume!(y.iter().any(|&v| v != y[0]));
        let tree = DecisionTreeClassifier::new().seed(seed).fit(x.view(), y.view()).unwrap();
        let back: FittedTree = model_from_json(&model_to_json(&tree, "tree").unwrap(), "tree", "mem".as_ref()).unwrap();
        prop_assert!(same_predictions(&tree, &back, &x));
        prop_assert_eq!(&tree, &back);

        let forest = ExtraTreesRegressor::new().n_estimators(5).seed(seed).fit(x.view(), y.view()).unwrap();
        let back: FittedForest =
            model_from_json(&model_to_json(&forest, "forest").unwrap(), "forest", "mem".as_ref()).unwrap();
        prop_assert!(same_predictions(&forest, &back, &x));

        let ada = AnyEstimator::AdaBoostClassifier(AdaBoostClassifier::new().n_estimators(5)).fit(x.view(), y.view()).unwrap();
        let back: AnyModel = model_from_json(&model_to_json(&ada, "any").unwrap(), "any", "mem".as_ref()).unwrap();
        prop_assert!(same_predictions(&ada, &back, &x));
    }
}

#[test]
fn predictions_do_not_depend_on_the_thread_count() {
    let (x, y) = random_problem(7, 3000, 6, 3, 0.05);
    let fit = || RandomForestClassifier::new().n_estimators(12).seed(3).fit(x.view(), y.view()).unwrap();
    let one = with_threads(1, fit);
    let three = with_threads(3, fit);
    assert_eq!(one, three);
    let p1 = with_threads(1, || one.predict_proba(x.view()).unwrap());
    let p3 = with_threads(3, || one.predict_proba(x.view()).unwrap());
    assert_eq!(p1, p3);
    let bag = || Bagging::new(DecisionTreeRegressor::new()).n_estimators(6).fit(x.view(), y.view()).unwrap();
    assert_eq!(with_threads(1, bag), with_threads(2, bag));
}

#[test]
fn model_files_round_trip_and_reject_other_versions() {
    let (x, y) = random_problem(1, 200, 4, 2, 0.1);
    let model = StackingClassifier::new(vec![
        ("tree".into(), AnyEstimator::DecisionTreeClassifier(DecisionTreeClassifier::new().max_depth(3))),
        (
            "forest".into(),
            AnyEstimator::RandomForestClassifier(RandomForestClassifier::new().n_estimators(5)),
        ),
    ])
    .fit(x.view(), y.view())
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.json");
    save_model(&model, "stacking", &path).unwrap();
    let back: tessera_trees::FittedStacking = load_model(&path, "stacking").unwrap();
    assert!(same_predictions(&model, &back, &x));
    assert_eq!(model.predict_proba(x.view()).unwrap(), back.predict_proba(x.view()).unwrap());

    let text = std::fs::read_to_string(&path).unwrap();
    let future = text.replacen("\"version\":1", "\"version\":2", 1);
    std::fs::write(&path, future).unwrap();
    let err = load_model::<tessera_trees::FittedStacking>(&path, "stacking").unwrap_err().to_string();
    assert!(err.contains("version 2") && err.contains("model.json"), "{err}");
    let err = load_model::<FittedTree>(dir.path().join("missing.json"), "tree").unwrap_err().to_string();
    assert!(err.contains("missing.json"), "{err}");
    std::fs::write(
        &path,
        "{\"format\":\"tessera-trees\",\"version\":1,\"kind\":\"tree\",\"model\":{\"tree\":{}}}",
    )
    .unwrap();
    assert!(load_model::<FittedTree>(&path, "tree").is_err());
}
