// SPDX-License-Identifier: GPL-2.0
//! One leaf of a file's extent index (`extent.rs`): the extents of one
//! aligned span of pages, sorted by their first page, as offsets into the
//! span. A lookup is a binary search in one array, whatever the file's
//! fragmentation; a 4 KiB overwrite of a page that is an extent of its
//! own replaces it where it stands.

use kernel::prelude::*;

/// One extent of a leaf: pages `[off, off + len)` of the span, held by
/// blocks from `block`, written in epoch `born` by the log entry at
/// `entry`. `off + len` never exceeds the span (at most `2^31` pages).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Ext {
    pub(crate) off: u32,
    pub(crate) len: u32,
    pub(crate) block: u64,
    pub(crate) born: u64,
    pub(crate) entry: u64,
}

impl Ext {
    /// The first page past the extent (in the span).
    pub(crate) fn end(&self) -> u32 {
        self.off.saturating_add(self.len)
    }

    /// The part `[lo, hi)` of this extent (which it covers).
    fn part(&self, lo: u32, hi: u32) -> Ext {
        Ext {
            off: lo,
            len: hi.saturating_sub(lo),
            block: self.block + u64::from(lo.saturating_sub(self.off)),
            ..*self
        }
    }
}

/// Index of the first extent of `v` that ends after `off`.
fn first_after(v: &[Ext], off: u32) -> usize {
    v.partition_point(|e| e.end() <= off)
}

/// The extent of `v` that holds page `off`.
pub(crate) fn find(v: &[Ext], off: u32) -> Option<&Ext> {
    v.get(first_after(v, off)).filter(|e| e.off <= off)
}

/// The first extent of `v` that ends after `off`.
pub(crate) fn next(v: &[Ext], off: u32) -> Option<&Ext> {
    v.get(first_after(v, off))
}

/// The last extent of `v` that starts before `off`.
pub(crate) fn last_before(v: &[Ext], off: u32) -> Option<&Ext> {
    v.partition_point(|e| e.off < off)
        .checked_sub(1)
        .and_then(|i| v.get(i))
}

/// How many extents of `v` overlap pages `[lo, hi)`.
pub(crate) fn overlapping(v: &[Ext], lo: u32, hi: u32) -> usize {
    let a = first_after(v, lo);
    v.partition_point(|e| e.off < hi).saturating_sub(a)
}

/// Makes pages `[lo, hi)` of the span `new` (whose `off` is `lo` and `len`
/// is `hi - lo`) or holes (`None`), calling `gone(block, pages, born)` for
/// each part of an extent that leaves, in page order. At most two extents
/// are added (the new one, a split extent's tail); `false`, with nothing
/// changed and nothing reported, when `v` has no room for them.
pub(crate) fn replace(
    v: &mut KVVec<Ext>,
    lo: u32,
    hi: u32,
    new: Option<Ext>,
    mut gone: impl FnMut(u64, u64, u64),
) -> bool {
    let a = first_after(v, lo);
    if let (Some(n), Some(e)) = (new, v.get_mut(a)) {
        if e.off == lo && e.len == n.len {
            // Exactly one extent: replaced where it stands.
            let old = core::mem::replace(e, n);
            gone(old.block, u64::from(old.len), old.born);
            return true;
        }
    }
    let b = v.partition_point(|e| e.off < hi);
    let m = b.saturating_sub(a);
    // What takes the place of `v[a..b]`: the head of the first extent,
    // the new one, the tail of the last.
    let mut put = [Ext::default(); 3];
    let mut q = 0;
    let (first, last) = match (v.get(a), b.checked_sub(1).and_then(|i| v.get(i))) {
        (Some(&f), Some(&l)) if m > 0 => (Some(f), Some(l)),
        _ => (None, None),
    };
    if let Some(f) = first.filter(|f| f.off < lo) {
        put[q] = f.part(f.off, lo);
        q += 1;
    }
    if let Some(n) = new {
        put[q] = n;
        q += 1;
    }
    if let Some(l) = last.filter(|l| l.end() > hi) {
        put[q] = l.part(hi, l.end());
        q += 1;
    }
    if q > m && v.capacity() - v.len() < q - m {
        return false;
    }
    for e in v.get(a..b).unwrap_or(&[]) {
        let (s, t) = (core::cmp::max(e.off, lo), core::cmp::min(e.end(), hi));
        gone(e.part(s, t).block, u64::from(t - s), e.born);
    }
    splice(v, a, m, put.get(..q).unwrap_or(&[]));
    true
}

/// Replaces the `m` extents of `v` from `a` by `put` (room checked).
fn splice(v: &mut KVVec<Ext>, a: usize, m: usize, put: &[Ext]) {
    let q = put.len();
    if q > m {
        for _ in m..q {
            let _ = v.push_within_capacity(Ext::default());
        }
        if let Some(s) = v.get_mut(a..) {
            s.rotate_right(q - m);
        }
    } else if m > q {
        if let Some(s) = v.get_mut(a..) {
            s.rotate_left(m - q);
        }
        v.truncate(v.len() - (m - q));
    }
    // (Element by element: `copy_from_slice` would bring a length
    // check's panic path.)
    for (d, p) in v.iter_mut().skip(a).zip(put) {
        *d = *p;
    }
}

/// Makes the capacity of `v` at least `want` (at most `cap`, the most
/// extents a leaf can hold): doubling while that stays within `cap`,
/// else exactly `cap`. A leaf far bigger than it needs is shrunk, if
/// the allocator can.
pub(crate) fn room(v: &mut KVVec<Ext>, want: usize, cap: usize) -> Result {
    let have = v.capacity();
    if have >= want {
        if have > 64 && have / 4 > want {
            let _ = v.shrink_to(want.saturating_mul(2), GFP_KERNEL);
        }
        return Ok(());
    }
    if have.saturating_mul(2) <= cap {
        v.reserve(want.saturating_sub(v.len()), GFP_KERNEL)?;
        return Ok(());
    }
    let mut bigger = KVVec::with_capacity(cap, GFP_KERNEL)?;
    bigger.extend_from_slice(v, GFP_KERNEL)?;
    *v = bigger;
    Ok(())
}
