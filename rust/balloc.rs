// SPDX-License-Identifier: GPL-2.0
//! Block allocation: per-CPU free lists of block ranges.
//!
//! The device's data area is split into one region per CPU; each region
//! keeps a sorted list of free ranges under its own lock. An allocation
//! tries the caller's CPU region first, then the others. Freed blocks go
//! back to the region that owns them, merging with their neighbours.

use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::Mutex;

/// A sorted set of disjoint, non-adjacent block ranges `(start, len)`.
#[derive(Default)]
pub(crate) struct RangeSet {
    ranges: KVec<(u64, u64)>,
    free: u64,
}

impl RangeSet {
    pub(crate) fn new() -> Self {
        Self {
            ranges: KVec::new(),
            free: 0,
        }
    }

    /// Number of free blocks.
    pub(crate) fn free_blocks(&self) -> u64 {
        self.free
    }

    /// The ranges, sorted.
    pub(crate) fn ranges(&self) -> &[(u64, u64)] {
        &self.ranges
    }

    /// Index of the first range starting after `start`.
    fn upper(&self, start: u64) -> usize {
        self.ranges.partition_point(|r| r.0 <= start)
    }

    /// Adds `[start, start+len)`. Fails with `EINVAL` if it overlaps a free
    /// range (a double free), `ENOMEM` if the list cannot grow.
    pub(crate) fn insert(&mut self, start: u64, len: u64) -> Result {
        if len == 0 {
            return Ok(());
        }
        let end = start.checked_add(len).ok_or(EINVAL)?;
        let i = self.upper(start);
        let prev = i
            .checked_sub(1)
            .and_then(|p| self.ranges.get(p).copied().map(|r| (p, r)));
        let next = self.ranges.get(i).copied();
        if let Some((_, (ps, pl))) = prev {
            if ps + pl > start {
                return Err(EINVAL);
            }
        }
        if let Some((ns, _)) = next {
            if end > ns {
                return Err(EINVAL);
            }
        }
        let merge_prev = matches!(prev, Some((_, (ps, pl))) if ps + pl == start);
        let merge_next = matches!(next, Some((ns, _)) if ns == end);
        match (merge_prev, merge_next, prev) {
            (true, true, Some((p, _))) => {
                let nl = next.map_or(0, |n| n.1);
                if let Some(r) = self.ranges.get_mut(p) {
                    r.1 += len + nl;
                }
                let _ = self.ranges.remove(i);
            }
            (true, false, Some((p, _))) => {
                if let Some(r) = self.ranges.get_mut(p) {
                    r.1 += len;
                }
            }
            (false, true, _) => {
                if let Some(r) = self.ranges.get_mut(i) {
                    r.0 = start;
                    r.1 += len;
                }
            }
            _ => {
                self.ranges.reserve(1, GFP_KERNEL)?;
                self.ranges
                    .insert_within_capacity(i, (start, len))
                    .map_err(|_| ENOMEM)?;
            }
        }
        self.free += len;
        Ok(())
    }

    /// Takes up to `want` contiguous blocks from the first range: returns
    /// `(start, got)` with `1 <= got <= want`, or `None` if empty.
    pub(crate) fn take(&mut self, want: u64) -> Option<(u64, u64)> {
        let first = self.ranges.first_mut()?;
        let got = core::cmp::min(first.1, want);
        let start = first.0;
        first.0 += got;
        first.1 -= got;
        if first.1 == 0 {
            let _ = self.ranges.remove(0);
        }
        self.free -= got;
        Some((start, got))
    }

    /// Removes `[start, start+len)`, which must be entirely free.
    pub(crate) fn remove(&mut self, start: u64, len: u64) -> Result {
        let i = self.upper(start).checked_sub(1).ok_or(EINVAL)?;
        let (rs, rl) = *self.ranges.get(i).ok_or(EINVAL)?;
        let end = start.checked_add(len).ok_or(EINVAL)?;
        if end > rs + rl {
            return Err(EINVAL);
        }
        let tail = rs + rl - end;
        if start == rs {
            if tail == 0 {
                let _ = self.ranges.remove(i);
            } else if let Some(r) = self.ranges.get_mut(i) {
                *r = (end, tail);
            }
        } else {
            if let Some(r) = self.ranges.get_mut(i) {
                r.1 = start - rs;
            }
            if tail != 0 {
                self.ranges.reserve(1, GFP_KERNEL)?;
                self.ranges
                    .insert_within_capacity(i + 1, (end, tail))
                    .map_err(|_| ENOMEM)?;
            }
        }
        self.free -= len;
        Ok(())
    }
}

/// One CPU's region.
#[pin_data]
struct Region {
    start: u64,
    end: u64,
    #[pin]
    free: Mutex<RangeSet>,
}

/// The block allocator of one mounted file system.
pub(crate) struct Allocator {
    regions: KVec<Pin<KBox<Region>>>,
}

impl Allocator {
    /// An allocator for blocks `[first, total)` split into `cpus` regions,
    /// all initially busy (callers free what is free).
    pub(crate) fn new(first: u64, total: u64, cpus: u32) -> Result<Self> {
        let n = u64::from(cpus.max(1));
        let span = (total - first).div_ceil(n);
        let mut regions = KVec::with_capacity(n as usize, GFP_KERNEL)?;
        for i in 0..n {
            let start = first + i * span;
            let end = core::cmp::min(total, start + span);
            let r = KBox::pin_init(
                pin_init!(Region { start, end, free <- new_mutex!(RangeSet::new()) }),
                GFP_KERNEL,
            )?;
            regions.push(r, GFP_KERNEL)?;
        }
        Ok(Self { regions })
    }

    fn region_of(&self, block: u64) -> Option<&Region> {
        self.regions
            .iter()
            .map(|r| &**r)
            .find(|r| block >= r.start && block < r.end)
    }

    /// Frees `[start, start+len)`, splitting at region borders. A double
    /// free or a range outside the data area is reported and refused.
    pub(crate) fn free(&self, start: u64, len: u64) -> Result {
        let mut s = start;
        let end = start.checked_add(len).ok_or(EINVAL)?;
        while s < end {
            let Some(r) = self.region_of(s) else {
                pr_err!("freeing block {} outside the data area\n", s);
                return Err(EIO);
            };
            let e = core::cmp::min(end, r.end);
            if let Err(err) = r.free.lock().insert(s, e - s) {
                pr_err!("double free of blocks {}+{}\n", s, e - s);
                return Err(err);
            }
            s = e;
        }
        Ok(())
    }

    /// Allocates up to `want` contiguous blocks, preferring `cpu`'s region.
    pub(crate) fn alloc(&self, cpu: usize, want: u64) -> Result<(u64, u64)> {
        let n = self.regions.len();
        for k in 0..n {
            if let Some(r) = self.regions.get((cpu + k) % n) {
                if let Some(got) = r.free.lock().take(want) {
                    return Ok(got);
                }
            }
        }
        Err(ENOSPC)
    }

    /// Allocates exactly one block.
    pub(crate) fn alloc_one(&self, cpu: usize) -> Result<u64> {
        self.alloc(cpu, 1).map(|(b, _)| b)
    }

    /// Free blocks in all regions.
    pub(crate) fn free_blocks(&self) -> u64 {
        self.regions
            .iter()
            .map(|r| r.free.lock().free_blocks())
            .sum()
    }

    /// Calls `f` on every free range (regions in order).
    pub(crate) fn for_each_range(&self, mut f: impl FnMut(u64, u64) -> Result) -> Result {
        for r in self.regions.iter() {
            let g = r.free.lock();
            for &(s, l) in g.ranges() {
                f(s, l)?;
            }
        }
        Ok(())
    }

    /// Marks `[start, start+len)` busy (used when loading saved state).
    pub(crate) fn reserve(&self, start: u64, len: u64) -> Result {
        let r = self.region_of(start).ok_or(EIO)?;
        let e = start.checked_add(len).ok_or(EIO)?;
        if e > r.end {
            return Err(EIO);
        }
        r.free.lock().remove(start, len)
    }
}

#[kernel::macros::kunit_tests(nova_balloc)]
mod tests {
    use super::*;

    fn set(r: &[(u64, u64)]) -> RangeSet {
        let mut s = RangeSet::new();
        for &(a, l) in r {
            assert!(s.insert(a, l).is_ok());
        }
        s
    }

    #[test]
    fn merges_both_sides() {
        let mut s = set(&[(10, 5), (20, 5)]);
        assert_eq!(s.ranges().len(), 2);
        assert!(s.insert(15, 5).is_ok());
        assert_eq!(s.ranges(), &[(10, 15)]);
        assert_eq!(s.free_blocks(), 15);
        assert!(s.insert(9, 1).is_ok());
        assert!(s.insert(25, 2).is_ok());
        assert_eq!(s.ranges(), &[(9, 18)]);
    }

    #[test]
    fn refuses_double_free() {
        let mut s = set(&[(10, 5)]);
        assert!(s.insert(12, 1).is_err());
        assert!(s.insert(8, 3).is_err());
        assert!(s.insert(14, 3).is_err());
        assert_eq!(s.free_blocks(), 5);
    }

    #[test]
    fn take_and_remove() {
        let mut s = set(&[(10, 5), (30, 10)]);
        assert_eq!(s.take(3), Some((10, 3)));
        assert_eq!(s.take(9), Some((13, 2)));
        assert_eq!(s.take(4), Some((30, 4)));
        assert!(s.remove(36, 2).is_ok());
        assert_eq!(s.ranges(), &[(34, 2), (38, 2)]);
        assert!(s.remove(34, 3).is_err());
        assert!(s.remove(38, 2).is_ok());
        assert_eq!(s.ranges(), &[(34, 2)]);
        assert_eq!(s.free_blocks(), 2);
        let mut e = RangeSet::new();
        assert_eq!(e.take(1), None);
    }

    #[test]
    fn allocator_regions() {
        let a = Allocator::new(4, 104, 2).unwrap();
        assert!(a.free(4, 100).is_ok());
        assert_eq!(a.free_blocks(), 100);
        let (b, n) = a.alloc(1, 200).unwrap();
        assert_eq!((b, n), (54, 50));
        assert!(a.free(54, 50).is_ok());
        assert!(a.free(60, 1).is_err());
        assert!(a.free(200, 1).is_err());
        assert!(a.reserve(10, 5).is_ok());
        assert_eq!(a.free_blocks(), 95);
    }
}
