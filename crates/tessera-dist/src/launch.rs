//! The launcher behind `tessera launch`: starts `nproc` local processes with torchrun's environment
//! (`RANK`, `WORLD_SIZE`, `LOCAL_RANK`, `LOCAL_WORLD_SIZE`, `MASTER_ADDR`, `MASTER_PORT`, plus
//! `TESSERA_RUN_ID` and `TESSERA_DIST_BACKEND`), prefixes every output line with its rank, and on the
//! first failure stops the others and reports which rank failed and how. With the `mpi` backend it runs
//! `mpirun` instead and reads the failed rank from its report.
//!
//! Like torchrun it sets `OMP_NUM_THREADS=1` unless set; it also sets `RAYON_NUM_THREADS` to the cores
//! per process (at least 1) unless set, so N processes do not each start a thread per core.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::env::BackendKind;
use crate::error::{Error, Result};

/// What `launch` starts.
#[derive(Debug, Clone, PartialEq)]
pub struct LaunchOptions {
    /// Processes (ranks) to start.
    pub nproc: usize,
    /// The backend the processes use.
    pub backend: BackendKind,
    /// The rendezvous host (default `127.0.0.1`).
    pub master_addr: String,
    /// The rendezvous port; `None` picks a free one.
    pub master_port: Option<u16>,
    /// The program.
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Capture rank 0's standard output (returned in the report) instead of printing it; everything
    /// else is printed to standard error with its rank prefix.
    pub capture_rank0: bool,
    /// Extra environment variables for every rank.
    pub env: Vec<(String, String)>,
    /// How long the other ranks get to exit after SIGTERM before SIGKILL (default 5 s).
    pub grace: Duration,
}

impl LaunchOptions {
    /// `nproc` copies of `program args` over TCP on a free local port.
    pub fn new(nproc: usize, program: impl Into<String>, args: Vec<String>) -> LaunchOptions {
        LaunchOptions {
            nproc,
            backend: BackendKind::Tcp,
            master_addr: "127.0.0.1".to_string(),
            master_port: None,
            program: program.into(),
            args,
            capture_rank0: false,
            env: Vec::new(),
            grace: Duration::from_secs(5),
        }
    }
}

/// How a rank ended when it was the first to fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RankFailure {
    /// The rank (`None` when `mpirun` did not say).
    pub rank: Option<usize>,
    /// Its exit code, when it exited.
    pub code: Option<i32>,
    /// The signal that ended it, when one did.
    pub signal: Option<i32>,
}

impl RankFailure {
    /// The exit status a shell reports for it: the code, or 128 + the signal.
    pub fn exit_code(&self) -> i32 {
        match (self.code, self.signal) {
            (Some(c), _) => c,
            (None, Some(s)) => 128 + s,
            _ => 1,
        }
    }
}

impl std::fmt::Display for RankFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.rank {
            Some(r) => write!(f, "rank {r}")?,
            None => f.write_str("a rank")?,
        }
        match (self.code, self.signal) {
            (Some(c), _) => write!(f, " exited with status {c}"),
            (None, Some(9)) => f.write_str(" was killed (signal 9)"),
            (None, Some(s)) => write!(f, " was ended by signal {s}"),
            _ => f.write_str(" failed"),
        }
    }
}

/// The outcome of a launch.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LaunchReport {
    /// The first rank to fail, if any did.
    pub failure: Option<RankFailure>,
    /// Ranks stopped by the launcher after that failure.
    pub stopped: Vec<usize>,
    /// Rank 0's standard output, when captured.
    pub rank0_stdout: Vec<u8>,
}

/// Where one child stream goes.
#[derive(Clone)]
enum Sink {
    Stdout,
    Stderr,
    Capture(Arc<Mutex<Vec<u8>>>),
}

fn write_prefixed(sink: &Sink, prefix: &str, line: &[u8]) {
    match sink {
        Sink::Capture(buf) => buf.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(line),
        Sink::Stdout => {
            let mut out = std::io::stdout().lock();
            let _ =
                out.write_all(prefix.as_bytes()).and_then(|_| out.write_all(line)).and_then(|_| out.flush());
        }
        Sink::Stderr => {
            let mut out = std::io::stderr().lock();
            let _ = out.write_all(prefix.as_bytes()).and_then(|_| out.write_all(line));
        }
    }
}

/// Forwards a child's stream line by line (bytes, not necessarily UTF-8).
fn forward(
    stream: impl Read + Send + 'static,
    prefix: String,
    sink: Sink,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name("tessera-launch-io".into()).spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    if !line.ends_with(b"\n") {
                        line.push(b'\n');
                    }
                    write_prefixed(&sink, &prefix, &line);
                }
            }
        }
    })
}

fn free_port(addr: &str) -> Result<u16> {
    let l = std::net::TcpListener::bind((addr, 0))
        .map_err(|e| Error::io(format!("finding a free port on {addr}"), e))?;
    Ok(l.local_addr().map_err(|e| Error::io("finding a free port", e))?.port())
}

fn run_id() -> String {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{:x}-{:x}", std::process::id(), nanos & 0xffff_ffff_ffff)
}

fn failure_of(rank: Option<usize>, status: ExitStatus) -> RankFailure {
    use std::os::unix::process::ExitStatusExt;
    RankFailure { rank, code: status.code(), signal: status.signal() }
}

/// Sends `sig` to a child that has not been reaped yet (its waiter thread reaps it and reports the
/// exit; the supervisor signals only children it has not heard from, so the pid is still theirs but for
/// the moment between the reaping and the report).
#[allow(unsafe_code)]
fn signal(pid: u32, sig: i32) {
    if let Ok(pid) = i32::try_from(pid) {
        // SAFETY: `kill` only sends a signal to the given pid; it touches no memory of ours.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

/// Starts the processes and supervises them to the end (see the module docs).
pub fn launch(opts: &LaunchOptions) -> Result<LaunchReport> {
    if opts.nproc == 0 {
        return Err(Error::invalid("--nproc", "at least 1", 0));
    }
    match opts.backend {
        BackendKind::Tcp => launch_tcp(opts),
        BackendKind::Mpi => launch_mpi(opts),
    }
}

fn base_command(opts: &LaunchOptions, program: &str) -> Command {
    let mut cmd = Command::new(program);
    if std::env::var_os("OMP_NUM_THREADS").is_none() {
        cmd.env("OMP_NUM_THREADS", "1");
    }
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        cmd.env("RAYON_NUM_THREADS", (cores / opts.nproc).max(1).to_string());
    }
    cmd.envs(opts.env.iter().map(|(k, v)| (k, v)));
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

fn launch_tcp(opts: &LaunchOptions) -> Result<LaunchReport> {
    let port = match opts.master_port {
        Some(p) => p,
        None => free_port(&opts.master_addr)?,
    };
    let run = run_id();
    let capture = Arc::new(Mutex::new(Vec::new()));
    let mut children: Vec<Option<Child>> = Vec::new();
    let mut io = Vec::new();
    for rank in 0..opts.nproc {
        let mut cmd = base_command(opts, &opts.program);
        cmd.args(&opts.args)
            .env("RANK", rank.to_string())
            .env("LOCAL_RANK", rank.to_string())
            .env("WORLD_SIZE", opts.nproc.to_string())
            .env("LOCAL_WORLD_SIZE", opts.nproc.to_string())
            .env("MASTER_ADDR", &opts.master_addr)
            .env("MASTER_PORT", port.to_string())
            .env("TESSERA_RUN_ID", &run)
            .env("TESSERA_DIST_BACKEND", "tcp");
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                for c in children.iter_mut().flatten() {
                    let _ = c.kill();
                    let _ = c.wait();
                }
                return Err(Error::Launch {
                    reason: format!("cannot start {:?} for rank {rank}: {e}", opts.program),
                });
            }
        };
        let prefix = format!("[rank {rank}] ");
        let out_sink = match (opts.capture_rank0, rank) {
            (true, 0) => Sink::Capture(Arc::clone(&capture)),
            (true, _) => Sink::Stderr,
            (false, _) => Sink::Stdout,
        };
        if let Some(out) = child.stdout.take() {
            io.push(forward(out, prefix.clone(), out_sink).map_err(|e| Error::io("forwarding output", e))?);
        }
        if let Some(err) = child.stderr.take() {
            io.push(forward(err, prefix, Sink::Stderr).map_err(|e| Error::io("forwarding output", e))?);
        }
        children.push(Some(child));
    }
    let mut report = supervise(&mut children, opts.grace)?;
    drain(io);
    report.rank0_stdout = std::mem::take(&mut *capture.lock().unwrap_or_else(|e| e.into_inner()));
    Ok(report)
}

/// Waits for the output forwarders to reach the end of their pipes, but not forever: a process a rank
/// started and left behind can hold the pipe open after the rank itself is gone.
fn drain(io: Vec<JoinHandle<()>>) {
    let until = Instant::now() + Duration::from_secs(1);
    while io.iter().any(|h| !h.is_finished()) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(5));
    }
    for h in io.into_iter().filter(JoinHandle::is_finished) {
        let _ = h.join();
    }
}

/// Waits for every child; on the first failure stops the rest (SIGTERM, then SIGKILL after `grace`).
/// One thread per child waits for it, so exits are seen in the order they happen (a rank that fails
/// because another died exits after it).
fn supervise(children: &mut [Option<Child>], grace: Duration) -> Result<LaunchReport> {
    let (tx, rx) = std::sync::mpsc::channel();
    let mut pids: Vec<Option<u32>> = Vec::with_capacity(children.len());
    let mut waiters = Vec::new();
    for (rank, slot) in children.iter_mut().enumerate() {
        let Some(mut child) = slot.take() else {
            pids.push(None);
            continue;
        };
        pids.push(Some(child.id()));
        let tx = tx.clone();
        let h = std::thread::Builder::new()
            .name(format!("tessera-launch-wait{rank}"))
            .spawn(move || {
                let _ = tx.send((rank, child.wait()));
            })
            .map_err(|e| Error::io("watching a rank", e))?;
        waiters.push(h);
    }
    drop(tx);
    let mut report = LaunchReport::default();
    let mut running = waiters.len();
    let mut kill_at: Option<Instant> = None;
    while running > 0 {
        let timeout =
            kill_at.map_or(Duration::from_secs(3600), |t| t.saturating_duration_since(Instant::now()));
        match rx.recv_timeout(timeout) {
            Ok((rank, status)) => {
                running -= 1;
                pids[rank] = None;
                let status = status.map_err(|e| Error::io(format!("waiting for rank {rank}"), e))?;
                if !status.success() && report.failure.is_none() {
                    report.failure = Some(failure_of(Some(rank), status));
                    kill_at = Some(Instant::now() + grace);
                    for (other, pid) in pids.iter().enumerate() {
                        if let Some(pid) = pid {
                            signal(*pid, libc::SIGTERM);
                            report.stopped.push(other);
                        }
                    }
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                for pid in pids.iter().flatten() {
                    signal(*pid, libc::SIGKILL);
                }
                kill_at = Some(Instant::now() + Duration::from_secs(3600));
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    for h in waiters {
        let _ = h.join();
    }
    Ok(report)
}

/// `mpirun`'s output tag (`[1,3]<stdout>:`): the rank and the rest of the line.
fn untag(line: &[u8]) -> Option<(usize, bool, &[u8])> {
    let close = line.iter().position(|&b| b == b']')?;
    let inner = std::str::from_utf8(line.get(1..close)?).ok()?;
    let rank = inner.split(',').nth(1)?.trim().parse().ok()?;
    let rest = &line[close + 1..];
    for (tag, is_out) in [(&b"<stdout>:"[..], true), (&b"<stderr>:"[..], false)] {
        if let Some(body) = rest.strip_prefix(tag) {
            return Some((rank, is_out, body));
        }
    }
    None
}

/// The length of an `mpirun` tag (`[1,3]<stdout>:`) at the start of `text`, if one is there.
fn tag_len(text: &[u8]) -> Option<usize> {
    let close = text.iter().position(|&b| b == b']')?;
    let inner = text.get(1..close)?;
    let mut parts = inner.split(|&b| b == b',');
    let numeric = |p: Option<&[u8]>| p.is_some_and(|p| !p.is_empty() && p.iter().all(u8::is_ascii_digit));
    if text.first() != Some(&b'[')
        || !numeric(parts.next())
        || !numeric(parts.next())
        || parts.next().is_some()
    {
        return None;
    }
    let rest = &text[close + 1..];
    [&b"<stdout>:"[..], &b"<stderr>:"[..]].iter().find(|t| rest.starts_with(t)).map(|t| close + 1 + t.len())
}

/// `body` without the tags `mpirun` puts inside a line when a rank writes part of a line at a time.
fn strip_inner_tags(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        match (body[i] == b'[').then(|| tag_len(&body[i..])).flatten() {
            Some(n) => i += n,
            None => {
                out.push(body[i]);
                i += 1;
            }
        }
    }
    out
}

/// The failed rank in `mpirun`'s report ("Process name: [[52961,1],1]", "process rank 1 with PID").
fn mpirun_failed_rank(text: &str) -> Option<usize> {
    if let Some(at) = text.find("process rank ") {
        let digits: String = text[at + 13..].chars().take_while(char::is_ascii_digit).collect();
        if let Ok(r) = digits.parse() {
            return Some(r);
        }
    }
    let at = text.find("Process name: [[")?;
    let rest = &text[at + 16..];
    let close = rest.find(']')?;
    let after = rest[close + 1..].strip_prefix(',')?;
    after.chars().take_while(char::is_ascii_digit).collect::<String>().parse().ok()
}

fn launch_mpi(opts: &LaunchOptions) -> Result<LaunchReport> {
    let mut cmd = base_command(opts, "mpirun");
    cmd.arg("-np").arg(opts.nproc.to_string()).arg("--oversubscribe").arg("--tag-output");
    if is_root() {
        cmd.arg("--allow-run-as-root");
    }
    for var in
        ["OMP_NUM_THREADS", "RAYON_NUM_THREADS"].into_iter().chain(opts.env.iter().map(|(k, _)| k.as_str()))
    {
        cmd.arg("-x").arg(var);
    }
    cmd.env("TESSERA_DIST_BACKEND", "mpi").arg("-x").arg("TESSERA_DIST_BACKEND");
    cmd.arg(&opts.program).args(&opts.args);
    let mut child = cmd.spawn().map_err(|e| Error::Launch {
        reason: format!("cannot start mpirun ({e}); install Open MPI (openmpi-bin) or use --backend tcp"),
    })?;
    let capture = Arc::new(Mutex::new(Vec::new()));
    let report_text = Arc::new(Mutex::new(String::new()));
    let mut io = Vec::new();
    for (stream, is_stderr) in [
        (child.stdout.take().map(|s| Box::new(s) as Box<dyn Read + Send>), false),
        (child.stderr.take().map(|s| Box::new(s) as Box<dyn Read + Send>), true),
    ] {
        let Some(stream) = stream else { continue };
        let (capture, text, cap0) = (Arc::clone(&capture), Arc::clone(&report_text), opts.capture_rank0);
        let h = std::thread::Builder::new()
            .name("tessera-launch-mpi-io".into())
            .spawn(move || {
                let mut reader = BufReader::new(stream);
                let mut line = Vec::new();
                while matches!(reader.read_until(b'\n', &mut line), Ok(n) if n > 0) {
                    if !line.ends_with(b"\n") {
                        line.push(b'\n');
                    }
                    match untag(&line) {
                        Some((0, true, body)) if cap0 => {
                            write_prefixed(&Sink::Capture(Arc::clone(&capture)), "", &strip_inner_tags(body))
                        }
                        Some((rank, is_out, body)) => {
                            let sink = if is_out && !cap0 { Sink::Stdout } else { Sink::Stderr };
                            write_prefixed(&sink, &format!("[rank {rank}] "), &strip_inner_tags(body));
                        }
                        None => {
                            text.lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .push_str(&String::from_utf8_lossy(&line));
                            write_prefixed(if is_stderr { &Sink::Stderr } else { &Sink::Stdout }, "", &line);
                        }
                    }
                    line.clear();
                }
            })
            .map_err(|e| Error::io("forwarding output", e))?;
        io.push(h);
    }
    let status = child.wait().map_err(|e| Error::io("waiting for mpirun", e))?;
    drain(io);
    let mut report = LaunchReport::default();
    if !status.success() {
        let text = report_text.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut f = failure_of(mpirun_failed_rank(&text), status);
        if let Some(code) = exit_code_in(&text) {
            f.code = Some(code);
        }
        report.failure = Some(f);
    }
    report.rank0_stdout = std::mem::take(&mut *capture.lock().unwrap_or_else(|e| e.into_inner()));
    Ok(report)
}

/// The failed process's exit code in `mpirun`'s report ("Exit code:    3").
fn exit_code_in(text: &str) -> Option<i32> {
    let at = text.find("Exit code:")?;
    text[at + 10..].trim_start().chars().take_while(char::is_ascii_digit).collect::<String>().parse().ok()
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mpirun_tags_and_reports_are_read() {
        assert_eq!(untag(b"[1,3]<stdout>:hello\n"), Some((3, true, &b"hello\n"[..])));
        assert_eq!(untag(b"[1,0]<stderr>:x"), Some((0, false, &b"x"[..])));
        assert_eq!(untag(b"plain line"), None);
        assert_eq!(
            strip_inner_tags(b"test x ... [1,1]<stdout>:ok [a] [1,2]<err>\n"),
            b"test x ... ok [a] [1,2]<err>\n"
        );
        let report = "Primary job  terminated normally, but 1 process returned\na non-zero exit code.\n\
                      Process name: [[52961,1],1]\nExit code:    3\n";
        assert_eq!(mpirun_failed_rank(report), Some(1));
        assert_eq!(exit_code_in(report), Some(3));
        let killed = "mpirun noticed that process rank 2 with PID 0 on node x exited on signal 9 (Killed).";
        assert_eq!(mpirun_failed_rank(killed), Some(2));
    }

    #[test]
    fn failures_read_as_a_shell_would() {
        let f = RankFailure { rank: Some(1), code: None, signal: Some(9) };
        assert_eq!(f.exit_code(), 137);
        assert_eq!(f.to_string(), "rank 1 was killed (signal 9)");
    }
}
