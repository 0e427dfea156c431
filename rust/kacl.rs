// SPDX-License-Identifier: GPL-2.0
//! POSIX ACLs as owned values over the kernel's `struct posix_acl` (a
//! counted reference, released on drop), and the kernel's ACL helpers
//! nova uses: the stored form (`posix_acl_xattr`), `get_inode_acl` and
//! the VFS's ACL cache, `posix_acl_create` (inheritance and the umask),
//! `posix_acl_update_mode` and `__posix_acl_chmod`.

use crate::inode::NovaInode;
use crate::shim;
use core::ptr::{self, NonNull};
use kernel::bindings;
use kernel::ffi::{c_int, c_void};
use kernel::prelude::*;

/// `ACL_TYPE_ACCESS` (a macro the bindings lack).
pub(crate) const ACL_TYPE_ACCESS: c_int = 0x8000;
/// `ACL_TYPE_DEFAULT` (a macro the bindings lack).
pub(crate) const ACL_TYPE_DEFAULT: c_int = 0x4000;

/// A counted reference to a POSIX ACL.
///
/// # Invariants
///
/// `0` is a live `posix_acl` on which this holds one reference.
pub(crate) struct Acl(NonNull<bindings::posix_acl>);

/// An ACL pointer from the kernel: an error, none (null) or a reference
/// that moves to the result.
///
/// # Safety
///
/// `p` must be an `ERR_PTR`, null, or a `posix_acl` with a reference the
/// caller gives up.
unsafe fn own(p: *mut bindings::posix_acl) -> Result<Option<Acl>> {
    let p = kernel::error::from_err_ptr(p)?;
    // INVARIANT: per the contract.
    Ok(NonNull::new(p).map(Acl))
}

impl Acl {
    /// The ACL a stored value (the `posix_acl_xattr` form) holds, checked
    /// as `setfacl`'s are; `None` for an empty one.
    pub(crate) fn decode(v: &[u8]) -> Result<Option<Acl>> {
        // SAFETY: `v` is readable for its length; the shim returns an
        // error, null or a new reference.
        unsafe { own(shim::nova_shim_acl_from_value(v.as_ptr().cast(), v.len())) }
    }

    /// The stored form of the ACL.
    pub(crate) fn encode(&self) -> Result<KVec<u8>> {
        // SAFETY: a live ACL (invariant).
        let n = unsafe { shim::nova_shim_acl_value_len(self.0.as_ptr()) };
        let mut v = KVec::from_elem(0u8, n, GFP_KERNEL)?;
        // SAFETY: `v` has `n` writable bytes; a live ACL.
        kernel::error::to_result(unsafe {
            shim::nova_shim_acl_to_value(self.0.as_ptr(), v.as_mut_ptr().cast::<c_void>(), n)
        })?;
        Ok(v)
    }

    /// A reference of our own to an ACL the VFS lends (`set_acl`).
    ///
    /// # Safety
    ///
    /// `p` must be null or a live `posix_acl` for the call.
    pub(crate) unsafe fn borrowed(p: *mut bindings::posix_acl) -> Option<Acl> {
        let p = NonNull::new(p)?;
        // SAFETY: `p` is a live ACL (contract); `posix_acl_dup` takes a
        // new reference and returns the same pointer.
        let d = unsafe { shim::nova_shim_acl_dup(p.as_ptr()) };
        // INVARIANT: the reference just taken is ours.
        NonNull::new(d).map(Acl)
    }

    /// Gives the reference to the caller (`get_inode_acl`'s answer).
    pub(crate) fn into_raw(self) -> *mut bindings::posix_acl {
        let p = self.0.as_ptr();
        core::mem::forget(self);
        p
    }

    /// The ACL a `chmod` to `mode` leaves (`__posix_acl_chmod`: the owner,
    /// mask or group and other entries take the new permission bits).
    pub(crate) fn chmod(self, mode: u32) -> Result<Acl> {
        let mut p = self.into_raw();
        // SAFETY: `p` is our reference; `__posix_acl_chmod` replaces it by
        // a changed copy (dropping ours) or releases it and sets an error.
        let r = unsafe { shim::nova_shim_acl_chmod(&mut p, mode as u16) };
        if r != 0 {
            return Err(Error::from_errno(r));
        }
        // SAFETY: on success `p` is a reference that is ours.
        unsafe { own(p) }?.ok_or(EINVAL)
    }
}

impl Drop for Acl {
    fn drop(&mut self) {
        // SAFETY: our reference (invariant).
        unsafe { shim::nova_shim_acl_release(self.0.as_ptr()) };
    }
}

/// The inode's ACL of `kind` through the VFS's cache (`get_inode_acl`,
/// which asks nova's `get_inode_acl` on a miss).
pub(crate) fn cached(ni: &NovaInode, kind: c_int) -> Result<Option<Acl>> {
    // SAFETY: a live inode; the kernel returns a new reference, null or
    // an error.
    unsafe { own(shim::nova_shim_get_inode_acl(ni.raw(), kind)) }
}

/// Sets the VFS's cached ACL of `kind` (none: the inode has none).
pub(crate) fn set_cached(ni: &NovaInode, kind: c_int, acl: Option<&Acl>) {
    let p = acl.map_or(ptr::null_mut(), |a| a.0.as_ptr());
    // SAFETY: a live inode; `set_cached_acl` takes its own reference.
    unsafe { shim::nova_shim_set_cached_acl(ni.raw(), kind, p) };
}

/// `posix_acl_create`: for a new inode of `mode` in `dir`, the mode with
/// the umask or the directory's default ACL applied, and the default and
/// access ACLs it inherits.
pub(crate) fn create(dir: &NovaInode, mode: u32) -> Result<(u32, Option<Acl>, Option<Acl>)> {
    let mut m = mode as u16;
    let (mut d, mut a) = (ptr::null_mut(), ptr::null_mut());
    // SAFETY: a live directory; the outputs are ours to fill.
    let r = unsafe { shim::nova_shim_acl_create(dir.raw(), &mut m, &mut d, &mut a) };
    // SAFETY: on success, null or references that are ours; on failure
    // both null.
    let (d, a) = unsafe { (own(d)?, own(a)?) };
    kernel::error::to_result(r)?;
    Ok((u32::from(m), d, a))
}

/// `posix_acl_update_mode`: the mode an access ACL gives the inode, and
/// the ACL (none if the mode says it all).
pub(crate) fn update_mode(ni: &NovaInode, acl: Acl) -> Result<(u32, Option<Acl>)> {
    let mut m = ni.mode() as u16;
    let mut p = acl.0.as_ptr();
    // SAFETY: a live inode (locked by the VFS) and our ACL; the helper
    // only sets `p` to null, which leaves our reference in `acl`.
    let r = unsafe { shim::nova_shim_acl_update_mode(ni.raw(), &mut m, &mut p) };
    kernel::error::to_result(r)?;
    Ok((u32::from(m), (!p.is_null()).then_some(acl)))
}
