//! Faults end in errors that name ranks, on every rank, promptly: injected on the threads backend
//! (milliseconds, deterministic) and staged on TCP with real sockets (desync, strangers of another run,
//! a port in use, a bad environment). Real killed processes are in `processes.rs`.
#![allow(clippy::unwrap_used)] // Tests assert by unwrapping.

mod common;

use std::time::{Duration, Instant};

use common::{free_port, on_tcp, on_threads, quick};
use tessera_dist::{Error, Fault, FaultKind, OpKind, ProcessGroup, ReduceOp, TcpOptions};

fn all_reduce_loop(g: &ProcessGroup, times: usize) -> Result<(), Error> {
    for _ in 0..times {
        let mut v = vec![1.0f32; 100_000];
        g.all_reduce(&mut v, ReduceOp::Sum)?;
    }
    Ok(())
}

#[test]
fn a_killed_rank_is_named_by_every_other_rank() {
    for world in [2usize, 3, 5] {
        let faults = vec![Fault { rank: 1, at: 3, kind: FaultKind::Kill }];
        let t = Instant::now();
        let results = on_threads(world, quick(10_000), faults, |g| all_reduce_loop(g, 10));
        assert!(t.elapsed() < Duration::from_secs(5), "took {:?}", t.elapsed());
        for (rank, r) in results.iter().enumerate() {
            match r {
                Err(Error::Killed { rank: 1, call }) if rank == 1 => assert_eq!(call.seq, 3),
                // A rank still finishing #2 when rank 1 dies (its frames already sent) fails there.
                Err(Error::PeerLost { rank: 1, me, call, .. }) => {
                    assert_eq!(*me, rank);
                    assert!((2..=3).contains(&call.unwrap().seq));
                }
                other => panic!("world {world} rank {rank}: {other:?}"),
            }
        }
    }
}

#[test]
fn a_desync_fails_both_ranks_at_once_naming_both_calls() {
    for world in [2usize, 4] {
        let faults = vec![Fault { rank: 1, at: 2, kind: FaultKind::Desync }];
        let t = Instant::now();
        let results = on_threads(world, quick(20_000), faults, |g| all_reduce_loop(g, 4));
        assert!(t.elapsed() < Duration::from_secs(5), "a desync waited for the timeout");
        for r in &results {
            match r {
                Err(e @ Error::Desync { call, peer_call, .. }) => {
                    let ops = [call.op, peer_call.op];
                    assert!(ops.contains(&OpKind::AllReduce) && ops.contains(&OpKind::Broadcast), "{e}");
                    let text = e.to_string();
                    assert!(text.contains("all_reduce(f32, 100000) #2"), "{text}");
                    assert!(text.contains("broadcast(f32, 100000, root 0) #2"), "{text}");
                }
                other => panic!("world {world}: {other:?}"),
            }
        }
    }
}

#[test]
fn a_stalled_rank_is_reported_at_the_timeout_with_every_ranks_state() {
    let faults = vec![Fault { rank: 2, at: 2, kind: FaultKind::Delay(Duration::from_millis(1500)) }];
    let results = on_threads(3, quick(300), faults, |g| all_reduce_loop(g, 3));
    let mut timeouts = 0;
    for r in &results {
        match r {
            Err(e @ Error::Timeout { states, .. }) => {
                timeouts += 1;
                let text = e.to_string();
                assert!(text.contains("rank 2 idle after collective #1"), "{text}");
                assert_eq!(states.0.len(), 3);
            }
            // The stalled rank wakes to find the group aborted.
            Err(Error::Aborted { .. } | Error::Broken { .. }) => {}
            other => panic!("{other:?}"),
        }
    }
    assert!(timeouts >= 1);
    // After the error the group refuses further work instead of hanging.
}

#[test]
fn a_broken_group_refuses_later_calls() {
    let faults = vec![Fault { rank: 0, at: 1, kind: FaultKind::Kill }];
    let results = on_threads(2, quick(5000), faults, |g| {
        let first = g.barrier();
        let second = g.barrier();
        (first.is_err(), matches!(second, Err(Error::Broken { .. })))
    });
    assert!(results.iter().all(|&(a, b)| a && b), "{results:?}");
}

#[test]
fn a_tcp_desync_fails_both_ranks_naming_both_calls() {
    let t = Instant::now();
    let results = on_tcp(2, quick(20_000), |g| {
        let mut v = vec![1.0f32; 4096];
        if g.rank() == 0 { g.all_reduce(&mut v, ReduceOp::Sum) } else { g.broadcast(&mut v, 0) }
    });
    assert!(t.elapsed() < Duration::from_secs(5));
    for r in results {
        let e = r.unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, Error::Desync { .. }), "{text}");
        assert!(
            text.contains("all_reduce(f32, 4096) #1") && text.contains("broadcast(f32, 4096, root 0) #1"),
            "{text}"
        );
    }
}

#[test]
fn a_tcp_rank_that_leaves_early_is_named() {
    let results = on_tcp(3, quick(20_000), |g| {
        if g.rank() == 2 {
            return Ok(());
        }
        all_reduce_loop(g, 1)
    });
    for (rank, r) in results.iter().enumerate().take(2) {
        match r {
            Err(e @ Error::PeerLost { rank: 2, .. }) => assert!(e.to_string().contains("rank 2 was lost")),
            other => panic!("rank {rank}: {other:?}"),
        }
    }
}

fn tcp(rank: usize, world: usize, port: u16, run_id: &str) -> Result<ProcessGroup, Error> {
    ProcessGroup::tcp(TcpOptions {
        rank,
        world_size: world,
        master_addr: "127.0.0.1".into(),
        master_port: port,
        run_id: run_id.into(),
        options: quick(5000),
    })
}

#[test]
fn a_stranger_of_another_run_is_refused_by_name_and_pid() {
    let port = free_port();
    std::thread::scope(|s| {
        let master = s.spawn(|| tcp(0, 2, port, "job-a"));
        std::thread::sleep(Duration::from_millis(100));
        let stranger = tcp(1, 2, port, "job-b").unwrap_err();
        let text = stranger.to_string();
        assert!(matches!(stranger, Error::Refused { .. }), "{text}");
        assert!(text.contains("job-a") && text.contains("job-b"), "{text}");
        assert!(text.contains(&format!("pid {}", std::process::id())), "{text}");
        // The job itself still forms.
        let member = tcp(1, 2, port, "job-a").unwrap();
        let m = master.join().unwrap().unwrap();
        let mut a = [1i64];
        let mut b = [2i64];
        std::thread::scope(|t| {
            t.spawn(|| m.all_reduce(&mut a, ReduceOp::Sum).unwrap());
            member.all_reduce(&mut b, ReduceOp::Sum).unwrap();
        });
        assert_eq!((a[0], b[0]), (3, 3));
    });
}

#[test]
fn a_world_size_mismatch_is_refused_on_both_sides() {
    let port = free_port();
    std::thread::scope(|s| {
        let master = s.spawn(|| tcp(0, 2, port, "j"));
        let other = tcp(1, 3, port, "j").unwrap_err();
        assert!(other.to_string().contains("WORLD_SIZE=3"), "{other}");
        match master.join().unwrap() {
            Err(Error::WorldSizeMismatch { rank: 1, expected: 2, found: 3 }) => {}
            r => panic!("{r:?}"),
        }
    });
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let busy = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let e = tcp(0, 2, port, "j").unwrap_err();
    assert!(matches!(e, Error::PortInUse { .. }), "{e}");
    assert!(e.to_string().contains("MASTER_PORT"));
}

#[test]
fn a_missing_rank_times_out_naming_it() {
    let port = free_port();
    let mut opts = quick(1000);
    opts.rendezvous_timeout = Duration::from_millis(300);
    let e = ProcessGroup::tcp(TcpOptions {
        rank: 0,
        world_size: 3,
        master_addr: "127.0.0.1".into(),
        master_port: port,
        run_id: String::new(),
        options: opts,
    })
    .unwrap_err();
    assert!(e.to_string().contains("ranks 1, 2 did not arrive"), "{e}");
}

#[test]
fn a_stalled_tcp_rank_is_reported_by_its_reader_thread_at_the_timeout() {
    let results = on_tcp(3, quick(400), |g| {
        let mut v = vec![1.0f32; 1000];
        g.all_reduce(&mut v, ReduceOp::Sum)?;
        if g.rank() == 2 {
            // Alive but silent: computing instead of joining collective #2.
            std::thread::sleep(Duration::from_millis(1500));
        }
        g.all_reduce(&mut v, ReduceOp::Sum)
    });
    let mut reported = 0;
    for r in &results {
        match r {
            Err(e @ Error::Timeout { .. }) => {
                let text = e.to_string();
                assert!(text.contains("rank 2 idle after collective #1"), "{text}");
                reported += 1;
            }
            Err(Error::Aborted { .. } | Error::Broken { .. } | Error::PeerLost { .. }) => {}
            other => panic!("{other:?}"),
        }
    }
    assert!(reported >= 1, "{results:?}");
}

#[test]
fn garbage_and_endless_lines_at_the_store_are_refused_and_the_job_still_forms() {
    use std::io::Write;
    let port = free_port();
    std::thread::scope(|s| {
        let master = s.spawn(|| tcp(0, 2, port, "j"));
        let connect = || loop {
            if let Ok(c) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                break c;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let mut junk = connect();
        junk.write_all(b"{not json at all}\n").unwrap();
        drop(junk);
        let mut endless = connect();
        let _ = endless.write_all(&vec![b'x'; 100 << 10]);
        drop(endless);
        let member = tcp(1, 2, port, "j").unwrap();
        let m = master.join().unwrap().unwrap();
        let mut a = [1.5f64];
        let mut b = [2.5f64];
        std::thread::scope(|t| {
            t.spawn(|| m.all_reduce(&mut a, ReduceOp::Sum).unwrap());
            member.all_reduce(&mut b, ReduceOp::Sum).unwrap();
        });
        assert_eq!((a[0], b[0]), (4.0, 4.0));
    });
}
