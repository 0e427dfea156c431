// SPDX-License-Identifier: GPL-2.0
//! Appending to inode logs, and the transaction that commits appends to
//! one or several logs at once.
//!
//! An entry is written past the log's committed tail and persisted; it
//! becomes part of the file system only when the tail moves over it (one
//! 8-byte atomic store). A transaction touching several inodes records the
//! old tails in the lite journal first (see `journal`), so that a crash
//! rolls all of them back together.

use crate::format::layout::*;
use crate::format::le::Pod;
use crate::format::log::{fits_at, page_of};
use crate::inode::NovaInode;
use crate::journal;
use crate::super_::Sbi;
use core::sync::atomic::Ordering;
use kernel::prelude::*;
use kernel::sync::MutexGuard;

/// Allocates and initialises a log page owned by `ino`; returns its byte
/// address.
pub(crate) fn new_log_page(sbi: &Sbi, ino: u64) -> Result<u64> {
    let b = sbi.alloc.alloc_one(sbi.cpu())?;
    let addr = b * BLOCK_SIZE;
    let mut t = PageTail::from_bytes(&[0u8; 64]).ok_or(EINVAL)?;
    t.magic.set(LOG_MAGIC);
    t.owner.set(ino);
    // The first entry slot must read as padding until written.
    sbi.pm().zero(addr, 16)?;
    sbi.pm().write(addr + LOG_TAIL_OFFSET, t.as_bytes())?;
    sbi.pm().fence();
    sbi.stats.log_pages.fetch_add(1, Ordering::Relaxed);
    Ok(addr)
}

/// One inode's part in a transaction.
struct Part {
    /// Byte address of the inode's slot.
    slot: u64,
    old_tail: u64,
    new_tail: u64,
    inode: *const NovaInode,
}

/// A batch of log appends committed atomically. Holds the file system's
/// log lock from `begin` to `commit`.
pub(crate) struct Tx<'a> {
    sbi: &'a Sbi,
    _guard: MutexGuard<'a, ()>,
    parts: KVec<Part>,
    words: KVec<(u64, u64, u64)>,
    new_pages: KVec<u64>,
}

impl<'a> Tx<'a> {
    pub(crate) fn begin(sbi: &'a Sbi) -> Self {
        Self { sbi, _guard: sbi.log_lock.lock(), parts: KVec::new(), words: KVec::new(), new_pages: KVec::new() }
    }

    /// Appends a sealed entry (`entry.len()` a multiple of 64) to `inode`'s
    /// log, after anything this transaction already appended there.
    pub(crate) fn append(&mut self, inode: &NovaInode, entry: &mut [u8]) -> Result {
        let len = entry.len() as u64;
        if len == 0 || len % SLOT != 0 || len > MAX_ENTRY as u64 {
            return Err(EINVAL);
        }
        // Stamp the epoch and seal.
        entry.get_mut(8..16).ok_or(EINVAL)?.copy_from_slice(&self.sbi.epoch().to_le_bytes());
        if !seal_entry(entry) {
            return Err(EINVAL);
        }
        let pos = inode.log_pos();
        let idx = match self.parts.iter().position(|p| p.slot == pos.slot) {
            Some(i) => i,
            None => {
                self.parts.push(
                    Part { slot: pos.slot, old_tail: pos.tail, new_tail: pos.tail, inode: inode as *const _ },
                    GFP_KERNEL,
                )?;
                self.parts.len() - 1
            }
        };
        let part = self.parts.get_mut(idx).ok_or(EINVAL)?;
        let pm = self.sbi.pm();
        let at = match fits_at(part.new_tail, len) {
            Some(at) => at,
            None => {
                let page = new_log_page(self.sbi, inode.ino())?;
                self.new_pages.push(page, GFP_KERNEL)?;
                let cur = part.new_tail;
                if cur % BLOCK_SIZE < LOG_TAIL_OFFSET {
                    // Pad the rest of the old page.
                    pm.zero(cur, 16)?;
                    pm.fence();
                }
                pm.store_u64(page_of(cur) + LOG_TAIL_OFFSET, page)?;
                page
            }
        };
        pm.write(at, entry)?;
        // Make sure the slot after the entry reads as padding if it is
        // the last one written to this page.
        let after = at + len;
        if after % BLOCK_SIZE < LOG_TAIL_OFFSET {
            pm.zero(after, 16)?;
        }
        part.new_tail = after;
        Ok(())
    }

    /// Adds a plain 8-byte word update (e.g. an inode's valid flag) to the
    /// transaction: `old` is restored on rollback.
    pub(crate) fn set_word(&mut self, addr: u64, old: u64, new: u64) -> Result {
        self.words.push((addr, old, new), GFP_KERNEL)?;
        Ok(())
    }

    /// Commits: a single tail moves with one atomic store; more than one
    /// change goes through the lite journal.
    pub(crate) fn commit(mut self) -> Result {
        let pm = self.sbi.pm();
        pm.fence();
        let n = self.parts.len() + self.words.len();
        let mut recs: KVec<(u64, u64, u64)> = KVec::with_capacity(n, GFP_KERNEL)?;
        for p in self.parts.iter() {
            recs.push((p.slot + 32, p.old_tail, p.new_tail), GFP_KERNEL)?;
        }
        for &w in self.words.iter() {
            recs.push(w, GFP_KERNEL)?;
        }
        if n > 1 {
            journal::commit(self.sbi, &recs)?;
            self.sbi.stats.journal_commits.fetch_add(1, Ordering::Relaxed);
        } else if let Some(&(addr, _, new)) = recs.first() {
            pm.store_u64(addr, new)?;
        }
        for p in self.parts.iter() {
            // SAFETY: the inode pointer was taken from a live reference in
            // `append`, and the caller keeps that inode alive for the
            // transaction's lifetime (it holds a reference to it).
            unsafe { (*p.inode).set_tail(p.new_tail) };
        }
        self.new_pages.clear();
        Ok(())
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        // An aborted transaction: pages it linked past committed tails are
        // unreachable from any tail; give them back.
        for &p in self.new_pages.iter() {
            let _ = self.sbi.alloc.free(p / BLOCK_SIZE, 1);
        }
    }
}
