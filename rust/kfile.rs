// SPDX-License-Identifier: GPL-2.0
//! Safe views of what the VFS passes to file operations: an open file, a
//! kiocb, and the inode lock (`i_rwsem`) and mapping lock
//! (`invalidate_lock`) as guards. User buffers are the
//! kernel crate's `IovIterSource`/`IovIterDest`.

use crate::inode::NovaInode;
use crate::shim;
use core::cell::Cell;
use kernel::bindings;
use kernel::iov::{IovIterDest, IovIterSource};
use kernel::prelude::*;
use kernel::types::Opaque;

/// An open nova file, for the duration of a VFS callback.
#[repr(transparent)]
pub(crate) struct File(Opaque<bindings::file>);

impl File {
    /// # Safety
    ///
    /// `f` must be an open file of a nova inode, live for `'a`.
    pub(crate) unsafe fn from_raw<'a>(f: *mut bindings::file) -> &'a File {
        // SAFETY: `File` is a transparent wrapper; `f` is live for `'a`.
        unsafe { &*f.cast::<File>() }
    }

    pub(crate) fn raw(&self) -> *mut bindings::file {
        self.0.get()
    }

    /// The file's inode.
    pub(crate) fn inode(&self) -> &NovaInode {
        // SAFETY: an open nova file's inode is a nova inode that lives at
        // least as long as the file.
        unsafe { NovaInode::from_raw(shim::nova_shim_file_inode(self.raw())) }
    }

    /// `finish_open_simple`: completes an open that `tmpfile` made.
    pub(crate) fn finish_open(&self, r: Result) -> Result {
        r?;
        // SAFETY: a file being opened by `->tmpfile`, its dentry set.
        kernel::error::to_result(unsafe {
            bindings::finish_open(
                self.raw(),
                (*self.raw()).__bindgen_anon_1.f_path.dentry,
                None,
            )
        })
    }

    /// `file_accessed`: updates the access time as the mount's atime
    /// rules say (none for an `O_NOATIME` open). Called without the inode
    /// lock.
    pub(crate) fn accessed(&self) {
        // SAFETY: an open file; `touch_atime` takes what locks it needs.
        unsafe {
            let f = self.raw();
            if (*f).f_flags & bindings::O_NOATIME == 0 {
                bindings::touch_atime(&raw const (*f).__bindgen_anon_1.f_path);
            }
        }
    }

    /// `file_remove_privs` (the inode lock held).
    pub(crate) fn remove_privs(&self) -> Result {
        // SAFETY: an open file.
        kernel::error::to_result(unsafe { bindings::file_remove_privs(self.raw()) })
    }

    /// The generic `llseek`.
    pub(crate) fn generic_llseek(&self, off: i64, whence: i32) -> i64 {
        // SAFETY: an open file.
        unsafe { bindings::generic_file_llseek(self.raw(), off, whence) }
    }

    /// Sets the position (`vfs_setpos`): the new position or an errno.
    pub(crate) fn set_pos(&self, pos: i64) -> i64 {
        // SAFETY: an open file.
        unsafe { bindings::vfs_setpos(self.raw(), pos, i64::MAX) }
    }
}

/// The kiocb of a `read_iter` or `write_iter` call.
#[repr(transparent)]
pub(crate) struct Kiocb(Opaque<bindings::kiocb>);

impl Kiocb {
    /// # Safety
    ///
    /// `k` must be the live kiocb of a call on a nova file, for `'a`.
    pub(crate) unsafe fn from_raw<'a>(k: *mut bindings::kiocb) -> &'a Kiocb {
        // SAFETY: `Kiocb` is a transparent wrapper; `k` is live for `'a`.
        unsafe { &*k.cast::<Kiocb>() }
    }

    fn raw(&self) -> *mut bindings::kiocb {
        self.0.get()
    }

    pub(crate) fn file(&self) -> &File {
        // SAFETY: a live kiocb's file is open for the call.
        unsafe { File::from_raw((*self.raw()).ki_filp) }
    }

    /// The file position the call starts at.
    pub(crate) fn pos(&self) -> i64 {
        // SAFETY: a live kiocb, ours for the call.
        unsafe { (*self.raw()).ki_pos }
    }

    pub(crate) fn set_pos(&self, pos: i64) {
        // SAFETY: as above.
        unsafe { (*self.raw()).ki_pos = pos };
    }

    /// `generic_write_checks`: how many bytes of `from` may be written
    /// (0 for none; it may move the position, for `O_APPEND`).
    pub(crate) fn write_checks(&self, from: &mut kernel::iov::IovIterSource<'_>) -> isize {
        // SAFETY: a live kiocb with its iterator.
        unsafe { bindings::generic_write_checks(self.raw(), from.as_raw()) }
    }
}

/// Faults in the first `n` bytes of a user iterator's buffer (for a copy
/// that then runs with page faults disabled); returns how many bytes could
/// not be faulted in.
pub(crate) fn fault_in_readable(from: &mut IovIterSource<'_>, n: usize) -> usize {
    // SAFETY: a live iterator (borrowed mutably); it is only read.
    unsafe { bindings::fault_in_iov_iter_readable(from.as_raw(), n) }
}

/// Writes `n` zero bytes to a user iterator; returns how many it took.
pub(crate) fn iov_zero(to: &mut IovIterDest<'_>, n: usize) -> usize {
    // SAFETY: a live iterator (borrowed mutably).
    unsafe { bindings::iov_iter_zero(n, to.as_raw()) }
}

/// The inode lock (`i_rwsem`), held until dropped.
pub(crate) struct InodeLock<'a> {
    ni: &'a NovaInode,
    shared: bool,
}

impl<'a> InodeLock<'a> {
    /// Takes `ni`'s inode lock, shared or exclusive.
    pub(crate) fn new(ni: &'a NovaInode, shared: bool) -> Self {
        // SAFETY: a live inode; released in `drop`.
        unsafe { shim::nova_shim_inode_lock(ni.raw(), shared) };
        Self { ni, shared }
    }
}

impl Drop for InodeLock<'_> {
    fn drop(&mut self) {
        // SAFETY: locked in `new`, the same way.
        unsafe { shim::nova_shim_inode_unlock(self.ni.raw(), self.shared) };
    }
}

/// A file's mapping lock (`invalidate_lock`) held exclusive: no DAX fault
/// runs on the file while it is held. Whoever replaces or frees blocks of
/// a file holds it from breaking the layout of the range until the index
/// no longer points at the old blocks.
///
/// # Invariants
///
/// Since the last return of `break_layout`, no fault has run on the file:
/// every range broken under this hold (`broken` covers them all) still has
/// no page mapped and no DAX entry.
pub(crate) struct MappingLock<'a> {
    ni: &'a NovaInode,
    /// The bytes `[first, last]` broken so far, as one span (empty while
    /// `first > last`).
    broken: Cell<(u64, u64)>,
}

impl<'a> MappingLock<'a> {
    pub(crate) fn new(ni: &'a NovaInode) -> Self {
        // SAFETY: a live inode; released in `drop`.
        unsafe { shim::nova_shim_mapping_lock(ni.raw()) };
        // INVARIANT: nothing broken yet.
        Self {
            ni,
            broken: Cell::new((u64::MAX, 0)),
        }
    }

    /// Unmaps bytes `[start, last]` of the file from every process, waits
    /// for pinned pages there, and drops their DAX entries.
    ///
    /// Waiting for a pinned page drops the mapping lock for a while, and a
    /// fault may then map a page of a range broken earlier under this
    /// hold (and a block the caller is about to free would stay in that
    /// DAX entry): after a wait, everything broken so far is broken again,
    /// until a pass needs no wait.
    pub(crate) fn break_layout(&self, start: u64, last: u64) -> Result {
        let (mut s, mut l) = (start, last);
        loop {
            // SAFETY: the inode is live and its mapping lock held (by
            // `self`).
            let r = unsafe { shim::nova_shim_break_layout(self.ni.raw(), s, l) };
            kernel::error::to_result(r)?;
            let (bs, bl) = self.broken.get();
            let span = (bs.min(s), bl.max(l));
            self.broken.set(span);
            // The shim broke `[s, l]` after its last wait. Done if it did
            // not wait, or if every earlier range (if any) lies inside.
            if r == 0 || span == (s, l) {
                return Ok(());
            }
            // INVARIANT: the whole span is broken again before returning.
            (s, l) = span;
        }
    }
}

impl Drop for MappingLock<'_> {
    fn drop(&mut self) {
        // SAFETY: locked in `new`.
        unsafe { shim::nova_shim_mapping_unlock(self.ni.raw()) };
    }
}

/// The `dir_context` of a `readdir` (`iterate_shared`) call.
#[repr(transparent)]
pub(crate) struct DirContext(Opaque<bindings::dir_context>);

impl DirContext {
    /// # Safety
    ///
    /// `c` must be the live context of a `readdir` call, for `'a`.
    pub(crate) unsafe fn from_raw<'a>(c: *mut bindings::dir_context) -> &'a DirContext {
        // SAFETY: a transparent wrapper; `c` is live for `'a`.
        unsafe { &*c.cast::<DirContext>() }
    }

    fn raw(&self) -> *mut bindings::dir_context {
        self.0.get()
    }

    /// The position (a readdir cookie).
    pub(crate) fn pos(&self) -> i64 {
        // SAFETY: a live context, ours for the call.
        unsafe { (*self.raw()).pos }
    }

    pub(crate) fn set_pos(&self, pos: i64) {
        // SAFETY: as above.
        unsafe { (*self.raw()).pos = pos };
    }

    /// Emits `.` and `..` if the position is before them; false when the
    /// caller's buffer is full.
    pub(crate) fn emit_dots(&self, file: &File) -> bool {
        // SAFETY: a live context and the directory it reads.
        unsafe { shim::nova_shim_dir_emit_dots(file.raw(), self.raw()) }
    }

    /// Emits one name; false when the caller's buffer is full.
    pub(crate) fn emit(&self, name: &[u8], ino: u64, dtype: u8) -> bool {
        let Ok(len) = i32::try_from(name.len()) else {
            return false;
        };
        // SAFETY: `name` is a live buffer of `len` bytes; the context is
        // live.
        unsafe {
            shim::nova_shim_dir_emit(self.raw(), name.as_ptr().cast(), len, ino, u32::from(dtype))
        }
    }
}

/// The request of a `fiemap` call (`FS_IOC_FIEMAP`).
#[repr(transparent)]
pub(crate) struct Fiemap(Opaque<bindings::fiemap_extent_info>);

/// `FIEMAP_EXTENT_LAST` (uapi): the last extent of the file.
pub(crate) const FIEMAP_EXTENT_LAST: u32 = 1;
/// `FIEMAP_EXTENT_SHARED` (uapi): the extent's blocks have other users.
pub(crate) const FIEMAP_EXTENT_SHARED: u32 = 0x2000;

impl Fiemap {
    /// # Safety
    ///
    /// `f` must be the live request of a `fiemap` call, for `'a`.
    pub(crate) unsafe fn from_raw<'a>(f: *mut bindings::fiemap_extent_info) -> &'a Fiemap {
        // SAFETY: a transparent wrapper; `f` is live for `'a`.
        unsafe { &*f.cast::<Fiemap>() }
    }

    /// `fiemap_prep`: checks the request's flags (only `FIEMAP_FLAG_SYNC`,
    /// a no-op on DAX, is supported) and clamps the range; returns its
    /// length.
    pub(crate) fn prep(&self, ni: &NovaInode, start: u64, len: u64) -> Result<u64> {
        let mut len = len;
        // SAFETY: a live inode and request.
        kernel::error::to_result(unsafe {
            shim::nova_shim_fiemap_prep(ni.raw(), self.0.get(), start, &mut len)
        })?;
        Ok(len)
    }

    /// Reports one extent to the caller; `false` when its buffer is full.
    pub(crate) fn fill(&self, logical: u64, phys: u64, len: u64, flags: u32) -> Result<bool> {
        // SAFETY: a live request; the copy to user space may fault, so the
        // caller holds no nova lock.
        let r = unsafe { shim::nova_shim_fiemap_fill(self.0.get(), logical, phys, len, flags) };
        kernel::error::to_result(r)?;
        Ok(r == 0)
    }
}
