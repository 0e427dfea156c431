// SPDX-License-Identifier: GPL-2.0
//! `FALLOC_FL_COLLAPSE_RANGE` and `FALLOC_FL_INSERT_RANGE`: the data
//! after a block-aligned offset moves down (a collapse) or up (an insert)
//! by a block-aligned length, and the size with it.
//!
//! A shift is a copy-on-write rewrite of the part of the file that
//! moves, committed as one transaction of the inode:
//!
//! 1. a `SetAttr` entry with the size `off`: its replay drops every page
//!    from the shift point on;
//! 2. a `FileWrite` entry per run of new blocks, each a copy of the
//!    mapped pages of the old file at their new offsets (holes stay
//!    holes: nothing is written for them);
//! 3. a `SetAttr` entry with the new size and the times.
//!
//! No entry kind is new, so replay, recovery, log GC, the snapshot views
//! and `fsck.nova` need nothing more. The old blocks leave the index like
//! truncated ones and go through `release` (to the snapshot that still
//! needs them, or freed): a snapshot keeps reading the file as it was
//! before the shift, and no block is written in place. Every new block is
//! allocated and filled before the commit; a failure (`ENOSPC`) leaves the
//! file as it was. The cost: a copy of every mapped byte after the shift
//! point, and as many new blocks until the commit frees the old ones.

use crate::cow::{commit, Commit, NewRuns, MAX_WRITE_PAGES};
use crate::format::entry::set_times;
use crate::format::layout::*;
use crate::inode::NovaInode;
use crate::kfile::MappingLock;
use kernel::prelude::*;

/// Most bytes one `Pm::copy` moves (its length is 32 bits).
const COPY_CHUNK: u64 = 1 << 20;

/// Shifts the data at and after byte `off` down by `len` bytes (dropping
/// `[off, off + len)`; `collapse`) or up by `len` bytes (a hole of `len`
/// bytes at `off`), as one transaction; the size changes by `len`. The
/// caller holds the inode lock and checked the arguments: both multiples
/// of the block size, `off + len < size` for a collapse, `off < size`
/// and `size + len` a valid size for an insert.
pub(crate) fn shift_locked(
    ni: &NovaInode,
    off: u64,
    len: u64,
    collapse: bool,
    t: (i64, u32),
) -> Result {
    let sbi = ni.sbi();
    let size = ni.size();
    let new_size = if collapse {
        size.checked_sub(len).ok_or(EINVAL)?
    } else {
        size.checked_add(len).ok_or(EFBIG)?
    };
    let (o, l) = (off >> BLOCK_SHIFT, len >> BLOCK_SHIFT);
    // Pages the shift reads: from the first that moves to the old end of
    // file (blocks `fallocate` kept past the end are dropped, not moved:
    // they would land past the new end, where the new size drops them).
    let src_first = if collapse { o + l } else { o };
    let src_end = size.div_ceil(BLOCK_SIZE);
    // The destination of source page `p`.
    let dest = |p: u64| if collapse { p - l } else { p + l };
    let ml = MappingLock::new(ni);
    // Every page from the shift point on changes: unmapped, with no fault
    // until the index points at the new blocks, and no store through a
    // mapping reaches an old block after its bytes are copied.
    ml.break_layout(off, i64::MAX as u64)?;
    // 1. New blocks for the mapped source pages, at their new offsets
    // (in ascending page order, as `NewRuns` wants).
    let mut runs = NewRuns::new(sbi);
    let mut p = src_first;
    while p < src_end {
        let (start, n) = {
            let idx = ni.data.lock();
            let start = match idx.lookup(p) {
                Some(_) => p,
                None => match idx.next_mapped(p) {
                    Some(m) if m < src_end => m,
                    _ => break,
                },
            };
            // Mapped pages up to the next hole, whatever extents (and
            // pieces of them, `extent.rs`) hold them: they get new blocks.
            (start, idx.next_hole(start) - start)
        };
        let n = n.min(src_end - start).min(MAX_WRITE_PAGES);
        runs.alloc(dest(start), n)?;
        p = start + n;
    }
    // 2. Copies of the old pages: the bytes below the old size, zeros
    // past it (a store through a mapping past the end does not move).
    let pm = sbi.pm();
    for r in runs.runs() {
        let mut i = 0;
        while i < r.n {
            let dpg = r.pg + i;
            let spg = if collapse { dpg + l } else { dpg - l };
            let (sb, run) = ni.data.lock().lookup(spg).ok_or(EINVAL)?;
            let n = run.min(r.n - i).min(COPY_CHUNK >> BLOCK_SHIFT);
            let bytes = n << BLOCK_SHIFT;
            let valid = size.saturating_sub(spg << BLOCK_SHIFT).min(bytes);
            let dst = (r.blk + i) << BLOCK_SHIFT;
            pm.copy(dst, sb << BLOCK_SHIFT, valid)?;
            pm.zero(dst + valid, bytes - valid)?;
            i += n;
        }
    }
    // 3. One transaction: the cut at `off`, the new runs, the new size.
    let mut lead = set_times(ATTR_SIZE, off, t, t);
    let mut tail = set_times(ATTR_SIZE, new_size, t, t);
    commit(
        ni,
        runs,
        Commit {
            setattr: Some(&mut tail),
            lead: Some(&mut lead),
            cut: Some(o),
            ..Commit::data(new_size, t)
        },
    )?;
    drop(ml);
    Ok(())
}
