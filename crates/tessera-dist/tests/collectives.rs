//! Every collective against its definition, on the threads and TCP backends: random sizes (0, 1,
//! primes, sizes not divisible by the world size), world sizes 1-5, every element type and reduction,
//! both all-reduce algorithms and small segments (so messages really are split). Inputs are small
//! integers, whose sums every type holds exactly, so results are compared bit for bit; a second test
//! checks arbitrary floats against an f64 sum with a tolerance and bit-identity across ranks and reruns.
#![allow(clippy::unwrap_used)] // Tests assert by unwrapping.

mod common;

use common::{bits, check_all, on_tcp, on_threads};
use half::{bf16, f16};
use proptest::prelude::*;
use tessera_dist::{Algorithm, GroupOptions, ProcessGroup, ReduceOp};

fn options(algorithm: Algorithm) -> GroupOptions {
    GroupOptions { algorithm, segment_bytes: 4096, ..GroupOptions::default() }
}

fn run_all(threads: bool, world: usize, len: usize, salt: usize, op: ReduceOp, algorithm: Algorithm) {
    macro_rules! each_type {
        ($($t:ty),*) => {$(
            let results = if threads {
                on_threads(world, options(algorithm), vec![], |g| check_all::<$t>(g, len, salt, op))
            } else {
                on_tcp(world, options(algorithm), |g| check_all::<$t>(g, len, salt, op))
            };
            assert!(results.windows(2).all(|w| w[0] == w[1]), "ranks disagree");
        )*};
    }
    each_type!(f32, f64, f16, bf16, i64);
}

fn sizes() -> impl Strategy<Value = usize> {
    prop_oneof![
        Just(0usize),
        Just(1),
        Just(2),
        Just(3),
        Just(5),
        Just(7),
        Just(1031),
        Just(3001),
        0usize..5000
    ]
}

fn ops() -> impl Strategy<Value = ReduceOp> {
    prop_oneof![Just(ReduceOp::Sum), Just(ReduceOp::Avg), Just(ReduceOp::Max), Just(ReduceOp::Min)]
}

fn algorithms() -> impl Strategy<Value = Algorithm> {
    prop_oneof![Just(Algorithm::Auto), Just(Algorithm::Ring), Just(Algorithm::RecursiveDoubling)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn threads_collectives_match_their_definition(
        world in 1usize..=5, len in sizes(), salt in 0usize..100, op in ops(), algorithm in algorithms()
    ) {
        run_all(true, world, len, salt, op, algorithm);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    #[test]
    fn tcp_collectives_match_their_definition(
        world in 1usize..=5, len in sizes(), salt in 0usize..100, op in ops(), algorithm in algorithms()
    ) {
        run_all(false, world, len, salt, op, algorithm);
    }
}

/// Random floats: all-reduce within 1e-5 of the f64 sum, the same bits on every rank and on a rerun.
#[test]
fn float_sums_are_accurate_and_bit_identical_across_ranks_and_runs() {
    for world in [2usize, 3, 4, 5] {
        for algorithm in [Algorithm::Ring, Algorithm::RecursiveDoubling] {
            let len = 10_007;
            let data = |r: usize| -> Vec<f32> {
                let mut rng = tessera_tensor::SeededRng::new(r as u64);
                (0..len).map(|_| rng.uniform() * 2.0 - 1.0).collect()
            };
            let run = || {
                on_threads(world, options(algorithm), vec![], |g| {
                    let mut v = data(g.rank());
                    g.all_reduce(&mut v, ReduceOp::Sum).unwrap();
                    v
                })
            };
            let first = run();
            let again = run();
            let inputs: Vec<Vec<f32>> = (0..world).map(data).collect();
            let exact: Vec<f64> = (0..len).map(|i| inputs.iter().map(|d| d[i] as f64).sum()).collect();
            for v in &first {
                assert_eq!(bits(v), bits(&first[0]));
                for (a, e) in v.iter().zip(&exact) {
                    assert!((*a as f64 - e).abs() <= 1e-5 * (1.0 + e.abs()), "{a} vs {e}");
                }
            }
            assert_eq!(first, again, "a rerun gave other bits (world {world}, {algorithm:?})");
        }
    }
}

/// Asynchronous all-reduces overlap with the caller and complete in call order.
#[test]
fn async_all_reduce_returns_the_buffer_and_keeps_order() {
    let results = on_threads(3, GroupOptions::default(), vec![], |g| {
        let a = g.all_reduce_async(vec![g.rank() as f64; 1000], ReduceOp::Sum);
        let b = g.all_gather_async(vec![g.rank() as i64; 2]);
        let mut c = vec![1.0f32; 5];
        g.all_reduce(&mut c, ReduceOp::Sum).unwrap();
        (a.wait().unwrap(), b.wait().unwrap(), c)
    });
    for (a, b, c) in results {
        assert_eq!(a, vec![3.0; 1000]);
        assert_eq!(b, vec![0, 0, 1, 1, 2, 2]);
        assert_eq!(c, vec![3.0; 5]);
    }
}

#[test]
fn bad_arguments_are_refused_before_any_message() {
    let groups = ProcessGroup::threads(2).unwrap();
    let g = &groups[0];
    let mut v = vec![0i64; 3];
    assert!(matches!(g.all_reduce(&mut v, ReduceOp::Avg), Err(tessera_dist::Error::Unsupported { .. })));
    assert!(matches!(g.broadcast(&mut v, 2), Err(tessera_dist::Error::InvalidArgument { .. })));
    let mut out = vec![0i64; 5];
    assert!(matches!(g.all_gather(&v, &mut out), Err(tessera_dist::Error::InvalidArgument { .. })));
    assert!(matches!(g.send(&v, 0), Err(tessera_dist::Error::InvalidArgument { .. })));
    assert!(ProcessGroup::threads(0).is_err());
}
