// SPDX-License-Identifier: GPL-2.0
//! Declarations of the C shim (`shim.c`): kernel interfaces that the Rust
//! bindings lack (static inline functions and macros: DAX mapping and
//! faults, iomap, layout breaking, cache write-back, procfs, inode owner
//! and time fields); each declaration says what the bindings lack. Only
//! the wrapper files call them (`pm`, `kcrc`, `gate`,
//! `kthread`, `glue`, `dax`, `sbi`, `inode`, `iref`, `kfile`, `dentry`,
//! `ksuper`, `kacl`) and the C entry points (`fstype`, `vfs`, `procfs`).

#![allow(improper_ctypes)]

use kernel::bindings;
use kernel::ffi::{c_char, c_int, c_long, c_uint, c_void};

unsafe extern "C" {
    // the fs_context ops table and fs_parameter parsing (`fs_parser.h`) are not in the bindings.
    pub(crate) fn nova_shim_init_fs_context(
        fc: *mut bindings::fs_context,
        opts: *mut c_void,
    ) -> c_int;
    // `fs_dax_get_by_bdev`, `dax_direct_access` and the dax read lock are not in the bindings.
    pub(crate) fn nova_shim_dax_map(
        sb: *mut bindings::super_block,
        holder: *mut c_void,
        kaddr: *mut *mut c_void,
        dax: *mut *mut kernel::ffi::c_void,
    ) -> i64;
    // `fs_put_dax` is not in the bindings.
    pub(crate) fn nova_shim_dax_put(dax: *mut kernel::ffi::c_void, holder: *mut c_void);
    // `crc32c` (`linux/crc32.h`) is not in the bindings.
    pub(crate) fn nova_shim_crc32c(crc: u32, p: *const c_void, len: usize) -> u32;
    // `crc32_optimizations` is static inline without `CONFIG_CRC32_ARCH`.
    pub(crate) fn nova_shim_crc32c_accelerated() -> bool;
    // `arch_wb_cache_pmem` is not in the bindings.
    pub(crate) fn nova_shim_flush(addr: *mut c_void, len: usize);
    // `wmb()` is a macro.
    pub(crate) fn nova_shim_fence();
    // `i_uid_write`/`i_gid_write` are static inline (idmapped kuid/kgid).
    pub(crate) fn nova_shim_set_owner(inode: *mut bindings::inode, uid: u32, gid: u32);
    // `i_uid_read` is static inline.
    pub(crate) fn nova_shim_uid(inode: *mut bindings::inode) -> u32;
    // `i_gid_read` is static inline.
    pub(crate) fn nova_shim_gid(inode: *mut bindings::inode) -> u32;
    // `inode_set_{a,m,c}time_to_ts` are static inline.
    pub(crate) fn nova_shim_set_time(
        inode: *mut bindings::inode,
        which: c_int,
        sec: i64,
        nsec: u32,
    );
    // `inode_get_{a,m,c}time` are static inline.
    pub(crate) fn nova_shim_get_time(
        inode: *mut bindings::inode,
        which: c_int,
        sec: *mut i64,
        nsec: *mut u32,
    );
    // `i_size_write` is static inline.
    pub(crate) fn nova_shim_i_size_write(inode: *mut bindings::inode, size: i64);
    // `dir_emit` is static inline.
    pub(crate) fn nova_shim_dir_emit(
        ctx: *mut bindings::dir_context,
        name: *const c_char,
        len: c_int,
        ino: u64,
        dtype: u32,
    ) -> bool;
    // `dir_emit_dots` is static inline.
    pub(crate) fn nova_shim_dir_emit_dots(
        file: *mut bindings::file,
        ctx: *mut bindings::dir_context,
    ) -> bool;
    // `file_inode` is static inline.
    pub(crate) fn nova_shim_file_inode(file: *mut bindings::file) -> *mut bindings::inode;
    // procfs (`proc_mkdir`, seq_file ops) is not in the bindings.
    pub(crate) fn nova_shim_proc_init() -> c_int;
    // as above (`remove_proc_subtree`).
    pub(crate) fn nova_shim_proc_exit();
    // as above (per-device entries with their seq_file and write ops).
    pub(crate) fn nova_shim_proc_add(devname: *const c_char, sbi: *mut c_void) -> c_int;
    // as above.
    pub(crate) fn nova_shim_proc_remove(devname: *const c_char);
    // A snapshot view's own super block (`MAJOR`, `s_bdev_file` handling).
    pub(crate) fn nova_shim_view_detach(
        sb: *mut bindings::super_block,
        bf: *mut *mut bindings::file,
    ) -> bool;
    // `%pg` is a printk format.
    pub(crate) fn nova_shim_bdev_name(sb: *mut bindings::super_block, buf: *mut u8, len: usize);
    // `.snapshots` (`shim.c`): automount expiry, dentry operations,
    // inodes made in memory.
    pub(crate) fn nova_shim_snap_expire_now();
    // as above.
    pub(crate) fn nova_shim_snap_exit();
    // as above.
    pub(crate) fn nova_shim_set_d_op(sb: *mut bindings::super_block);
    // as above.
    pub(crate) fn nova_shim_snapdir_lookup(
        root: *mut bindings::inode,
        d: *mut bindings::dentry,
    ) -> *mut bindings::dentry;
    // as above.
    pub(crate) fn nova_shim_snapdir_changed(sb: *mut bindings::super_block);
    // as above.
    pub(crate) fn nova_shim_snapdir_evict(i: *mut bindings::inode) -> bool;
    // `fput` of a view's block device file (null: nothing).
    pub(crate) fn nova_shim_fput(f: *mut bindings::file);
    // `inode_state_read_once` and `I_NEW` are static inline / macros.
    pub(crate) fn nova_shim_inode_is_new(inode: *mut bindings::inode) -> bool;
    // `struct kstatfs` is opaque in the bindings.
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
    // `inode_lock`/`inode_lock_shared` are static inline.
    pub(crate) fn nova_shim_inode_lock(inode: *mut bindings::inode, shared: bool);
    // `inode_unlock`/`inode_unlock_shared` are static inline.
    pub(crate) fn nova_shim_inode_unlock(inode: *mut bindings::inode, shared: bool);
    // `daxdev_mapping_supported`, the vm_operations table with the DAX fault handlers and `VM_*` flags.
    pub(crate) fn nova_shim_mmap_prepare(desc: *mut bindings::vm_area_desc) -> c_int;
    // `remap_file_range`: the two-inode locks and `dax_remap_file_range_prep` with nova's iomap ops (static in `shim.c`).
    pub(crate) fn nova_shim_remap_file_range(
        file_in: *mut bindings::file,
        pos_in: bindings::loff_t,
        file_out: *mut bindings::file,
        pos_out: bindings::loff_t,
        len: bindings::loff_t,
        remap_flags: c_uint,
    ) -> bindings::loff_t;
    // `copy_file_range`: shares blocks where it can (the remap above), else `splice_copy_file_range`.
    pub(crate) fn nova_shim_copy_file_range(
        file_in: *mut bindings::file,
        pos_in: bindings::loff_t,
        file_out: *mut bindings::file,
        pos_out: bindings::loff_t,
        len: usize,
        flags: c_uint,
    ) -> isize;
    // `S_DAX` and the DAX address-space operations table (`noop_direct_IO`, dax writeback).
    pub(crate) fn nova_shim_set_dax(inode: *mut bindings::inode);
    // `filemap_invalidate_lock` is static inline.
    pub(crate) fn nova_shim_mapping_lock(inode: *mut bindings::inode);
    // `filemap_invalidate_unlock` is static inline.
    pub(crate) fn nova_shim_mapping_unlock(inode: *mut bindings::inode);
    // `dax_break_layout` and `mapping_mapped` are not in the bindings; 1:
    // it waited, with the mapping lock dropped meanwhile.
    pub(crate) fn nova_shim_break_layout(
        inode: *mut bindings::inode,
        start: u64,
        end: u64,
    ) -> c_int;
    // `pagefault_disable`/`pagefault_enable` around a flushcache user copy are inlines.
    pub(crate) fn nova_shim_copy_from_iter_nofault(
        dst: *mut c_void,
        len: usize,
        iter: *mut bindings::iov_iter,
    ) -> usize;
    // The DAX entries go under the shim's lock of shared-page counts
    // (`nova_dax_share`), with `dax_break_layout_final`'s wait first.
    pub(crate) fn nova_shim_evict_pages(inode: *mut bindings::inode);
    // `<linux/fileattr.h>` (`struct file_kattr`, `fileattr_fill_flags`) is not in the bindings.
    pub(crate) fn nova_shim_fileattr_fill(fa: *mut bindings::file_kattr, flags: u32);
    // as above (`fileattr_has_fsx` is an inline over the opaque struct).
    pub(crate) fn nova_shim_fileattr_flags(
        fa: *const bindings::file_kattr,
        flags: *mut u32,
    ) -> c_int;
    // `current` and `PF_MEMALLOC` are macros, `s_writers.frozen` an inline's business.
    pub(crate) fn nova_shim_may_log_in_evict(sb: *mut bindings::super_block) -> bool;
    // the `S_IMMUTABLE`/`S_APPEND`/`S_NOATIME` inode flags are macros.
    pub(crate) fn nova_shim_set_inode_flags(inode: *mut bindings::inode, fs_flags: u32);
    // walks the gate's xarray of mapped inodes (igrab under its lock) and calls
    // `unmap_mapping_range` per inode; returns how many it looked at.
    pub(crate) fn nova_shim_unmap_all(sb: *mut bindings::super_block, mode: c_int) -> i64;
    // `xa_cmpxchg` on the gate's xarray of mapped inodes.
    pub(crate) fn nova_shim_forget_mapped(inode: *mut bindings::inode);
    // `init_rwsem` is a macro (it needs a static lockdep class key; one per `kind`).
    pub(crate) fn nova_shim_gate_new(kind: c_int) -> *mut bindings::rw_semaphore;
    // frees the gate `gate_new` allocated with its writable-mapping count.
    pub(crate) fn nova_shim_gate_free(gate: *mut bindings::rw_semaphore);
    // the thread loop (`kthread_run`, `wait_event_interruptible`, `kthread_should_stop`) is macros.
    pub(crate) fn nova_shim_cleaner_start(sbi: *mut c_void, devname: *const c_char) -> *mut c_void;
    // `wake_up` is a macro.
    pub(crate) fn nova_shim_cleaner_wake(c: *mut c_void);
    // frees the thread state `cleaner_start` allocated after `kthread_stop`.
    pub(crate) fn nova_shim_cleaner_stop(c: *mut c_void);
    // `linux/fiemap.h` is not in the bindings.
    pub(crate) fn nova_shim_fiemap_prep(
        inode: *mut bindings::inode,
        fi: *mut bindings::fiemap_extent_info,
        start: u64,
        len: *mut u64,
    ) -> c_int;
    // as above (`fiemap_fill_next_extent`).
    pub(crate) fn nova_shim_fiemap_fill(
        fi: *mut bindings::fiemap_extent_info,
        logical: u64,
        phys: u64,
        len: u64,
        flags: u32,
    ) -> c_int;
    // `linux/posix_acl.h` and `posix_acl_xattr.h` are not in the bindings:
    // `posix_acl_from_xattr` and `posix_acl_valid` on a stored value.
    pub(crate) fn nova_shim_acl_from_value(
        value: *const c_void,
        size: usize,
    ) -> *mut bindings::posix_acl;
    // as above (`posix_acl_xattr_size`).
    pub(crate) fn nova_shim_acl_value_len(acl: *const bindings::posix_acl) -> usize;
    // as above (`posix_acl_to_xattr`).
    pub(crate) fn nova_shim_acl_to_value(
        acl: *const bindings::posix_acl,
        buf: *mut c_void,
        size: usize,
    ) -> c_int;
    // as above (`posix_acl_dup` is static inline).
    pub(crate) fn nova_shim_acl_dup(acl: *mut bindings::posix_acl) -> *mut bindings::posix_acl;
    // as above (`posix_acl_release` is static inline).
    pub(crate) fn nova_shim_acl_release(acl: *mut bindings::posix_acl);
    // as above (`get_inode_acl`).
    pub(crate) fn nova_shim_get_inode_acl(
        inode: *mut bindings::inode,
        kind: c_int,
    ) -> *mut bindings::posix_acl;
    // as above (`set_cached_acl`).
    pub(crate) fn nova_shim_set_cached_acl(
        inode: *mut bindings::inode,
        kind: c_int,
        acl: *mut bindings::posix_acl,
    );
    // as above (`__posix_acl_chmod`).
    pub(crate) fn nova_shim_acl_chmod(acl: *mut *mut bindings::posix_acl, mode: u16) -> c_int;
    // as above (`posix_acl_create`).
    pub(crate) fn nova_shim_acl_create(
        dir: *mut bindings::inode,
        mode: *mut u16,
        dflt: *mut *mut bindings::posix_acl,
        acl: *mut *mut bindings::posix_acl,
    ) -> c_int;
    // as above (`posix_acl_update_mode`).
    pub(crate) fn nova_shim_acl_update_mode(
        inode: *mut bindings::inode,
        mode: *mut u16,
        acl: *mut *mut bindings::posix_acl,
    ) -> c_int;
}

/// Return type of the proc write hook.
pub(crate) type ProcRet = c_long;
