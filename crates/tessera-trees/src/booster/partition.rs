//! The histogram booster's row partition: each node's row ids, gradient pairs and bin codes (row-major)
//! kept contiguous, so that a deep node's histogram is one sequential pass instead of a cache miss per
//! (row, feature): gathering from columns or by row id was 2x slower on 800,000 x 28 rows.
//!
//! Splitting a node moves its rows into its children stably: the left child's rows first, then the
//! right's, over the parent's range. Two buffers alternate by depth (a node at depth `k` lives in buffer
//! `k % 2`), which works for any expansion order because live nodes cover disjoint ranges and a node's
//! children cover exactly its range. The root reads the row-major codes of all training rows by id.
//! Work is cut into fixed blocks of rows, so every sum is taken in the same order whatever the number
//! of threads.

use rayon::prelude::*;

use super::hist::Hist;
use crate::binning::{Binned, CODES, MISSING_BIN, with_stride};

/// Rows per block of parallel work (histograms and partitions).
const BLOCK_ROWS: usize = 8192;

/// Rows, gradient pairs and row-major bin codes of every node, by range.
pub(crate) struct RowPartition {
    /// Features per row.
    d: usize,
    /// Bytes per row of codes (see [`stride_for`]).
    stride: usize,
    /// Row-major codes of all training rows (`n x stride`).
    global: Vec<u8>,
    codes: [Vec<u8>; 2],
    ids: [Vec<u32>; 2],
    gh: [Vec<[f32; 2]>; 2],
}

/// Where a node's codes are: its own rows in a buffer, or the rows of all training rows by id.
#[derive(Clone, Copy)]
enum Rows<'a> {
    Compact(&'a [u8]),
    ById { global: &'a [u8], ids: &'a [u32] },
}

/// Bytes per row of codes for `d` features: exactly `d` up to 32 (every byte moved costs memory
/// bandwidth), else a multiple of 8.
fn stride_for(d: usize) -> usize {
    if d <= 32 { d.max(1) } else { d.div_ceil(8) * 8 }
}

impl RowPartition {
    /// Lays out the codes of `bins` row-major.
    pub fn new(bins: &Binned) -> Self {
        let (n, d) = (bins.n_rows, bins.edges.len());
        let stride = stride_for(d);
        let mut global = vec![0u8; n * stride];
        global.par_chunks_mut(BLOCK_ROWS * stride).enumerate().for_each(|(block, out)| {
            let first = block * BLOCK_ROWS;
            for f in 0..d {
                let col = &bins.column(f)[first..];
                for (row, &c) in out.chunks_exact_mut(stride).zip(col) {
                    row[f] = c;
                }
            }
        });
        RowPartition {
            d,
            stride,
            global,
            codes: [Vec::new(), Vec::new()],
            ids: [Vec::new(), Vec::new()],
            gh: [Vec::new(), Vec::new()],
        }
    }

    /// Starts a tree: the root holds `rows` (ascending; `None` for all rows) with gradient pairs `gh`
    /// (one per training row). Returns the root's number of rows.
    pub fn start(&mut self, rows: Option<&[u32]>, gh: &[[f32; 2]]) -> usize {
        let n = self.global.len() / self.stride;
        let m = rows.map_or(n, <[u32]>::len);
        for k in 0..2 {
            self.ids[k].resize(m, 0);
            self.gh[k].resize(m, [0.0; 2]);
            self.codes[k].resize(m * self.stride, 0);
        }
        match rows {
            None => {
                self.ids[0].par_iter_mut().enumerate().for_each(|(i, v)| *v = i as u32);
                self.gh[0].par_iter_mut().zip(gh).for_each(|(o, &v)| *o = v);
            }
            Some(rows) => {
                self.ids[0].copy_from_slice(rows);
                self.gh[0].par_iter_mut().zip(rows.par_iter()).for_each(|(o, &r)| *o = gh[r as usize]);
            }
        }
        m
    }

    fn rows(&self, range: (usize, usize), depth: usize) -> Rows<'_> {
        let (b, e) = range;
        if depth > 0 {
            Rows::Compact(&self.codes[depth % 2][b * self.stride..e * self.stride])
        } else {
            Rows::ById { global: &self.global, ids: &self.ids[depth % 2][b..e] }
        }
    }

    /// Training-row ids of the node covering `range` at `depth` (ascending).
    pub fn ids(&self, range: (usize, usize), depth: usize) -> &[u32] {
        &self.ids[depth % 2][range.0..range.1]
    }

    /// The histogram of the node covering `range` at `depth`, over `features` (others stay zero).
    pub fn hist(&self, range: (usize, usize), depth: usize, features: &[usize]) -> Hist {
        self.hists(&[range], depth, features).pop().unwrap_or_default()
    }

    /// The histograms of several nodes at `depth` (disjoint `ranges`), in one parallel pass over their
    /// blocks of rows.
    pub fn hists(&self, ranges: &[(usize, usize)], depth: usize, features: &[usize]) -> Vec<Hist> {
        let all = features.len() == self.d && features.iter().enumerate().all(|(i, &f)| i == f);
        let (d, stride) = (self.d, self.stride);
        let block = |node: usize, lo: usize, hi: usize| {
            let (b, e) = ranges[node];
            let rows = self.rows((b, e), depth);
            let gh = &self.gh[depth % 2][b + lo..b + hi];
            let mut out = Hist::zeros(d);
            with_stride!(stride, S => match rows {
                Rows::Compact(c) => hist_rows::<S>(rows_of::<S>(&c[lo * stride..hi * stride], stride), gh, d, all, features, &mut out),
                Rows::ById { global, ids } if S != 0 => {
                    let (rows, _) = global.as_chunks::<S>();
                    let by_id = ids[lo..hi].iter().map(|&r| rows[r as usize].as_slice());
                    hist_rows::<S>(by_id, gh, d, all, features, &mut out)
                }
                Rows::ById { global, ids } => {
                    let by_id = ids[lo..hi].iter().map(|&r| &global[r as usize * stride..(r as usize + 1) * stride]);
                    hist_rows::<S>(by_id, gh, d, all, features, &mut out)
                }
            });
            out
        };
        let blocks = blocks_of(ranges);
        let mut parts: Vec<Hist> = blocks.par_iter().map(|&(node, lo, hi)| block(node, lo, hi)).collect();
        // Each node's blocks are summed in block order: the same result for any thread count.
        let mut per_node: Vec<Vec<Hist>> = ranges.iter().map(|_| Vec::new()).collect();
        for (&(node, _, _), part) in blocks.iter().zip(parts.drain(..)) {
            per_node[node].push(part);
        }
        per_node
            .into_par_iter()
            .map(|mut parts| {
                let mut out = parts.remove(0);
                for part in &parts {
                    out.add(part);
                }
                out
            })
            .collect()
    }

    /// Splits the node covering `range` at `depth` on feature `f`: rows whose code `c` has `goes_left[c]`
    /// go left (the missing code included). The children land in the other buffer, left then right, over
    /// the same range. `codes_too` is false when the children will not be split: then only their row ids are
    /// moved. Returns the number of rows going left.
    #[cfg(test)]
    pub fn split(
        &mut self,
        range: (usize, usize),
        depth: usize,
        f: usize,
        goes_left: &[bool; CODES],
        codes_too: bool,
    ) -> usize {
        self.split_many(&[SplitJob { range, feature: f, goes_left: *goes_left }], depth, codes_too)[0]
    }

    /// Splits several nodes at `depth` (disjoint ranges, ascending) in one parallel pass over their
    /// blocks of rows; see [`RowPartition::split`]. Returns each node's number of rows going left.
    pub fn split_many(&mut self, jobs: &[SplitJob], depth: usize, codes_too: bool) -> Vec<usize> {
        let stride = self.stride;
        let ranges: Vec<(usize, usize)> = jobs.iter().map(|j| j.range).collect();
        let blocks = blocks_of(&ranges);
        // Pass 1: rows going left per block.
        let counts: Vec<usize> = blocks
            .par_iter()
            .map(|&(node, lo, hi)| {
                let SplitJob { range, feature: f, ref goes_left } = jobs[node];
                match self.rows(range, depth) {
                    // Counted as integers (a 0/1 per row), without a branch on the side.
                    Rows::Compact(c) => {
                        with_stride!(stride, S => rows_of::<S>(&c[lo * stride..hi * stride], stride)
                        .map(|row| usize::from(goes_left[usize::from(row[f])]))
                        .sum())
                    }
                    Rows::ById { global, ids } => ids[lo..hi]
                        .iter()
                        .filter(|&&r| goes_left[usize::from(global[r as usize * stride + f])])
                        .count(),
                }
            })
            .collect();
        let mut n_left = vec![0usize; jobs.len()];
        for (&(node, _, _), &c) in blocks.iter().zip(&counts) {
            n_left[node] += c;
        }
        let src_k = depth % 2;
        let (ids_src, ids_dst) = pair(&mut self.ids, src_k);
        let (gh_src, gh_dst) = pair(&mut self.gh, src_k);
        let (codes_src, codes_dst) = pair(&mut self.codes, src_k);
        let global = &self.global;
        // Pass 2: each block writes its rows into its own pieces of its node's left and right ranges.
        let end = jobs.last().map_or(0, |j| j.range.1);
        let (mut ids_rest, mut gh_rest) = (&mut ids_dst[..end], &mut gh_dst[..end]);
        let mut codes_rest: &mut [u8] = if codes_too { &mut codes_dst[..end * stride] } else { &mut [] };
        let mut pieces = Vec::with_capacity(blocks.len());
        let mut at = 0;
        let mut block_iter = blocks.iter().zip(&counts).peekable();
        for (node, job) in jobs.iter().enumerate() {
            let (b, e) = job.range;
            // Skip the rows between nodes.
            take(&mut ids_rest, b - at);
            take(&mut gh_rest, b - at);
            take(&mut codes_rest, if codes_too { (b - at) * stride } else { 0 });
            let (mut il, mut ir) = take(&mut ids_rest, e - b).split_at_mut(n_left[node]);
            let (mut gl, mut gr) = take(&mut gh_rest, e - b).split_at_mut(n_left[node]);
            let (mut cl, mut cr) = if codes_too {
                take(&mut codes_rest, (e - b) * stride).split_at_mut(n_left[node] * stride)
            } else {
                (&mut [][..], &mut [][..])
            };
            while let Some((&(_, lo, hi), &nl)) = block_iter.next_if(|((n, _, _), _)| *n == node) {
                let nr = hi - lo - nl;
                let (sl, sr) = if codes_too { (nl * stride, nr * stride) } else { (0, 0) };
                pieces.push(Piece {
                    ids: (take(&mut il, nl), take(&mut ir, nr)),
                    gh: (take(&mut gl, nl), take(&mut gr, nr)),
                    codes: (take(&mut cl, sl), take(&mut cr, sr)),
                });
            }
            at = e;
        }
        pieces.into_par_iter().zip(blocks.par_iter()).for_each(|(piece, &(node, lo, hi))| {
            let SplitJob { range: (b, _), feature: f, ref goes_left } = jobs[node];
            let (ids, gh) = (&ids_src[b + lo..b + hi], &gh_src[b + lo..b + hi]);
            with_stride!(stride, S => if S == 0 {
                if depth > 0 {
                    let c = &codes_src[(b + lo) * stride..(b + hi) * stride];
                    split_block_wide(ids, gh, c.chunks_exact(stride), stride, f, goes_left, codes_too, piece)
                } else {
                    let by_id = ids.iter().map(|&r| &global[r as usize * stride..(r as usize + 1) * stride]);
                    split_block_wide(ids, gh, by_id, stride, f, goes_left, codes_too, piece)
                }
            } else if depth > 0 {
                let (rows, _) = codes_src[(b + lo) * S..(b + hi) * S].as_chunks::<S>();
                split_rows::<S>(ids, gh, |i| &rows[i], f, goes_left, codes_too, piece)
            } else {
                let (rows, _) = global.as_chunks::<S>();
                split_rows::<S>(ids, gh, |i| &rows[ids[i] as usize], f, goes_left, codes_too, piece)
            });
        });
        n_left
    }
}

/// One node to split: its rows, the feature and the side of each code (`true`: left).
#[derive(Clone, Copy)]
pub(crate) struct SplitJob {
    pub range: (usize, usize),
    pub feature: usize,
    pub goes_left: [bool; CODES],
}

/// The blocks of rows of the nodes covering `ranges`: (node, first row, end row), rows counted from the
/// node's start, at most [`BLOCK_ROWS`] each.
fn blocks_of(ranges: &[(usize, usize)]) -> Vec<(usize, usize, usize)> {
    let mut blocks = Vec::new();
    for (node, &(b, e)) in ranges.iter().enumerate() {
        let m = e - b;
        blocks.extend(
            (0..m.div_ceil(BLOCK_ROWS).max(1)).map(|j| (node, j * BLOCK_ROWS, ((j + 1) * BLOCK_ROWS).min(m))),
        );
    }
    blocks
}

/// The side of each code for a split at `bin` (codes up to it go left) with missing values going left
/// when `missing_left`.
pub(crate) fn threshold_sides(bin: usize, missing_left: bool) -> [bool; CODES] {
    std::array::from_fn(|c| if c == usize::from(MISSING_BIN) { missing_left } else { c <= bin })
}

/// The first `n` items of `rest`, which keeps the others.
fn take<'a, T>(rest: &mut &'a mut [T], n: usize) -> &'a mut [T] {
    let (head, tail) = std::mem::take(rest).split_at_mut(n);
    *rest = tail;
    head
}

/// The buffer at `src` (read) and the other one (written).
fn pair<T>(bufs: &mut [Vec<T>; 2], src: usize) -> (&[T], &mut [T]) {
    let [a, b] = bufs;
    if src == 0 { (a, b) } else { (b, a) }
}

/// The rows of a contiguous block of codes, `S` bytes each (`stride` when `S` is 0).
fn rows_of<const S: usize>(codes: &[u8], stride: usize) -> std::slice::ChunksExact<'_, u8> {
    codes.chunks_exact(if S == 0 { stride } else { S })
}

/// One block's destinations: (left, right) pieces of ids, gradient pairs and codes.
struct Piece<'a> {
    ids: (&'a mut [u32], &'a mut [u32]),
    gh: (&'a mut [[f32; 2]], &'a mut [[f32; 2]]),
    codes: (&'a mut [u8], &'a mut [u8]),
}

/// Moves a block's rows to their pieces when rows are wider than 64 bytes (no fixed-size kernel): each
/// row goes to the next slot of its side. Without `codes_too` only row ids move.
#[allow(clippy::too_many_arguments)]
fn split_block_wide<'a>(
    ids: &[u32],
    gh: &[[f32; 2]],
    rows: impl Iterator<Item = &'a [u8]>,
    stride: usize,
    f: usize,
    goes_left: &[bool; CODES],
    codes_too: bool,
    p: Piece<'_>,
) {
    let mut sides = [
        (p.ids.0.iter_mut(), p.gh.0.iter_mut(), p.codes.0.chunks_exact_mut(stride)),
        (p.ids.1.iter_mut(), p.gh.1.iter_mut(), p.codes.1.chunks_exact_mut(stride)),
    ];
    for ((&id, &pair), row) in ids.iter().zip(gh).zip(rows) {
        let (i, g, c) = &mut sides[usize::from(!goes_left[usize::from(row[f])])];
        if let Some(slot) = i.next() {
            *slot = id;
        }
        if codes_too && let (Some(slot), Some(code_slot)) = (g.next(), c.next()) {
            *slot = pair;
            code_slot.copy_from_slice(row);
        }
    }
}

/// The fast kernel for rows of `S` bytes, `row(i)` being the block's `i`-th row. Branch-free, since the
/// side a row takes is unpredictable: each row is written to both sides and only the cursor of its side
/// advances (a slot written by a row of the other side is overwritten by the next row that really goes
/// there).
fn split_rows<'a, const S: usize>(
    ids: &[u32],
    gh: &[[f32; 2]],
    row: impl Fn(usize) -> &'a [u8; S],
    f: usize,
    goes_left: &[bool; CODES],
    codes_too: bool,
    p: Piece<'_>,
) {
    if codes_too {
        split_rows_with::<S, true>(ids, gh, row, f, goes_left, p)
    } else {
        split_rows_with::<S, false>(ids, gh, row, f, goes_left, p)
    }
}

fn split_rows_with<'a, const S: usize, const MOVE_CODES: bool>(
    ids: &[u32],
    gh: &[[f32; 2]],
    row: impl Fn(usize) -> &'a [u8; S],
    f: usize,
    goes_left: &[bool; CODES],
    p: Piece<'_>,
) {
    let Piece { ids: (il, ir), gh: (gl, gr), codes: (cl, cr) } = p;
    let (cl, _) = cl.as_chunks_mut::<S>();
    let (cr, _) = cr.as_chunks_mut::<S>();
    let (nl, nr, m) = (il.len(), ir.len(), ids.len());
    if nl == 0 || nr == 0 {
        // Every row goes one way: a plain copy.
        let (i, g, c) = if nl == 0 { (ir, gr, cr) } else { (il, gl, cl) };
        i.copy_from_slice(ids);
        if MOVE_CODES {
            g.copy_from_slice(gh);
            for (k, o) in c.iter_mut().enumerate() {
                *o = *row(k);
            }
        }
        return;
    }
    let gh = &gh[..m];
    let f = f.min(S - 1);
    let (gl, gr) = (&mut gl[..nl], &mut gr[..nr]);
    let (cl, cr) = if MOVE_CODES { (&mut cl[..nl], &mut cr[..nr]) } else { (cl, cr) };
    let (mut l, mut r, mut i) = (0usize, 0usize, 0usize);
    // In runs as long as the room left on the fuller side, both cursors stay in bounds whatever the rows
    // do, so no write needs clamping; once a side is full, the remaining rows all go to the other.
    while i < m {
        let run = (nl - l).min(nr - r);
        if run == 0 {
            let (side_ids, side_gh, side_codes, at) = if l < nl { (il, gl, cl, l) } else { (ir, gr, cr, r) };
            side_ids[at..].copy_from_slice(&ids[i..]);
            if MOVE_CODES {
                side_gh[at..].copy_from_slice(&gh[i..]);
                for (k, o) in side_codes[at..].iter_mut().enumerate() {
                    *o = *row(i + k);
                }
            }
            return;
        }
        for k in i..i + run {
            let code_row = row(k);
            let left = goes_left[usize::from(code_row[f])];
            il[l] = ids[k];
            ir[r] = ids[k];
            if MOVE_CODES {
                gl[l] = gh[k];
                gr[r] = gh[k];
                cl[l] = *code_row;
                cr[r] = *code_row;
            }
            l += usize::from(left);
            r += usize::from(!left);
        }
        i += run;
    }
}

/// Features whose histograms are filled in one pass over a block's rows: ten features' bins (40 KiB)
/// stay in L1, where all of a row's features (80 KiB for 20) would not; 8-12% faster on 20 features, and
/// every bin still adds its rows in row order.
const HIST_GROUP: usize = 10;

/// Adds each row's gradient pair to its bin of every feature: `out` is `d` blocks of [`CODES`] bins.
fn hist_rows<'a, const S: usize>(
    rows: impl Iterator<Item = &'a [u8]> + Clone,
    gh: &[[f32; 2]],
    d: usize,
    all: bool,
    features: &[usize],
    out: &mut Hist,
) {
    let (bins, _) = out.cells_mut().as_chunks_mut::<CODES>();
    if all {
        for (group, first) in bins[..d].chunks_mut(HIST_GROUP).zip((0..d).step_by(HIST_GROUP)) {
            for (row, &[g, h]) in rows.clone().zip(gh) {
                let row = if S == 0 { row } else { &row[..S] };
                let (g, h) = (f64::from(g), f64::from(h));
                for (hf, &c) in group.iter_mut().zip(&row[first..]) {
                    let b = &mut hf[usize::from(c)];
                    *b = [b[0] + g, b[1] + h];
                }
            }
        }
    } else {
        for group in features.chunks(HIST_GROUP) {
            for (row, &[g, h]) in rows.clone().zip(gh) {
                let (g, h) = (f64::from(g), f64::from(h));
                for &f in group {
                    let b = &mut bins[f][usize::from(row[f])];
                    *b = [b[0] + g, b[1] + h];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binning::MISSING_BIN;
    use tessera_tensor::SeededRng;

    /// Codes, column-major, and gradient pairs of `n` random rows with `d` features (some missing).
    fn data(n: usize, d: usize) -> (Binned, Vec<[f32; 2]>) {
        let mut rng = SeededRng::new(3);
        let cols: Vec<f32> = (0..n * d).map(|i| if i % 37 == 0 { f32::NAN } else { rng.normal() }).collect();
        let gh = (0..n).map(|_| [rng.normal(), rng.uniform()]).collect();
        (Binned::new(&cols, n), gh)
    }

    fn direct(bins: &Binned, gh: &[[f32; 2]], rows: &[u32], features: &[usize]) -> Hist {
        let mut out = Hist::zeros(bins.edges.len());
        for &f in features {
            for &r in rows {
                let b = &mut out.cells_mut()[f * CODES + usize::from(bins.column(f)[r as usize])];
                b[0] += f64::from(gh[r as usize][0]);
                b[1] += f64::from(gh[r as usize][1]);
            }
        }
        out
    }

    fn close(a: &Hist, b: &Hist) -> bool {
        a.cells().iter().zip(b.cells()).all(|(x, y)| (x[0] - y[0]).abs() < 1e-9 && (x[1] - y[1]).abs() < 1e-9)
    }

    /// Histogram subtraction: parent minus the smaller child equals the larger child built directly,
    /// and every histogram equals one gathered from the feature columns; rows of 4 and 11 bytes (exact), 40
    /// (a multiple of 8) and 72 (the run-time stride).
    #[test]
    fn split_children_match_direct_histograms() {
        for (n, d) in [(20_000, 4), (5000, 11), (3000, 40), (2000, 70)] {
            let (bins, gh) = data(n, d);
            let mut part = RowPartition::new(&bins);
            let features: Vec<usize> = (0..d).collect();
            let m = part.start(None, &gh);
            let all: Vec<u32> = (0..n as u32).collect();
            let parent = part.hist((0, m), 0, &features);
            assert!(close(&parent, &direct(&bins, &gh, &all, &features)));
            let n_left = part.split((0, m), 0, 1, &threshold_sides(100, true), true);
            let (left, right): (Vec<u32>, Vec<u32>) = all.iter().partition(|&&r| {
                let c = bins.column(1)[r as usize];
                c == MISSING_BIN || c <= 100
            });
            assert_eq!(n_left, left.len());
            assert_eq!(part.ids((0, n_left), 1), &left[..]);
            assert_eq!(part.ids((n_left, m), 1), &right[..]);
            let hl = part.hist((0, n_left), 1, &features);
            let hr = part.hist((n_left, m), 1, &features);
            assert!(close(&hl, &direct(&bins, &gh, &left, &features)));
            let derived = parent.minus(&hl);
            assert!(close(&derived, &hr));
            // A grandchild, back in the first buffer, on a feature subset.
            let n_ll = part.split((0, n_left), 1, 0, &threshold_sides(90, false), true);
            let ll: Vec<u32> = left
                .iter()
                .copied()
                .filter(|&r| {
                    let c = bins.column(0)[r as usize];
                    c != MISSING_BIN && c <= 90
                })
                .collect();
            assert_eq!(part.ids((0, n_ll), 2), &ll[..]);
            let subset = [0, d - 1];
            assert!(close(&part.hist((0, n_ll), 2, &subset), &direct(&bins, &gh, &ll, &subset)));
        }
    }

    /// Splitting a level's nodes in one call (with gaps: nodes that became leaves) moves the same rows
    /// as splitting each, and batched histograms equal direct ones.
    #[test]
    fn batched_splits_and_histograms() {
        let (bins, gh) = data(30_000, 6);
        let features: Vec<usize> = (0..6).collect();
        let expect = |rows: &[u32], f: usize, bin: u8, missing_left: bool| -> (Vec<u32>, Vec<u32>) {
            rows.iter().partition(|&&r| {
                let c = bins.column(f)[r as usize];
                if c == MISSING_BIN { missing_left } else { c <= bin }
            })
        };
        let job = |range, feature, bin, missing_left| SplitJob {
            range,
            feature,
            goes_left: threshold_sides(bin, missing_left),
        };
        let mut part = RowPartition::new(&bins);
        let m = part.start(None, &gh);
        let all: Vec<u32> = (0..m as u32).collect();
        let n = part.split((0, m), 0, 1, &threshold_sides(80, true), true);
        let (a, b) = expect(&all, 1, 80, true);
        // Depth 1: both children at once.
        let lefts = part.split_many(&[job((0, n), 2, 120, false), job((n, m), 4, 30, true)], 1, true);
        let ((al, ar), (bl, br)) = (expect(&a, 2, 120, false), expect(&b, 4, 30, true));
        assert_eq!(lefts, [al.len(), bl.len()]);
        let ranges = [(0, al.len()), (al.len(), n), (n, n + bl.len()), (n + bl.len(), m)];
        for (range, rows) in ranges.iter().zip([&al, &ar, &bl, &br]) {
            assert_eq!(part.ids(*range, 2), &rows[..]);
        }
        // Depth 2: the first and last grandchildren (the middle two are leaves).
        let lefts = part.split_many(&[job(ranges[0], 3, 60, false), job(ranges[3], 5, 200, true)], 2, true);
        let ((all_, alr), (brl, brr)) = (expect(&al, 3, 60, false), expect(&br, 5, 200, true));
        assert_eq!(lefts, [all_.len(), brl.len()]);
        let (s0, s3) = (ranges[0].0, ranges[3].0);
        let out =
            [(s0, s0 + lefts[0]), (s0 + lefts[0], ranges[0].1), (s3, s3 + lefts[1]), (s3 + lefts[1], m)];
        let hists = part.hists(&out, 3, &features);
        for ((range, rows), hist) in out.iter().zip([&all_, &alr, &brl, &brr]).zip(&hists) {
            assert_eq!(part.ids(*range, 3), &rows[..]);
            assert!(close(hist, &direct(&bins, &gh, rows, &features)));
        }
    }

    /// A subsampled root gathers its rows' codes and gradient pairs.
    #[test]
    fn subsampled_root() {
        let (bins, gh) = data(30_000, 5);
        let mut part = RowPartition::new(&bins);
        let rows: Vec<u32> = (0..30_000).filter(|r| r % 3 != 1).collect();
        let features = [0, 1, 2, 3, 4];
        let m = part.start(Some(&rows), &gh);
        assert_eq!(m, rows.len());
        assert!(close(&part.hist((0, m), 0, &features), &direct(&bins, &gh, &rows, &features)));
        let n_left = part.split((0, m), 0, 4, &threshold_sides(30, false), false);
        let left: Vec<u32> = rows
            .iter()
            .copied()
            .filter(|&r| {
                let c = bins.column(4)[r as usize];
                c != MISSING_BIN && c <= 30
            })
            .collect();
        assert_eq!(part.ids((0, n_left), 1), &left[..]);
    }
}
