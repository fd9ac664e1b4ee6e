//! TCP rendezvous and connection setup. Rank 0 serves a small store at the master address: every rank
//! sends who it is (run id, rank, world size, host, pid, the address of its own listener), rank 0 checks
//! each against the others — strangers of another run, taken ranks and a disagreeing world size are
//! refused by name and pid — and, once all have arrived, hands every rank the table of addresses. The
//! ranks then connect pairwise (the higher rank dials), each connection opened with a handshake naming
//! run and rank.

use std::io::Write;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::group::{Backend, ProcessGroup};
use crate::mesh::Mesh;
use crate::options::GroupOptions;
use crate::transport::tcp::TcpTransport;

/// The longest line the store or a handshake reads.
const MAX_LINE: u64 = 64 << 10;

/// Where and who a TCP rank is.
#[derive(Debug, Clone, PartialEq)]
pub struct TcpOptions {
    /// This rank.
    pub rank: usize,
    /// The number of ranks.
    pub world_size: usize,
    /// Rank 0's host (`MASTER_ADDR`).
    pub master_addr: String,
    /// Rank 0's store port (`MASTER_PORT`).
    pub master_port: u16,
    /// The job's id (`TESSERA_RUN_ID`, set by `tessera launch`): processes of another run are refused.
    pub run_id: String,
    /// Timeouts and algorithm choices.
    pub options: GroupOptions,
}

#[derive(Debug, Serialize, Deserialize)]
struct Hello {
    run_id: String,
    rank: usize,
    world_size: usize,
    pid: u32,
    host: String,
    listen: String,
}

#[derive(Debug, Serialize, Deserialize)]
enum Reply {
    Table { addrs: Vec<String> },
    Refused { reason: String },
}

#[derive(Debug, Serialize, Deserialize)]
struct Handshake {
    run_id: String,
    rank: usize,
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".to_string())
}

/// Reads one JSON line byte by byte: nothing past the newline is consumed, since frames may follow it
/// on the same connection.
fn read_line<T: for<'de> Deserialize<'de>>(
    mut stream: &TcpStream,
    what: &str,
) -> std::result::Result<T, String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match std::io::Read::read(&mut stream, &mut byte) {
            Ok(0) => return Err(format!("the connection closed before the {what}")),
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) => line.push(byte[0]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("reading the {what} failed: {e}")),
        }
        if line.len() as u64 > MAX_LINE {
            return Err(format!("the {what} is longer than {MAX_LINE} bytes"));
        }
    }
    serde_json::from_slice(&line).map_err(|e| format!("an unreadable {what}: {e}"))
}

fn write_line<T: Serialize>(mut stream: &TcpStream, value: &T) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(value).map_err(std::io::Error::other)?;
    line.push(b'\n');
    stream.write_all(&line)
}

/// Accepts one connection before `deadline` (`None`: the deadline passed).
fn accept_until(listener: &TcpListener, deadline: Instant) -> Result<Option<TcpStream>> {
    loop {
        match listener.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).map_err(|e| Error::io("accepting a connection", e))?;
                return Ok(Some(s));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    return Ok(None);
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io("accepting a connection", e)),
        }
    }
}

fn resolve(host: &str, port: u16) -> Result<SocketAddr> {
    let addr = format!("{host}:{port}");
    (host, port)
        .to_socket_addrs()
        .map_err(|e| Error::Env {
            var: "MASTER_ADDR".into(),
            problem: format!("{addr} does not resolve: {e}"),
        })?
        .next()
        .ok_or_else(|| Error::Env {
            var: "MASTER_ADDR".into(),
            problem: format!("{addr} resolves to nothing"),
        })
}

impl ProcessGroup {
    /// Joins a TCP group: rendezvous at `master_addr:master_port` (served by rank 0), then one
    /// connection per pair of ranks.
    pub fn tcp(opts: TcpOptions) -> Result<ProcessGroup> {
        opts.options.check()?;
        if opts.world_size == 0 {
            return Err(Error::Env { var: "WORLD_SIZE".into(), problem: "must be at least 1".into() });
        }
        if opts.rank >= opts.world_size {
            return Err(Error::Env {
                var: "RANK".into(),
                problem: format!("{} is not below WORLD_SIZE={}", opts.rank, opts.world_size),
            });
        }
        let deadline = Instant::now() + opts.options.rendezvous_timeout;
        let master = resolve(&opts.master_addr, opts.master_port)?;
        let data = TcpListener::bind((IpAddr::from([0, 0, 0, 0]), 0))
            .map_err(|e| Error::io("opening a listener", e))?;
        let data_port = data.local_addr().map_err(|e| Error::io("opening a listener", e))?.port();
        let addrs = if opts.rank == 0 {
            serve(&opts, master, data_port, deadline)?
        } else {
            join(&opts, master, data_port, deadline)?
        };
        let streams = connect_mesh(&opts, &data, &addrs, deadline)?;
        let transport = TcpTransport::new(streams, opts.options.timeout)
            .map_err(|e| Error::io("setting up connections", e))?;
        let mesh = Mesh::new(
            opts.rank,
            opts.world_size,
            Box::new(transport),
            opts.options.clone(),
            Vec::new(),
            Duration::ZERO,
        );
        Ok(ProcessGroup::from_backend(opts.rank, opts.world_size, Backend::Mesh(Box::new(mesh))))
    }
}

/// Rank 0: serves the store until every rank has arrived; returns the address table.
fn serve(opts: &TcpOptions, master: SocketAddr, data_port: u16, deadline: Instant) -> Result<Vec<String>> {
    let bind_addr = SocketAddr::new(IpAddr::from([0, 0, 0, 0]), master.port());
    let listener = TcpListener::bind(bind_addr).map_err(|e| match e.kind() {
        std::io::ErrorKind::AddrInUse => Error::PortInUse { addr: bind_addr.to_string() },
        _ => Error::io(format!("listening on {bind_addr}"), e),
    })?;
    listener.set_nonblocking(true).map_err(|e| Error::io("listening", e))?;
    let n = opts.world_size;
    let mut members: Vec<Option<(Hello, TcpStream)>> = (0..n).map(|_| None).collect();
    let mut table = vec![String::new(); n];
    table[0] = SocketAddr::new(master.ip(), data_port).to_string();
    let mut strangers: Vec<String> = Vec::new();
    let refuse = |s: &TcpStream, reason: String| {
        let _ = write_line(s, &Reply::Refused { reason });
    };
    while members.iter().skip(1).any(Option::is_none) {
        let Some(stream) = accept_until(&listener, deadline)? else {
            let missing: Vec<String> =
                (1..n).filter(|&r| members[r].is_none()).map(|r| r.to_string()).collect();
            let mut reason = format!(
                "ranks {} did not arrive within {:.0} s",
                missing.join(", "),
                opts.options.rendezvous_timeout.as_secs_f64()
            );
            if !strangers.is_empty() {
                reason.push_str(&format!("; refused: {}", strangers.join("; ")));
            }
            return Err(Error::Rendezvous { addr: master.to_string(), reason });
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let hello: Hello = match read_line(&stream, "rendezvous message") {
            Ok(h) => h,
            Err(e) => {
                strangers.push(e);
                continue;
            }
        };
        let who = format!("pid {} on {}", hello.pid, hello.host);
        if hello.run_id != opts.run_id {
            let reason =
                format!("this job's run id is {:?}, {who} belongs to run {:?}", opts.run_id, hello.run_id);
            refuse(&stream, reason.clone());
            strangers.push(reason);
            continue;
        }
        if hello.world_size != n {
            let err = Error::WorldSizeMismatch { rank: hello.rank, expected: n, found: hello.world_size };
            refuse(&stream, err.to_string());
            for (_, s) in members.iter().flatten() {
                refuse(s, err.to_string());
            }
            return Err(err);
        }
        if hello.rank == 0 || hello.rank >= n {
            refuse(&stream, format!("{who} claims rank {}, which is not in 1..{n}", hello.rank));
            strangers.push(format!("{who} with rank {}", hello.rank));
            continue;
        }
        if let Some((first, _)) = &members[hello.rank] {
            let reason = format!(
                "rank {} is taken by pid {} on {}; {who} claims it too",
                hello.rank, first.pid, first.host
            );
            refuse(&stream, reason.clone());
            strangers.push(reason);
            continue;
        }
        let peer_ip = stream.peer_addr().map(|a| a.ip()).unwrap_or(master.ip());
        let listen_port = hello.listen.parse::<u16>().unwrap_or(0);
        table[hello.rank] = SocketAddr::new(peer_ip, listen_port).to_string();
        let rank = hello.rank;
        members[rank] = Some((hello, stream));
    }
    for (_, s) in members.iter().flatten() {
        write_line(s, &Reply::Table { addrs: table.clone() })
            .map_err(|e| Error::io("sending the address table", e))?;
    }
    Ok(table)
}

/// Ranks 1..: registers with rank 0 and waits for the table.
fn join(opts: &TcpOptions, master: SocketAddr, data_port: u16, deadline: Instant) -> Result<Vec<String>> {
    let stream = loop {
        match TcpStream::connect_timeout(&master, Duration::from_secs(1)) {
            Ok(s) => break s,
            Err(e) => {
                if Instant::now() >= deadline {
                    return Err(Error::Rendezvous {
                        addr: master.to_string(),
                        reason: format!(
                            "rank 0 could not be reached within {:.0} s: {e}",
                            opts.options.rendezvous_timeout.as_secs_f64()
                        ),
                    });
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    };
    let hello = Hello {
        run_id: opts.run_id.clone(),
        rank: opts.rank,
        world_size: opts.world_size,
        pid: std::process::id(),
        host: host_name(),
        listen: data_port.to_string(),
    };
    write_line(&stream, &hello).map_err(|e| Error::io(format!("registering with rank 0 at {master}"), e))?;
    let remaining = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
    let _ = stream.set_read_timeout(Some(remaining));
    let by = format!("rank 0 at {master}");
    match read_line::<Reply>(&stream, "address table") {
        Ok(Reply::Table { addrs }) if addrs.len() == opts.world_size => Ok(addrs),
        Ok(Reply::Table { addrs }) => Err(Error::Protocol {
            rank: 0,
            detail: format!("an address table of {} ranks for a world of {}", addrs.len(), opts.world_size),
        }),
        Ok(Reply::Refused { reason }) => Err(Error::Refused { by, reason }),
        Err(reason) => Err(Error::Rendezvous { addr: master.to_string(), reason }),
    }
}

/// Opens one connection per pair of ranks: this rank dials every lower rank and accepts every higher one.
fn connect_mesh(
    opts: &TcpOptions,
    listener: &TcpListener,
    addrs: &[String],
    deadline: Instant,
) -> Result<Vec<Option<TcpStream>>> {
    let (me, n) = (opts.rank, opts.world_size);
    let mut streams: Vec<Option<TcpStream>> = (0..n).map(|_| None).collect();
    for (peer, addr) in addrs.iter().enumerate().take(me) {
        let sa: SocketAddr = addr.parse().map_err(|e| Error::Protocol {
            rank: 0,
            detail: format!("rank {peer}'s address {addr:?}: {e}"),
        })?;
        let s = TcpStream::connect_timeout(&sa, Duration::from_secs(10))
            .map_err(|e| Error::io(format!("connecting to rank {peer} at {sa}"), e))?;
        write_line(&s, &Handshake { run_id: opts.run_id.clone(), rank: me })
            .map_err(|e| Error::io(format!("greeting rank {peer}"), e))?;
        streams[peer] = Some(s);
    }
    listener.set_nonblocking(true).map_err(|e| Error::io("listening", e))?;
    while streams.iter().skip(me + 1).any(Option::is_none) {
        let Some(s) = accept_until(listener, deadline)? else {
            let missing: Vec<String> =
                (me + 1..n).filter(|&r| streams[r].is_none()).map(|r| r.to_string()).collect();
            return Err(Error::Rendezvous {
                addr: addrs[me].clone(),
                reason: format!("ranks {} did not connect to rank {me} in time", missing.join(", ")),
            });
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
        match read_line::<Handshake>(&s, "handshake") {
            Ok(h) if h.run_id == opts.run_id && h.rank > me && h.rank < n && streams[h.rank].is_none() => {
                streams[h.rank] = Some(s);
            }
            _ => {}
        }
    }
    Ok(streams)
}
