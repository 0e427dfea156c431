// SPDX-License-Identifier: GPL-2.0
//! Small wrappers around the kernel's C interfaces that every layer may
//! use: the `Sync` holder for operation tables, the errno convention of
//! C callbacks, super-block helpers, and the registry of the operation
//! tables.
//!
//! The tables (`vfs.rs`) point at the entry points, which sit above every
//! other file; inodes and super blocks are set up far below them. So the
//! tables are registered here once at module load, and the lower layers
//! find them here instead of importing `vfs`.

use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::bindings;
use kernel::ffi::{c_int, c_void};
use kernel::prelude::*;
use kernel::str::CStr;

/// `SB_RDONLY` (a macro the bindings lack).
pub(crate) const SB_RDONLY: u32 = 1;
/// `SB_POSIXACL` (a macro the bindings lack).
pub(crate) const SB_POSIXACL: u32 = 1 << 16;

/// A `Sync` holder for C operation tables that contain raw pointers.
#[repr(transparent)]
pub(crate) struct Ops<T>(pub(crate) T);
// SAFETY: the tables are immutable after construction and only read by
// the kernel; their raw pointers are to other statics or are null.
unsafe impl<T> Sync for Ops<T> {}

impl From<crate::format::entry::EntryError> for Error {
    fn from(e: crate::format::entry::EntryError) -> Self {
        match e {
            crate::format::entry::EntryError::NameLength => ENAMETOOLONG,
            crate::format::entry::EntryError::Range => EINVAL,
        }
    }
}

/// Turns a nova `Result` into the errno convention of the C callbacks.
pub(crate) fn errno(r: Result) -> c_int {
    match r {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// The device name of a super block (`pmem0`), for messages and /proc.
///
/// # Safety
///
/// `sb` must be a live super block.
pub(crate) unsafe fn sb_id<'a>(sb: *mut bindings::super_block) -> &'a CStr {
    // SAFETY: `s_id` is a NUL-terminated array inside the live super
    // block (contract).
    unsafe { CStr::from_char_ptr((*sb).s_id.as_ptr()) }
}

/// Pointer to pass where the VFS wants an opaque holder.
pub(crate) fn holder(sb: *mut bindings::super_block) -> *mut c_void {
    sb.cast()
}

/// Allocator regions for this machine: one per possible CPU, at most 64.
pub(crate) fn cpu_regions() -> u32 {
    // SAFETY: a plain read of the CPU count.
    (unsafe { bindings::nr_cpu_ids }).clamp(1, 64)
}

/// Fills `buf` with random bytes.
pub(crate) fn random_bytes(buf: &mut [u8]) {
    // SAFETY: `buf` is valid for writes of its length.
    unsafe { bindings::get_random_bytes(buf.as_mut_ptr().cast(), buf.len()) };
}

/// The operation tables of nova's super blocks and inodes.
pub(crate) struct OpTables {
    pub(crate) super_ops: &'static bindings::super_operations,
    pub(crate) dir_iops: &'static bindings::inode_operations,
    pub(crate) dir_fops: &'static bindings::file_operations,
    pub(crate) file_iops: &'static bindings::inode_operations,
    pub(crate) file_fops: &'static bindings::file_operations,
    pub(crate) symlink_iops: &'static bindings::inode_operations,
    /// `s_xattr`: the extended-attribute handlers, null-terminated.
    pub(crate) xattr_handlers: &'static [*const bindings::xattr_handler; 4],
}

static TABLES: AtomicPtr<Ops<OpTables>> = AtomicPtr::new(core::ptr::null_mut());

/// Registers the tables (module load, before the file system type is).
pub(crate) fn register_tables(t: &'static Ops<OpTables>) {
    TABLES.store(core::ptr::from_ref(t).cast_mut(), Ordering::Release);
}

/// The registered tables. Every mount happens after `register_tables`.
pub(crate) fn tables() -> Option<&'static OpTables> {
    let p = TABLES.load(Ordering::Acquire);
    // SAFETY: only `register_tables` stores here, a `'static` reference.
    unsafe { p.as_ref() }.map(|o| &o.0)
}
