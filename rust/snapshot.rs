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

use crate::format::layout::*;
use crate::format::le::Pod;
use crate::format::log::LogWalker;
use crate::format::snapshot::{replay_one, SnapError, SnapRecord, SnapSet};
use crate::inode::{self, NovaInode};
use crate::log::Tx;
use crate::shim;
use crate::super_::{now_secs, Sbi};
use core::sync::atomic::Ordering;
use kernel::bindings;
use kernel::ffi::{c_int, c_void};
use kernel::prelude::*;
use kernel::rbtree::{RBTree, RBTreeNode};

/// The fault gate, an `rw_semaphore` in the shim: write faults pass it
/// shared; taking a snapshot closes it while it write-protects every
/// mapping, so no store lands in a block between the two.
pub(crate) struct FaultGate(core::ptr::NonNull<bindings::rw_semaphore>);

// SAFETY: an rw_semaphore is meant to be shared between threads.
unsafe impl Send for FaultGate {}
// SAFETY: as above.
unsafe impl Sync for FaultGate {}

impl FaultGate {
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: allocates and initialises a semaphore; null on failure.
        let p = unsafe { shim::nova_shim_gate_new() };
        core::ptr::NonNull::new(p).map(Self).ok_or(ENOMEM)
    }

    pub(crate) fn as_ptr(&self) -> *mut bindings::rw_semaphore {
        self.0.as_ptr()
    }

    /// Closes the gate until the guard is dropped.
    fn close(&self) -> GateClosed<'_> {
        // SAFETY: a live semaphore (owned by `self`).
        unsafe { shim::nova_shim_gate_close(self.as_ptr()) };
        GateClosed(self)
    }
}

impl Drop for FaultGate {
    fn drop(&mut self) {
        // SAFETY: allocated by `new`; the mount is gone, so no fault or
        // snapshot uses it any more.
        unsafe { shim::nova_shim_gate_free(self.as_ptr()) };
    }
}

struct GateClosed<'a>(&'a FaultGate);

impl Drop for GateClosed<'_> {
    fn drop(&mut self) {
        // SAFETY: closed in `FaultGate::close`.
        unsafe { shim::nova_shim_gate_open(self.0.as_ptr()) };
    }
}

/// Data a snapshot keeps that the current file system dropped: blocks
/// `[b, b + len)` written in epoch `born` and replaced or freed in `died`;
/// or, when `ino` is not 0, a deleted inode (created in `born`, deleted in
/// `died`) kept whole, `len` blocks of log and data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Kept {
    pub(crate) ino: u64,
    pub(crate) b: u64,
    pub(crate) len: u64,
    pub(crate) born: u64,
    pub(crate) died: u64,
}

/// One live snapshot: when it was taken, and what it keeps (its list; the
/// oldest snapshot that needs an item holds it).
struct Snap {
    time: u64,
    kept: KVec<Kept>,
}

/// The live snapshots, ordered by epoch.
pub(crate) struct Snapshots {
    map: RBTree<u64, Snap>,
    /// Blocks kept only for snapshots.
    held: u64,
    /// Items no snapshot needs any more, waiting for the cleaner.
    dead: KVec<Kept>,
}

impl SnapSet for Snapshots {
    fn contains(&self, epoch: u64) -> bool {
        self.map.get(&epoch).is_some()
    }

    fn add(&mut self, epoch: u64, time: u64) -> core::result::Result<(), SnapError> {
        let snap = Snap {
            time,
            kept: KVec::new(),
        };
        self.map
            .try_create_and_insert(epoch, snap, GFP_KERNEL)
            .map(|_| ())
            .map_err(|_| SnapError::NoMemory)
    }

    fn remove(&mut self, epoch: u64) {
        self.map.remove(&epoch);
    }
}

impl Snapshots {
    pub(crate) fn new() -> Self {
        Self {
            map: RBTree::new(),
            held: 0,
            dead: KVec::new(),
        }
    }

    /// How many snapshots are live.
    pub(crate) fn len(&self) -> usize {
        self.map.iter().count()
    }

    /// Blocks no snapshot needs any more that the cleaner has not freed
    /// yet.
    pub(crate) fn dead_blocks(&self) -> u64 {
        self.dead.iter().map(|k| k.len).sum()
    }

    /// Blocks kept only because a snapshot needs them.
    pub(crate) fn held_blocks(&self) -> u64 {
        self.held
    }

    /// `(epoch, creation time)` of every live snapshot, oldest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.map.iter().map(|(e, s)| (*e, s.time))
    }

    /// The epoch rule (`format::snapshot::holder`): the oldest live
    /// snapshot that needs data written in `born` and dropped in `died`.
    pub(crate) fn holder(&self, born: u64, died: u64) -> Option<u64> {
        let c = self.map.cursor_lower_bound(&born)?;
        let s = *c.current().0;
        (s < died).then_some(s)
    }

    /// At recovery: puts `k` (found by a log scan) on the list of the
    /// snapshot that needs it.
    pub(crate) fn keep_recovered(&mut self, k: Kept) -> Result {
        match self.holder(k.born, k.died) {
            Some(s) => self.keep(s, k),
            None => Ok(()),
        }
    }

    /// Puts `k` on the list of snapshot `s`.
    pub(crate) fn keep(&mut self, s: u64, k: Kept) -> Result {
        let snap = self.map.get_mut(&s).ok_or(ENOENT)?;
        snap.kept.push(k, GFP_KERNEL)?;
        self.held += k.len;
        Ok(())
    }
}

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
    sbi.alloc.free(b, len)
}

/// Releases the blocks an operation committed in epoch `died` dropped
/// (`(first, count, born)` ranges): each goes to the snapshot that needs
/// it or is freed. Cannot fail, so it may follow a commit: a range that
/// cannot be recorded (no memory) stays allocated, is counted in
/// `lost_blocks`, and the next mount rebuilds the allocator from the logs.
pub(crate) fn release_all(sbi: &Sbi, dropped: &[crate::file::Dropped], died: u64) {
    for &(b, l, born) in dropped {
        if release(sbi, b, l, born, died).is_err() {
            sbi.stats.lost_blocks.fetch_add(l, Ordering::Relaxed);
        }
    }
}

/// `release_all` for the fault path: a range no snapshot needs any more
/// (one was deleted since the fault decided to copy) goes to the dead
/// list instead of being freed, because the old page may still be mapped
/// elsewhere until the DAX code swaps it; the cleaner frees it after
/// closing the fault gate. (Only a cleaner thread is woken: cleaning here
/// would wait for this very fault.)
pub(crate) fn release_all_deferred(sbi: &Sbi, dropped: &[crate::file::Dropped], died: u64) {
    let mut queued = false;
    {
        let mut snaps = sbi.snaps.lock();
        for &(b, len, born) in dropped {
            let k = Kept {
                ino: 0,
                b,
                len,
                born,
                died,
            };
            let r = match snaps.holder(born, died) {
                Some(s) => snaps.keep(s, k),
                None => {
                    queued = true;
                    snaps.dead.push(k, GFP_KERNEL).map_err(Error::from)
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

/// Encodes a snapshot record.
fn record(epoch: u64, time: u64, delete: bool) -> Result<[u8; 64]> {
    let mut e = SnapshotInfoEntry::from_bytes(&[0u8; 64]).ok_or(EINVAL)?;
    e.hdr.etype = EntryType::SnapshotInfo as u8;
    e.hdr.slots = 1;
    e.hdr.flags.set(if delete { SNAP_DELETE } else { 0 });
    e.snap_epoch.set(epoch);
    e.timestamp.set(time);
    let mut b = [0u8; 64];
    b.copy_from_slice(e.as_bytes());
    Ok(b)
}

/// Replays the snapshot inode's log into the table (at every mount).
/// Returns the newest snapshot epoch ever taken (0 if none).
pub(crate) fn load(sbi: &Sbi) -> Result<u64> {
    let (_, pi) = inode::read_slot(sbi, SNAPSHOT_INO)?;
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
        let epoch = e.snap_epoch.get();
        let rec = if e.hdr.flags.get() & SNAP_DELETE != 0 {
            SnapRecord::Delete { epoch }
        } else {
            SnapRecord::Create {
                epoch,
                time: e.timestamp.get(),
            }
        };
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

/// Appends `rec` to the snapshot inode's log; `then` runs after the
/// commit with the log lock still held.
fn append(sbi: &Sbi, rec: &mut [u8; 64], then: impl FnOnce()) -> Result {
    let i = inode::iget(sbi, SNAPSHOT_INO)?;
    // SAFETY: `iget` returned a referenced nova inode.
    let ni = unsafe { NovaInode::from_raw(i) };
    let r = (|| {
        let mut tx = Tx::begin(sbi);
        tx.append(ni, rec)?;
        tx.commit_and(then)
    })();
    // SAFETY: drops the reference `iget` took.
    unsafe { bindings::iput(i) };
    r
}

/// Takes a snapshot of the current epoch and starts the next one.
/// Returns the snapshot's epoch.
pub(crate) fn create(sbi: &Sbi) -> Result<u64> {
    // No store through a mapping from here until the new epoch: every
    // writable mapping is dropped, so the next store faults and copies
    // its page if this snapshot holds the block.
    let _closed = sbi.gate.close();
    sbi.unmap_all();
    // Only `create` changes the epoch of a mounted file system, under
    // this lock: the epoch read here stays current until the bump below.
    let mut snaps = sbi.snaps.lock();
    let epoch = sbi.epoch();
    let next = epoch.checked_add(1).ok_or(EOVERFLOW)?;
    let (time, _) = now_secs();
    // Allocated first: nothing can fail after the record is committed.
    let node = RBTreeNode::new(
        epoch,
        Snap {
            time,
            kept: KVec::new(),
        },
        GFP_KERNEL,
    )?;
    let mut rec = record(epoch, time, false)?;
    // The bump happens under the log lock, right after the commit: every
    // transaction committed before carries an epoch <= `epoch`, every
    // later one `next`.
    append(sbi, &mut rec, || sbi.epoch.store(next, Ordering::Relaxed))?;
    snaps.map.insert(node);
    sbi.stats.snapshots_taken.fetch_add(1, Ordering::Relaxed);
    Ok(epoch)
}

/// Deletes snapshot `epoch`: ENOENT if it is not a live snapshot. Its
/// list goes to the next snapshot that needs each item (the next newer
/// one, by the epoch rule); what no snapshot needs any more is freed.
pub(crate) fn delete(sbi: &Sbi, epoch: u64) -> Result {
    let mut snaps = sbi.snaps.lock();
    if !snaps.contains(epoch) {
        return Err(ENOENT);
    }
    let (time, _) = now_secs();
    let mut rec = record(epoch, time, true)?;
    append(sbi, &mut rec, || {})?;
    let list = match snaps.map.remove(&epoch) {
        Some(s) => s.kept,
        None => KVec::new(),
    };
    for &k in list.iter() {
        snaps.held = snaps.held.saturating_sub(k.len);
        match snaps.holder(k.born, k.died) {
            // Out of memory: left allocated until the next recovery.
            Some(s) => {
                let _ = snaps.keep(s, k);
            }
            None => snaps.dead.push(k, GFP_KERNEL)?,
        }
    }
    let wake = !snaps.dead.is_empty();
    drop(snaps);
    if wake {
        sbi.wake_cleaner();
    }
    Ok(())
}

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
    let dead = core::mem::replace(&mut sbi.snaps.lock().dead, KVec::new());
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
            inode::free_kept_inode(sbi, k.ino)
        } else {
            sbi.alloc.free(k.b, k.len)
        };
        if let Err(e) = r {
            // The rest of the list stays allocated: the next mount's
            // recovery finds what is dead again.
            sbi.defer_to_recovery();
            return Err(e);
        }
        blocks += k.len;
    }
    sbi.stats.cleaner_runs.fetch_add(1, Ordering::Relaxed);
    sbi.stats.cleaner_freed.fetch_add(blocks, Ordering::Relaxed);
    Ok(())
}

/// The cleaner kthread of a writable mount (its loop is in the shim): it
/// sleeps until a snapshot deletion leaves dead items, then runs `clean`.
pub(crate) struct Cleaner(core::ptr::NonNull<c_void>);

// SAFETY: the shim's cleaner is a kthread handle, usable from any thread.
unsafe impl Send for Cleaner {}
// SAFETY: as above; waking is a wait-queue operation.
unsafe impl Sync for Cleaner {}

impl Cleaner {
    /// Starts the thread. `sbi` must outlive the `Cleaner`.
    pub(crate) fn start(sbi: &Sbi) -> Result<Self> {
        let p = sbi as *const Sbi as *mut c_void;
        // SAFETY: the thread only uses `sbi` through `nova_rs_clean`, and
        // the `Cleaner` is dropped (thread stopped) before the `Sbi` is.
        let c = unsafe { shim::nova_shim_cleaner_start(p, sbi.devname.as_char_ptr()) };
        core::ptr::NonNull::new(c).map(Self).ok_or(ENOMEM)
    }

    pub(crate) fn wake(&self) {
        // SAFETY: a running cleaner (owned by `self`).
        unsafe { shim::nova_shim_cleaner_wake(self.0.as_ptr()) };
    }
}

impl Drop for Cleaner {
    fn drop(&mut self) {
        // SAFETY: started in `start`; stops the thread and waits for it.
        unsafe { shim::nova_shim_cleaner_stop(self.0.as_ptr()) };
    }
}

#[no_mangle]
extern "C" fn nova_rs_clean(sbi: *mut c_void) -> c_int {
    // SAFETY: the pointer `Cleaner::start` gave the thread; the `Sbi`
    // outlives it.
    let sbi = unsafe { &*sbi.cast::<Sbi>() };
    crate::gc::run_queue(sbi);
    match clean(sbi) {
        Ok(()) => 0,
        Err(e) => {
            pr_err!("{}: snapshot cleaner: {:?}\n", sbi.name(), e);
            e.to_errno()
        }
    }
}

#[kernel::macros::kunit_tests(nova_snapshot)]
mod tests {
    use super::*;

    fn set(epochs: &[u64]) -> Snapshots {
        let mut s = Snapshots::new();
        for &e in epochs {
            assert!(s.add(e, 0).is_ok());
        }
        s
    }

    #[test]
    fn holder_is_the_oldest_needing_snapshot() {
        let s = set(&[3, 7, 12]);
        assert_eq!(s.holder(5, 5), None);
        assert_eq!(s.holder(4, 7), None);
        assert_eq!(s.holder(4, 8), Some(7));
        assert_eq!(s.holder(1, 20), Some(3));
        assert_eq!(s.holder(13, 20), None);
        assert_eq!(set(&[]).holder(1, 2), None);
    }

    #[test]
    fn lists_move_to_the_next_needing_snapshot() {
        let mut s = set(&[3, 7]);
        let a = Kept {
            ino: 0,
            b: 100,
            len: 2,
            born: 1,
            died: 9,
        }; // needed by 3 and 7
        let b = Kept {
            ino: 0,
            b: 200,
            len: 1,
            born: 2,
            died: 5,
        }; // needed by 3 only
        assert!(s.keep(3, a).is_ok());
        assert!(s.keep(3, b).is_ok());
        assert_eq!(s.held_blocks(), 3);
        // Deleting 3 by hand, as `delete` does: a moves to 7, b is dead.
        let list = s.map.remove(&3).map(|x| x.kept).unwrap();
        let mut dead = KVec::new();
        for &k in list.iter() {
            s.held -= k.len;
            match s.holder(k.born, k.died) {
                Some(h) => assert!(s.keep(h, k).is_ok()),
                None => dead.push(k, GFP_KERNEL).unwrap(),
            }
        }
        assert_eq!(dead.as_slice(), &[b]);
        assert_eq!(s.map.get(&7).unwrap().kept.as_slice(), &[a]);
        assert_eq!(s.held_blocks(), 2);
    }
}
