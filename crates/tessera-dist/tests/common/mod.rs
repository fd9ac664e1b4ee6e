//! Helpers shared by the integration tests: run one closure per rank on the threads or the TCP backend.
#![allow(dead_code, clippy::unwrap_used)]

use std::time::Duration;

use tessera_dist::{Fault, GroupOptions, ProcessGroup, TcpOptions};

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
