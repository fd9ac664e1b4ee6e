//! The all-reduce benchmark behind `tessera dist bench`: latency and bus bandwidth per message size, as
//! nccl-tests reports them (bus bandwidth = algorithm bandwidth x 2(N-1)/N, comparable across world
//! sizes), with every result checked against the exact sum.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::element::ReduceOp;
use crate::error::{Error, Result};
use crate::group::ProcessGroup;

/// One message size's figures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BenchResult {
    /// Bytes per rank (f32 elements x 4).
    pub bytes: usize,
    /// Mean time of one all-reduce, microseconds (the slowest rank's).
    pub time_us: f64,
    /// Bus bandwidth, GB/s (10^9 bytes per second).
    pub busbw_gbps: f64,
}

/// Parses sizes such as `1KiB,64KiB,1MiB,16MiB` (also `KB`/`MB`/`GB` as powers of 1000, and plain bytes).
pub fn parse_sizes(text: &str) -> std::result::Result<Vec<usize>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
            let (digits, unit) = s.split_at(split);
            let n: usize = digits.parse().map_err(|_| format!("{s:?} is not a size such as 64KiB"))?;
            let mult: usize = match unit.trim() {
                "" | "B" => 1,
                "KiB" | "K" => 1 << 10,
                "MiB" | "M" => 1 << 20,
                "GiB" | "G" => 1 << 30,
                "KB" => 1000,
                "MB" => 1_000_000,
                "GB" => 1_000_000_000,
                u => return Err(format!("{s:?}: unknown unit {u:?} (use B, KiB, MiB or GiB)")),
            };
            let bytes = n.checked_mul(mult).ok_or_else(|| format!("{s:?} is too large"))?;
            if bytes % 4 != 0 {
                return Err(format!("{s:?} is not a whole number of f32 elements (a multiple of 4 bytes)"));
            }
            Ok(bytes)
        })
        .collect()
}

fn fill(buf: &mut [f32], rank: usize) {
    for (i, v) in buf.iter_mut().enumerate() {
        *v = ((i % 251) + rank) as f32;
    }
}

fn check(buf: &[f32], world: usize, bytes: usize) -> Result<()> {
    let base = (world * (world - 1) / 2) as f32;
    for (i, v) in buf.iter().enumerate() {
        let want = (world * (i % 251)) as f32 + base;
        if *v != want {
            return Err(Error::Check {
                what: format!("element {i} of the {bytes}-byte all-reduce is {v}, expected {want}"),
            });
        }
    }
    Ok(())
}

/// Times f32 all-reduces of each size on `group` (every rank calls it; all get the same figures):
/// two warm-up calls, then as many timed calls as fill about `budget` (3 to 1000, agreed by all ranks).
pub fn bench_all_reduce(group: &ProcessGroup, sizes: &[usize], budget: Duration) -> Result<Vec<BenchResult>> {
    let (rank, world) = (group.rank(), group.world_size());
    let mut results = Vec::with_capacity(sizes.len());
    for &bytes in sizes {
        let len = bytes / 4;
        let mut buf = vec![0f32; len];
        let once = |buf: &mut Vec<f32>| -> Result<Duration> {
            fill(buf, rank);
            let t = Instant::now();
            group.all_reduce(buf, ReduceOp::Sum)?;
            let dt = t.elapsed();
            check(buf, world, bytes)?;
            Ok(dt)
        };
        once(&mut buf)?;
        let mut probe = [once(&mut buf)?.as_secs_f64()];
        group.all_reduce(&mut probe, ReduceOp::Max)?;
        let iters = (budget.as_secs_f64() / probe[0].max(1e-7)).clamp(3.0, 1000.0) as usize;
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            total += once(&mut buf)?;
        }
        let mut mean = [total.as_secs_f64() / iters as f64];
        group.all_reduce(&mut mean, ReduceOp::Max)?;
        let algbw = bytes as f64 / mean[0];
        let factor = if world > 1 { 2.0 * (world - 1) as f64 / world as f64 } else { 1.0 };
        results.push(BenchResult { bytes, time_us: mean[0] * 1e6, busbw_gbps: algbw * factor / 1e9 });
    }
    Ok(results)
}

/// [`bench_all_reduce`] on `world` in-process ranks (the threads backend); rank 0's figures.
pub fn bench_threads(world: usize, sizes: &[usize], budget: Duration) -> Result<Vec<BenchResult>> {
    let groups = ProcessGroup::threads(world)?;
    let mut out = std::thread::scope(|s| {
        let handles: Vec<_> =
            groups.iter().map(|g| s.spawn(move || bench_all_reduce(g, sizes, budget))).collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| Err(Error::Check { what: "a benchmark thread panicked".into() }))
            })
            .collect::<Vec<_>>()
    });
    out.swap_remove(0)
}

/// A human-readable size (`64KiB`).
pub fn format_size(bytes: usize) -> String {
    match bytes {
        b if b >= 1 << 30 && b % (1 << 30) == 0 => format!("{}GiB", b >> 30),
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{}MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{}KiB", b >> 10),
        b => format!("{b}B"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units_and_refuse_nonsense() {
        assert_eq!(parse_sizes("1KiB,64KiB,1MiB, 4").unwrap(), vec![1024, 65536, 1 << 20, 4]);
        assert!(parse_sizes("3").is_err());
        assert!(parse_sizes("1XB").is_err());
        assert!(parse_sizes("99999999999999999999GiB").is_err());
        assert_eq!(format_size(64 << 20), "64MiB");
    }

    #[test]
    fn the_threads_benchmark_checks_its_sums() {
        let r = bench_threads(3, &[4096, 1 << 20], Duration::from_millis(20)).unwrap();
        assert_eq!(r.len(), 2);
        assert!(r.iter().all(|x| x.time_us > 0.0 && x.busbw_gbps > 0.0));
    }
}
