//! Property tests: CSV round trips (missing values included), generator invariants and determinism
//! (same output for every thread count), split invariants.

#![allow(clippy::unwrap_used)] // Tests assert by unwrapping.

use ndarray::{Array1, Array2, s};
use proptest::prelude::*;
use tessera_datasets::{
    ClassificationParams, CsvOptions, Dataset, Friedman1Params, KFold, RegressionParams, StratifiedKFold,
    Task, make_classification, make_friedman1, make_regression, read_csv, train_test_indices, write_csv,
};

fn with_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(f)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn csv_round_trips(rows in 1usize..40, cols in 1usize..6, seed in any::<u64>(), classify in any::<bool>()) {
        let mut rng = tessera_tensor::SeededRng::new(seed);
        let mut x: Array2<f32> = rng.normal_array((rows, cols), 0.0, 1e3);
        for v in x.iter_mut() {
            if rng.uniform() < 0.1 { *v = f32::NAN; }
        }
        let (y, task) = if classify {
            let y: Array1<f32> = (0..rows).map(|i| (i % 3) as f32).collect();
            let names = if rows >= 3 { vec!["0", "1", "2"] } else if rows == 2 { vec!["0", "1"] } else { vec!["0"] };
            (y, Task::Classification { class_names: names.into_iter().map(String::from).collect() })
        } else {
            (rng.normal_array(rows, 5.0, 2.0), Task::Regression)
        };
        let names = (0..cols).map(|j| format!("col, {j}")).collect();
        let ds = Dataset::new(x, y, names, "label", task).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.csv");
        write_csv(&ds, &path).unwrap();
        let opts = CsvOptions {
            task: Some(if classify { tessera_datasets::TaskKind::Classification } else { tessera_datasets::TaskKind::Regression }),
            ..CsvOptions::with_target("label")
        };
        let back = read_csv(&path, &opts).unwrap();
        prop_assert_eq!(back.feature_names(), ds.feature_names());
        prop_assert_eq!(back.targets(), ds.targets());
        for (a, b) in back.features().iter().zip(ds.features().iter()) {
            prop_assert!(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()));
        }
    }

    #[test]
    fn kfold_partitions_rows(n in 2usize..200, k in 2usize..10, shuffle in any::<bool>(), seed in any::<u64>()) {
        prop_assume!(k <= n);
        let folds = KFold { n_splits: k, shuffle, seed }.split(n).unwrap();
        let mut seen = vec![0; n];
        for f in &folds {
            prop_assert_eq!(f.train.len() + f.test.len(), n);
            for &i in &f.test { seen[i] += 1; }
            prop_assert!(f.test.len() == n / k || f.test.len() == n / k + 1);
        }
        prop_assert!(seen.iter().all(|&c| c == 1));
    }

    #[test]
    fn stratified_folds_balance_classes(labels in prop::collection::vec(0u8..4, 10..150), k in 2usize..6, shuffle in any::<bool>()) {
        let labels: Vec<f32> = labels.into_iter().map(f32::from).collect();
        let folds = StratifiedKFold { n_splits: k, shuffle, seed: 1 }.split(&labels).unwrap();
        let mut seen = vec![0; labels.len()];
        for c in 0..4 {
            let counts: Vec<usize> = folds.iter().map(|f| f.test.iter().filter(|&&i| labels[i] == c as f32).count()).collect();
            prop_assert!(counts.iter().max().unwrap() - counts.iter().min().unwrap() <= 1, "{:?}", counts);
        }
        for f in &folds { for &i in &f.test { seen[i] += 1; } }
        prop_assert!(seen.iter().all(|&c| c == 1));
    }

    #[test]
    fn stratified_split_keeps_proportions(labels in prop::collection::vec(0u8..3, 20..200), frac in 0.1f64..0.5) {
        let labels: Vec<f32> = labels.into_iter().map(f32::from).collect();
        let n = labels.len();
        let split = train_test_indices(n, frac, 9, Some(&labels)).unwrap();
        prop_assert_eq!(split.test.len(), (frac * n as f64).ceil() as usize);
        let mut all: Vec<usize> = split.train.iter().chain(&split.test).copied().collect();
        all.sort_unstable();
        prop_assert_eq!(all, (0..n).collect::<Vec<_>>());
        for c in 0..3 {
            let total = labels.iter().filter(|&&l| l == c as f32).count() as f64;
            let in_test = split.test.iter().filter(|&&i| labels[i] == c as f32).count() as f64;
            prop_assert!((in_test - total * split.test.len() as f64 / n as f64).abs() <= 1.0 + 1e-9);
        }
    }
}

#[test]
fn generators_do_not_depend_on_thread_count() {
    let p = ClassificationParams {
        n_samples: 20_000,
        n_features: 12,
        n_informative: 5,
        seed: 3,
        ..Default::default()
    };
    let one = with_threads(1, || make_classification(&p).unwrap());
    let two = with_threads(2, || make_classification(&p).unwrap());
    let three = with_threads(3, || make_classification(&p).unwrap());
    assert_eq!(one, two);
    assert_eq!(one, three);
    let r = RegressionParams { n_samples: 9_000, n_features: 7, seed: 5, noise: 1.0, ..Default::default() };
    assert_eq!(
        with_threads(1, || make_regression(&r).unwrap()),
        with_threads(2, || make_regression(&r).unwrap())
    );
    let f = Friedman1Params { n_samples: 9_000, noise: 0.5, ..Default::default() };
    assert_eq!(
        with_threads(1, || make_friedman1(&f).unwrap()),
        with_threads(4, || make_friedman1(&f).unwrap())
    );
    let other_seed = make_classification(&ClassificationParams { seed: 4, ..p.clone() }).unwrap();
    assert_ne!(one, other_seed);
}

/// Least-squares residual of `target` on the columns of `basis` (normal equations, f64).
fn residual(basis: &Array2<f64>, target: &Array1<f64>) -> f64 {
    let k = basis.ncols();
    let gram = basis.t().dot(basis);
    let rhs = basis.t().dot(target);
    // Gaussian elimination on the small k x k system.
    let mut a = gram.clone();
    let mut b = rhs.clone();
    for i in 0..k {
        let p = a[[i, i]];
        for j in i + 1..k {
            let f = a[[j, i]] / p;
            for c in i..k {
                a[[j, c]] -= f * a[[i, c]];
            }
            b[j] -= f * b[i];
        }
    }
    let mut coef = Array1::<f64>::zeros(k);
    for i in (0..k).rev() {
        let s: f64 = (i + 1..k).map(|c| a[[i, c]] * coef[c]).sum();
        coef[i] = (b[i] - s) / a[[i, i]];
    }
    let fitted = basis.dot(&coef);
    ((target - &fitted).mapv(|v| v * v).sum() / target.mapv(|v| v * v).sum()).sqrt()
}

#[test]
fn make_classification_structure() {
    let p = ClassificationParams {
        n_samples: 4000,
        n_features: 12,
        n_informative: 4,
        n_redundant: 3,
        n_repeated: 2,
        n_classes: 3,
        n_clusters_per_class: 1,
        flip_y: 0.0,
        class_sep: 3.0,
        shuffle: false,
        seed: 11,
        ..Default::default()
    };
    let ds = make_classification(&p).unwrap();
    let x = ds.features().mapv(f64::from);
    let informative = x.slice(s![.., 0..4]).to_owned();
    // Redundant columns are linear combinations of the informative ones.
    for j in 4..7 {
        let r = residual(&informative, &x.column(j).to_owned());
        assert!(r < 1e-5, "redundant column {j} residual {r}");
    }
    // Repeated columns copy an informative or redundant column exactly.
    for j in 7..9 {
        assert!((0..7).any(|src| x.column(j) == x.column(src)), "column {j} repeats nothing");
    }
    // Noise columns are standard normal and carry no signal.
    for j in 9..12 {
        let col = x.column(j);
        let mean = col.mean().unwrap();
        let std = col.std(0.0);
        assert!(mean.abs() < 0.06 && (std - 1.0).abs() < 0.06, "noise column {j}: mean {mean} std {std}");
        assert!(residual(&informative, &col.to_owned()) > 0.95);
    }
    // Well-separated clusters: nearest class mean on the informative features classifies almost all rows.
    let y = ds.targets();
    let means: Vec<Array1<f64>> = (0..3)
        .map(|c| {
            let rows: Vec<usize> = (0..y.len()).filter(|&i| y[i] == c as f32).collect();
            informative.select(ndarray::Axis(0), &rows).mean_axis(ndarray::Axis(0)).unwrap()
        })
        .collect();
    let correct = (0..y.len())
        .filter(|&i| {
            let row = informative.row(i);
            let best = (0..3)
                .min_by(|&a, &b| {
                    let da = (&row - &means[a]).mapv(|v| v * v).sum();
                    let db = (&row - &means[b]).mapv(|v| v * v).sum();
                    da.total_cmp(&db)
                })
                .unwrap();
            best as f32 == y[i]
        })
        .count();
    assert!(
        correct as f64 / y.len() as f64 > 0.9,
        "nearest-mean accuracy {}",
        correct as f64 / y.len() as f64
    );
}

#[test]
fn flip_y_flips_about_that_fraction() {
    let base = ClassificationParams {
        n_samples: 50_000,
        n_classes: 2,
        shuffle: false,
        seed: 2,
        ..Default::default()
    };
    let clean = make_classification(&ClassificationParams { flip_y: 0.0, ..base.clone() }).unwrap();
    let noisy = make_classification(&ClassificationParams { flip_y: 0.2, ..base }).unwrap();
    let changed =
        clean.targets().iter().zip(noisy.targets()).filter(|(a, b)| a != b).count() as f64 / 50_000.0;
    // A flipped label is redrawn uniformly, so half of the flips land on the same class: ~0.1 change.
    assert!((changed - 0.1).abs() < 0.01, "changed fraction {changed}");
}

#[test]
fn make_regression_is_linear_in_its_coefficients() {
    let p = RegressionParams {
        n_samples: 500,
        n_features: 8,
        n_informative: 3,
        bias: 2.5,
        seed: 4,
        ..Default::default()
    };
    let (ds, coef) = make_regression(&p).unwrap();
    assert_eq!(coef.iter().filter(|&&c| c != 0.0).count(), 3);
    assert!(coef.iter().all(|&c| (0.0..100.0).contains(&c)));
    let pred = ds.features().mapv(f64::from).dot(&coef.mapv(f64::from)) + 2.5;
    for (p, y) in pred.iter().zip(ds.targets()) {
        assert!((p - f64::from(*y)).abs() < 1e-3 * p.abs().max(1.0), "{p} vs {y}");
    }
}

#[test]
fn make_friedman1_follows_its_formula() {
    let ds = make_friedman1(&Friedman1Params { n_samples: 300, n_features: 6, noise: 0.0, seed: 8 }).unwrap();
    for (row, y) in ds.features().rows().into_iter().zip(ds.targets()) {
        let x: Vec<f64> = row.iter().map(|&v| f64::from(v)).collect();
        assert!(x.iter().all(|v| (0.0..1.0).contains(v)));
        let want = 10.0 * (std::f64::consts::PI * x[0] * x[1]).sin()
            + 20.0 * (x[2] - 0.5).powi(2)
            + 10.0 * x[3]
            + 5.0 * x[4];
        assert!((want - f64::from(*y)).abs() < 1e-4, "{want} vs {y}");
    }
    assert!(make_friedman1(&Friedman1Params { n_features: 4, ..Default::default() }).is_err());
}

#[test]
fn bad_generator_parameters_are_clear_errors() {
    let e = make_classification(&ClassificationParams {
        n_informative: 18,
        n_redundant: 5,
        ..Default::default()
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("exceeds n_features"), "{e}");
    let e =
        make_classification(&ClassificationParams { n_informative: 1, n_classes: 3, ..Default::default() })
            .unwrap_err()
            .to_string();
    assert!(e.contains("2^n_informative"), "{e}");
    let e = make_classification(&ClassificationParams { weights: Some(vec![0.5; 5]), ..Default::default() })
        .unwrap_err()
        .to_string();
    assert!(e.contains("weights"), "{e}");
}
