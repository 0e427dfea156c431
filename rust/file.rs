// SPDX-License-Identifier: GPL-2.0
//! Regular file data on DAX: the mapping lock, `llseek` with SEEK_DATA and
//! SEEK_HOLE, and `read_iter` straight from pmem to user buffers. The
//! extent index is `extent.rs`; changes of file data (write, fallocate,
//! size changes, the fault path) are copy-on-write, in `cow.rs`.

use crate::format::layout::*;
use crate::inode::NovaInode;
use crate::shim;
use kernel::bindings;
use kernel::prelude::*;

/// A file's mapping lock (`invalidate_lock`) held exclusive: no DAX fault
/// runs on the file while it is held. Whoever replaces or frees blocks of
/// a file holds it from breaking the layout of the range until the index
/// no longer points at the old blocks.
pub(crate) struct MappingLock<'a>(&'a NovaInode);

impl<'a> MappingLock<'a> {
    pub(crate) fn new(ni: &'a NovaInode) -> Self {
        // SAFETY: a live inode; released in `drop`.
        unsafe { shim::nova_shim_mapping_lock(ni.raw()) };
        Self(ni)
    }

    /// Unmaps bytes `[start, last]` of the file from every process, waits
    /// for pinned pages there, and drops their DAX entries.
    pub(crate) fn break_layout(&self, start: u64, last: u64) -> Result {
        // SAFETY: the inode is live and its mapping lock held (by `self`).
        kernel::error::to_result(unsafe { shim::nova_shim_break_layout(self.0.raw(), start, last) })
    }
}

impl Drop for MappingLock<'_> {
    fn drop(&mut self) {
        // SAFETY: locked in `new`.
        unsafe { shim::nova_shim_mapping_unlock(self.0.raw()) };
    }
}

/// `llseek`: SEEK_DATA and SEEK_HOLE from the extent index; the rest
/// generic.
///
/// # Safety
///
/// `file` must be an open nova regular file.
pub(crate) unsafe fn llseek(file: *mut bindings::file, off: i64, whence: i32) -> i64 {
    let w = whence as u32;
    if w != bindings::SEEK_DATA && w != bindings::SEEK_HOLE {
        // SAFETY: per the contract.
        return unsafe { bindings::generic_file_llseek(file, off, whence) };
    }
    // SAFETY: per the contract.
    let i = unsafe { shim::nova_shim_file_inode(file) };
    // SAFETY: a nova inode.
    let ni = unsafe { NovaInode::from_raw(i) };
    if off < 0 {
        return ENXIO.to_errno() as i64;
    }
    // SAFETY: the inode is live.
    unsafe { shim::nova_shim_inode_lock(i, true) };
    let r = ni
        .data
        .lock()
        .seek(off as u64, ni.size(), w == bindings::SEEK_DATA);
    // SAFETY: locked above.
    unsafe { shim::nova_shim_inode_unlock(i, true) };
    match r {
        // SAFETY: per the contract.
        Some(p) => unsafe { bindings::vfs_setpos(file, p as i64, i64::MAX) },
        None => ENXIO.to_errno() as i64,
    }
}

/// `read_iter`.
///
/// # Safety
///
/// `iocb` and `to` must be the live arguments of a `read_iter` call on a
/// nova regular file.
pub(crate) unsafe fn read_iter(
    iocb: *mut bindings::kiocb,
    to: *mut bindings::iov_iter,
) -> Result<isize> {
    // SAFETY: per the contract.
    let i = unsafe { shim::nova_shim_file_inode((*iocb).ki_filp) };
    // SAFETY: a nova inode.
    let ni = unsafe { NovaInode::from_raw(i) };
    let pm = ni.sbi().pm();
    // SAFETY: the inode is live.
    unsafe { shim::nova_shim_inode_lock(i, true) };
    let r = (|| -> Result<isize> {
        // SAFETY: per the contract.
        let mut pos = unsafe { (*iocb).ki_pos } as u64;
        let size = ni.size();
        // SAFETY: per the contract.
        let want = unsafe { shim::nova_shim_iov_iter_count(to) } as u64;
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
                    // SAFETY: `to` is live (contract).
                    (
                        n,
                        unsafe { pm.read_to_iter((b << BLOCK_SHIFT) + off, n as usize, to) }?
                            as u64,
                    )
                }
                None => {
                    let next = ni
                        .data
                        .lock()
                        .next_mapped(pg)
                        .map_or(end, |p| p.checked_mul(BLOCK_SIZE).unwrap_or(end));
                    let n = core::cmp::min(end, next).saturating_sub(pos);
                    // SAFETY: `to` is live (contract).
                    (n, unsafe { shim::nova_shim_iov_iter_zero(n as usize, to) }
                        as u64)
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
        // SAFETY: per the contract.
        unsafe { (*iocb).ki_pos = pos as i64 };
        if done == 0 {
            return Err(EFAULT);
        }
        Ok(done as isize)
    })();
    // SAFETY: locked above.
    unsafe { shim::nova_shim_inode_unlock(i, true) };
    r
}
