// SPDX-License-Identifier: GPL-2.0
//! POSIX ACLs (`system.posix_acl_access`, `system.posix_acl_default`)
//! through the kernel's ACL helpers, as ext4 keeps them: stored as
//! extended attributes of their own namespace (`XATTR_POSIX_ACL`, names
//! `access` and `default`), so they are logged, replayed, kept by
//! snapshots and collected by log GC like any attribute.
//!
//! The VFS checks permissions against them (`generic_permission` asks
//! `get_inode_acl`, and caches the answer); `setfacl` reaches `set`; a
//! new inode inherits its directory's default ACL (`inherit`, in its
//! creation's transaction); a `chmod` rewrites the access ACL in the
//! transaction of the mode (`chmod_prepare`). An access ACL that changes
//! the mode logs the mode in the ACL's transaction: after a crash, mode
//! and ACL agree.

use crate::format::entry::set_mode;
use crate::format::layout::XATTR_POSIX_ACL;
use crate::inode::{NovaInode, Time};
use crate::kacl::{self, Acl, ACL_TYPE_ACCESS, ACL_TYPE_DEFAULT};
use crate::log::Tx;
use crate::xattr::{self, Staged};
use kernel::ffi::c_int;
use kernel::prelude::*;

const ACCESS: &[u8] = b"access";
const DEFAULT: &[u8] = b"default";

/// The attribute name of an ACL type.
fn name(kind: c_int) -> Result<&'static [u8]> {
    match kind {
        ACL_TYPE_ACCESS => Ok(ACCESS),
        ACL_TYPE_DEFAULT => Ok(DEFAULT),
        _ => Err(EINVAL),
    }
}

/// `get_inode_acl`: the inode's ACL of `kind`, decoded from its
/// attribute (none if it has none). A stored ACL that is malformed is
/// refused (`EIO`).
pub(crate) fn get(ni: &NovaInode, kind: c_int) -> Result<Option<Acl>> {
    let name = name(kind)?;
    let m = ni.xattrs.lock();
    let Some(v) = m.get(XATTR_POSIX_ACL, name) else {
        return Ok(None);
    };
    Acl::decode(v).map_err(|e| {
        let what = core::str::from_utf8(name).unwrap_or("");
        pr_err!(
            "{}: inode {}: its {} ACL is malformed ({:?})\n",
            ni.sbi().name(),
            ni.ino(),
            what,
            e
        );
        EIO
    })
}

/// `set_acl` (the VFS checked the caller owns the inode, and holds its
/// lock): sets or (`None`) removes the ACL of `kind`. An access ACL also
/// sets the mode it implies (and is dropped if the mode says it all), in
/// one transaction.
pub(crate) fn set(ni: &NovaInode, kind: c_int, acl: Option<Acl>) -> Result {
    let sbi = ni.sbi();
    if sbi.read_only() {
        return Err(EROFS);
    }
    let name = name(kind)?;
    let (mode, acl) = match acl {
        Some(a) if kind == ACL_TYPE_ACCESS => kacl::update_mode(ni, a)?,
        a => (ni.mode(), a),
    };
    let value = acl.as_ref().map(Acl::encode).transpose()?;
    let present = ni.xattrs.lock().get(XATTR_POSIX_ACL, name).is_some();
    let staged = match (&value, present) {
        (None, false) => None,
        (v, _) => Some(xattr::stage(ni, XATTR_POSIX_ACL, name, v.as_deref(), 0)?),
    };
    if staged.is_none() && mode == ni.mode() {
        kacl::set_cached(ni, kind, None);
        return Ok(());
    }
    let t = ni.now();
    let mut tx = Tx::begin(sbi, &[ni])?;
    if let Some(s) = &staged {
        s.append(&mut tx, ni, t)?;
    }
    if mode != ni.mode() {
        let mut e = set_mode(mode, t);
        tx.append(ni, &mut e)?;
    }
    tx.commit()?;
    // Committed: nothing below can fail.
    if let Some(s) = staged {
        s.apply(ni);
    }
    ni.set_mode(mode);
    ni.set_time(Time::Change, t.0, t.1);
    kacl::set_cached(ni, kind, acl.as_ref());
    Ok(())
}

/// The access ACL a `chmod` leaves, prepared before the mode's commit.
pub(crate) struct Chmod {
    acl: Acl,
    value: KVec<u8>,
}

/// For a `chmod` of `ni` to its (already changed, in memory) mode: the
/// access ACL rewritten for the new mode, if it has one.
pub(crate) fn chmod_prepare(ni: &NovaInode) -> Result<Option<Chmod>> {
    if ni.sbi().opts.noacl {
        return Ok(None);
    }
    let Some(acl) = kacl::cached(ni, ACL_TYPE_ACCESS)? else {
        return Ok(None);
    };
    let acl = acl.chmod(ni.mode())?;
    let value = acl.encode()?;
    Ok(Some(Chmod { acl, value }))
}

impl Chmod {
    /// The attribute change, to append to the mode's transaction.
    pub(crate) fn stage(&self, ni: &NovaInode) -> Result<Staged<'_>> {
        xattr::stage(ni, XATTR_POSIX_ACL, ACCESS, Some(&self.value), 0)
    }

    /// After the commit: the VFS's cache. Cannot fail.
    pub(crate) fn cache(&self, ni: &NovaInode) {
        kacl::set_cached(ni, ACL_TYPE_ACCESS, Some(&self.acl));
    }
}

/// `chmod`'s ACL change in a transaction of its own (after a mode change
/// that also resized the file, as ext4 does for every `chmod`).
pub(crate) fn chmod(ni: &NovaInode) -> Result {
    let Some(c) = chmod_prepare(ni)? else {
        return Ok(());
    };
    let s = c.stage(ni)?;
    let t = ni.time(Time::Change);
    let mut tx = Tx::begin(ni.sbi(), &[ni])?;
    s.append(&mut tx, ni, t)?;
    tx.commit()?;
    s.apply(ni);
    c.cache(ni);
    Ok(())
}

/// The ACLs a new inode inherits from its directory's default ACL.
#[derive(Default)]
pub(crate) struct Inherited {
    /// (name, ACL, stored value): the access ACL, and for a directory
    /// the default ACL.
    acls: KVec<(&'static [u8], Acl, KVec<u8>)>,
}

/// `posix_acl_create` for a new inode of `mode` in `dir`: its mode (the
/// umask applied, or the directory's default ACL) and the ACLs it
/// inherits.
pub(crate) fn inherit(dir: &NovaInode, mode: u32) -> Result<(u32, Inherited)> {
    let mut inh = Inherited::default();
    let (mode, dflt, access) = kacl::create(dir, mode)?;
    for (name, a) in [(DEFAULT, dflt), (ACCESS, access)] {
        if let Some(a) = a {
            let v = a.encode()?;
            inh.acls.push((name, a, v), GFP_KERNEL)?;
        }
    }
    Ok((mode, inh))
}

impl Inherited {
    /// The attribute changes of the new inode `child` (not yet visible),
    /// to append to its creation's transaction.
    pub(crate) fn stage(&self, child: &NovaInode) -> Result<KVec<Staged<'_>>> {
        let mut v = KVec::with_capacity(self.acls.len(), GFP_KERNEL)?;
        for (i, (name, _, value)) in self.acls.iter().enumerate() {
            v.push(
                xattr::stage_nth(child, XATTR_POSIX_ACL, name, Some(value), 0, i)?,
                GFP_KERNEL,
            )?;
        }
        Ok(v)
    }

    /// After the commit: installs the staged changes and fills the VFS's
    /// cache. Cannot fail.
    pub(crate) fn apply(&self, child: &NovaInode, staged: KVec<Staged<'_>>) {
        for s in staged {
            s.apply(child);
        }
        for (name, acl, _) in self.acls.iter() {
            let kind = if *name == ACCESS {
                ACL_TYPE_ACCESS
            } else {
                ACL_TYPE_DEFAULT
            };
            kacl::set_cached(child, kind, Some(acl));
        }
    }
}
