// SPDX-License-Identifier: GPL-2.0
//! A safe view of the dentries the VFS passes to nova's directory
//! operations: the name, the inode, and making a dentry positive.

use crate::inode::NovaInode;
use crate::iref::{InodeRef, NewInode};
use crate::kfile::File;
use kernel::bindings;
use kernel::prelude::*;
use kernel::types::Opaque;

/// A dentry passed to a nova directory operation.
#[repr(transparent)]
pub(crate) struct Dentry(Opaque<bindings::dentry>);

impl Dentry {
    /// # Safety
    ///
    /// `d` must be a dentry the VFS passes to a nova directory operation:
    /// live for `'a`, its name stable for `'a` (its parent locked), and
    /// its inode, if any, a nova inode.
    pub(crate) unsafe fn from_raw<'a>(d: *mut bindings::dentry) -> &'a Dentry {
        // SAFETY: `Dentry` is a transparent wrapper; `d` is live for `'a`.
        unsafe { &*d.cast::<Dentry>() }
    }

    pub(crate) fn raw(&self) -> *mut bindings::dentry {
        self.0.get()
    }

    /// The name (stable: the parent is locked).
    pub(crate) fn name(&self) -> &[u8] {
        // SAFETY: by the `from_raw` contract the qstr is stable while
        // `self` is borrowed.
        unsafe {
            let q = &(*self.raw()).__bindgen_anon_1.d_name;
            core::slice::from_raw_parts(q.name, q.__bindgen_anon_1.__bindgen_anon_1.len as usize)
        }
    }

    /// The inode of a positive dentry.
    pub(crate) fn inode(&self) -> Option<&NovaInode> {
        // SAFETY: a live dentry; `d_inode` is stable under the VFS locks
        // of the operation.
        let i = unsafe { (*self.raw()).d_inode };
        // SAFETY: by the `from_raw` contract, a nova inode.
        (!i.is_null()).then(|| unsafe { NovaInode::from_raw(i) })
    }

    /// `lookup`'s answer: the dentry spliced with `i` (or made negative),
    /// as the VFS expects `lookup` to return it.
    pub(crate) fn splice_alias(&self, i: Option<InodeRef>) -> *mut bindings::dentry {
        let p = i.map_or(core::ptr::null_mut(), InodeRef::into_raw);
        // SAFETY: a negative dentry being looked up; `p` is null or a
        // reference, which `d_splice_alias` consumes.
        unsafe { bindings::d_splice_alias(p, self.raw()) }
    }

    /// Makes the (negative) dentry point at a new inode: hashed, and the
    /// dentry takes the creation's reference.
    pub(crate) fn instantiate_new(&self, i: NewInode) {
        let p = i.into_raw();
        // SAFETY: `p` is a new, valid inode not yet hashed; the dentry is
        // negative and its parent locked.
        unsafe {
            bindings::__insert_inode_hash(p, (*p).i_ino);
            bindings::d_instantiate(self.raw(), p);
        }
    }

    /// Makes the (negative) dentry a new name of `ni` (`link`), with a
    /// reference of its own.
    pub(crate) fn instantiate_link(&self, ni: &NovaInode) {
        // SAFETY: `ni` is live and locked by the VFS; the dentry is
        // negative and its parent locked.
        unsafe {
            bindings::ihold(ni.raw());
            bindings::d_instantiate(self.raw(), ni.raw());
        }
    }

    /// `setattr_prepare`: whether the caller may make the change `attr`
    /// asks for on this dentry's inode.
    pub(crate) fn setattr_prepare(&self, attr: &Iattr) -> Result {
        // SAFETY: a live dentry with its inode locked by the VFS; `attr`
        // is the change of this call.
        kernel::error::to_result(unsafe {
            bindings::setattr_prepare(
                core::ptr::addr_of_mut!(bindings::nop_mnt_idmap),
                self.raw(),
                attr.raw(),
            )
        })
    }
}

/// The attribute change of a `setattr` call.
#[repr(transparent)]
pub(crate) struct Iattr(Opaque<bindings::iattr>);

impl Iattr {
    /// # Safety
    ///
    /// `a` must be the live `iattr` of a `setattr` call, for `'a`.
    pub(crate) unsafe fn from_raw<'a>(a: *mut bindings::iattr) -> &'a Iattr {
        // SAFETY: a transparent wrapper; `a` is live for `'a`.
        unsafe { &*a.cast::<Iattr>() }
    }

    fn raw(&self) -> *mut bindings::iattr {
        self.0.get()
    }

    /// Which attributes change (`ATTR_*`).
    pub(crate) fn valid(&self) -> u32 {
        // SAFETY: a live iattr, ours for the call.
        unsafe { (*self.raw()).ia_valid }
    }

    /// The new size, with `ATTR_SIZE`.
    pub(crate) fn size(&self) -> i64 {
        // SAFETY: as above.
        unsafe { (*self.raw()).ia_size }
    }

    /// `setattr_copy`: applies the change to `ni` in memory (the inode
    /// lock held).
    pub(crate) fn copy_to(&self, ni: &NovaInode) {
        // SAFETY: `ni` is live and locked by the VFS; the iattr is this
        // call's.
        unsafe {
            bindings::setattr_copy(
                core::ptr::addr_of_mut!(bindings::nop_mnt_idmap),
                ni.raw(),
                self.raw(),
            )
        };
    }
}

/// Gives a new inode to an `O_TMPFILE` open (`d_tmpfile`: its link count
/// goes to 0, and `linkat` may name it later unless opened `O_EXCL`).
pub(crate) fn instantiate_tmpfile(file: &File, i: NewInode) {
    let p = i.into_raw();
    // SAFETY: `p` is a new, valid inode with a link count of 1, not yet
    // hashed; `file` is being opened by `tmpfile` and its dentry negative.
    unsafe {
        bindings::__insert_inode_hash(p, (*p).i_ino);
        bindings::d_tmpfile(file.raw(), p);
    }
}
