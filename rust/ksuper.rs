// SPDX-License-Identifier: GPL-2.0
//! The VFS super block while nova sets it up (`fill_super`) and the `Sbi`
//! it owns through `s_fs_info`.

use crate::dax::DaxDev;
use crate::format::layout::{BLOCK_SHIFT, BLOCK_SIZE};
use crate::glue::{sb_id, OpTables, SB_POSIXACL, SB_RDONLY};
use crate::iref::InodeRef;
use crate::sbi::{Sbi, NOVA_MAGIC};
use kernel::bindings;
use kernel::prelude::*;
use kernel::str::{CStr, CString};

/// A super block being set up by `fill_super`.
///
/// # Invariants
///
/// `0` is a super block in `fill_super`: live, its block device open,
/// and only this call changes it.
pub(crate) struct NewSuper(*mut bindings::super_block);

impl NewSuper {
    /// # Safety
    ///
    /// `sb` must be a super block being set up by `get_tree_bdev` (in
    /// `fill_super`, its block device open), used only through the result
    /// until it returns.
    pub(crate) unsafe fn from_raw(sb: *mut bindings::super_block) -> Self {
        // INVARIANT: per the contract.
        Self(sb)
    }

    pub(crate) fn raw(&self) -> *mut bindings::super_block {
        self.0
    }

    /// Takes a reference to the device's DAX device and maps all of it.
    pub(crate) fn map_dax(&self, shared: bool) -> Result<DaxDev> {
        // SAFETY: the super block is being set up with its block device
        // open (type invariant); the `DaxDev` goes into the `Sbi`, which
        // is freed before the super block.
        unsafe { DaxDev::map(self.0, shared) }
    }

    /// The block device's name (`pmem0`), at most 31 bytes.
    pub(crate) fn bdev_name(&self) -> Result<CString> {
        let mut buf = [0u8; 32];
        // SAFETY: the block device is open (type invariant); the shim
        // writes at most `len` bytes, NUL-terminated.
        unsafe { crate::shim::nova_shim_bdev_name(self.0, buf.as_mut_ptr(), buf.len()) };
        let n = buf.iter().position(|&c| c == 0).unwrap_or(0);
        CString::try_from_fmt(fmt!("{}", kernel::str::BStr::from_bytes(&buf[..n])))
    }

    /// The block device's number (`dev_t`).
    pub(crate) fn bdev_dev(&self) -> u32 {
        // SAFETY: the block device is open while the super block is set
        // up (type invariant).
        unsafe { (*(*self.0).s_bdev).bd_dev }
    }

    /// The device name (`pmem0`).
    pub(crate) fn id(&self) -> &CStr {
        // SAFETY: a live super block (type invariant).
        unsafe { sb_id(self.0) }
    }

    /// Sets nova's parameters and operations, read-only and with POSIX
    /// ACLs (`SB_POSIXACL`) if asked, and
    /// hands `sbi` to the super block (`kill_sb` frees it through
    /// `release_sbi`). Returns the `Sbi`, which the rest of `fill_super`
    /// may still change.
    pub(crate) fn install(
        &self,
        sbi: Pin<KBox<Sbi>>,
        t: &OpTables,
        read_only: bool,
        posix_acl: bool,
    ) -> &mut Sbi {
        // SAFETY: the `Sbi` is never moved out of its box: the super block
        // keeps the pointer until `release_sbi` rebuilds the pinned box.
        let raw = KBox::into_raw(unsafe { Pin::into_inner_unchecked(sbi) });
        let sb = self.0;
        // SAFETY: the super block is ours during fill_super (invariant).
        unsafe {
            (*sb).s_fs_info = raw.cast();
            (*sb).s_magic = NOVA_MAGIC as usize;
            (*sb).s_op = t.super_ops;
            (*sb).s_xattr = t.xattr_handlers.as_ptr();
            (*sb).s_maxbytes = i64::MAX;
            (*sb).s_time_gran = 1;
            (*sb).s_blocksize = BLOCK_SIZE as _;
            (*sb).s_blocksize_bits = BLOCK_SHIFT as _;
            if read_only {
                (*sb).s_flags |= SB_RDONLY as usize;
            }
            if posix_acl {
                (*sb).s_flags |= SB_POSIXACL as usize;
            }
            // The live file system's `.snapshots/E` are automount points.
            if !read_only {
                crate::shim::nova_shim_set_d_op(sb);
            }
        }
        // SAFETY: just stored, and the `Sbi` lives until `release_sbi`.
        // `fill_super` uses the `&mut` only to format and mount, before
        // anything else can reach the `Sbi` (the /proc entries, the root
        // inode and the cleaner thread come after, with shared references).
        unsafe { &mut *raw }
    }

    /// Makes `root` the root of the mount.
    pub(crate) fn set_root(&self, root: InodeRef) -> Result {
        // SAFETY: `d_make_root` consumes the reference, also on failure.
        let d = unsafe { bindings::d_make_root(root.into_raw()) };
        if d.is_null() {
            return Err(ENOMEM);
        }
        // SAFETY: the super block is ours during fill_super.
        unsafe { (*self.0).s_root = d };
        Ok(())
    }
}

/// Frees the `Sbi` once the VFS is done with the super block.
///
/// # Safety
///
/// `info` must be the `s_fs_info` set by `NewSuper::install`, not used
/// afterwards.
pub(crate) unsafe fn release_sbi(info: *mut core::ffi::c_void) {
    // SAFETY: per the contract, `info` came from `KBox::into_raw` of a
    // pinned `Sbi` in `install`.
    let sbi = unsafe { Pin::new_unchecked(KBox::from_raw(info.cast::<Sbi>())) };
    sbi.remove_proc();
    // The DAX reference goes with it (`DaxDev`).
    drop(sbi);
}
