// SPDX-License-Identifier: GPL-2.0
//! The DAX device under a mount: the reference taken at mount and its
//! kernel mapping of the whole device, put back when dropped.

use crate::glue::holder;
use crate::shim;
use core::ptr::NonNull;
use kernel::bindings;
use kernel::ffi::c_void;
use kernel::prelude::*;

/// A held reference to a super block's DAX device, and its mapping.
///
/// # Invariants
///
/// `dax` was returned by `nova_shim_dax_map` for the holder `holder` (`sb`,
/// or null for a snapshot view, which does not claim the device) and is
/// put exactly once, when this is dropped; `kaddr..kaddr + len` is the
/// kernel mapping of the whole device, valid until then.
pub(crate) struct DaxDev {
    dax: NonNull<c_void>,
    holder: *mut c_void,
    kaddr: *mut u8,
    len: u64,
}

// SAFETY: a DAX device reference may be used and put from any thread.
unsafe impl Send for DaxDev {}
// SAFETY: shared use only reads the pointer.
unsafe impl Sync for DaxDev {}

impl DaxDev {
    /// Takes a reference to `sb`'s DAX device and maps all of it; claims
    /// the device for `sb` unless `shared` (a snapshot view beside the
    /// live mount, which holds the claim).
    ///
    /// # Safety
    ///
    /// `sb` must be a super block being set up (`fill_super`), its block
    /// device open, and outlive the returned `DaxDev`.
    pub(crate) unsafe fn map(sb: *mut bindings::super_block, shared: bool) -> Result<Self> {
        let mut kaddr: *mut c_void = core::ptr::null_mut();
        let mut dax: *mut c_void = core::ptr::null_mut();
        let holder = if shared {
            core::ptr::null_mut()
        } else {
            holder(sb)
        };
        // SAFETY: per the contract, `sb`'s block device is open.
        let len = unsafe { shim::nova_shim_dax_map(sb, holder, &mut kaddr, &mut dax) };
        if len < 0 {
            return Err(Error::from_errno(len as i32));
        }
        let dax = NonNull::new(dax).ok_or(EINVAL)?;
        // INVARIANT: the reference just taken for `holder`, and the
        // mapping of `len` bytes it gave.
        Ok(Self {
            dax,
            holder,
            kaddr: kaddr.cast(),
            len: len as u64,
        })
    }

    /// The mapping's kernel address and length in bytes (valid while
    /// `self` is).
    pub(crate) fn mapping(&self) -> (*mut u8, u64) {
        (self.kaddr, self.len)
    }

    /// The device, for the DAX fault and writeback paths.
    pub(crate) fn as_ptr(&self) -> *mut c_void {
        self.dax.as_ptr()
    }
}

impl Drop for DaxDev {
    fn drop(&mut self) {
        // SAFETY: by the type invariant, the reference is held and this is
        // the one put.
        unsafe { shim::nova_shim_dax_put(self.dax.as_ptr(), self.holder) };
    }
}
