// SPDX-License-Identifier: GPL-2.0
//! The cleaner: frees what deleted snapshots no longer need (in the
//! cleaner thread of a writable mount, or at once where there is none),
//! and runs the log GC queued by commits.

use crate::sbi::Sbi;
use core::sync::atomic::Ordering;
use kernel::prelude::*;

/// The cleaner's work: frees what no snapshot needs any more (data
/// blocks; deleted inodes with their logs and data).
pub(crate) fn clean(sbi: &Sbi) -> Result {
    // One cleaning at a time, so whoever returns from here knows that
    // everything dead before the call is free.
    let _g = sbi.clean_lock.lock();
    if sbi.read_only() {
        // The dead items wait until the mount is writable again.
        return Ok(());
    }
    let cleaning = &sbi.stats.cleaning;
    let (dead, total) = {
        let mut snaps = sbi.snaps.lock();
        let dead = snaps.take_dead();
        let total = dead.iter().fold(0u64, |s, k| s.saturating_add(k.len));
        // Under the lock the stats read the dead list by: the blocks show
        // in one count or the other until they are free.
        cleaning.fetch_add(total, Ordering::Relaxed);
        (dead, total)
    };
    if dead.is_empty() {
        return Ok(());
    }
    // A write fault that copied a page a snapshot kept may still be
    // swapping the old page out of other page tables (the DAX code does
    // that after `iomap_begin`): faults hold the gate shared, so closing
    // it once waits for them before the old blocks can be freed.
    drop(sbi.gate.close());
    let mut blocks = 0u64;
    for k in dead.iter() {
        let r = if k.ino != 0 {
            crate::evict::free_kept_inode(sbi, k.ino)
        } else {
            crate::release::free_data(sbi, k.b, k.len)
        };
        if let Err(e) = r {
            // The rest of the list stays allocated: the next mount's
            // recovery finds what is dead again.
            cleaning.fetch_sub(total.saturating_sub(blocks), Ordering::Relaxed);
            sbi.defer_to_recovery();
            return Err(e);
        }
        blocks += k.len;
        cleaning.fetch_sub(k.len, Ordering::Relaxed);
    }
    sbi.stats.cleaner_runs.fetch_add(1, Ordering::Relaxed);
    sbi.stats.cleaner_freed.fetch_add(blocks, Ordering::Relaxed);
    Ok(())
}

/// Wakes the snapshot cleaner (or cleans now if there is none).
pub(crate) fn wake(sbi: &Sbi) {
    if sbi.wake_cleaner_thread() {
        return;
    }
    if let Err(e) = clean(sbi) {
        pr_err!("{}: snapshot cleaner: {:?}\n", sbi.name(), e);
    }
}
