//! The boosting loop, read top-down: [`fit`] checks the inputs and prepares the problem (labels, base
//! margin, bins, the row partition), then each round computes gradients, grows one tree per output,
//! updates the training and evaluation margins, and records the evaluation metrics for early stopping.

use ndarray::{ArrayView1, ArrayView2};
use rayon::prelude::*;
use tessera_tensor::SeededRng;

use super::grow::Grower;
use super::objective::{Custom, EvalMetric, Loss};
use super::params::BoosterParams;
use super::partition::RowPartition;
use super::{EvalSet, FittedBooster, GradHess};
use crate::binning::{Binned, MAX_BINS};
use crate::data::{ClassLabels, check_fit_input};
use crate::error::{Error, Result, invalid, shape};
use crate::estimator::check_predict_input;
use crate::stats::weighted_quantile;
use crate::tree::Tree;
use crate::tree::batch::rows_of;

/// A progress callback: `(round, [(eval set, metric)])` after each round.
pub type Progress<'a> = dyn FnMut(usize, &[(String, f64)]) + 'a;

/// What a fit takes besides the rows and labels: sample weights, evaluation sets (the first drives early
/// stopping and `best_iteration`), early stopping, and a progress callback.
#[derive(Default)]
pub struct FitOptions<'a> {
    /// Non-negative sample weights, one per row.
    pub weights: Option<ArrayView1<'a, f32>>,
    /// Evaluation sets, scored after every round.
    pub eval_sets: &'a [EvalSet<'a>],
    /// Stop when the first set's metric has not improved for this many rounds.
    pub early_stopping_rounds: Option<usize>,
    /// Called after every round with each set's metric.
    pub progress: Option<&'a mut Progress<'a>>,
}

/// The encoded problem: labels (class indices for classification), their classes, and the outputs.
struct Problem {
    labels: Option<ClassLabels>,
    y: Vec<f64>,
    weights: Vec<f64>,
    outputs: usize,
}

impl Problem {
    fn new(loss: &dyn Loss, y: ArrayView1<'_, f32>, weights: Vec<f64>) -> Result<Self> {
        let (labels, y): (Option<ClassLabels>, Vec<f64>) = if loss.classifies() {
            let (l, enc) = ClassLabels::fit(y)?;
            loss.check_classes(l.len())?;
            (Some(l), enc.into_iter().map(f64::from).collect())
        } else {
            loss.check_labels(y)?;
            (None, y.iter().map(|&v| f64::from(v)).collect())
        };
        let outputs = loss.outputs(labels.as_ref().map_or(1, ClassLabels::len));
        Ok(Problem { labels, y, weights, outputs })
    }

    /// The initial margin per output: from `base_score`, else estimated from the labels as XGBoost does.
    fn base_margin(&self, p: &BoosterParams, loss: &dyn Loss) -> Vec<f64> {
        match p.base_score {
            Some(b) => loss.margin_of_score(b, self.outputs),
            None => loss.base_margin(&self.y, &self.weights, self.outputs),
        }
    }
}

/// Checks the parameters that depend on the data's width.
fn check_features(p: &BoosterParams, d: usize) -> Result<()> {
    if !p.monotone_constraints.is_empty() && p.monotone_constraints.len() != d {
        return Err(invalid(
            "monotone_constraints",
            format!("none or one per feature ({d})"),
            format!("{} entries", p.monotone_constraints.len()),
        ));
    }
    Ok(())
}

/// Bins the features (weighted quantiles when the fit has weights) and lays the codes out row-major in
/// the partition; the returned bins keep only the edges and category tables growth needs.
fn bin(p: &BoosterParams, x: ArrayView2<'_, f32>, weights: Option<&[f64]>) -> Result<(Binned, RowPartition)> {
    let (n, d) = x.dim();
    let mut cols = Vec::with_capacity(n * d);
    for c in x.columns() {
        cols.extend(c.iter().copied());
    }
    let bin_weights: Option<Vec<f32>> = weights.map(|w| w.iter().map(|&v| v as f32).collect());
    if let Some(&f) = p.categorical_features.iter().find(|&&f| f >= d) {
        return Err(invalid("categorical_features", format!("feature indices below {d}"), f));
    }
    if let Some(&f) =
        p.categorical_features.iter().find(|&&f| p.monotone_constraints.get(f).is_some_and(|&c| c != 0))
    {
        return Err(invalid(
            "categorical_features/monotone_constraints",
            "no monotone constraint on a categorical feature",
            format!("feature {f} has both"),
        ));
    }
    let categorical: Vec<bool> = (0..d).map(|f| p.categorical_features.contains(&f)).collect();
    let mut bins =
        Binned::with_categorical(&cols, n, p.max_bin.min(MAX_BINS), bin_weights.as_deref(), &categorical)
            .map_err(Error::Data)?;
    drop(cols);
    let part = RowPartition::new(&bins);
    // The partition holds the codes row-major from here on; growth needs only the bin edges.
    bins.codes = Vec::new();
    Ok((bins, part))
}

fn check_eval_sets(eval_sets: &[EvalSet<'_>], d: usize) -> Result<()> {
    for (name, ex, ey) in eval_sets {
        check_predict_input(*ex, d)?;
        if ey.len() != ex.nrows() {
            return Err(shape(
                format!("labels of eval set `{name}`"),
                format!("{} (one per row)", ex.nrows()),
                ey.len(),
            ));
        }
    }
    Ok(())
}

/// The evaluation state: each set's margins and metric history, and the best round so far.
struct Evaluation<'a> {
    sets: &'a [EvalSet<'a>],
    margins: Vec<Vec<f64>>,
    history: Vec<(String, Vec<f64>)>,
    best: Option<(usize, f64)>,
}

impl<'a> Evaluation<'a> {
    fn new(sets: &'a [EvalSet<'a>], base_margin: &[f64]) -> Self {
        Evaluation {
            sets,
            margins: sets
                .iter()
                .map(|(_, ex, _)| (0..ex.nrows()).flat_map(|_| base_margin.iter().copied()).collect())
                .collect(),
            history: sets.iter().map(|(nm, ..)| (nm.to_string(), Vec::new())).collect(),
            best: None,
        }
    }

    /// Adds tree `tree` (output `k` of `outputs`) to every set's margins.
    fn add_tree(&mut self, tree: &Tree, k: usize, outputs: usize) {
        for ((_, ex, _), em) in self.sets.iter().zip(self.margins.iter_mut()) {
            for (i, row) in rows_of(*ex).enumerate() {
                em[i * outputs + k] += f64::from(tree.node_values(tree.leaf_index(&row))[0]);
            }
        }
    }

    /// Scores round `round`, reports it, and says whether early stopping ends the fit.
    fn end_round(
        &mut self,
        p: &BoosterParams,
        loss: &dyn Loss,
        problem: &Problem,
        round: usize,
        options: &mut FitOptions<'_>,
    ) -> Result<bool> {
        let mut report = |round: usize, metrics: &[(String, f64)]| {
            if let Some(progress) = options.progress.as_mut() {
                progress(round, metrics);
            }
        };
        if self.sets.is_empty() {
            report(round, &[]);
            return Ok(false);
        }
        let mut round_metrics = Vec::new();
        for (((name, _, ey), em), hist) in self.sets.iter().zip(&self.margins).zip(self.history.iter_mut()) {
            let (outputs, labels) = (problem.outputs, problem.labels.as_ref());
            let m = match p.eval_metric {
                None => loss.default_metric(em, *ey, outputs, labels)?,
                Some(metric) => metric.value(p.objective, em, *ey, outputs, labels)?,
            };
            hist.1.push(m);
            round_metrics.push((name.to_string(), m));
        }
        report(round, &round_metrics);
        let first = round_metrics[0].1;
        let higher_is_better = p.eval_metric.is_some_and(EvalMetric::higher_is_better);
        if self.best.is_none_or(|(_, b)| if higher_is_better { first > b } else { first < b }) {
            self.best = Some((round, first));
        }
        Ok(
            matches!((options.early_stopping_rounds, self.best), (Some(patience), Some((b, _))) if round >= b + patience),
        )
    }
}

/// Fits a booster with (unchecked) parameters `params`; `custom` supplies the gradients of a custom
/// objective.
pub(super) fn fit(
    params: &BoosterParams,
    x: ArrayView2<'_, f32>,
    y: ArrayView1<'_, f32>,
    mut options: FitOptions<'_>,
    custom: Option<&GradHess<'_>>,
) -> Result<FittedBooster> {
    let params = params.check()?;
    let p = &params;
    let w = options.weights;
    let weights: Vec<f64> = check_fit_input(x, y, w)?.into_iter().map(f64::from).collect();
    let (n, d) = x.dim();
    check_features(p, d)?;
    let built_in = p.objective.loss(p.max_delta_step);
    let user;
    let loss: &dyn Loss = match custom {
        Some(grad_hess) => {
            user = Custom { grad_hess };
            &user
        }
        None => built_in.as_ref(),
    };
    let problem = Problem::new(loss, y, weights)?;
    let base_margin = problem.base_margin(p, loss);
    let (bins, mut part) = bin(p, x, w.map(|_| problem.weights.as_slice()))?;
    let outputs = problem.outputs;
    let mut margin: Vec<f64> = (0..n).flat_map(|_| base_margin.iter().copied()).collect();
    let mut eval = Evaluation::new(options.eval_sets, &base_margin);
    check_eval_sets(options.eval_sets, d)?;
    let mut rng = SeededRng::new(p.seed);
    let mut trees = Vec::new();
    let mut split_stats = vec![[0.0; 3]; d];
    for round in 0..p.n_estimators {
        // Gradient and hessian pairs per output, scaled by the sample weights. This and each tree's
        // growth run on a pool thread: their many short parallel steps then start from inside the
        // pool instead of each waking it from outside (10-20% of the fit on 2 cores).
        let gh_by_output =
            rayon::scope(|_| loss.pairs(&margin, &problem.y, &problem.weights, problem.outputs))?;
        let sample: Option<Vec<u32>> =
            (p.subsample < 1.0).then(|| (0..n as u32).filter(|_| rng.uniform_f64() < p.subsample).collect());
        let mut features: Vec<usize> = (0..d).collect();
        if p.colsample_bytree < 1.0 {
            rng.shuffle(&mut features);
            features.truncate(((p.colsample_bytree * d as f64).round() as usize).max(1));
            features.sort_unstable();
        }
        for (k, gh) in gh_by_output.iter().enumerate() {
            let tree = rayon::scope(|_| {
                let mut grower =
                    Grower { p, bins: &bins, part: &mut part, split_stats: &mut split_stats, rng: &mut rng };
                let (mut tree, leaves) = grower.grow(gh, sample.as_deref(), &features);
                if loss.refits_leaves() {
                    // XGBoost re-fits each leaf to the median residual of its rows.
                    for &(leaf, range, depth) in &leaves {
                        let mut res: Vec<(f64, f64)> = part
                            .ids(range, depth)
                            .iter()
                            .map(|&r| {
                                (problem.y[r as usize] - margin[r as usize], problem.weights[r as usize])
                            })
                            .collect();
                        tree.set_leaf_value(
                            leaf,
                            (weighted_quantile(&mut res, 0.5) * p.learning_rate) as f32,
                        );
                    }
                }
                // Rows of the sample already know their leaf; rows left out of it walk the tree.
                let by_leaf: Vec<(&[u32], f64)> = leaves
                    .iter()
                    .map(|&(leaf, range, depth)| {
                        (part.ids(range, depth), f64::from(tree.node_values(leaf)[0]))
                    })
                    .collect();
                add_leaf_values(&mut margin, outputs, k, &by_leaf);
                tree
            });
            if let Some(sample) = &sample {
                let mut in_sample = vec![false; n];
                for &r in sample {
                    in_sample[r as usize] = true;
                }
                for (i, row) in rows_of(x).enumerate().filter(|(i, _)| !in_sample[*i]) {
                    margin[i * outputs + k] += f64::from(tree.node_values(tree.leaf_index(&row))[0]);
                }
            }
            tree.check_finite(&format!("round {round}, output {k}"))?;
            eval.add_tree(&tree, k, outputs);
            trees.push(tree);
        }
        if let Some(i) = margin.iter().position(|m| !m.is_finite()) {
            return Err(Error::Data(format!(
                "round {round}: the margin of row {} became {} (the gradients overflowed; lower learning_rate \
                 or rescale the target)",
                i / outputs,
                margin[i]
            )));
        }
        if eval.end_round(p, loss, &problem, round, &mut options)? {
            break;
        }
    }
    Ok(FittedBooster {
        objective: p.objective,
        base_margin: base_margin.into_iter().map(|v| v as f32).collect(),
        trees,
        n_outputs: outputs,
        labels: problem.labels,
        n_features: d,
        best_iteration: eval.best.map(|b| b.0),
        best_score: eval.best.map(|b| b.1),
        use_best: options.early_stopping_rounds.is_some() && eval.best.is_some(),
        eval_history: eval.history,
        split_stats,
    })
}

/// Adds each leaf's value to output `k` of the margins of its rows (`by_leaf`: ascending row ids and the
/// value), blocks of rows in parallel: a leaf's rows in a block are found by binary search.
fn add_leaf_values(margin: &mut [f64], outputs: usize, k: usize, by_leaf: &[(&[u32], f64)]) {
    const BLOCK: usize = 16_384;
    margin.par_chunks_mut(BLOCK * outputs).enumerate().for_each(|(block, out)| {
        let lo = block * BLOCK;
        let hi = lo + out.len() / outputs;
        for &(ids, value) in by_leaf {
            let a = ids.partition_point(|&r| (r as usize) < lo);
            let b = ids.partition_point(|&r| (r as usize) < hi);
            for &r in &ids[a..b] {
                out[(r as usize - lo) * outputs + k] += value;
            }
        }
    });
}
