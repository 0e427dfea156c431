// SPDX-License-Identifier: GPL-2.0
//! Regular file data on DAX: the mapping lock, `llseek` with SEEK_DATA and
//! SEEK_HOLE, and `read_iter` straight from pmem to user buffers. The
//! extent index is `extent.rs`; changes of file data (write, fallocate,
//! size changes, the fault path) are copy-on-write, in `cow.rs`.

use crate::format::layout::*;
use crate::inode::NovaInode;
use crate::kfile::{
    iov_zero, Fiemap, File, InodeLock, Kiocb, FIEMAP_EXTENT_LAST, FIEMAP_EXTENT_SHARED,
};
use core::sync::atomic::Ordering;
use kernel::bindings;
use kernel::iov::IovIterDest;
use kernel::prelude::*;

/// `llseek`: SEEK_DATA and SEEK_HOLE from the extent index; the rest
/// generic.
pub(crate) fn llseek(file: &File, off: i64, whence: i32) -> i64 {
    let w = whence as u32;
    if w != bindings::SEEK_DATA && w != bindings::SEEK_HOLE {
        return file.generic_llseek(off, whence);
    }
    let ni = file.inode();
    if off < 0 {
        return ENXIO.to_errno() as i64;
    }
    let r = {
        let _l = InodeLock::new(ni, true);
        ni.data
            .lock()
            .seek(off as u64, ni.size(), w == bindings::SEEK_DATA)
    };
    match r {
        Some(p) => file.set_pos(p as i64),
        None => ENXIO.to_errno() as i64,
    }
}

/// `read_iter`: from the position of `iocb` into `to`.
pub(crate) fn read_iter(iocb: &Kiocb, to: &mut IovIterDest<'_>) -> Result<isize> {
    let ni = iocb.file().inode();
    if ni.sbi().is_shut_down() {
        return Err(EIO);
    }
    let pm = ni.sbi().pm();
    let l = InodeLock::new(ni, true);
    let mut pos = iocb.pos() as u64;
    let size = ni.size();
    let want = to.len() as u64;
    if pos >= size || want == 0 {
        return Ok(0);
    }
    let end = core::cmp::min(size, pos.saturating_add(want));
    let mut done = 0u64;
    while pos < end {
        let pg = pos >> BLOCK_SHIFT;
        let off = pos & (BLOCK_SIZE - 1);
        let found = ni.data.lock().lookup(pg);
        let (n, got) = match found {
            Some((b, run)) => {
                let n = core::cmp::min(end - pos, run * BLOCK_SIZE - off);
                (
                    n,
                    pm.read_to_iter((b << BLOCK_SHIFT) + off, n as usize, to)? as u64,
                )
            }
            None => {
                let next = ni
                    .data
                    .lock()
                    .next_mapped(pg)
                    .map_or(end, |p| p.checked_mul(BLOCK_SIZE).unwrap_or(end));
                let n = core::cmp::min(end, next).saturating_sub(pos);
                (n, iov_zero(to, n as usize) as u64)
            }
        };
        done += got;
        pos += got;
        // No progress (a short copy, or an index that disagrees with
        // itself) ends the read rather than spinning.
        if got < n || got == 0 {
            break;
        }
    }
    iocb.set_pos(pos as i64);
    if done == 0 {
        return Err(EFAULT);
    }
    drop(l);
    iocb.file().accessed();
    Ok(done as isize)
}

/// `fiemap` (`FS_IOC_FIEMAP`, `filefrag`): the file's extents from the
/// extent index, as byte ranges of the file and of the device.
pub(crate) fn fiemap(ni: &NovaInode, fi: &Fiemap, start: u64, len: u64) -> Result {
    let len = fi.prep(ni, start, len)?;
    let end = start.saturating_add(len);
    const BATCH: usize = 64;
    let mut pg = start >> BLOCK_SHIFT;
    loop {
        // In batches, copied out with no lock held: reporting copies to
        // user space, which may fault on a mapping of this very file. One
        // more than a batch is looked up, to know whether it has the last.
        let mut runs = KVec::new();
        {
            let _l = InodeLock::new(ni, true);
            ni.data.lock().runs_after(pg, BATCH + 1, &mut runs)?;
        }
        let more = runs.len() > BATCH;
        let n = runs.len().min(BATCH);
        for (i, &(k, b, l)) in runs.iter().take(n).enumerate() {
            let logical = k << BLOCK_SHIFT;
            if logical >= end {
                return Ok(());
            }
            let last = !more && i + 1 == n;
            // Parts with other users (reflink copies) say so, as XFS's do.
            let pieces = if ni.sbi().reflinked.load(Ordering::Acquire) {
                ni.sbi().shared.lock().pieces(b, l)?
            } else {
                let mut v = KVec::new();
                v.push((b, l, 1), GFP_KERNEL)?;
                v
            };
            for (j, &(pb, pl, users)) in pieces.iter().enumerate() {
                let mut flags = if users > 1 { FIEMAP_EXTENT_SHARED } else { 0 };
                if last && j + 1 == pieces.len() {
                    flags |= FIEMAP_EXTENT_LAST;
                }
                let at = logical + ((pb - b) << BLOCK_SHIFT);
                if !fi.fill(at, pb << BLOCK_SHIFT, pl << BLOCK_SHIFT, flags)? {
                    return Ok(());
                }
            }
            pg = k.saturating_add(l);
        }
        if !more {
            return Ok(());
        }
    }
}
