// SPDX-License-Identifier: GPL-2.0
//! Where the time of a write goes: nanoseconds spent per phase of the
//! hot paths, summed while profiling is on (`echo 1 >
//! /proc/fs/nova/<dev>/prof`), read back from the same file, cleared by
//! `echo 0`. Off by default; when off, a phase costs one relaxed load.
//!
//! The phases nest (a `write` span contains the others), so the sum of
//! the inner phases against the outer one shows what is left unaccounted.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use kernel::time::{Instant, Monotonic};

/// A measured phase.
#[derive(Clone, Copy)]
pub(crate) enum Phase {
    /// The whole `write_iter` (inode lock to return, GC check included).
    Write,
    /// `generic_write_checks` and `file_remove_privs`.
    Checks,
    /// Taking new blocks from the allocator.
    Alloc,
    /// Copying the user data into the new blocks.
    Copy,
    /// Taking the mapping lock and breaking the layout of the range.
    Layout,
    /// Head and tail bytes copied from the old blocks.
    Fill,
    /// Beginning the transaction (commit gate, log claim) and reserving
    /// index memory before the commit.
    Reserve,
    /// Building, sealing and writing the log entries.
    Append,
    /// The commit itself (fences, tail store or journal), the index
    /// switch included.
    Commit,
    /// Switching the index to the new blocks (inside `Commit`: it happens
    /// before the log's claim is given back).
    Switch,
    /// Releasing the replaced blocks (to a snapshot or the allocator).
    Release,
    /// The log GC check after a write.
    GcCheck,
    /// Log GC (any thread): walking the log and replaying its entries.
    GcWalk,
    /// Log GC: deciding which entries and pages stay.
    GcDecide,
    /// Log GC: copying the needed entries to a new log (thorough GC).
    GcCopy,
}

const NAMES: [&str; NPHASES] = [
    "write",
    "checks",
    "alloc",
    "copy",
    "layout",
    "fill",
    "reserve",
    "append",
    "commit",
    "switch",
    "release",
    "gc_check",
    "gc_walk",
    "gc_decide",
    "gc_copy",
];

/// Number of phases.
const NPHASES: usize = 15;

/// Per-phase sums (see the module comment).
pub(crate) struct Prof {
    on: AtomicBool,
    ns: [AtomicU64; NPHASES],
    count: [AtomicU64; NPHASES],
}

/// A phase being timed; adds its time when dropped.
pub(crate) struct Span<'a> {
    prof: &'a Prof,
    phase: Phase,
    start: Option<Instant<Monotonic>>,
}

impl Drop for Span<'_> {
    // Inline, so that a span costs no call while profiling is off (a
    // write has a dozen).
    #[inline]
    fn drop(&mut self) {
        if let Some(s) = self.start {
            self.prof.add(self.phase, s);
        }
    }
}

impl Prof {
    pub(crate) const fn new() -> Self {
        Self {
            on: AtomicBool::new(false),
            ns: [const { AtomicU64::new(0) }; NPHASES],
            count: [const { AtomicU64::new(0) }; NPHASES],
        }
    }

    /// Starts timing `phase` (nothing when profiling is off).
    #[inline]
    pub(crate) fn span(&self, phase: Phase) -> Span<'_> {
        let start = if self.on.load(Ordering::Relaxed) {
            Some(Instant::<Monotonic>::now())
        } else {
            None
        };
        Span {
            prof: self,
            phase,
            start,
        }
    }

    /// Adds the time since `start` to `phase`.
    #[cold]
    #[inline(never)]
    fn add(&self, phase: Phase, start: Instant<Monotonic>) {
        let d = start.elapsed().as_nanos().max(0) as u64;
        let i = phase as usize;
        if let (Some(ns), Some(n)) = (self.ns.get(i), self.count.get(i)) {
            ns.fetch_add(d, Ordering::Relaxed);
            n.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Turns profiling on or off; turning it off clears the sums.
    pub(crate) fn set(&self, on: bool) {
        self.on.store(on, Ordering::Relaxed);
        if !on {
            for (a, b) in self.ns.iter().zip(self.count.iter()) {
                a.store(0, Ordering::Relaxed);
                b.store(0, Ordering::Relaxed);
            }
        }
    }

    /// Each phase: name, count and total nanoseconds.
    pub(crate) fn rows(&self) -> impl Iterator<Item = (&'static str, u64, u64)> + '_ {
        NAMES
            .iter()
            .zip(self.count.iter().zip(self.ns.iter()))
            .map(|(n, (c, t))| (*n, c.load(Ordering::Relaxed), t.load(Ordering::Relaxed)))
    }
}
