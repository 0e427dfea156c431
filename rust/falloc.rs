// SPDX-License-Identifier: GPL-2.0
//! `fallocate(2)`: the default mode and `FALLOC_FL_KEEP_SIZE` (zeroed
//! blocks for the holes of a range), `FALLOC_FL_PUNCH_HOLE` and
//! `FALLOC_FL_ZERO_RANGE`, all through the copy-on-write sequence of
//! `cow.rs`; `FALLOC_FL_COLLAPSE_RANGE` and `FALLOC_FL_INSERT_RANGE`
//! checked here and done by `shift.rs`.
//!
//! A punched page leaves the file's index by a `FileWrite` entry flagged
//! `FW_HOLE`; its block is released like an overwritten one (to the
//! snapshot that still needs it, or freed), never cleared in place. A
//! partial page at either end of the range gets a copy with the range's
//! bytes cleared, committed with the hole entry in one transaction, so a
//! crash leaves the whole punch or none of it.

use crate::cow::{commit, fill_old, resize, Commit, NewRuns, MAX_WRITE_PAGES};
use crate::format::entry::set_times;
use crate::format::layout::*;
use crate::inode::{NovaInode, Time};
use crate::kfile::{File, InodeLock, MappingLock};
use crate::log::Tx;
use kernel::prelude::*;

// The uapi `FALLOC_FL_*` flags (macros the bindings lack).
const KEEP_SIZE: i32 = 0x01;
const PUNCH_HOLE: i32 = 0x02;
const COLLAPSE_RANGE: i32 = 0x08;
const ZERO_RANGE: i32 = 0x10;
const INSERT_RANGE: i32 = 0x20;

/// Most pages one hole entry covers (its page count is 32 bits).
const MAX_HOLE_PAGES: u64 = u32::MAX as u64;

/// `fallocate(file, mode, off, len)`. The other modes (`UNSHARE_RANGE`,
/// `WRITE_ZEROES`, ...) are not supported (`EOPNOTSUPP`).
pub(crate) fn fallocate(file: &File, mode: i32, off: i64, len: i64) -> Result {
    if mode & (COLLAPSE_RANGE | INSERT_RANGE) != 0 {
        return shift(file, mode, off, len);
    }
    let op = mode & !KEEP_SIZE;
    let keep = mode & KEEP_SIZE != 0;
    match op {
        0 | ZERO_RANGE => {}
        // As the VFS says too: a punch never changes the size.
        PUNCH_HOLE if keep => {}
        _ => return Err(EOPNOTSUPP),
    }
    if off < 0 || len <= 0 {
        return Err(EINVAL);
    }
    let ni = file.inode();
    let _l = InodeLock::new(ni, false);
    let end = (off as u64).checked_add(len as u64).ok_or(EFBIG)?;
    if end > i64::MAX as u64 {
        return Err(EFBIG);
    }
    if !keep {
        ni.newsize_ok(end)?;
    }
    // Not `file_modified`: its time update would be a commit of its own
    // before the change (a crash between the two would show the new times
    // with the old data). The times go with the change's own commits.
    file.remove_privs()?;
    let off = off as u64;
    // One time for every commit of the call.
    let t = ni.now();
    match op {
        PUNCH_HOLE => punch_locked(ni, off, end, t),
        ZERO_RANGE => {
            // The range reads zeros once the punch is committed; filling
            // its holes with zeroed blocks again only adds blocks (a
            // crash part-way changes no byte).
            punch_locked(ni, off, end, t)?;
            allocate_locked(ni, off, end, keep, t)
        }
        _ => allocate_locked(ni, off, end, keep, t),
    }
}

/// `COLLAPSE_RANGE` or `INSERT_RANGE` (alone: with any other flag,
/// `EINVAL`), checked as ext4 and XFS check them.
fn shift(file: &File, mode: i32, off: i64, len: i64) -> Result {
    let collapse = mode == COLLAPSE_RANGE;
    if !collapse && mode != INSERT_RANGE {
        return Err(EINVAL);
    }
    let aligned = |v: i64| v as u64 & (BLOCK_SIZE - 1) == 0;
    if off < 0 || len <= 0 || !aligned(off) || !aligned(len) {
        return Err(EINVAL);
    }
    let (off, len) = (off as u64, len as u64);
    let ni = file.inode();
    let _l = InodeLock::new(ni, false);
    let size = ni.size();
    if collapse {
        // The range may not reach the end of file (that is a truncate).
        if off.checked_add(len).is_none_or(|end| end >= size) {
            return Err(EINVAL);
        }
    } else {
        if off >= size {
            return Err(EINVAL);
        }
        let grown = size.checked_add(len).ok_or(EFBIG)?;
        if grown > MAX_FILE_SIZE {
            return Err(EFBIG);
        }
        ni.newsize_ok(grown)?;
    }
    file.remove_privs()?;
    let t = ni.now();
    crate::shift::shift_locked(ni, off, len, collapse, t)
}

/// Gives every hole in `[off, end)` a zeroed block (one `FileWrite` entry
/// per run, committed in batches) and, unless `keep`, grows the size to
/// `end`.
fn allocate_locked(ni: &NovaInode, off: u64, end: u64, keep: bool, t: (i64, u32)) -> Result {
    let sbi = ni.sbi();
    let old_size = ni.size();
    let new_size = if keep {
        old_size
    } else {
        core::cmp::max(old_size, end)
    };
    let last = (end - 1) >> BLOCK_SHIFT;
    let mut pg = off >> BLOCK_SHIFT;
    // Held for the whole call: no fault fills a hole between finding it
    // and committing its new block. The whole range is broken once, first
    // (read faults may have mapped the zero page over the holes): a break
    // that waits for a pinned page drops the lock for a while, and a
    // fault may then fill a hole, so holes are looked up only after it.
    let ml = MappingLock::new(ni);
    ml.break_layout(off & !(BLOCK_SIZE - 1), ((last + 1) << BLOCK_SHIFT) - 1)?;
    // Holes first, committed with the old size (blocks past the end, as
    // KEEP_SIZE leaves them), then the size: a call that fails part-way
    // leaves the file as it was, only with more blocks.
    loop {
        // The next hole of the range, at most one batch long.
        let (hs, he) = {
            let idx = ni.data.lock();
            let h = idx.next_hole(pg);
            if h > last {
                break;
            }
            let he = idx
                .next_mapped(h)
                .map_or(last + 1, |m| core::cmp::min(m, last + 1));
            (h, core::cmp::min(he, h + MAX_WRITE_PAGES))
        };
        let mut runs = NewRuns::new(sbi);
        runs.alloc(hs, he - hs)?;
        runs.zero_all()?;
        commit(ni, runs, Commit::data(old_size, t))?;
        pg = he;
    }
    if new_size != old_size {
        // The size grows, logged like a truncate (which also gives a
        // partial last page a copy with its bytes past the old end
        // cleared: they become file content).
        let mut e = set_times(ATTR_SIZE, new_size, t, t);
        resize(ni, &ml, old_size, new_size, &mut e)?;
        ni.set_time(Time::Modify, t.0, t.1);
        ni.set_time(Time::Change, t.0, t.1);
    }
    Ok(())
}

/// Makes bytes `[off, end)` read as zeros without changing the size:
/// whole pages become holes, a partial page at either end is replaced by
/// a copy with the range cleared. One transaction (per 2^32 pages of
/// mapped range).
fn punch_locked(ni: &NovaInode, off: u64, end: u64, t: (i64, u32)) -> Result {
    let sbi = ni.sbi();
    let size = ni.size();
    let (first, last) = (off >> BLOCK_SHIFT, (end - 1) >> BLOCK_SHIFT);
    let ml = MappingLock::new(ni);
    // No fault maps a page of the range again until the commit, and no
    // store through a mapping lands in an old block after its bytes are
    // copied.
    ml.break_layout(first << BLOCK_SHIFT, ((last + 1) << BLOCK_SHIFT) - 1)?;
    let (head, tail) = (off & (BLOCK_SIZE - 1), end & (BLOCK_SIZE - 1));
    // The partial pages: (page, cleared from, cleared to) in page order.
    let mut edges: [Option<(u64, u64, u64)>; 2] = [None, None];
    if first == last && (head != 0 || tail != 0) {
        edges[0] = Some((first, head, if tail == 0 { BLOCK_SIZE } else { tail }));
    } else {
        if head != 0 {
            edges[0] = Some((first, head, BLOCK_SIZE));
        }
        if tail != 0 {
            edges[1] = Some((last, 0, tail));
        }
    }
    let mut runs = NewRuns::new(sbi);
    for &(pg, s, e) in edges.iter().flatten() {
        if ni.data.lock().lookup(pg).is_none() {
            // A hole reads zeros already.
            continue;
        }
        runs.alloc(pg, 1)?;
        let b = runs.block_of(pg).ok_or(EINVAL)?;
        fill_old(ni, b, pg, 0, s, size)?;
        sbi.pm().zero((b << BLOCK_SHIFT) + s, e - s)?;
        fill_old(ni, b, pg, e, BLOCK_SIZE, size)?;
    }
    // The whole pages of the range, as far as any of them is mapped.
    let (lo, hi) = (off.div_ceil(BLOCK_SIZE), end >> BLOCK_SHIFT);
    let mut from = lo;
    loop {
        let span = ni.data.lock().mapped_span(from, hi);
        let punch = span.map(|(a, b)| (a, core::cmp::min(b - a, MAX_HOLE_PAGES)));
        if punch.is_none() && runs.runs().next().is_none() {
            if from == lo {
                // Nothing mapped in the range: only the times change.
                let mut e = set_times(0, 0, t, t);
                Tx::one(sbi, ni, &mut e)?;
                ni.set_time(Time::Modify, t.0, t.1);
                ni.set_time(Time::Change, t.0, t.1);
            }
            return Ok(());
        }
        let c = Commit {
            punch,
            ..Commit::data(size, t)
        };
        commit(ni, runs, c)?;
        runs = NewRuns::new(sbi);
        match punch {
            Some((a, n)) => from = a + n,
            None => return Ok(()),
        }
    }
}
