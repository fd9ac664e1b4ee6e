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

use crate::binning::{Binned, MISSING_BIN};

/// Gradient and hessian histogram of one node: `[G, H]` per (feature, bin), 256 bins per feature.
pub(crate) type Hist = Vec<[f64; 2]>;

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

/// Calls `$body` with `$s` bound to the row stride as a constant (the strides [`stride_for`] picks up to
/// 64 bytes), or with `$s = 0` for the run-time stride of wider rows.
macro_rules! with_stride {
    ($stride:expr, $s:ident => $body:expr) => {
        with_stride!(@arms $stride, $s, $body,
            [1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 40 48 56 64])
    };
    (@arms $stride:expr, $s:ident, $body:expr, [$($n:literal)*]) => {
        match $stride {
            $($n => {
                const $s: usize = $n;
                $body
            })*
            _ => {
                const $s: usize = 0;
                $body
            }
        }
    };
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
        let (b, e) = range;
        let rows = self.rows(range, depth);
        let gh = &self.gh[depth % 2][b..e];
        let all = features.len() == self.d && features.iter().enumerate().all(|(i, &f)| i == f);
        let (d, stride) = (self.d, self.stride);
        let block = |lo: usize, hi: usize| {
            let mut out = vec![[0.0f64; 2]; d * 256];
            let gh = &gh[lo..hi];
            with_stride!(stride, S => match rows {
                Rows::Compact(c) => hist_rows::<S>(rows_of::<S>(&c[lo * stride..hi * stride], stride), gh, d, all, features, &mut out),
                Rows::ById { global, ids } => {
                    let by_id = ids[lo..hi].iter().map(|&r| &global[r as usize * stride..(r as usize + 1) * stride]);
                    hist_rows::<S>(by_id, gh, d, all, features, &mut out)
                }
            });
            out
        };
        let m = e - b;
        if m <= BLOCK_ROWS {
            return block(0, m);
        }
        let parts: Vec<Hist> = (0..m.div_ceil(BLOCK_ROWS))
            .into_par_iter()
            .map(|j| block(j * BLOCK_ROWS, ((j + 1) * BLOCK_ROWS).min(m)))
            .collect();
        // Blocks are summed in block order, bins in parallel: the same result for any thread count.
        let mut out = vec![[0.0f64; 2]; d * 256];
        out.par_chunks_mut(256).enumerate().for_each(|(i, o)| {
            for part in &parts {
                for (a, p) in o.iter_mut().zip(&part[i * 256..(i + 1) * 256]) {
                    a[0] += p[0];
                    a[1] += p[1];
                }
            }
        });
        out
    }

    /// Splits the node covering `range` at `depth` on feature `f`: rows whose code `c` has `goes_left[c]`
    /// go left (the missing code included). The children land in the other buffer, left then right, over the same
    /// range. `codes_too` is false when the children will not be split: then only their row ids are moved.
    /// Returns the number of rows going left.
    pub fn split(
        &mut self,
        range: (usize, usize),
        depth: usize,
        f: usize,
        goes_left: &[bool; 256],
        codes_too: bool,
    ) -> usize {
        let (b, e) = range;
        let m = e - b;
        let stride = self.stride;
        let goes_left = |c: u8| goes_left[usize::from(c)];
        // Pass 1: rows going left per block.
        let counts: Vec<usize> = {
            let rows = self.rows(range, depth);
            (0..m.div_ceil(BLOCK_ROWS))
                .into_par_iter()
                .map(|j| {
                    let (lo, hi) = (j * BLOCK_ROWS, ((j + 1) * BLOCK_ROWS).min(m));
                    match rows {
                        Rows::Compact(c) => c[lo * stride..hi * stride]
                            .chunks_exact(stride)
                            .filter(|row| goes_left(row[f]))
                            .count(),
                        Rows::ById { global, ids } => ids[lo..hi]
                            .iter()
                            .filter(|&&r| goes_left(global[r as usize * stride + f]))
                            .count(),
                    }
                })
                .collect()
        };
        let n_left: usize = counts.iter().sum();
        let src_k = depth % 2;
        let (ids_src, ids_dst) = pair(&mut self.ids, src_k);
        let (gh_src, gh_dst) = pair(&mut self.gh, src_k);
        let (codes_src, codes_dst) = pair(&mut self.codes, src_k);
        let rows = if depth > 0 {
            Rows::Compact(&codes_src[b * stride..e * stride])
        } else {
            Rows::ById { global: &self.global, ids: &ids_src[b..e] }
        };
        // Pass 2: each block writes its rows into its own pieces of the left and right ranges.
        let (ids_l, ids_r) = ids_dst[b..e].split_at_mut(n_left);
        let (gh_l, gh_r) = gh_dst[b..e].split_at_mut(n_left);
        let codes_dst: &mut [u8] = if codes_too { &mut codes_dst[b * stride..e * stride] } else { &mut [] };
        let (codes_l, codes_r) = codes_dst.split_at_mut(if codes_too { n_left * stride } else { 0 });
        let mut pieces = Vec::with_capacity(counts.len());
        let (mut il, mut ir, mut gl, mut gr, mut cl, mut cr) = (ids_l, ids_r, gh_l, gh_r, codes_l, codes_r);
        for (block, &nl) in counts.iter().enumerate() {
            let nr = BLOCK_ROWS.min(m - block * BLOCK_ROWS) - nl;
            let (sl, sr) = if codes_too { (nl * stride, nr * stride) } else { (0, 0) };
            pieces.push(Piece {
                ids: (take(&mut il, nl), take(&mut ir, nr)),
                gh: (take(&mut gl, nl), take(&mut gr, nr)),
                codes: (take(&mut cl, sl), take(&mut cr, sr)),
            });
        }
        let (src_ids, src_gh) = (&ids_src[b..e], &gh_src[b..e]);
        pieces.into_par_iter().enumerate().for_each(|(block, piece)| {
            let (lo, hi) = (block * BLOCK_ROWS, ((block + 1) * BLOCK_ROWS).min(m));
            let (ids, gh) = (&src_ids[lo..hi], &src_gh[lo..hi]);
            with_stride!(stride, S => match rows {
                Rows::Compact(c) => {
                    split_block::<S>(ids, gh, rows_of::<S>(&c[lo * stride..hi * stride], stride), stride, f, goes_left, codes_too, piece)
                }
                Rows::ById { global, .. } => {
                    let by_id = ids.iter().map(|&r| &global[r as usize * stride..(r as usize + 1) * stride]);
                    split_block::<S>(ids, gh, by_id, stride, f, goes_left, codes_too, piece)
                }
            });
        });
        n_left
    }
}

/// The side of each code for a split at `bin` (codes up to it go left) with missing values going left
/// when `missing_left`.
pub(crate) fn threshold_sides(bin: usize, missing_left: bool) -> [bool; 256] {
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

/// Moves a block's rows to its pieces. Branch-free, since the side a row takes is unpredictable: each
/// row is written to both sides and only the cursor of its side advances; a side that is full keeps being
/// written at its last slot, which is restored at the end from the last row that really went there.
#[allow(clippy::too_many_arguments)]
fn split_block<'a, const S: usize>(
    ids: &[u32],
    gh: &[[f32; 2]],
    rows: impl Iterator<Item = &'a [u8]>,
    stride: usize,
    f: usize,
    goes_left: impl Fn(u8) -> bool,
    codes_too: bool,
    p: Piece<'_>,
) {
    let stride = if S == 0 { stride } else { S };
    let (nl, nr) = (p.ids.0.len(), p.ids.1.len());
    if nl == 0 || nr == 0 {
        // Every row goes one way: a plain copy.
        let (i, g, c) = if nl == 0 { (p.ids.1, p.gh.1, p.codes.1) } else { (p.ids.0, p.gh.0, p.codes.0) };
        i.copy_from_slice(ids);
        if codes_too {
            g.copy_from_slice(gh);
            for (o, row) in c.chunks_exact_mut(stride).zip(rows) {
                o.copy_from_slice(row);
            }
        }
        return;
    }
    let (cl, cr) = (p.codes.0, p.codes.1);
    let (mut l, mut r) = (0usize, 0usize);
    let (mut last_l, mut last_r) = (0usize, 0usize);
    let (mut row_l, mut row_r): (&[u8], &[u8]) = (&[], &[]);
    for (i, ((&id, &pair), row)) in ids.iter().zip(gh).zip(rows).enumerate() {
        let left = goes_left(row[f]);
        let (li, ri) = (l.min(nl - 1), r.min(nr - 1));
        p.ids.0[li] = id;
        p.ids.1[ri] = id;
        if codes_too {
            p.gh.0[li] = pair;
            p.gh.1[ri] = pair;
            cl[li * stride..(li + 1) * stride].copy_from_slice(row);
            cr[ri * stride..(ri + 1) * stride].copy_from_slice(row);
        }
        (last_l, row_l) = if left { (i, row) } else { (last_l, row_l) };
        (last_r, row_r) = if left { (last_r, row_r) } else { (i, row) };
        l += usize::from(left);
        r += usize::from(!left);
    }
    p.ids.0[nl - 1] = ids[last_l];
    p.ids.1[nr - 1] = ids[last_r];
    if codes_too {
        p.gh.0[nl - 1] = gh[last_l];
        p.gh.1[nr - 1] = gh[last_r];
        cl[(nl - 1) * stride..nl * stride].copy_from_slice(row_l);
        cr[(nr - 1) * stride..nr * stride].copy_from_slice(row_r);
    }
}

/// Adds each row's gradient pair to its bin of every feature: `out` is `d` blocks of 256 bins.
fn hist_rows<'a, const S: usize>(
    rows: impl Iterator<Item = &'a [u8]>,
    gh: &[[f32; 2]],
    d: usize,
    all: bool,
    features: &[usize],
    out: &mut [[f64; 2]],
) {
    let (bins, _) = out.as_chunks_mut::<256>();
    for (row, &[g, h]) in rows.zip(gh) {
        let row = if S == 0 { row } else { &row[..S] };
        let (g, h) = (f64::from(g), f64::from(h));
        if all {
            for (hf, &c) in bins.iter_mut().zip(&row[..d]) {
                let b = &mut hf[usize::from(c)];
                *b = [b[0] + g, b[1] + h];
            }
        } else {
            for &f in features {
                let b = &mut bins[f][usize::from(row[f])];
                *b = [b[0] + g, b[1] + h];
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
        let mut out = vec![[0.0; 2]; bins.edges.len() * 256];
        for &f in features {
            for &r in rows {
                let b = &mut out[f * 256 + usize::from(bins.column(f)[r as usize])];
                b[0] += f64::from(gh[r as usize][0]);
                b[1] += f64::from(gh[r as usize][1]);
            }
        }
        out
    }

    fn close(a: &Hist, b: &Hist) -> bool {
        a.iter().zip(b).all(|(x, y)| (x[0] - y[0]).abs() < 1e-9 && (x[1] - y[1]).abs() < 1e-9)
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
            let derived: Hist = parent.iter().zip(&hl).map(|(p, s)| [p[0] - s[0], p[1] - s[1]]).collect();
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
