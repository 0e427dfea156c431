// SPDX-License-Identifier: GPL-2.0
//! The inode table: a chain of 4 KiB pages of 31 inode slots each, grown a
//! page at a time. DRAM keeps the page addresses (to find a slot without a
//! walk) and the free inode numbers.

use crate::format::layout::*;
use crate::format::le::Pod;
use crate::pm::Pm;
use kernel::prelude::*;

/// Byte address of inode `ino`'s slot if its table page is `page_block`.
pub(crate) fn slot_addr_in(page_block: u64, ino: u64) -> u64 {
    page_block * BLOCK_SIZE + inode_slot(ino).1
}

/// Initialises a fresh table page (empty slots, tail with magic, no next).
pub(crate) fn init_page(pm: &Pm, block: u64) -> Result {
    pm.zero(block * BLOCK_SIZE, BLOCK_SIZE)?;
    let mut t = PageTail::from_bytes(&[0u8; 64]).ok_or(EINVAL)?;
    t.magic.set(ITABLE_MAGIC);
    pm.write(block * BLOCK_SIZE + ITABLE_TAIL_OFFSET, t.as_bytes())?;
    pm.fence();
    Ok(())
}

/// DRAM state of the inode table.
pub(crate) struct ITable {
    pages: KVec<u64>,
    free: KVec<u64>,
    used: u64,
}

impl ITable {
    pub(crate) fn new() -> Self {
        Self {
            pages: KVec::new(),
            free: KVec::new(),
            used: 0,
        }
    }

    pub(crate) fn pages(&self) -> &[u64] {
        &self.pages
    }

    pub(crate) fn free_count(&self) -> u64 {
        self.free.len() as u64
    }

    pub(crate) fn used(&self) -> u64 {
        self.used
    }

    /// Walks the table chain: collects the pages and the free slots.
    /// Refuses a chain that leaves the device, repeats, or lacks magic.
    pub(crate) fn load(&mut self, pm: &Pm, blocks: u64) -> Result {
        self.pages.clear();
        self.free.clear();
        self.used = 0;
        // Each block may be visited once: a `next` that repeats a page (a
        // cycle) is caught before the lists grow.
        let mut seen = Bitmap::new(blocks)?;
        let mut b = INODE_TABLE_BLOCK;
        while b != 0 {
            if b >= blocks || (b != INODE_TABLE_BLOCK && b < FIRST_DATA_BLOCK) {
                pr_err!("inode table page {} out of range\n", b);
                return Err(EINVAL);
            }
            if seen.set(b).is_err() {
                pr_err!("inode table chain loops back to page {}\n", b);
                return Err(EINVAL);
            }
            let mut t = [0u8; 64];
            pm.read(b * BLOCK_SIZE + ITABLE_TAIL_OFFSET, &mut t)?;
            let tail = PageTail::from_bytes(&t).ok_or(EINVAL)?;
            if tail.magic.get() != ITABLE_MAGIC {
                pr_err!("inode table page {} has a bad magic\n", b);
                return Err(EINVAL);
            }
            let idx = self.pages.len() as u64;
            self.pages.push(b, GFP_KERNEL)?;
            for s in 0..INODES_PER_PAGE {
                let ino = idx * INODES_PER_PAGE + s;
                if ino < FIRST_FREE_INO {
                    continue;
                }
                let mut f = [0u8; 4];
                pm.read(b * BLOCK_SIZE + s * INODE_SIZE, &mut f)?;
                if u32::from_le_bytes(f) & INODE_VALID == 0 {
                    self.free.push(ino, GFP_KERNEL)?;
                } else {
                    self.used += 1;
                }
            }
            let next = tail.next.get();
            if next % BLOCK_SIZE != 0 {
                pr_err!("inode table next pointer {:#x} unaligned\n", next);
                return Err(EINVAL);
            }
            b = next / BLOCK_SIZE;
        }
        // Hand out low numbers first.
        self.free.as_mut_slice().sort_unstable_by(|a, b| b.cmp(a));
        Ok(())
    }

    /// Byte address of `ino`'s slot, if the table has that page.
    pub(crate) fn slot_addr(&self, ino: u64) -> Option<u64> {
        let (page, off) = inode_slot(ino);
        let b = *self.pages.get(usize::try_from(page).ok()?)?;
        Some(b * BLOCK_SIZE + off)
    }

    /// Takes a free inode number, growing the table by a page if needed.
    pub(crate) fn alloc(&mut self, pm: &Pm, new_page: impl FnOnce() -> Result<u64>) -> Result<u64> {
        if self.free.is_empty() {
            // Room first: nothing may fail once the page is linked.
            self.pages.reserve(1, GFP_KERNEL)?;
            let n = usize::try_from(INODES_PER_PAGE).map_err(|_| EINVAL)?;
            self.free.reserve(n, GFP_KERNEL)?;
            let last = *self.pages.last().ok_or(EINVAL)?;
            let b = new_page()?;
            init_page(pm, b)?;
            // Commit point: link the new page into the chain.
            pm.store_u64(last * BLOCK_SIZE + ITABLE_TAIL_OFFSET, b * BLOCK_SIZE)?;
            let idx = self.pages.len() as u64;
            let _ = self.pages.push_within_capacity(b);
            for s in (0..INODES_PER_PAGE).rev() {
                let _ = self.free.push_within_capacity(idx * INODES_PER_PAGE + s);
            }
        }
        let ino = self.free.pop().ok_or(ENOSPC)?;
        self.used += 1;
        Ok(ino)
    }

    /// Returns a number to the free list. Never fails (it may follow a
    /// commit): without room for it, the number stays unused until the
    /// next mount.
    pub(crate) fn release(&mut self, ino: u64) -> Result {
        self.used = self.used.saturating_sub(1);
        if self.free.push_within_capacity(ino).is_err() {
            let _ = self.free.push(ino, GFP_KERNEL);
        }
        Ok(())
    }

    /// Every valid slot.
    pub(crate) fn live_inodes(&self, pm: &Pm) -> Result<KVec<LiveInode>> {
        let mut v = KVec::new();
        for (idx, &b) in self.pages.iter().enumerate() {
            for s in 0..INODES_PER_PAGE {
                let ino = idx as u64 * INODES_PER_PAGE + s;
                if ino == 0 {
                    continue;
                }
                let mut raw = [0u8; 128];
                pm.read(b * BLOCK_SIZE + s * INODE_SIZE, &mut raw)?;
                let pi = PmInode::from_bytes(&raw).ok_or(EINVAL)?;
                if pi.flags.get() & INODE_VALID == 0 {
                    continue;
                }
                if !pi.is_valid(ino) {
                    pr_err!("inode {} slot fails its checksum\n", ino);
                    return Err(EINVAL);
                }
                let slot = b * BLOCK_SIZE + s * INODE_SIZE;
                v.push(
                    LiveInode {
                        ino,
                        slot,
                        nlink: pi.nlink.get(),
                        head: pi.log_head.get(),
                        tail: pi.log_tail.get(),
                        create_epoch: pi.create_epoch.get(),
                        delete_epoch: pi.delete_epoch.get(),
                    },
                    GFP_KERNEL,
                )?;
            }
        }
        Ok(v)
    }
}

/// A valid inode found in the table.
#[derive(Clone, Copy)]
pub(crate) struct LiveInode {
    pub(crate) ino: u64,
    /// Epoch it was created in.
    pub(crate) create_epoch: u64,
    /// Epoch it was deleted in, if only snapshots keep it (else 0).
    pub(crate) delete_epoch: u64,
    pub(crate) slot: u64,
    pub(crate) nlink: u32,
    pub(crate) head: u64,
    pub(crate) tail: u64,
}

/// A bitmap of blocks, for recovery and checks.
pub(crate) struct Bitmap {
    words: KVec<u64>,
    bits: u64,
}

impl Bitmap {
    pub(crate) fn new(bits: u64) -> Result<Self> {
        let n = usize::try_from(bits.div_ceil(64)).map_err(|_| ENOMEM)?;
        let mut words = KVec::with_capacity(n, GFP_KERNEL)?;
        words.resize(n, 0, GFP_KERNEL)?;
        Ok(Self { words, bits })
    }

    /// Sets `b`; `EEXIST` if it was already set (a block used twice),
    /// `EINVAL` if out of range.
    pub(crate) fn set(&mut self, b: u64) -> Result {
        if b >= self.bits {
            return Err(EINVAL);
        }
        let w = self.words.get_mut((b / 64) as usize).ok_or(EINVAL)?;
        let m = 1u64 << (b % 64);
        if *w & m != 0 {
            return Err(EEXIST);
        }
        *w |= m;
        Ok(())
    }

    pub(crate) fn get(&self, b: u64) -> bool {
        self.words
            .get((b / 64) as usize)
            .is_some_and(|w| w & (1u64 << (b % 64)) != 0)
    }
}
