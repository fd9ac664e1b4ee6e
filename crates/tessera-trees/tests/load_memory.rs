//! Loading a model costs memory in proportion to the model, not to whatever else a file holds: junk fields
//! are skipped without being built. Measured with a counting allocator (this test binary's own), as the peak
//! bytes allocated while loading, against the text's size. Parsing the junk into a JSON tree, as the loaders
//! once did, took about 44 times the file's size.

#![allow(unsafe_code)] // The counting allocator below: a GlobalAlloc forwarding to the system allocator.
#![allow(clippy::unwrap_used)] // Tests assert by unwrapping.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use tessera_trees::{AnyModel, model_from_json, read_xgboost_json};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// One measurement at a time (the test harness runs tests on several threads).
static SERIAL: Mutex<()> = Mutex::new(());

// SAFETY: every call forwards to the system allocator with the caller's layout; the counters are atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The peak bytes allocated, beyond what was live before, while `f` runs.
fn peak_during(f: impl FnOnce()) -> usize {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    f();
    PEAK.load(Ordering::Relaxed) - base
}

/// `n` copies of `[0],` as a JSON array: about `4 n` bytes of text that a JSON tree makes ~40x larger.
fn junk(n: usize) -> String {
    format!("[{}[0]]", "[0],".repeat(n))
}

#[test]
fn junk_in_an_xgboost_file_is_skipped_not_built() {
    let _serial = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let text = format!("{{\"learner\":{{\"junk\":{}}}}}", junk(2_000_000));
    let peak = peak_during(|| {
        let e = read_xgboost_json(&text, Path::new("junk.json")).unwrap_err();
        assert!(e.to_string().contains("objective"), "{e}");
    });
    assert!(peak < text.len(), "loading {} bytes of junk peaked at {peak} bytes", text.len());
    // The measure tells the two apart: the same text as a JSON tree, as the loader once built it.
    let tree = peak_during(|| {
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(v.is_object());
    });
    assert!(tree > 10 * text.len(), "a JSON tree of the junk peaked at only {tree} bytes");
}

#[test]
fn junk_beside_a_tessera_model_is_skipped_not_built() {
    let _serial = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let model = include_str!("fixtures/saved/tree_classifier_exact.json");
    let envelope = model.trim_end().strip_suffix('}').unwrap();
    let text = format!("{envelope},\"junk\":{}}}", junk(2_000_000));
    let peak = peak_during(|| {
        model_from_json::<AnyModel>(&text, "any", Path::new("junk.json")).unwrap();
    });
    assert!(peak < text.len(), "loading {} bytes (mostly junk) peaked at {peak} bytes", text.len());
}
