// SPDX-License-Identifier: GPL-2.0
//! The state of one mounted nova file system (`sb->s_fs_info`): the
//! device, the allocator, the inode table, the locks and counters, the
//! mount options, and the superblock copies. Passive state with plain
//! accessors; mounting and unmounting are in `mount.rs`.

use crate::balloc::Allocator;
use crate::dax::DaxDev;
use crate::format::layout::*;
use crate::format::le::Pod;
use crate::gate::FaultGate;
use crate::itable::ITable;
use crate::kthread::Cleaner;
use crate::owners::Owners;
use crate::pm::Pm;
use crate::shim;
use crate::snaplist::Snapshots;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use kernel::bindings;
use kernel::new_condvar;
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::str::CString;
use kernel::sync::{CondVar, Mutex};

/// The file system's magic number in statfs and `s_magic` ("NOVA").
pub(crate) const NOVA_MAGIC: u64 = 0x4e4f_5641;

/// What `Sbi::unmap_all` does besides dropping page tables (the
/// `NOVA_UNMAP_*` of `shim.c`).
#[derive(Clone, Copy)]
pub(crate) enum Unmap {
    /// Nothing (shutdown).
    Shutdown = 0,
    /// Write back, and wait for pinned pages (fault gate open).
    Prepare = 1,
    /// Write back, and `EBUSY` if a page is pinned (fault gate closed).
    Gated = 2,
}

/// Options of one mount.
#[derive(Clone, Copy, Default)]
pub(crate) struct MountOpts {
    /// `init`: format the device.
    pub(crate) init: bool,
    /// `snapshot=<epoch>`: mount that snapshot read-only.
    pub(crate) snapshot: Option<u64>,
    /// `data=inplace`: overwrites of blocks no snapshot holds go in place
    /// (`inplace.rs`); `data=cow` (the default): every write copies.
    pub(crate) inplace: bool,
    /// `noacl`: no POSIX ACLs (`SB_POSIXACL` off: the VFS applies the
    /// umask and checks the mode bits only); `acl`, the default, as ext4.
    pub(crate) noacl: bool,
    /// `snapdir=visible`: the root lists `.snapshots` (`snapdir.rs`);
    /// `snapdir=hidden`, the default: it is reached only by name.
    pub(crate) snapdir_visible: bool,
    /// The device a `.snapshots/E` automount mounts (a `dev_t`; 0 when
    /// the mount names its source).
    pub(crate) dev: u32,
}

/// A decimal number (digits only; `None` if empty, not a number or past
/// `u64::MAX`).
pub(crate) fn parse_u64(v: &[u8]) -> Option<u64> {
    if v.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &c in v {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(n)
}

impl MountOpts {
    pub(crate) fn parse(&mut self, key: &[u8], val: Option<&[u8]>) -> Result {
        match (key, val) {
            (b"init", None) => self.init = true,
            (b"snapshot", Some(v)) => match parse_u64(v) {
                Some(e) => self.snapshot = Some(e),
                None => {
                    pr_err!("snapshot= needs an epoch number\n");
                    return Err(EINVAL);
                }
            },
            (b"acl", None) => self.noacl = false,
            (b"noacl", None) => self.noacl = true,
            (b"data", Some(b"cow")) => self.inplace = false,
            (b"data", Some(b"inplace")) => self.inplace = true,
            (b"data", _) => {
                pr_err!("data= is cow or inplace\n");
                return Err(EINVAL);
            }
            (b"snapdir", Some(b"visible")) => self.snapdir_visible = true,
            (b"snapdir", Some(b"hidden")) => self.snapdir_visible = false,
            (b"snapdir", _) => {
                pr_err!("snapdir= is visible or hidden\n");
                return Err(EINVAL);
            }
            // Let the VFS handle `source` and report unknown options.
            _ => return Err(Error::from_errno(-(bindings::ENOPARAM as i32))),
        }
        Ok(())
    }
}

/// The result of [`Sbi::pick_sb`].
pub(crate) enum SbChoice {
    Primary(SuperBlock),
    /// The replica, and what is wrong with the primary.
    Replica(SuperBlock, SbError),
    /// What is wrong with the primary and with the replica.
    Neither(SbError, SbError),
}

/// Counters shown in /proc/fs/nova/<dev>/stats.
#[derive(Default)]
pub(crate) struct Stats {
    pub(crate) log_pages: AtomicU64,
    pub(crate) journal_commits: AtomicU64,
    pub(crate) snapshots_taken: AtomicU64,
    /// Inodes looked at to drop writable mappings (snapshots, shutdown).
    pub(crate) unmap_inodes: AtomicU64,
    pub(crate) cleaner_runs: AtomicU64,
    pub(crate) cleaner_freed: AtomicU64,
    /// Blocks the cleaner took off the dead list and has not freed yet
    /// (`snapshot_cleaning_blocks`: the dead list reads 0 from the moment
    /// it is taken).
    pub(crate) cleaning: AtomicU64,
    pub(crate) log_pages_freed: AtomicU64,
    pub(crate) log_gc_runs: AtomicU64,
    pub(crate) log_gc_fast_pages: AtomicU64,
    pub(crate) log_gc_copies: AtomicU64,
    /// Collections judged by the live index (no replay, `liveness.rs`).
    pub(crate) log_gc_lite: AtomicU64,
    /// Collections the index alone showed to have nothing to do (no entry
    /// read, `gc::nothing_to_collect`; not counted in `log_gc_runs`).
    pub(crate) log_gc_no_walk: AtomicU64,
    /// Lite collections that read, of pages with only plain writes, just
    /// the writes the index names (`gc::walk_sparse`).
    pub(crate) log_gc_sparse: AtomicU64,
    /// Full replays the table of last writers gave up on (a file too
    /// wide, or cuts past its budget), done with an index (`gc::walk`).
    pub(crate) log_gc_indexed: AtomicU64,
    /// Blocks left allocated because releasing them after a commit ran
    /// out of memory; the next mount rebuilds the allocator from the logs.
    pub(crate) lost_blocks: AtomicU64,
    /// Set when some work is left to the next mount's recovery (lost
    /// blocks, an inode whose deletion could not finish): the free list
    /// is then not saved at unmount, so that mount does the full scan.
    pub(crate) recover_next: AtomicBool,
}

/// One mounted nova file system (`sb->s_fs_info`).
#[pin_data]
pub(crate) struct Sbi {
    /// The snapshot cleaner thread; first, so it is stopped before any
    /// other field goes.
    #[pin]
    cleaner: Mutex<Option<Cleaner>>,
    pm: Pm,
    sb: *mut bindings::super_block,
    pub(crate) devname: CString,
    pub(crate) blocks: u64,
    pub(crate) epoch: AtomicU64,
    pub(crate) alloc: Allocator,
    /// The data blocks loaded files map (`owners.rs`).
    pub(crate) owners: Owners,
    /// Blocks with more than one user (`shared.rs`, reflink copies); a
    /// leaf lock.
    #[pin]
    pub(crate) shared: Mutex<crate::shared::Shared>,
    /// The image may have blocks with several users (format version 2,
    /// set by the first clone): `shared` is needed and rebuilt by a scan.
    pub(crate) reflinked: AtomicBool,
    #[pin]
    pub(crate) itable: Mutex<ITable>,
    /// The lite journal (one block): held by a commit that uses it. The
    /// value is the number of records on pmem that may be non-zero (the
    /// last commit's; all of them after mount), for `journal::commit`.
    #[pin]
    pub(crate) journal_lock: Mutex<usize>,
    /// Write faults pass it; taking a snapshot closes it.
    pub(crate) gate: FaultGate,
    /// Transactions and log GC pass it; taking a snapshot (a new epoch)
    /// and `check` close it (`log::Tx`).
    pub(crate) commit_gate: FaultGate,
    /// Woken when an inode's log is released by a transaction or a log
    /// GC (`NovaInode::claim_log`).
    #[pin]
    pub(crate) claim_wait: CondVar,
    /// Serialises `snapshot::clean` (the thread, unmount, `check`).
    #[pin]
    pub(crate) clean_lock: Mutex<()>,
    /// The live snapshots (`snapshot.rs`); taken before the commit gate.
    #[pin]
    pub(crate) snaps: Mutex<Snapshots>,
    /// Set while snapshot commands are refused (`remount,ro` in progress
    /// or done); held by a command while it runs. Taken before anything
    /// else a command takes.
    #[pin]
    pub(crate) commands: Mutex<bool>,
    /// Inodes whose logs are due for GC, for the cleaner thread (a leaf
    /// lock).
    #[pin]
    gc_queue: Mutex<KVec<u64>>,
    pub(crate) stats: Stats,
    /// Time per phase of the hot paths (`/proc/fs/nova/<dev>/prof`).
    pub(crate) prof: crate::prof::Prof,
    pub(crate) opts: MountOpts,
    /// `/proc/fs/nova/<dev>/` exists (removed first at unmount).
    proc_added: AtomicBool,
    /// `remount,ro` saved the state (see `set_state_saved`).
    state_saved: AtomicBool,
    /// A snapshot view's hold on its epoch (`devshare`).
    pub(crate) hold: Option<crate::devshare::Hold>,
    /// What the super blocks of this device share (`devshare`).
    pub(crate) dev: crate::devshare::DevRef,
    /// The device reference; last, so it is put after everything else
    /// that could use the mapping is gone.
    dax: DaxDev,
}

// SAFETY: the super block pointer is stable for the life of the mount and
// only used under the VFS's or nova's locks; the DAX reference (`DaxDev`)
// and the mapping (`Pm`) may be used from any thread.
unsafe impl Send for Sbi {}
// SAFETY: as above; shared state is atomics or behind mutexes.
unsafe impl Sync for Sbi {}

impl Sbi {
    /// The state of a mount being set up, with an empty allocator, inode
    /// table and snapshot table (filled by `mount::format` or
    /// `mount::mount`).
    pub(crate) fn new(
        dax: DaxDev,
        sb: *mut bindings::super_block,
        devname: CString,
        alloc: Allocator,
        [gate, commit_gate]: [FaultGate; 2],
        opts: MountOpts,
        dev: crate::devshare::DevRef,
    ) -> impl PinInit<Self, Error> {
        let (kaddr, len) = dax.mapping();
        // SAFETY: the mapping stays valid while `dax` is held, and `dax`
        // moves into the `Sbi` as its last field, dropped after `pm`.
        let pm = unsafe { Pm::new(kaddr, len) };
        let blocks = pm.blocks();
        try_pin_init!(Sbi {
            cleaner <- new_mutex!(None),
            pm,
            sb,
            devname,
            blocks,
            epoch: AtomicU64::new(1),
            alloc,
            owners: Owners::empty(),
            shared <- new_mutex!(crate::shared::Shared::new()),
            reflinked: AtomicBool::new(false),
            itable <- new_mutex!(ITable::new()),
            journal_lock <- new_mutex!(crate::format::journal::MAX_RECORDS),
            gate,
            commit_gate,
            claim_wait <- new_condvar!(),
            clean_lock <- new_mutex!(()),
            snaps <- new_mutex!(Snapshots::new()),
            commands <- new_mutex!(false),
            gc_queue <- new_mutex!(KVec::new()),
            stats: Stats::default(),
            prof: crate::prof::Prof::new(),
            opts,
            proc_added: AtomicBool::new(false),
            state_saved: AtomicBool::new(false),
            hold: None,
            dev,
            dax,
        }? Error)
    }

    /// # Safety
    ///
    /// `sb` must be a live nova super block whose `s_fs_info` is set.
    pub(crate) unsafe fn from_sb<'a>(sb: *mut bindings::super_block) -> &'a Sbi {
        // SAFETY: per the contract `s_fs_info` is our pinned `Sbi`, which
        // outlives every callback on this super block.
        unsafe { &*(*sb).s_fs_info.cast::<Sbi>() }
    }

    /// The device name, for messages.
    pub(crate) fn name(&self) -> &kernel::str::CStr {
        &self.devname
    }

    /// The device, mutable while the mount is being set up.
    pub(crate) fn pm_mut(&mut self) -> &mut Pm {
        &mut self.pm
    }

    pub(crate) fn pm(&self) -> &Pm {
        &self.pm
    }

    /// Queues `ino` for log GC by the cleaner thread (nothing without
    /// one: the write path collects when the log has doubled).
    pub(crate) fn queue_gc(&self, ino: u64) {
        if let Some(c) = self.cleaner.lock().as_ref() {
            if self.gc_queue.lock().push(ino, GFP_KERNEL).is_ok() {
                c.wake();
            }
        }
    }

    /// Takes the inodes queued for log GC.
    pub(crate) fn take_gc_queue(&self) -> KVec<u64> {
        core::mem::take(&mut *self.gc_queue.lock())
    }

    /// Stops the cleaner thread (before the VFS evicts the inodes: the
    /// thread may hold one).
    pub(crate) fn stop_cleaner(&self) {
        // Stopped outside the lock: the thread may be queueing work.
        let c = self.cleaner.lock().take();
        drop(c);
        self.gc_queue.lock().clear();
    }

    /// Wakes the snapshot cleaner thread, if there is one (for callers
    /// that hold the fault gate, which a synchronous clean would wait for).
    /// Returns whether there is a thread.
    pub(crate) fn wake_cleaner_thread(&self) -> bool {
        match self.cleaner.lock().as_ref() {
            Some(c) => {
                c.wake();
                true
            }
            None => false,
        }
    }

    /// Whether the mount is read-only now (`-o ro`, or a snapshot).
    pub(crate) fn read_only(&self) -> bool {
        // SAFETY: `sb` is live for the life of the `Sbi`; `s_flags` is a
        // plain word the VFS updates under its own locks.
        let f = unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*self.sb).s_flags)) };
        f & crate::glue::SB_RDONLY as usize != 0 || self.read_only_forever()
    }

    /// Drops the page tables of every writable shared mapping of a file
    /// on this mount (the next store through one faults). Looks only at
    /// the inodes that have had such a mapping; counts them in
    /// `snapshot_unmap_inodes`. For a snapshot, also writes back the
    /// stores made through them and waits for (`Unmap::Prepare`, gate
    /// open) or refuses with `EBUSY` (`Unmap::Gated`, gate closed) pages
    /// pinned for I/O (`nova_shim_unmap_all`).
    pub(crate) fn unmap_all(&self, mode: Unmap) -> Result {
        // SAFETY: `sb` is live for the life of the `Sbi`.
        let seen = unsafe { shim::nova_shim_unmap_all(self.sb, mode as kernel::ffi::c_int) };
        if seen < 0 {
            return Err(Error::from_errno(seen as i32));
        }
        // Counted once per snapshot (its gated pass).
        if !matches!(mode, Unmap::Prepare) {
            self.stats
                .unmap_inodes
                .fetch_add(seen as u64, Ordering::Relaxed);
        }
        Ok(())
    }

    /// The DAX device (for the DAX fault and writeback paths).
    pub(crate) fn dax(&self) -> *mut kernel::ffi::c_void {
        self.dax.as_ptr()
    }

    pub(crate) fn sb(&self) -> *mut bindings::super_block {
        self.sb
    }

    pub(crate) fn read_only_forever(&self) -> bool {
        self.opts.snapshot.is_some()
    }

    /// Whether a block of `[b, b + len)` has other users (reflink
    /// copies, `shared.rs`).
    pub(crate) fn is_shared(&self, b: u64, len: u64) -> bool {
        self.reflinked.load(Ordering::Acquire) && self.shared.lock().any(b, len)
    }

    /// For a read fault on blocks `[b, b + run)` written in epoch `born`:
    /// how many of them to map at once, and whether other mappings may
    /// map them too (a snapshot view, or another file sharing them):
    /// every mapping of such a page must say so, whichever comes first.
    pub(crate) fn other_mappings(&self, b: u64, run: u64, born: u64) -> Result<(u64, bool)> {
        if self.read_only_forever() || self.snaps.lock().holder(born, u64::MAX).is_some() {
            return Ok((run, true));
        }
        if !self.reflinked.load(Ordering::Acquire) {
            return Ok((run, false));
        }
        let pieces = self.shared.lock().pieces(b, run)?;
        Ok(match pieces.first() {
            Some(&(_, l, c)) => (l, c > 1),
            None => (run, false),
        })
    }

    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Relaxed)
    }

    pub(crate) fn cpu(&self) -> usize {
        // SAFETY: reading the current CPU number has no preconditions; it
        // is only a placement hint.
        (unsafe { bindings::raw_smp_processor_id() }) as usize
    }

    /// Reads a superblock copy.
    fn read_sb(&self, block: u64) -> Result<SuperBlock> {
        let mut b = [0u8; 256];
        self.pm.read(block * BLOCK_SIZE, &mut b)?;
        SuperBlock::from_bytes(&b).ok_or(EIO)
    }

    /// Writes both superblock copies, primary first, each persisted.
    pub(crate) fn write_sb(&self, sb: &mut SuperBlock) -> Result {
        if self.reflinked.load(Ordering::Acquire) {
            // Once blocks may be shared, never back to version 1.
            sb.version.set(FORMAT_VERSION_SHARED);
        }
        sb.seal();
        self.pm.write(SB_BLOCK * BLOCK_SIZE, sb.as_bytes())?;
        self.pm.fence();
        self.pm
            .write(SB_REPLICA_BLOCK * BLOCK_SIZE, sb.as_bytes())?;
        self.pm.fence();
        Ok(())
    }

    /// Which superblock copy is good: the primary, else the replica.
    pub(crate) fn pick_sb(&self) -> Result<SbChoice> {
        let dev = self.pm.blocks();
        let p = self.read_sb(SB_BLOCK)?;
        let pe = match p.validate(dev) {
            Ok(()) => return Ok(SbChoice::Primary(p)),
            Err(e) => e,
        };
        let r = self.read_sb(SB_REPLICA_BLOCK)?;
        Ok(match r.validate(dev) {
            Ok(()) => SbChoice::Replica(r, pe),
            Err(re) => SbChoice::Neither(pe, re),
        })
    }

    /// The current superblock (primary, or the replica if the primary is bad).
    pub(crate) fn current_sb(&self) -> Result<SuperBlock> {
        match self.pick_sb()? {
            SbChoice::Primary(s) | SbChoice::Replica(s, _) => Ok(s),
            SbChoice::Neither(..) => Err(EINVAL),
        }
    }

    pub(crate) fn statfs(&self, buf: *mut bindings::kstatfs) {
        let free = self.alloc.free_blocks();
        let it = self.itable.lock();
        let ffree = it
            .free_count()
            .saturating_add(free.saturating_mul(INODES_PER_PAGE));
        // SAFETY: `buf` is the VFS's kstatfs for this call.
        unsafe {
            shim::nova_shim_statfs_fill(
                buf,
                NOVA_MAGIC,
                BLOCK_SIZE,
                self.blocks,
                free,
                // Blocks held back for log appends are free, not available.
                self.alloc.available(),
                it.used().saturating_add(ffree),
                ffree,
                NAME_MAX as u32,
            )
        };
    }

    /// Blocks that could not be released for lack of memory.
    pub(crate) fn lost_blocks(&self) -> u64 {
        self.stats
            .lost_blocks
            .load(Ordering::Relaxed)
            .saturating_add(self.alloc.lost())
    }

    /// Whether the next mount must do the full recovery scan.
    pub(crate) fn must_recover(&self) -> bool {
        self.lost_blocks() != 0 || self.stats.recover_next.load(Ordering::Relaxed)
    }

    /// Shuts the file system down (`FS_IOC_SHUTDOWN`): from now on every
    /// store to the device fails with `EIO` (`Pm::kill`), so the device
    /// keeps what a crash now would leave, and the next mount recovers.
    pub(crate) fn shut_down(&self) {
        if !self.pm.is_dead() {
            self.pm.kill();
            // A commit cut short stays active on pmem until the next
            // mount: snapshot views are refused beside it from now on.
            self.dev.clear_writer();
            // Stores through existing writable mappings fault again, and
            // the fault path refuses them (SIGBUS).
            let _ = self.unmap_all(Unmap::Shutdown);
            self.defer_to_recovery();
            pr_warn!(
                "{}: shut down: nothing more is written; the next mount recovers\n",
                self.name()
            );
        }
    }

    /// Whether an eviction may log now (an access time): not from memory
    /// reclaim, not while frozen, not once `remount,ro` saved the state.
    pub(crate) fn may_log_in_evict(&self) -> bool {
        // SAFETY: the super block is live while the `Sbi` is.
        !self.read_only()
            && !self.state_saved.load(Ordering::Acquire)
            && !self.is_shut_down()
            && unsafe { shim::nova_shim_may_log_in_evict(self.sb) }
    }

    /// `remount,ro` saved the state (or `remount,rw` lifts that): nothing
    /// may be logged in between, before the VFS marks the mount read-only.
    pub(crate) fn set_state_saved(&self, saved: bool) {
        self.state_saved.store(saved, Ordering::Release);
    }

    /// Whether the file system was shut down.
    pub(crate) fn is_shut_down(&self) -> bool {
        self.pm.is_dead()
    }

    /// Leaves work to the next mount's recovery (see `Stats::recover_next`).
    pub(crate) fn defer_to_recovery(&self) {
        self.stats.recover_next.store(true, Ordering::Relaxed);
    }

    /// Whether snapshot commands may run now: the guard keeps
    /// `make_read_only` out while one does. `None` on a read-only mount.
    pub(crate) fn command_guard(&self) -> Option<kernel::sync::MutexGuard<'_, bool>> {
        let g = self.commands.lock();
        (!*g && !self.read_only()).then_some(g)
    }

    /// Creates `/proc/fs/nova/<dev>/` (a warning if that fails: the mount
    /// works without it).
    pub(crate) fn add_proc(&self) {
        let p = core::ptr::from_ref(self).cast_mut().cast();
        // SAFETY: the name is NUL-terminated; the `Sbi` outlives the proc
        // entries (`remove_proc` runs before it is freed).
        let r = unsafe { shim::nova_shim_proc_add(self.devname.as_char_ptr(), p) };
        if r == 0 {
            self.proc_added.store(true, Ordering::Release);
        } else {
            pr_warn!("{}: /proc/fs/nova entry not created ({})\n", self.name(), r);
        }
    }

    /// Removes `/proc/fs/nova/<dev>/`; returns once no handler of it runs
    /// any more (`remove_proc_subtree` waits for them). Unmount does this
    /// first, so no snapshot command allocates after the free list is
    /// saved.
    pub(crate) fn remove_proc(&self) {
        if self.proc_added.swap(false, Ordering::AcqRel) {
            // SAFETY: the name is a NUL-terminated string we own.
            unsafe { shim::nova_shim_proc_remove(self.devname.as_char_ptr()) };
        }
    }

    /// A snapshot was taken or deleted: names cached under `.snapshots`
    /// are dropped.
    pub(crate) fn snapdir_changed(&self) {
        // SAFETY: `sb` is live for the life of the `Sbi`.
        unsafe { shim::nova_shim_snapdir_changed(self.sb) };
    }

    /// Starts the snapshot cleaner thread of a writable mount.
    pub(crate) fn start_cleaner(&self) {
        let data = core::ptr::from_ref(self).cast();
        // SAFETY: the `Cleaner` is a field of `self`, stopped (dropped)
        // before the rest of the `Sbi` goes (it is the first field).
        match unsafe { Cleaner::start(data, &self.devname) } {
            Ok(c) => *self.cleaner.lock() = Some(c),
            // Deleting snapshots then cleans synchronously.
            Err(_) => pr_warn!("{}: no snapshot cleaner thread\n", self.name()),
        }
    }
}

/// Seconds and nanoseconds of the wall clock.
pub(crate) fn now_secs() -> (u64, u32) {
    // SAFETY: reading the clock has no preconditions.
    (unsafe { bindings::ktime_get_real_seconds() } as u64, 0)
}
