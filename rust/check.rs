// SPDX-License-Identifier: GPL-2.0
//! The consistency check behind `/proc/fs/nova/<dev>/check`: every block
//! must be exactly one of used or free.

use crate::format::layout::*;
use crate::sbi::Sbi;
use kernel::prelude::*;

/// The result of [`check`].
pub(crate) struct CheckReport {
    /// Blocks the logs say live snapshots keep, and what the lists say.
    pub(crate) held: u64,
    pub(crate) held_listed: u64,
    pub(crate) used: u64,
    pub(crate) free: u64,
    pub(crate) leaked: u64,
    pub(crate) double: u64,
    pub(crate) inodes: u64,
}

/// A full consistency check of the mounted file system: every block must
/// be exactly one of used (by a fixed structure, an inode-table page, a
/// log page or a data block of a live inode) or free in the allocator.
/// Transactions are blocked meanwhile. Meant for tests on a quiet file
/// system (blocks of an operation in flight are counted as leaked).
pub(crate) fn check(sbi: &Sbi) -> Result<CheckReport> {
    // What the cleaner has not freed yet would count as leaked.
    crate::cleaner::clean(sbi)?;
    // Lock order: snapshots, then the commit gate (closed: no transaction
    // or log GC runs while the logs are walked).
    let snaps = sbi.snaps.lock();
    let _closed = sbi.commit_gate.close();
    let mut used = crate::itable::Bitmap::new(sbi.blocks)?;
    let mut r = CheckReport {
        used: 0,
        free: 0,
        leaked: 0,
        double: 0,
        inodes: 0,
        held: 0,
        held_listed: snaps.held_blocks(),
    };
    for b in 0..FIRST_DATA_BLOCK {
        used.set(b)?;
    }
    for &p in sbi.itable.lock().pages() {
        if p >= FIRST_DATA_BLOCK && used.set(p).is_err() {
            r.double += 1;
        }
    }
    let inos = sbi.itable.lock().live_inodes(sbi.pm())?;
    for li in inos.iter() {
        r.inodes += 1;
        let mut dup = 0u64;
        let mut blocks = 0u64;
        let s = crate::scan::scan(sbi, li.ino, &snaps, li.nlink, li.head, li.tail, |b| {
            blocks += 1;
            if used.set(b).is_err() {
                dup += 1;
            }
            Ok(())
        })?;
        s.data.for_each(|b, l, _| {
            blocks += l;
            for x in b..b + l {
                if used.set(x).is_err() {
                    dup += 1;
                }
            }
            Ok(())
        })?;
        if li.delete_epoch != 0 {
            // Deleted: kept whole for a snapshot.
            r.held += blocks;
        }
        for k in s.kept.iter() {
            r.held += k.len;
            for x in k.b..k.b + k.len {
                if used.set(x).is_err() {
                    dup += 1;
                }
            }
        }
        r.double += dup;
    }
    let mut free = crate::itable::Bitmap::new(sbi.blocks)?;
    sbi.alloc.for_each_range(|s, l| {
        for b in s..s + l {
            if free.set(b).is_err() {
                r.double += 1;
            }
        }
        Ok(())
    })?;
    for b in 0..sbi.blocks {
        match (used.get(b), free.get(b)) {
            (true, true) => r.double += 1,
            (true, false) => r.used += 1,
            (false, true) => r.free += 1,
            (false, false) => r.leaked += 1,
        }
    }
    Ok(r)
}
