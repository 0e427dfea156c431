// SPDX-License-Identifier: GPL-2.0
//! Which data blocks the files in memory use: one bit per block of the
//! device, set while a loaded file's extent index maps the block.
//!
//! A full recovery scan finds two files sharing a block by counting every
//! block's users, but a clean mount and a snapshot mount load inodes one
//! at a time and trust each log by itself. Corrupt media (a `FileWrite`
//! entry aimed at another file's block, checksum fixed) would then let
//! both files map the same block: a write to one changes the other, and
//! two DAX mappings of one page trip the page-cache code. With this map,
//! the second file to be loaded is refused instead (`iget::fill`).
//!
//! The bits follow a loaded index exactly: `iget` claims every extent of
//! a freshly replayed file (or refuses it, claiming nothing), new blocks
//! are claimed when they are allocated (before the commit, so a conflict
//! is an error, not a broken commit), a change clears the blocks it drops
//! before they are released, and eviction clears what is left. The map
//! costs one bit per 4 KiB block (32 MiB of DRAM for 1 TiB of pmem).

use core::sync::atomic::{AtomicU64, Ordering};
use kernel::prelude::*;

/// One bit per block: set while a loaded file maps it.
pub(crate) struct Owners {
    words: KVVec<AtomicU64>,
    blocks: u64,
}

/// The bits of `[b, b + len)` in each 64-bit word they touch: `(word,
/// mask)` pairs (also the free-block bits of `rangeset.rs`).
pub(crate) fn words(b: u64, len: u64) -> impl Iterator<Item = (usize, u64)> {
    let end = b.saturating_add(len);
    let mut at = b;
    core::iter::from_fn(move || {
        if at >= end {
            return None;
        }
        let bit = at % 64;
        let n = core::cmp::min(64 - bit, end - at);
        let mask = if n == 64 {
            u64::MAX
        } else {
            ((1u64 << n) - 1) << bit
        };
        let w = (at / 64) as usize;
        at += n;
        Some((w, mask))
    })
}

impl Owners {
    /// A map that knows no block (before the geometry is read).
    pub(crate) fn empty() -> Self {
        Self {
            words: KVVec::new(),
            blocks: 0,
        }
    }

    /// A map of `blocks` blocks, none used.
    pub(crate) fn new(blocks: u64) -> Result<Self> {
        let n = usize::try_from(blocks.div_ceil(64)).map_err(|_| ENOMEM)?;
        let mut words = KVVec::with_capacity(n, GFP_KERNEL)?;
        for _ in 0..n {
            words
                .push_within_capacity(AtomicU64::new(0))
                .map_err(|_| ENOMEM)?;
        }
        Ok(Self { words, blocks })
    }

    fn in_range(&self, b: u64, len: u64) -> bool {
        b.checked_add(len).is_some_and(|e| e <= self.blocks)
    }

    /// Marks `[b, b + len)` used by one file. If a block of it is already
    /// used (or outside the device), nothing changes and the first such
    /// block is returned.
    pub(crate) fn claim(&self, b: u64, len: u64) -> core::result::Result<(), u64> {
        if !self.in_range(b, len) {
            return Err(if b < self.blocks { self.blocks } else { b });
        }
        for (i, (w, mask)) in words(b, len).enumerate() {
            let old = self.words[w].fetch_or(mask, Ordering::AcqRel);
            if old & mask != 0 {
                // Undo only the bits this call set: the word's others
                // belong to another claim.
                self.words[w].fetch_and(!(mask & !old), Ordering::AcqRel);
                for (w2, m2) in words(b, len).take(i) {
                    self.words[w2].fetch_and(!m2, Ordering::AcqRel);
                }
                let first = (old & mask).trailing_zeros() as u64;
                return Err(w as u64 * 64 + first);
            }
        }
        Ok(())
    }

    /// Marks `[b, b + len)` unused (blocks outside the device are ignored).
    pub(crate) fn clear(&self, b: u64, len: u64) {
        let end = core::cmp::min(b.saturating_add(len), self.blocks);
        if b >= end {
            return;
        }
        for (w, mask) in words(b, end - b) {
            self.words[w].fetch_and(!mask, Ordering::AcqRel);
        }
    }

    /// Whether any block of `[b, b + len)` is used.
    #[cfg(nova_kunit)]
    fn any(&self, b: u64, len: u64) -> bool {
        words(b, len).any(|(w, m)| self.words[w].load(Ordering::Acquire) & m != 0)
    }
}

#[cfg(nova_kunit)]
#[kernel::macros::kunit_tests(nova_owners)]
mod tests {
    use super::*;

    #[test]
    fn claim_and_clear() {
        let o = Owners::new(300).unwrap();
        assert_eq!(o.claim(10, 100), Ok(()));
        assert!(o.any(10, 1) && o.any(109, 1) && !o.any(9, 1) && !o.any(110, 1));
        // Overlapping claims fail at the first shared block and change
        // nothing.
        assert_eq!(o.claim(0, 11), Err(10));
        assert!(!o.any(0, 10));
        assert_eq!(o.claim(100, 50), Err(100));
        assert!(!o.any(110, 40));
        assert_eq!(o.claim(110, 18), Ok(()));
        o.clear(10, 100);
        assert!(!o.any(10, 100) && o.any(110, 18));
        assert_eq!(o.claim(0, 110), Ok(()));
    }

    #[test]
    fn shared_words_keep_other_claims() {
        let o = Owners::new(128).unwrap();
        assert_eq!(o.claim(3, 1), Ok(()));
        assert_eq!(o.claim(5, 1), Ok(()));
        // Sets bit 4, finds 5 used: bit 3 (another claim's) stays.
        assert_eq!(o.claim(4, 2), Err(5));
        assert!(o.any(3, 1) && !o.any(4, 1) && o.any(5, 1));
        // A claim across a word boundary, undone in both words.
        assert_eq!(o.claim(70, 1), Ok(()));
        assert_eq!(o.claim(60, 20), Err(70));
        assert!(!o.any(60, 10) && o.any(70, 1) && !o.any(71, 9));
    }

    #[test]
    fn outside_the_device() {
        let o = Owners::new(100).unwrap();
        assert_eq!(o.claim(99, 2), Err(100));
        assert_eq!(o.claim(200, 1), Err(200));
        assert_eq!(o.claim(u64::MAX, 2), Err(u64::MAX));
        assert!(!o.any(99, 1));
        o.clear(90, 1000);
        assert_eq!(Owners::empty().claim(0, 1), Err(0));
    }
}
