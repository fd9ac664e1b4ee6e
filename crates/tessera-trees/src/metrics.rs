//! Evaluation metrics, defined as scikit-learn defines them.

use ndarray::{ArrayView1, ArrayView2};

use crate::error::{Error, Result, shape};

fn same_len(a: usize, b: usize) -> Result<()> {
    if a != b || a == 0 {
        return Err(shape("metric inputs", "two equal, non-zero lengths", format!("{a} and {b}")));
    }
    Ok(())
}

/// Fraction of exactly equal labels.
pub fn accuracy(y_true: ArrayView1<'_, f32>, y_pred: ArrayView1<'_, f32>) -> Result<f64> {
    same_len(y_true.len(), y_pred.len())?;
    Ok(y_true.iter().zip(y_pred).filter(|(a, b)| a == b).count() as f64 / y_true.len() as f64)
}

/// Mean cross-entropy of predicted class probabilities (`proba` columns follow `classes`), with
/// probabilities clipped to `[1e-15, 1 - 1e-15]` and rows renormalized.
pub fn log_loss(y_true: ArrayView1<'_, f32>, proba: ArrayView2<'_, f32>, classes: &[f32]) -> Result<f64> {
    same_len(y_true.len(), proba.nrows())?;
    if proba.ncols() != classes.len() {
        return Err(shape(
            "probability columns",
            format!("{} (one per class)", classes.len()),
            proba.ncols(),
        ));
    }
    let eps = 1e-15;
    let mut total = 0.0;
    for (y, row) in y_true.iter().zip(proba.outer_iter()) {
        let k = classes
            .iter()
            .position(|c| c == y)
            .ok_or_else(|| Error::Data(format!("label {y} is not one of the model's classes")))?;
        let sum: f64 = row.iter().map(|&p| f64::from(p).clamp(eps, 1.0 - eps)).sum();
        total -= (f64::from(row[k]).clamp(eps, 1.0 - eps) / sum).ln();
    }
    Ok(total / y_true.len() as f64)
}

/// Area under the ROC curve for binary labels (`positive` is the positive class), ties averaged
/// (the Mann-Whitney statistic).
pub fn roc_auc(y_true: ArrayView1<'_, f32>, score: ArrayView1<'_, f32>, positive: f32) -> Result<f64> {
    same_len(y_true.len(), score.len())?;
    let mut idx: Vec<usize> = (0..score.len()).collect();
    idx.sort_by(|&a, &b| score[a].total_cmp(&score[b]));
    let n_pos = y_true.iter().filter(|&&y| y == positive).count();
    let n_neg = y_true.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return Err(Error::Data("ROC AUC needs both classes in y_true".into()));
    }
    // Average ranks over ties.
    let mut rank_sum_pos = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && score[idx[j + 1]] == score[idx[i]] {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum_pos += avg_rank * idx[i..=j].iter().filter(|&&k| y_true[k] == positive).count() as f64;
        i = j + 1;
    }
    Ok((rank_sum_pos - (n_pos * (n_pos + 1)) as f64 / 2.0) / (n_pos * n_neg) as f64)
}

/// Root mean squared error.
pub fn rmse(y_true: ArrayView1<'_, f32>, y_pred: ArrayView1<'_, f32>) -> Result<f64> {
    same_len(y_true.len(), y_pred.len())?;
    let mse = y_true.iter().zip(y_pred).map(|(a, b)| (f64::from(*a) - f64::from(*b)).powi(2)).sum::<f64>()
        / y_true.len() as f64;
    Ok(mse.sqrt())
}

/// Mean absolute error.
pub fn mae(y_true: ArrayView1<'_, f32>, y_pred: ArrayView1<'_, f32>) -> Result<f64> {
    same_len(y_true.len(), y_pred.len())?;
    Ok(y_true.iter().zip(y_pred).map(|(a, b)| (f64::from(*a) - f64::from(*b)).abs()).sum::<f64>()
        / y_true.len() as f64)
}

/// Coefficient of determination `1 - SS_res / SS_tot` (1 when perfect; 0 when SS_tot is 0 and the
/// predictions are not perfect, as scikit-learn).
pub fn r2(y_true: ArrayView1<'_, f32>, y_pred: ArrayView1<'_, f32>) -> Result<f64> {
    same_len(y_true.len(), y_pred.len())?;
    let mean = y_true.iter().map(|&v| f64::from(v)).sum::<f64>() / y_true.len() as f64;
    let ss_tot: f64 = y_true.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum();
    let ss_res: f64 = y_true.iter().zip(y_pred).map(|(a, b)| (f64::from(*a) - f64::from(*b)).powi(2)).sum();
    Ok(if ss_tot == 0.0 { if ss_res == 0.0 { 1.0 } else { 0.0 } } else { 1.0 - ss_res / ss_tot })
}

/// Confusion matrix: entry `[i][j]` counts rows of true class `classes[i]` predicted as `classes[j]`.
pub fn confusion_matrix(
    y_true: ArrayView1<'_, f32>,
    y_pred: ArrayView1<'_, f32>,
    classes: &[f32],
) -> Result<Vec<Vec<usize>>> {
    same_len(y_true.len(), y_pred.len())?;
    let mut m = vec![vec![0usize; classes.len()]; classes.len()];
    let find = |v: f32| classes.iter().position(|c| *c == v);
    for (t, p) in y_true.iter().zip(y_pred) {
        if let (Some(i), Some(j)) = (find(*t), find(*p)) {
            m[i][j] += 1;
        }
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn metrics_on_hand_computed_cases() {
        let y = array![0.0f32, 0.0, 1.0, 1.0];
        assert_eq!(accuracy(y.view(), array![0.0f32, 1.0, 1.0, 1.0].view()).unwrap(), 0.75);
        // scikit-learn: roc_auc_score([0,0,1,1], [0.1,0.4,0.35,0.8]) = 0.75
        assert!(
            (roc_auc(y.view(), array![0.1f32, 0.4, 0.35, 0.8].view(), 1.0).unwrap() - 0.75).abs() < 1e-12
        );
        assert!(
            (rmse(array![1.0f32, 2.0].view(), array![1.0f32, 4.0].view()).unwrap() - 2f64.sqrt()).abs()
                < 1e-12
        );
        assert!((mae(array![1.0f32, 2.0].view(), array![1.0f32, 4.0].view()).unwrap() - 1.0).abs() < 1e-12);
        // scikit-learn: r2_score([3,-0.5,2,7],[2.5,0.0,2,8]) = 0.9486081370449679
        let r = r2(array![3.0f32, -0.5, 2.0, 7.0].view(), array![2.5f32, 0.0, 2.0, 8.0].view()).unwrap();
        assert!((r - 0.948_608_137_044_967_9).abs() < 1e-9);
        // scikit-learn: log_loss([0,1],[[0.9,0.1],[0.2,0.8]]) = 0.164252033486018
        let p = array![[0.9f32, 0.1], [0.2, 0.8]];
        let l = log_loss(array![0.0f32, 1.0].view(), p.view(), &[0.0, 1.0]).unwrap();
        assert!((l - 0.164_252_033_486_018).abs() < 1e-6);
        let cm = confusion_matrix(y.view(), array![0.0f32, 1.0, 1.0, 1.0].view(), &[0.0, 1.0]).unwrap();
        assert_eq!(cm, vec![vec![1, 1], vec![0, 2]]);
    }
}
