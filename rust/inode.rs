// SPDX-License-Identifier: GPL-2.0
//! The in-memory inode: the VFS inode plus nova's DRAM state (where its
//! log is, its directory index or extent index), and its accessors.
//! Reading one from pmem is `iget.rs`; attribute changes `attr.rs`;
//! deletion `evict.rs`.

use crate::dir::DirIndex;
use crate::extent::FileIndex;
use crate::glue::tables;
use crate::logmix::MixedPages;
use crate::sbi::Sbi;
use crate::shim;
use crate::xmap::XattrMap;
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicI64, AtomicU32};
use kernel::bindings;
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::{Mutex, MutexGuard};
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
    /// The log page an append last found to be this inode's (its page
    /// tail checked: `log::check_own_page`); 0 for none. Appends to the
    /// same page skip the check.
    pub(crate) checked_page: u64,
    /// A transaction or a log GC owns the log (`NovaInode::claim_log`).
    pub(crate) claimed: bool,
    /// Threads waiting to claim the log.
    pub(crate) waiting: u32,
    /// While log GC keeps failing: appends that need a new page fail
    /// with `ENOMEM` once the log has this many pages (0: no limit).
    pub(crate) limit: u64,
    /// The pages holding an entry other than a plain write.
    pub(crate) mixed: MixedPages,
}

/// An inode's log, claimed: nothing else appends to it or collects it
/// until this is dropped.
pub(crate) struct LogClaim<'a>(&'a NovaInode, ClaimedPos);

/// The position of a claimed log, read when it was claimed: only the
/// claim's holder moves it, so it holds until the claim is given back
/// (a transaction reads it without taking the log's mutex again). One
/// exception: a failed log GC sets `limit` just after giving its claim
/// back, so a transaction that claimed in between may still append past
/// it; the limit is only a brake on a log whose GC keeps failing.
#[derive(Clone, Copy)]
pub(crate) struct ClaimedPos {
    pub(crate) slot: u64,
    pub(crate) tail: u64,
    pub(crate) pages: u64,
    pub(crate) limit: u64,
    pub(crate) checked_page: u64,
}

impl ClaimedPos {
    fn of(l: &LogPos) -> Self {
        Self {
            slot: l.slot,
            tail: l.tail,
            pages: l.pages,
            limit: l.limit,
            checked_page: l.checked_page,
        }
    }
}

impl LogClaim<'_> {
    pub(crate) fn inode(&self) -> &NovaInode {
        self.0
    }

    /// The log's position when it was claimed (see [`ClaimedPos`]).
    pub(crate) fn pos(&self) -> &ClaimedPos {
        &self.1
    }

    /// Gives the claim back after a commit that moved the log's tail to
    /// `tail`, linked `added` new pages and found `checked` to be the
    /// inode's log page: one round trip of the log's mutex for all of it.
    /// Returns whether the log just became due for GC (it is then marked
    /// queued).
    pub(crate) fn release_committed(self, tail: u64, added: u64, checked: u64) -> bool {
        let due = self.give_back(|l| {
            l.tail = tail;
            l.pages = l.pages.saturating_add(added);
            l.checked_page = checked;
            let due = l.pages >= l.gc_at && !l.queued;
            if due {
                l.queued = true;
            }
            due
        });
        // Given back already: no second release on drop.
        core::mem::forget(self);
        due
    }

    /// Gives the claim back, with `update` applied to the log's position
    /// in the same critical section; returns what `update` returns.
    fn give_back<R>(&self, update: impl FnOnce(&mut LogPos) -> R) -> R {
        let (r, waiting) = {
            let mut l = self.0.log.lock();
            let r = update(&mut l);
            l.claimed = false;
            (r, l.waiting)
        };
        if waiting != 0 {
            self.0.sbi().claim_wait.notify_all();
        }
        r
    }
}

impl Drop for LogClaim<'_> {
    fn drop(&mut self) {
        self.give_back(|_| ());
    }
}

/// An inode's three times; the values are the slots of `SetAttr` entries'
/// time arrays (and the shim's `which`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Time {
    Access = 0,
    Modify = 1,
    Change = 2,
}

impl Time {
    /// All three, in slot order.
    pub(crate) const ALL: [Time; 3] = [Time::Access, Time::Modify, Time::Change];

    /// The slot in a `SetAttr` entry's time arrays.
    pub(crate) fn slot(self) -> usize {
        self as usize
    }
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
    /// Extended attributes (`xattr.rs`).
    #[pin]
    pub(crate) xattrs: Mutex<XattrMap>,
    /// The access time changed in memory since it was last logged: it is
    /// logged when the inode leaves memory (`evict`), not on every read.
    atime_dirty: AtomicBool,
    /// Modification times set now are not logged (a clone's VFS checks
    /// set them; the clone's own commit logs its times, `shim.c`).
    pub(crate) defer_times: AtomicBool,
    /// The creation time (the slot's time; `statx` birth time).
    btime_sec: AtomicI64,
    btime_nsec: AtomicU32,
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
                xattrs <- new_mutex!(XattrMap::new()),
                atime_dirty: AtomicBool::new(false),
                defer_times: AtomicBool::new(false),
                btime_sec: AtomicI64::new(0),
                btime_nsec: AtomicU32::new(0),
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

    /// `(uid, gid)` (the inode lock held, or a new inode).
    pub(crate) fn owner(&self) -> (u32, u32) {
        // SAFETY: reading owner fields of a live inode.
        unsafe {
            (
                shim::nova_shim_uid(self.raw()),
                shim::nova_shim_gid(self.raw()),
            )
        }
    }

    /// Sets the owner (the inode lock held, or a new inode).
    pub(crate) fn set_owner(&self, uid: u32, gid: u32) {
        // SAFETY: a live inode, locked by the caller or not yet visible.
        unsafe { shim::nova_shim_set_owner(self.raw(), uid, gid) };
    }

    /// Sets the mode bits (the inode lock held, or a new inode).
    pub(crate) fn set_mode(&self, mode: u32) {
        // SAFETY: as above.
        unsafe { (*self.raw()).i_mode = (mode & 0xffff) as u16 };
    }

    /// Sets the generation (a new or I_NEW inode).
    pub(crate) fn set_generation(&self, g: u32) {
        // SAFETY: a live inode that only the caller touches.
        unsafe { (*self.raw()).i_generation = g };
    }

    /// The VFS link count plus one (a new name; the inode lock held).
    pub(crate) fn inc_nlink(&self) {
        // SAFETY: a live inode, locked by the caller.
        unsafe { bindings::inc_nlink(self.raw()) };
    }

    /// The VFS link count minus one (the inode lock held).
    pub(crate) fn drop_nlink(&self) {
        // SAFETY: a live inode, locked by the caller.
        unsafe { bindings::drop_nlink(self.raw()) };
    }

    /// The VFS link count to zero (a removed directory; the inode lock
    /// held).
    pub(crate) fn clear_nlink(&self) {
        // SAFETY: a live inode, locked by the caller.
        unsafe { bindings::clear_nlink(self.raw()) };
    }

    /// Sets up the operation tables and type-specific state for `mode`
    /// (a new or I_NEW inode, not yet visible);
    /// `EINVAL` if no tables are registered (never, once the module is
    /// loaded: the mount itself refuses to start without them).
    pub(crate) fn set_ops(&self, mode: u32, rdev: u32) -> Result {
        let i = self.raw();
        let t = tables().ok_or(EINVAL)?;
        // SAFETY: the inode is new (I_NEW) or being created and not yet
        // visible; setting its operation tables is the VFS protocol.
        unsafe {
            match mode & bindings::S_IFMT {
                bindings::S_IFDIR => {
                    (*i).i_op = t.dir_iops;
                    (*i).__bindgen_anon_3.i_fop = t.dir_fops;
                }
                bindings::S_IFREG => {
                    (*i).i_op = t.file_iops;
                    (*i).__bindgen_anon_3.i_fop = t.file_fops;
                    shim::nova_shim_set_dax(i);
                }
                bindings::S_IFLNK => {
                    (*i).i_op = t.symlink_iops;
                }
                _ => {
                    (*i).i_op = t.file_iops;
                    bindings::init_special_inode(i, mode as u16, rdev);
                }
            }
        }
        Ok(())
    }

    /// `inode_newsize_ok`: whether the file may grow to `size` bytes
    /// (limits, `RLIMIT_FSIZE`). The inode lock held.
    pub(crate) fn newsize_ok(&self, size: u64) -> Result {
        let size = i64::try_from(size).map_err(|_| EFBIG)?;
        // SAFETY: a live inode, locked by the caller.
        kernel::error::to_result(unsafe { bindings::inode_newsize_ok(self.raw(), size) })
    }

    /// Whether the VFS marked the inode bad (a failed read or creation).
    pub(crate) fn is_bad(&self) -> bool {
        // SAFETY: a live inode.
        unsafe { bindings::is_bad_inode(self.raw()) }
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

    pub(crate) fn is_reg(&self) -> bool {
        self.mode() & bindings::S_IFMT == bindings::S_IFREG
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

    /// A buffer for a symlink's target of `len` bytes (zeroed, with the
    /// terminating NUL), to be filled and given to `set_link`.
    pub(crate) fn link_buffer(len: usize) -> Result<KVec<u8>> {
        let n = len.checked_add(1).ok_or(ENAMETOOLONG)?;
        let mut v = KVec::with_capacity(n, GFP_KERNEL)?;
        v.resize(n, 0u8, GFP_KERNEL)?;
        Ok(v)
    }

    /// Gives a symlink its cached target (`i_link`, so `get_link` never
    /// touches pmem); `v` is a buffer from `link_buffer`, NUL-terminated.
    /// The inode owns it from now on; `drop_link` frees it.
    pub(crate) fn set_link(&self, v: KVec<u8>) {
        let (p, _, _) = v.into_raw_parts();
        // SAFETY: the inode is new (not yet visible) or being filled
        // (I_NEW); `p` is a kmalloc buffer nothing else owns.
        unsafe { (*self.raw()).__bindgen_anon_5.i_link = p.cast() };
    }

    /// Sets the creation time (from the slot, or at creation).
    pub(crate) fn set_btime(&self, t: (i64, u32)) {
        self.btime_sec
            .store(t.0, core::sync::atomic::Ordering::Relaxed);
        self.btime_nsec
            .store(t.1, core::sync::atomic::Ordering::Relaxed);
    }

    /// The creation time.
    pub(crate) fn btime(&self) -> (i64, u32) {
        (
            self.btime_sec.load(core::sync::atomic::Ordering::Relaxed),
            self.btime_nsec.load(core::sync::atomic::Ordering::Relaxed),
        )
    }

    /// The access time changed in memory (a read, `update_time`).
    pub(crate) fn mark_atime_dirty(&self) {
        self.atime_dirty
            .store(true, core::sync::atomic::Ordering::Relaxed);
    }

    /// Whether the access time changed since the last call.
    pub(crate) fn take_atime_dirty(&self) -> bool {
        self.atime_dirty
            .swap(false, core::sync::atomic::Ordering::Relaxed)
    }

    /// Sets the inode flags the VFS enforces (immutable, append-only,
    /// no atime) from `FS_*_FL` flags.
    pub(crate) fn set_inode_flags(&self, fs_flags: u32) {
        // SAFETY: a live inode; `inode_set_flags` updates `i_flags`
        // atomically.
        unsafe { shim::nova_shim_set_inode_flags(self.raw(), fs_flags) };
    }

    /// The VFS part of eviction: no page of the file stays mapped or
    /// pinned (its blocks may be freed next), the page cache entries go,
    /// and a symlink's cached target is freed. Called once, by `evict`.
    pub(crate) fn clear_for_eviction(&self) {
        let i = self.raw();
        let mode = self.mode() & bindings::S_IFMT;
        // SAFETY: eviction owns the inode; its mapping holds only DAX
        // entries.
        unsafe {
            shim::nova_shim_evict_pages(i);
            bindings::clear_inode(i);
        }
        if mode == bindings::S_IFLNK {
            self.drop_link();
        }
    }

    /// Frees the cached symlink target (eviction).
    fn drop_link(&self) {
        let i = self.raw();
        // SAFETY: eviction owns the inode; `i_link` is null or the buffer
        // `set_link` gave it.
        unsafe {
            let p = (*i).__bindgen_anon_5.i_link;
            if !p.is_null() {
                bindings::kfree(p.cast());
                (*i).__bindgen_anon_5.i_link = ptr::null_mut();
            }
        }
    }

    pub(crate) fn set_size(&self, s: u64) {
        // SAFETY: the caller holds the inode's lock.
        unsafe { shim::nova_shim_i_size_write(self.raw(), s as i64) };
    }

    pub(crate) fn set_time(&self, which: Time, sec: i64, nsec: u32) {
        // SAFETY: a live inode; the VFS serialises attribute changes.
        unsafe { shim::nova_shim_set_time(self.raw(), which as i32, sec, nsec) };
    }

    pub(crate) fn time(&self, which: Time) -> (i64, u32) {
        let (mut s, mut n) = (0i64, 0u32);
        // SAFETY: a live inode; out-pointers are locals.
        unsafe { shim::nova_shim_get_time(self.raw(), which as i32, &mut s, &mut n) };
        (s, n)
    }

    /// The current time, truncated as the super block wants.
    pub(crate) fn now(&self) -> (i64, u32) {
        // SAFETY: a live inode.
        let t = unsafe { bindings::current_time(self.raw()) };
        (t.tv_sec, t.tv_nsec as u32)
    }

    pub(crate) fn log_pos(&self) -> LogPos {
        *self.log.lock()
    }

    /// What the log GC check after each write needs of the log's
    /// position, without copying all of it: `(slot, pages, gc_at, limit)`.
    pub(crate) fn log_gc_state(&self) -> (u64, u64, u64, u64) {
        let l = self.log.lock();
        (l.slot, l.pages, l.gc_at, l.limit)
    }

    /// After a log GC: the new log, and the next threshold: when it has
    /// doubled, and not before it has `at_least` pages (a GC sooner would
    /// find too few entries gone to copy the log, `gc.rs`).
    pub(crate) fn log_collected(&self, head: u64, tail: u64, pages: u64, at_least: u64) {
        let mut l = self.log.lock();
        l.head = head;
        l.tail = tail;
        l.pages = pages;
        l.gc_at = gc_threshold(pages).max(at_least);
        l.queued = false;
        l.checked_page = 0;
        l.limit = 0;
    }

    /// An append of an entry other than a plain write to log page `page`
    /// (`logmix.rs`).
    pub(crate) fn log_page_mixed(&self, page: u64) {
        self.log.lock().mixed.add(page);
    }

    /// After a log GC: the pages of the new log holding an entry other
    /// than a plain write.
    pub(crate) fn set_log_mixed(&self, m: MixedPages) {
        self.log.lock().mixed = m;
    }

    /// After a failed log GC: it is retried once the log has grown by
    /// [`GC_RETRY_PAGES`] (at once when the log is at its limit), and
    /// until one succeeds the log may not grow past [`gc_limit`] of its
    /// size at the first failure. Returns whether this failure is the
    /// first in a row.
    pub(crate) fn log_gc_failed(&self) -> bool {
        let mut l = self.log.lock();
        let first = l.limit == 0;
        if first {
            l.limit = gc_limit(l.pages);
        }
        l.gc_at = l.pages.saturating_add(GC_RETRY_PAGES).min(l.limit);
        l.queued = false;
        first
    }

    pub(crate) fn set_log(&self, p: LogPos) {
        let mut l = self.log.lock();
        let (claimed, waiting) = (l.claimed, l.waiting);
        *l = LogPos {
            claimed,
            waiting,
            ..p
        };
    }

    /// Claims the inode's log for a transaction or a log GC, waiting while
    /// another one has it. Claims are exclusive, so the log's tail moves
    /// only under a claim, and they are not a lock lockdep sees: whoever
    /// claims several logs claims them in inode-number order
    /// (`log::Tx::begin`), and nobody waits for a claim while holding
    /// anything a claim holder waits for (see the lock order in
    /// `Documentation/design.md`).
    pub(crate) fn claim_log(&self) -> LogClaim<'_> {
        let mut l = self.log.lock();
        self.wait_unclaimed(&mut l);
        l.claimed = true;
        LogClaim(self, ClaimedPos::of(&l))
    }

    /// [`NovaInode::claim_log`], but `None` (nothing claimed) when `ok`
    /// finds the log's position, once free to claim, unfit.
    pub(crate) fn claim_log_if(&self, ok: impl FnOnce(&LogPos) -> bool) -> Option<LogClaim<'_>> {
        let mut l = self.log.lock();
        self.wait_unclaimed(&mut l);
        if !ok(&l) {
            return None;
        }
        l.claimed = true;
        Some(LogClaim(self, ClaimedPos::of(&l)))
    }

    /// Waits, with the log's mutex held (`l`), until no one claims it.
    fn wait_unclaimed(&self, l: &mut MutexGuard<'_, LogPos>) {
        while l.claimed {
            l.waiting = l.waiting.saturating_add(1);
            self.sbi().claim_wait.wait(l);
            l.waiting = l.waiting.saturating_sub(1);
        }
    }
}

/// A log is collected once it has this many pages (and after each
/// collection, once it has doubled).
pub(crate) const GC_MIN_PAGES: u64 = 16;

/// The log size at which a log of `pages` pages is next collected.
pub(crate) fn gc_threshold(pages: u64) -> u64 {
    pages.saturating_mul(2).max(GC_MIN_PAGES)
}

/// After a failed log GC, the next attempt comes after this many more
/// pages (not after the log has doubled: the growth stays linear).
pub(crate) const GC_RETRY_PAGES: u64 = 16;

/// The most pages a log of `pages` pages whose GC just failed may grow
/// to before a GC succeeds: twice its size, at least 64 pages more.
pub(crate) fn gc_limit(pages: u64) -> u64 {
    pages.saturating_add(pages.max(64))
}

fn dtype_of(mode: u32) -> u8 {
    ((mode & bindings::S_IFMT) >> 12) as u8
}

/// The `DT_*` type for a mode.
pub(crate) fn dtype(mode: u32) -> u8 {
    dtype_of(mode)
}
