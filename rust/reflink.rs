// SPDX-License-Identifier: GPL-2.0
//! Reflink copies (`FICLONE`, `FICLONERANGE`, `FIDEDUPERANGE`): pages of
//! one file become pages of another (or of the same file at another
//! offset) by pointing at the same blocks, which then have several users
//! (`shared.rs`). Nothing is copied; since every change of file data is
//! copy-on-write, a shared block is never written in place, and a write
//! to either file gives it a new block.
//!
//! The clone of a range is one transaction of the destination (for up to
//! 4096 runs of the source's blocks; a more fragmented source is cloned
//! in parts of that many, each atomic, the size growing with each): a hole
//! entry (`FW_HOLE`) over the whole destination range (unless the source
//! range is mapped throughout), then one `FileWrite` entry per run of the
//! source's blocks, each with the new size. No entry kind is new: replay,
//! log GC and snapshot views read them as any write. The blocks gain
//! their users before the commit (an overcount until then, undone if the
//! commit fails); the destination's old blocks leave its index after it
//! and go through `release` (to the snapshot that needs them, or one user
//! fewer). The first clone of an image writes format version 2 into the
//! superblock first (older code refuses to mount it), and from then on
//! the mount counts the users of every block from the logs.
//!
//! The VFS checks and the locks (both inodes, both mappings), the flush
//! of mapped stores, the comparison of a dedupe and the unmapping of both
//! ranges are done by the C entry point (`nova_remap_file_range`).

use crate::cow::{commit as commit_new, fill_old, Commit, NewRuns};
use crate::extent::Dropped;
use crate::format::entry::{file_hole, file_write};
use crate::format::layout::*;
use crate::inode::{NovaInode, Time};
use crate::log::Tx;
use crate::release;
use crate::sbi::Sbi;
use core::sync::atomic::Ordering;
use kernel::prelude::*;

/// Most runs of blocks one clone commits (bounds its transaction).
const MAX_RUNS: usize = 4096;

/// One run of the source: `n` pages at destination page `pg` in blocks
/// from `blk`.
#[derive(Clone, Copy)]
struct Run {
    pg: u64,
    blk: u64,
    n: u64,
}

/// The source's runs of blocks over pages `[spg, spg + n)`, placed at
/// destination page `dpg`: at most [`MAX_RUNS`] of them, and how many
/// pages they cover (up to `n`; fewer when the runs ran out).
fn source_runs(src: &NovaInode, spg: u64, n: u64, dpg: u64) -> Result<(KVec<Run>, u64)> {
    let mut runs: KVec<Run> = KVec::new();
    let idx = src.data.lock();
    let end = spg.checked_add(n).ok_or(EINVAL)?;
    let mut p = spg;
    while p < end {
        let (b, run) = match idx.lookup(p) {
            Some(x) => x,
            None => match idx.next_mapped(p) {
                Some(m) if m < end => {
                    p = m;
                    continue;
                }
                _ => break,
            },
        };
        let k = run.min(end - p);
        // Runs that continue each other (pages and blocks) are one: a
        // file written in many sequential writes clones as one run.
        if let Some(last) = runs.last_mut() {
            if last.pg + last.n == dpg + (p - spg) && last.blk + last.n == b {
                last.n += k;
                p += k;
                continue;
            }
        }
        if runs.len() >= MAX_RUNS {
            return Ok((runs, p - spg));
        }
        runs.push(
            Run {
                pg: dpg + (p - spg),
                blk: b,
                n: k,
            },
            GFP_KERNEL,
        )?;
        p += k;
    }
    Ok((runs, n))
}

/// Marks the image as one with shared blocks (format version 2), before
/// the first clone's commit.
fn mark_reflinked(sbi: &Sbi) -> Result {
    if sbi.reflinked.load(Ordering::Acquire) {
        return Ok(());
    }
    let _g = sbi.journal_lock.lock();
    if sbi.reflinked.load(Ordering::Acquire) {
        return Ok(());
    }
    let mut sb = sbi.current_sb()?;
    sb.version.set(FORMAT_VERSION_SHARED);
    sbi.write_sb(&mut sb)?;
    // `write_sb` keeps the version from now on.
    sbi.reflinked.store(true, Ordering::Release);
    pr_info!("{}: first reflink copy: format version 2\n", sbi.name());
    Ok(())
}

/// Gives one user back for the first `k` runs (a clone that did not
/// commit).
fn undo(sbi: &Sbi, runs: &[Run], k: usize) {
    let mut sh = sbi.shared.lock();
    for r in runs.iter().take(k) {
        if sh.drop_user(r.blk, r.n, |_, _| {}).is_err() {
            // Left over-counted: the blocks stay until the next scan.
            sbi.stats.lost_blocks.fetch_add(r.n, Ordering::Relaxed);
        }
    }
}

/// Clones `len` bytes at `spos` of `src` to `dpos` of `dst` (a dedupe
/// when `dedupe`: the bytes are equal, sizes and times stay). The caller
/// holds both inode locks and both mapping locks exclusive, checked the
/// ranges (block-aligned offsets; `len` block-aligned or reaching the
/// source's end of file; no overlap within one file) and unmapped both
/// ranges. Returns `len`.
pub(crate) fn remap(
    src: &NovaInode,
    spos: u64,
    dst: &NovaInode,
    dpos: u64,
    len: u64,
    dedupe: bool,
) -> Result<u64> {
    let sbi = dst.sbi();
    if sbi.read_only() {
        return Err(EROFS);
    }
    if len == 0 {
        return Ok(0);
    }
    if spos % BLOCK_SIZE != 0 || dpos % BLOCK_SIZE != 0 {
        return Err(EINVAL);
    }
    let end = dpos.checked_add(len).ok_or(EFBIG)?;
    if end > MAX_FILE_SIZE {
        return Err(EFBIG);
    }
    let (spg, dpg, n) = (
        spos >> BLOCK_SHIFT,
        dpos >> BLOCK_SHIFT,
        len.div_ceil(BLOCK_SIZE),
    );
    let t = if dedupe {
        dst.time(Time::Modify)
    } else {
        dst.now()
    };
    mark_reflinked(sbi)?;
    if !dedupe {
        clear_old_tail(dst, dpos)?;
    }
    // One transaction for up to `MAX_RUNS` runs of the source: a whole
    // call unless the source is that fragmented.
    let mut done = 0u64;
    while done < n {
        let (runs, covered) = source_runs(src, spg + done, n - done, dpg + done)?;
        let last = done + covered == n;
        // The size the destination reaches with this part (all of it
        // with the last: `len` may end inside a page).
        let part_end = if last {
            end
        } else {
            (dpg + done + covered) << BLOCK_SHIFT
        };
        let size = if dedupe {
            dst.size()
        } else {
            dst.size().max(part_end)
        };
        let mapped: u64 = runs.iter().map(|r| r.n).sum();
        let part = Part {
            dpg: dpg + done,
            n: covered,
            punch: mapped < covered,
            size,
            t,
            dedupe,
        };
        clone_part(dst, &runs, &part)?;
        done += covered;
    }
    Ok(len)
}

/// Before a clone that starts past the destination's end of file: the
/// page holding the old end, if partial and mapped, is replaced by a copy
/// with its bytes past the end cleared (a store through a mapping may
/// have left bytes there, which the new size would show; as a size change
/// does). Its own transaction, before the clone's: it changes no byte
/// below the size, so a crash between the two shows nothing of it.
fn clear_old_tail(dst: &NovaInode, dpos: u64) -> Result {
    let size = dst.size();
    if dpos <= size || size % BLOCK_SIZE == 0 {
        return Ok(());
    }
    let pg = size >> BLOCK_SHIFT;
    if dst.data.lock().lookup(pg).is_none() {
        return Ok(());
    }
    let mut runs = NewRuns::new(dst.sbi());
    runs.alloc(pg, 1)?;
    let b = runs.block_of(pg).ok_or(EINVAL)?;
    fill_old(dst, b, pg, 0, BLOCK_SIZE, size)?;
    let t = dst.time(Time::Modify);
    commit_new(
        dst,
        runs,
        Commit {
            set_times: false,
            ..Commit::data(size, t)
        },
    )
    .map(|_| ())
}

/// One part of a clone: destination pages `[dpg, dpg + n)`, a hole entry
/// over them first when `punch`, the size after it and the times.
struct Part {
    dpg: u64,
    n: u64,
    punch: bool,
    size: u64,
    t: (i64, u32),
    dedupe: bool,
}

/// Clones one part: the users first (everything that can fail comes
/// before the commit), then the commit; the users are given back if it
/// fails.
fn clone_part(dst: &NovaInode, runs: &[Run], p: &Part) -> Result {
    let sbi = dst.sbi();
    {
        let mut sh = sbi.shared.lock();
        for (i, r) in runs.iter().enumerate() {
            if let Err(e) = sh.add(r.blk, r.n) {
                drop(sh);
                undo(sbi, runs, i);
                return Err(e);
            }
        }
    }
    let r = commit(dst, runs, p);
    if r.is_err() {
        undo(sbi, runs, runs.len());
    }
    r
}

/// Steps 2–4 of a clone: reserve, commit, switch the index and release
/// what it replaced.
fn commit(dst: &NovaInode, runs: &[Run], p: &Part) -> Result {
    let sbi = dst.sbi();
    let (dpg, n, punch, size, t) = (p.dpg, p.n, p.punch, p.size, p.t);
    // Reserved with the log claimed, as `cow::commit` does.
    let mut tx = Tx::begin(sbi, &[dst])?;
    let epoch = tx.epoch();
    let mut res = {
        let mut idx = dst.data.lock();
        let mut res = idx.take_reserve();
        if punch {
            idx.reserve_punch(&mut res, dpg, n)?;
        }
        for r in runs {
            idx.reserve_insert(&mut res, r.pg, r.n)?;
        }
        res
    };
    if punch {
        let mut e = file_hole(dpg, n, size, t)?;
        tx.append(dst, &mut e)?;
    }
    // Where each run's entry went (the index records it).
    let mut at: KVec<u64> = KVec::with_capacity(runs.len(), GFP_KERNEL)?;
    for r in runs {
        let mut e = file_write(r.pg, r.blk, r.n, size, t)?;
        at.push(tx.append(dst, &mut e)?, GFP_KERNEL)?;
    }
    // The index switches before the log's claim is given back: a log GC
    // judges entries by it (`liveness.rs`). Nothing in it can fail.
    tx.commit_and(|| {
        let mut idx = dst.data.lock();
        if punch {
            idx.punch_reserved(&mut res, dpg, n);
        }
        for (r, &a) in runs.iter().zip(at.iter()) {
            idx.insert_reserved(&mut res, r.pg, r.blk, r.n, (epoch, a));
        }
        idx.tidy();
    })?;
    // Committed: nothing below can fail.
    dst.set_size(size);
    if !p.dedupe {
        dst.set_time(Time::Modify, t.0, t.1);
        dst.set_time(Time::Change, t.0, t.1);
    }
    let dropped: &[Dropped] = &res.dropped;
    for d in dropped {
        sbi.owners.clear(d.block, d.len);
    }
    if res.short {
        pr_err!(
            "{}: inode {}: index reservation fell short\n",
            sbi.name(),
            dst.ino()
        );
    }
    release::release_all(sbi, dropped, epoch);
    Ok(())
}
