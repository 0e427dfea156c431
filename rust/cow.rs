// SPDX-License-Identifier: GPL-2.0
//! Copy-on-write changes of file data: `write`, `fallocate`, size changes
//! and the fault path's new blocks all follow one sequence.
//!
//! 1. **allocate** new blocks for every page that changes ([`NewRuns`]; a
//!    failure frees them);
//! 2. **fill** them: user data, zeros, or old bytes — old bytes only once
//!    the mapping lock is held and the layout of the range is broken, so
//!    no store through a mapping can land in an old block after its bytes
//!    were copied;
//! 3. **reserve** the index memory the switch will need, with the inode's
//!    log claimed ([`IndexReserve`]: room in the index's leaves and in the
//!    dropped list);
//! 4. **commit** the `FileWrite` entries (and a `SetAttr` entry for a size
//!    change) with one transaction;
//! 5. **switch** the index, set the size, **release** the replaced blocks
//!    (to the snapshot that needs them, or freed).
//!
//! Steps 1–3 may fail and leave nothing behind; steps after the commit
//! cannot fail (the commit rule of `Documentation/design.md`). No block is
//! ever written in place, so a block a snapshot holds never changes, and
//! a crash leaves either the old or the new content of the change.

use crate::extent::Dropped;
use crate::format::entry::{file_hole, file_write};
use crate::format::layout::*;
use crate::inode::{NovaInode, Time};
use crate::kfile::{InodeLock, Kiocb, MappingLock};
use crate::leanvec::LeanVec;
use crate::log::Tx;
use crate::prof::Phase;
use crate::release;
use crate::sbi::Sbi;
use core::sync::atomic::Ordering;
use kernel::iov::IovIterSource;
use kernel::prelude::*;

/// Most pages one write or one fallocate batch allocates before
/// committing (bounds the entries of one transaction).
pub(crate) const MAX_WRITE_PAGES: u64 = 1 << 14;

/// One run of new blocks: `n` pages from page `pg`, at block `blk`;
/// `at` is the log address of its entry once appended.
#[derive(Clone, Copy)]
pub(crate) struct Run {
    pub(crate) pg: u64,
    pub(crate) blk: u64,
    pub(crate) n: u64,
    at: u64,
}

/// New blocks for pages of a file, not yet committed, in ascending page
/// order. Dropping it frees them, so every error path before the commit
/// gives them back. The first run is kept inline: a write of one page
/// allocates no memory for its bookkeeping.
pub(crate) struct NewRuns<'a> {
    sbi: &'a Sbi,
    first: Option<Run>,
    more: LeanVec<Run>,
}

impl<'a> NewRuns<'a> {
    pub(crate) fn new(sbi: &'a Sbi) -> Self {
        Self {
            sbi,
            first: None,
            more: LeanVec::new(),
        }
    }

    /// Allocates blocks for pages `[pg, pg + n)` (in one or more runs).
    pub(crate) fn alloc(&mut self, pg: u64, n: u64) -> Result {
        self.alloc_from(pg, n, false)
    }

    /// `alloc`, allowed to take the blocks held back for operations that
    /// free space (a shrinking truncate's copy of its last page).
    fn alloc_from(&mut self, pg: u64, n: u64, reserved: bool) -> Result {
        let mut p = pg;
        let end = pg.checked_add(n).ok_or(EFBIG)?;
        while p < end {
            if self.first.is_some() {
                self.more.reserve(1, GFP_KERNEL)?;
            }
            let a = &self.sbi.alloc;
            let (blk, got) = if reserved {
                a.alloc_reserved(self.sbi.cpu(), end - p)?
            } else {
                a.alloc(self.sbi.cpu(), end - p)?
            };
            if let Err(x) = self.sbi.owners.claim(blk, got) {
                // The allocator handed out a block a loaded file maps (a
                // saved free list that lied): keep both away from it
                // until a full recovery rebuilds the allocator.
                pr_err!(
                    "{}: free blocks {}+{} include block {}, which a file uses; the next mount rebuilds the free list\n",
                    self.sbi.name(),
                    blk,
                    got,
                    x
                );
                self.sbi.stats.lost_blocks.fetch_add(got, Ordering::Relaxed);
                self.sbi.defer_to_recovery();
                return Err(EIO);
            }
            let r = Run {
                pg: p,
                blk,
                n: got,
                at: 0,
            };
            if self.first.is_none() {
                self.first = Some(r);
            } else if self.more.push_within_capacity(r).is_err() {
                self.sbi.owners.clear(blk, got);
                let _ = self.sbi.alloc.free(blk, got);
                return Err(ENOMEM);
            }
            p += got;
        }
        Ok(())
    }

    /// The runs, in ascending page order.
    pub(crate) fn runs(&self) -> impl Iterator<Item = &Run> + '_ {
        Iterator::chain(self.first.iter(), self.more.iter())
    }

    fn runs_mut(&mut self) -> impl Iterator<Item = &mut Run> + '_ {
        Iterator::chain(self.first.iter_mut(), self.more.iter_mut())
    }

    /// The block of page `pg`, if a run covers it.
    pub(crate) fn block_of(&self, pg: u64) -> Option<u64> {
        self.runs()
            .find(|r| pg >= r.pg && pg - r.pg < r.n)
            .map(|r| r.blk + (pg - r.pg))
    }

    /// Gives back the blocks of pages after `last`.
    pub(crate) fn trim(&mut self, last: u64) {
        let sbi = self.sbi;
        let cut = |r: &mut Run| {
            let keep = if r.pg > last {
                0
            } else {
                core::cmp::min(r.n, last - r.pg + 1)
            };
            if keep < r.n {
                sbi.owners.clear(r.blk + keep, r.n - keep);
                let _ = sbi.alloc.free(r.blk + keep, r.n - keep);
                r.n = keep;
            }
        };
        if let Some(r) = self.first.as_mut() {
            cut(r);
        }
        for r in self.more.iter_mut() {
            cut(r);
        }
        self.more.retain(|r| r.n > 0);
        if self.first.is_some_and(|r| r.n == 0) {
            // Runs are in page order: every later one was cut too.
            self.first = None;
        }
    }

    /// Zeroes every new block.
    pub(crate) fn zero_all(&self) -> Result {
        for r in self.runs() {
            self.sbi
                .pm()
                .zero(r.blk << BLOCK_SHIFT, r.n << BLOCK_SHIFT)?;
        }
        Ok(())
    }

    /// The blocks are committed: they are the file's now, not to be freed.
    fn keep(&mut self) {
        self.first = None;
        self.more.clear();
    }
}

impl Drop for NewRuns<'_> {
    fn drop(&mut self) {
        for r in self.runs() {
            self.sbi.owners.clear(r.blk, r.n);
            let _ = self.sbi.alloc.free(r.blk, r.n);
        }
    }
}

/// Fills bytes `[s, e)` of the new block `dst` of page `pg` with what the
/// file held there: the old block's bytes below `old_size`, zeros past it
/// and in holes. The caller holds the mapping lock with the page's layout
/// broken, so the old bytes cannot change any more.
pub(crate) fn fill_old(ni: &NovaInode, dst: u64, pg: u64, s: u64, e: u64, old_size: u64) -> Result {
    if s >= e {
        return Ok(());
    }
    let pm = ni.sbi().pm();
    let valid = core::cmp::min(old_size.saturating_sub(pg << BLOCK_SHIFT), BLOCK_SIZE);
    let old = ni.data.lock().lookup(pg).map(|(b, _)| b);
    let mut z = s;
    if let Some(ob) = old {
        let ce = core::cmp::min(e, valid);
        if s < ce {
            pm.copy((dst << BLOCK_SHIFT) + s, (ob << BLOCK_SHIFT) + s, ce - s)?;
            z = ce;
        }
    }
    pm.zero((dst << BLOCK_SHIFT) + z, e - z)
}

/// What a commit sets besides the new blocks.
pub(crate) struct Commit<'e> {
    /// The file size after the change (in every `FileWrite` entry).
    pub(crate) size: u64,
    /// The modification time of the `FileWrite` entries.
    pub(crate) mtime: (i64, u32),
    /// Set the in-memory modification and change times to `mtime`.
    pub(crate) set_times: bool,
    /// A `SetAttr` entry logged after the `FileWrite` entries.
    pub(crate) setattr: Option<&'e mut [u8]>,
    /// A `SetAttr` entry logged before the `FileWrite` entries: a size
    /// change whose replay drops the pages `cut` drops, so that the new
    /// runs land in pages it emptied (a shift, `shift.rs`).
    pub(crate) lead: Option<&'e mut [u8]>,
    /// Drop every page from this one on (a size change), before the new
    /// runs go in (existing callers' runs lie below it; a shift's runs
    /// refill what it dropped).
    pub(crate) cut: Option<u64>,
    /// Make pages `[first, first + count)` holes (a `FW_HOLE` entry;
    /// disjoint from the new runs).
    pub(crate) punch: Option<(u64, u64)>,
    /// The fault path: replaced blocks no snapshot needs go to the dead
    /// list, not straight back to the allocator (`release_all_deferred`).
    pub(crate) defer: bool,
}

impl Commit<'_> {
    /// A change of data only: new size, times set to `t`.
    pub(crate) fn data(size: u64, t: (i64, u32)) -> Self {
        Self {
            size,
            mtime: t,
            set_times: true,
            setattr: None,
            lead: None,
            cut: None,
            punch: None,
            defer: false,
        }
    }
}

/// Adds to `runs` a copy of page `pg` with the bytes from `valid` (a file
/// offset inside the page) on cleared, the layout of the page broken
/// first (the caller holds the mapping lock `ml`). Nothing is cleared in
/// place: the old block may be a snapshot's, and a crash must leave it.
fn clear_tail_copy(
    ni: &NovaInode,
    ml: &MappingLock<'_>,
    runs: &mut NewRuns<'_>,
    pg: u64,
    valid: u64,
    reserved: bool,
) -> Result {
    runs.alloc_from(pg, 1, reserved)?;
    let pstart = pg << BLOCK_SHIFT;
    ml.break_layout(pstart, pstart + BLOCK_SIZE - 1)?;
    let b = runs.block_of(pg).ok_or(EINVAL)?;
    fill_old(ni, b, pg, 0, BLOCK_SIZE, valid)
}

/// Steps 3–5 of the sequence: reserves the index memory, commits the
/// runs' `FileWrite` entries (then `c.setattr`), switches the index, sets
/// the size and releases the replaced blocks. The caller has filled the
/// new blocks and keeps faults off the pages being replaced (the mapping
/// lock held exclusive with the layout broken, or, in the fault path,
/// shared with the page's DAX entry locked). Returns the commit's epoch.
pub(crate) fn commit(ni: &NovaInode, mut runs: NewRuns<'_>, c: Commit<'_>) -> Result<u64> {
    let sbi = ni.sbi();
    // Reserved with the log claimed (by `Tx::begin`): the room is made in
    // the index itself (`extent.rs`), so no other change of it may come
    // between the reservation and the switch.
    let t_res = sbi.prof.span(Phase::Reserve);
    let mut tx = Tx::begin(sbi, &[ni])?;
    let epoch = tx.epoch();
    let mut res;
    {
        let mut idx = ni.data.lock();
        res = idx.take_reserve();
        if let Some(pg) = c.cut {
            idx.reserve_truncate(&mut res, pg)?;
        }
        for r in runs.runs() {
            idx.reserve_insert(&mut res, r.pg, r.n)?;
        }
        if let Some((pg, n)) = c.punch {
            idx.reserve_punch(&mut res, pg, n)?;
        }
    }
    drop(t_res);
    let t_app = sbi.prof.span(Phase::Append);
    if let Some(e) = c.lead {
        tx.append(ni, e)?;
    }
    for r in runs.runs_mut() {
        let mut e = file_write(r.pg, r.blk, r.n, c.size, c.mtime)?;
        // (The index records where the entry went.)
        r.at = tx.append(ni, &mut e)?;
    }
    if let Some((pg, n)) = c.punch {
        let mut e = file_hole(pg, n, c.size, c.mtime)?;
        tx.append(ni, &mut e)?;
    }
    if let Some(e) = c.setattr {
        tx.append(ni, e)?;
    }
    drop(t_app);
    let t_commit = sbi.prof.span(Phase::Commit);
    // The dropped ranges of a small change are copied out so that the
    // reservation's memory goes back to the index under this same lock.
    let mut few = [Dropped::new(0, 0, 0); 4];
    let mut nfew = 0;
    let mut short = false;
    let mut rest = None;
    // The index switches before the log's claim is given back: a log GC
    // judges entries by it (`liveness.rs`). Nothing in it can fail.
    tx.commit_and(|| {
        let _t = sbi.prof.span(Phase::Switch);
        let mut idx = ni.data.lock();
        if let Some(pg) = c.cut {
            idx.truncate_reserved(&mut res, pg);
        }
        for r in runs.runs() {
            idx.insert_reserved(&mut res, r.pg, r.blk, r.n, (epoch, r.at));
        }
        runs.keep();
        if let Some((pg, n)) = c.punch {
            idx.punch_reserved(&mut res, pg, n);
        }
        idx.tidy();
        short = res.short;
        match few.get_mut(..res.dropped.len()) {
            Some(f) => {
                for (d, s) in f.iter_mut().zip(res.dropped.iter()) {
                    *d = *s;
                }
                nfew = f.len();
                idx.recycle(res);
            }
            None => rest = Some(res),
        }
    })?;
    drop(t_commit);
    // Committed: nothing below can fail.
    ni.set_size(c.size);
    if c.set_times {
        ni.set_time(Time::Modify, c.mtime.0, c.mtime.1);
        ni.set_time(Time::Change, c.mtime.0, c.mtime.1);
    }
    let t_rel = sbi.prof.span(Phase::Release);
    let dropped = match &rest {
        Some(r) => &r.dropped[..],
        None => few.get(..nfew).unwrap_or(&[]),
    };
    for d in dropped.iter() {
        sbi.owners.clear(d.block, d.len);
    }
    if short {
        pr_err!(
            "{}: inode {}: index reservation fell short\n",
            sbi.name(),
            ni.ino()
        );
    }
    if c.defer {
        release::release_all_deferred(sbi, dropped, epoch);
    } else {
        release::release_all(sbi, dropped, epoch);
    }
    if let Some(r) = rest {
        ni.data.lock().recycle(r);
    }
    drop(t_rel);
    Ok(epoch)
}

/// A size change from `old_size` to `new_size`, committed with the
/// `SetAttr` entry `entry` (which carries the new size): the page holding
/// the smaller of the two ends, when partial and mapped, is replaced by a
/// copy with its bytes past that end cleared (never cleared in place: a
/// snapshot may hold the block, and a crash must not expose or lose
/// bytes); pages past the new end are dropped. `ml` is the file's
/// mapping lock, held by the caller until this returns.
pub(crate) fn resize(
    ni: &NovaInode,
    ml: &MappingLock<'_>,
    old_size: u64,
    new_size: u64,
    entry: &mut [u8],
) -> Result<u64> {
    let sbi = ni.sbi();
    let edge = core::cmp::min(old_size, new_size);
    let (pg, keep) = (edge >> BLOCK_SHIFT, edge & (BLOCK_SIZE - 1));
    // Every size change drops the pages past the new end (as its replay
    // does: blocks `fallocate` kept past the end go too when the size
    // grows over them).
    let cut = new_size.div_ceil(BLOCK_SIZE);
    // Pages past the new end may be mapped: unmap them before their
    // blocks go.
    ml.break_layout(cut << BLOCK_SHIFT, i64::MAX as u64)?;
    let mut runs = NewRuns::new(sbi);
    if keep != 0 && new_size != old_size && ni.data.lock().lookup(pg).is_some() {
        clear_tail_copy(ni, ml, &mut runs, pg, edge, new_size < old_size)?;
    }
    commit(
        ni,
        runs,
        Commit {
            size: new_size,
            mtime: ni.time(Time::Modify),
            set_times: false,
            setattr: Some(entry),
            lead: None,
            cut: Some(cut),
            punch: None,
            defer: false,
        },
    )
}

/// `write_iter`: `from` at the position of `iocb`.
pub(crate) fn write_iter(iocb: &Kiocb, from: &mut IovIterSource<'_>) -> Result<isize> {
    let ni = iocb.file().inode();
    let _t = ni.sbi().prof.span(Phase::Write);
    let _l = InodeLock::new(ni, false);
    let r = write_locked(ni, iocb, from);
    let _g = ni.sbi().prof.span(Phase::GcCheck);
    crate::gc::maybe(ni);
    r
}

/// `write_iter` with the inode locked.
fn write_locked(ni: &NovaInode, iocb: &Kiocb, from: &mut IovIterSource<'_>) -> Result<isize> {
    let sbi = ni.sbi();
    let t_checks = sbi.prof.span(Phase::Checks);
    let n = iocb.write_checks(from);
    if n <= 0 {
        return Ok(n);
    }
    iocb.file().remove_privs()?;
    drop(t_checks);
    let pos = iocb.pos() as u64;
    if sbi.opts.inplace {
        if let Some(r) = crate::inplace::write(ni, iocb, from, pos, n as u64) {
            return r;
        }
    }
    // `generic_write_checks` bounded `pos + n` by the maximum file size.
    let end_req = pos.checked_add(n as u64).ok_or(EFBIG)?;
    let first = pos >> BLOCK_SHIFT;
    let last = core::cmp::min((end_req - 1) >> BLOCK_SHIFT, first + MAX_WRITE_PAGES - 1);
    let end = core::cmp::min(end_req, (last + 1) << BLOCK_SHIFT);
    let old_size = ni.size();
    // 1. New blocks, and the user data copied into them (no lock that a
    // fault needs is held: the user buffer may be a mapping of this file).
    let mut runs = NewRuns::new(sbi);
    let t_alloc = sbi.prof.span(Phase::Alloc);
    runs.alloc(first, last - first + 1)?;
    drop(t_alloc);
    let t_copy = sbi.prof.span(Phase::Copy);
    let mut copied = 0u64;
    for r in runs.runs() {
        let rs = core::cmp::max(pos, r.pg << BLOCK_SHIFT);
        let re = core::cmp::min(end, (r.pg + r.n) << BLOCK_SHIFT);
        let dst = (r.blk << BLOCK_SHIFT) + (rs - (r.pg << BLOCK_SHIFT));
        let c = sbi.pm().write_from_iter(dst, (re - rs) as usize, from)? as u64;
        copied += c;
        if c < re - rs {
            // The user buffer faulted: commit exactly what was copied.
            break;
        }
    }
    drop(t_copy);
    if copied == 0 {
        return Err(EFAULT);
    }
    let wend = pos + copied;
    let wlast = (wend - 1) >> BLOCK_SHIFT;
    runs.trim(wlast);
    let new_size = core::cmp::max(old_size, wend);
    // A write past the end that does not touch the old last page: that
    // page gets a copy with its bytes past the old end cleared (a store
    // through a mapping may have left data there, and they become file
    // content).
    let t = ni.now();
    // 2. No fault may map the old blocks from here until the index points
    // at the new ones; only now are their bytes copied.
    // Every page the write replaces is broken in one go, the old last
    // page too when the write starts past it, before anything is looked
    // up or copied: a break that waits for a pinned page drops the lock
    // for a while (a fault may then map or fill a page).
    let t_layout = sbi.prof.span(Phase::Layout);
    let ml = MappingLock::new(ni);
    let eof_pg = old_size >> BLOCK_SHIFT;
    let past = pos > old_size && old_size % BLOCK_SIZE != 0 && eof_pg < first;
    let from = if past { eof_pg } else { first };
    ml.break_layout(from << BLOCK_SHIFT, ((wlast + 1) << BLOCK_SHIFT) - 1)?;
    drop(t_layout);
    let t_fill = sbi.prof.span(Phase::Fill);
    if past && ni.data.lock().lookup(eof_pg).is_some() {
        // (Its break of the page, inside the span, needs no wait.)
        clear_tail_copy(ni, &ml, &mut runs, eof_pg, old_size, false)?;
    }
    let head = pos & (BLOCK_SIZE - 1);
    if let Some(b) = runs.block_of(first) {
        fill_old(ni, b, first, 0, head, old_size)?;
    }
    let tail = wend & (BLOCK_SIZE - 1);
    if tail != 0 {
        if let Some(b) = runs.block_of(wlast) {
            fill_old(ni, b, wlast, tail, BLOCK_SIZE, old_size)?;
        }
    }
    drop(t_fill);
    commit(ni, runs, Commit::data(new_size, t))?;
    drop(ml);
    iocb.set_pos(wend as i64);
    Ok(copied as isize)
}

/// The DAX fault path's question: which block holds the page at byte
/// `pos`, for how many pages does that run go on, and (for a copy on
/// write) which block it was copied from? `(0, n, 0)` is a hole of `n`
/// pages.
///
/// A write fault on a hole gets a zeroed block; a write fault on a block
/// a live snapshot keeps gets a copy (the snapshot keeps the old page).
/// Either way the new block is logged and committed before it is mapped,
/// so `MAP_SYNC` needs no more.
///
/// Called with the mapping lock held shared, which keeps out writes,
/// truncates and fallocates (they hold it exclusive); faults on one page
/// are serialised by the DAX entry lock.
pub(crate) fn iomap_begin(ni: &NovaInode, pos: u64, write: bool) -> Result<(u64, u64, u64, bool)> {
    let pg = pos >> BLOCK_SHIFT;
    let sbi = ni.sbi();
    if sbi.is_shut_down() {
        return Err(EIO);
    }
    let found = {
        let idx = ni.data.lock();
        match idx.extent(pg) {
            Some(x) => x,
            None if !write => {
                let next = idx.next_mapped(pg).unwrap_or(u64::MAX);
                let eof = ni.size().div_ceil(BLOCK_SIZE);
                let end = core::cmp::max(pg + 1, core::cmp::min(next, eof));
                return Ok((0, end - pg, 0, false));
            }
            None => (0, 0, 0),
        }
    };
    // (The data lock is not held here: snapshots come first in the lock
    // order. The page cannot change meanwhile, see above.)
    let old = match found {
        (0, _, _) => None,
        (b, run, born) if !write => {
            // Other mappings may map these blocks (another file's, a
            // snapshot view's): the DAX code must know (`IOMAP_F_SHARED`).
            let (run, other) = sbi.other_mappings(b, run, born)?;
            return Ok((b, run, 0, other));
        }
        (b, run, born) => {
            let held = sbi.snaps.lock().holder(born, sbi.epoch()).is_some();
            if !held && !sbi.is_shared(b, 1) {
                return Ok((b, run, 0, false));
            }
            Some(b)
        }
    };
    let mut runs = NewRuns::new(sbi);
    runs.alloc(pg, 1)?;
    let b = runs.block_of(pg).ok_or(EINVAL)?;
    match old {
        Some(ob) => sbi
            .pm()
            .copy(b << BLOCK_SHIFT, ob << BLOCK_SHIFT, BLOCK_SIZE)?,
        None => sbi.pm().zero(b << BLOCK_SHIFT, BLOCK_SIZE)?,
    }
    // The fault path set the modification time already.
    commit(
        ni,
        runs,
        Commit {
            size: ni.size(),
            mtime: ni.time(Time::Modify),
            set_times: false,
            setattr: None,
            lead: None,
            cut: None,
            punch: None,
            defer: true,
        },
    )?;
    Ok((b, 1, old.unwrap_or(0), false))
}
