// SPDX-License-Identifier: GPL-2.0
//! The saved free list: the allocator's free ranges, written at clean
//! unmount into free blocks and trusted at the next mount only if it
//! passes every check here.
//!
//! Each block of the chain holds `next` (block number, 0 at the end) u64,
//! `count` u64, then `count` ranges of (start block u64, length u64). The
//! superblock stores the first block and, with `SB_FREELIST_CSUM`, the
//! CRC-32C of the chain: the used bytes of every block (16 + 16 * count)
//! in chain order. Ranges must be sorted, disjoint, non-empty and inside
//! the data area.

use super::crc32c::update;
use super::layout::{BLOCK_SIZE, FIRST_DATA_BLOCK};

/// Ranges one block holds.
pub const PER_BLOCK: u64 = (BLOCK_SIZE - 16) / 16;

/// Why a saved free list was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreeListError {
    /// A chain block outside the data area, or more blocks than the device.
    Block(u64),
    /// A count larger than a block holds.
    Count(u64),
    /// A range out of the data area, empty, overlapping or out of order.
    Range(u64, u64),
    /// The checksum does not match the superblock's.
    Checksum,
}

/// Checks a saved free list as it is read, block by block.
pub struct Checker {
    total: u64,
    blocks: u64,
    prev_end: u64,
    crc: u32,
    free: u64,
}

impl Checker {
    /// A check for a file system of `total` blocks.
    pub fn new(total: u64) -> Self {
        Self {
            total,
            blocks: 0,
            prev_end: FIRST_DATA_BLOCK,
            crc: !0,
            free: 0,
        }
    }

    /// A chain block `b` about to be read (before its contents).
    pub fn block(&mut self, b: u64) -> Result<(), FreeListError> {
        self.blocks += 1;
        if self.blocks > self.total || b < FIRST_DATA_BLOCK || b >= self.total {
            return Err(FreeListError::Block(b));
        }
        Ok(())
    }

    /// The header (`next`, `count`) of the block just entered.
    pub fn header(&mut self, next: u64, count: u64) -> Result<(), FreeListError> {
        if count > PER_BLOCK {
            return Err(FreeListError::Count(count));
        }
        self.crc = update(self.crc, &next.to_le_bytes());
        self.crc = update(self.crc, &count.to_le_bytes());
        Ok(())
    }

    /// The next range of the list.
    pub fn range(&mut self, start: u64, len: u64) -> Result<(), FreeListError> {
        self.crc = update(self.crc, &start.to_le_bytes());
        self.crc = update(self.crc, &len.to_le_bytes());
        let end = start.checked_add(len);
        match end {
            Some(e) if len != 0 && start >= self.prev_end && e <= self.total => {
                self.prev_end = e;
                self.free += len;
                Ok(())
            }
            _ => Err(FreeListError::Range(start, len)),
        }
    }

    /// The checksum of everything seen.
    pub fn csum(&self) -> u32 {
        !self.crc
    }

    /// Blocks the ranges seen so far free.
    pub fn free_blocks(&self) -> u64 {
        self.free
    }

    /// Ends the check against the superblock's checksum.
    pub fn finish(&self, want: u32) -> Result<(), FreeListError> {
        if self.csum() != want {
            return Err(FreeListError::Checksum);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(total: u64, chain: &[(u64, &[(u64, u64)])]) -> Result<u32, FreeListError> {
        let mut c = Checker::new(total);
        for (i, (b, ranges)) in chain.iter().enumerate() {
            c.block(*b)?;
            let next = chain.get(i + 1).map_or(0, |x| x.0);
            c.header(next, ranges.len() as u64)?;
            for &(s, l) in ranges.iter() {
                c.range(s, l)?;
            }
        }
        Ok(c.csum())
    }

    #[test]
    fn good_list_and_checksum() {
        let a = run(100, &[(50, &[(4, 10), (14, 2)]), (60, &[(50, 50)])]).unwrap();
        let b = run(100, &[(50, &[(4, 10), (14, 2)]), (60, &[(50, 50)])]).unwrap();
        assert_eq!(a, b);
        // Any change of a range or a header changes the checksum.
        let c = run(100, &[(50, &[(4, 10), (14, 3)]), (60, &[(50, 50)])]).unwrap();
        assert_ne!(a, c);
        let d = run(100, &[(50, &[(4, 10), (14, 2)]), (61, &[(50, 50)])]).unwrap();
        assert_ne!(a, d);
        let mut k = Checker::new(100);
        assert_eq!(k.finish(a), Err(FreeListError::Checksum));
        k.block(50).unwrap();
        k.header(0, 0).unwrap();
        assert_eq!(k.finish(k.csum()), Ok(()));
    }

    #[test]
    fn bad_lists() {
        // Out of range, empty, overlapping, unsorted, wrapping.
        for r in [
            &[(0u64, 4u64)][..],
            &[(3, 2)],
            &[(90, 11)],
            &[(10, 0)],
            &[(10, 5), (14, 1)],
            &[(20, 5), (10, 1)],
            &[(u64::MAX, 2)],
        ] {
            assert!(
                matches!(run(100, &[(50, r)]), Err(FreeListError::Range(..))),
                "{r:?}"
            );
        }
        // Touching ranges are fine (region borders).
        assert!(run(100, &[(50, &[(10, 5), (15, 1)])]).is_ok());
        assert_eq!(run(100, &[(2, &[])]), Err(FreeListError::Block(2)));
        assert_eq!(run(100, &[(100, &[])]), Err(FreeListError::Block(100)));
        let mut c = Checker::new(100);
        c.block(50).unwrap();
        assert_eq!(c.header(0, 256), Err(FreeListError::Count(256)));
        // A cycle is cut by the block count.
        let mut c = Checker::new(10);
        let mut r = Ok(());
        for _ in 0..20 {
            r = c.block(5);
            if r.is_err() {
                break;
            }
        }
        assert_eq!(r, Err(FreeListError::Block(5)));
    }
}
