//! Binomial-tree broadcast (segmented: each segment is forwarded to the children as it arrives) and
//! the dissemination barrier (`ceil(log2 n)` rounds of empty messages to `rank + 2^k`).

use super::segments;
use crate::call::Call;
use crate::element::Element;
use crate::error::Result;
use crate::mesh::Mesh;

/// Broadcast of `buf` from `root` (world > 1).
pub(crate) fn broadcast<T: Element>(m: &mut Mesh, call: &Call, buf: &mut [T], root: usize) -> Result<()> {
    let n = m.world;
    let vr = (m.rank + n - root) % n;
    let mut mask = 1;
    let mut parent = None;
    while mask < n {
        if vr & mask != 0 {
            parent = Some((vr - mask + root) % n);
            break;
        }
        mask <<= 1;
    }
    let mut children = Vec::new();
    mask >>= 1;
    while mask > 0 {
        if vr + mask < n {
            children.push((vr + mask + root) % n);
        }
        mask >>= 1;
    }
    for (lo, hi) in segments((0, buf.len()), m.segment::<T>()) {
        if let Some(p) = parent {
            m.recv_into(p, call, &mut buf[lo..hi])?;
        }
        for &c in &children {
            m.send(c, call, &buf[lo..hi])?;
        }
    }
    Ok(())
}

/// Dissemination barrier (world > 1).
pub(crate) fn barrier(m: &mut Mesh, call: &Call) -> Result<()> {
    let n = m.world;
    let mut k = 1;
    while k < n {
        m.send::<f32>((m.rank + k) % n, call, &[])?;
        let f = m.recv::<f32>((m.rank + n - k) % n, call, 0)?;
        m.recycle(f);
        k <<= 1;
    }
    Ok(())
}
