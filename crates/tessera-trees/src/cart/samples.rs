//! A tree's samples during growth: row ids, targets, weights and (Extra Trees on binned data) code rows,
//! in two buffers alternating by depth, and the branch-free partition that splits a node's range.

use super::data::TrainData;
use super::split::{NodeView, Split, acc};
use crate::binning::with_stride;

/// A tree's training rows with their targets and weights, kept in the same order as the rows are
/// partitioned, so each node's samples are one contiguous range of all three.
/// Extra Trees on binned data also keep each sample's bin codes (row-major, `stride` per row) in that
/// order, so a node's codes are one sequential block instead of a gather per (row, feature).
///
/// Two buffers alternate by depth: a node at depth `k` lives in buffer `(k % 2) ^ flip`, and splitting
/// it writes its children into the other buffer over the same range. Live nodes cover disjoint ranges
/// and children exactly their parent's range, so this holds in any growth order, and no partition has
/// to copy its result back.
pub(super) struct Samples {
    pub(super) bufs: [SampleBuf; 2],
    pub(super) flip: usize,
    pub(super) classification: bool,
    pub(super) stride: usize,
    pub(super) unit_weights: bool,
}

/// One buffer of [`Samples`].
#[derive(Default)]
pub(super) struct SampleBuf {
    pub(super) rows: Vec<u32>,
    pub(super) ys: Vec<f32>,
    pub(super) ws: Vec<f32>,
    pub(super) codes: Vec<u8>,
}

impl Samples {
    /// Samples whose root (at depth `depth`) holds `rows`, with their targets and weights.
    pub(super) fn new(
        rows: Vec<u32>,
        ys: Vec<f32>,
        ws: Vec<f32>,
        classification: bool,
        depth: usize,
    ) -> Self {
        let unit_weights = ws.iter().all(|&w| w == 1.0);
        Samples {
            unit_weights,
            bufs: [SampleBuf { rows, ys, ws, codes: Vec::new() }, SampleBuf::default()],
            flip: depth % 2,
            classification,
            stride: 0,
        }
    }

    pub(super) fn at(&self, depth: usize) -> &SampleBuf {
        &self.bufs[(depth % 2) ^ self.flip]
    }

    pub(super) fn view(&self, start: usize, end: usize, depth: usize) -> NodeView<'_> {
        let (st, b) = (self.stride, self.at(depth));
        NodeView {
            rows: &b.rows[start..end],
            ys: &b.ys[start..end],
            ws: &b.ws[start..end],
            classification: self.classification,
            codes: if st > 0 { &b.codes[start * st..end * st] } else { &[] },
            stride: st,
            unit_weights: self.unit_weights,
        }
    }

    /// The buffer of depth `depth` to read, and the other one (sized like it) to write.
    fn src_dst(&mut self, depth: usize) -> (&SampleBuf, &mut SampleBuf) {
        let i = (depth % 2) ^ self.flip;
        let [b0, b1] = &mut self.bufs;
        let (src, dst) = if i == 0 { (&*b0, b1) } else { (&*b1, b0) };
        if dst.rows.len() < src.rows.len() {
            dst.rows.resize(src.rows.len(), 0);
            dst.ys.resize(src.ys.len(), 0.0);
            dst.ws.resize(src.ws.len(), 0.0);
            dst.codes.resize(src.codes.len(), 0);
        }
        (src, dst)
    }
}

/// Moves the samples of `start..end` going left to the front of the range; returns where the right part
/// starts. Splits on a bin edge read the bin codes (the sample's own code row, or the feature's column).
/// The statistics of both children are accumulated on the way, so the children need no pass of their own.
pub(super) fn partition(
    d: &TrainData,
    samples: &mut Samples,
    start: usize,
    end: usize,
    depth: usize,
    split: &Split,
    k: usize,
) -> (usize, NodeStats, NodeStats) {
    let f = split.feature;
    match (split.bin, &d.bins) {
        (Some(b), _) if samples.stride > 0 => {
            let rule = split.code_rule(b);
            let goes_left = move |_, code_row: &[u8]| rule(code_row[f]);
            let Some(children) = split.children else {
                return with_stride!(samples.stride, S => partition_by::<S, true>(samples, start, end, depth, k, goes_left));
            };
            let (mid, _, _) = with_stride!(samples.stride, S => partition_by::<S, false>(samples, start, end, depth, k, goes_left));
            let [mut left, mut right] = [NodeStats::zeros(k), NodeStats::zeros(k)];
            left.as_mut().copy_from_slice(&children[0][..k]);
            right.as_mut().copy_from_slice(&children[1][..k]);
            (mid, left, right)
        }
        (Some(b), Some(bins)) => {
            let (col, rule) = (bins.column(f), split.code_rule(b));
            partition_by::<0, true>(samples, start, end, depth, k, |r, _| rule(col[r as usize]))
        }
        _ => {
            let (col, rule) = (d.column(f), split.value_rule());
            partition_by::<0, true>(samples, start, end, depth, k, |r, _| rule(col[r as usize]))
        }
    }
}

/// [`partition`] by a predicate on the row id and the sample's code row (empty without code rows),
/// branch-free: every sample is written both at the next left slot (from the front of the range in the
/// children's buffer) and at the next right slot (from its back), and only the cursor of its side
/// advances, so no branch depends on the data. (The right part ends up reversed; order within a node does
/// not matter.) The children's statistics are accumulated when `ACC`, else returned as zeros.
fn partition_by<const S: usize, const ACC: bool>(
    samples: &mut Samples,
    start: usize,
    end: usize,
    depth: usize,
    k: usize,
    goes_left: impl Fn(u32, &[u8]) -> bool,
) -> (usize, NodeStats, NodeStats) {
    let (cls, st) = (samples.classification, samples.stride);
    let m = end - start;
    let mut sides = [NodeStats::zeros(k), NodeStats::zeros(k)];
    let (src, dst) = samples.src_dst(depth);
    let (rows, ys, ws) = (&src.rows[start..end], &src.ys[start..end], &src.ws[start..end]);
    let codes = &src.codes[start * st..end * st];
    let (d_rows, d_ys, d_ws) = (&mut dst.rows[start..end], &mut dst.ys[start..end], &mut dst.ws[start..end]);
    let d_codes = &mut dst.codes[start * st..end * st];
    let (mut l, mut r) = (0usize, m);
    for (i, ((&row, &y), &w)) in rows.iter().zip(ys).zip(ws).enumerate() {
        let code_row = &codes[i * st..(i + 1) * st];
        let left = goes_left(row, code_row);
        (d_rows[l], d_ys[l], d_ws[l]) = (row, y, w);
        (d_rows[r - 1], d_ys[r - 1], d_ws[r - 1]) = (row, y, w);
        if S > 0 {
            // Fixed-size copies: a few moves instead of a `memcpy` call per row.
            let (from, to) = (codes.as_chunks::<S>().0, d_codes.as_chunks_mut::<S>().0);
            // (Copied from the source row each time: a stack temporary of the row made both copies wait
            // on a failed store-to-load forwarding.)
            to[l].copy_from_slice(&from[i]);
            to[r - 1].copy_from_slice(&from[i]);
        } else if st > 0 {
            d_codes[l * st..(l + 1) * st].copy_from_slice(code_row);
            d_codes[(r - 1) * st..r * st].copy_from_slice(code_row);
        }
        l += usize::from(left);
        r -= usize::from(!left);
        if ACC {
            acc(sides[usize::from(!left)].as_mut(), cls, y, w, 1.0);
        }
    }
    let [left, right] = sides;
    (start + l, left, right)
}

/// A node's statistics, on the stack for up to 16 values (most problems), on the heap beyond.
pub(super) struct NodeStats {
    small: [f64; 16],
    large: Vec<f64>,
    k: usize,
}

impl NodeStats {
    pub(super) fn zeros(k: usize) -> Self {
        NodeStats { small: [0.0; 16], large: if k > 16 { vec![0.0; k] } else { Vec::new() }, k }
    }

    pub(super) fn of(node: NodeView<'_>, k: usize) -> Self {
        let mut st = NodeStats::zeros(k);
        for (&y, &w) in node.ys.iter().zip(node.ws) {
            acc(st.as_mut(), node.classification, y, w, 1.0);
        }
        st
    }

    pub(super) fn as_mut(&mut self) -> &mut [f64] {
        if self.k > 16 { &mut self.large } else { &mut self.small[..self.k] }
    }

    pub(super) fn as_slice(&self) -> &[f64] {
        if self.k > 16 { &self.large } else { &self.small[..self.k] }
    }
}
