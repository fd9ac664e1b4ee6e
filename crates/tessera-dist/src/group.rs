//! [`ProcessGroup`]: the public face of every backend. Arguments are checked here, once, before any
//! message is sent; the backend (a transport-based [`Mesh`] or MPI) then runs the collective.
//!
//! Asynchronous variants hand an owned buffer to the group's communication thread and return a
//! [`Work`] handle; collectives run in the order they are called, synchronous ones after every
//! asynchronous one already queued.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::algo;
use crate::element::{Element, ReduceOp};
use crate::error::{Error, Result};
use crate::mesh::Mesh;
use crate::options::{Fault, GroupOptions};
use crate::transport::threads;

/// The engine a group runs on.
pub(crate) enum Backend {
    /// Threads or TCP.
    Mesh(Box<Mesh>),
    /// MPI.
    #[cfg(feature = "mpi")]
    Mpi(crate::mpi::MpiComm),
}

impl Backend {
    fn name(&self) -> &'static str {
        match self {
            Backend::Mesh(_) => "mesh",
            #[cfg(feature = "mpi")]
            Backend::Mpi(_) => "mpi",
        }
    }
}

/// One dispatch per collective, for the synchronous calls and the communication thread alike.
macro_rules! dispatch {
    ($backend:expr, $mesh:ident => $on_mesh:expr, $mpi:ident => $on_mpi:expr) => {
        match $backend {
            Backend::Mesh($mesh) => $on_mesh,
            #[cfg(feature = "mpi")]
            Backend::Mpi($mpi) => $on_mpi,
        }
    };
}

impl Backend {
    fn all_reduce<T: Element>(&mut self, buf: &mut [T], op: ReduceOp) -> Result<()> {
        dispatch!(self, m => algo::all_reduce(m, buf, op), c => c.all_reduce(buf, op))
    }

    fn broadcast<T: Element>(&mut self, buf: &mut [T], root: usize) -> Result<()> {
        dispatch!(self, m => algo::broadcast(m, buf, root), c => c.broadcast(buf, root))
    }

    fn all_gather<T: Element>(&mut self, input: &[T], out: &mut [T]) -> Result<()> {
        dispatch!(self, m => algo::all_gather(m, input, out), c => c.all_gather(input, out))
    }

    fn reduce_scatter<T: Element>(&mut self, input: &[T], out: &mut [T], op: ReduceOp) -> Result<()> {
        dispatch!(self, m => algo::reduce_scatter(m, input, out, op), c => c.reduce_scatter(input, out, op))
    }

    fn barrier(&mut self) -> Result<()> {
        dispatch!(self, m => algo::barrier(m), c => c.barrier())
    }

    fn send<T: Element>(&mut self, data: &[T], dst: usize) -> Result<()> {
        dispatch!(self, m => m.p2p_send(dst, T::DTYPE, data), c => c.send(data, dst))
    }

    fn recv<T: Element>(&mut self, out: &mut [T], src: usize) -> Result<()> {
        dispatch!(self, m => m.p2p_recv(src, T::DTYPE, out), c => c.recv(out, src))
    }
}

type Job = Box<dyn FnOnce(&mut Backend) + Send>;

/// The communication thread of a group, started by the first asynchronous call.
struct Worker {
    jobs: Option<Sender<Job>>,
    handle: Option<JoinHandle<()>>,
}

struct Inner {
    rank: usize,
    world: usize,
    backend_name: &'static str,
    backend: Arc<Mutex<Backend>>,
    /// Asynchronous jobs queued or running.
    in_flight: Arc<(Mutex<usize>, Condvar)>,
    worker: Mutex<Worker>,
}

/// One rank's membership of a group of `world_size` ranks, and the collectives among them.
///
/// Every rank must call the same collectives in the same order with matching arguments; when they do
/// not, each of them gets [`Error::Desync`] naming both calls. A rank that dies makes the others fail
/// with [`Error::PeerLost`]; a collective that takes longer than the timeout fails with
/// [`Error::Timeout`] naming where every rank stands. After any such error the group is broken.
///
/// ```
/// use tessera_dist::{ProcessGroup, ReduceOp};
///
/// let groups = ProcessGroup::threads(3).unwrap();
/// let sums: Vec<Vec<f32>> = std::thread::scope(|s| {
///     let handles: Vec<_> = groups
///         .iter()
///         .map(|g| {
///             s.spawn(move || {
///                 let mut v = vec![g.rank() as f32; 4];
///                 g.all_reduce(&mut v, ReduceOp::Sum).unwrap();
///                 v
///             })
///         })
///         .collect();
///     handles.into_iter().map(|h| h.join().unwrap()).collect()
/// });
/// assert!(sums.iter().all(|v| v == &[3.0; 4]));
/// ```
///
/// A clone is a second handle on the same group (as a PyTorch process group is shared by reference):
/// calls through either go to the same communicator, and every rank must make them in the same order.
#[derive(Clone)]
pub struct ProcessGroup {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ProcessGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessGroup")
            .field("rank", &self.inner.rank)
            .field("world_size", &self.inner.world)
            .field("backend", &self.inner.backend_name)
            .finish()
    }
}

impl ProcessGroup {
    pub(crate) fn from_backend(rank: usize, world: usize, backend: Backend) -> ProcessGroup {
        ProcessGroup {
            inner: Arc::new(Inner {
                rank,
                world,
                backend_name: backend.name(),
                backend: Arc::new(Mutex::new(backend)),
                in_flight: Arc::new((Mutex::new(0), Condvar::new())),
                worker: Mutex::new(Worker { jobs: None, handle: None }),
            }),
        }
    }

    /// `world_size` in-process ranks sharing memory, one group per rank (rank 0 first): give each to a
    /// thread. For tests, single-machine replicas and fault simulation.
    pub fn threads(world_size: usize) -> Result<Vec<ProcessGroup>> {
        Self::threads_with(world_size, GroupOptions::default(), Vec::new())
    }

    /// [`ProcessGroup::threads`] with options and injected faults.
    pub fn threads_with(
        world_size: usize,
        options: GroupOptions,
        faults: Vec<Fault>,
    ) -> Result<Vec<ProcessGroup>> {
        if world_size == 0 {
            return Err(Error::invalid("world size", "at least 1", 0));
        }
        options.check()?;
        if let Some(f) = faults.iter().find(|f| f.rank >= world_size || f.at == 0) {
            return Err(Error::invalid(
                "fault",
                format!("a rank below {world_size} and a collective from 1"),
                format!("{f:?}"),
            ));
        }
        Ok(threads::group(world_size)
            .into_iter()
            .enumerate()
            .map(|(rank, t)| {
                let mesh = Mesh::new(
                    rank,
                    world_size,
                    Box::new(t),
                    options.clone(),
                    faults.clone(),
                    Duration::from_micros(50),
                );
                ProcessGroup::from_backend(rank, world_size, Backend::Mesh(Box::new(mesh)))
            })
            .collect())
    }

    /// This rank, from 0.
    pub fn rank(&self) -> usize {
        self.inner.rank
    }

    /// The number of ranks.
    pub fn world_size(&self) -> usize {
        self.inner.world
    }

    /// Runs `f` on the backend after every queued asynchronous job.
    fn run<R>(&self, f: impl FnOnce(&mut Backend) -> Result<R>) -> Result<R> {
        let (count, cv) = &*self.inner.in_flight;
        let mut n = count.lock().unwrap_or_else(|e| e.into_inner());
        while *n > 0 {
            n = cv.wait(n).unwrap_or_else(|e| e.into_inner());
        }
        drop(n);
        let mut backend = self.inner.backend.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut backend)
    }

    /// Queues `f` on the communication thread.
    fn submit<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Backend) -> Result<R> + Send + 'static,
    ) -> Work<R> {
        let (tx, rx) = channel();
        let in_flight = Arc::clone(&self.inner.in_flight);
        {
            let mut n = in_flight.0.lock().unwrap_or_else(|e| e.into_inner());
            *n += 1;
        }
        let done = Arc::clone(&in_flight);
        let job: Job = Box::new(move |b: &mut Backend| {
            let _ = tx.send(f(b));
            let (count, cv) = &*done;
            let mut n = count.lock().unwrap_or_else(|e| e.into_inner());
            *n -= 1;
            cv.notify_all();
        });
        let mut worker = self.inner.worker.lock().unwrap_or_else(|e| e.into_inner());
        if worker.jobs.is_none() {
            let (jtx, jrx): (Sender<Job>, Receiver<Job>) = channel();
            let backend = Arc::clone(&self.inner.backend);
            let spawned = std::thread::Builder::new()
                .name(format!("tessera-dist-comm{}", self.inner.rank))
                .spawn(move || {
                    for job in jrx {
                        let mut b = backend.lock().unwrap_or_else(|e| e.into_inner());
                        job(&mut b);
                    }
                });
            match spawned {
                Ok(h) => {
                    worker.jobs = Some(jtx);
                    worker.handle = Some(h);
                }
                Err(_) => {
                    // No thread could be started: run the job here, so the call still completes.
                    let mut b = self.inner.backend.lock().unwrap_or_else(|e| e.into_inner());
                    job(&mut b);
                    return Work { rx };
                }
            }
        }
        if let Some(jobs) = &worker.jobs
            && let Err(returned) = jobs.send(job)
        {
            let mut b = self.inner.backend.lock().unwrap_or_else(|e| e.into_inner());
            (returned.0)(&mut b);
        }
        Work { rx }
    }

    fn check_root(&self, root: usize, what: &str) -> Result<()> {
        if root >= self.inner.world {
            return Err(Error::invalid(
                what,
                format!("a rank below the world size {}", self.inner.world),
                root,
            ));
        }
        Ok(())
    }

    /// Reduces `buf` over all ranks in place: afterwards every rank holds the same bits.
    pub fn all_reduce<T: Element>(&self, buf: &mut [T], op: ReduceOp) -> Result<()> {
        check_op::<T>(op)?;
        self.run(|b| b.all_reduce(buf, op))
    }

    /// Copies `root`'s `buf` into every other rank's.
    pub fn broadcast<T: Element>(&self, buf: &mut [T], root: usize) -> Result<()> {
        self.check_root(root, "broadcast root")?;
        self.run(|b| b.broadcast(buf, root))
    }

    /// Gathers every rank's `input` into `out`, rank 0's first (`out.len() == world_size * input.len()`).
    pub fn all_gather<T: Element>(&self, input: &[T], out: &mut [T]) -> Result<()> {
        let want = input.len().checked_mul(self.inner.world);
        if want != Some(out.len()) {
            return Err(Error::invalid(
                "all_gather output length",
                format!("world size x input length = {} x {}", self.inner.world, input.len()),
                out.len(),
            ));
        }
        self.run(|b| b.all_gather(input, out))
    }

    /// Reduces `input` (`world_size` blocks of `out.len()`) over all ranks and leaves block `rank` in
    /// `out`.
    pub fn reduce_scatter<T: Element>(&self, input: &[T], out: &mut [T], op: ReduceOp) -> Result<()> {
        check_op::<T>(op)?;
        let want = out.len().checked_mul(self.inner.world);
        if want != Some(input.len()) {
            return Err(Error::invalid(
                "reduce_scatter input length",
                format!("world size x output length = {} x {}", self.inner.world, out.len()),
                input.len(),
            ));
        }
        self.run(|b| b.reduce_scatter(input, out, op))
    }

    /// Returns once every rank has called it.
    pub fn barrier(&self) -> Result<()> {
        self.run(Backend::barrier)
    }

    /// Sends `data` to rank `dst`, which must `recv` a buffer of the same length and type.
    pub fn send<T: Element>(&self, data: &[T], dst: usize) -> Result<()> {
        self.check_peer(dst, "send destination")?;
        self.run(|b| b.send(data, dst))
    }

    /// Receives into `out` what rank `src` sends.
    pub fn recv<T: Element>(&self, out: &mut [T], src: usize) -> Result<()> {
        self.check_peer(src, "recv source")?;
        self.run(|b| b.recv(out, src))
    }

    fn check_peer(&self, peer: usize, what: &str) -> Result<()> {
        self.check_root(peer, what)?;
        if peer == self.inner.rank {
            return Err(Error::invalid(what, "another rank", format!("{peer} (this rank)")));
        }
        Ok(())
    }

    /// [`ProcessGroup::all_reduce`] on the communication thread; the handle returns the buffer.
    pub fn all_reduce_async<T: Element>(&self, mut buf: Vec<T>, op: ReduceOp) -> Work<Vec<T>> {
        if let Err(e) = check_op::<T>(op) {
            return Work::ready(Err(e));
        }
        self.submit(move |b| b.all_reduce(&mut buf, op).map(|()| buf))
    }

    /// [`ProcessGroup::broadcast`] on the communication thread.
    pub fn broadcast_async<T: Element>(&self, mut buf: Vec<T>, root: usize) -> Work<Vec<T>> {
        if let Err(e) = self.check_root(root, "broadcast root") {
            return Work::ready(Err(e));
        }
        self.submit(move |b| b.broadcast(&mut buf, root).map(|()| buf))
    }

    /// [`ProcessGroup::all_gather`] on the communication thread; the handle returns the gathered buffer.
    pub fn all_gather_async<T: Element>(&self, input: Vec<T>) -> Work<Vec<T>> {
        let Some(total) = input.len().checked_mul(self.inner.world) else {
            return Work::ready(Err(Error::invalid(
                "all_gather input length",
                "a size that fits memory",
                input.len(),
            )));
        };
        self.submit(move |b| {
            let mut out = vec![T::zeroed(); total];
            b.all_gather(&input, &mut out).map(|()| out)
        })
    }
}

/// `Avg` is for floating-point types.
fn check_op<T: Element>(op: ReduceOp) -> Result<()> {
    if op == ReduceOp::Avg && T::DTYPE == crate::element::DType::I64 {
        return Err(Error::Unsupported {
            what: "ReduceOp::Avg on i64".to_string(),
            reason: "an integer average would round; all-reduce with Sum and divide as you need".to_string(),
        });
    }
    Ok(())
}

impl Drop for Inner {
    fn drop(&mut self) {
        let worker = self.worker.get_mut().unwrap_or_else(|e| e.into_inner());
        worker.jobs = None;
        if let Some(h) = worker.handle.take() {
            let _ = h.join();
        }
    }
}

/// A collective running on the group's communication thread.
#[derive(Debug)]
pub struct Work<T> {
    rx: Receiver<Result<T>>,
}

impl<T> Work<T> {
    fn ready(result: Result<T>) -> Work<T> {
        let (tx, rx) = channel();
        let _ = tx.send(result);
        Work { rx }
    }

    /// Blocks until the collective completes and returns its result.
    pub fn wait(self) -> Result<T> {
        self.rx.recv().unwrap_or_else(|_| {
            Err(Error::Broken {
                first: "the communication thread ended before the collective completed".to_string(),
            })
        })
    }
}
