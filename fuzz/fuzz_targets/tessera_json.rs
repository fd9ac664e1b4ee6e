//! tessera's model files on arbitrary text: a model that loads is then predicted on (which validates it
//! again and walks every tree), so a file that loads but predicts garbage or panics is found too.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use ndarray::Array2;
use tessera_trees::{AnyModel, Model, model_from_json};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(model) = model_from_json::<AnyModel>(text, "any", Path::new("fuzz.json")) else { return };
    let d = model.n_features();
    if d > 256 {
        return;
    }
    // Rows with ordinary values, a missing value and category-like integers.
    let x = Array2::from_shape_fn((4, d), |(i, j)| match (i + j) % 5 {
        0 => f32::NAN,
        1 => (i * 3 + j) as f32,
        _ => (i as f32 - 1.5) * 0.7 + j as f32 * 0.1,
    });
    if let Ok(p) = model.predict(x.view()) {
        assert_eq!(p.len(), 4);
    }
    if let Ok(p) = model.predict_proba(x.view()) {
        assert_eq!(p.nrows(), 4);
    }
});
