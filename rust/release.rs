// SPDX-License-Identifier: GPL-2.0
//! Where blocks dropped from the current file system go: to the list of
//! the oldest live snapshot that needs them (the epoch rule), or back to
//! the allocator.

use crate::extent::Dropped;
use crate::sbi::Sbi;
use crate::snaplist::Kept;
use core::sync::atomic::Ordering;
use kernel::prelude::*;

/// Blocks dropped from the current file system: kept on the list of the
/// oldest snapshot that needs them (the epoch rule), or freed at once.
pub(crate) fn release(sbi: &Sbi, b: u64, len: u64, born: u64, died: u64) -> Result {
    {
        let mut snaps = sbi.snaps.lock();
        if let Some(s) = snaps.holder(born, died) {
            let k = Kept {
                ino: 0,
                b,
                len,
                born,
                died,
            };
            return snaps.keep(s, k).inspect_err(|_| {
                // Not freed either: the next recovery finds them again.
                pr_err!("{}: no memory to record snapshot data\n", sbi.name())
            });
        }
    }
    free_data(sbi, b, len)
}

/// Drops one user of data blocks `[b, b + len)` that no snapshot needs:
/// blocks other files still share (`shared.rs`) lose a user, the rest go
/// back to the allocator. On `ENOMEM` (a shared range cannot be split)
/// nothing is freed: the blocks stay allocated until the next scan.
pub(crate) fn free_data(sbi: &Sbi, b: u64, len: u64) -> Result {
    if !sbi.reflinked.load(Ordering::Acquire) {
        return sbi.alloc.free(b, len);
    }
    let mut first = Ok(());
    sbi.shared.lock().drop_user(b, len, |s, l| {
        let r = sbi.alloc.free(s, l);
        if first.is_ok() {
            first = r;
        }
    })?;
    first
}

/// Releases the blocks an operation committed in epoch `died` dropped
/// (`(first, count, born)` ranges): each goes to the snapshot that needs
/// it or is freed. Cannot fail, so it may follow a commit: a range that
/// cannot be recorded (no memory) stays allocated, is counted in
/// `lost_blocks`, and the next mount rebuilds the allocator from the logs.
pub(crate) fn release_all(sbi: &Sbi, dropped: &[Dropped], died: u64) {
    for d in dropped {
        if release(sbi, d.block, d.len, d.born, died).is_err() {
            sbi.stats.lost_blocks.fetch_add(d.len, Ordering::Relaxed);
        }
    }
}

/// `release_all` for the fault path: a range no snapshot needs any more
/// (one was deleted since the fault decided to copy) goes to the dead
/// list instead of being freed, because the old page may still be mapped
/// elsewhere until the DAX code swaps it; the cleaner frees it after
/// closing the fault gate. (Only a cleaner thread is woken: cleaning here
/// would wait for this very fault.)
pub(crate) fn release_all_deferred(sbi: &Sbi, dropped: &[Dropped], died: u64) {
    let mut queued = false;
    {
        let mut snaps = sbi.snaps.lock();
        for d in dropped {
            let (len, born) = (d.len, d.born);
            let k = Kept {
                ino: 0,
                b: d.block,
                len,
                born,
                died,
            };
            let r = match snaps.holder(born, died) {
                Some(s) => snaps.keep(s, k),
                None => {
                    queued = true;
                    snaps.push_dead(k)
                }
            };
            if r.is_err() {
                sbi.stats.lost_blocks.fetch_add(len, Ordering::Relaxed);
            }
        }
    }
    if queued {
        sbi.wake_cleaner_thread();
    }
}
