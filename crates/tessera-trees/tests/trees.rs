//! Behaviour tests of trees and forests on small hand-made and embedded data.

#![allow(clippy::unwrap_used)] // Tests assert by unwrapping.

use ndarray::{Array1, Array2, array};
use tessera_datasets::{load_breast_cancer, load_diabetes, load_iris, train_test_split};
use tessera_trees::{
    Criterion, DecisionTreeClassifier, DecisionTreeRegressor, Error, Estimator, ExtraTreesClassifier,
    MaxFeatures, Model, RandomForestClassifier, RandomForestRegressor, metrics,
};

#[test]
fn stump_finds_the_obvious_threshold() {
    let x = array![[1.0f32], [2.0], [3.0], [10.0], [11.0], [12.0]];
    let y = array![0.0f32, 0.0, 0.0, 1.0, 1.0, 1.0];
    let m = DecisionTreeClassifier::new().max_depth(1).fit(x.view(), y.view()).unwrap();
    assert_eq!(m.tree.node_count(), 3);
    assert_eq!(m.predict(array![[6.4f32], [6.6]].view()).unwrap().to_vec(), vec![0.0, 1.0]);
    assert_eq!(m.feature_importances(), vec![1.0]);
}

#[test]
fn missing_values_go_to_the_side_that_lowers_impurity() {
    // NaN rows are all class 1, like the large values: they should join the right child.
    let x = array![[1.0f32], [2.0], [3.0], [10.0], [11.0], [f32::NAN], [f32::NAN]];
    let y = array![0.0f32, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0];
    let m = DecisionTreeClassifier::new().max_depth(1).fit(x.view(), y.view()).unwrap();
    assert_eq!(m.predict(array![[f32::NAN], [0.0]].view()).unwrap().to_vec(), vec![1.0, 0.0]);
    // And to the left when they look like the small values.
    let y2 = array![0.0f32, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0];
    let m = DecisionTreeClassifier::new().max_depth(1).fit(x.view(), y2.view()).unwrap();
    assert_eq!(m.predict(array![[f32::NAN], [20.0]].view()).unwrap().to_vec(), vec![0.0, 1.0]);
}

#[test]
fn regression_criteria_give_mean_and_median_leaves() {
    let x = array![[0.0f32], [0.0], [0.0], [1.0]];
    let y = array![1.0f32, 2.0, 10.0, 5.0];
    let mse = DecisionTreeRegressor::new().max_depth(1).fit(x.view(), y.view()).unwrap();
    assert!((mse.predict(array![[0.0f32]].view()).unwrap()[0] - 13.0 / 3.0).abs() < 1e-5);
    let mae = DecisionTreeRegressor::new()
        .criterion(Criterion::AbsoluteError)
        .max_depth(1)
        .fit(x.view(), y.view())
        .unwrap();
    assert_eq!(mae.predict(array![[0.0f32]].view()).unwrap()[0], 2.0);
}

#[test]
fn max_leaf_nodes_and_pruning_limit_size() {
    let data = load_breast_cancer();
    let full = DecisionTreeClassifier::new().fit_dataset(&data).unwrap();
    let small = DecisionTreeClassifier::new().max_leaf_nodes(5).fit_dataset(&data).unwrap();
    assert_eq!(small.tree.leaf_count(), 5);
    let pruned = DecisionTreeClassifier::new().ccp_alpha(0.01).fit_dataset(&data).unwrap();
    assert!(pruned.tree.leaf_count() < full.tree.leaf_count());
    assert!(pruned.tree.leaf_count() >= 2);
    // A fully grown tree fits its training data perfectly (no duplicate rows with conflicting labels).
    let acc = metrics::accuracy(data.targets(), full.predict(data.features()).unwrap().view()).unwrap();
    assert_eq!(acc, 1.0);
}

#[test]
fn bad_input_is_a_clear_error() {
    let x = array![[1.0f32], [2.0]];
    let e = DecisionTreeClassifier::new().fit(x.view(), array![1.0f32].view()).unwrap_err();
    assert!(
        matches!(&e, Error::Shape { expected, found, .. } if expected.starts_with('2') && found == "1"),
        "{e}"
    );
    let e =
        DecisionTreeClassifier::new().fit(x.view(), array![1.0f32, f32::NAN].view()).unwrap_err().to_string();
    assert!(e.contains("NaN"), "{e}");
    let e = DecisionTreeClassifier::new().fit(x.view(), array![1.0f32, 1.0].view()).unwrap_err().to_string();
    assert!(e.contains("two classes"), "{e}");
    let empty = Array2::<f32>::zeros((0, 3));
    let e = DecisionTreeRegressor::new().fit(empty.view(), Array1::zeros(0).view()).unwrap_err().to_string();
    assert!(e.contains("empty"), "{e}");
    let m = DecisionTreeRegressor::new().fit(x.view(), array![1.0f32, 2.0].view()).unwrap();
    let e = m.predict(array![[1.0f32, 2.0]].view()).unwrap_err();
    assert!(
        matches!(&e, Error::Shape { expected, found, .. } if expected.starts_with('1') && found == "2"),
        "{e}"
    );
    assert!(m.predict_proba(x.view()).is_err());
    let e = DecisionTreeClassifier::new()
        .max_features(MaxFeatures::Count(5))
        .fit(x.view(), array![0.0f32, 1.0].view());
    assert!(e.unwrap_err().to_string().contains("max_features"));
}

#[test]
fn forests_beat_single_trees_and_report_oob() {
    let (train, test) = train_test_split(&load_breast_cancer(), 0.3, 1, true).unwrap();
    let rf =
        RandomForestClassifier::new().n_estimators(60).oob_score(true).seed(3).fit_dataset(&train).unwrap();
    let acc = metrics::accuracy(test.targets(), rf.predict(test.features()).unwrap().view()).unwrap();
    assert!(acc > 0.93, "rf accuracy {acc}");
    let oob = rf.oob_score.unwrap();
    assert!(oob > 0.9, "oob {oob}");
    let imp = rf.feature_importances();
    assert!((imp.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    let proba = rf.predict_proba(test.features()).unwrap();
    for row in proba.outer_iter() {
        assert!((row.sum() - 1.0).abs() < 1e-4);
    }
    let et = ExtraTreesClassifier::new().n_estimators(60).seed(3).fit_dataset(&train).unwrap();
    let acc = metrics::accuracy(test.targets(), et.predict(test.features()).unwrap().view()).unwrap();
    assert!(acc > 0.93, "extra trees accuracy {acc}");

    let (train, test) = train_test_split(&load_diabetes(), 0.3, 1, false).unwrap();
    let rf = RandomForestRegressor::new().n_estimators(60).seed(3).fit_dataset(&train).unwrap();
    let r2 = metrics::r2(test.targets(), rf.predict(test.features()).unwrap().view()).unwrap();
    assert!(r2 > 0.3, "rf r2 {r2}");
}

#[test]
fn iris_depth_two_tree_matches_the_textbook() {
    let iris = load_iris();
    let m = DecisionTreeClassifier::new().max_depth(2).fit_dataset(&iris).unwrap();
    // scikit-learn's depth-2 tree on iris splits on petal length / width first (feature 2 or 3, tie) and
    // reaches training accuracy 0.96.
    assert!(matches!(m.tree.node_count(), 5));
    let acc = metrics::accuracy(iris.targets(), m.predict(iris.features()).unwrap().view()).unwrap();
    assert!((acc - 0.96).abs() < 1e-9, "{acc}");
}

#[test]
fn permutation_importance_finds_the_informative_feature() {
    let mut rng = tessera_tensor::SeededRng::new(4);
    let x: Array2<f32> = rng.normal_array((600, 3), 0.0, 1.0);
    let y: Array1<f32> = x.column(1).mapv(|v| f32::from(v > 0.0));
    let model = RandomForestClassifier::new().n_estimators(30).fit(x.view(), y.view()).unwrap();
    let imp = tessera_trees::permutation_importance(&model, x.view(), y.view(), 3, 0).unwrap();
    assert_eq!(imp.baseline, 1.0);
    assert!(imp.mean[1] > 0.3, "{:?}", imp.mean);
    assert!(imp.mean[0].abs() < 0.05 && imp.mean[2].abs() < 0.05, "{:?}", imp.mean);
}

#[test]
fn adaboost_stages_end_at_the_final_prediction() {
    let (train, test) = train_test_split(&load_breast_cancer(), 0.3, 2, true).unwrap();
    let ada = tessera_trees::AdaBoostClassifier::new().n_estimators(20).fit_dataset(&train).unwrap();
    let stages = ada.staged_predict(test.features()).unwrap();
    assert_eq!(stages.len(), ada.estimators.len());
    assert_eq!(stages.last().unwrap(), &ada.predict(test.features()).unwrap());
    let first = metrics::accuracy(test.targets(), stages[0].view()).unwrap();
    let last = metrics::accuracy(test.targets(), stages.last().unwrap().view()).unwrap();
    assert!(last > first, "boosting should improve on one stump: {first} -> {last}");
    let probas = ada.staged_predict_proba(test.features()).unwrap();
    assert_eq!(probas.last().unwrap(), &ada.predict_proba(test.features()).unwrap());
    let r2 = tessera_trees::AdaBoostRegressor::new().n_estimators(10).fit_dataset(&load_diabetes()).unwrap();
    let stages = r2.staged_predict(load_diabetes().features()).unwrap();
    assert_eq!(stages.last().unwrap(), &r2.predict(load_diabetes().features()).unwrap());
}

#[test]
fn bagging_reports_oob_and_uses_feature_subsets() {
    let data = load_breast_cancer();
    let mut bag = tessera_trees::Bagging::new(DecisionTreeClassifier::new()).n_estimators(25).oob_score(true);
    bag.params.max_features = 0.5;
    bag.params.bootstrap_features = false;
    let m = bag.fit_dataset(&data).unwrap();
    assert!(m.oob_score.unwrap() > 0.9, "{:?}", m.oob_score);
    assert!(m.features.iter().all(|f| f.len() == 15));
    let proba = m.predict_proba(data.features()).unwrap();
    assert!(proba.outer_iter().all(|r| (r.sum() - 1.0).abs() < 1e-4));
}

#[test]
fn linear_meta_learners_match_closed_forms() {
    // Ridge with alpha 0 on an exactly linear target recovers the coefficients.
    let mut rng = tessera_tensor::SeededRng::new(9);
    let x: Array2<f32> = rng.normal_array((200, 3), 0.0, 1.0);
    let y: Array1<f32> = x.outer_iter().map(|r| 2.0 * r[0] - 0.5 * r[1] + 3.0).collect();
    let m = tessera_trees::Ridge { alpha: 0.0 }.fit(x.view(), y.view()).unwrap();
    assert!((m.coef[0] - 2.0).abs() < 1e-4 && (m.coef[1] + 0.5).abs() < 1e-4 && m.coef[2].abs() < 1e-4);
    assert!((m.intercept - 3.0).abs() < 1e-4);
    // Logistic regression separates a linearly separable problem and its probabilities sum to one.
    let yc: Array1<f32> = x.column(0).mapv(|v| {
        if v > 0.2 {
            2.0
        } else if v < -0.5 {
            0.0
        } else {
            1.0
        }
    });
    let lr = tessera_trees::LogisticRegression { c: 100.0, max_iter: 500, tol: 1e-6 }
        .fit(x.view(), yc.view())
        .unwrap();
    let acc = metrics::accuracy(yc.view(), lr.predict(x.view()).unwrap().view()).unwrap();
    assert!(acc > 0.95, "{acc}");
    assert!(lr.predict_proba(x.view()).unwrap().outer_iter().all(|r| (r.sum() - 1.0).abs() < 1e-5));
    let e =
        tessera_trees::LogisticRegression::default().fit(array![[f32::NAN]].view(), array![1.0f32].view());
    assert!(e.is_err());
}

#[test]
fn gradient_boosting_behaves() {
    use tessera_trees::{GbLoss, GradientBoostingClassifier, GradientBoostingRegressor};
    let (train, test) = train_test_split(&load_breast_cancer(), 0.3, 5, true).unwrap();
    let gb = GradientBoostingClassifier::new().fit_dataset(&train).unwrap();
    let acc = metrics::accuracy(test.targets(), gb.predict(test.features()).unwrap().view()).unwrap();
    assert!(acc > 0.93, "{acc}");
    let stages = gb.staged_predict(test.features()).unwrap();
    assert_eq!(stages.len(), 100);
    assert_eq!(stages.last().unwrap(), &gb.predict(test.features()).unwrap());
    assert!(gb.predict_proba(test.features()).unwrap().outer_iter().all(|r| (r.sum() - 1.0).abs() < 1e-5));
    let imp = gb.feature_importances();
    assert!((imp.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    // Multinomial.
    let iris = load_iris();
    let gb = GradientBoostingClassifier::new().fit_dataset(&iris).unwrap();
    assert_eq!(gb.trees.len(), 300);
    assert!(metrics::accuracy(iris.targets(), gb.predict(iris.features()).unwrap().view()).unwrap() > 0.98);
    // Every regression loss lowers the training error of the initial constant.
    let data = load_diabetes();
    for loss in [
        GbLoss::SquaredError,
        GbLoss::AbsoluteError,
        GbLoss::Huber { alpha: 0.9 },
        GbLoss::Quantile { alpha: 0.5 },
    ] {
        let m = GradientBoostingRegressor::new().loss(loss).fit_dataset(&data).unwrap();
        let stages = m.staged_predict(data.features()).unwrap();
        let first = metrics::mae(data.targets(), stages[0].view()).unwrap();
        let last = metrics::mae(data.targets(), stages.last().unwrap().view()).unwrap();
        assert!(last < first * 0.8, "{loss:?}: {first} -> {last}");
    }
    // The wrong loss for the task is a clear error.
    let e = GradientBoostingRegressor::new().loss(GbLoss::LogLoss).fit_dataset(&data).unwrap_err();
    assert!(e.to_string().contains("LogLoss"), "{e}");
}

/// Fits on prepared data equal fits on the raw rows, for every weighting, and the preparation is reused
/// (the prepared data outlives many fits, as in boosting).
#[test]
fn prepared_fits_equal_direct_fits() {
    use tessera_trees::Prepared;
    let data = load_breast_cancer();
    let (x, y) = (data.features(), data.targets());
    let prepared: Prepared<'_> = DecisionTreeClassifier::new().prepare(x, y);
    for (seed, depth) in [(0u64, 3usize), (1, 5), (2, 8)] {
        let w: Array1<f32> = (0..x.nrows()).map(|i| ((i as u64 * 7 + seed) % 5) as f32).collect();
        let est = DecisionTreeClassifier::new().max_depth(depth).seed(seed);
        let direct = est.fit_weighted(x, y, Some(w.view())).unwrap();
        assert_eq!(est.fit_prepared(&prepared, Some(w.view())).unwrap(), direct);
        let reg = DecisionTreeRegressor::new().max_depth(depth);
        assert_eq!(
            reg.fit_prepared(&prepared, Some(w.view())).unwrap(),
            reg.fit_weighted(x, y, Some(w.view())).unwrap()
        );
    }
}

/// AdaBoost and Bagging keep their parameters in params structs, serialized flat as before.
#[test]
fn boosting_and_bagging_params_serialize_flat() {
    let ada = tessera_trees::AdaBoostClassifier::new().n_estimators(7);
    let json = serde_json::to_value(&ada).unwrap();
    assert_eq!(json["n_estimators"], 7);
    assert_eq!(json["learning_rate"], 1.0);
    let back: tessera_trees::AdaBoostClassifier = serde_json::from_value(json).unwrap();
    assert_eq!(back, ada);
    let bag = tessera_trees::Bagging::new(DecisionTreeRegressor::new()).n_estimators(3);
    let json = serde_json::to_value(&bag).unwrap();
    assert_eq!((json["n_estimators"].as_u64(), json["bootstrap"].as_bool()), (Some(3), Some(true)));
    let mut bad = bag.clone();
    bad.params.max_samples = 0.0;
    let x = ndarray::array![[1.0f32], [2.0], [3.0]];
    let e = bad.fit(x.view(), ndarray::array![1.0f32, 2.0, 3.0].view()).unwrap_err();
    assert!(matches!(&e, Error::InvalidParameter { name, .. } if name == "max_samples"), "{e}");
}
