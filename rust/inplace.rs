// SPDX-License-Identifier: GPL-2.0
//! In-place overwrites (`-o data=inplace`): a write that changes no size
//! and lands only on blocks no snapshot holds stores the user's bytes
//! into those blocks directly, as ext4-DAX and XFS-DAX do, instead of
//! copying on write. What it gives up is the atomicity of a write: a
//! crash during it may leave part of the new bytes and part of the old
//! (never another file's bytes, never a block of a snapshot). Everything
//! else keeps its rules:
//!
//! - **snapshots**: a block written in an epoch up to the newest live
//!   snapshot is that snapshot's and is never written in place; such a
//!   write takes the copy-on-write path (`cow.rs`), after which the new
//!   block is the file's own and later overwrites go in place. The fault
//!   gate is passed for the whole write, so no snapshot is taken between
//!   the check and the stores (taking one closes the gate);
//! - **times**: the modification and change times are logged (one
//!   `SetAttr` entry) before the data when they change, which with the
//!   coarse clock of `current_time` is at most once per tick;
//! - **durability**: the bytes are stored with cache-flushing copies and
//!   fenced before the write returns, so `fdatasync` has nothing left to
//!   do;
//! - **mappings** see the stores at once (the same block); the layout is
//!   not broken, the blocks do not move.
//!
//! The user copy runs with page faults disabled while the gate is held:
//! a fault on the user's buffer would need `mmap_lock`, which a write
//! fault holds while it waits at a gate a snapshot is closing. The buffer
//! is faulted in before the gate is passed; should a page still be
//! missing (reclaimed meanwhile), the write ends short there, or, with
//! nothing written yet, takes the copy-on-write path.

use crate::format::entry::set_times;
use crate::format::layout::*;
use crate::inode::{NovaInode, Time};
use crate::kfile::{fault_in_readable, Kiocb};
use crate::log::Tx;
use kernel::iov::IovIterSource;
use kernel::prelude::*;

/// Most pages one in-place write handles (a longer write copies on write).
const MAX_PAGES: u64 = 256;

/// Writes `[pos, pos + n)` of `ni` in place if it can: `None` when the
/// range is not wholly inside the file on blocks no snapshot holds (the
/// caller then copies on write), else the bytes written. The caller holds
/// the inode lock and did the write checks.
pub(crate) fn write(
    ni: &NovaInode,
    iocb: &Kiocb,
    from: &mut IovIterSource<'_>,
    pos: u64,
    n: u64,
) -> Option<Result<isize>> {
    let sbi = ni.sbi();
    let end = pos.checked_add(n)?;
    if n == 0 || end > ni.size() {
        return None;
    }
    let (first, last) = (pos >> BLOCK_SHIFT, (end - 1) >> BLOCK_SHIFT);
    if last - first >= MAX_PAGES {
        return None;
    }
    // Before the gate (see the module comment).
    if fault_in_readable(from, n as usize) != 0 {
        return None;
    }
    let _passed = sbi.gate.pass();
    // Every page mapped, to blocks written after the newest snapshot. The
    // answer holds while the gate is passed: taking a snapshot and
    // deleting one both close it.
    let head = {
        // Lock order: snapshots, then a file's index.
        let snaps = sbi.snaps.lock();
        let idx = ni.data.lock();
        let mut head = None;
        let mut pg = first;
        while pg <= last {
            let (b, run, born) = idx.extent(pg)?;
            if snaps.holder(born, u64::MAX).is_some() {
                return None;
            }
            // Nor blocks another file shares (reflink copies).
            if sbi.is_shared(b, run.min(last + 1 - pg)) {
                return None;
            }
            head.get_or_insert((b, run));
            pg = pg.saturating_add(run);
        }
        head?
    };
    store(ni, iocb, from, pos, end, head)
}

/// The stores of an in-place write (see [`write`]; the blocks are known
/// to be the file's own; `head` is the block and run of the first page,
/// as [`write`] found them). `None`: nothing could be copied (a user page
/// went missing), the caller copies on write.
fn store(
    ni: &NovaInode,
    iocb: &Kiocb,
    from: &mut IovIterSource<'_>,
    pos: u64,
    end: u64,
    head: (u64, u64),
) -> Option<Result<isize>> {
    let sbi = ni.sbi();
    let t = ni.now();
    if t != ni.time(Time::Modify) || t != ni.time(Time::Change) {
        // Logged first, as `file_update_time` precedes a write's copy.
        if let Err(e) = Tx::one(sbi, ni, &mut set_times(0, 0, t, t)) {
            return Some(Err(e));
        }
        ni.set_time(Time::Modify, t.0, t.1);
        ni.set_time(Time::Change, t.0, t.1);
    }
    let pm = sbi.pm();
    let mut at = pos;
    let mut known = Some(head);
    while at < end {
        let pg = at >> BLOCK_SHIFT;
        // The index cannot change under us: writes and size changes hold
        // the inode lock, faults only fill holes and copy blocks a
        // snapshot holds, and the gate keeps snapshots from coming or
        // going. (The first page's extent is known already: a write
        // within one extent looks nothing up again.)
        let Some((blk, run)) = known.take().or_else(|| ni.data.lock().lookup(pg)) else {
            break;
        };
        let run_end = core::cmp::min(end, (pg + run) << BLOCK_SHIFT);
        let dst = (blk << BLOCK_SHIFT) + (at & (BLOCK_SIZE - 1));
        let want = run_end - at;
        let c = match pm.write_from_iter_nofault(dst, want as usize, from) {
            Ok(c) => c as u64,
            Err(_) => 0,
        };
        at += c;
        if c < want {
            // A user page went missing: what was copied stays written.
            break;
        }
    }
    pm.fence();
    if at == pos {
        return None;
    }
    iocb.set_pos(at as i64);
    Some(Ok((at - pos) as isize))
}
