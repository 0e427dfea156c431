// SPDX-License-Identifier: GPL-2.0
//! Declarations of the C shim (`shim.c`): kernel interfaces that the Rust
//! bindings lack (static inline functions and macros: DAX mapping and
//! faults, iomap, layout breaking, cache write-back, procfs, inode owner
//! and time fields). Only the wrapper files call them (`pm`, `gate`,
//! `kthread`, `glue`, `dax`, `sbi`, `inode`, `iref`, `kfile`, `dentry`,
//! `ksuper`) and the C entry points (`fstype`, `vfs`, `procfs`).

#![allow(improper_ctypes)]

use kernel::bindings;
use kernel::ffi::{c_char, c_int, c_long, c_void};

unsafe extern "C" {
    pub(crate) fn nova_shim_init_fs_context(
        fc: *mut bindings::fs_context,
        opts: *mut c_void,
    ) -> c_int;
    pub(crate) fn nova_shim_dax_map(
        sb: *mut bindings::super_block,
        holder: *mut c_void,
        kaddr: *mut *mut c_void,
        dax: *mut *mut kernel::ffi::c_void,
    ) -> i64;
    pub(crate) fn nova_shim_dax_put(dax: *mut kernel::ffi::c_void, holder: *mut c_void);
    pub(crate) fn nova_shim_flush(addr: *mut c_void, len: usize);
    pub(crate) fn nova_shim_fence();
    pub(crate) fn nova_shim_memcpy_flushcache(dst: *mut c_void, src: *const c_void, len: usize);
    pub(crate) fn nova_shim_copy_mc(dst: *mut c_void, src: *const c_void, len: usize) -> usize;
    pub(crate) fn nova_shim_set_owner(inode: *mut bindings::inode, uid: u32, gid: u32);
    pub(crate) fn nova_shim_uid(inode: *mut bindings::inode) -> u32;
    pub(crate) fn nova_shim_gid(inode: *mut bindings::inode) -> u32;
    pub(crate) fn nova_shim_set_time(
        inode: *mut bindings::inode,
        which: c_int,
        sec: i64,
        nsec: u32,
    );
    pub(crate) fn nova_shim_get_time(
        inode: *mut bindings::inode,
        which: c_int,
        sec: *mut i64,
        nsec: *mut u32,
    );
    pub(crate) fn nova_shim_now(inode: *mut bindings::inode, sec: *mut i64, nsec: *mut u32);
    pub(crate) fn nova_shim_i_size_write(inode: *mut bindings::inode, size: i64);
    pub(crate) fn nova_shim_dir_emit(
        ctx: *mut bindings::dir_context,
        name: *const c_char,
        len: c_int,
        ino: u64,
        dtype: u32,
    ) -> bool;
    pub(crate) fn nova_shim_dir_emit_dots(
        file: *mut bindings::file,
        ctx: *mut bindings::dir_context,
    ) -> bool;
    pub(crate) fn nova_shim_file_inode(file: *mut bindings::file) -> *mut bindings::inode;
    pub(crate) fn nova_shim_proc_init() -> c_int;
    pub(crate) fn nova_shim_proc_exit();
    pub(crate) fn nova_shim_proc_add(devname: *const c_char, sbi: *mut c_void) -> c_int;
    pub(crate) fn nova_shim_proc_remove(devname: *const c_char);
    pub(crate) fn nova_shim_inode_is_new(inode: *mut bindings::inode) -> bool;
    pub(crate) fn nova_shim_statfs_fill(
        buf: *mut bindings::kstatfs,
        magic: u64,
        bsize: u64,
        blocks: u64,
        bfree: u64,
        bavail: u64,
        files: u64,
        ffree: u64,
        namelen: u32,
    );
    pub(crate) fn nova_shim_copy_from_iter_flushcache(
        dst: *mut c_void,
        n: usize,
        i: *mut bindings::iov_iter,
    ) -> usize;
    pub(crate) fn nova_shim_copy_to_iter(
        src: *const c_void,
        n: usize,
        i: *mut bindings::iov_iter,
    ) -> usize;
    pub(crate) fn nova_shim_inode_lock(inode: *mut bindings::inode, shared: bool);
    pub(crate) fn nova_shim_inode_unlock(inode: *mut bindings::inode, shared: bool);
    pub(crate) fn nova_shim_mmap_prepare(desc: *mut bindings::vm_area_desc) -> c_int;
    pub(crate) fn nova_shim_set_dax(inode: *mut bindings::inode);
    pub(crate) fn nova_shim_mapping_lock(inode: *mut bindings::inode);
    pub(crate) fn nova_shim_mapping_unlock(inode: *mut bindings::inode);
    pub(crate) fn nova_shim_break_layout(
        inode: *mut bindings::inode,
        start: u64,
        end: u64,
    ) -> c_int;
    pub(crate) fn nova_shim_break_layout_final(inode: *mut bindings::inode);
    pub(crate) fn nova_shim_unmap_all(sb: *mut bindings::super_block);
    pub(crate) fn nova_shim_gate_new() -> *mut bindings::rw_semaphore;
    pub(crate) fn nova_shim_gate_free(gate: *mut bindings::rw_semaphore);
    pub(crate) fn nova_shim_cleaner_start(sbi: *mut c_void, devname: *const c_char) -> *mut c_void;
    pub(crate) fn nova_shim_cleaner_wake(c: *mut c_void);
    pub(crate) fn nova_shim_cleaner_stop(c: *mut c_void);
    pub(crate) fn nova_shim_fiemap_prep(
        inode: *mut bindings::inode,
        fi: *mut bindings::fiemap_extent_info,
        start: u64,
        len: *mut u64,
    ) -> c_int;
    pub(crate) fn nova_shim_fiemap_fill(
        fi: *mut bindings::fiemap_extent_info,
        logical: u64,
        phys: u64,
        len: u64,
        flags: u32,
    ) -> c_int;
}

/// Return type of the proc write hook.
pub(crate) type ProcRet = c_long;
