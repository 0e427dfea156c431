// SPDX-License-Identifier: GPL-2.0
//! What the super blocks of one device share. The live file system and
//! the snapshot views beside it (`-o snapshot=E`, `.snapshots/E`) each
//! have their own super block and `Sbi`, but a view reads what the live
//! mount writes, so two things must be agreed on per device:
//!
//! * **Holds**: a view holds its snapshot's epoch from mount to unmount;
//!   deleting a held snapshot fails with `EBUSY` (`snapshot::delete`), so
//!   the blocks and inode slots the view reads are never freed under it.
//!   The check and the deletion's commit happen under the registry lock,
//!   as does taking a hold; a view that holds its epoch and then reads
//!   the snapshot log therefore either sees the deletion or was seen by it.
//! * **Log page frees**: a view walks logs the live mount may collect
//!   (log GC frees the old pages, which another file may then reuse). Every
//!   free of a log page, and the live mount's recovery, runs inside a
//!   `Freeing` span; a view's walk (`read_begin`/`read_changed`) is retried
//!   when a span began or ran while it walked, like a seqcount reader.
//!   The walk only reads, so whatever it read from a reused page is thrown
//!   away with the attempt. After [`OPTIMISTIC`] attempts a walk *blocks*
//!   the spans instead (`read_exclusive`): new ones wait until it ends,
//!   running ones are waited for, so a view makes progress beside any
//!   amount of log churn.

use core::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering};
use kernel::prelude::*;
use kernel::sync::Arc;
use kernel::time::{delay::fsleep, Delta};

/// The counters of the log-page frees of one device.
pub(crate) struct Shared {
    /// Bumped at the start of every `Freeing` span.
    gen: AtomicU64,
    /// `Freeing` spans running now.
    active: AtomicU64,
    /// Walks that keep spans from starting (`read_exclusive`).
    block: AtomicU64,
}

/// One device in the registry.
pub(crate) struct Entry {
    dev: u32,
    /// Super blocks of the device (live and views) using the entry.
    users: u32,
    /// Those of them that are the live file system (not views).
    live: u32,
    /// Live super blocks that are, or were made, writable: each puts the
    /// journal back on pmem (or did), so an active journal beside one is
    /// an operation in flight, not one that awaits recovery.
    writers: u32,
    share: Arc<Shared>,
    /// Held snapshot epochs, each with the number of views holding it.
    holds: KVec<(u64, u32)>,
}

kernel::sync::global_lock! {
    // SAFETY: `init` is called once at module load, before any mount.
    pub(crate) unsafe(uninit) static DEVICES: Mutex<KVec<Entry>> = KVec::new();
}

/// A super block's use of its device's entry; dropped at unmount.
pub(crate) struct DevRef {
    dev: u32,
    live: bool,
    /// Counted in the entry's `writers` (`set_writer`).
    writer: AtomicBool,
    share: Arc<Shared>,
}

/// Finds or makes the entry of device `dev` (a `dev_t`), for the live
/// file system's super block (`live`) or a view's.
pub(crate) fn get(dev: u32, live: bool) -> Result<DevRef> {
    let mut devs = DEVICES.lock();
    if let Some(e) = devs.iter_mut().find(|e| e.dev == dev) {
        e.users += 1;
        e.live += u32::from(live);
        return Ok(DevRef {
            dev,
            live,
            writer: AtomicBool::new(false),
            share: e.share.clone(),
        });
    }
    let share = Arc::new(
        Shared {
            gen: AtomicU64::new(0),
            active: AtomicU64::new(0),
            block: AtomicU64::new(0),
        },
        GFP_KERNEL,
    )?;
    devs.push(
        Entry {
            dev,
            users: 1,
            live: u32::from(live),
            writers: 0,
            share: share.clone(),
            holds: KVec::new(),
        },
        GFP_KERNEL,
    )?;
    Ok(DevRef {
        dev,
        live,
        writer: AtomicBool::new(false),
        share,
    })
}

impl Drop for DevRef {
    fn drop(&mut self) {
        let mut devs = DEVICES.lock();
        if let Some(i) = devs.iter().position(|e| e.dev == self.dev) {
            if let Some(e) = devs.get_mut(i) {
                e.users = e.users.saturating_sub(1);
                e.live = e.live.saturating_sub(u32::from(self.live));
                let w = self.writer.load(Ordering::Relaxed);
                e.writers = e.writers.saturating_sub(u32::from(w));
                if e.users == 0 {
                    let _ = devs.remove(i);
                }
            }
        }
    }
}

/// The holds of a device, seen under the registry lock.
pub(crate) struct Holds<'a>(&'a [(u64, u32)]);

impl Holds<'_> {
    /// Whether a view holds snapshot `epoch`.
    pub(crate) fn held(&self, epoch: u64) -> bool {
        self.0.iter().any(|&(e, n)| e == epoch && n > 0)
    }

    /// Whether a view holds any snapshot.
    pub(crate) fn any(&self) -> bool {
        self.0.iter().any(|&(_, n)| n > 0)
    }
}

/// A view's hold on its snapshot epoch; released when dropped.
pub(crate) struct Hold {
    dev: u32,
    epoch: u64,
}

impl Drop for Hold {
    fn drop(&mut self) {
        let mut devs = DEVICES.lock();
        if let Some(e) = devs.iter_mut().find(|e| e.dev == self.dev) {
            if let Some(i) = e.holds.iter().position(|&(x, _)| x == self.epoch) {
                if let Some(h) = e.holds.get_mut(i) {
                    h.1 = h.1.saturating_sub(1);
                    if h.1 == 0 {
                        let _ = e.holds.remove(i);
                    }
                }
            }
        }
    }
}

/// A span in which log pages may be freed (see the module comment).
pub(crate) struct Freeing(Arc<Shared>);

impl Drop for Freeing {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Attempts of a snapshot view's walk beside log page frees before it
/// blocks them (`read_exclusive`).
pub(crate) const OPTIMISTIC: u32 = 3;

/// A walk that keeps log page frees from starting; they go on when it is
/// dropped.
pub(crate) struct Exclusive(Arc<Shared>);

impl Drop for Exclusive {
    fn drop(&mut self) {
        self.0.block.fetch_sub(1, Ordering::SeqCst);
    }
}

/// How long a view waits for a span (the live mount's recovery) to end
/// before it gives up on an inode, in milliseconds.
const WAIT_MS: u32 = 60_000;

impl DevRef {
    /// Holds snapshot `epoch` for a view.
    /// Whether `other` is a super block of the same device.
    pub(crate) fn same_device(&self, other: &DevRef) -> bool {
        self.dev == other.dev
    }

    pub(crate) fn hold(&self, epoch: u64) -> Result<Hold> {
        let mut devs = DEVICES.lock();
        let e = devs.iter_mut().find(|e| e.dev == self.dev).ok_or(EINVAL)?;
        match e.holds.iter_mut().find(|h| h.0 == epoch) {
            Some(h) => h.1 = h.1.checked_add(1).ok_or(EBUSY)?,
            None => e.holds.push((epoch, 1), GFP_KERNEL)?,
        }
        Ok(Hold {
            dev: self.dev,
            epoch,
        })
    }

    /// Whether a live super block of the device is mounted (or being
    /// mounted) writable, or was made writable (`set_writer`): one that
    /// puts an interrupted operation's journal back on pmem. A read-only
    /// one rolls it back only in its own memory.
    pub(crate) fn live_writable(&self) -> bool {
        DEVICES
            .lock()
            .iter()
            .any(|e| e.dev == self.dev && e.writers > 0)
    }

    /// No longer counts this super block among the writers: its recovery
    /// failed, or it was shut down (a commit it left active on pmem then
    /// awaits the next mount's recovery).
    pub(crate) fn clear_writer(&self) {
        let mut devs = DEVICES.lock();
        if !self.writer.load(Ordering::Relaxed) {
            return;
        }
        if let Some(e) = devs.iter_mut().find(|e| e.dev == self.dev) {
            e.writers = e.writers.saturating_sub(1);
        }
        self.writer.store(false, Ordering::Relaxed);
    }

    /// Counts this live super block among the device's writers, before it
    /// recovers the journal on pmem (mount, or `remount,rw`); once only.
    pub(crate) fn set_writer(&self) {
        let mut devs = DEVICES.lock();
        if !self.live || self.writer.load(Ordering::Relaxed) {
            return;
        }
        if let Some(e) = devs.iter_mut().find(|e| e.dev == self.dev) {
            e.writers += 1;
            self.writer.store(true, Ordering::Relaxed);
        }
    }

    /// Runs `f` with the device's holds under the registry lock (which a
    /// new hold waits for).
    pub(crate) fn with_holds<R>(&self, f: impl FnOnce(&Holds<'_>) -> R) -> R {
        let devs = DEVICES.lock();
        let h = devs
            .iter()
            .find(|e| e.dev == self.dev)
            .map_or(&[][..], |e| &e.holds[..]);
        f(&Holds(h))
    }

    /// Starts a span in which log pages may be freed.
    pub(crate) fn freeing(&self) -> Freeing {
        let s = &self.share;
        loop {
            // `active` first: a reader that saw it zero after reading
            // `gen` sees `gen` change at its end; one that blocks spans
            // (`block` up, then waits for `active` to be zero) is either
            // seen here or sees this span.
            s.active.fetch_add(1, Ordering::SeqCst);
            if s.block.load(Ordering::SeqCst) == 0 {
                break;
            }
            s.active.fetch_sub(1, Ordering::SeqCst);
            while s.block.load(Ordering::SeqCst) != 0 {
                fsleep(Delta::from_micros(100));
            }
        }
        s.gen.fetch_add(1, Ordering::SeqCst);
        Freeing(s.clone())
    }

    /// A walk no span may run beside (after `OPTIMISTIC` failed ones):
    /// new spans wait until the returned guard is dropped; the running
    /// ones are waited for here.
    pub(crate) fn read_exclusive(&self) -> Result<Exclusive> {
        let s = &self.share;
        s.block.fetch_add(1, Ordering::SeqCst);
        let g = Exclusive(s.clone());
        for _ in 0..WAIT_MS {
            if s.active.load(Ordering::SeqCst) == 0 {
                return Ok(g);
            }
            fsleep(Delta::from_millis(1));
        }
        Err(EBUSY)
    }

    /// Starts a walk of logs the live mount may change: waits until no
    /// span runs and returns the generation to give `read_changed`.
    pub(crate) fn read_begin(&self) -> Result<u64> {
        for _ in 0..WAIT_MS {
            let g = self.share.gen.load(Ordering::SeqCst);
            if self.share.active.load(Ordering::SeqCst) == 0 {
                return Ok(g);
            }
            fsleep(Delta::from_millis(1));
        }
        Err(EBUSY)
    }

    /// Whether a span began or ran since `read_begin` gave `g`: what was
    /// read may come from a reused page, and the walk must be redone.
    pub(crate) fn read_changed(&self, g: u64) -> bool {
        fence(Ordering::SeqCst);
        self.share.active.load(Ordering::SeqCst) != 0 || self.share.gen.load(Ordering::SeqCst) != g
    }
}
