// SPDX-License-Identifier: GPL-2.0
//! The file index's queries over ranges and whole files (`extent.rs`,
//! whose child this is): holes and data for reads, `lseek` and
//! fallocate, runs for `fiemap`, every extent for loading and eviction,
//! the entries a log GC keeps.

use super::{at, FileIndex};
use crate::extleaf;
use crate::format::layout::*;
use kernel::prelude::*;

impl FileIndex {
    /// The log addresses of the entries that wrote the extents, in page
    /// order (an entry split in several extents appears as often), into
    /// `out` (cleared first): the write entries a log GC must keep
    /// (`liveness.rs`; it sorts them without holding the index's lock).
    pub(crate) fn entries(&self, out: &mut KVVec<u64>) -> Result {
        out.clear();
        for l in self.leaves.iter() {
            for e in l.ext.iter() {
                out.push(e.entry, GFP_KERNEL)?;
            }
        }
        Ok(())
    }

    /// After a log GC copied the entries to a new log: each extent's
    /// entry address becomes its copy's (`moved`: `(old, new)` pairs
    /// sorted by old address; an address not in it stays). Cannot fail.
    pub(crate) fn remap_entries(&mut self, moved: &[(u64, u64)]) {
        for l in self.leaves.iter_mut() {
            for e in l.ext.iter_mut() {
                if let Ok(i) = moved.binary_search_by_key(&e.entry, |m| m.0) {
                    if let Some(m) = moved.get(i) {
                        e.entry = m.1;
                    }
                }
            }
        }
    }

    /// First mapped page at or after `pg` (for reads over holes).
    pub(crate) fn next_mapped(&self, pg: u64) -> Option<u64> {
        let (span, off) = at(pg, self.shift);
        let from = self.leaf_pos(span).unwrap_or_else(|i| i);
        for l in self.leaves.get(from..)?.iter() {
            let e = if l.span == span {
                extleaf::next(&l.ext, off)
            } else {
                l.ext.first()
            };
            if let Some(e) = e {
                return Some(core::cmp::max(pg, self.first_page(l, e)));
            }
        }
        None
    }

    /// The end of the last extent that starts before page `hi`.
    fn last_end_before(&self, hi: u64) -> Option<u64> {
        let (span, off) = at(hi, self.shift);
        let to = match self.leaf_pos(span) {
            Ok(i) => i + 1,
            Err(i) => i,
        };
        for l in self.leaves.get(..to)?.iter().rev() {
            let e = if l.span == span {
                extleaf::last_before(&l.ext, off)
            } else {
                l.ext.last()
            };
            if let Some(e) = e {
                return Some(self.first_page(l, e) + u64::from(e.len));
            }
        }
        None
    }

    /// The mapped part of pages `[lo, hi)`: from its first mapped page to
    /// the end of its last mapped one (holes between them included), or
    /// `None` when all of it is holes.
    pub(crate) fn mapped_span(&self, lo: u64, hi: u64) -> Option<(u64, u64)> {
        if lo >= hi {
            return None;
        }
        let first = self.next_mapped(lo)?;
        let end = core::cmp::min(self.last_end_before(hi)?, hi);
        (first < hi && end > first).then_some((first, end))
    }

    /// First unmapped page at or after `pg`.
    pub(crate) fn next_hole(&self, pg: u64) -> u64 {
        let mut p = pg;
        while let Some((_, run)) = self.lookup(p) {
            p += run;
        }
        p
    }

    /// `SEEK_DATA` (`data == true`) or `SEEK_HOLE` from `off` in a file of
    /// `size` bytes: the resulting offset, or `None` (ENXIO).
    pub(crate) fn seek(&self, off: u64, size: u64, data: bool) -> Option<u64> {
        if off >= size {
            return None;
        }
        let pg = off >> BLOCK_SHIFT;
        if data {
            if self.lookup(pg).is_some() {
                return Some(off);
            }
            let p = self.next_mapped(pg)?;
            let at = p << BLOCK_SHIFT;
            (at < size).then_some(at)
        } else {
            if self.lookup(pg).is_none() {
                return Some(off);
            }
            Some(core::cmp::min(size, self.next_hole(pg) << BLOCK_SHIFT))
        }
    }

    /// The extents that end after page `pg`, in order, as `(first page,
    /// first block, pages)`, at most `max` of them. The pieces of an
    /// extent that crosses leaves are joined.
    pub(crate) fn runs_after(
        &self,
        pg: u64,
        max: usize,
        out: &mut KVec<(u64, u64, u64)>,
    ) -> Result {
        let from = self.leaf_pos(pg >> self.shift).unwrap_or_else(|i| i);
        for l in self.leaves.get(from..).unwrap_or(&[]).iter() {
            for e in l.ext.iter() {
                let k = self.first_page(l, e);
                let n = u64::from(e.len);
                if k + n <= pg {
                    continue;
                }
                if let Some(last) = out.last_mut() {
                    let joins = e.off == 0
                        && last.0 + last.2 == k
                        && last.1.checked_add(last.2) == Some(e.block);
                    if joins {
                        last.2 += n;
                        continue;
                    }
                }
                if out.len() >= max {
                    return Ok(());
                }
                out.push((k, e.block, n), GFP_KERNEL)?;
            }
        }
        Ok(())
    }

    /// Calls `f(first block, count, epoch)` for every extent (an extent
    /// that crosses leaves, once per leaf).
    pub(crate) fn for_each(&self, mut f: impl FnMut(u64, u64, u64) -> Result) -> Result {
        for l in self.leaves.iter() {
            for e in l.ext.iter() {
                f(e.block, u64::from(e.len), e.born)?;
            }
        }
        Ok(())
    }
}
