//! What a rank is doing: the collective it called ([`Call`]: operation, element type, count, root,
//! sequence number) and its state as other ranks see it in a timeout report ([`RankState`]).
//!
//! Every data message carries its call, so a rank that receives a message of a different call knows at
//! once that the ranks have diverged (desync detection with no extra messages).

use serde::{Deserialize, Serialize};

use crate::element::{DType, ReduceOp};

/// The operation of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OpKind {
    /// `all_reduce`.
    AllReduce,
    /// `broadcast`.
    Broadcast,
    /// `all_gather`.
    AllGather,
    /// `reduce_scatter`.
    ReduceScatter,
    /// `barrier`.
    Barrier,
    /// A point-to-point `send`/`recv` pair.
    SendRecv,
}

impl OpKind {
    /// The method name (`all_reduce`, ...).
    pub fn name(self) -> &'static str {
        match self {
            OpKind::AllReduce => "all_reduce",
            OpKind::Broadcast => "broadcast",
            OpKind::AllGather => "all_gather",
            OpKind::ReduceScatter => "reduce_scatter",
            OpKind::Barrier => "barrier",
            OpKind::SendRecv => "send/recv",
        }
    }

    pub(crate) fn code(self) -> u8 {
        match self {
            OpKind::AllReduce => 1,
            OpKind::Broadcast => 2,
            OpKind::AllGather => 3,
            OpKind::ReduceScatter => 4,
            OpKind::Barrier => 5,
            OpKind::SendRecv => 6,
        }
    }

    pub(crate) fn from_code(code: u8) -> Option<OpKind> {
        Some(match code {
            1 => OpKind::AllReduce,
            2 => OpKind::Broadcast,
            3 => OpKind::AllGather,
            4 => OpKind::ReduceScatter,
            5 => OpKind::Barrier,
            6 => OpKind::SendRecv,
            _ => return None,
        })
    }
}

/// One call of a collective (or one point-to-point message) as every participating rank must agree on
/// it. Shown as `all_reduce(f32, 1048576) #42` or `broadcast(f32, 4096, root 0) #42`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    /// The operation.
    pub op: OpKind,
    /// The element type.
    pub dtype: DType,
    /// Elements per rank: the buffer of `all_reduce`/`broadcast`/`send`, the input of `all_gather`, the
    /// output of `reduce_scatter`.
    pub count: u64,
    /// The root of a broadcast.
    pub root: Option<u32>,
    /// The reduction of `all_reduce`/`reduce_scatter`.
    pub reduce: Option<ReduceOp>,
    /// The call's sequence number: collectives are numbered from 1 in the order a rank calls them
    /// (point-to-point messages separately per pair of ranks).
    pub seq: u64,
}

impl Call {
    /// The `seq`-th call of `op` on `count` elements of `dtype`.
    pub fn new(
        op: OpKind,
        dtype: DType,
        count: usize,
        root: Option<usize>,
        reduce: Option<ReduceOp>,
        seq: u64,
    ) -> Call {
        Call { op, dtype, count: count as u64, root: root.map(|r| r as u32), reduce, seq }
    }
}

impl std::fmt::Display for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.op == OpKind::Barrier {
            return write!(f, "barrier #{}", self.seq);
        }
        write!(f, "{}({}, {}", self.op.name(), self.dtype, self.count)?;
        if let Some(root) = self.root {
            write!(f, ", root {root}")?;
        }
        if let Some(op) = self.reduce
            && op != ReduceOp::Sum
        {
            write!(f, ", {}", op.name())?;
        }
        write!(f, ") #{}", self.seq)
    }
}

/// Where a rank stands, as reported to the others when a collective times out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RankState {
    /// The collective it is inside, if any.
    pub current: Option<Call>,
    /// The number of collectives it has completed.
    pub completed: u64,
}

impl std::fmt::Display for RankState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.current {
            Some(call) => write!(f, "in {call}"),
            None if self.completed == 0 => f.write_str("has called no collective"),
            None => write!(f, "idle after collective #{}", self.completed),
        }
    }
}

/// Each rank's state at a timeout: `(rank, state)`, `None` where the rank did not answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateReport(pub Vec<(usize, Option<RankState>)>);

impl std::fmt::Display for StateReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (rank, state)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            match state {
                Some(s) => write!(f, "rank {rank} {s}")?,
                None => write!(f, "rank {rank} did not answer")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_read_as_the_issue_writes_them() {
        let mut call = Call {
            op: OpKind::AllReduce,
            dtype: DType::F32,
            count: 1048576,
            root: None,
            reduce: Some(ReduceOp::Sum),
            seq: 42,
        };
        assert_eq!(call.to_string(), "all_reduce(f32, 1048576) #42");
        call.reduce = Some(ReduceOp::Max);
        assert_eq!(call.to_string(), "all_reduce(f32, 1048576, max) #42");
        let b = Call { op: OpKind::Broadcast, count: 4096, root: Some(0), reduce: None, ..call };
        assert_eq!(b.to_string(), "broadcast(f32, 4096, root 0) #42");
    }
}
