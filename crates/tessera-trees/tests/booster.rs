//! Behaviour of the histogram booster: determinism across thread counts, save/load, early stopping,
//! objectives, missing values, leaf predictions and importances.

#![allow(clippy::unwrap_used)] // Tests assert by unwrapping.

use ndarray::{Array1, Array2};
use tessera_datasets::{
    ClassificationParams, load_breast_cancer, load_diabetes, make_classification, train_test_split,
};
use tessera_tensor::SeededRng;
use tessera_trees::{
    BoosterParams, FittedBooster, HistGradientBooster, Model, Objective, model_from_json, model_to_json,
};

fn booster(objective: Objective, rounds: usize) -> HistGradientBooster {
    HistGradientBooster { params: BoosterParams { objective, n_estimators: rounds, ..Default::default() } }
}

fn with_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(f)
}

#[test]
fn results_do_not_depend_on_threads_and_survive_save_load() {
    let ds = make_classification(&ClassificationParams {
        n_samples: 4000,
        n_features: 10,
        n_informative: 5,
        seed: 1,
        ..Default::default()
    })
    .unwrap();
    let mut b = booster(Objective::Logistic, 20);
    (b.params.subsample, b.params.colsample_bytree) = (0.8, 0.7);
    let one = with_threads(1, || b.fit(ds.features(), ds.targets()).unwrap());
    let two = with_threads(2, || b.fit(ds.features(), ds.targets()).unwrap());
    assert_eq!(one, two);
    let back: FittedBooster =
        model_from_json(&model_to_json(&one, "booster").unwrap(), "booster", "mem".as_ref()).unwrap();
    let (m1, m2) =
        (one.predict_margin(ds.features(), None).unwrap(), back.predict_margin(ds.features(), None).unwrap());
    assert!(m1.iter().zip(m2.iter()).all(|(a, b)| a.to_bits() == b.to_bits()));
    assert_eq!(one.predict_leaf(ds.features()).unwrap().dim(), (4000, 20));
    let gain = one.feature_importance("gain").unwrap();
    assert_eq!(gain.len(), 10);
    assert!(one.feature_importance("weight").unwrap().iter().sum::<f64>() > 0.0);
    assert!(one.feature_importance("bogus").is_err());
}

#[test]
fn early_stopping_keeps_the_best_iteration() {
    let (train, valid) = train_test_split(&load_diabetes(), 0.3, 0, false).unwrap();
    let mut b = booster(Objective::SquaredError, 300);
    b.params.learning_rate = 0.3;
    let mut rounds_seen = 0;
    let m = b
        .fit_eval(
            train.features(),
            train.targets(),
            None,
            &[("valid", valid.features(), valid.targets())],
            Some(10),
            |r, metrics| {
                rounds_seen = r + 1;
                assert_eq!(metrics[0].0, "valid");
            },
        )
        .unwrap();
    let best = m.best_iteration.unwrap();
    let history = &m.eval_history[0].1;
    assert!(rounds_seen < 300, "early stopping should stop before 300 rounds");
    assert_eq!(history.len(), rounds_seen);
    assert_eq!(rounds_seen, best + 11);
    let min = history.iter().copied().fold(f64::INFINITY, f64::min);
    assert_eq!(history[best], min);
    assert_eq!(m.best_score, Some(min));
    // Predictions use the best round's model, as XGBoost's scikit-learn API and LightGBM do.
    assert!(m.use_best);
    assert_eq!(m.rounds_in_use(), best + 1);
    let x = valid.features();
    let best_margin = m.predict_margin(x, Some(best + 1)).unwrap();
    let all_margin = m.predict_margin(x, Some(m.n_rounds())).unwrap();
    assert_ne!(best_margin, all_margin);
    assert_eq!(m.predict(x).unwrap(), best_margin.column(0).to_owned());
    let rmse = |p: Array1<f32>| tessera_trees::metrics::rmse(valid.targets(), p.view()).unwrap();
    assert!((rmse(m.predict(x).unwrap()) - min).abs() < 1e-3, "the best model scores the best metric");
    assert_eq!(m.predict_leaf(x).unwrap().ncols(), best + 1);
    // XGBoost's file records early stopping in its attributes; loading it back uses the same rounds.
    let json = tessera_trees::booster_to_xgboost_json(&m, None);
    assert!(json.contains(&format!("\"best_iteration\":\"{best}\"")), "the export records best_iteration");
    let back = tessera_trees::booster_from_xgboost_json(&json, "m.json".as_ref()).unwrap();
    assert_eq!((back.best_iteration, back.use_best), (Some(best), true));
    assert_eq!(back.predict(x).unwrap(), m.predict(x).unwrap());
    // And every round, when asked.
    let mut all = m.clone();
    all.use_best = false;
    assert_eq!(all.predict(x).unwrap(), all_margin.column(0).to_owned());
    // Without early stopping the best round is recorded but every round predicts.
    let plain = booster(Objective::SquaredError, 30)
        .fit_eval(train.features(), train.targets(), None, &[("valid", x, valid.targets())], None, |_, _| {})
        .unwrap();
    assert!(plain.best_iteration.is_some() && !plain.use_best);
    assert_eq!(plain.rounds_in_use(), 30);
}

#[test]
fn objectives_fit_what_they_should() {
    let data = load_diabetes();
    let (x, y) = (data.features(), data.targets());
    let rmse = |m: &FittedBooster| tessera_trees::metrics::rmse(y, m.predict(x).unwrap().view()).unwrap();
    for obj in [
        Objective::SquaredError,
        Objective::AbsoluteError,
        Objective::PseudoHuber { slope: 50.0 },
        Objective::Poisson,
    ] {
        let first = rmse(&booster(obj, 1).fit(x, y).unwrap());
        let last = rmse(&booster(obj, 50).fit(x, y).unwrap());
        assert!(last < first * 0.8, "{obj:?}: {first} -> {last}");
    }
    let (train, test) = train_test_split(&load_breast_cancer(), 0.3, 0, true).unwrap();
    let m = booster(Objective::Logistic, 50).fit(train.features(), train.targets()).unwrap();
    let auc = tessera_trees::metrics::roc_auc(
        test.targets(),
        m.predict_proba(test.features()).unwrap().column(1),
        1.0,
    )
    .unwrap();
    assert!(auc > 0.97, "{auc}");
    assert!(booster(Objective::Logistic, 5).fit(x, y).is_err(), "logistic on regression targets is an error");
    let negative: Array1<f32> = y.mapv(|v| -v);
    assert!(booster(Objective::Poisson, 5).fit(x, negative.view()).is_err());
}

#[test]
fn missing_values_learn_a_default_direction() {
    let mut rng = SeededRng::new(2);
    let n = 2000;
    let mut x: Array2<f32> = rng.normal_array((n, 2), 0.0, 1.0);
    let mut y = Array1::<f32>::zeros(n);
    for i in 0..n {
        // Missing in feature 0 means the positive class, like large values.
        if i % 4 == 0 {
            x[[i, 0]] = f32::NAN;
            y[i] = 1.0;
        } else {
            y[i] = f32::from(x[[i, 0]] > 0.5);
        }
    }
    let m = booster(Objective::Logistic, 20).fit(x.view(), y.view()).unwrap();
    let probe = ndarray::array![[f32::NAN, 0.0], [-2.0, 0.0], [2.0, 0.0]];
    assert_eq!(m.predict(probe.view()).unwrap().to_vec(), vec![1.0, 0.0, 1.0]);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(12))]

    /// A label that is a function of a category is learnt exactly by one partition-based split (its
    /// categories sorted by gradient fall into the two classes), whatever the categories' numbering;
    /// fits agree across thread counts, survive save/load, and contributions sum to the margin.
    #[test]
    fn categorical_partitions(seed in 0u64..1000, n_cats in 4usize..60, missing in 0.0f32..0.1) {
        let mut rng = SeededRng::new(seed);
        let n = 600;
        let positive: Vec<bool> = (0..n_cats).map(|_| rng.uniform() < 0.5).collect();
        proptest::prop_assume!(positive.iter().any(|&p| p) && positive.iter().any(|&p| !p));
        let mut x: Array2<f32> = rng.normal_array((n, 2), 0.0, 1.0);
        let mut y = Array1::zeros(n);
        for i in 0..n {
            let c = (rng.uniform() * n_cats as f32) as usize % n_cats;
            x[[i, 0]] = c as f32;
            y[i] = if positive[c] { 1.0 } else { 0.0 };
            if rng.uniform() < missing {
                x[[i, 1]] = f32::NAN;
            }
        }
        proptest::prop_assume!(y.iter().any(|&v| v == 1.0) && y.iter().any(|&v| v == 0.0));
        let mut b = booster(Objective::Logistic, 10);
        b.params.categorical_features = vec![0];
        let one = with_threads(1, || b.fit(x.view(), y.view()).unwrap());
        let two = with_threads(2, || b.fit(x.view(), y.view()).unwrap());
        proptest::prop_assert_eq!(&one, &two);
        let pred = one.predict(x.view()).unwrap();
        proptest::prop_assert_eq!(pred, y.clone());
        let back: FittedBooster =
            model_from_json(&model_to_json(&one, "booster").unwrap(), "booster", "mem".as_ref()).unwrap();
        proptest::prop_assert_eq!(back.predict_margin(x.view(), None).unwrap(), one.predict_margin(x.view(), None).unwrap());
        let contrib = one.predict_contributions(x.view()).unwrap();
        let margin = one.predict_margin(x.view(), None).unwrap();
        for i in 0..n {
            let s: f64 = contrib.row(i).iter().map(|&v| f64::from(v)).sum();
            proptest::prop_assert!((s - f64::from(margin[[i, 0]])).abs() < 1e-4);
        }
    }

    /// TreeSHAP contributions of every output sum to that output's margin.
    #[test]
    fn contributions_sum_to_the_margin(seed in 0u64..1000, classes in 2usize..4, missing in 0.0f32..0.2) {
        let mut rng = SeededRng::new(seed);
        let n = 300;
        let mut x: Array2<f32> = rng.normal_array((n, 5), 0.0, 1.0);
        for v in x.iter_mut() {
            if rng.uniform() < missing { *v = f32::NAN; }
        }
        let y: Array1<f32> = (0..n).map(|i| ((x[[i, 0]].max(-9.0) + x[[i, 1]].abs()) as usize % classes) as f32).collect();
        proptest::prop_assume!(y.iter().any(|&v| v != y[0]));
        let objective = if classes == 2 { Objective::Logistic } else { Objective::Softprob };
        let mut b = booster(objective, 8);
        b.params.max_depth = 4;
        let Ok(m) = b.fit(x.view(), y.view()) else { return Ok(()) };
        let contrib = m.predict_contributions(x.view()).unwrap();
        let margin = m.predict_margin(x.view(), None).unwrap();
        for i in 0..n {
            for k in 0..m.n_outputs {
                let s: f64 = contrib.row(i).iter().skip(k * 6).take(6).map(|&v| f64::from(v)).sum();
                proptest::prop_assert!((s - f64::from(margin[[i, k]])).abs() < 1e-4);
            }
        }
    }
}

#[test]
fn loss_guided_growth_respects_max_leaves() {
    use tessera_trees::GrowPolicy;
    let data = load_diabetes();
    let mut b = booster(Objective::SquaredError, 20);
    (b.params.grow_policy, b.params.max_leaves, b.params.max_depth) = (GrowPolicy::Lossguide, 8, 0);
    let m = b.fit(data.features(), data.targets()).unwrap();
    assert!(m.trees.iter().all(|t| t.leaf_count() <= 8));
    assert!(m.trees.iter().any(|t| t.leaf_count() == 8));
    assert!(m.trees.iter().any(|t| t.depth() > 3), "loss-guided trees grow unevenly");
    // max_depth 0 without a leaf limit is refused.
    b.params.max_leaves = 0;
    assert!(b.fit(data.features(), data.targets()).is_err());
}

#[test]
fn custom_objectives_reproduce_built_in_ones() {
    let data = load_diabetes();
    let (x, y) = (data.features(), data.targets());
    // Squared error as a closure: gradient margin - label, hessian 1.
    let squared = |margin: &[f64], labels: &[f64]| -> (Vec<f32>, Vec<f32>) {
        (margin.iter().zip(labels).map(|(m, l)| (m - l) as f32).collect(), vec![1.0; labels.len()])
    };
    let mut b = booster(Objective::SquaredError, 10);
    b.params.base_score = Some(0.0);
    let built_in = b.fit(x, y).unwrap();
    let custom = b.fit_custom(x, y, &squared).unwrap();
    assert_eq!(custom.objective, Objective::Custom);
    let (p1, p2) = (built_in.predict(x).unwrap(), custom.predict(x).unwrap());
    assert!(p1.iter().zip(p2.iter()).all(|(a, b)| (a - b).abs() < 1e-3));
    let bad = |_: &[f64], _: &[f64]| (vec![0.0f32; 3], vec![1.0f32; 3]);
    assert!(b.fit_custom(x, y, &bad).unwrap_err().to_string().contains("custom objective"));
}

/// Per tree of an XGBoost-JSON export: the split feature of every internal node, by depth.
fn split_features_by_depth(m: &FittedBooster) -> Vec<Vec<Vec<usize>>> {
    let json: serde_json::Value =
        serde_json::from_str(&tessera_trees::booster_to_xgboost_json(m, None)).unwrap();
    let trees = json["learner"]["gradient_booster"]["model"]["trees"].as_array().unwrap();
    trees
        .iter()
        .map(|t| {
            let ints = |k: &str| -> Vec<i64> {
                t[k].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect()
            };
            let (left, right, feature) =
                (ints("left_children"), ints("right_children"), ints("split_indices"));
            let mut by_depth: Vec<Vec<usize>> = Vec::new();
            let mut stack = vec![(0usize, 0usize)];
            while let Some((node, depth)) = stack.pop() {
                if left[node] < 0 {
                    continue;
                }
                if by_depth.len() <= depth {
                    by_depth.resize(depth + 1, Vec::new());
                }
                by_depth[depth].push(feature[node] as usize);
                stack.push((left[node] as usize, depth + 1));
                stack.push((right[node] as usize, depth + 1));
            }
            by_depth
        })
        .collect()
}

#[test]
fn column_sampling_by_level_and_by_node() {
    let ds = make_classification(&ClassificationParams {
        n_samples: 3000,
        n_features: 8,
        n_informative: 6,
        seed: 2,
        ..Default::default()
    })
    .unwrap();
    // One feature per level: every split of a depth uses the same feature.
    let mut b = booster(Objective::Logistic, 10);
    b.params.max_depth = 4;
    b.params.colsample_bylevel = 0.125;
    let m = b.fit(ds.features(), ds.targets()).unwrap();
    let mut levels_seen = 0;
    for tree in split_features_by_depth(&m) {
        for level in tree {
            assert!(level.windows(2).all(|w| w[0] == w[1]), "one feature per level: {level:?}");
            levels_seen += 1;
        }
    }
    assert!(levels_seen >= 20);
    // One feature per node: nodes of a level differ; reproducible from the seed and thread count free.
    b.params.colsample_bylevel = 1.0;
    b.params.colsample_bynode = 0.125;
    let one = with_threads(1, || b.fit(ds.features(), ds.targets()).unwrap());
    let two = with_threads(2, || b.fit(ds.features(), ds.targets()).unwrap());
    assert_eq!(one, two);
    let mixed =
        split_features_by_depth(&one).iter().flatten().any(|level| level.windows(2).any(|w| w[0] != w[1]));
    assert!(mixed, "per-node sampling should give different features within a level");
    b.params.colsample_bynode = 0.0;
    assert!(b.fit(ds.features(), ds.targets()).is_err());
}

#[test]
fn max_bin_limits_the_cut_points() {
    let ds = make_classification(&ClassificationParams {
        n_samples: 3000,
        n_features: 5,
        seed: 3,
        ..Default::default()
    })
    .unwrap();
    let mut b = booster(Objective::Logistic, 30);
    b.params.max_bin = 8;
    let m = b.fit(ds.features(), ds.targets()).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&tessera_trees::booster_to_xgboost_json(&m, None)).unwrap();
    let mut cuts: Vec<std::collections::BTreeSet<u64>> = vec![Default::default(); 5];
    for t in json["learner"]["gradient_booster"]["model"]["trees"].as_array().unwrap() {
        let left = t["left_children"].as_array().unwrap();
        for (i, f) in t["split_indices"].as_array().unwrap().iter().enumerate() {
            if left[i].as_i64().unwrap() >= 0 {
                let c = t["split_conditions"][i].as_f64().unwrap();
                cuts[f.as_u64().unwrap() as usize].insert(c.to_bits());
            }
        }
    }
    assert!(
        cuts.iter().all(|c| c.len() <= 7),
        "at most max_bin - 1 cut points per feature: {:?}",
        cuts.iter().map(|c| c.len()).collect::<Vec<_>>()
    );
    for bad in [1, 257] {
        b.params.max_bin = bad;
        assert!(b.fit(ds.features(), ds.targets()).unwrap_err().to_string().contains("max_bin"));
    }
}

#[test]
fn eval_metrics_and_early_stopping_direction() {
    use tessera_trees::{EvalMetric, metrics};
    let (train, valid) = train_test_split(&load_breast_cancer(), 0.3, 0, true).unwrap();
    let set = [("valid", valid.features(), valid.targets())];
    for metric in [EvalMetric::Auc, EvalMetric::Error, EvalMetric::Logloss, EvalMetric::Rmse] {
        let mut b = booster(Objective::Logistic, 60);
        b.params.eval_metric = Some(metric);
        let m = b.fit_eval(train.features(), train.targets(), None, &set, None, |_, _| {}).unwrap();
        let history = &m.eval_history[0].1;
        let last = *history.last().unwrap();
        let proba = m.predict_proba(valid.features()).unwrap();
        let want = match metric {
            EvalMetric::Auc => metrics::roc_auc(valid.targets(), proba.column(1), 1.0).unwrap(),
            EvalMetric::Error => {
                1.0 - metrics::accuracy(valid.targets(), m.predict(valid.features()).unwrap().view()).unwrap()
            }
            EvalMetric::Logloss => metrics::log_loss(valid.targets(), proba.view(), &[0.0, 1.0]).unwrap(),
            _ => (proba
                .column(1)
                .iter()
                .zip(valid.targets())
                .map(|(&p, &y)| (f64::from(p) - f64::from(y)).powi(2))
                .sum::<f64>()
                / valid.n_samples() as f64)
                .sqrt(),
        };
        assert!((last - want).abs() < 1e-5, "{metric:?}: history {last} vs recomputed {want}");
        let best = m.best_iteration.unwrap();
        let extreme = if metric.higher_is_better() {
            history.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        } else {
            history.iter().copied().fold(f64::INFINITY, f64::min)
        };
        assert_eq!(history[best], extreme, "{metric:?}");
    }
    let mut b = booster(Objective::SquaredError, 5);
    b.params.eval_metric = Some(EvalMetric::Auc);
    let (tr, va) = train_test_split(&load_diabetes(), 0.3, 0, false).unwrap();
    let err = b
        .fit_eval(tr.features(), tr.targets(), None, &[("v", va.features(), va.targets())], None, |_, _| {})
        .unwrap_err();
    assert!(
        matches!(&err, tessera_trees::Error::InvalidParameter { name, .. } if name == "eval_metric"),
        "{err}"
    );
    assert!("bogus".parse::<EvalMetric>().is_err());
}

#[test]
fn monotone_constraints_make_predictions_monotone() {
    let ds = make_classification(&ClassificationParams {
        n_samples: 3000,
        n_features: 6,
        n_informative: 4,
        seed: 4,
        ..Default::default()
    })
    .unwrap();
    let constraints = vec![1, -1, 0, 1, 0, -1];
    for objective in [Objective::Logistic, Objective::SquaredError] {
        let mut b = booster(objective, 40);
        b.params.monotone_constraints = constraints.clone();
        let m = b.fit(ds.features(), ds.targets()).unwrap();
        // Sweep each constrained feature over its range with the other features of real rows fixed.
        for (f, &c) in constraints.iter().enumerate().filter(|(_, c)| **c != 0) {
            for r in 0..20 {
                let grid: Vec<f32> = (0..41).map(|i| -4.0 + 0.2 * i as f32).collect();
                let mut rows = Array2::<f32>::zeros((grid.len(), 6));
                for (i, &v) in grid.iter().enumerate() {
                    rows.row_mut(i).assign(&ds.features().row(r * 37));
                    rows[[i, f]] = v;
                }
                let margin = m.predict_margin(rows.view(), None).unwrap();
                for w in margin.column(0).to_vec().windows(2) {
                    let step = f64::from(w[1]) - f64::from(w[0]);
                    assert!(step * f64::from(c) >= -1e-6, "{objective:?} feature {f} ({c}): {w:?}");
                }
            }
        }
        // Unconstrained, the same data gives non-monotone responses somewhere.
        let free = booster(objective, 40).fit(ds.features(), ds.targets()).unwrap();
        let mut violations = 0;
        for r in 0..20 {
            let mut rows = Array2::<f32>::zeros((41, 6));
            for i in 0..41 {
                rows.row_mut(i).assign(&ds.features().row(r * 37));
                rows[[i, 1]] = -4.0 + 0.2 * i as f32;
            }
            let margin = free.predict_margin(rows.view(), None).unwrap();
            violations += margin.column(0).to_vec().windows(2).filter(|w| w[1] > w[0] + 1e-6).count();
        }
        assert!(violations > 0, "{objective:?}: the constraint on feature 1 should matter");
    }
    let mut b = booster(Objective::SquaredError, 5);
    b.params.monotone_constraints = vec![1, 0];
    assert!(b.fit(ds.features(), ds.targets()).unwrap_err().to_string().contains("monotone_constraints"));
    b.params.monotone_constraints = vec![2, 0, 0, 0, 0, 0];
    assert!(b.fit(ds.features(), ds.targets()).is_err());
}

/// Rows wider than 64 features take the run-time-stride partition path (and 33..64 a rounded stride):
/// both learn an informative feature and agree across thread counts.
#[test]
fn wide_rows_partition_and_learn() {
    for d in [40usize, 70] {
        let ds = make_classification(&ClassificationParams {
            n_samples: 3000,
            n_features: d,
            n_informative: 8,
            seed: 3,
            ..Default::default()
        })
        .unwrap();
        let (train, test) = train_test_split(&ds, 0.25, 0, true).unwrap();
        let b = booster(Objective::Logistic, 30);
        let one = with_threads(1, || b.fit(train.features(), train.targets()).unwrap());
        let two = with_threads(2, || b.fit(train.features(), train.targets()).unwrap());
        assert_eq!(one, two);
        let pred = one.predict(test.features()).unwrap();
        let acc = tessera_trees::metrics::accuracy(test.targets(), pred.view()).unwrap();
        assert!(acc > 0.85, "{d} features: accuracy {acc}");
    }
}
