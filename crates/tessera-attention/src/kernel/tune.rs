//! Run-time kernel choice by measurement.
//!
//! Which register blocking and instruction set of the matrix kernel ([`KernelChoice`]) runs
//! fastest differs between CPUs: Zen 4 executes 512-bit operations on 256-bit units, Zen 5 and
//! recent Intel cores do not, and cache sizes differ. On first use for a key (element type, padded
//! head dimension, causal or not), every candidate the CPU runs times a short forward and backward
//! on a synthetic problem, interleaved over [`ROUNDS`] rounds; the fastest (best of its rounds)
//! is kept for the rest of the process. Every candidate gives the same bits, so the choice
//! changes only the speed, never the results.
//!
//! `TESSERA_ATTENTION_TUNE` overrides it: unset or `auto` calibrates; `off` takes the default
//! order's first kernel without timing (AVX-512 4x64 where the CPU has AVX-512); a kernel name
//! (`avx512-4x64`, `avx512-6x64`, `avx2-6x16`, `avx2-4x16`, `portable`) pins that kernel where
//! the CPU runs it (the default otherwise). `TESSERA_ATTENTION_TUNE_FILE=PATH` keeps choices on
//! disk between processes, keyed by the CPU's model name as well.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::backward::{Saved, backward};
use super::forward::forward;
use super::gemm::KernelChoice;
use super::{Element, Problem, RowLayout, View};
use crate::options::AttentionOptions;

/// Rounds each candidate is timed (interleaved with the others; the best round counts).
pub(crate) const ROUNDS: usize = 3;

/// Sequence length and heads of the calibration problem: a few milliseconds per candidate.
const CALIBRATION_SEQ: usize = 256;
const CALIBRATION_HEADS: usize = 2;

/// What a choice is made for.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) struct Key {
    pub dtype: &'static str,
    pub dim_padded: usize,
    pub causal: bool,
}

/// What `TESSERA_ATTENTION_TUNE` asks for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Setting {
    Calibrate,
    Default,
    Pinned(KernelChoice),
}

impl Setting {
    /// Reads a `TESSERA_ATTENTION_TUNE` value; an unknown value calibrates (as unset).
    pub(crate) fn parse(value: Option<&str>) -> Setting {
        match value.map(str::trim) {
            Some("off") => Setting::Default,
            Some(name) => KernelChoice::ALL
                .into_iter()
                .find(|c| c.name() == name)
                .map_or(Setting::Calibrate, Setting::Pinned),
            None => Setting::Calibrate,
        }
    }
}

/// The kernel for `setting` among `available` (preferred first, never empty), calling
/// `calibrate` only when a measurement is needed.
pub(crate) fn resolve(
    setting: Setting,
    available: &[KernelChoice],
    calibrate: impl FnOnce() -> KernelChoice,
) -> KernelChoice {
    let default = available.first().copied().unwrap_or(KernelChoice::Portable);
    match setting {
        _ if available.len() <= 1 => default,
        Setting::Default => default,
        Setting::Pinned(c) if available.contains(&c) => c,
        Setting::Pinned(_) => default,
        Setting::Calibrate => calibrate(),
    }
}

/// Times every candidate `rounds` times, interleaved (so drift touches all alike), and returns
/// the one with the fastest single round; ties go to the earlier (preferred) candidate.
pub(crate) fn pick(
    candidates: &[KernelChoice],
    rounds: usize,
    mut time: impl FnMut(KernelChoice) -> Duration,
) -> KernelChoice {
    let mut best = vec![Duration::MAX; candidates.len()];
    for _ in 0..rounds.max(1) {
        for (slot, &c) in best.iter_mut().zip(candidates) {
            *slot = (*slot).min(time(c));
        }
    }
    let mut winner = 0;
    for (i, t) in best.iter().enumerate() {
        if *t < best[winner] {
            winner = i;
        }
    }
    candidates.get(winner).copied().unwrap_or(KernelChoice::Portable)
}

/// The kernel for `key`: cached, else resolved from the environment (calibrating with element
/// type `T` if asked).
pub(crate) fn choice<T: Element>(key: Key) -> KernelChoice {
    static CACHE: OnceLock<Mutex<HashMap<Key, KernelChoice>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(c) = cache.lock().ok().and_then(|m| m.get(&key).copied()) {
        return c;
    }
    let available = KernelChoice::available();
    let setting = Setting::parse(std::env::var("TESSERA_ATTENTION_TUNE").ok().as_deref());
    let file = std::env::var_os("TESSERA_ATTENTION_TUNE_FILE");
    let chosen = resolve(setting, &available, || {
        let stored = file.as_deref().and_then(|f| disk::lookup(Path::new(f), key, &available));
        stored.unwrap_or_else(|| {
            let c = pick(&available, ROUNDS, |c| time_candidate::<T>(key, c));
            if let Some(f) = &file {
                disk::store(Path::new(f), key, c);
            }
            c
        })
    });
    if let Ok(mut m) = cache.lock() {
        m.insert(key, chosen);
    }
    chosen
}

/// One forward and backward of the calibration problem with `kernel`.
fn time_candidate<T: Element>(key: Key, kernel: KernelChoice) -> Duration {
    let (h, l, d) = (CALIBRATION_HEADS, CALIBRATION_SEQ, key.dim_padded);
    let n = h * l * d;
    // A fixed pseudo-random fill: the timing must not depend on the values.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        T::from_f32(((state >> 40) as f32 / (1u64 << 24) as f32) - 0.5)
    };
    let inputs: Vec<Vec<T>> = (0..4).map(|_| (0..n).map(|_| next()).collect()).collect();
    let options = AttentionOptions { causal: key.causal, ..AttentionOptions::default() };
    let p = Problem::single(&options, h, (l, l), d, 1.0 / (d as f32).sqrt(), kernel);
    let layout = RowLayout::Dense { heads: h, seq: l, dim: d };
    let view = |data| View { data, layout };
    let start = Instant::now();
    let mut out = vec![T::from_f32(0.0); n];
    let mut lse = vec![0f32; h * l];
    forward(&p, view(&inputs[0]), view(&inputs[1]), view(&inputs[2]), &mut out, &mut lse);
    let saved = Saved {
        q: view(&inputs[0]),
        k: view(&inputs[1]),
        v: view(&inputs[2]),
        o: view(&out),
        d_o: view(&inputs[3]),
        lse: &lse,
    };
    let (mut dq, mut dk, mut dv) =
        (vec![T::from_f32(0.0); n], vec![T::from_f32(0.0); n], vec![T::from_f32(0.0); n]);
    backward(&p, &saved, &mut dq, &mut dk, &mut dv);
    start.elapsed()
}

/// The on-disk cache: one line per choice, `cpu<TAB>dtype<TAB>dim_padded<TAB>causal<TAB>kernel`.
/// It is only a cache: unreadable files and malformed lines are ignored (the choice is then
/// measured again), and writes go to a temporary file renamed over the old one.
mod disk {
    use std::path::Path;

    use super::Key;
    use crate::kernel::gemm::KernelChoice;

    /// The CPU's model name, as /proc/cpuinfo gives it (empty elsewhere).
    fn cpu() -> String {
        std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
            })
            .unwrap_or_default()
            .replace('\t', " ")
    }

    fn key_fields(key: Key) -> String {
        format!("{}\t{}\t{}\t{}", cpu(), key.dtype, key.dim_padded, key.causal)
    }

    /// Bytes read at most: the file holds a few short lines.
    const MAX_BYTES: u64 = 1 << 20;

    fn read(path: &Path) -> String {
        use std::io::Read;
        let mut text = String::new();
        // Checked before opening: opening a FIFO for reading would wait for a writer.
        if std::fs::metadata(path).is_ok_and(|m| m.is_file())
            && let Ok(f) = std::fs::File::open(path)
        {
            let _ = f.take(MAX_BYTES).read_to_string(&mut text);
        }
        text
    }

    pub(super) fn lookup(path: &Path, key: Key, available: &[KernelChoice]) -> Option<KernelChoice> {
        let fields = key_fields(key);
        read(path).lines().rev().find_map(|line| {
            let (k, name) = line.rsplit_once('\t')?;
            (k == fields).then(|| available.iter().copied().find(|c| c.name() == name)).flatten()
        })
    }

    pub(super) fn store(path: &Path, key: Key, choice: KernelChoice) {
        let fields = key_fields(key);
        let mut text: String = read(path)
            .lines()
            .filter(|l| l.rsplit_once('\t').is_some_and(|(k, _)| k != fields))
            .map(|l| format!("{l}\n"))
            .collect();
        text.push_str(&format!("{fields}\t{}\n", choice.name()));
        // Only a regular file (or none) is replaced: not `-`, a device or a directory.
        let is_file_or_absent = std::fs::metadata(path).map_or(true, |m| m.is_file());
        if is_file_or_absent && path != Path::new("-") {
            let _ = tessera_tensor::write_atomic(path, |w| w.write_all(text.as_bytes()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [KernelChoice; 4] = [
        KernelChoice::Avx512Rows4x64,
        KernelChoice::Avx512Rows6x64,
        KernelChoice::Avx2Rows6x16,
        KernelChoice::Avx2Rows4x16,
    ];

    fn timings(ms: [u64; 4]) -> impl FnMut(KernelChoice) -> Duration {
        move |c| Duration::from_millis(ms[ALL.iter().position(|&a| a == c).unwrap_or(0)])
    }

    #[test]
    fn calibration_picks_the_fastest_measured_kernel() {
        // A Zen 5-like machine: full-width AVX-512 wins.
        assert_eq!(pick(&ALL, ROUNDS, timings([10, 12, 19, 22])), KernelChoice::Avx512Rows4x64);
        // A machine where 256-bit code is as fast and the 6x16 blocking a little faster.
        assert_eq!(pick(&ALL, ROUNDS, timings([10, 12, 9, 11])), KernelChoice::Avx2Rows6x16);
        assert_eq!(pick(&ALL, ROUNDS, timings([10, 8, 19, 22])), KernelChoice::Avx512Rows6x64);
        // Ties keep the preferred (earlier) kernel.
        assert_eq!(pick(&ALL, ROUNDS, timings([10, 10, 10, 10])), KernelChoice::Avx512Rows4x64);
    }

    #[test]
    fn the_best_round_counts() {
        // The first candidate is slow once (drift), fast otherwise; the second steady.
        let mut calls = 0;
        let choice = pick(&ALL[..2], ROUNDS, |c| {
            calls += 1;
            match (c, calls) {
                (KernelChoice::Avx512Rows4x64, 1) => Duration::from_millis(50),
                (KernelChoice::Avx512Rows4x64, _) => Duration::from_millis(9),
                _ => Duration::from_millis(10),
            }
        });
        assert_eq!(choice, KernelChoice::Avx512Rows4x64);
        assert_eq!(calls, 2 * ROUNDS);
    }

    #[test]
    fn settings_pin_skip_or_calibrate() {
        assert_eq!(Setting::parse(None), Setting::Calibrate);
        assert_eq!(Setting::parse(Some("auto")), Setting::Calibrate);
        assert_eq!(Setting::parse(Some("off")), Setting::Default);
        assert_eq!(Setting::parse(Some("avx2-6x16")), Setting::Pinned(KernelChoice::Avx2Rows6x16));
        let measured = || KernelChoice::Avx2Rows4x16;
        assert_eq!(resolve(Setting::Calibrate, &ALL, measured), KernelChoice::Avx2Rows4x16);
        assert_eq!(resolve(Setting::Default, &ALL, || unreachable!()), KernelChoice::Avx512Rows4x64);
        let pinned = Setting::Pinned(KernelChoice::Avx512Rows6x64);
        assert_eq!(resolve(pinned, &ALL, || unreachable!()), KernelChoice::Avx512Rows6x64);
        // A pin the CPU cannot run falls back to the default; one kernel needs no measurement.
        assert_eq!(resolve(pinned, &ALL[2..], || unreachable!()), KernelChoice::Avx2Rows6x16);
        assert_eq!(
            resolve(Setting::Calibrate, &[KernelChoice::Portable], || unreachable!()),
            KernelChoice::Portable
        );
    }

    #[test]
    fn every_available_kernel_gives_the_same_bits() {
        let run = |kernel| {
            let key = Key { dtype: "f32", dim_padded: 32, causal: true };
            let _ = time_candidate::<f32>(key, kernel);
            let (h, l, d) = (1, 100, 32);
            let data: Vec<f32> = (0..h * l * d).map(|i| ((i * 37 % 101) as f32 - 50.0) / 40.0).collect();
            let options = AttentionOptions::causal();
            let p = Problem::single(&options, h, (l, l), d, 0.2, kernel);
            let view = View { data: &data, layout: RowLayout::Dense { heads: h, seq: l, dim: d } };
            let (mut out, mut lse) = (vec![0f32; data.len()], vec![0f32; l]);
            forward(&p, view, view, view, &mut out, &mut lse);
            let saved = Saved { q: view, k: view, v: view, o: view, d_o: view, lse: &lse };
            let mut grads = vec![vec![0f32; data.len()]; 3];
            let [dq, dk, dv] = &mut grads[..] else { return (out, grads.clone()) };
            backward(&p, &saved, dq, dk, dv);
            (out, grads)
        };
        let available = KernelChoice::available();
        let first = run(available[0]);
        for &c in &available[1..] {
            assert!(run(c) == first, "{} differs from {}", c.name(), available[0].name());
        }
    }

    #[test]
    fn the_disk_cache_keeps_choices_per_key() {
        let dir = std::env::temp_dir().join(format!("tessera-tune-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("tune.tsv");
        let (a, b) = (
            Key { dtype: "f32", dim_padded: 64, causal: false },
            Key { dtype: "f32", dim_padded: 64, causal: true },
        );
        assert_eq!(disk::lookup(&path, a, &ALL), None);
        disk::store(&path, a, KernelChoice::Avx2Rows6x16);
        disk::store(&path, b, KernelChoice::Avx512Rows6x64);
        disk::store(&path, a, KernelChoice::Avx512Rows4x64);
        assert_eq!(disk::lookup(&path, a, &ALL), Some(KernelChoice::Avx512Rows4x64));
        assert_eq!(disk::lookup(&path, b, &ALL), Some(KernelChoice::Avx512Rows6x64));
        // A stored kernel this CPU cannot run is ignored.
        assert_eq!(disk::lookup(&path, b, &ALL[2..]), None);
        // Garbage is ignored, not trusted.
        let _ = std::fs::write(&path, "\u{0}\t\t\nnot a line\n");
        assert_eq!(disk::lookup(&path, a, &ALL), None);
        // A directory in its place is left alone.
        assert_eq!(disk::lookup(&dir, a, &ALL), None);
        disk::store(&dir, a, KernelChoice::Portable);
        assert!(dir.is_dir());
        // So is a FIFO: neither read (which would wait for a writer) nor replaced.
        let fifo = dir.join("fifo");
        if std::process::Command::new("mkfifo").arg(&fifo).status().is_ok_and(|s| s.success()) {
            assert_eq!(disk::lookup(&fifo, a, &ALL), None);
            disk::store(&fifo, a, KernelChoice::Portable);
            assert!(std::fs::symlink_metadata(&fifo).is_ok_and(|m| !m.is_file()));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
