// SPDX-License-Identifier: GPL-2.0
//! Mounting and unmounting: mapping the device and building the `Sbi`,
//! formatting (`-o init`), mounting an existing image (clean: load the
//! saved allocator; crashed: rebuild it from the logs, `recovery.rs`),
//! clean unmount, and the read-only/read-write switches of remount.

use crate::balloc::Allocator;
use crate::format::layout::*;
use crate::format::le::Pod;
use crate::format::snapshot::SnapSet;
use crate::gate::{FaultGate, GateKind};
use crate::glue::{cpu_regions, random_bytes, tables};
use crate::ksuper::NewSuper;
use crate::owners::Owners;
use crate::sbi::{now_secs, MountOpts, SbChoice, Sbi};
use crate::{cleaner, freelist, iget, journal, recovery};
use core::sync::atomic::Ordering;
use kernel::bindings;
use kernel::prelude::*;
use kernel::str::CString;

/// Clean unmount: save the allocator state and mark the superblock clean.
pub(crate) fn unmount(sbi: &Sbi) {
    // Stop the cleaner and do what it had left.
    sbi.stop_cleaner();
    if !sbi.read_only() && !sbi.is_shut_down() {
        // (Not one byte changes on a read-only mount: a writable mount
        // made read-only saved its state then.)
        save_state(sbi);
    }
    // The test hook of hardening.sh: a snapshot command that could still
    // run now would change the device after its state was saved.
    let ms = crate::module_parameters::unmount_delay_ms.value();
    if ms != 0 {
        kernel::time::delay::fsleep(kernel::time::Delta::from_millis(i64::from(ms)));
    }
}

/// `remount,ro`: the cleaner stops, what it had left is done, and the
/// allocator is saved with the clean flag, as at unmount; from then on
/// nothing is written until the mount is writable again.
pub(crate) fn make_read_only(sbi: &Sbi) {
    // No snapshot command from here on: the VFS sets `SB_RDONLY` only
    // after this returns, and the state is saved now.
    let mut stopped = sbi.commands.lock();
    *stopped = true;
    // (The VFS refuses it while a file open after its last unlink
    // waits for deletion, `s_remove_count`.)
    sbi.stop_cleaner();
    // An eviction between the save and the VFS's `SB_RDONLY` must not log
    // (its access time is lost, as for any read-only mount).
    sbi.set_state_saved(true);
    save_state(sbi);
}

/// `remount,rw` of a read-only mount: the clean flag goes (the saved
/// free list stops being the truth as soon as anything changes) and
/// the cleaner starts.
pub(crate) fn make_writable(sbi: &Sbi) -> Result {
    // What a read-only mount rolled back in memory goes to pmem now;
    // snapshot views may mount beside it from here on (those mounting
    // meanwhile wait for the recovery's end, as at mount).
    {
        let _freeing = sbi.dev.freeing();
        sbi.dev.set_writer();
        if let Err(e) = journal::recover(sbi) {
            sbi.dev.clear_writer();
            return Err(e);
        }
    }
    // Both copies are written (a read-only mount may have used the
    // replica without repairing the primary).
    let mut sb = sbi.current_sb()?;
    clear_clean(&mut sb);
    sbi.write_sb(&mut sb)?;
    sbi.set_state_saved(false);
    sbi.start_cleaner();
    *sbi.commands.lock() = false;
    Ok(())
}

/// Runs the cleaner's leftovers and saves the allocator with the clean
/// flag (unless the next mount must recover).
fn save_state(sbi: &Sbi) {
    if let Err(e) = cleaner::clean(sbi) {
        pr_err!("{}: snapshot cleaner: {:?}\n", sbi.name(), e);
    }
    if sbi.must_recover() {
        pr_warn!(
            "{}: {} blocks could not be released, or a deletion could not finish; \
             the next mount recovers from the logs\n",
            sbi.name(),
            sbi.lost_blocks()
        );
        return;
    }
    match freelist::save(sbi) {
        Ok(()) => {}
        Err(e) => pr_err!(
            "{}: saving allocator state failed ({:?}); next mount will recover\n",
            sbi.name(),
            e
        ),
    }
}

/// Reads the snapshot log (`snapshot::load`); a snapshot view reads it
/// again when the live mount freed log pages meanwhile (`devshare`).
fn load_snapshots(sbi: &Sbi) -> Result<u64> {
    if sbi.opts.snapshot.is_none() {
        return crate::snapshot::load(sbi);
    }
    for _ in 0..crate::devshare::OPTIMISTIC {
        let g = sbi.dev.read_begin()?;
        let r = crate::snapshot::load(sbi);
        if !sbi.dev.read_changed(g) {
            return r;
        }
        *sbi.snaps.lock() = crate::snaplist::Snapshots::new();
    }
    // Then with log page frees held off (`devshare`).
    let _exclusive = sbi.dev.read_exclusive()?;
    crate::snapshot::load(sbi)
}

/// Maps the device and builds the `Sbi`; formats or mounts the image.
pub(crate) fn fill_super(vsb: NewSuper, opts: MountOpts) -> Result {
    // Registered at module load; without them no inode could work.
    let tables = tables().ok_or(EINVAL)?;
    // A snapshot view is named `pmem0@E` in messages (its `s_id` is the
    // key that finds it, `shim.c`).
    let devname = match opts.snapshot {
        Some(e) => CString::try_from_fmt(fmt!("{}@{}", &*vsb.bdev_name()?, e))?,
        None => CString::try_from_fmt(fmt!("{}", vsb.id()))?,
    };
    let dev = crate::devshare::get(vsb.bdev_dev(), opts.snapshot.is_none())?;
    let dax = vsb.map_dax(opts.snapshot.is_some()).inspect_err(|e| {
        pr_err!(
            "{}: device does not support DAX (error {}); nova needs a pmem device\n",
            &*devname,
            e.to_errno()
        )
    })?;
    let blocks = dax.mapping().1 / BLOCK_SIZE;
    if blocks < MIN_BLOCKS {
        pr_err!(
            "{}: device too small ({} blocks, need {})\n",
            &*devname,
            blocks,
            MIN_BLOCKS
        );
        return Err(EINVAL);
    }
    let alloc = Allocator::new(FIRST_DATA_BLOCK, blocks, cpu_regions())?;
    let gate = FaultGate::new(GateKind::Fault)?;
    let commit_gate = FaultGate::new(GateKind::Commit)?;
    let sbi = KBox::pin_init(
        Sbi::new(
            dax,
            vsb.raw(),
            devname,
            alloc,
            [gate, commit_gate],
            opts,
            dev,
        ),
        GFP_KERNEL,
    )?;
    let sbi = vsb.install(sbi, tables, opts.snapshot.is_some(), !opts.noacl);
    // Test hooks (crashenum): the trace an unmount parked becomes this
    // mount's; a trace armed by `echo next > trace` traces this mount
    // from here on.
    sbi.pm().trace_adopt_parked();
    let cap = crate::pm::take_armed();
    if cap != 0 {
        if let Err(e) = sbi.pm().trace_start(cap) {
            pr_warn!("{}: the armed trace: {:?}\n", sbi.name(), e);
        }
    }
    if opts.init {
        if opts.snapshot.is_some() {
            pr_err!("{}: init and snapshot= do not go together\n", sbi.name());
            return Err(EINVAL);
        }
        if sbi.read_only() {
            pr_err!("{}: init needs a read-write mount\n", sbi.name());
            return Err(EROFS);
        }
        if sbi.dev.with_holds(|h| h.any()) {
            pr_err!(
                "{}: a snapshot of the device is mounted: unmount it before formatting\n",
                sbi.name()
            );
            return Err(EBUSY);
        }
        let _freeing = sbi.dev.freeing();
        format(sbi)?;
    }
    if opts.snapshot.is_none() {
        // Snapshot views mounted meanwhile wait for the recovery's end.
        let _freeing = sbi.dev.freeing();
        if !sbi.read_only() {
            sbi.dev.set_writer();
        }
        mount(sbi)?;
    } else {
        mount(sbi)?;
    }
    // From here on the `Sbi` is shared (/proc, inodes, the cleaner).
    let sbi: &Sbi = sbi;
    sbi.add_proc();
    vsb.set_root(iget::iget(sbi, ROOT_INO)?)?;
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
    let pm = sbi.pm();
    // Other file systems' signatures go (the fixed blocks with them).
    for (at, len) in wipe_ranges(sbi.blocks) {
        pm.zero(at, len)?;
    }
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
        let page = crate::log::new_log_page_in(sbi, ino, 0)?;
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
    random_bytes(&mut uuid);
    let mut sb = SuperBlock::new(sbi.blocks, cpu_regions(), sec, uuid);
    sbi.write_sb(&mut sb)?;
    // The allocator is rebuilt by mount (clean flag not set: full scan).
    let a = Allocator::new(FIRST_DATA_BLOCK, sbi.blocks, cpu_regions())?;
    sbi.alloc = a;
    sbi.owners = Owners::new(sbi.blocks)?;
    pr_info!("{}: formatted, {} blocks\n", sbi.name(), sbi.blocks);
    Ok(())
}

/// Mounts an image: superblock, journal replay, inode table, allocator
/// (saved state or full recovery).
fn mount(sbi: &mut Sbi) -> Result {
    let sb = match sbi.pick_sb()? {
        SbChoice::Primary(p) => p,
        SbChoice::Replica(r, pe) => {
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
        SbChoice::Neither(pe, re) => {
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
    // Blocks with several users are counted by the scan below.
    let reflinked = sb.version.get() == FORMAT_VERSION_SHARED;
    sbi.reflinked.store(reflinked, Ordering::Release);
    if sbi.opts.snapshot.is_some() {
        // A snapshot view reads only entries of its epoch or older; what
        // an interrupted multi-inode operation wrote is newer, except a
        // log GC's head and tail, which only a writable live mount's
        // recovery puts back together (a read-only one rolls them back in
        // its own memory only): without one, refuse.
        if journal::is_active(sbi)? && !sbi.dev.live_writable() {
            pr_err!(
                "{}: an interrupted operation awaits recovery: mount the file system (read-write) once first\n",
                sbi.name()
            );
            return Err(EUCLEAN);
        }
    } else if sbi.read_only() {
        // Not one byte may change: the rollback lives in memory until the
        // mount becomes writable (`make_writable`).
        journal::recover_in_memory(sbi)?;
    } else {
        journal::recover(sbi)?;
    }
    let regions = sb.cpus.get();
    sbi.alloc = Allocator::new(FIRST_DATA_BLOCK, sbi.blocks, regions.min(64))?;
    sbi.owners = Owners::new(sbi.blocks)?;
    let clean = sb.flags.get() & SB_CLEAN != 0;
    {
        let mut it = sbi.itable.lock();
        it.load(sbi.pm(), sbi.blocks)
            .inspect_err(|_| pr_err!("{}: inode table is corrupt\n", sbi.name()))?;
    }
    // A view holds its epoch before it reads the snapshot log: a deletion
    // committed before the hold is in the log, and one after it fails
    // (`devshare`).
    if let Some(e) = sbi.opts.snapshot {
        sbi.hold = Some(sbi.dev.hold(e)?);
    }
    // The snapshot log is the authority on epochs: the current one is
    // past every snapshot ever taken (the superblock's copy may lag after
    // a crash).
    let newest = load_snapshots(sbi)?;
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
    // With snapshots, their held lists must have been saved too; with
    // reflink copies, the shared ranges (in the same chain).
    let held = (snapshots == 0 && !reflinked) || sb.flags.get() & SB_HELD != 0;
    let mut trusted = clean && held && freelist::check(sbi, &sb).is_ok();
    if trusted {
        freelist::load(sbi, sb.freelist.get())?;
        if snapshots != 0 || reflinked {
            if let Err(e) = crate::heldlist::load(sbi, sb.held.get(), sb.held_csum.get()) {
                pr_warn!(
                    "{}: saved held lists not trusted ({:?}); rebuilding them from the logs\n",
                    sbi.name(),
                    e
                );
                // Back to the state before the loads: all blocks busy,
                // empty lists, for the scan.
                sbi.alloc = Allocator::new(FIRST_DATA_BLOCK, sbi.blocks, regions.min(64))?;
                sbi.snaps.lock().clear_kept();
                *sbi.shared.lock() = crate::shared::Shared::new();
                trusted = false;
            }
        }
    } else if clean && held {
        pr_warn!(
            "{}: saved free list not trusted; rebuilding it from the logs\n",
            sbi.name()
        );
    }
    // A read-only mount leaves the flag; `make_writable` clears it. The
    // scan's mount clears it too (it rebuilds everything).
    if clean && !sbi.read_only() {
        let mut s = sb;
        clear_clean(&mut s);
        sbi.write_sb(&mut s)?;
    }
    if trusted {
        pr_info!("{}: clean mount\n", sbi.name());
    } else {
        recovery::recover(sbi, clean && !held)?;
    }
    Ok(())
}

/// Clears the clean flag and what it vouches for (the saved free list
/// and held lists) in a superblock about to be written.
pub(crate) fn clear_clean(s: &mut SuperBlock) {
    s.flags
        .set(s.flags.get() & !(SB_CLEAN | SB_FREELIST_CSUM | SB_HELD));
    s.freelist.set(0);
    s.held.set(0);
    s.held_csum.set(0);
}
