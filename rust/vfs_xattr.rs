// SPDX-License-Identifier: GPL-2.0
//! VFS glue of extended attributes and POSIX ACLs: the `user.`,
//! `trusted.` and `security.` handlers, `listxattr`, and the ACL inode
//! operations (`get_inode_acl`, `set_acl`), each converting raw pointers
//! into nova's types under a `// SAFETY:` argument about what the VFS
//! guarantees, then calling `xattr.rs` or `acl.rs`.

use crate::format::layout::{XATTR_SECURITY, XATTR_TRUSTED, XATTR_USER};
use crate::glue::{errno, Ops};
use crate::inode::NovaInode;
use crate::kacl::Acl;
use crate::{acl, xattr};
use core::ptr;
use kernel::bindings;
use kernel::ffi::{c_char, c_int, c_void};
use kernel::prelude::*;
use kernel::str::CStr;

/// # Safety
///
/// `i` must be a live inode of a nova mount.
unsafe fn ni<'a>(i: *mut bindings::inode) -> &'a NovaInode {
    // SAFETY: per the contract.
    unsafe { NovaInode::from_raw(i) }
}

extern "C" fn xattr_get(
    h: *const bindings::xattr_handler,
    _d: *mut bindings::dentry,
    i: *mut bindings::inode,
    name: *const c_char,
    buf: *mut c_void,
    size: usize,
) -> c_int {
    // SAFETY: the VFS passes one of our handlers, a nova inode it holds,
    // the name after the handler's prefix (NUL-terminated) and `size`
    // writable bytes at `buf` (none when `size` is 0).
    let (index, ni, name, buf) = unsafe {
        let b = (size != 0 && !buf.is_null())
            .then(|| core::slice::from_raw_parts_mut(buf.cast::<u8>(), size));
        ((*h).flags as u8, ni(i), CStr::from_char_ptr(name), b)
    };
    match xattr::get(ni, index, name.to_bytes(), buf) {
        Ok(n) => n as c_int,
        Err(e) => e.to_errno(),
    }
}

extern "C" fn xattr_set(
    h: *const bindings::xattr_handler,
    _idmap: *mut bindings::mnt_idmap,
    _d: *mut bindings::dentry,
    i: *mut bindings::inode,
    name: *const c_char,
    value: *const c_void,
    size: usize,
    flags: c_int,
) -> c_int {
    // SAFETY: as for `xattr_get`; the VFS holds the inode locked, and
    // `value` is null for a removal or else `size` readable bytes.
    let (index, ni, name, value) = unsafe {
        let v = (!value.is_null()).then(|| match size {
            0 => &[][..],
            _ => core::slice::from_raw_parts(value.cast::<u8>(), size),
        });
        ((*h).flags as u8, ni(i), CStr::from_char_ptr(name), v)
    };
    let r = xattr::set(ni, index, name.to_bytes(), value, flags);
    crate::gc::maybe(ni);
    errno(r)
}

const fn xattr_handler(prefix: &'static CStr, index: u8) -> bindings::xattr_handler {
    bindings::xattr_handler {
        name: ptr::null(),
        prefix: prefix.as_ptr().cast(),
        flags: index as c_int,
        list: None,
        get: Some(xattr_get),
        set: Some(xattr_set),
    }
}

static XATTR_USER_H: Ops<bindings::xattr_handler> = Ops(xattr_handler(c"user.", XATTR_USER));
static XATTR_TRUSTED_H: Ops<bindings::xattr_handler> =
    Ops(xattr_handler(c"trusted.", XATTR_TRUSTED));
static XATTR_SECURITY_H: Ops<bindings::xattr_handler> =
    Ops(xattr_handler(c"security.", XATTR_SECURITY));

/// `sb->s_xattr`: the handlers, null-terminated.
pub(crate) static XATTR_HANDLERS: Ops<[*const bindings::xattr_handler; 4]> = Ops([
    &XATTR_USER_H.0,
    &XATTR_TRUSTED_H.0,
    &XATTR_SECURITY_H.0,
    ptr::null(),
]);

pub(crate) extern "C" fn listxattr(
    d: *mut bindings::dentry,
    buf: *mut c_char,
    size: usize,
) -> isize {
    // SAFETY: the VFS passes a positive dentry of a nova mount and `size`
    // writable bytes at `buf` (none when `size` is 0).
    let (ni, buf, trusted) = unsafe {
        let b = (size != 0 && !buf.is_null())
            .then(|| core::slice::from_raw_parts_mut(buf.cast::<u8>(), size));
        (
            ni((*d).d_inode),
            b,
            bindings::capable(bindings::CAP_SYS_ADMIN as c_int),
        )
    };
    match xattr::list(ni, buf, trusted) {
        Ok(n) => n as isize,
        Err(e) => e.to_errno() as isize,
    }
}

// ---- POSIX ACLs ----

pub(crate) extern "C" fn get_inode_acl(
    i: *mut bindings::inode,
    kind: c_int,
    rcu: bool,
) -> *mut bindings::posix_acl {
    // Reading the attribute takes a mutex: not in an RCU walk.
    if rcu {
        return kernel::error::Error::to_ptr(ECHILD);
    }
    // SAFETY: the VFS passes a nova inode it holds.
    match acl::get(unsafe { ni(i) }, kind) {
        Ok(Some(a)) => a.into_raw(),
        Ok(None) => ptr::null_mut(),
        Err(e) => kernel::error::Error::to_ptr(e),
    }
}

pub(crate) extern "C" fn set_acl(
    _idmap: *mut bindings::mnt_idmap,
    d: *mut bindings::dentry,
    a: *mut bindings::posix_acl,
    kind: c_int,
) -> c_int {
    // SAFETY: the VFS passes a positive nova dentry with its inode locked,
    // and a checked ACL (or null: remove) live for the call, of which we
    // take a reference of our own.
    let (ni, a) = unsafe { (ni((*d).d_inode), Acl::borrowed(a)) };
    let r = acl::set(ni, kind, a);
    crate::gc::maybe(ni);
    errno(r)
}
