// SPDX-License-Identifier: GPL-2.0
//! The fault gate: write faults (and in-place writes, `inplace.rs`) pass
//! it shared, taking a snapshot (and
//! the cleaner, before it frees blocks a fault may still be swapping out)
//! closes it.

use crate::shim;
use kernel::bindings;
use kernel::ffi::c_int;
use kernel::prelude::*;

/// The fault gate, an `rw_semaphore` in the shim: write faults pass it
/// shared; taking a snapshot closes it while it write-protects every
/// mapping, so no store lands in a block between the two.
pub(crate) struct FaultGate(core::ptr::NonNull<bindings::rw_semaphore>);

// SAFETY: an rw_semaphore is meant to be shared between threads.
unsafe impl Send for FaultGate {}
// SAFETY: as above.
unsafe impl Sync for FaultGate {}

/// Which gate (each its own lockdep class).
#[derive(Clone, Copy)]
pub(crate) enum GateKind {
    /// The fault gate (`Sbi::gate`).
    Fault = 0,
    /// The commit gate (`Sbi::commit_gate`): transactions and log GC pass
    /// it; taking a snapshot (which starts a new epoch) and `check` close
    /// it. Taken inside the fault gate and the snapshot table's lock.
    Commit = 1,
}

impl FaultGate {
    pub(crate) fn new(kind: GateKind) -> Result<Self> {
        // SAFETY: allocates and initialises a semaphore; null on failure.
        let p = unsafe { shim::nova_shim_gate_new(kind as c_int) };
        core::ptr::NonNull::new(p).map(Self).ok_or(ENOMEM)
    }

    pub(crate) fn as_ptr(&self) -> *mut bindings::rw_semaphore {
        self.0.as_ptr()
    }

    /// Passes the gate (shared, as write faults do) until the guard is
    /// dropped: no snapshot is taken meanwhile.
    pub(crate) fn pass(&self) -> GatePassed<'_> {
        // SAFETY: a live semaphore (owned by `self`).
        unsafe { bindings::down_read(self.as_ptr()) };
        GatePassed(self)
    }

    /// Closes the gate until the guard is dropped.
    pub(crate) fn close(&self) -> GateClosed<'_> {
        // SAFETY: a live semaphore (owned by `self`).
        unsafe { bindings::down_write(self.as_ptr()) };
        GateClosed(self)
    }
}

impl Drop for FaultGate {
    fn drop(&mut self) {
        // SAFETY: allocated by `new`; the mount is gone, so no fault or
        // snapshot uses it any more.
        unsafe { shim::nova_shim_gate_free(self.as_ptr()) };
    }
}

/// The gate closed; it opens again when this is dropped.
pub(crate) struct GateClosed<'a>(&'a FaultGate);

impl Drop for GateClosed<'_> {
    fn drop(&mut self) {
        // SAFETY: closed in `FaultGate::close`.
        unsafe { bindings::up_write(self.0.as_ptr()) };
    }
}

/// The gate passed (held shared); released when this is dropped.
pub(crate) struct GatePassed<'a>(&'a FaultGate);

impl Drop for GatePassed<'_> {
    fn drop(&mut self) {
        // SAFETY: taken shared in `FaultGate::pass`.
        unsafe { bindings::up_read(self.0.as_ptr()) };
    }
}
