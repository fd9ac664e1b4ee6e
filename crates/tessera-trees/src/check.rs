//! The checked-parameter vocabulary: each rule a hyperparameter can obey, written once. Every params type
//! has one `check` step, run once before fitting, that applies these rules and returns a validated form
//! (so the fitting code never re-checks, and the same parameter is refused with the same message by every
//! estimator).

use crate::error::{Result, invalid};

/// A count of at least `min` (`n_estimators >= 1`, `min_samples_split >= 2`, ...).
pub(crate) fn at_least(name: &str, value: usize, min: usize) -> Result<usize> {
    if value < min {
        return Err(invalid(name, format!("an integer >= {min}"), value));
    }
    Ok(value)
}

/// The most ensemble members or boosting rounds a model may have (a million trees: far past any use, and
/// small enough that the model's vectors can be sized for it).
pub const MAX_ESTIMATORS: usize = 1_000_000;

/// The number of ensemble members or boosting rounds: from 1 to [`MAX_ESTIMATORS`].
pub(crate) fn n_estimators(value: usize) -> Result<usize> {
    if value > MAX_ESTIMATORS {
        return Err(invalid("n_estimators", format!("at most {MAX_ESTIMATORS}"), value));
    }
    at_least("n_estimators", value, 1)
}

/// A learning rate (shrinkage): finite and > 0.
pub(crate) fn learning_rate(value: f64) -> Result<f64> {
    positive("learning_rate", value)
}

/// A finite number > 0.
pub(crate) fn positive(name: &str, value: f64) -> Result<f64> {
    if !(value > 0.0 && value.is_finite()) {
        return Err(invalid(name, "a finite number > 0", value));
    }
    Ok(value)
}

/// A finite number >= 0 (regularisation, pruning, minimum decreases).
pub(crate) fn non_negative(name: &str, value: f64) -> Result<f64> {
    if !(value >= 0.0 && value.is_finite()) {
        return Err(invalid(name, "a finite number >= 0", value));
    }
    Ok(value)
}

/// A fraction in (0, 1] (subsampling rates).
pub(crate) fn fraction(name: &str, value: f64) -> Result<f64> {
    if !(value > 0.0 && value <= 1.0) {
        return Err(invalid(name, "a fraction in (0, 1]", value));
    }
    Ok(value)
}

/// A probability strictly inside (0, 1) (quantiles).
pub(crate) fn open_unit(name: &str, value: f64) -> Result<f64> {
    if !(value > 0.0 && value < 1.0) {
        return Err(invalid(name, "a number in (0, 1)", value));
    }
    Ok(value)
}

/// An optional depth: `None` (unlimited) or at least 1.
pub(crate) fn depth(name: &str, value: Option<usize>) -> Result<Option<usize>> {
    value.map(|d| at_least(name, d, 1)).transpose()
}

/// An out-of-bag score needs bootstrap samples (the rows left out of each).
pub(crate) fn oob_needs_bootstrap(oob_score: bool, bootstrap: bool) -> Result<()> {
    if oob_score && !bootstrap {
        return Err(invalid("oob_score", "false unless bootstrap is true", true));
    }
    Ok(())
}

/// Parses `s` as one of `choices` (name, value), or names them all in the error.
pub(crate) fn choice<T: Copy>(name: &str, s: &str, choices: &[(&str, T)]) -> Result<T> {
    let wanted = s.trim();
    choices.iter().find(|(n, _)| n.eq_ignore_ascii_case(wanted)).map(|(_, v)| *v).ok_or_else(|| {
        let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
        invalid(name, format!("one of {}", names.join(", ")), format!("`{s}`"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    /// Each rule refuses once, naming the parameter, what it expects and what it found.
    #[test]
    fn each_rule_refuses_with_its_message() {
        let cases: Vec<(Result<()>, &str)> = vec![
            (
                n_estimators(0).map(drop),
                "invalid parameter `n_estimators`: expected an integer >= 1, found 0",
            ),
            (
                at_least("min_samples_split", 1, 2).map(drop),
                "invalid parameter `min_samples_split`: expected an integer >= 2, found 1",
            ),
            (
                learning_rate(f64::INFINITY).map(drop),
                "invalid parameter `learning_rate`: expected a finite number > 0, found inf",
            ),
            (
                learning_rate(0.0).map(drop),
                "invalid parameter `learning_rate`: expected a finite number > 0, found 0",
            ),
            (
                non_negative("lambda", -1.0).map(drop),
                "invalid parameter `lambda`: expected a finite number >= 0, found -1",
            ),
            (
                non_negative("lambda", f64::NAN).map(drop),
                "invalid parameter `lambda`: expected a finite number >= 0, found NaN",
            ),
            (
                fraction("subsample", 1.5).map(drop),
                "invalid parameter `subsample`: expected a fraction in (0, 1], found 1.5",
            ),
            (
                fraction("subsample", 0.0).map(drop),
                "invalid parameter `subsample`: expected a fraction in (0, 1], found 0",
            ),
            (
                open_unit("alpha", 1.0).map(drop),
                "invalid parameter `alpha`: expected a number in (0, 1), found 1",
            ),
            (
                depth("max_depth", Some(0)).map(drop),
                "invalid parameter `max_depth`: expected an integer >= 1, found 0",
            ),
            (
                choice("criterion", "gin", &[("gini", 0), ("entropy", 1)]).map(drop),
                "invalid parameter `criterion`: expected one of gini, entropy, found `gin`",
            ),
        ];
        for (result, message) in cases {
            let err = result.unwrap_err();
            assert!(matches!(err, Error::InvalidParameter { .. }), "{err:?}");
            assert_eq!(err.to_string(), message);
        }
        assert_eq!(fraction("subsample", 1.0).unwrap(), 1.0);
        assert_eq!(depth("max_depth", None).unwrap(), None);
        assert_eq!(choice("criterion", " Entropy ", &[("gini", 0), ("entropy", 1)]).unwrap(), 1);
    }
}
