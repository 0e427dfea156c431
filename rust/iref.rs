// SPDX-License-Identifier: GPL-2.0
//! References to VFS inodes as owned values: `InodeRef` (a counted
//! reference, `iput` on drop), `NewInode` (one being created) and
//! `Filling` (an I_NEW one being read from pmem).

use crate::inode::NovaInode;
use crate::sbi::Sbi;
use crate::shim;
use core::ptr::NonNull;
use kernel::bindings;
use kernel::prelude::*;

/// A counted reference to a nova inode (from `iget` or `lookup`), given
/// back with `iput` when dropped.
///
/// # Invariants
///
/// `0` is a live nova inode on which this holds one reference.
pub(crate) struct InodeRef(NonNull<bindings::inode>);

impl InodeRef {
    /// # Safety
    ///
    /// `i` must be a nova inode with a reference that moves to the result.
    pub(crate) unsafe fn from_raw(i: NonNull<bindings::inode>) -> Self {
        // INVARIANT: per the contract.
        Self(i)
    }

    /// The in-memory inode `ino` of `sbi`, if it is in memory and not bad.
    pub(crate) fn lookup(sbi: &Sbi, ino: u64) -> Option<Self> {
        // SAFETY: the super block is live while the `Sbi` is.
        let i = NonNull::new(unsafe { bindings::ilookup(sbi.sb(), ino) })?;
        // SAFETY: `ilookup` took a reference to a nova inode.
        let r = unsafe { Self::from_raw(i) };
        (!r.is_bad()).then_some(r)
    }

    /// Gives the reference to the caller (for a VFS call that consumes
    /// it).
    pub(crate) fn into_raw(self) -> *mut bindings::inode {
        let p = self.0.as_ptr();
        core::mem::forget(self);
        p
    }
}

impl core::ops::Deref for InodeRef {
    type Target = NovaInode;

    fn deref(&self) -> &NovaInode {
        // SAFETY: by the type invariant, a live nova inode.
        unsafe { NovaInode::from_raw(self.0.as_ptr()) }
    }
}

impl Drop for InodeRef {
    fn drop(&mut self) {
        // SAFETY: by the type invariant, we hold a reference.
        unsafe { bindings::iput(self.0.as_ptr()) };
    }
}

/// An inode being created (`NewInode::new`): not yet visible, holding
/// the creation's reference. Either a dentry takes it
/// (`Dentry::instantiate_new`) or `discard` drops it.
///
/// # Invariants
///
/// `0` is a new nova inode, not hashed, on which this holds the only
/// reference.
pub(crate) struct NewInode(NonNull<bindings::inode>);

impl NewInode {
    /// A new VFS inode numbered `ino` in directory `dir`, with its owner
    /// and mode set as the VFS's `inode_init_owner` does.
    pub(crate) fn new(sbi: &Sbi, ino: u64, dir: &NovaInode, mode: u32) -> Result<Self> {
        // SAFETY: the super block is live.
        let i = NonNull::new(unsafe { bindings::new_inode(sbi.sb()) }).ok_or(ENOMEM)?;
        // INVARIANT: a fresh nova inode with its only reference, unhashed.
        let n = Self(i);
        let p = i.as_ptr();
        // SAFETY: `p` is fresh and not yet hashed or visible.
        unsafe {
            (*p).i_ino = ino;
            bindings::inode_init_owner(
                core::ptr::addr_of_mut!(bindings::nop_mnt_idmap),
                p,
                dir.raw(),
                mode as u16,
            );
        }
        Ok(n)
    }

    /// Drops an inode whose creation failed (as dropping it does: marked
    /// bad, so that eviction does not touch pmem).
    pub(crate) fn discard(self) {
        drop(self);
    }

    /// Gives the reference to the caller.
    pub(crate) fn into_raw(self) -> *mut bindings::inode {
        let p = self.0.as_ptr();
        core::mem::forget(self);
        p
    }

    /// Makes a committed inode that no dentry takes (a rename's whiteout)
    /// findable by number, and drops the creation's reference: a lookup
    /// of its name finds it again.
    pub(crate) fn publish(self) {
        let p = self.into_raw();
        // SAFETY: `p` is a new, valid inode not yet hashed, and ours was
        // its only reference.
        unsafe {
            bindings::__insert_inode_hash(p, (*p).i_ino);
            bindings::iput(p);
        }
    }
}

impl core::ops::Deref for NewInode {
    type Target = NovaInode;

    fn deref(&self) -> &NovaInode {
        // SAFETY: by the type invariant, a live nova inode.
        unsafe { NovaInode::from_raw(self.0.as_ptr()) }
    }
}

impl Drop for NewInode {
    fn drop(&mut self) {
        // Not given to a dentry: as `discard`.
        let p = self.0.as_ptr();
        // SAFETY: by the type invariant, the only reference to an unhashed
        // new inode.
        unsafe {
            bindings::make_bad_inode(p);
            bindings::iput(p);
        }
    }
}

/// What `iget_locked` found.
pub(crate) enum Got {
    /// The inode was in memory.
    Cached(InodeRef),
    /// A new in-memory inode (I_NEW) to be filled from pmem.
    New(Filling),
}

/// Finds inode `ino` in memory, or makes a new I_NEW one to fill.
pub(crate) fn iget_locked(sbi: &Sbi, ino: u64) -> Result<Got> {
    // SAFETY: the super block is live.
    let i = NonNull::new(unsafe { bindings::iget_locked(sbi.sb(), ino) }).ok_or(ENOMEM)?;
    // SAFETY: `i` is a live, referenced inode of our super block.
    let new = unsafe { shim::nova_shim_inode_is_new(i.as_ptr()) };
    Ok(if new {
        // INVARIANT: a new inode, I_NEW, with our reference.
        Got::New(Filling(i))
    } else {
        // SAFETY: `iget_locked` took a reference to a nova inode.
        Got::Cached(unsafe { InodeRef::from_raw(i) })
    })
}

/// An I_NEW inode being filled from pmem: published with `unlock`, or
/// dropped as a bad inode (`iget_failed`).
///
/// # Invariants
///
/// `0` is an I_NEW nova inode on which this holds a reference.
pub(crate) struct Filling(NonNull<bindings::inode>);

impl Filling {
    /// Publishes the filled inode.
    pub(crate) fn unlock(self) -> InodeRef {
        let i = self.0;
        core::mem::forget(self);
        // SAFETY: by the type invariant, an I_NEW inode, now filled.
        unsafe { bindings::unlock_new_inode(i.as_ptr()) };
        // SAFETY: our reference moves to the result.
        unsafe { InodeRef::from_raw(i) }
    }
}

impl core::ops::Deref for Filling {
    type Target = NovaInode;

    fn deref(&self) -> &NovaInode {
        // SAFETY: by the type invariant, a live nova inode.
        unsafe { NovaInode::from_raw(self.0.as_ptr()) }
    }
}

impl Drop for Filling {
    fn drop(&mut self) {
        // SAFETY: by the type invariant: marks the I_NEW inode bad and
        // drops our reference.
        unsafe { bindings::iget_failed(self.0.as_ptr()) };
    }
}
