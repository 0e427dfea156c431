// SPDX-License-Identifier: GPL-2.0
//! The handle of the cleaner kernel thread (started, woken and stopped
//! through the shim, which owns its loop).

use crate::shim;
use kernel::ffi::c_void;
use kernel::prelude::*;
use kernel::str::CStr;

/// The cleaner kthread of a writable mount (its loop is in the shim): it
/// sleeps until woken, then runs `cleaner::clean` and the queued log GC.
pub(crate) struct Cleaner(core::ptr::NonNull<c_void>);

// SAFETY: the shim's cleaner is a kthread handle, usable from any thread.
unsafe impl Send for Cleaner {}
// SAFETY: as above; waking is a wait-queue operation.
unsafe impl Sync for Cleaner {}

impl Cleaner {
    /// Starts the thread, which calls `nova_rs_clean(data)` (in
    /// `cleaner.rs`) each time it is woken.
    ///
    /// # Safety
    ///
    /// `data` must be the mount's `Sbi` and outlive the `Cleaner`.
    pub(crate) unsafe fn start(data: *const c_void, name: &CStr) -> Result<Self> {
        // SAFETY: the thread only passes `data` to `nova_rs_clean`, and the
        // `Cleaner` is dropped (thread stopped) before `data` goes
        // (contract).
        let c = unsafe { shim::nova_shim_cleaner_start(data.cast_mut(), name.as_char_ptr()) };
        core::ptr::NonNull::new(c).map(Self).ok_or(ENOMEM)
    }

    pub(crate) fn wake(&self) {
        // SAFETY: a running cleaner (owned by `self`).
        unsafe { shim::nova_shim_cleaner_wake(self.0.as_ptr()) };
    }
}

impl Drop for Cleaner {
    fn drop(&mut self) {
        // SAFETY: started in `start`; stops the thread and waits for it.
        unsafe { shim::nova_shim_cleaner_stop(self.0.as_ptr()) };
    }
}
