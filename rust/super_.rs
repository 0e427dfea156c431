// SPDX-License-Identifier: GPL-2.0
//! The super block: mount options, format (`-o init`), mount of an
//! existing image (clean: load the saved allocator; crashed: rebuild it by
//! walking every log), unmount, statfs.

use crate::balloc::Allocator;
use crate::format::freelist::{Checker, FreeListError};
use crate::format::layout::*;
use crate::format::le::Pod;
use crate::format::log::LogWalker;
use crate::format::snapshot::SnapSet;
use crate::inode::{self, NovaInode};
use crate::itable::ITable;
use crate::pm::Pm;
use crate::snapshot::{Cleaner, FaultGate, Snapshots};
use crate::{journal, shim, vfs};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use kernel::bindings;
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::str::CString;
use kernel::sync::Mutex;

/// The file system's magic number in statfs and `s_magic` ("NOVA").
pub(crate) const NOVA_MAGIC: u64 = 0x4e4f_5641;

/// Options of one mount.
#[derive(Clone, Copy, Default)]
pub(crate) struct MountOpts {
    /// `init`: format the device.
    pub(crate) init: bool,
    /// `snapshot=<epoch>`: mount that snapshot read-only.
    pub(crate) snapshot: Option<u64>,
}

fn parse_u64(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 20 {
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
            // Let the VFS handle `source` and report unknown options.
            _ => return Err(Error::from_errno(-(bindings::ENOPARAM as i32))),
        }
        Ok(())
    }
}

/// Counters shown in /proc/fs/nova/<dev>/stats.
#[derive(Default)]
pub(crate) struct Stats {
    pub(crate) log_pages: AtomicU64,
    pub(crate) journal_commits: AtomicU64,
    pub(crate) snapshots_taken: AtomicU64,
    pub(crate) cleaner_runs: AtomicU64,
    pub(crate) cleaner_freed: AtomicU64,
    pub(crate) log_pages_freed: AtomicU64,
    pub(crate) log_gc_runs: AtomicU64,
    pub(crate) log_gc_fast_pages: AtomicU64,
    pub(crate) log_gc_copies: AtomicU64,
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
    dax: *mut kernel::ffi::c_void,
    sb: *mut bindings::super_block,
    pub(crate) devname: CString,
    pub(crate) blocks: u64,
    pub(crate) epoch: AtomicU64,
    pub(crate) alloc: Allocator,
    #[pin]
    pub(crate) itable: Mutex<ITable>,
    /// Serialises log appends and commits (and the lite journal).
    #[pin]
    pub(crate) log_lock: Mutex<()>,
    /// Write faults pass it; taking a snapshot closes it.
    pub(crate) gate: FaultGate,
    /// Serialises `snapshot::clean` (the thread, unmount, `check`).
    #[pin]
    pub(crate) clean_lock: Mutex<()>,
    /// The live snapshots (`snapshot.rs`); taken before `log_lock`.
    #[pin]
    pub(crate) snaps: Mutex<Snapshots>,
    /// Set while snapshot commands are refused (`remount,ro` in progress
    /// or done); held by a command while it runs. Taken before anything
    /// else a command takes.
    #[pin]
    pub(crate) commands: Mutex<bool>,
    /// Inodes whose logs are due for GC, for the cleaner thread (a leaf
    /// lock: taken under the log lock).
    #[pin]
    gc_queue: Mutex<KVec<u64>>,
    pub(crate) stats: Stats,
    pub(crate) opts: MountOpts,
    /// `/proc/fs/nova/<dev>/` exists (removed first at unmount).
    proc_added: AtomicBool,
}

// SAFETY: the raw pointers (super block, DAX device) are stable for the
// life of the mount and only used under the VFS's or nova's locks.
unsafe impl Send for Sbi {}
// SAFETY: as above; shared state is atomics or behind mutexes.
unsafe impl Sync for Sbi {}

impl Sbi {
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
    pub(crate) fn wake_cleaner_thread(&self) {
        if let Some(c) = self.cleaner.lock().as_ref() {
            c.wake();
        }
    }

    /// Wakes the snapshot cleaner (or cleans now if there is none).
    pub(crate) fn wake_cleaner(&self) {
        if let Some(c) = self.cleaner.lock().as_ref() {
            c.wake();
            return;
        }
        if let Err(e) = crate::snapshot::clean(self) {
            pr_err!("{}: snapshot cleaner: {:?}\n", self.name(), e);
        }
    }

    /// Whether the mount is read-only now (`-o ro`, or a snapshot).
    pub(crate) fn read_only(&self) -> bool {
        // SAFETY: `sb` is live for the life of the `Sbi`; `s_flags` is a
        // plain word the VFS updates under its own locks.
        let f = unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*self.sb).s_flags)) };
        f & crate::vfs::SB_RDONLY as usize != 0 || self.read_only_forever()
    }

    /// Drops the page tables of every writable shared mapping of a file
    /// on this mount (the next store through one faults).
    pub(crate) fn unmap_all(&self) {
        // SAFETY: `sb` is live for the life of the `Sbi`.
        unsafe { shim::nova_shim_unmap_all(self.sb) };
    }

    /// The DAX device (for the DAX fault and writeback paths).
    pub(crate) fn dax(&self) -> *mut kernel::ffi::c_void {
        self.dax
    }

    pub(crate) fn sb(&self) -> *mut bindings::super_block {
        self.sb
    }

    pub(crate) fn read_only_forever(&self) -> bool {
        self.opts.snapshot.is_some()
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
        sb.seal();
        self.pm.write(SB_BLOCK * BLOCK_SIZE, sb.as_bytes())?;
        self.pm.fence();
        self.pm
            .write(SB_REPLICA_BLOCK * BLOCK_SIZE, sb.as_bytes())?;
        self.pm.fence();
        Ok(())
    }

    /// The current superblock (primary, or the replica if the primary is bad).
    pub(crate) fn current_sb(&self) -> Result<SuperBlock> {
        let dev = self.pm.blocks();
        let p = self.read_sb(SB_BLOCK)?;
        if p.validate(dev).is_ok() {
            return Ok(p);
        }
        let r = self.read_sb(SB_REPLICA_BLOCK)?;
        r.validate(dev).map_err(|_| EINVAL)?;
        Ok(r)
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

    /// Clean unmount: save the allocator state and mark the superblock clean.
    pub(crate) fn unmount(&self) {
        // Stop the cleaner and do what it had left.
        self.stop_cleaner();
        if self.read_only() {
            // Not one byte changes on a read-only mount (a writable mount
            // made read-only saved its state then).
            return;
        }
        self.save_state();
    }

    /// `remount,ro`: the cleaner stops, what it had left is done, and the
    /// allocator is saved with the clean flag, as at unmount; from then on
    /// nothing is written until the mount is writable again.
    pub(crate) fn make_read_only(&self) {
        // No snapshot command from here on: the VFS sets `SB_RDONLY` only
        // after this returns, and the state is saved now.
        let mut stopped = self.commands.lock();
        *stopped = true;
        // (The VFS refuses it while a file open after its last unlink
        // waits for deletion, `s_remove_count`.)
        self.stop_cleaner();
        self.save_state();
    }

    /// `remount,rw` of a read-only mount: the clean flag goes (the saved
    /// free list stops being the truth as soon as anything changes) and
    /// the cleaner starts.
    pub(crate) fn make_writable(&self) -> Result {
        // What a read-only mount rolled back in memory goes to pmem now.
        journal::recover(self)?;
        // Both copies are written (a read-only mount may have used the
        // replica without repairing the primary).
        let mut sb = self.current_sb()?;
        sb.flags
            .set(sb.flags.get() & !(SB_CLEAN | SB_FREELIST_CSUM));
        sb.freelist.set(0);
        self.write_sb(&mut sb)?;
        self.start_cleaner();
        *self.commands.lock() = false;
        Ok(())
    }

    /// Starts the snapshot cleaner thread of a writable mount.
    pub(crate) fn start_cleaner(&self) {
        match Cleaner::start(self) {
            Ok(c) => *self.cleaner.lock() = Some(c),
            // Deleting snapshots then cleans synchronously.
            Err(_) => pr_warn!("{}: no snapshot cleaner thread\n", self.name()),
        }
    }

    /// Runs the cleaner's leftovers and saves the allocator with the clean
    /// flag (unless the next mount must recover).
    fn save_state(&self) {
        if let Err(e) = crate::snapshot::clean(self) {
            pr_err!("{}: snapshot cleaner: {:?}\n", self.name(), e);
        }
        if self.must_recover() {
            pr_warn!(
                "{}: {} blocks could not be released, or a deletion could not finish; \
                 the next mount recovers from the logs\n",
                self.name(),
                self.lost_blocks()
            );
            return;
        }
        match self.save_freelist() {
            Ok(()) => {}
            Err(e) => pr_err!(
                "{}: saving allocator state failed ({:?}); next mount will recover\n",
                self.name(),
                e
            ),
        }
    }

    /// Writes the free list into free blocks (which the saved list itself
    /// counts as free) and sets `SB_CLEAN` with the list's first block.
    fn save_freelist(&self) -> Result {
        // Blocks are chained: [next u64][count u64][count * (start, len)].
        const PER: u64 = (BLOCK_SIZE - 16) / 16;
        let mut n = 0u64;
        self.alloc.for_each_range(|_, _| {
            n += 1;
            Ok(())
        })?;
        let pages = (n + 2).div_ceil(PER) + 1;
        let mut blocks = KVec::with_capacity(pages as usize, GFP_KERNEL)?;
        for _ in 0..pages {
            blocks.push(self.alloc.alloc_one(0)?, GFP_KERNEL)?;
        }
        for &b in blocks.iter() {
            self.alloc.free(b, 1)?;
        }
        let mut page = 0usize;
        let mut in_page = 0u64;
        let mut err = Ok(());
        let bl = &blocks;
        let pm = &self.pm;
        self.alloc.for_each_range(|s, l| {
            if in_page == PER {
                page += 1;
                in_page = 0;
            }
            let Some(&b) = bl.get(page) else {
                err = Err(ENOSPC);
                return Err(ENOSPC);
            };
            let mut rec = [0u8; 16];
            rec[..8].copy_from_slice(&s.to_le_bytes());
            rec[8..].copy_from_slice(&l.to_le_bytes());
            pm.write(b * BLOCK_SIZE + 16 + in_page * 16, &rec)?;
            in_page += 1;
            // Header of this page: next and count so far.
            let next = bl.get(page + 1).map_or(0, |&x| x);
            let mut h = [0u8; 16];
            h[..8].copy_from_slice(&next.to_le_bytes());
            h[8..].copy_from_slice(&in_page.to_le_bytes());
            pm.write(b * BLOCK_SIZE, &h)
        })?;
        err?;
        // Pages past the last used one end the chain with count 0.
        for i in (page + 1)..blocks.len() {
            let b = blocks[i];
            let next = blocks.get(i + 1).map_or(0, |&x| x);
            let mut h = [0u8; 16];
            h[..8].copy_from_slice(&next.to_le_bytes());
            pm.write(b * BLOCK_SIZE, &h)?;
        }
        pm.fence();
        let first = *blocks.first().ok_or(EINVAL)?;
        let csum = self.walk_freelist(first, |_, _| Ok(()))?;
        let mut sb = self.current_sb()?;
        sb.freelist.set(first);
        sb.freelist_csum.set(csum);
        sb.flags.set(sb.flags.get() | SB_CLEAN | SB_FREELIST_CSUM);
        sb.epoch.set(self.epoch());
        self.write_sb(&mut sb)
    }

    /// Reads the saved free list starting at block `first`, checking it
    /// as it goes (`freelist::Checker`), and calls `range` on each range.
    /// Returns its checksum.
    fn walk_freelist(&self, first: u64, mut range: impl FnMut(u64, u64) -> Result) -> Result<u32> {
        let mut c = Checker::new(self.blocks);
        let bad = |e: FreeListError| {
            pr_warn!("{}: saved free list: {:?}\n", self.name(), e);
            EINVAL
        };
        let mut b = first;
        while b != 0 {
            c.block(b).map_err(bad)?;
            let base = b * BLOCK_SIZE;
            let next = self.pm.read_u64(base)?;
            let count = self.pm.read_u64(base + 8)?;
            c.header(next, count).map_err(bad)?;
            for i in 0..count {
                let s = self.pm.read_u64(base + 16 + i * 16)?;
                let l = self.pm.read_u64(base + 24 + i * 16)?;
                c.range(s, l).map_err(bad)?;
                range(s, l)?;
            }
            b = next;
        }
        Ok(c.csum())
    }

    /// Checks the saved free list against the superblock's checksum and
    /// the structures a clean mount knows without a scan (inode-table
    /// pages, the first inodes' log pages): all must agree before the
    /// list is trusted. On any failure the caller runs full recovery.
    fn check_freelist(&self, sb: &SuperBlock) -> Result {
        if sb.flags.get() & SB_FREELIST_CSUM == 0 {
            pr_warn!(
                "{}: saved free list has no checksum (older format); recovering instead\n",
                self.name()
            );
            return Err(EINVAL);
        }
        let mut busy = KVec::new();
        for &p in self.itable.lock().pages() {
            busy.push(p, GFP_KERNEL)?;
        }
        for ino in [ROOT_INO, SNAPSHOT_INO] {
            let (_, pi) = inode::read_slot(self, ino)?;
            walk_pages(&self.pm, pi.log_head.get(), pi.log_tail.get(), |b| {
                busy.push(b, GFP_KERNEL).map_err(|_| ENOMEM)
            })?;
        }
        busy.as_mut_slice().sort_unstable();
        let csum = self.walk_freelist(sb.freelist.get(), |s, l| {
            let i = busy.partition_point(|&b| b < s);
            match busy.get(i) {
                Some(&b) if b - s < l => {
                    pr_warn!(
                        "{}: saved free list frees block {}, which is in use\n",
                        self.name(),
                        b
                    );
                    Err(EINVAL)
                }
                _ => Ok(()),
            }
        })?;
        if csum != sb.freelist_csum.get() {
            pr_warn!("{}: saved free list: checksum mismatch\n", self.name());
            return Err(EINVAL);
        }
        Ok(())
    }

    /// Loads a saved free list (checked by `check_freelist`) into the
    /// (all-busy) allocator.
    fn load_freelist(&self, first: u64) -> Result {
        self.walk_freelist(first, |s, l| self.alloc.free(s, l).map_err(|_| EINVAL))
            .map(|_| ())
    }
}

/// Frees the `Sbi` once the VFS is done with the super block.
///
/// # Safety
///
/// `info` must be the `s_fs_info` set by `fill_super`, not used afterwards.
pub(crate) unsafe fn release_sbi(info: *mut core::ffi::c_void) {
    // SAFETY: per the contract, `info` came from `KBox::into_raw` of a
    // pinned `Sbi` in `fill_super`.
    let sbi = unsafe { Pin::new_unchecked(KBox::from_raw(info.cast::<Sbi>())) };
    sbi.remove_proc();
    if !sbi.dax.is_null() {
        // SAFETY: we hold the DAX reference taken at mount.
        unsafe { shim::nova_shim_dax_put(sbi.dax, vfs::holder(sbi.sb)) };
    }
    drop(sbi);
}

/// Maps the device and builds the `Sbi`; formats or mounts the image.
///
/// # Safety
///
/// `sb` must be a super block being set up by `get_tree_bdev`.
pub(crate) unsafe fn fill_super(sb: *mut bindings::super_block, opts: MountOpts) -> Result {
    // SAFETY: `sb` is live (contract).
    let id = unsafe { vfs::sb_id(sb) };
    let devname = CString::try_from_fmt(fmt!("{}", id))?;
    let mut kaddr: *mut core::ffi::c_void = core::ptr::null_mut();
    let mut dax: *mut kernel::ffi::c_void = core::ptr::null_mut();
    // SAFETY: `sb` has its block device opened by get_tree_bdev.
    let len = unsafe { shim::nova_shim_dax_map(sb, vfs::holder(sb), &mut kaddr, &mut dax) };
    if len < 0 {
        pr_err!(
            "{}: device does not support DAX (error {}); nova needs a pmem device\n",
            &*devname,
            len
        );
        return Err(Error::from_errno(len as i32));
    }
    // SAFETY: the DAX mapping covers `len` bytes and stays valid until
    // `release_sbi` drops the DAX reference after the `Pm` is gone.
    let pm = unsafe { Pm::new(kaddr.cast(), len as u64) };
    let blocks = pm.blocks();
    if blocks < MIN_BLOCKS {
        pr_err!(
            "{}: device too small ({} blocks, need {})\n",
            &*devname,
            blocks,
            MIN_BLOCKS
        );
        // SAFETY: drop the reference we just took.
        unsafe { shim::nova_shim_dax_put(dax, vfs::holder(sb)) };
        return Err(EINVAL);
    }
    // SAFETY: the CPU count is a plain read.
    let cpus = unsafe { bindings::nr_cpu_ids }.clamp(1, 64);
    let alloc = match Allocator::new(FIRST_DATA_BLOCK, blocks, cpus) {
        Ok(a) => a,
        Err(e) => {
            // SAFETY: as above.
            unsafe { shim::nova_shim_dax_put(dax, vfs::holder(sb)) };
            return Err(e);
        }
    };
    let gate = match FaultGate::new() {
        Ok(g) => g,
        Err(e) => {
            // SAFETY: as above.
            unsafe { shim::nova_shim_dax_put(dax, vfs::holder(sb)) };
            return Err(e);
        }
    };
    let init = pin_init!(Sbi {
        cleaner <- new_mutex!(None),
        pm,
        dax,
        sb,
        devname,
        blocks,
        epoch: AtomicU64::new(1),
        alloc,
        itable <- new_mutex!(ITable::new()),
        log_lock <- new_mutex!(()),
        gate,
        clean_lock <- new_mutex!(()),
        snaps <- new_mutex!(Snapshots::new()),
        commands <- new_mutex!(false),
        gc_queue <- new_mutex!(KVec::new()),
        stats: Stats::default(),
        opts,
        proc_added: AtomicBool::new(false),
    });
    let sbi = match KBox::pin_init(init, GFP_KERNEL) {
        Ok(s) => s,
        Err(e) => {
            // SAFETY: as above.
            unsafe { shim::nova_shim_dax_put(dax, vfs::holder(sb)) };
            return Err(e);
        }
    };
    // SAFETY: ownership moves to the super block; `kill_sb` releases it.
    let raw = KBox::into_raw(unsafe { Pin::into_inner_unchecked(sbi) });
    // SAFETY: `sb` is exclusively ours during fill_super.
    unsafe {
        (*sb).s_fs_info = raw.cast();
        (*sb).s_magic = NOVA_MAGIC as usize;
        (*sb).s_op = &vfs::SUPER_OPS.0;
        (*sb).s_maxbytes = i64::MAX;
        (*sb).s_time_gran = 1;
        (*sb).s_blocksize = BLOCK_SIZE as _;
        (*sb).s_blocksize_bits = BLOCK_SHIFT as _;
        if opts.snapshot.is_some() {
            (*sb).s_flags |= crate::vfs::SB_RDONLY as usize;
        }
    }
    // SAFETY: just stored.
    let sbi: &mut Sbi = unsafe { &mut *raw };
    if opts.init {
        if opts.snapshot.is_some() {
            pr_err!("{}: init and snapshot= do not go together\n", sbi.name());
            return Err(EINVAL);
        }
        if sbi.read_only() {
            pr_err!("{}: init needs a read-write mount\n", sbi.name());
            return Err(EROFS);
        }
        format(sbi)?;
    }
    mount(sbi)?;
    // SAFETY: the name is NUL-terminated; `raw` outlives the proc entries
    // (removed in `release_sbi` before the `Sbi` is freed).
    let r = unsafe { shim::nova_shim_proc_add(sbi.devname.as_char_ptr(), raw.cast()) };
    if r == 0 {
        sbi.proc_added.store(true, Ordering::Release);
    } else {
        pr_warn!("{}: /proc/fs/nova entry not created ({})\n", sbi.name(), r);
    }
    let root = inode::iget(sbi, ROOT_INO)?;
    // SAFETY: `root` is a referenced inode; d_make_root consumes it.
    let d = unsafe { bindings::d_make_root(root) };
    if d.is_null() {
        return Err(ENOMEM);
    }
    // SAFETY: `sb` is ours during fill_super.
    unsafe { (*sb).s_root = d };
    if !sbi.read_only() {
        sbi.start_cleaner();
    }
    pr_info!(
        "{}: mounted, {} blocks, {} free, epoch {}\n",
        sbi.name(),
        sbi.blocks,
        sbi.alloc.free_blocks(),
        sbi.epoch()
    );
    Ok(())
}

/// Formats the device: superblocks, journal, first inode-table page, the
/// root directory and the snapshot inode.
fn format(sbi: &mut Sbi) -> Result {
    let pm = &sbi.pm;
    pm.zero(0, FIRST_DATA_BLOCK * BLOCK_SIZE)?;
    crate::itable::init_page(pm, INODE_TABLE_BLOCK)?;
    // Every block after the fixed ones is free; the two first inodes
    // take their first log pages from there.
    sbi.alloc
        .free(FIRST_DATA_BLOCK, sbi.blocks - FIRST_DATA_BLOCK)?;
    let (sec, _) = now_secs();
    for (ino, mode, nlink) in [
        (ROOT_INO, bindings::S_IFDIR | 0o755, 2u32),
        (SNAPSHOT_INO, bindings::S_IFREG, 1),
    ] {
        let page = crate::log::new_log_page(sbi, ino)?;
        let mut pi = PmInode::from_bytes(&[0u8; 128]).ok_or(EINVAL)?;
        pi.flags.set(INODE_VALID);
        pi.mode.set(mode);
        pi.ino.set(ino);
        pi.log_head.set(page);
        pi.log_tail.set(page);
        pi.create_epoch.set(1);
        pi.time_sec.set(sec);
        pi.nlink.set(nlink);
        pi.seal();
        pm.write(
            crate::itable::slot_addr_in(INODE_TABLE_BLOCK, ino),
            pi.as_bytes(),
        )?;
    }
    pm.fence();
    let mut uuid = [0u8; 16];
    // SAFETY: fills the buffer with random bytes.
    unsafe { bindings::get_random_bytes(uuid.as_mut_ptr().cast(), 16) };
    let mut sb = SuperBlock::new(sbi.blocks, sbi.alloc_regions(), sec, uuid);
    sbi.write_sb(&mut sb)?;
    // The allocator is rebuilt by mount (clean flag not set: full scan).
    let a = Allocator::new(FIRST_DATA_BLOCK, sbi.blocks, sbi.alloc_regions())?;
    sbi.alloc = a;
    pr_info!("{}: formatted, {} blocks\n", sbi.name(), sbi.blocks);
    Ok(())
}

impl Sbi {
    fn alloc_regions(&self) -> u32 {
        // SAFETY: a plain read of the CPU count.
        (unsafe { bindings::nr_cpu_ids }).clamp(1, 64)
    }
}

/// Seconds and nanoseconds of the wall clock.
pub(crate) fn now_secs() -> (u64, u32) {
    // SAFETY: reading the clock has no preconditions.
    (unsafe { shim::nova_shim_ktime_real_seconds() }, 0)
}

/// Mounts an image: superblock, journal replay, inode table, allocator
/// (saved state or full recovery).
fn mount(sbi: &mut Sbi) -> Result {
    let dev = sbi.pm.blocks();
    let p = sbi.read_sb(SB_BLOCK)?;
    let r = sbi.read_sb(SB_REPLICA_BLOCK)?;
    let sb = match (p.validate(dev), r.validate(dev)) {
        (Ok(()), _) => p,
        (Err(pe), Ok(())) => {
            pr_warn!(
                "{}: primary superblock bad ({:?}); using the replica\n",
                sbi.name(),
                pe
            );
            if !sbi.read_only() {
                // A read-only mount writes nothing; `make_writable`
                // repairs the primary when the mount becomes writable.
                let mut fixed = r;
                sbi.write_sb(&mut fixed)?;
            }
            r
        }
        (Err(pe), Err(re)) => {
            match pe {
                SbError::Magic => pr_err!(
                    "{}: not a nova file system (bad magic); mount with -o init to format\n",
                    sbi.name()
                ),
                _ => pr_err!(
                    "{}: superblock invalid: primary {:?}, replica {:?}\n",
                    sbi.name(),
                    pe,
                    re
                ),
            }
            return Err(EINVAL);
        }
    };
    sbi.blocks = sb.total_blocks.get();
    sbi.epoch.store(sb.epoch.get(), Ordering::Relaxed);
    if sbi.read_only() {
        // Not one byte may change: the rollback lives in memory until the
        // mount becomes writable (`make_writable`).
        journal::recover_in_memory(sbi)?;
    } else {
        journal::recover(sbi)?;
    }
    let regions = sb.cpus.get();
    sbi.alloc = Allocator::new(FIRST_DATA_BLOCK, sbi.blocks, regions.min(64))?;
    let clean = sb.flags.get() & SB_CLEAN != 0;
    {
        let mut it = sbi.itable.lock();
        it.load(&sbi.pm, sbi.blocks)
            .inspect_err(|_| pr_err!("{}: inode table is corrupt\n", sbi.name()))?;
    }
    // The snapshot log is the authority on epochs: the current one is
    // past every snapshot ever taken (the superblock's copy may lag after
    // a crash).
    let newest = crate::snapshot::load(sbi)?;
    if newest >= sbi.epoch() {
        sbi.epoch.store(newest + 1, Ordering::Relaxed);
    }
    if let Some(e) = sbi.opts.snapshot {
        if !sbi.snaps.lock().contains(e) {
            pr_err!("{}: there is no snapshot {}\n", sbi.name(), e);
            return Err(ENOENT);
        }
        // Read-only: inodes are read with only the entries of epochs up
        // to `e` (`inode::fill`); nothing is allocated or recovered.
        pr_info!("{}: mounting snapshot {} read-only\n", sbi.name(), e);
        return Ok(());
    }
    let snapshots = sbi.snaps.lock().len();
    let trusted = clean && snapshots == 0 && sbi.check_freelist(&sb).is_ok();
    if trusted {
        sbi.load_freelist(sb.freelist.get())?;
        // A read-only mount leaves the flag; `make_writable` clears it.
        if !sbi.read_only() {
            let mut s = sb;
            s.flags.set(s.flags.get() & !(SB_CLEAN | SB_FREELIST_CSUM));
            s.freelist.set(0);
            sbi.write_sb(&mut s)?;
        }
        pr_info!("{}: clean mount\n", sbi.name());
    } else {
        if clean && snapshots == 0 {
            pr_warn!(
                "{}: saved free list not trusted; rebuilding it from the logs\n",
                sbi.name()
            );
        }
        if clean && !sbi.read_only() {
            // With snapshots, the lists of what they keep are rebuilt from
            // the logs (they are not saved): a full scan, as after a crash.
            let mut s = sb;
            s.flags.set(s.flags.get() & !(SB_CLEAN | SB_FREELIST_CSUM));
            s.freelist.set(0);
            sbi.write_sb(&mut s)?;
        }
        recover(sbi)?;
    }
    Ok(())
}

/// Crash recovery: walks every live inode's log, marks its log pages and
/// data blocks used, and frees everything else. Also frees inodes left
/// with no links (unlinked while open when the system went down).
fn recover(sbi: &Sbi) -> Result {
    let mut used = crate::itable::Bitmap::new(sbi.blocks)?;
    for b in 0..FIRST_DATA_BLOCK {
        used.set(b)?;
    }
    let inos = sbi.itable.lock().live_inodes(&sbi.pm)?;
    let mut snaps = sbi.snaps.lock();
    let mut files = 0u64;
    for li in inos.iter() {
        let live = inode::mark_used(sbi, &mut snaps, li, &mut used).inspect_err(|e| {
            pr_err!(
                "{}: inode {} has a corrupt log ({:?}); refusing to mount\n",
                sbi.name(),
                li.ino,
                e
            )
        })?;
        if live {
            files += 1;
        }
    }
    for &p in sbi.itable.lock().pages() {
        if p >= FIRST_DATA_BLOCK {
            used.set(p).inspect_err(|_| {
                pr_err!(
                    "{}: inode table page {} is also used elsewhere\n",
                    sbi.name(),
                    p
                )
            })?;
        }
    }
    // Every unused block goes to the allocator, in runs.
    let mut b = FIRST_DATA_BLOCK;
    while b < sbi.blocks {
        if used.get(b) {
            b += 1;
            continue;
        }
        let start = b;
        while b < sbi.blocks && !used.get(b) {
            b += 1;
        }
        sbi.alloc.free(start, b - start)?;
    }
    pr_info!(
        "{}: recovered after unclean shutdown: {} inodes, {} free blocks\n",
        sbi.name(),
        files,
        sbi.alloc.free_blocks()
    );
    Ok(())
}

/// The result of [`check`].
pub(crate) struct CheckReport {
    /// Blocks the logs say live snapshots keep, and what the lists say.
    pub(crate) held: u64,
    pub(crate) held_listed: u64,
    pub(crate) used: u64,
    pub(crate) free: u64,
    pub(crate) leaked: u64,
    pub(crate) double: u64,
    pub(crate) inodes: u64,
}

/// A full consistency check of the mounted file system: every block must
/// be exactly one of used (by a fixed structure, an inode-table page, a
/// log page or a data block of a live inode) or free in the allocator.
/// Transactions are blocked meanwhile. Meant for tests on a quiet file
/// system (blocks of an operation in flight are counted as leaked).
pub(crate) fn check(sbi: &Sbi) -> Result<CheckReport> {
    // What the cleaner has not freed yet would count as leaked.
    crate::snapshot::clean(sbi)?;
    // Lock order: snapshots, then the log.
    let snaps = sbi.snaps.lock();
    let _g = sbi.log_lock.lock();
    let mut used = crate::itable::Bitmap::new(sbi.blocks)?;
    let mut r = CheckReport {
        used: 0,
        free: 0,
        leaked: 0,
        double: 0,
        inodes: 0,
        held: 0,
        held_listed: snaps.held_blocks(),
    };
    for b in 0..FIRST_DATA_BLOCK {
        used.set(b)?;
    }
    for &p in sbi.itable.lock().pages() {
        if p >= FIRST_DATA_BLOCK && used.set(p).is_err() {
            r.double += 1;
        }
    }
    let inos = sbi.itable.lock().live_inodes(&sbi.pm)?;
    for li in inos.iter() {
        r.inodes += 1;
        let mut dup = 0u64;
        let mut blocks = 0u64;
        let s = inode::scan(sbi, li.ino, &snaps, li.nlink, li.head, li.tail, |b| {
            blocks += 1;
            if used.set(b).is_err() {
                dup += 1;
            }
            Ok(())
        })?;
        s.data.for_each(|b, l, _| {
            blocks += l;
            for x in b..b + l {
                if used.set(x).is_err() {
                    dup += 1;
                }
            }
            Ok(())
        })?;
        if li.delete_epoch != 0 {
            // Deleted: kept whole for a snapshot.
            r.held += blocks;
        }
        for k in s.kept.iter() {
            r.held += k.len;
            for x in k.b..k.b + k.len {
                if used.set(x).is_err() {
                    dup += 1;
                }
            }
        }
        r.double += dup;
    }
    let mut free = crate::itable::Bitmap::new(sbi.blocks)?;
    sbi.alloc.for_each_range(|s, l| {
        for b in s..s + l {
            if free.set(b).is_err() {
                r.double += 1;
            }
        }
        Ok(())
    })?;
    for b in 0..sbi.blocks {
        match (used.get(b), free.get(b)) {
            (true, true) => r.double += 1,
            (true, false) => r.used += 1,
            (false, true) => r.free += 1,
            (false, false) => r.leaked += 1,
        }
    }
    Ok(r)
}

/// Walks one log to its tail, calling `f` for each page visited.
pub(crate) fn walk_pages(
    pm: &Pm,
    head: u64,
    tail: u64,
    mut f: impl FnMut(u64) -> Result,
) -> Result {
    let mut w = LogWalker::new(pm, head, tail);
    let mut buf = [0u8; MAX_ENTRY];
    let mut last = u64::MAX;
    if head != 0 {
        f(head / BLOCK_SIZE)?;
        last = head;
    }
    loop {
        let e = w.next_entry(&mut buf).map_err(|_| EINVAL)?;
        let Some(found) = e else { break };
        let pg = crate::format::log::page_of(found.addr);
        if pg != last {
            f(pg / BLOCK_SIZE)?;
            last = pg;
        }
    }
    // The tail may sit at the start of a fresh page with no entry yet.
    let tp = crate::format::log::page_of(tail);
    if tail % BLOCK_SIZE != 0 && tp != last && tail != 0 {
        f(tp / BLOCK_SIZE)?;
    }
    Ok(())
}

/// Used by /proc.
pub(crate) fn proc_sbi<'a>(p: *mut core::ffi::c_void) -> Option<&'a Sbi> {
    // SAFETY: the proc entries' data is the `Sbi` of a live mount; the
    // entries are removed before the `Sbi` is freed.
    unsafe { p.cast::<Sbi>().as_ref() }
}

#[allow(dead_code)]
fn _assert_inode_type(_: &NovaInode) {}
