// SPDX-License-Identifier: GPL-2.0
//! The entry points of `/<mnt>/.snapshots` (the directory itself, its
//! automount points and tag symlinks are made in `shim.c`): what it
//! lists and finds, the options of the view an automount mounts, and the
//! calls nova's logic makes into it.

use crate::dentry::Dentry;
use crate::format::snapshot::SnapSet;
use crate::inode::NovaInode;
use crate::sbi::{parse_u64, MountOpts, Sbi};
use crate::shim;
use crate::snaplist::Snapshots;
use kernel::bindings;
use kernel::ffi::{c_char, c_int, c_void};

/// The name of the directory in the root.
pub(crate) const NAME: &[u8] = b".snapshots";

/// Its inode number (`NOVA_SNAPDIR_INO` in `shim.c`).
pub(crate) const INO: u64 = 1 << 63;

/// The live snapshot of the lowest epoch at or after `from`: its epoch,
/// and its tag NUL-terminated into `tag` (33 bytes; empty when
/// untagged). 0, or 1 when there is none.
#[no_mangle]
extern "C" fn nova_rs_snapdir_next(
    sb: *mut bindings::super_block,
    from: u64,
    epoch: *mut u64,
    tag: *mut c_char,
) -> c_int {
    // SAFETY: called for the live nova super block of a `.snapshots`
    // directory being read.
    let sbi = unsafe { Sbi::from_sb(sb) };
    let snaps = sbi.snaps.lock();
    let Some((e, t)) = snaps.next_from(from) else {
        return 1;
    };
    let b = t.as_bytes();
    let n = b.len().min(32);
    // SAFETY: the caller's `u64` and 33-byte buffer.
    unsafe {
        *epoch = e;
        core::ptr::copy_nonoverlapping(b.as_ptr(), tag.cast::<u8>(), n);
        *tag.add(n) = 0;
    }
    0
}

/// How many times snapshots changed (`Snapshots::changes`): a lookup in
/// `.snapshots` whose answer predates a change is not cached.
#[no_mangle]
extern "C" fn nova_rs_snapdir_gen(sb: *mut bindings::super_block) -> u64 {
    // SAFETY: the live nova super block of a `.snapshots` lookup.
    let sbi = unsafe { Sbi::from_sb(sb) };
    sbi.snaps.lock().changes()
}

/// What `name` is in `.snapshots`: 1 a live snapshot's epoch, 2 a live
/// snapshot's tag (its epoch into `epoch`), 0 nothing; `gen` the
/// changes count the answer goes with (`nova_rs_snapdir_gen`).
#[no_mangle]
extern "C" fn nova_rs_snapdir_find(
    sb: *mut bindings::super_block,
    name: *const c_char,
    len: u32,
    epoch: *mut u64,
    gen: *mut u64,
) -> c_int {
    // SAFETY: the live super block of a `.snapshots` lookup, and the
    // dentry's name, stable for the call.
    let (sbi, name) = unsafe {
        (
            Sbi::from_sb(sb),
            core::slice::from_raw_parts(name.cast::<u8>(), len as usize),
        )
    };
    let snaps = sbi.snaps.lock();
    let (kind, e) = find(&snaps, name);
    // SAFETY: the caller's `u64`s.
    unsafe {
        *epoch = e;
        *gen = snaps.changes();
    }
    kind
}

fn find(snaps: &Snapshots, name: &[u8]) -> (c_int, u64) {
    // Only the canonical spelling of a number (no leading zero).
    if let Some(e) = parse_u64(name).filter(|_| name.len() == 1 || name[0] != b'0') {
        return if snaps.contains(e) { (1, e) } else { (0, 0) };
    }
    match snaps.by_tag(name) {
        Some(e) => (2, e),
        None => (0, 0),
    }
}

/// The options of a `.snapshots/E` automount: snapshot `epoch` of `dev`.
#[no_mangle]
extern "C" fn nova_rs_opts_submount(opts: *mut c_void, epoch: u64, dev: u32) {
    // SAFETY: the options `init_fs_context` made for the submount.
    if let Some(o) = unsafe { opts.cast::<MountOpts>().as_mut() } {
        o.snapshot = Some(epoch);
        o.dev = dev;
    }
}

/// Whether `ni` is one of the inodes of `.snapshots` (made in memory,
/// with no slot or log).
pub(crate) fn is_snapdir(ni: &NovaInode) -> bool {
    ni.ino() & INO != 0
}

/// The root's lookup of `.snapshots` in a live mount.
pub(crate) fn lookup(root: &NovaInode, d: &Dentry) -> *mut bindings::dentry {
    // SAFETY: `lookup` of the locked root with a negative dentry; the
    // shim makes the directory's inode and splices it.
    unsafe { shim::nova_shim_snapdir_lookup(root.raw(), d.raw()) }
}

/// Unmounts the idle `.snapshots` views of every device, then waits (at
/// most two seconds) until snapshot `epoch` of `sbi`'s device has no
/// view left. Returns whether it has none.
pub(crate) fn release_views(sbi: &Sbi, epoch: u64) -> bool {
    // SAFETY: no locks of nova are held; the shim waits for its worker.
    unsafe { shim::nova_shim_snap_expire_now() };
    for _ in 0..200 {
        if !sbi.dev.with_holds(|h| h.held(epoch)) {
            return true;
        }
        kernel::time::delay::fsleep(kernel::time::Delta::from_millis(10));
    }
    false
}

/// Whether an inode is one of `.snapshots`' (no slot, no log); if so,
/// evicts it.
pub(crate) fn evict(i: *mut bindings::inode) -> bool {
    // SAFETY: the VFS evicts `i`, a nova super block's inode.
    unsafe { shim::nova_shim_snapdir_evict(i) }
}
