// SPDX-License-Identifier: GPL-2.0
//! Snapshots: the table of live snapshots (epoch -> creation time), kept
//! in DRAM and recorded in the snapshot inode's log.
//!
//! Taking a snapshot appends a create record for the current epoch to the
//! snapshot inode's log and, before any other transaction can commit,
//! starts the next epoch: every entry stamped with an epoch <= E belongs
//! to snapshot E. Deleting one appends a delete record. The log is the
//! authority: at every mount it is replayed (`format::snapshot::replay`
//! checks it) and the current epoch is set past the newest snapshot ever
//! taken. Both operations take constant time.

use crate::format::entry::snapshot_record;
use crate::format::layout::*;
use crate::format::le::Pod;
use crate::format::log::LogWalker;
use crate::format::snapshot::SnapSet;
use crate::format::snapshot::{replay_one, SnapError, SnapRecord, Tag};
use crate::gate::GateClosed;
use crate::iget;
use crate::log::Tx;
use crate::sbi::{now_secs, Sbi, Unmap};
use crate::snaplist::Snapshots;
use core::sync::atomic::Ordering;
use kernel::prelude::*;

/// Replays the snapshot inode's log into the table (at every mount).
/// Returns the newest snapshot epoch ever taken (0 if none).
pub(crate) fn load(sbi: &Sbi) -> Result<u64> {
    let (_, pi) = iget::read_slot(sbi, SNAPSHOT_INO)?;
    if !pi.is_valid(SNAPSHOT_INO) {
        pr_err!("{}: the snapshot inode is not valid\n", sbi.name());
        return Err(EINVAL);
    }
    let mut w =
        LogWalker::new(sbi.pm(), pi.log_head.get(), pi.log_tail.get()).owned_by(SNAPSHOT_INO);
    let mut buf = [0u8; MAX_ENTRY];
    let mut snaps = sbi.snaps.lock();
    let mut max = 0;
    loop {
        let f = match w.next_entry(&mut buf) {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                pr_err!("{}: snapshot log is corrupt ({:?})\n", sbi.name(), e);
                return Err(EINVAL);
            }
        };
        if f.etype != EntryType::SnapshotInfo {
            pr_err!("{}: unexpected entry in the snapshot log\n", sbi.name());
            return Err(EINVAL);
        }
        let e = SnapshotInfoEntry::from_bytes(&buf).ok_or(EINVAL)?;
        let rec = SnapRecord::decode(&e).map_err(|e| {
            pr_err!("{}: snapshot log: a bad record ({:?})\n", sbi.name(), e);
            EINVAL
        })?;
        max = replay_one(rec, max, &mut *snaps).map_err(|e| {
            pr_err!("{}: snapshot log is inconsistent ({:?})\n", sbi.name(), e);
            if e == SnapError::NoMemory {
                ENOMEM
            } else {
                EINVAL
            }
        })?;
    }
    Ok(max)
}

/// Appends `rec` to the snapshot inode's log (`closed`: the caller holds
/// the commit gate closed).
fn append(sbi: &Sbi, rec: &mut [u8; 64], closed: Option<&GateClosed<'_>>) -> Result {
    let ni = iget::iget(sbi, SNAPSHOT_INO)?;
    let mut tx = match closed {
        Some(c) => Tx::begin_closed(sbi, &[&ni], c)?,
        None => Tx::begin(sbi, &[&ni])?,
    };
    tx.append(&ni, rec)?;
    tx.commit()
}

/// Takes a snapshot of the current epoch, tagged `tag`, and starts the
/// next one. Returns the snapshot's epoch.
/// Closes the fault gate with every writable mapping dropped, its stores
/// written back and no page pinned for I/O (`Sbi::unmap_all`): pins are
/// waited for with the gate open (their holder may fault), then checked
/// again with it closed; a new pin starts it over (at most 16 times).
fn close_unmapped(sbi: &Sbi) -> Result<GateClosed<'_>> {
    for _ in 0..16 {
        sbi.unmap_all(Unmap::Prepare)?;
        let closed = sbi.gate.close();
        match sbi.unmap_all(Unmap::Gated) {
            Ok(()) => return Ok(closed),
            Err(e) if e == EBUSY => continue,
            Err(e) => return Err(e),
        }
    }
    pr_err!(
        "{}: pages of mapped files stay pinned for I/O; snapshot not taken\n",
        sbi.name()
    );
    Err(EBUSY)
}

pub(crate) fn create(sbi: &Sbi, tag: Tag) -> Result<u64> {
    // No store through a mapping from here until the new epoch: every
    // writable mapping is dropped, so the next store faults and copies
    // its page if this snapshot holds the block.
    let _closed = close_unmapped(sbi)?;
    // Only `create` changes the epoch of a mounted file system, under
    // this lock: the epoch read here stays current until the bump below.
    let mut snaps = sbi.snaps.lock();
    let epoch = sbi.epoch();
    let next = epoch.checked_add(1).ok_or(EOVERFLOW)?;
    let (time, _) = now_secs();
    // Allocated first: nothing can fail after the record is committed.
    let node = Snapshots::prepare(epoch, time, tag)?;
    let mut rec = snapshot_record(epoch, time, false, &tag);
    // The commit gate is closed from before the record to after the bump:
    // every transaction committed before carries an epoch <= `epoch`,
    // every later one `next`.
    let closed = sbi.commit_gate.close();
    append(sbi, &mut rec, Some(&closed))?;
    sbi.epoch.store(next, Ordering::Relaxed);
    drop(closed);
    snaps.insert(node);
    sbi.stats.snapshots_taken.fetch_add(1, Ordering::Relaxed);
    drop(snaps);
    sbi.snapdir_changed();
    Ok(epoch)
}

/// Deletes snapshot `epoch`: ENOENT if it is not a live snapshot. Its
/// list goes to the next snapshot that needs each item (the next newer
/// one, by the epoch rule); what no snapshot needs any more goes to the
/// cleaner. Returns whether the cleaner has work (`cleaner::wake`).
pub(crate) fn delete(sbi: &Sbi, epoch: u64) -> Result<bool> {
    // Idle `.snapshots/E` views are unmounted first; a view in use keeps
    // its hold, and the deletion fails below.
    if sbi.dev.with_holds(|h| h.held(epoch)) {
        crate::vfs_snapdir::release_views(sbi, epoch);
    }
    // Write faults and in-place writes decide under the fault gate whether
    // a snapshot holds a block; closing it keeps a decision made before
    // the delete from being acted on after it (an in-place store into a
    // block a fault is still copying for the snapshot).
    let _closed = sbi.gate.close();
    let mut snaps = sbi.snaps.lock();
    if !snaps.contains(epoch) {
        return Err(ENOENT);
    }
    let (time, _) = now_secs();
    let mut rec = snapshot_record(epoch, time, true, &Tag::NONE);
    // A mounted view (`-o snapshot=E`, `.snapshots/E`) holds its epoch:
    // the check and the commit are under the registry lock that a new
    // hold takes (`devshare`).
    sbi.dev.with_holds(|h| {
        if h.held(epoch) {
            pr_err!(
                "{}: snapshot {} is mounted (or in use under .snapshots): unmount it first\n",
                sbi.name(),
                epoch
            );
            return Err(EBUSY);
        }
        append(sbi, &mut rec, None)
    })?;
    // Committed: nothing below may fail. An item that cannot be recorded
    // (no memory) stays allocated and counts as lost, so that the next
    // mount rebuilds the allocator from the logs instead of trusting a
    // saved free list that would keep it leaked.
    let list = snaps.remove_snapshot(epoch);
    for &k in list.iter() {
        let r = match snaps.holder(k.born, k.died) {
            Some(s) => snaps.keep(s, k),
            None => snaps.push_dead(k),
        };
        if r.is_err() {
            sbi.stats.lost_blocks.fetch_add(k.len, Ordering::Relaxed);
        }
    }
    let dead = snaps.has_dead();
    drop(snaps);
    sbi.snapdir_changed();
    Ok(dead)
}
