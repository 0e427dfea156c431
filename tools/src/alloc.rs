// SPDX-License-Identifier: GPL-2.0
//! A model of the module's block allocator (`rust/balloc.rs`), exact in
//! what decides placement, so that `mkfs.nova` puts the first log pages and
//! the saved free list where `mount -o init` and the unmount after it do:
//!
//! - the data area `[first, total)` is split into `regions` regions of
//!   `ceil((total - first) / regions)` blocks (the last ones may be short or
//!   empty);
//! - each region keeps maximal free runs, merged on free, never across a
//!   region border;
//! - an allocation for CPU `c` looks at regions `c, c+1, ...` (wrapping)
//!   and takes the *last* blocks of the first run of the first region that
//!   has one;
//! - ordinary allocations leave `reserve_for(total - first)` blocks alone,
//!   log-page allocations may use them.

use std::collections::BTreeMap;

/// Why an allocator operation failed.
#[derive(Debug, PartialEq, Eq)]
pub enum AllocError {
    /// No free block (counting the reserve for ordinary allocations).
    NoSpace,
    /// A free of a free block, or of a block outside the data area.
    BadFree(u64),
}

struct Region {
    start: u64,
    end: u64,
    runs: BTreeMap<u64, u64>,
}

/// Blocks held back for log appends (the module's `reserve_for`).
pub fn reserve_for(blocks: u64) -> u64 {
    (blocks / 64).clamp(16, 1024)
}

/// The allocator model.
pub struct Allocator {
    regions: Vec<Region>,
    free: u64,
    reserved: u64,
}

impl Allocator {
    /// All blocks of `[first, total)` busy, in `regions` regions.
    pub fn new(first: u64, total: u64, regions: u32) -> Self {
        let n = u64::from(regions.max(1));
        let span = total.saturating_sub(first).div_ceil(n);
        let regions = (0..n)
            .map(|i| {
                let start = first + i * span;
                Region {
                    start,
                    end: total.min(start + span),
                    runs: BTreeMap::new(),
                }
            })
            .collect();
        Self {
            regions,
            free: 0,
            reserved: reserve_for(total.saturating_sub(first)),
        }
    }

    /// Frees `[start, start + len)`, split at region borders.
    pub fn free(&mut self, start: u64, len: u64) -> Result<(), AllocError> {
        let end = start.checked_add(len).ok_or(AllocError::BadFree(start))?;
        let mut s = start;
        while s < end {
            let r = self
                .regions
                .iter_mut()
                .find(|r| s >= r.start && s < r.end)
                .ok_or(AllocError::BadFree(s))?;
            let e = end.min(r.end);
            insert(&mut r.runs, s, e - s)?;
            self.free += e - s;
            s = e;
        }
        Ok(())
    }

    /// An ordinary allocation of up to `want` blocks for CPU `cpu`.
    pub fn alloc(&mut self, cpu: usize, want: u64) -> Result<(u64, u64), AllocError> {
        self.claim_take(cpu, want, self.reserved)
    }

    /// A log-page allocation (may use the reserve).
    pub fn alloc_reserved(&mut self, cpu: usize, want: u64) -> Result<(u64, u64), AllocError> {
        self.claim_take(cpu, want, 0)
    }

    fn claim_take(&mut self, cpu: usize, want: u64, keep: u64) -> Result<(u64, u64), AllocError> {
        let n = want.min(self.free.saturating_sub(keep));
        if n == 0 {
            return Err(AllocError::NoSpace);
        }
        let k = self.regions.len();
        for i in 0..k {
            let r = &mut self.regions[(cpu + i) % k];
            let Some((&start, &len)) = r.runs.iter().next() else {
                continue;
            };
            let got = len.min(n);
            if got < len {
                r.runs.insert(start, len - got);
            } else {
                r.runs.remove(&start);
            }
            self.free -= got;
            return Ok((start + len - got, got));
        }
        Err(AllocError::NoSpace)
    }

    /// Free blocks.
    pub fn free_blocks(&self) -> u64 {
        self.free
    }

    /// The free runs, regions in order, each region's runs in order (the
    /// order of the saved free list).
    pub fn ranges(&self) -> Vec<(u64, u64)> {
        self.regions
            .iter()
            .flat_map(|r| r.runs.iter().map(|(&s, &l)| (s, l)))
            .collect()
    }
}

/// Inserts a run into a region's map, merging with its neighbours.
fn insert(runs: &mut BTreeMap<u64, u64>, start: u64, len: u64) -> Result<(), AllocError> {
    if len == 0 {
        return Ok(());
    }
    let end = start + len;
    let prev = runs.range(..=start).next_back().map(|(&s, &l)| (s, l));
    let next = runs.range(start + 1..).next().map(|(&s, &l)| (s, l));
    if prev.is_some_and(|(s, l)| s + l > start) || next.is_some_and(|(s, _)| s < end) {
        return Err(AllocError::BadFree(start));
    }
    let (mut s, mut e) = (start, end);
    if let Some((ps, pl)) = prev.filter(|&(ps, pl)| ps + pl == start) {
        runs.remove(&ps);
        s = ps;
        debug_assert!(ps + pl == start);
    }
    if let Some((ns, nl)) = next.filter(|&(ns, _)| ns == end) {
        runs.remove(&ns);
        e = ns + nl;
    }
    runs.insert(s, e - s);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_and_placement() {
        // 4 + 2 * 50 blocks: regions [4, 54) and [54, 104).
        let mut a = Allocator::new(4, 104, 2);
        a.free(4, 100).unwrap();
        assert_eq!(a.ranges(), vec![(4, 50), (54, 50)]);
        assert_eq!(a.alloc_reserved(0, 1), Ok((53, 1)));
        assert_eq!(a.alloc_reserved(1, 1), Ok((103, 1)));
        assert_eq!(a.free(53, 1), Ok(()));
        assert_eq!(a.free(53, 1), Err(AllocError::BadFree(53)));
        assert_eq!(a.ranges(), vec![(4, 50), (54, 49)]);
        assert_eq!(a.free(200, 1), Err(AllocError::BadFree(200)));
        // The reserve (16 here) stops ordinary allocations, not log pages.
        let mut b = Allocator::new(4, 24, 1);
        b.free(4, 20).unwrap();
        assert_eq!(b.alloc(0, 10), Ok((20, 4)));
        assert_eq!(b.alloc(0, 1), Err(AllocError::NoSpace));
        assert_eq!(b.alloc_reserved(0, 1), Ok((19, 1)));
    }

    #[test]
    fn tiny_regions() {
        // 60 data blocks in 64 regions: one block each, the last empty.
        let mut a = Allocator::new(4, 64, 64);
        a.free(4, 60).unwrap();
        assert_eq!(a.ranges().len(), 60);
        assert_eq!(a.alloc_reserved(0, 1), Ok((4, 1)));
        assert_eq!(a.alloc_reserved(0, 1), Ok((5, 1)));
        assert_eq!(a.alloc_reserved(63, 1), Ok((6, 1)));
    }
}
