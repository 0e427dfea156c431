// SPDX-License-Identifier: GPL-2.0
//! VFS glue: the inode and file operation tables, and their
//! `extern "C"` entry points (the file-system type and super block ones
//! are in `fstype.rs`). Each entry point converts raw
//! pointers into nova's types (under a `// SAFETY:` argument about what the
//! VFS guarantees for that callback) and calls the safe logic in the other
//! modules; errors come back as negative errnos.

use crate::dentry::{Dentry, Iattr};
use crate::glue::{errno, Ops};
use crate::inode::NovaInode;
use crate::kfile::{DirContext, Fiemap, File, Kiocb};
use crate::sbi::Sbi;
use crate::vfs_xattr::{get_inode_acl, listxattr, set_acl};
use crate::{attr, cow, falloc, file, iflags, namei, reflink, shim};
use core::ptr;
use core::sync::atomic::Ordering;
use kernel::bindings;
use kernel::ffi::{c_char, c_int, c_long, c_uint, c_void};
use kernel::iov::{IovIterDest, IovIterSource};
use kernel::prelude::*;
use kernel::str::CStr;

// ---- inode_operations and file_operations ----

/// # Safety
///
/// `i` must be a live inode of a nova mount.
pub(crate) unsafe fn ni<'a>(i: *mut bindings::inode) -> &'a NovaInode {
    // SAFETY: per the contract.
    unsafe { NovaInode::from_raw(i) }
}

extern "C" fn lookup(
    dir: *mut bindings::inode,
    d: *mut bindings::dentry,
    _flags: c_uint,
) -> *mut bindings::dentry {
    // SAFETY: the VFS calls lookup with a locked nova directory and a
    // negative dentry whose name is stable during the call.
    let (dir, d) = unsafe { (ni(dir), Dentry::from_raw(d)) };
    namei::lookup(dir, d)
}

extern "C" fn create(
    _idmap: *mut bindings::mnt_idmap,
    dir: *mut bindings::inode,
    d: *mut bindings::dentry,
    mode: bindings::umode_t,
) -> c_int {
    // SAFETY: the VFS holds `dir` locked and `d` is a negative dentry in it.
    let (dir, d) = unsafe { (ni(dir), Dentry::from_raw(d)) };
    let r = namei::create(dir, d, u32::from(mode) | bindings::S_IFREG, 0, None);
    crate::gc::maybe(dir);
    errno(r)
}

extern "C" fn tmpfile(
    _idmap: *mut bindings::mnt_idmap,
    dir: *mut bindings::inode,
    file: *mut bindings::file,
    mode: bindings::umode_t,
) -> c_int {
    // SAFETY: the VFS opens `file` with O_TMPFILE in `dir`, a nova
    // directory it holds.
    let (dir, f) = unsafe { (ni(dir), File::from_raw(file)) };
    let r = namei::tmpfile(dir, f, u32::from(mode) | bindings::S_IFREG);
    errno(f.finish_open(r))
}

extern "C" fn mknod(
    _idmap: *mut bindings::mnt_idmap,
    dir: *mut bindings::inode,
    d: *mut bindings::dentry,
    mode: bindings::umode_t,
    rdev: bindings::dev_t,
) -> c_int {
    // SAFETY: as for `create`.
    let (dir, d) = unsafe { (ni(dir), Dentry::from_raw(d)) };
    let r = namei::create(dir, d, u32::from(mode), rdev, None);
    crate::gc::maybe(dir);
    errno(r)
}

extern "C" fn symlink(
    _idmap: *mut bindings::mnt_idmap,
    dir: *mut bindings::inode,
    d: *mut bindings::dentry,
    target: *const c_char,
) -> c_int {
    // SAFETY: as for `create`; `target` is a NUL-terminated kernel string.
    let (dir, d, t) = unsafe { (ni(dir), Dentry::from_raw(d), CStr::from_char_ptr(target)) };
    errno(namei::create(
        dir,
        d,
        bindings::S_IFLNK | 0o777,
        0,
        Some(t.to_bytes()),
    ))
}

extern "C" fn mkdir(
    _idmap: *mut bindings::mnt_idmap,
    dir: *mut bindings::inode,
    d: *mut bindings::dentry,
    mode: bindings::umode_t,
) -> *mut bindings::dentry {
    // SAFETY: as for `create`.
    let (dir, d) = unsafe { (ni(dir), Dentry::from_raw(d)) };
    match namei::create(dir, d, u32::from(mode) | bindings::S_IFDIR, 0, None) {
        Ok(()) => ptr::null_mut(),
        Err(e) => kernel::error::Error::to_ptr(e),
    }
}

extern "C" fn link(
    old: *mut bindings::dentry,
    dir: *mut bindings::inode,
    d: *mut bindings::dentry,
) -> c_int {
    // SAFETY: the VFS holds `dir` and the source inode locked; `old` is
    // positive and `d` a negative dentry in `dir`.
    let (old, dir, d) = unsafe { (Dentry::from_raw(old), ni(dir), Dentry::from_raw(d)) };
    let r = namei::link(old, dir, d);
    crate::gc::maybe(dir);
    errno(r)
}

extern "C" fn unlink(dir: *mut bindings::inode, d: *mut bindings::dentry) -> c_int {
    // SAFETY: the VFS holds `dir` and the victim locked; `d` is positive.
    let (dir, d) = unsafe { (ni(dir), Dentry::from_raw(d)) };
    let r = namei::unlink(dir, d, false);
    crate::gc::maybe(dir);
    errno(r)
}

extern "C" fn rmdir(dir: *mut bindings::inode, d: *mut bindings::dentry) -> c_int {
    // SAFETY: as for `unlink`.
    let (dir, d) = unsafe { (ni(dir), Dentry::from_raw(d)) };
    let r = namei::unlink(dir, d, true);
    crate::gc::maybe(dir);
    errno(r)
}

extern "C" fn rename(
    _idmap: *mut bindings::mnt_idmap,
    odir: *mut bindings::inode,
    od: *mut bindings::dentry,
    ndir: *mut bindings::inode,
    nd: *mut bindings::dentry,
    flags: c_uint,
) -> c_int {
    // SAFETY: the VFS holds the rename lock and both directories locked;
    // `od` is positive, `nd` a dentry in `ndir`.
    let (o, od, n, nd) = unsafe {
        (
            ni(odir),
            Dentry::from_raw(od),
            ni(ndir),
            Dentry::from_raw(nd),
        )
    };
    let r = namei::rename(o, od, n, nd, flags);
    crate::gc::maybe(o);
    if !core::ptr::eq(o, n) {
        crate::gc::maybe(n);
    }
    errno(r)
}

extern "C" fn setattr(
    _idmap: *mut bindings::mnt_idmap,
    d: *mut bindings::dentry,
    attr: *mut bindings::iattr,
) -> c_int {
    // SAFETY: the VFS holds the inode locked; `d` is positive and `attr`
    // valid for the call.
    let (d, attr) = unsafe { (Dentry::from_raw(d), Iattr::from_raw(attr)) };
    errno(attr::setattr(d, attr))
}

extern "C" fn getattr(
    _idmap: *mut bindings::mnt_idmap,
    path: *const bindings::path,
    stat: *mut bindings::kstat,
    request_mask: u32,
    _flags: c_uint,
) -> c_int {
    // SAFETY: `path` names a nova dentry with an inode; `stat` is ours to fill.
    unsafe {
        let i = (*(*path).dentry).d_inode;
        bindings::generic_fillattr(
            ptr::addr_of_mut!(bindings::nop_mnt_idmap),
            request_mask,
            i,
            stat,
        );
        // Data blocks in 512-byte units (nova does not keep `i_blocks`).
        (*stat).blocks = ni(i).data.lock().pages() << (crate::format::layout::BLOCK_SHIFT - 9);
        // The birth time: the slot records when the inode was created.
        let (s, n) = ni(i).btime();
        (*stat).btime = bindings::timespec64 {
            tv_sec: s,
            tv_nsec: n as isize,
        };
        (*stat).result_mask |= bindings::STATX_BTIME;
    }
    0
}

extern "C" fn update_time(
    i: *mut bindings::inode,
    kind: bindings::fs_update_time,
    flags: c_uint,
) -> c_int {
    // `IOCB_NOWAIT` (a macro the bindings lack): logging may block.
    const IOCB_NOWAIT: c_uint = 1 << 3;
    if kind == bindings::fs_update_time_FS_UPD_CMTIME && flags & IOCB_NOWAIT != 0 {
        return EAGAIN.to_errno();
    }
    // SAFETY: the VFS passes a live nova inode; this updates its times in
    // memory and says whether they changed.
    let r = unsafe { bindings::inode_update_time(i, kind, flags) };
    if r <= 0 || kind != bindings::fs_update_time_FS_UPD_CMTIME {
        // Access times change in memory; the inode logs its atime when
        // it leaves memory (`evict`), not once per read.
        if r > 0 {
            // SAFETY: as above.
            unsafe { ni(i) }.mark_atime_dirty();
        }
        return r.min(0);
    }
    // SAFETY: as above.
    let n = unsafe { ni(i) };
    if n.defer_times.load(Ordering::Acquire) {
        // A clone's checks (`file_modified`): its own commit logs the
        // times, and the shim puts these back meanwhile.
        return 0;
    }
    // Modification times (a store through a mapping, fallocate) are
    // logged, so they survive and snapshots see them.
    errno(attr::log_times(n))
}

extern "C" fn get_link(
    d: *mut bindings::dentry,
    i: *mut bindings::inode,
    _done: *mut bindings::delayed_call,
) -> *const c_char {
    // RCU walk passes a null dentry; the link body is cached in i_link
    // when the inode is read, so this is only reached if that failed.
    let _ = (d, i);
    kernel::error::Error::to_ptr::<c_char>(EIO).cast_const()
}

extern "C" fn fileattr_get(d: *mut bindings::dentry, fa: *mut bindings::file_kattr) -> c_int {
    // SAFETY: the VFS passes a positive nova dentry and the request to fill.
    unsafe { shim::nova_shim_fileattr_fill(fa, iflags::get(ni((*d).d_inode))) };
    0
}

extern "C" fn fileattr_set(
    _idmap: *mut bindings::mnt_idmap,
    d: *mut bindings::dentry,
    fa: *mut bindings::file_kattr,
) -> c_int {
    let mut flags = 0u32;
    // SAFETY: the VFS passes a positive nova dentry, its inode locked, and
    // the checked request.
    let (ni, r) = unsafe {
        (
            ni((*d).d_inode),
            shim::nova_shim_fileattr_flags(fa, &mut flags),
        )
    };
    if r != 0 {
        return r;
    }
    let r = iflags::set(ni, flags);
    crate::gc::maybe(ni);
    errno(r)
}

pub(crate) static DIR_IOPS: Ops<bindings::inode_operations> = Ops(bindings::inode_operations {
    lookup: Some(lookup),
    create: Some(create),
    link: Some(link),
    unlink: Some(unlink),
    symlink: Some(symlink),
    mkdir: Some(mkdir),
    rmdir: Some(rmdir),
    mknod: Some(mknod),
    tmpfile: Some(tmpfile),
    rename: Some(rename),
    setattr: Some(setattr),
    getattr: Some(getattr),
    update_time: Some(update_time),
    listxattr: Some(listxattr),
    get_inode_acl: Some(get_inode_acl),
    set_acl: Some(set_acl),
    fileattr_get: Some(fileattr_get),
    fileattr_set: Some(fileattr_set),
    // SAFETY: all-zero is a valid `inode_operations`.
    ..unsafe { core::mem::zeroed() }
});

extern "C" fn fiemap(
    i: *mut bindings::inode,
    fi: *mut bindings::fiemap_extent_info,
    start: u64,
    len: u64,
) -> c_int {
    // SAFETY: the VFS passes a nova regular file and the live request.
    let (ni, fi) = unsafe { (ni(i), Fiemap::from_raw(fi)) };
    errno(file::fiemap(ni, fi, start, len))
}

pub(crate) static FILE_IOPS: Ops<bindings::inode_operations> = Ops(bindings::inode_operations {
    setattr: Some(setattr),
    getattr: Some(getattr),
    update_time: Some(update_time),
    fiemap: Some(fiemap),
    listxattr: Some(listxattr),
    get_inode_acl: Some(get_inode_acl),
    set_acl: Some(set_acl),
    fileattr_get: Some(fileattr_get),
    fileattr_set: Some(fileattr_set),
    // SAFETY: all-zero is a valid `inode_operations`.
    ..unsafe { core::mem::zeroed() }
});

pub(crate) static SYMLINK_IOPS: Ops<bindings::inode_operations> = Ops(bindings::inode_operations {
    get_link: Some(get_link),
    setattr: Some(setattr),
    getattr: Some(getattr),
    listxattr: Some(listxattr),
    // SAFETY: all-zero is a valid `inode_operations`.
    ..unsafe { core::mem::zeroed() }
});

extern "C" fn iterate_shared(file: *mut bindings::file, ctx: *mut bindings::dir_context) -> c_int {
    // SAFETY: the VFS holds the directory's lock shared for the call; an
    // open nova directory and its live context.
    let (file, ctx) = unsafe { (File::from_raw(file), DirContext::from_raw(ctx)) };
    errno(namei::readdir(file, ctx))
}

extern "C" fn dir_llseek(
    file: *mut bindings::file,
    off: bindings::loff_t,
    whence: c_int,
) -> bindings::loff_t {
    // SAFETY: a nova directory file.
    unsafe { bindings::generic_file_llseek(file, off, whence) }
}

/// `FS_IOC_SHUTDOWN` (`_IOR('X', 125, __u32)`, a macro the bindings lack).
const FS_IOC_SHUTDOWN: c_uint = 0x8004_587d;

/// `ioctl` of files and directories: `FS_IOC_SHUTDOWN` (the inode flags
/// ioctls reach `fileattr_get`/`fileattr_set` through the VFS).
extern "C" fn ioctl(file: *mut bindings::file, cmd: c_uint, arg: c_ulong) -> c_long {
    if cmd != FS_IOC_SHUTDOWN {
        return ENOTTY.to_errno() as c_long;
    }
    // SAFETY: the VFS passes an open nova file; `capable` has no
    // preconditions.
    let (sbi, admin) = unsafe {
        (
            File::from_raw(file).inode().sbi(),
            bindings::capable(bindings::CAP_SYS_ADMIN as c_int),
        )
    };
    let r = (|| -> Result {
        if !admin {
            return Err(EPERM);
        }
        let ptr = kernel::uaccess::UserPtr::from_addr(arg as usize);
        let how: u32 = kernel::uaccess::UserSlice::new(ptr, 4).reader().read()?;
        // FS_GOING_FLAGS_DEFAULT, _LOGFLUSH, _NOLOGFLUSH: on DAX every
        // write is already on the device, so all three stop alike.
        if how > 2 {
            return Err(EINVAL);
        }
        sbi.shut_down();
        Ok(())
    })();
    errno(r) as c_long
}

pub(crate) static DIR_FOPS: Ops<bindings::file_operations> = Ops(bindings::file_operations {
    llseek: Some(dir_llseek),
    read: Some(bindings::generic_read_dir),
    iterate_shared: Some(iterate_shared),
    fsync: Some(bindings::noop_fsync),
    unlocked_ioctl: Some(ioctl),
    compat_ioctl: bindings::compat_ptr_ioctl,
    // SAFETY: all-zero is a valid `file_operations`.
    ..unsafe { core::mem::zeroed() }
});

extern "C" fn read_iter(iocb: *mut bindings::kiocb, to: *mut bindings::iov_iter) -> isize {
    // SAFETY: the VFS passes a live kiocb and iterator of a nova file,
    // ours for the call.
    let (iocb, to) = unsafe { (Kiocb::from_raw(iocb), IovIterDest::from_raw(to)) };
    match file::read_iter(iocb, to) {
        Ok(n) => n,
        Err(e) => e.to_errno() as isize,
    }
}

extern "C" fn write_iter(iocb: *mut bindings::kiocb, from: *mut bindings::iov_iter) -> isize {
    // SAFETY: the VFS passes a live kiocb and iterator of a nova file,
    // ours for the call.
    let (iocb, from) = unsafe { (Kiocb::from_raw(iocb), IovIterSource::from_raw(from)) };
    match cow::write_iter(iocb, from) {
        Ok(n) => n,
        Err(e) => e.to_errno() as isize,
    }
}

extern "C" fn file_llseek(
    file: *mut bindings::file,
    off: bindings::loff_t,
    whence: c_int,
) -> bindings::loff_t {
    // SAFETY: the VFS passes an open nova regular file.
    file::llseek(unsafe { File::from_raw(file) }, off, whence)
}

extern "C" fn file_fsync(
    file: *mut bindings::file,
    start: bindings::loff_t,
    end: bindings::loff_t,
    _datasync: c_int,
) -> c_int {
    // Everything written through nova is durable when the call returns;
    // what fsync/msync adds is writing back the stores made through
    // shared mappings (dirty DAX entries, flushed from the CPU cache).
    // SAFETY: the VFS passes an open nova regular file.
    let r = unsafe { bindings::file_write_and_wait_range(file, start, end) };
    // SAFETY: as above.
    let sbi = unsafe { Sbi::from_sb((*shim::nova_shim_file_inode(file)).i_sb) };
    sbi.pm().fence();
    if sbi.is_shut_down() {
        // Stores through mappings may have reached the device, but no
        // promise is kept any more.
        return EIO.to_errno();
    }
    r
}

extern "C" fn fallocate(
    file: *mut bindings::file,
    mode: c_int,
    off: bindings::loff_t,
    len: bindings::loff_t,
) -> c_long {
    // SAFETY: the VFS passes an open nova regular file.
    errno(falloc::fallocate(
        unsafe { File::from_raw(file) },
        mode,
        off,
        len,
    )) as c_long
}

#[no_mangle]
extern "C" fn nova_rs_iomap_begin(
    i: *mut bindings::inode,
    pos: u64,
    write: bool,
    blk: *mut u64,
    pages: *mut u64,
    src: *mut u64,
    shared: *mut bool,
) -> c_int {
    // SAFETY: called from the DAX fault path of a nova regular file (the
    // faulting mapping holds a reference to it).
    let ni = unsafe { ni(i) };
    match cow::iomap_begin(ni, pos, write) {
        Ok((b, n, s, o)) => {
            // SAFETY: `blk`, `pages`, `src` and `shared` are the shim's
            // locals.
            unsafe {
                *blk = b;
                *pages = n;
                *src = s;
                *shared = o;
            }
            0
        }
        Err(e) => e.to_errno(),
    }
}

#[no_mangle]
extern "C" fn nova_rs_remap(
    src: *mut bindings::inode,
    spos: u64,
    dst: *mut bindings::inode,
    dpos: u64,
    len: u64,
    dedupe: bool,
) -> i64 {
    // SAFETY: the shim passes two nova regular files of one super block,
    // open and locked by the caller for the whole call.
    let (s, d) = unsafe { (ni(src), ni(dst)) };
    match reflink::remap(s, spos, d, dpos, len, dedupe) {
        Ok(n) => n as i64,
        Err(e) => e.to_errno() as i64,
    }
}

/// While set, modification times the VFS sets on `i` are not logged
/// (`nova_shim_remap_file_range`).
#[no_mangle]
extern "C" fn nova_rs_defer_times(i: *mut bindings::inode, on: bool) {
    // SAFETY: the shim passes a nova regular file it holds open and locked.
    unsafe { ni(i) }.defer_times.store(on, Ordering::Release);
}

/// Whether blocks of files of super block `src` may be shared into files
/// of `dst`: the same mount, or a snapshot view of `dst`'s device into
/// the live (writable) file system (a restore).
#[no_mangle]
extern "C" fn nova_rs_same_device(
    src: *mut bindings::super_block,
    dst: *mut bindings::super_block,
) -> bool {
    // SAFETY: the shim passes the super blocks of two open nova files.
    let (s, d) = unsafe { (Sbi::from_sb(src), Sbi::from_sb(dst)) };
    core::ptr::eq(s, d)
        || (s.read_only_forever() && !d.read_only_forever() && s.dev.same_device(&d.dev))
}

#[no_mangle]
extern "C" fn nova_rs_dax_dev(sb: *mut bindings::super_block) -> *mut c_void {
    // SAFETY: the shim passes the super block of a mounted nova inode.
    unsafe { Sbi::from_sb(sb) }.dax()
}

#[no_mangle]
extern "C" fn nova_rs_fault_gate(sb: *mut bindings::super_block) -> *mut bindings::rw_semaphore {
    // SAFETY: the shim passes the super block of a mounted nova inode.
    unsafe { Sbi::from_sb(sb) }.gate.as_ptr()
}

/// `FOP_MMAP_SYNC` (a `__force`-cast macro the bindings lack): nova
/// supports `MAP_SYNC`.
const FOP_MMAP_SYNC: bindings::fop_flags_t = 1 << 2;

pub(crate) static FILE_FOPS: Ops<bindings::file_operations> = Ops(bindings::file_operations {
    llseek: Some(file_llseek),
    read_iter: Some(read_iter),
    write_iter: Some(write_iter),
    mmap_prepare: Some(shim::nova_shim_mmap_prepare),
    splice_read: Some(bindings::copy_splice_read),
    splice_write: Some(bindings::iter_file_splice_write),
    fsync: Some(file_fsync),
    fallocate: Some(fallocate),
    remap_file_range: Some(shim::nova_shim_remap_file_range),
    copy_file_range: Some(shim::nova_shim_copy_file_range),
    unlocked_ioctl: Some(ioctl),
    compat_ioctl: bindings::compat_ptr_ioctl,
    fop_flags: FOP_MMAP_SYNC,
    // SAFETY: all-zero is a valid `file_operations`.
    ..unsafe { core::mem::zeroed() }
});
