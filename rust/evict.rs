// SPDX-License-Identifier: GPL-2.0
//! Deleting an inode: at eviction of an inode with no links left (its
//! slot made invalid, its log pages and data freed or kept for a
//! snapshot), and later by the cleaner for one a snapshot kept.

use crate::format::entry::set_atime;
use crate::format::layout::*;
use crate::inode::{LogPos, NovaInode, Time};
use crate::log::walk_pages;
use crate::log::Tx;
use crate::sbi::Sbi;
use crate::scan::scan;
use crate::snaplist::{Kept, Snapshots};
use kernel::prelude::*;

/// Eviction: an inode with no links left is deleted on pmem (slot made
/// invalid, log pages and data freed, number returned).
pub(crate) fn evict(ni: &NovaInode) {
    let sbi = ni.sbi();
    if ni.take_atime_dirty() && ni.nlink() != 0 && !ni.is_bad() && sbi.may_log_in_evict() {
        // The access time reads changed, logged once as the inode goes.
        let mut e = set_atime(ni.time(Time::Access));
        if let Err(e) = Tx::one(sbi, ni, &mut e) {
            pr_warn!(
                "{}: inode {}: access time not saved ({:?})\n",
                sbi.name(),
                ni.ino(),
                e
            );
        }
    }
    ni.clear_for_eviction();
    disown(ni);
    if ni.nlink() != 0 || ni.is_bad() || sbi.read_only_forever() {
        return;
    }
    if sbi.read_only() || sbi.is_shut_down() {
        // Not one byte changes on a read-only (or shut down) mount: the
        // inode stays on pmem with no links, and the next mount's
        // recovery removes it.
        sbi.defer_to_recovery();
        return;
    }
    let pos = ni.log_pos();
    let r = (|| -> Result {
        let mut extents = KVVec::new();
        ni.data
            .lock()
            .for_each(|b, l, e| extents.push((b, l, e), GFP_KERNEL).map_err(|_| ENOMEM))?;
        delete(sbi, ni.ino(), pos, &extents)
    })();
    if let Err(e) = r {
        // Nothing was committed: the inode stays on pmem with no links,
        // and the next mount's recovery removes it.
        pr_err!(
            "{}: deleting inode {} failed ({:?}); the next mount removes it\n",
            sbi.name(),
            ni.ino(),
            e
        );
        sbi.defer_to_recovery();
    }
}

/// Clears the inode's data blocks from the owners map (`owners.rs`),
/// if it claimed them: it leaves memory (or, failed while being created,
/// gives its blocks back). Its index stays, for a deletion to free.
pub(crate) fn disown(ni: &NovaInode) {
    let sbi = ni.sbi();
    let mut idx = ni.data.lock();
    if idx.owned() {
        let _ = idx.for_each(|b, l, _| {
            sbi.owners.clear(b, l);
            Ok(())
        });
        idx.set_owned(false);
    }
}

/// Deletes an inode with no links left. Everything that can fail comes
/// before the commit point (the slot store); after it, only infallible
/// releases.
fn delete(sbi: &Sbi, ino: u64, pos: LogPos, data: &[(u64, u64, u64)]) -> Result {
    let (_, pi) = crate::iget::read_slot(sbi, ino)?;
    let born = pi.create_epoch.get();
    let pages = log_pages(sbi, pos.head, pos.tail)?;
    {
        // Lock order: snapshots, then the commit gate (the epoch cannot
        // change: taking a snapshot needs the snapshots' lock too).
        let mut snaps = sbi.snaps.lock();
        let _pass = sbi.commit_gate.pass();
        let died = sbi.epoch();
        if let Some(s) = snaps.holder(born, died) {
            // A snapshot still needs the inode: it stays whole (slot, log,
            // data), marked deleted; the snapshot's list records it.
            let mut blocks = pages.len() as u64;
            for &(_, l, _) in data {
                blocks += l;
            }
            let k = Kept {
                ino,
                b: 0,
                len: blocks,
                born,
                died,
            };
            snaps.keep(s, k)?;
            // Commit point: the live file system no longer has it.
            return sbi.pm().store_u64(pos.slot + SLOT_DELETE_EPOCH, died);
        }
        // Commit point: the slot stops being valid.
        sbi.pm().store_u64(pos.slot, 0)?;
    }
    release_inode_blocks(sbi, &pages, data.iter().map(|&(b, l, _)| (b, l)));
    sbi.itable.lock().release(ino)
}

/// The blocks of the log pages of `[head, tail)`.
fn log_pages(sbi: &Sbi, head: u64, tail: u64) -> Result<KVVec<u64>> {
    let mut pages = KVVec::new();
    walk_pages(sbi.pm(), head, tail, |b| {
        pages.push(b, GFP_KERNEL).map_err(|_| ENOMEM)
    })?;
    Ok(pages)
}

/// Frees the log pages and data extents of a deleted inode. Cannot fail
/// (it follows the commit point): a range the allocator refuses (a double
/// free, reported by it) is left alone.
fn release_inode_blocks(sbi: &Sbi, pages: &[u64], data: impl Iterator<Item = (u64, u64)>) {
    for &b in pages.iter() {
        let _ = crate::log::free_log_page(sbi, b * BLOCK_SIZE);
    }
    for (b, l) in data {
        let _ = crate::release::free_data(sbi, b, l);
    }
}

/// Frees an inode that only snapshots kept, once none needs it: its slot
/// stops being valid, then its log and data are freed and its number
/// released. (Its replaced blocks were on lists of their own and are
/// dead too: a snapshot needing one would need the inode.)
pub(crate) fn free_kept_inode(sbi: &Sbi, ino: u64) -> Result {
    let (slot, pi) = crate::iget::read_slot(sbi, ino)?;
    if !pi.is_valid(ino) || pi.delete_epoch.get() == 0 {
        pr_err!(
            "{}: kept inode {} is not a deleted inode\n",
            sbi.name(),
            ino
        );
        return Err(EINVAL);
    }
    let (head, tail) = (pi.log_head.get(), pi.log_tail.get());
    let s = scan(sbi, ino, &Snapshots::new(), 0, head, tail, |_| Ok(()))?;
    let mut data = KVVec::new();
    s.data
        .for_each(|b, l, _| data.push((b, l), GFP_KERNEL).map_err(|_| ENOMEM))?;
    let pages = log_pages(sbi, head, tail)?;
    {
        let _pass = sbi.commit_gate.pass();
        sbi.pm().store_u64(slot, 0)?;
    }
    release_inode_blocks(sbi, &pages, data.iter().copied());
    sbi.itable.lock().release(ino)
}
