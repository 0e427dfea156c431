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
    /// Blocks with several users (reflink copies) by the logs, and those
    /// whose count in memory (`Sbi::shared`) differs.
    pub(crate) shared: u64,
    pub(crate) shared_bad: u64,
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
    let reflinked = sbi.reflinked.load(core::sync::atomic::Ordering::Acquire);
    let mut users = crate::users::Users::new(sbi.blocks, reflinked)?;
    let mut r = CheckReport {
        shared: 0,
        shared_bad: 0,
        used: 0,
        free: 0,
        leaked: 0,
        double: 0,
        inodes: 0,
        held: 0,
        held_listed: snaps.held_blocks(),
    };
    for b in 0..FIRST_DATA_BLOCK {
        users.single(b)?;
    }
    for &p in sbi.itable.lock().pages() {
        if p >= FIRST_DATA_BLOCK && users.single(p).is_err() {
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
            if users.single(b).is_err() {
                dup += 1;
            }
            Ok(())
        })?;
        s.data.for_each(|b, l, _| {
            blocks += l;
            dup += data_users(&mut users, b, l);
            Ok(())
        })?;
        if li.delete_epoch != 0 {
            // Deleted: kept whole for a snapshot.
            r.held += blocks;
        }
        for k in s.kept.iter() {
            r.held += k.len;
            dup += data_users(&mut users, k.b, k.len);
        }
        r.double += dup;
    }
    let counted = users.shared()?;
    r.shared = counted.blocks();
    r.shared_bad = shared_diff(&counted, &sbi.shared.lock())?;
    let used = &users.used;
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

/// Counts a user of data blocks `[b, b + l)`; returns how many of them
/// could not have another (a block counted twice where it may not be).
fn data_users(users: &mut crate::users::Users, b: u64, l: u64) -> u64 {
    let mut dup = 0;
    let mut at = b;
    let end = b.saturating_add(l);
    while at < end {
        match users.data(at, end - at) {
            Ok(()) => break,
            Err(x) => {
                // Counted up to `x`; `x` itself is the duplicate.
                dup += 1;
                at = x.saturating_add(1).max(at + 1);
            }
        }
    }
    dup
}

/// Blocks whose number of users differs between two maps.
fn shared_diff(a: &crate::shared::Shared, b: &crate::shared::Shared) -> Result<u64> {
    let mut diff = 0u64;
    a.for_each(|s, l, c| {
        for (_, pl, pc) in b.pieces(s, l)? {
            if pc != c {
                diff += pl;
            }
        }
        Ok(())
    })?;
    // Blocks only `b` lists.
    b.for_each(|s, l, _| {
        for (_, pl, pc) in a.pieces(s, l)? {
            if pc == 1 {
                diff += pl;
            }
        }
        Ok(())
    })?;
    Ok(diff)
}
