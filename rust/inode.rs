// SPDX-License-Identifier: GPL-2.0
//! In-memory inodes: allocation, reading an inode from its slot and log
//! (`iget`), attribute changes, and deletion at eviction.

use crate::dir::DirIndex;
use crate::file::{check_write, FileIndex, MappingLock};
use crate::format::layout::*;
use crate::format::le::Pod;
use crate::format::log::LogWalker;
use crate::itable::{Bitmap, LiveInode};
use crate::log::Tx;
use crate::snapshot::{Kept, Snapshots};
use crate::super_::{walk_pages, Sbi};
use crate::{shim, vfs};
use core::ptr;
use kernel::bindings;
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::Mutex;
use kernel::types::Opaque;

/// Where an inode's log is.
#[derive(Clone, Copy, Default)]
pub(crate) struct LogPos {
    /// Byte address of the inode's slot in the table.
    pub(crate) slot: u64,
    pub(crate) head: u64,
    pub(crate) tail: u64,
    /// Pages in the log.
    pub(crate) pages: u64,
    /// Log GC is due at this many pages.
    pub(crate) gc_at: u64,
    /// Queued for the cleaner thread's log GC.
    pub(crate) queued: bool,
}

/// nova's inode: the VFS inode plus nova's DRAM state.
#[pin_data]
pub(crate) struct NovaInode {
    #[pin]
    vfs: Opaque<bindings::inode>,
    #[pin]
    log: Mutex<LogPos>,
    /// Directory index (directories only).
    #[pin]
    pub(crate) dir: Mutex<DirIndex>,
    /// Data extents (regular files and symlinks).
    #[pin]
    pub(crate) data: Mutex<FileIndex>,
}

impl NovaInode {
    /// Allocates a nova inode for `alloc_inode`.
    pub(crate) fn alloc() -> Result<*mut bindings::inode> {
        let b = KBox::pin_init(
            pin_init!(NovaInode {
                // SAFETY: `inode_init_once` initialises a fresh inode.
                vfs <- Opaque::ffi_init(|p| unsafe { bindings::inode_init_once(p) }),
                log <- new_mutex!(LogPos::default()),
                dir <- new_mutex!(DirIndex::new()),
                data <- new_mutex!(FileIndex::new()),
            }),
            GFP_KERNEL,
        )?;
        // SAFETY: the box is leaked to the VFS and reclaimed in `free`.
        let raw = KBox::into_raw(unsafe { Pin::into_inner_unchecked(b) });
        // SAFETY: `raw` is valid; take the address of its embedded inode.
        Ok(unsafe { Opaque::cast_into(ptr::addr_of!((*raw).vfs)) })
    }

    /// Frees an inode allocated by `alloc`.
    ///
    /// # Safety
    ///
    /// `i` must come from `alloc` and be unused from now on.
    pub(crate) unsafe fn free(i: *mut bindings::inode) {
        // SAFETY: `i` is the `vfs` field of a boxed `NovaInode` (contract).
        let p = unsafe { kernel::container_of!(Opaque::cast_from(i), NovaInode, vfs) };
        // SAFETY: reclaims the box leaked in `alloc`.
        drop(unsafe { KBox::from_raw(p.cast_mut()) });
    }

    /// # Safety
    ///
    /// `i` must be a live inode allocated by `alloc`.
    pub(crate) unsafe fn from_raw<'a>(i: *mut bindings::inode) -> &'a NovaInode {
        // SAFETY: per the contract `i` is embedded in a live `NovaInode`.
        unsafe { &*kernel::container_of!(Opaque::cast_from(i), NovaInode, vfs) }
    }

    pub(crate) fn raw(&self) -> *mut bindings::inode {
        self.vfs.get()
    }

    pub(crate) fn sbi(&self) -> &Sbi {
        // SAFETY: a live nova inode belongs to a mounted nova super block.
        unsafe { Sbi::from_sb((*self.raw()).i_sb) }
    }

    pub(crate) fn ino(&self) -> u64 {
        // SAFETY: `i_ino` is set before the inode is visible and never changes.
        unsafe { (*self.raw()).i_ino }
    }

    pub(crate) fn mode(&self) -> u32 {
        // SAFETY: reading `i_mode` of a live inode.
        u32::from(unsafe { (*self.raw()).i_mode })
    }

    pub(crate) fn is_dir(&self) -> bool {
        self.mode() & bindings::S_IFMT == bindings::S_IFDIR
    }

    pub(crate) fn nlink(&self) -> u32 {
        // SAFETY: reading `i_nlink` (a union member, always the count).
        unsafe { (*self.raw()).__bindgen_anon_1.i_nlink }
    }

    pub(crate) fn set_nlink(&self, n: u32) {
        // SAFETY: the caller holds the inode's lock as the VFS requires.
        unsafe { bindings::set_nlink(self.raw(), n) };
    }

    pub(crate) fn size(&self) -> u64 {
        // SAFETY: reading `i_size` of a live inode.
        unsafe { (*self.raw()).i_size as u64 }
    }

    pub(crate) fn set_size(&self, s: u64) {
        // SAFETY: the caller holds the inode's lock.
        unsafe { shim::nova_shim_i_size_write(self.raw(), s as i64) };
    }

    /// `which`: 0 atime, 1 mtime, 2 ctime.
    pub(crate) fn set_time(&self, which: i32, sec: i64, nsec: u32) {
        // SAFETY: a live inode; the VFS serialises attribute changes.
        unsafe { shim::nova_shim_set_time(self.raw(), which, sec, nsec) };
    }

    pub(crate) fn time(&self, which: i32) -> (i64, u32) {
        let (mut s, mut n) = (0i64, 0u32);
        // SAFETY: a live inode; out-pointers are locals.
        unsafe { shim::nova_shim_get_time(self.raw(), which, &mut s, &mut n) };
        (s, n)
    }

    /// The current time, truncated as the super block wants.
    pub(crate) fn now(&self) -> (i64, u32) {
        let (mut s, mut n) = (0i64, 0u32);
        // SAFETY: a live inode; out-pointers are locals.
        unsafe { shim::nova_shim_now(self.raw(), &mut s, &mut n) };
        (s, n)
    }

    pub(crate) fn log_pos(&self) -> LogPos {
        *self.log.lock()
    }

    /// After a commit: the new tail and the pages appended. Returns
    /// whether the log just became due for GC (it is then marked queued).
    pub(crate) fn advance(&self, t: u64, added: u64) -> bool {
        let mut l = self.log.lock();
        l.tail = t;
        l.pages = l.pages.saturating_add(added);
        if l.pages >= l.gc_at && !l.queued {
            l.queued = true;
            return true;
        }
        false
    }

    /// After a log GC: the new log, and the next threshold.
    pub(crate) fn log_collected(&self, head: u64, tail: u64, pages: u64) {
        let mut l = self.log.lock();
        l.head = head;
        l.tail = tail;
        l.pages = pages;
        l.gc_at = gc_threshold(pages);
        l.queued = false;
    }

    fn set_log(&self, p: LogPos) {
        *self.log.lock() = p;
    }
}

/// The log size at which a log of `pages` pages is next collected.
fn gc_threshold(pages: u64) -> u64 {
    pages.saturating_mul(2).max(crate::gc::GC_MIN_PAGES)
}

fn dtype_of(mode: u32) -> u8 {
    ((mode & bindings::S_IFMT) >> 12) as u8
}

/// The `DT_*` type for a mode.
pub(crate) fn dtype(mode: u32) -> u8 {
    dtype_of(mode)
}

/// Sets up operations and type-specific state for a mode.
fn set_ops(ni: &NovaInode, mode: u32, rdev: u32) {
    let i = ni.raw();
    // SAFETY: the inode is new (I_NEW) or being created and not yet
    // visible; setting its operation tables is the VFS protocol.
    unsafe {
        match mode & bindings::S_IFMT {
            bindings::S_IFDIR => {
                (*i).i_op = &vfs::DIR_IOPS.0;
                (*i).__bindgen_anon_3.i_fop = &vfs::DIR_FOPS.0;
            }
            bindings::S_IFREG => {
                (*i).i_op = &vfs::FILE_IOPS.0;
                (*i).__bindgen_anon_3.i_fop = &vfs::FILE_FOPS.0;
                shim::nova_shim_set_dax(i);
            }
            bindings::S_IFLNK => {
                (*i).i_op = &vfs::SYMLINK_IOPS.0;
            }
            _ => {
                (*i).i_op = &vfs::FILE_IOPS.0;
                bindings::init_special_inode(i, mode as u16, rdev);
            }
        }
    }
}

/// Applies one log entry to an inode being read.
fn apply(ni: &NovaInode, buf: &[u8], etype: EntryType, epoch: u64) -> Result {
    match etype {
        EntryType::Dentry => {
            let d = crate::dir::decode_dentry(buf).ok_or(EINVAL)?;
            ni.dir.lock().apply(&d)?;
            if d.name != b".." {
                ni.set_time(1, d.mtime.0, d.mtime.1.min(999_999_999));
                ni.set_time(2, d.mtime.0, d.mtime.1.min(999_999_999));
            }
        }
        EntryType::SetAttr => {
            let e = SetAttrEntry::from_bytes(buf).ok_or(EINVAL)?;
            check_setattr(&e, ni.mode())?;
            apply_setattr(ni, &e);
        }
        EntryType::LinkChange => {
            let e = LinkChangeEntry::from_bytes(buf).ok_or(EINVAL)?;
            ni.set_nlink(e.nlink.get());
            ni.set_time(2, e.ctime_sec.get() as i64, e.ctime_nsec.get());
        }
        EntryType::FileWrite => {
            let e = FileWriteEntry::from_bytes(buf).ok_or(EINVAL)?;
            let (pg, b, n) = check_write(&e, ni.sbi().blocks)?;
            // Blocks an entry replaced were released when it was written.
            let mut freed = KVec::new();
            ni.data.lock().insert(pg, b, n, epoch, &mut freed)?;
            ni.set_size(e.size.get());
            ni.set_time(1, e.mtime_sec.get() as i64, e.mtime_nsec.get());
            ni.set_time(2, e.mtime_sec.get() as i64, e.mtime_nsec.get());
        }
        EntryType::SnapshotInfo => {}
    }
    Ok(())
}

/// Checks a `SetAttr` entry read from the media for an inode of mode
/// `mode`: the file type never changes, and a size is at most the largest
/// file size.
pub(crate) fn check_setattr(e: &SetAttrEntry, mode: u32) -> Result {
    let m = e.mask.get();
    if m & ATTR_MODE != 0
        && (e.mode.get() > 0xffff || (e.mode.get() ^ mode) & bindings::S_IFMT != 0)
    {
        return Err(EINVAL);
    }
    if m & ATTR_SIZE != 0 && e.size.get() > MAX_FILE_SIZE {
        return Err(EINVAL);
    }
    Ok(())
}

fn apply_setattr(ni: &NovaInode, e: &SetAttrEntry) {
    let m = e.mask.get();
    let i = ni.raw();
    if m & ATTR_MODE != 0 {
        // SAFETY: the inode's lock is held (or it is I_NEW).
        unsafe { (*i).i_mode = (e.mode.get() & 0xffff) as u16 };
    }
    if m & (ATTR_UID | ATTR_GID) != 0 {
        // SAFETY: as above.
        let (u, g) = unsafe { (shim::nova_shim_uid(i), shim::nova_shim_gid(i)) };
        let u = if m & ATTR_UID != 0 { e.uid.get() } else { u };
        let g = if m & ATTR_GID != 0 { e.gid.get() } else { g };
        // SAFETY: as above.
        unsafe { shim::nova_shim_set_owner(i, u, g) };
    }
    if m & ATTR_SIZE != 0 {
        ni.set_size(e.size.get());
        let mut freed = KVec::new();
        let _ = ni
            .data
            .lock()
            .truncate(e.size.get().div_ceil(BLOCK_SIZE), &mut freed);
    }
    for (k, bit) in [(0usize, ATTR_ATIME), (1, ATTR_MTIME), (2, ATTR_CTIME)] {
        if m & bit != 0 {
            let s = e.time_sec.get(k).map_or(0, |v| v.get());
            let n = e.time_nsec.get(k).map_or(0, |v| v.get());
            ni.set_time(k as i32, s as i64, n.min(999_999_999));
        }
    }
}

/// Reads the pm slot of `ino`.
pub(crate) fn read_slot(sbi: &Sbi, ino: u64) -> Result<(u64, PmInode)> {
    let addr = sbi.itable.lock().slot_addr(ino).ok_or(ESTALE)?;
    let mut raw = [0u8; 128];
    sbi.pm().read(addr, &mut raw)?;
    Ok((addr, PmInode::from_bytes(&raw).ok_or(EIO)?))
}

/// Refuses (`EIO`, with a message) a log head and tail that are not
/// inside the device's log pages. They are outside the slot's checksum:
/// a bad pair would send appends outside this inode's log (a zero head to
/// the superblock).
fn check_log_bounds(sbi: &Sbi, ino: u64, head: u64, tail: u64) -> Result {
    if crate::format::log::log_bounds_ok(head, tail, sbi.pm().len()) {
        return Ok(());
    }
    pr_err!(
        "{}: inode {}: log head {:#x} / tail {:#x} out of bounds\n",
        sbi.name(),
        ino,
        head,
        tail
    );
    Err(EIO)
}

/// Fills a fresh VFS inode from its slot and log.
fn fill(sbi: &Sbi, ni: &NovaInode, ino: u64) -> Result {
    let (slot, pi) = read_slot(sbi, ino)?;
    if !pi.is_valid(ino) {
        pr_err!("{}: inode {} is not valid on media\n", sbi.name(), ino);
        return Err(ESTALE);
    }
    // A snapshot mount sees the entries of epochs up to its own.
    let upto = sbi.opts.snapshot;
    match upto {
        Some(e) if pi.create_epoch.get() > e => return Err(ESTALE),
        // Deleted; only snapshots still see it.
        None if pi.delete_epoch.get() != 0 => return Err(ESTALE),
        _ => {}
    }
    let mode = pi.mode.get();
    let i = ni.raw();
    // SAFETY: the inode is I_NEW: only we touch it.
    unsafe {
        (*i).i_mode = (mode & 0xffff) as u16;
        shim::nova_shim_set_owner(i, pi.uid.get(), pi.gid.get());
        (*i).i_generation = pi.generation.get();
    }
    ni.set_nlink(pi.nlink.get());
    ni.set_size(0);
    let t = pi.time_sec.get() as i64;
    for k in 0..3 {
        ni.set_time(k, t, pi.time_nsec.get().min(999_999_999));
    }
    let (head, tail) = (pi.log_head.get(), pi.log_tail.get());
    check_log_bounds(sbi, ino, head, tail)?;
    ni.set_log(LogPos {
        slot,
        head,
        tail,
        ..LogPos::default()
    });
    if mode & bindings::S_IFMT == bindings::S_IFDIR {
        ni.dir.lock().set_parent(ino);
    }
    let mut w = LogWalker::new(sbi.pm(), head, tail).owned_by(ino);
    let mut buf = [0u8; MAX_ENTRY];
    // A block this inode uses must not be free in the allocator: a clean
    // mount trusts the saved free list without scanning every log, and
    // the next allocation would overwrite the block.
    let in_use = |b: u64, len: u64, what: &str| -> Result {
        if sbi.alloc.any_free(b, len) {
            pr_err!(
                "{}: inode {}: {} blocks {}+{} are also free\n",
                sbi.name(),
                ino,
                what,
                b,
                len
            );
            return Err(EIO);
        }
        Ok(())
    };
    let mut last = head;
    in_use(head / BLOCK_SIZE, 1, "log")?;
    loop {
        let f = match w.next_entry(&mut buf) {
            Ok(Some(f)) => f,
            Ok(None) => {
                ni.log_collected(head, tail, w.pages());
                break;
            }
            Err(e) => {
                pr_err!("{}: inode {}: corrupt log: {:?}\n", sbi.name(), ino, e);
                return Err(EIO);
            }
        };
        let pg = crate::format::log::page_of(f.addr);
        if pg != last {
            in_use(pg / BLOCK_SIZE, 1, "log")?;
            last = pg;
        }
        if f.epoch > sbi.epoch() {
            pr_err!(
                "{}: inode {}: {:?} entry at {:#x} has epoch {} past the current {}\n",
                sbi.name(),
                ino,
                f.etype,
                f.addr,
                f.epoch,
                sbi.epoch()
            );
            return Err(EIO);
        }
        if upto.is_some_and(|e| f.epoch > e) {
            continue;
        }
        let e = buf.get(..f.len).ok_or(EIO)?;
        if let Err(err) = apply(ni, e, f.etype, f.epoch) {
            pr_err!(
                "{}: inode {}: bad {:?} entry at {:#x}\n",
                sbi.name(),
                ino,
                f.etype,
                f.addr
            );
            return Err(err);
        }
    }
    ni.data.lock().for_each(|b, l, _| in_use(b, l, "data"))?;
    // Found through a name (or the root): a live inode has links, a
    // directory at least two. Anything else would warn on the next link
    // and be deleted at eviction while still named.
    let min = if mode & bindings::S_IFMT == bindings::S_IFDIR {
        2
    } else {
        1
    };
    if ni.nlink() < min {
        pr_err!(
            "{}: inode {}: link count {} on media is impossible\n",
            sbi.name(),
            ino,
            ni.nlink()
        );
        return Err(EIO);
    }
    set_ops(ni, mode, pi.rdev.get());
    if mode & bindings::S_IFMT == bindings::S_IFLNK {
        cache_link(sbi, ni)?;
    }
    Ok(())
}

/// Reads a symlink's target into a kernel buffer owned by the inode
/// (`i_link`), so `get_link` never needs to touch pmem.
fn cache_link(sbi: &Sbi, ni: &NovaInode) -> Result {
    let b = ni.data.lock().lookup(0).map_or(0, |(b, _)| b);
    let len = ni.size();
    if b == 0 || len == 0 || len >= BLOCK_SIZE {
        return Err(EIO);
    }
    let mut v = KVec::with_capacity(len as usize + 1, GFP_KERNEL)?;
    v.resize(len as usize + 1, 0u8, GFP_KERNEL)?;
    sbi.pm()
        .read(b * BLOCK_SIZE, v.get_mut(..len as usize).ok_or(EIO)?)?;
    let (p, _, _) = v.into_raw_parts();
    // SAFETY: `p` is a NUL-terminated kmalloc buffer; the inode owns it and
    // `evict` frees it.
    unsafe { (*ni.raw()).__bindgen_anon_5.i_link = p.cast() };
    Ok(())
}

/// Returns a referenced VFS inode for `ino`.
pub(crate) fn iget(sbi: &Sbi, ino: u64) -> Result<*mut bindings::inode> {
    // SAFETY: the super block is live.
    let i = unsafe { bindings::iget_locked(sbi.sb(), ino) };
    if i.is_null() {
        return Err(ENOMEM);
    }
    // SAFETY: `i` is a live inode of our super block.
    if !unsafe { shim::nova_shim_inode_is_new(i) } {
        return Ok(i);
    }
    // SAFETY: a new nova inode.
    let ni = unsafe { NovaInode::from_raw(i) };
    match fill(sbi, ni, ino) {
        Ok(()) => {
            // SAFETY: fully initialised; publish it.
            unsafe { bindings::unlock_new_inode(i) };
            Ok(i)
        }
        Err(e) => {
            // A refused inode is never deleted (eviction skips bad inodes);
            // a zero link count read before the refusal would still count
            // as a pending removal of the super block.
            if ni.nlink() == 0 {
                ni.set_nlink(1);
            }
            // SAFETY: marks the new inode bad and drops our reference.
            unsafe { bindings::iget_failed(i) };
            Err(e)
        }
    }
}

/// Builds a new inode in memory and its slot on pmem (not yet valid: the
/// caller's transaction commits it with the word returned). Returns the
/// VFS inode, the slot address and the slot's valid first word.
pub(crate) fn new_inode(
    sbi: &Sbi,
    dir: &NovaInode,
    mode: u32,
    rdev: u32,
) -> Result<(*mut bindings::inode, u64, u64)> {
    let ino = {
        let mut it = sbi.itable.lock();
        it.alloc(sbi.pm(), || sbi.alloc.alloc_one(sbi.cpu()))?
    };
    let fail = |e| {
        let _ = sbi.itable.lock().release(ino);
        e
    };
    // SAFETY: the super block is live.
    let i = unsafe { bindings::new_inode(sbi.sb()) };
    if i.is_null() {
        return Err(fail(ENOMEM));
    }
    // SAFETY: a fresh inode of ours.
    let ni = unsafe { NovaInode::from_raw(i) };
    // SAFETY: `i` is fresh and not yet hashed or visible.
    unsafe {
        (*i).i_ino = ino;
        bindings::inode_init_owner(
            ptr::addr_of_mut!(bindings::nop_mnt_idmap),
            i,
            dir.raw(),
            mode as u16,
        );
    }
    let mode = ni.mode();
    let nlink = if mode & bindings::S_IFMT == bindings::S_IFDIR {
        2
    } else {
        1
    };
    ni.set_nlink(nlink);
    let (sec, nsec) = ni.now();
    for k in 0..3 {
        ni.set_time(k, sec, nsec);
    }
    let page = match crate::log::new_inode_log_page(sbi, ino) {
        Ok(p) => p,
        Err(e) => {
            // SAFETY: drop the unused inode.
            unsafe { bindings::iput(i) };
            return Err(fail(e));
        }
    };
    let staged = (|| -> Result<(u64, u64)> {
        let slot = sbi.itable.lock().slot_addr(ino).ok_or(EINVAL)?;
        let mut pi = PmInode::from_bytes(&[0u8; 128]).ok_or(EINVAL)?;
        pi.flags.set(INODE_VALID);
        pi.mode.set(mode);
        // SAFETY: reading owner fields of our fresh inode.
        let (uid, gid) = unsafe { (shim::nova_shim_uid(i), shim::nova_shim_gid(i)) };
        pi.uid.set(uid);
        pi.gid.set(gid);
        pi.ino.set(ino);
        pi.log_head.set(page);
        pi.log_tail.set(page);
        pi.create_epoch.set(sbi.epoch());
        pi.rdev.set(rdev);
        pi.time_sec.set(sec as u64);
        pi.time_nsec.set(nsec);
        pi.nlink.set(nlink);
        pi.seal();
        let valid_word = u64::from_le_bytes(
            pi.as_bytes()
                .get(..8)
                .and_then(|b| b.try_into().ok())
                .ok_or(EINVAL)?,
        );
        // Write the slot with its first word (flags, mode) still zero; the
        // transaction's journaled word store makes it valid.
        let mut staged = pi;
        staged.flags.set(0);
        staged.mode.set(0);
        sbi.pm().write(slot, staged.as_bytes())?;
        sbi.pm().fence();
        Ok((slot, valid_word))
    })();
    let (slot, valid_word) = match staged {
        Ok(v) => v,
        Err(e) => {
            let _ = crate::log::free_log_page(sbi, page);
            // SAFETY: drop the unused inode.
            unsafe { bindings::iput(i) };
            return Err(fail(e));
        }
    };
    ni.set_log(LogPos {
        slot,
        head: page,
        tail: page,
        pages: 1,
        gc_at: gc_threshold(1),
        queued: false,
    });
    if mode & bindings::S_IFMT == bindings::S_IFDIR {
        ni.dir.lock().set_parent(dir.ino());
    }
    set_ops(ni, mode, rdev);
    Ok((i, slot, valid_word))
}

/// Encodes a link-count entry for `ni` with count `n` at time `t`.
pub(crate) fn link_entry(n: u32, t: (i64, u32)) -> Result<[u8; 64]> {
    let mut e = LinkChangeEntry::from_bytes(&[0u8; 64]).ok_or(EINVAL)?;
    e.hdr.etype = EntryType::LinkChange as u8;
    e.hdr.slots = 1;
    e.nlink.set(n);
    e.ctime_sec.set(t.0 as u64);
    e.ctime_nsec.set(t.1);
    let mut b = [0u8; 64];
    b.copy_from_slice(e.as_bytes());
    Ok(b)
}

/// The attributes `setattr` may change, saved to be put back when the
/// change cannot be committed (DRAM never disagrees with pmem).
struct SavedAttrs {
    mode: u32,
    uid: u32,
    gid: u32,
    times: [(i64, u32); 3],
    size: u64,
}

impl SavedAttrs {
    fn of(ni: &NovaInode) -> Self {
        // SAFETY: reading owner fields of a locked inode.
        let (uid, gid) = unsafe { (shim::nova_shim_uid(ni.raw()), shim::nova_shim_gid(ni.raw())) };
        Self {
            mode: ni.mode(),
            uid,
            gid,
            times: [ni.time(0), ni.time(1), ni.time(2)],
            size: ni.size(),
        }
    }

    fn restore(&self, ni: &NovaInode) {
        let i = ni.raw();
        // SAFETY: the caller holds the inode's lock, as `setattr` does.
        unsafe {
            (*i).i_mode = (self.mode & 0xffff) as u16;
            shim::nova_shim_set_owner(i, self.uid, self.gid);
        }
        for (k, t) in self.times.iter().enumerate() {
            ni.set_time(k as i32, t.0, t.1);
        }
        ni.set_size(self.size);
    }
}

/// `setattr`: validated by the VFS helpers, computed on the inode, logged;
/// put back if the log commit fails.
///
/// # Safety
///
/// `d` must be a nova dentry with an inode, locked by the VFS; `attr` valid.
pub(crate) unsafe fn setattr(d: *mut bindings::dentry, attr: *mut bindings::iattr) -> Result {
    // SAFETY: per the contract.
    let i = unsafe { (*d).d_inode };
    // SAFETY: per the contract.
    let ni = unsafe { NovaInode::from_raw(i) };
    let sbi = ni.sbi();
    // SAFETY: per the contract.
    kernel::error::to_result(unsafe {
        bindings::setattr_prepare(ptr::addr_of_mut!(bindings::nop_mnt_idmap), d, attr)
    })?;
    // SAFETY: per the contract.
    let a = unsafe { &*attr };
    let v = a.ia_valid;
    let sizing = v & bindings::ATTR_SIZE != 0;
    if sizing && ni.mode() & bindings::S_IFMT != bindings::S_IFREG {
        return Err(EINVAL);
    }
    // A size change replaces and drops blocks: no fault runs meanwhile.
    let ml = sizing.then(|| MappingLock::new(ni));
    let saved = SavedAttrs::of(ni);
    let new_size = if sizing { a.ia_size as u64 } else { saved.size };
    // Let the VFS compute the resulting attributes on the inode, then log
    // what it produced (so the log holds exactly the in-memory result).
    // SAFETY: per the contract.
    unsafe { bindings::setattr_copy(ptr::addr_of_mut!(bindings::nop_mnt_idmap), i, attr) };
    if new_size != saved.size {
        let now = ni.now();
        ni.set_time(1, now.0, now.1);
        ni.set_time(2, now.0, now.1);
    }
    let r = (|| -> Result {
        let mut e = SetAttrEntry::from_bytes(&[0u8; 128]).ok_or(EINVAL)?;
        e.hdr.etype = EntryType::SetAttr as u8;
        e.hdr.slots = 2;
        let mut mask = ATTR_MODE | ATTR_UID | ATTR_GID | ATTR_ATIME | ATTR_MTIME | ATTR_CTIME;
        if sizing {
            mask |= ATTR_SIZE;
            e.size.set(new_size);
        }
        e.mask.set(mask);
        e.mode.set(ni.mode());
        // SAFETY: reading owner fields of a locked inode.
        unsafe {
            e.uid.set(shim::nova_shim_uid(i));
            e.gid.set(shim::nova_shim_gid(i));
        }
        for k in 0..3 {
            let (s, n) = ni.time(k as i32);
            if let (Some(ts), Some(tn)) = (e.time_sec.get_mut(k), e.time_nsec.get_mut(k)) {
                ts.set(s as u64);
                tn.set(n);
            }
        }
        let mut buf = [0u8; 128];
        buf.copy_from_slice(e.as_bytes());
        match &ml {
            Some(ml) => crate::cow::resize(ni, ml, saved.size, new_size, &mut buf).map(|_| ()),
            None => {
                let mut tx = Tx::begin(sbi);
                tx.append(ni, &mut buf)?;
                tx.commit()
            }
        }
    })();
    if r.is_err() {
        saved.restore(ni);
    }
    drop(ml);
    r
}

/// Logs an inode's current modification and change times.
pub(crate) fn log_times(ni: &NovaInode) -> Result {
    let mut buf = times_entry(0, 0, ni.time(1), ni.time(2))?;
    let mut tx = Tx::begin(ni.sbi());
    tx.append(ni, &mut buf)?;
    tx.commit()
}

/// Encodes a `SetAttr` entry of the modification and change times (and
/// of whatever `extra` adds to the mask, with `size`).
pub(crate) fn times_entry(
    extra: u32,
    size: u64,
    mtime: (i64, u32),
    ctime: (i64, u32),
) -> Result<[u8; 128]> {
    let mut e = SetAttrEntry::from_bytes(&[0u8; 128]).ok_or(EINVAL)?;
    e.hdr.etype = EntryType::SetAttr as u8;
    e.hdr.slots = 2;
    e.mask.set(extra | ATTR_MTIME | ATTR_CTIME);
    e.size.set(size);
    for (k, (sec, nsec)) in [(1usize, mtime), (2, ctime)] {
        if let (Some(ts), Some(tn)) = (e.time_sec.get_mut(k), e.time_nsec.get_mut(k)) {
            ts.set(sec as u64);
            tn.set(nsec);
        }
    }
    let mut buf = [0u8; 128];
    buf.copy_from_slice(e.as_bytes());
    Ok(buf)
}

/// Eviction: an inode with no links left is deleted on pmem (slot made
/// invalid, log pages and data freed, number returned).
pub(crate) fn evict(ni: &NovaInode) {
    let i = ni.raw();
    // SAFETY: eviction owns the inode; its mapping holds only DAX entries,
    // and no page of it may stay pinned once its blocks can be freed.
    unsafe {
        if ni.mode() & bindings::S_IFMT == bindings::S_IFREG {
            shim::nova_shim_break_layout_final(i);
        }
        bindings::truncate_inode_pages_final(ptr::addr_of_mut!((*i).i_data));
        bindings::clear_inode(i);
    }
    if ni.mode() & bindings::S_IFMT == bindings::S_IFLNK {
        // SAFETY: `i_link` is null or the buffer `cache_link` allocated.
        unsafe {
            let p = (*i).__bindgen_anon_5.i_link;
            if !p.is_null() {
                bindings::kfree(p.cast());
                (*i).__bindgen_anon_5.i_link = ptr::null_mut();
            }
        }
    }
    let sbi = ni.sbi();
    // SAFETY: reading the bad-inode state of an inode being evicted.
    let bad = unsafe { bindings::is_bad_inode(i) };
    if ni.nlink() != 0 || bad || sbi.read_only_forever() {
        return;
    }
    if sbi.read_only() {
        // Not one byte changes on a read-only mount: the inode stays on
        // pmem with no links, and the next mount's recovery removes it.
        sbi.defer_to_recovery();
        return;
    }
    let pos = ni.log_pos();
    let r = (|| -> Result {
        let mut extents = KVVec::new();
        ni.data
            .lock()
            .for_each(|b, l, e| extents.push((b, l, e), GFP_KERNEL).map_err(|_| ENOMEM))?;
        delete(sbi, ni.ino(), pos, &extents)
    })();
    if let Err(e) = r {
        // Nothing was committed: the inode stays on pmem with no links,
        // and the next mount's recovery removes it.
        pr_err!(
            "{}: deleting inode {} failed ({:?}); the next mount removes it\n",
            sbi.name(),
            ni.ino(),
            e
        );
        sbi.defer_to_recovery();
    }
}

/// Deletes an inode with no links left. Everything that can fail comes
/// before the commit point (the slot store); after it, only infallible
/// releases.
fn delete(sbi: &Sbi, ino: u64, pos: LogPos, data: &[(u64, u64, u64)]) -> Result {
    let (_, pi) = read_slot(sbi, ino)?;
    let born = pi.create_epoch.get();
    let pages = log_pages(sbi, pos.head, pos.tail)?;
    {
        // Lock order: snapshots, then the log.
        let mut snaps = sbi.snaps.lock();
        let _g = sbi.log_lock.lock();
        let died = sbi.epoch();
        if let Some(s) = snaps.holder(born, died) {
            // A snapshot still needs the inode: it stays whole (slot, log,
            // data), marked deleted; the snapshot's list records it.
            let mut blocks = pages.len() as u64;
            for &(_, l, _) in data {
                blocks += l;
            }
            let k = Kept {
                ino,
                b: 0,
                len: blocks,
                born,
                died,
            };
            snaps.keep(s, k)?;
            // Commit point: the live file system no longer has it.
            return sbi.pm().store_u64(pos.slot + DELETE_EPOCH_OFFSET, died);
        }
        // Commit point: the slot stops being valid.
        sbi.pm().store_u64(pos.slot, 0)?;
    }
    release_inode_blocks(sbi, &pages, data.iter().map(|&(b, l, _)| (b, l)));
    sbi.itable.lock().release(ino)
}

/// Byte offset of `delete_epoch` in an inode slot.
const DELETE_EPOCH_OFFSET: u64 = core::mem::offset_of!(PmInode, delete_epoch) as u64;

/// The blocks of the log pages of `[head, tail)`.
fn log_pages(sbi: &Sbi, head: u64, tail: u64) -> Result<KVVec<u64>> {
    let mut pages = KVVec::new();
    walk_pages(sbi.pm(), head, tail, |b| {
        pages.push(b, GFP_KERNEL).map_err(|_| ENOMEM)
    })?;
    Ok(pages)
}

/// Frees the log pages and data extents of a deleted inode. Cannot fail
/// (it follows the commit point): a range the allocator refuses (a double
/// free, reported by it) is left alone.
fn release_inode_blocks(sbi: &Sbi, pages: &[u64], data: impl Iterator<Item = (u64, u64)>) {
    for &b in pages.iter() {
        let _ = crate::log::free_log_page(sbi, b * BLOCK_SIZE);
    }
    for (b, l) in data {
        let _ = sbi.alloc.free(b, l);
    }
}

/// Frees an inode that only snapshots kept, once none needs it: its slot
/// stops being valid, then its log and data are freed and its number
/// released. (Its replaced blocks were on lists of their own and are
/// dead too: a snapshot needing one would need the inode.)
pub(crate) fn free_kept_inode(sbi: &Sbi, ino: u64) -> Result {
    let (slot, pi) = read_slot(sbi, ino)?;
    if !pi.is_valid(ino) || pi.delete_epoch.get() == 0 {
        pr_err!(
            "{}: kept inode {} is not a deleted inode\n",
            sbi.name(),
            ino
        );
        return Err(EINVAL);
    }
    let (head, tail) = (pi.log_head.get(), pi.log_tail.get());
    let s = scan(sbi, ino, &Snapshots::new(), 0, head, tail, |_| Ok(()))?;
    let mut data = KVVec::new();
    s.data
        .for_each(|b, l, _| data.push((b, l), GFP_KERNEL).map_err(|_| ENOMEM))?;
    let pages = log_pages(sbi, head, tail)?;
    {
        let _g = sbi.log_lock.lock();
        sbi.pm().store_u64(slot, 0)?;
    }
    release_inode_blocks(sbi, &pages, data.iter().copied());
    sbi.itable.lock().release(ino)
}

/// What a scan of one inode's log found.
pub(crate) struct Scan {
    /// The link count after the last entry.
    pub(crate) nlink: u32,
    /// The live data extents.
    pub(crate) data: FileIndex,
    /// Replaced data a live snapshot still needs.
    pub(crate) kept: KVec<Kept>,
}

/// Reads one inode's log for recovery and checks: its link count, its
/// data blocks, the replaced blocks that one of `snaps` still needs (the
/// epoch rule, with the epochs of the entries that wrote and replaced
/// them), and (through `page`) every log page.
pub(crate) fn scan(
    sbi: &Sbi,
    ino: u64,
    snaps: &Snapshots,
    pi_nlink: u32,
    head: u64,
    tail: u64,
    page: impl FnMut(u64) -> Result,
) -> Result<Scan> {
    check_log_bounds(sbi, ino, head, tail).map_err(|_| EINVAL)?;
    walk_pages(sbi.pm(), head, tail, page)?;
    let mut w = LogWalker::new(sbi.pm(), head, tail).owned_by(ino);
    let mut buf = [0u8; MAX_ENTRY];
    let mut s = Scan {
        nlink: pi_nlink,
        data: FileIndex::new(),
        kept: KVec::new(),
    };
    let mut freed = KVec::new();
    loop {
        let f = match w.next_entry(&mut buf) {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                pr_err!("{}: inode {}: corrupt log: {:?}\n", sbi.name(), ino, e);
                return Err(EINVAL);
            }
        };
        if f.epoch > sbi.epoch() {
            pr_err!(
                "{}: inode {}: entry at {:#x} has epoch {} past the current {}\n",
                sbi.name(),
                ino,
                f.addr,
                f.epoch,
                sbi.epoch()
            );
            return Err(EINVAL);
        }
        freed.clear();
        match f.etype {
            EntryType::FileWrite => {
                let e = FileWriteEntry::from_bytes(&buf).ok_or(EINVAL)?;
                let (pg, b, n) = check_write(&e, sbi.blocks).inspect_err(|_| {
                    pr_err!(
                        "{}: inode {}: bad FileWrite entry at {:#x}\n",
                        sbi.name(),
                        ino,
                        f.addr
                    )
                })?;
                s.data.insert(pg, b, n, f.epoch, &mut freed)?;
            }
            EntryType::SetAttr => {
                let e = SetAttrEntry::from_bytes(&buf).ok_or(EINVAL)?;
                if e.mask.get() & ATTR_SIZE != 0 && e.size.get() > MAX_FILE_SIZE {
                    pr_err!(
                        "{}: inode {}: size {} at {:#x} too large\n",
                        sbi.name(),
                        ino,
                        e.size.get(),
                        f.addr
                    );
                    return Err(EINVAL);
                }
                if e.mask.get() & ATTR_SIZE != 0 {
                    s.data
                        .truncate(e.size.get().div_ceil(BLOCK_SIZE), &mut freed)?;
                }
            }
            EntryType::LinkChange => {
                let e = LinkChangeEntry::from_bytes(&buf).ok_or(EINVAL)?;
                s.nlink = e.nlink.get();
            }
            _ => {}
        }
        for &(b, len, born) in freed.iter() {
            if snaps.holder(born, f.epoch).is_some() {
                let k = Kept {
                    ino: 0,
                    b,
                    len,
                    born,
                    died: f.epoch,
                };
                s.kept.push(k, GFP_KERNEL)?;
            }
        }
    }
    Ok(s)
}

/// Recovery of an inode the live file system deleted: if a snapshot still
/// needs it, marks all its blocks used and lists it with that snapshot;
/// otherwise frees it (its blocks stay unmarked, hence free).
fn mark_kept_inode(sbi: &Sbi, snaps: &mut Snapshots, li: &LiveInode, used: &mut Bitmap) -> Result {
    let (born, died) = (li.create_epoch, li.delete_epoch);
    if snaps.holder(born, died).is_none() {
        if sbi.read_only() {
            // Freed by the next writable mount; until then its blocks stay.
            sbi.defer_to_recovery();
            return mark_all_used(sbi, li, used);
        }
        sbi.pm().store_u64(li.slot, 0)?;
        sbi.itable.lock().release(li.ino)?;
        return Ok(());
    }
    let s = scan(sbi, li.ino, snaps, li.nlink, li.head, li.tail, |_| Ok(()))?;
    let mut blocks = 0u64;
    walk_pages(sbi.pm(), li.head, li.tail, |b| {
        blocks += 1;
        used.set(b)
    })?;
    s.data.for_each(|b, l, _| {
        blocks += l;
        (b..b + l).try_for_each(|x| used.set(x))
    })?;
    for k in s.kept.iter() {
        (k.b..k.b + k.len).try_for_each(|x| used.set(x))?;
        snaps.keep_recovered(*k)?;
    }
    let k = Kept {
        ino: li.ino,
        b: 0,
        len: blocks,
        born,
        died,
    };
    snaps.keep_recovered(k)
}

/// Marks every log page and data block of `li` used.
fn mark_all_used(sbi: &Sbi, li: &LiveInode, used: &mut Bitmap) -> Result {
    let s = scan(
        sbi,
        li.ino,
        &Snapshots::new(),
        li.nlink,
        li.head,
        li.tail,
        |_| Ok(()),
    )?;
    walk_pages(sbi.pm(), li.head, li.tail, |b| used.set(b))?;
    s.data
        .for_each(|b, l, _| (b..b + l).try_for_each(|x| used.set(x)))
}

/// Whether `li` is a directory whose log still names entries (replayed as
/// `iget` would; a replay failure counts as entries, to stay on the safe
/// side).
fn still_names(sbi: &Sbi, li: &LiveInode) -> Result<bool> {
    let (_, pi) = read_slot(sbi, li.ino)?;
    if pi.mode.get() & bindings::S_IFMT != bindings::S_IFDIR {
        return Ok(false);
    }
    let mut dir = crate::dir::DirIndex::new();
    let mut w = LogWalker::new(sbi.pm(), li.head, li.tail).owned_by(li.ino);
    let mut buf = [0u8; MAX_ENTRY];
    while let Some(f) = w.next_entry(&mut buf).map_err(|_| EINVAL)? {
        if f.etype != EntryType::Dentry {
            continue;
        }
        let ok = buf
            .get(..f.len)
            .and_then(crate::dir::decode_dentry)
            .is_some_and(|d| dir.apply(&d).is_ok());
        if !ok {
            return Ok(true);
        }
    }
    Ok(!dir.is_empty())
}

/// Recovery: marks the log pages and data block of one inode used, or,
/// for an inode left with no links (unlinked while open when the system
/// went down), deletes it. Returns whether the inode is still live.
pub(crate) fn mark_used(
    sbi: &Sbi,
    snaps: &mut Snapshots,
    li: &LiveInode,
    used: &mut Bitmap,
) -> Result<bool> {
    let ino = li.ino;
    if li.delete_epoch != 0 {
        return mark_kept_inode(sbi, snaps, li, used).map(|()| false);
    }
    // First pass without marking: an orphan's blocks stay free.
    let mut s = scan(sbi, li.ino, snaps, li.nlink, li.head, li.tail, |_| Ok(()))?;
    let mut orphan = s.nlink == 0 && ino >= FIRST_FREE_INO;
    if orphan && still_names(sbi, li)? {
        // Only an empty directory can lose its last link (rmdir): this
        // link count is wrong, and deleting the directory would lose its
        // entries. It is kept; `iget` refuses it.
        pr_err!(
            "{}: directory {} has no links but still has entries; kept, not deleted\n",
            sbi.name(),
            ino
        );
        orphan = false;
    }
    if orphan && sbi.read_only() {
        // A read-only mount deletes nothing: the next writable mount does.
        sbi.defer_to_recovery();
        orphan = false;
    }
    if orphan {
        // Deleted now; if a snapshot still needs it, it is kept whole as
        // eviction would have.
        let died = sbi.epoch();
        if snaps.holder(li.create_epoch, died).is_some() {
            sbi.pm().store_u64(li.slot + DELETE_EPOCH_OFFSET, died)?;
            let kept = LiveInode {
                delete_epoch: died,
                ..*li
            };
            return mark_kept_inode(sbi, snaps, &kept, used).map(|()| false);
        }
        // Otherwise no snapshot needs its data either.
        s.kept.clear();
    } else {
        walk_pages(sbi.pm(), li.head, li.tail, |b| used.set(b))?;
        s.data.for_each(|b, l, _| {
            for x in b..b + l {
                used.set(x)
                    .inspect_err(|_| pr_err!("inode {}: data block {} used twice\n", ino, x))?;
            }
            Ok(())
        })?;
    }
    for k in s.kept.iter() {
        for x in k.b..k.b + k.len {
            used.set(x)
                .inspect_err(|_| pr_err!("inode {}: snapshot block {} used twice\n", ino, x))?;
        }
        snaps.keep_recovered(*k)?;
    }
    if orphan {
        sbi.pm().store_u64(li.slot, 0)?;
        sbi.itable.lock().release(ino)?;
        pr_info!("{}: removed orphan inode {}\n", sbi.name(), ino);
        return Ok(false);
    }
    Ok(true)
}
