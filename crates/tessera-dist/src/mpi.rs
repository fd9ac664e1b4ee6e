//! The MPI backend (feature `mpi`): rsmpi on the system's MPI, for jobs started by `mpirun` on one or
//! many machines. MPI runs the algorithms (Open MPI picks them by size and topology); this module checks
//! every argument first, and before each collective gathers every rank's call (a 48-byte fingerprint)
//! so that ranks calling different collectives get [`Error::Desync`] instead of MPI's undefined
//! behaviour. f16 and bf16 travel as f32 (rsmpi has no 2-byte float type; the sums are f32 sums rounded
//! once). A rank that dies ends the whole job: rsmpi runs with `MPI_ERRORS_ARE_FATAL`, and `mpirun`
//! reports the rank.

use half::{bf16, f16};
use mpi::collective::SystemOperation;
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;

use crate::call::{Call, OpKind};
use crate::element::{DType, Element, ReduceOp};
use crate::error::{Error, Result};
use crate::group::{Backend, ProcessGroup};
use crate::options::GroupOptions;

/// One rank's MPI state. The communicator is re-made from the universe for each call (it is a handle
/// that cannot cross threads; the universe can, and MPI is initialised for calls from any thread).
pub(crate) struct MpiComm {
    universe: Universe,
    rank: usize,
    world: usize,
    seq: u64,
    /// The send copy of an all-reduce (rsmpi has no `MPI_IN_PLACE`), kept between calls so that large
    /// all-reduces do not allocate and fault in fresh pages every time.
    scratch: Vec<u64>,
}

impl ProcessGroup {
    /// Joins the job `mpirun` started (MPI is initialised here; it is finalised when the group is
    /// dropped, and cannot be initialised again in the same process).
    pub fn mpi(options: GroupOptions) -> Result<ProcessGroup> {
        options.check()?;
        let (universe, _threading) =
            mpi::initialize_with_threading(mpi::Threading::Serialized).ok_or_else(|| Error::Mpi {
                reason: "MPI is already initialised in this process (one MPI group per process)".into(),
            })?;
        let world_comm = universe.world();
        let (rank, world) = (world_comm.rank() as usize, world_comm.size() as usize);
        let comm = MpiComm { universe, rank, world, seq: 0, scratch: Vec::new() };
        Ok(ProcessGroup::from_backend(rank, world, Backend::Mpi(comm)))
    }
}

fn operation(op: ReduceOp) -> SystemOperation {
    match op {
        ReduceOp::Sum | ReduceOp::Avg => SystemOperation::sum(),
        ReduceOp::Max => SystemOperation::max(),
        ReduceOp::Min => SystemOperation::min(),
    }
}

fn to_f32<T: Element>(v: &[T]) -> Vec<f32> {
    match T::DTYPE {
        DType::F16 => bytemuck::cast_slice::<T, f16>(v).iter().map(|x| x.to_f32()).collect(),
        DType::BF16 => bytemuck::cast_slice::<T, bf16>(v).iter().map(|x| x.to_f32()).collect(),
        _ => Vec::new(),
    }
}

fn from_f32<T: Element>(src: &[f32], dst: &mut [T]) {
    match T::DTYPE {
        DType::F16 => {
            for (d, s) in bytemuck::cast_slice_mut::<T, f16>(dst).iter_mut().zip(src) {
                *d = f16::from_f32(*s);
            }
        }
        DType::BF16 => {
            for (d, s) in bytemuck::cast_slice_mut::<T, bf16>(dst).iter_mut().zip(src) {
                *d = bf16::from_f32(*s);
            }
        }
        _ => {}
    }
}

/// Runs `$body` with `$buf` as a mutable slice of an MPI type: f32, f64 and i64 as they are, 2-byte
/// floats widened to f32 and rounded back afterwards.
macro_rules! with_mpi_slice {
    ($buf:expr, |$s:ident| $body:expr) => {{
        match T::DTYPE {
            DType::F32 => {
                let $s: &mut [f32] = bytemuck::cast_slice_mut($buf);
                $body
            }
            DType::F64 => {
                let $s: &mut [f64] = bytemuck::cast_slice_mut($buf);
                $body
            }
            DType::I64 => {
                let $s: &mut [i64] = bytemuck::cast_slice_mut($buf);
                $body
            }
            DType::F16 | DType::BF16 => {
                let mut wide = to_f32::<T>($buf);
                {
                    let $s: &mut [f32] = &mut wide;
                    $body
                }
                from_f32::<T>(&wide, $buf);
            }
        }
    }};
}

/// Runs `$body` with `$inp` and `$out` as slices of the same MPI type (2-byte floats widened to f32).
macro_rules! with_mpi_pair {
    ($inp:expr, $out:expr, |$a:ident, $b:ident| $body:expr) => {{
        match T::DTYPE {
            DType::F32 => {
                let $a: &[f32] = bytemuck::cast_slice($inp);
                let $b: &mut [f32] = bytemuck::cast_slice_mut($out);
                $body
            }
            DType::F64 => {
                let $a: &[f64] = bytemuck::cast_slice($inp);
                let $b: &mut [f64] = bytemuck::cast_slice_mut($out);
                $body
            }
            DType::I64 => {
                let $a: &[i64] = bytemuck::cast_slice($inp);
                let $b: &mut [i64] = bytemuck::cast_slice_mut($out);
                $body
            }
            DType::F16 | DType::BF16 => {
                let narrow = to_f32::<T>($inp);
                let mut wide = vec![0f32; $out.len()];
                {
                    let $a: &[f32] = &narrow;
                    let $b: &mut [f32] = &mut wide;
                    $body
                }
                from_f32::<T>(&wide, $out);
            }
        }
    }};
}

impl MpiComm {
    fn comm(&self) -> SimpleCommunicator {
        self.universe.world()
    }

    /// Numbers the call and checks that every rank makes the same one.
    fn begin(
        &mut self,
        op: OpKind,
        dtype: DType,
        count: usize,
        root: Option<usize>,
        reduce: Option<ReduceOp>,
    ) -> Result<Call> {
        self.seq += 1;
        let call = Call::new(op, dtype, count, root, reduce, self.seq);
        let mine: [u64; 6] = [
            call.seq,
            u64::from(op.code()),
            u64::from(dtype.code()),
            call.count,
            root.map_or(u64::MAX, |r| r as u64),
            reduce.map_or(0, |r| u64::from(r.code())),
        ];
        let mut all = vec![0u64; 6 * self.world];
        self.comm().all_gather_into(&mine[..], &mut all[..]);
        for (peer, theirs) in all.chunks(6).enumerate() {
            if theirs != mine {
                let decode = || -> Option<Call> {
                    Some(Call {
                        seq: theirs[0],
                        op: OpKind::from_code(u8::try_from(theirs[1]).ok()?)?,
                        dtype: DType::from_code(u8::try_from(theirs[2]).ok()?)?,
                        count: theirs[3],
                        root: (theirs[4] != u64::MAX).then_some(theirs[4] as u32),
                        reduce: ReduceOp::from_code(u8::try_from(theirs[5]).ok()?),
                    })
                };
                return Err(match decode() {
                    Some(peer_call) => Error::Desync { rank: self.rank, call, peer, peer_call },
                    None => Error::Protocol { rank: peer, detail: "an unreadable call fingerprint".into() },
                });
            }
        }
        Ok(call)
    }

    pub(crate) fn all_reduce<T: Element>(&mut self, buf: &mut [T], op: ReduceOp) -> Result<()> {
        self.begin(OpKind::AllReduce, T::DTYPE, buf.len(), None, Some(op))?;
        let comm = self.comm();
        let bytes: &[u8] = bytemuck::cast_slice(buf);
        self.scratch.resize(bytes.len().div_ceil(8), 0);
        let scratch: &mut [u8] = &mut bytemuck::cast_slice_mut(&mut self.scratch)[..bytes.len()];
        scratch.copy_from_slice(bytes);
        let send: &[T] = bytemuck::cast_slice(scratch);
        with_mpi_pair!(send, buf, |a, b| comm.all_reduce_into(a, b, operation(op)));
        if op == ReduceOp::Avg {
            T::divide(buf, self.world);
        }
        Ok(())
    }

    pub(crate) fn broadcast<T: Element>(&mut self, buf: &mut [T], root: usize) -> Result<()> {
        self.begin(OpKind::Broadcast, T::DTYPE, buf.len(), Some(root), None)?;
        let comm = self.comm();
        let root_process = comm.process_at_rank(root as i32);
        with_mpi_slice!(buf, |s| root_process.broadcast_into(s));
        Ok(())
    }

    pub(crate) fn all_gather<T: Element>(&mut self, input: &[T], out: &mut [T]) -> Result<()> {
        self.begin(OpKind::AllGather, T::DTYPE, input.len(), None, None)?;
        let comm = self.comm();
        with_mpi_pair!(input, out, |a, b| comm.all_gather_into(a, b));
        Ok(())
    }

    pub(crate) fn reduce_scatter<T: Element>(
        &mut self,
        input: &[T],
        out: &mut [T],
        op: ReduceOp,
    ) -> Result<()> {
        self.begin(OpKind::ReduceScatter, T::DTYPE, out.len(), None, Some(op))?;
        let comm = self.comm();
        with_mpi_pair!(input, out, |a, b| comm.reduce_scatter_block_into(a, b, operation(op)));
        if op == ReduceOp::Avg {
            T::divide(out, self.world);
        }
        Ok(())
    }

    pub(crate) fn barrier(&mut self) -> Result<()> {
        self.begin(OpKind::Barrier, DType::F32, 0, None, None)?;
        self.comm().barrier();
        Ok(())
    }

    pub(crate) fn send<T: Element>(&mut self, data: &[T], dst: usize) -> Result<()> {
        let comm = self.comm();
        let process = comm.process_at_rank(dst as i32);
        let mut copy = data.to_vec();
        with_mpi_slice!(&mut copy[..], |s| process.send(&s[..]));
        Ok(())
    }

    pub(crate) fn recv<T: Element>(&mut self, out: &mut [T], src: usize) -> Result<()> {
        let comm = self.comm();
        let process = comm.process_at_rank(src as i32);
        let status = {
            let count: usize;
            with_mpi_slice!(out, |s| {
                let st = process.receive_into(s);
                count = st.count(s.as_datatype()) as usize;
            });
            count
        };
        if status != out.len() {
            return Err(Error::invalid(
                format!("the message from rank {src}"),
                format!("{} elements (the receive buffer)", out.len()),
                status,
            ));
        }
        Ok(())
    }
}
