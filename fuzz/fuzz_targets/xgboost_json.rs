//! XGBoost `model.json` files on arbitrary text: a model that loads is predicted on (margins and TreeSHAP
//! contributions), and saved back, which must load again.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use ndarray::Array2;
use tessera_trees::{booster_to_xgboost_json, read_xgboost_json};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(m) = read_xgboost_json(text, Path::new("fuzz.json")) else { return };
    let b = m.booster;
    if b.n_features > 256 {
        return;
    }
    let x = Array2::from_shape_fn((3, b.n_features), |(i, j)| if (i + j) % 4 == 0 { f32::NAN } else { (i * 2 + j) as f32 });
    let margins = b.predict_margin(x.view(), None);
    let _ = b.predict_contributions(x.view());
    let again = booster_to_xgboost_json(&b, None);
    let back = read_xgboost_json(&again, Path::new("again.json")).expect("a loaded model saves to a loadable file");
    if let Ok(m) = margins {
        let n = back.booster.predict_margin(x.view(), None).expect("the reloaded model predicts");
        assert_eq!(m.dim(), n.dim());
    }
});
