// SPDX-License-Identifier: GPL-2.0
//! The file-system type and its super blocks: registration, the
//! `fs_context` callbacks (options, `fill_super`, reconfigure), `kill_sb`,
//! the `super_operations`, and the cleaner thread's entry point. The
//! inode and file operations are in `vfs.rs`. Each entry point converts
//! raw pointers into nova's types (under a `// SAFETY:` argument about
//! what the VFS guarantees for that callback) and calls the safe logic;
//! errors come back as negative errnos.

use crate::glue::{register_tables, OpTables, Ops};
use crate::inode::NovaInode;
use crate::ksuper::NewSuper;
use crate::sbi::{MountOpts, Sbi};
use crate::{cleaner, evict, mount, shim, vfs};
use core::ptr;
use kernel::bindings;
use kernel::error::to_result;
use kernel::ffi::{c_char, c_int, c_void};
use kernel::prelude::*;
use kernel::str::CStr;
use kernel::types::Opaque;

/// The operation tables, registered for the layers that set up inodes
/// and super blocks (`glue::tables`).
static TABLES: Ops<OpTables> = Ops(OpTables {
    super_ops: &SUPER_OPS.0,
    dir_iops: &vfs::DIR_IOPS.0,
    dir_fops: &vfs::DIR_FOPS.0,
    file_iops: &vfs::FILE_IOPS.0,
    file_fops: &vfs::FILE_FOPS.0,
    symlink_iops: &vfs::SYMLINK_IOPS.0,
    xattr_handlers: &crate::vfs_xattr::XATTR_HANDLERS.0,
});

/// The file-system type. It must be static: it embeds lockdep class keys.
struct FsType(Opaque<bindings::file_system_type>);
// SAFETY: written once at module init before registration, then only
// read by the VFS.
unsafe impl Sync for FsType {}
static FS_TYPE: FsType = FsType(Opaque::zeroed());

/// The registered file-system type; unregistered on drop.
pub(crate) struct Registration;

impl Registration {
    pub(crate) fn new(module: &'static ThisModule) -> Result<Self> {
        register_tables(&TABLES);
        // SAFETY: module init runs once, before any mount can use the
        // registry.
        unsafe { crate::devshare::DEVICES.init() };
        let p = FS_TYPE.0.get();
        // SAFETY: module init runs once, before the type is registered, so
        // nothing else accesses `FS_TYPE`; the static lives forever.
        unsafe {
            (*p).name = c"nova".as_ptr().cast();
            (*p).fs_flags = bindings::FS_REQUIRES_DEV as c_int;
            (*p).init_fs_context = Some(init_fs_context);
            (*p).kill_sb = Some(kill_sb);
            (*p).owner = module.as_ptr();
            to_result(bindings::register_filesystem(p))?;
        }
        Ok(Self)
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: registered in `new`; the module is going away, so no
        // super block of this type remains; then no `.snapshots` expiry
        // work may run either.
        unsafe {
            bindings::unregister_filesystem(FS_TYPE.0.get());
            shim::nova_shim_snap_exit();
        }
    }
}

extern "C" fn init_fs_context(fc: *mut bindings::fs_context) -> c_int {
    let opts = match KBox::new(MountOpts::default(), GFP_KERNEL) {
        Ok(o) => o,
        Err(_) => return ENOMEM.to_errno(),
    };
    let raw = KBox::into_raw(opts);
    // SAFETY: `fc` is the context being initialised; the shim stores `raw`
    // in `fc->fs_private`, freed by `nova_rs_free_fc`.
    unsafe { shim::nova_shim_init_fs_context(fc, raw.cast()) }
}

/// # Safety
///
/// `opts` must be the `MountOpts` made by `init_fs_context`, or null.
unsafe fn opts_of<'a>(opts: *mut c_void) -> Option<&'a mut MountOpts> {
    // SAFETY: per the contract.
    unsafe { opts.cast::<MountOpts>().as_mut() }
}

#[no_mangle]
extern "C" fn nova_rs_parse_param(
    opts: *mut c_void,
    key: *const c_char,
    val: *const c_char,
) -> c_int {
    // SAFETY: the shim passes the context's options and NUL-terminated
    // strings from the fs_parameter, valid for this call.
    let (opts, key, val) = unsafe {
        (
            opts_of(opts),
            CStr::from_char_ptr(key),
            if val.is_null() {
                None
            } else {
                Some(CStr::from_char_ptr(val))
            },
        )
    };
    let Some(opts) = opts else {
        return EINVAL.to_errno();
    };
    match opts.parse(key.to_bytes(), val.map(|v| v.to_bytes())) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

#[no_mangle]
extern "C" fn nova_rs_free_opts(opts: *mut c_void) {
    if !opts.is_null() {
        // SAFETY: `opts` is the boxed `MountOpts` of `init_fs_context`,
        // freed once here (the shim clears the pointer).
        drop(unsafe { KBox::from_raw(opts.cast::<MountOpts>()) });
    }
}

#[no_mangle]
extern "C" fn nova_rs_reconfigure(sb: *mut bindings::super_block, read_only: bool) -> c_int {
    // SAFETY: `sb` is the mounted nova super block being reconfigured.
    let sbi = unsafe { Sbi::from_sb(sb) };
    if !read_only && sbi.read_only_forever() {
        pr_err!("a snapshot mount cannot be made writable\n");
        return EROFS.to_errno();
    }
    match (sbi.read_only(), read_only) {
        (false, true) => mount::make_read_only(sbi),
        (true, false) => {
            if let Err(e) = mount::make_writable(sbi) {
                return e.to_errno();
            }
        }
        _ => {}
    }
    0
}

/// Whether the context's mount is a snapshot view (`-o snapshot=E` or a
/// `.snapshots/E` automount); if so, its epoch and device (0 when the
/// source names it).
#[no_mangle]
extern "C" fn nova_rs_opts_view(opts: *mut c_void, epoch: *mut u64, dev: *mut u32) -> bool {
    // SAFETY: the context's options (see `opts_of`); `epoch` and `dev` are
    // the caller's locals.
    let Some(o) = (unsafe { opts_of(opts) }) else {
        return false;
    };
    match o.snapshot {
        Some(e) => {
            // SAFETY: as above.
            unsafe {
                *epoch = e;
                *dev = o.dev;
            }
            true
        }
        None => false,
    }
}

/// Records the device of a snapshot view the source named.
#[no_mangle]
extern "C" fn nova_rs_opts_set_dev(opts: *mut c_void, dev: u32) {
    // SAFETY: the context's options (see `opts_of`).
    if let Some(o) = unsafe { opts_of(opts) } {
        o.dev = dev;
    }
}

#[no_mangle]
extern "C" fn nova_rs_fill_super(sb: *mut bindings::super_block, opts: *mut c_void) -> c_int {
    // SAFETY: called by get_tree_bdev with our context's options.
    let opts = match unsafe { opts_of(opts) } {
        Some(o) => *o,
        None => return EINVAL.to_errno(),
    };
    // SAFETY: `sb` is being set up by `get_tree_bdev`: new and exclusively
    // ours during fill_super.
    match mount::fill_super(unsafe { NewSuper::from_raw(sb) }, opts) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

extern "C" fn kill_sb(sb: *mut bindings::super_block) {
    // SAFETY: the VFS calls kill_sb once per super block; `s_fs_info` is
    // our `Sbi` (or null if fill_super failed early), released after the
    // generic shutdown has evicted every inode. A snapshot view's super
    // block has an anonymous device number and its own block device file,
    // put last.
    unsafe {
        let info = (*sb).s_fs_info;
        if !info.is_null() {
            let sbi = Sbi::from_sb(sb);
            // No /proc command (a snapshot taken or deleted) may run from
            // here on: it could allocate after the free list is saved.
            sbi.remove_proc();
            // The cleaner thread may hold an inode: stop it before the
            // VFS evicts them all.
            sbi.stop_cleaner();
        }
        let mut bf = ptr::null_mut();
        if shim::nova_shim_view_detach(sb, &mut bf) {
            bindings::kill_anon_super(sb);
        } else {
            bindings::kill_block_super(sb);
        }
        if !info.is_null() {
            crate::ksuper::release_sbi(info);
        }
        shim::nova_shim_fput(bf);
    }
}

// ---- super_operations ----

extern "C" fn alloc_inode(sb: *mut bindings::super_block) -> *mut bindings::inode {
    // SAFETY: called for a live nova super block.
    let _ = sb;
    match NovaInode::alloc() {
        Ok(p) => p,
        Err(_) => ptr::null_mut(),
    }
}

extern "C" fn free_inode(i: *mut bindings::inode) {
    // SAFETY: `i` was allocated by `alloc_inode` and the VFS is done with it.
    unsafe { NovaInode::free(i) };
}

extern "C" fn evict_inode(i: *mut bindings::inode) {
    if crate::vfs_snapdir::evict(i) {
        return;
    }
    // SAFETY: the VFS evicts an inode it no longer uses; it is a nova inode.
    let ni = unsafe { NovaInode::from_raw(i) };
    // SAFETY: `i` is a nova inode being evicted (nothing maps it).
    unsafe { shim::nova_shim_forget_mapped(i) };
    evict::evict(ni);
}

extern "C" fn put_super(sb: *mut bindings::super_block) {
    // SAFETY: called once at unmount with every inode evicted.
    let sbi = unsafe { Sbi::from_sb(sb) };
    mount::unmount(sbi);
}

extern "C" fn statfs(d: *mut bindings::dentry, buf: *mut bindings::kstatfs) -> c_int {
    // SAFETY: `d` is a dentry of a nova mount, `buf` the result to fill.
    let sbi = unsafe { Sbi::from_sb((*d).d_sb) };
    sbi.statfs(buf);
    0
}

/// The options `/proc/mounts` shows beside `rw`/`ro`: `snapshot=E`,
/// `data=inplace` and `noacl` (`data=cow` and `acl` are the defaults and
/// not shown).
extern "C" fn show_options(m: *mut bindings::seq_file, d: *mut bindings::dentry) -> c_int {
    // SAFETY: `d` is the root of a nova mount.
    let sbi = unsafe { Sbi::from_sb((*d).d_sb) };
    // SAFETY: `m` is the live seq_file of this read of /proc/mounts.
    let m = unsafe { kernel::seq_file::SeqFile::from_raw(m) };
    if let Some(e) = sbi.opts.snapshot {
        kernel::seq_print!(m, ",snapshot={}", e);
    }
    if sbi.opts.inplace {
        kernel::seq_print!(m, ",data=inplace");
    }
    if sbi.opts.noacl {
        kernel::seq_print!(m, ",noacl");
    }
    if sbi.opts.snapdir_visible {
        kernel::seq_print!(m, ",snapdir=visible");
    }
    0
}

extern "C" fn sync_fs(sb: *mut bindings::super_block, _wait: c_int) -> c_int {
    // Every nova operation is durable when it returns; nothing to do but
    // order any outstanding flushes.
    // SAFETY: a live nova super block.
    let sbi = unsafe { Sbi::from_sb(sb) };
    sbi.pm().fence();
    0
}

static SUPER_OPS: Ops<bindings::super_operations> = Ops(bindings::super_operations {
    alloc_inode: Some(alloc_inode),
    free_inode: Some(free_inode),
    evict_inode: Some(evict_inode),
    put_super: Some(put_super),
    statfs: Some(statfs),
    sync_fs: Some(sync_fs),
    show_options: Some(show_options),
    // SAFETY: all-zero is a valid `super_operations` (no callbacks).
    ..unsafe { core::mem::zeroed() }
});

/// The cleaner thread's work (`kthread::Cleaner`), each time it is woken.
#[no_mangle]
extern "C" fn nova_rs_clean(sbi: *mut c_void) -> c_int {
    // SAFETY: the pointer `Cleaner::start` gave the thread; the `Sbi`
    // outlives it.
    let sbi = unsafe { &*sbi.cast::<Sbi>() };
    crate::gc::run_queue(sbi);
    match cleaner::clean(sbi) {
        Ok(()) => 0,
        Err(e) => {
            pr_err!("{}: snapshot cleaner: {:?}\n", sbi.name(), e);
            e.to_errno()
        }
    }
}
