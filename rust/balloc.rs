// SPDX-License-Identifier: GPL-2.0
//! Block allocation: per-CPU free lists of block ranges.
//!
//! The device's data area is split into one region per CPU; each region
//! keeps a sorted list of free ranges under its own lock. An allocation
//! tries the caller's CPU region first, then the others. Freed blocks go
//! back to the region that owns them (`rangeset.rs`: short ones to a
//! stash the next allocations take first, others merging with their
//! neighbours).

use core::sync::atomic::{AtomicU64, Ordering};
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::Mutex;

use crate::rangeset::RangeSet;

/// One CPU's region.
#[pin_data]
struct Region {
    start: u64,
    end: u64,
    #[pin]
    free: Mutex<RangeSet>,
}

/// The block allocator of one mounted file system.
///
/// A few blocks are held back from ordinary allocations (data blocks, new
/// inodes): only log appends may use them, so that the operations that
/// free space (unlink, rmdir, truncate, deleting a snapshot, log GC)
/// still work on a full device.
pub(crate) struct Allocator {
    regions: KVec<Pin<KBox<Region>>>,
    /// Free blocks in all regions.
    free: AtomicU64,
    /// Blocks only `alloc_reserved` may take.
    reserved: u64,
    /// Blocks a free could not record for lack of memory: they stay
    /// allocated until the next mount rebuilds the allocator.
    lost: AtomicU64,
}

/// Blocks held back for log appends on a data area of `blocks` blocks:
/// 1/64 of it, at least 16, at most 1024 (4 MiB).
pub(crate) fn reserve_for(blocks: u64) -> u64 {
    (blocks / 64).clamp(16, 1024)
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
            let set = RangeSet::with_span(start, end.saturating_sub(start))?;
            let r = KBox::pin_init(
                pin_init!(Region { start, end, free <- new_mutex!(set) }),
                GFP_KERNEL,
            )?;
            regions.push(r, GFP_KERNEL)?;
        }
        Ok(Self {
            regions,
            free: AtomicU64::new(0),
            reserved: reserve_for(total.saturating_sub(first)),
            lost: AtomicU64::new(0),
        })
    }

    fn region_of(&self, block: u64) -> Option<&Region> {
        self.regions
            .iter()
            .map(|r| &**r)
            .find(|r| block >= r.start && block < r.end)
    }

    /// Frees `[start, start+len)`, splitting at region borders. A double
    /// free or a range outside the data area is reported and refused. A
    /// range that cannot be recorded for lack of memory is counted in
    /// `lost` (it stays allocated until the next mount rebuilds the
    /// allocator) and is not an error: callers after a commit rely on it.
    pub(crate) fn free(&self, start: u64, len: u64) -> Result {
        let mut s = start;
        let end = start.checked_add(len).ok_or(EINVAL)?;
        while s < end {
            let Some(r) = self.region_of(s) else {
                pr_err!("freeing block {} outside the data area\n", s);
                return Err(EIO);
            };
            let e = core::cmp::min(end, r.end);
            match r.free.lock().insert(s, e - s) {
                Ok(()) => {
                    self.free.fetch_add(e - s, Ordering::Relaxed);
                }
                Err(err) if err == ENOMEM => {
                    self.lost.fetch_add(e - s, Ordering::Relaxed);
                }
                Err(err) => {
                    pr_err!("double free of blocks {}+{}\n", s, e - s);
                    return Err(err);
                }
            }
            s = e;
        }
        Ok(())
    }

    /// Allocates up to `want` contiguous blocks, preferring `cpu`'s
    /// region, leaving the reserved blocks alone.
    pub(crate) fn alloc(&self, cpu: usize, want: u64) -> Result<(u64, u64)> {
        let n = self.claim(want, self.reserved)?;
        self.take(cpu, n)
    }

    /// Allocates up to `want` blocks, the reserved ones too: only for log
    /// appends (see the type's comment).
    pub(crate) fn alloc_reserved(&self, cpu: usize, want: u64) -> Result<(u64, u64)> {
        let n = self.claim(want, 0)?;
        self.take(cpu, n)
    }

    /// Takes up to `want` from the free count, leaving `keep`: concurrent
    /// allocations cannot together dip below it.
    fn claim(&self, want: u64, keep: u64) -> Result<u64> {
        let mut cur = self.free.load(Ordering::Relaxed);
        loop {
            let n = core::cmp::min(want, cur.saturating_sub(keep));
            if n == 0 {
                return Err(ENOSPC);
            }
            match self
                .free
                .compare_exchange(cur, cur - n, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return Ok(n),
                Err(now) => cur = now,
            }
        }
    }

    /// Takes up to `n` claimed blocks from the regions; what it does not
    /// get goes back to the free count.
    fn take(&self, cpu: usize, n: u64) -> Result<(u64, u64)> {
        let k = self.regions.len();
        for i in 0..k {
            if let Some(r) = self.regions.get((cpu + i) % k) {
                if let Some(got) = r.free.lock().take(n) {
                    self.free.fetch_add(n - got.1, Ordering::Relaxed);
                    return Ok(got);
                }
            }
        }
        self.free.fetch_add(n, Ordering::Relaxed);
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

    /// Blocks that frees could not record (see `free`).
    pub(crate) fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }

    /// Free blocks ordinary allocations may take (`statfs`'s available).
    pub(crate) fn available(&self) -> u64 {
        self.free
            .load(Ordering::Relaxed)
            .saturating_sub(self.reserved)
    }

    /// Calls `f` on every free range (regions in order).
    pub(crate) fn for_each_range(&self, mut f: impl FnMut(u64, u64) -> Result) -> Result {
        for r in self.regions.iter() {
            let g = r.free.lock();
            for (s, l) in g.iter() {
                f(s, l)?;
            }
        }
        Ok(())
    }

    /// Whether any block of `[start, start+len)` is free (a block an
    /// inode's log or data uses must not be).
    pub(crate) fn any_free(&self, start: u64, len: u64) -> bool {
        let end = start.saturating_add(len);
        self.regions
            .iter()
            .filter(|r| r.start < end && start < r.end)
            .any(|r| r.free.lock().overlaps(start, len))
    }

    /// Marks `[start, start+len)` busy (used when loading saved state).
    #[cfg(nova_kunit)]
    pub(crate) fn reserve(&self, start: u64, len: u64) -> Result {
        let r = self.region_of(start).ok_or(EIO)?;
        let e = start.checked_add(len).ok_or(EIO)?;
        if e > r.end {
            return Err(EIO);
        }
        r.free.lock().remove(start, len)?;
        self.free.fetch_sub(len, Ordering::Relaxed);
        Ok(())
    }
}

#[cfg(nova_kunit)]
#[kernel::macros::kunit_tests(nova_balloc)]
mod tests {
    use super::*;

    fn ranges(s: &RangeSet) -> KVec<(u64, u64)> {
        let mut v = KVec::new();
        for r in s.iter() {
            v.push(r, GFP_KERNEL).unwrap();
        }
        v
    }

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
        assert_eq!(ranges(&s).len(), 2);
        assert!(s.insert(15, 5).is_ok());
        assert_eq!(ranges(&s).as_slice(), &[(10, 15)]);
        assert_eq!(s.free_blocks(), 15);
        assert!(s.insert(9, 1).is_ok());
        assert!(s.insert(25, 2).is_ok());
        assert_eq!(ranges(&s).as_slice(), &[(9, 18)]);
    }

    #[test]
    fn insert_every_neighbour_case() {
        let mut s = set(&[(10, 5), (30, 5)]);
        // Before the first range, apart and touching (re-keyed).
        assert!(s.insert(2, 2).is_ok());
        assert!(s.insert(7, 3).is_ok());
        // After the last range: apart, then touching it.
        assert!(s.insert(40, 1).is_ok());
        assert!(s.insert(41, 2).is_ok());
        // Between two ranges, touching only the previous one.
        assert!(s.insert(15, 2).is_ok());
        assert_eq!(ranges(&s).as_slice(), &[(2, 2), (7, 10), (30, 5), (40, 3)]);
        assert_eq!(s.free_blocks(), 20);
        // Double frees into the last range and across a first key.
        assert!(s.insert(42, 1).is_err());
        assert!(s.insert(39, 2).is_err());
        assert!(s.insert(6, 2).is_err());
        assert!(s.insert(u64::MAX - 1, 1).is_ok());
        assert!(s.insert(u64::MAX - 2, 2).is_err());
        assert_eq!(s.free_blocks(), 21);
        // Filling the gaps merges all into one range.
        assert!(s.insert(4, 3).is_ok());
        assert!(s.insert(17, 13).is_ok());
        assert!(s.insert(35, 5).is_ok());
        assert_eq!(ranges(&s).as_slice(), &[(2, 41), (u64::MAX - 1, 1)]);
        assert_eq!(s.free_blocks(), 42);
    }

    #[test]
    fn overlaps_free() {
        let s = set(&[(10, 5), (20, 5)]);
        assert!(s.overlaps(10, 1));
        assert!(s.overlaps(14, 1));
        assert!(s.overlaps(5, 6));
        assert!(s.overlaps(15, 6));
        assert!(s.overlaps(0, 100));
        assert!(!s.overlaps(15, 5));
        assert!(!s.overlaps(0, 10));
        assert!(!s.overlaps(25, 10));
        assert!(!RangeSet::new().overlaps(0, 10));
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
        // Blocks come from the end of the first range (no memory needed).
        assert_eq!(s.take(3), Some((12, 3)));
        assert_eq!(s.take(9), Some((10, 2)));
        assert_eq!(s.take(4), Some((36, 4)));
        assert_eq!(ranges(&s).as_slice(), &[(30, 6)]);
        assert!(s.remove(32, 2).is_ok());
        assert_eq!(ranges(&s).as_slice(), &[(30, 2), (34, 2)]);
        assert!(s.remove(30, 3).is_err());
        assert!(s.remove(34, 2).is_ok());
        assert_eq!(ranges(&s).as_slice(), &[(30, 2)]);
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

    #[test]
    fn reserve_is_for_log_appends() {
        let a = Allocator::new(4, 1004, 2).unwrap();
        assert!(a.free(4, 1000).is_ok());
        assert_eq!(reserve_for(1000), 16);
        assert_eq!(a.available(), 984);
        let mut got = 0;
        while let Ok((_, n)) = a.alloc(0, 100) {
            got += n;
        }
        assert_eq!(got, 984);
        assert_eq!(a.alloc_one(1).err(), Some(ENOSPC));
        for _ in 0..16 {
            assert!(a.alloc_reserved(0, 1).is_ok());
        }
        assert!(a.alloc_reserved(0, 1).is_err());
        assert_eq!(a.free_blocks(), 0);
    }
}
