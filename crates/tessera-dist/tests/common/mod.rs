//! Helpers shared by the integration tests: run one closure per rank on the threads or the TCP backend.
#![allow(dead_code, clippy::unwrap_used)]

use std::time::Duration;

use tessera_dist::{Element, Fault, GroupOptions, ProcessGroup, ReduceOp, TcpOptions};

/// Runs `f` on every rank of a threads group (one thread per rank) and returns the results in rank order.
pub fn on_threads<R: Send>(
    world: usize,
    options: GroupOptions,
    faults: Vec<Fault>,
    f: impl Fn(&ProcessGroup) -> R + Sync,
) -> Vec<R> {
    let groups = ProcessGroup::threads_with(world, options, faults).unwrap();
    std::thread::scope(|s| {
        let handles: Vec<_> = groups
            .into_iter()
            .map(|g| {
                let f = &f;
                s.spawn(move || f(&g))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// A port nothing listens on (bound, read and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Runs `f` on every rank of a TCP group whose ranks are threads of this process (real sockets and
/// rendezvous), results in rank order.
pub fn on_tcp<R: Send>(world: usize, options: GroupOptions, f: impl Fn(&ProcessGroup) -> R + Sync) -> Vec<R> {
    let port = free_port();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..world)
            .map(|rank| {
                let (f, options) = (&f, options.clone());
                s.spawn(move || {
                    let g = ProcessGroup::tcp(TcpOptions {
                        rank,
                        world_size: world,
                        master_addr: "127.0.0.1".into(),
                        master_port: port,
                        run_id: "test".into(),
                        options,
                    })
                    .unwrap();
                    f(&g)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// Options with short timeouts for fault tests.
pub fn quick(timeout_ms: u64) -> GroupOptions {
    GroupOptions {
        timeout: Duration::from_millis(timeout_ms),
        rendezvous_timeout: Duration::from_secs(20),
        ..GroupOptions::default()
    }
}

pub fn input<T: Element>(rank: usize, len: usize, salt: usize) -> Vec<T> {
    (0..len).map(|i| T::from_i32((((i * 7 + rank * 13 + salt) % 17) as i32) - 8)).collect()
}

/// The reduction of every rank's input, element by element, in rank order.
pub fn reference<T: Element>(world: usize, len: usize, salt: usize, op: ReduceOp) -> Vec<T> {
    let mut acc = input::<T>(0, len, salt);
    for r in 1..world {
        T::combine(&mut acc, &input::<T>(r, len, salt), op);
    }
    if op == ReduceOp::Avg {
        T::divide(&mut acc, world);
    }
    acc
}

pub fn bits<T: Element>(v: &[T]) -> Vec<u8> {
    bytemuck::cast_slice(v).to_vec()
}

/// Runs every collective once on `g` and checks each result against its definition.
pub fn check_all<T: Element>(g: &ProcessGroup, len: usize, salt: usize, op: ReduceOp) -> Vec<u8> {
    let (r, n) = (g.rank(), g.world_size());
    let op = if T::DTYPE == tessera_dist::DType::I64 && op == ReduceOp::Avg { ReduceOp::Sum } else { op };
    let mut buf = input::<T>(r, len, salt);
    g.all_reduce(&mut buf, op).unwrap();
    assert_eq!(bits(&buf), bits(&reference::<T>(n, len, salt, op)), "all_reduce {op:?} rank {r}");

    let root = salt % n;
    let mut b = input::<T>(r, len, salt + 1);
    g.broadcast(&mut b, root).unwrap();
    assert_eq!(bits(&b), bits(&input::<T>(root, len, salt + 1)), "broadcast rank {r}");

    let mut gathered = vec![T::from_i32(0); len * n];
    g.all_gather(&input::<T>(r, len, salt), &mut gathered).unwrap();
    for src in 0..n {
        assert_eq!(bits(&gathered[src * len..(src + 1) * len]), bits(&input::<T>(src, len, salt)));
    }

    // reduce_scatter: every rank contributes world blocks of `len`.
    let full = reference::<T>(n, len * n, salt + 2, op);
    let mut out = vec![T::from_i32(0); len];
    g.reduce_scatter(&input::<T>(r, len * n, salt + 2), &mut out, op).unwrap();
    assert_eq!(bits(&out), bits(&full[r * len..(r + 1) * len]), "reduce_scatter rank {r}");

    g.barrier().unwrap();
    if n > 1 {
        // A ring of point-to-point messages.
        let next = (r + 1) % n;
        let prev = (r + n - 1) % n;
        let mine = input::<T>(r, len, salt + 3);
        let mut got = vec![T::from_i32(0); len];
        if r % 2 == 0 {
            g.send(&mine, next).unwrap();
            g.recv(&mut got, prev).unwrap();
        } else {
            g.recv(&mut got, prev).unwrap();
            g.send(&mine, next).unwrap();
        }
        assert_eq!(bits(&got), bits(&input::<T>(prev, len, salt + 3)));
    }
    bits(&buf)
}
