// SPDX-License-Identifier: GPL-2.0
//! Extended attributes (`user.*`, `trusted.*`, `security.*`): kept in the
//! inode's log as `Xattr` entries, one transaction per change (a value
//! longer than one entry holds takes consecutive chunks of that
//! transaction), and whole in DRAM (`xmap.rs`) once the inode is read.
//!
//! A change prepares its DRAM copy first, commits its entries (with the
//! new ctime), and only then installs the copy: nothing after the commit
//! can fail. Snapshot mounts replay the entries of their epoch and see
//! the attributes as they were; log GC keeps the chunks of a live value
//! together (`liveness.rs`).

use crate::format::entry::{encode_xattr, xattr_chunk_room, XattrChunk};
use crate::format::layout::*;
use crate::inode::{NovaInode, Time};
use crate::log::Tx;
use crate::xmap::{Prepared, Xattr};
use kernel::prelude::*;

/// Most bytes of names and values one inode keeps (`ENOSPC` past it):
/// two values of the largest size.
pub(crate) const XATTR_TOTAL_MAX: usize = 2 * XATTR_VALUE_MAX;

/// `setxattr` flags (uapi macros the bindings lack).
const XATTR_CREATE: i32 = 1;
const XATTR_REPLACE: i32 = 2;

/// The namespaces, with the prefixes `listxattr` gives their names.
/// POSIX ACLs are kept under the names `access` and `default`.
pub(crate) const PREFIXES: [(u8, &[u8]); 4] = [
    (XATTR_USER, b"user."),
    (XATTR_TRUSTED, b"trusted."),
    (XATTR_SECURITY, b"security."),
    (XATTR_POSIX_ACL, b"system.posix_acl_"),
];

/// The most bytes `listxattr` returns (`XATTR_LIST_MAX`).
const XATTR_LIST_MAX: usize = 65536;

/// Bytes of a name in a `listxattr` list: prefix, name, NUL.
fn full_len(index: u8, name_len: usize) -> usize {
    let prefix = PREFIXES
        .iter()
        .find(|(i, _)| *i == index)
        .map_or(0, |(_, p)| p.len());
    prefix + name_len + 1
}

fn check_name(name: &[u8]) -> Result {
    match name.len() {
        0 => Err(EINVAL),
        n if n > XATTR_NAME_MAX => Err(ERANGE),
        _ => Ok(()),
    }
}

/// `getxattr`: copies the value of `name` into `buf` (or, with `None`,
/// only says its length).
pub(crate) fn get(ni: &NovaInode, index: u8, name: &[u8], buf: Option<&mut [u8]>) -> Result<usize> {
    check_name(name)?;
    let m = ni.xattrs.lock();
    let v = m.get(index, name).ok_or(ENODATA)?;
    if let Some(b) = buf {
        b.get_mut(..v.len()).ok_or(ERANGE)?.copy_from_slice(v);
    }
    Ok(v.len())
}

/// `setxattr` (`value`) or `removexattr` (`None`), with `XATTR_CREATE` /
/// `XATTR_REPLACE` in `flags`. The caller (the VFS) holds the inode lock.
pub(crate) fn set(
    ni: &NovaInode,
    index: u8,
    name: &[u8],
    value: Option<&[u8]>,
    flags: i32,
) -> Result {
    let staged = stage(ni, index, name, value, flags)?;
    let t = ni.now();
    let mut tx = Tx::begin(ni.sbi(), &[ni])?;
    staged.append(&mut tx, ni, t)?;
    tx.commit()?;
    // Committed: nothing below can fail.
    staged.apply(ni);
    ni.set_time(Time::Change, t.0, t.1);
    Ok(())
}

/// An attribute change checked and prepared (its DRAM copy allocated),
/// to be appended to a transaction and applied after its commit; so it
/// can share a transaction with other entries (an ACL with the mode it
/// sets, a new inode's inherited ACLs with its creation).
pub(crate) struct Staged<'a> {
    index: u8,
    name: &'a [u8],
    value: Option<&'a [u8]>,
    prepared: Prepared,
    room: KVec<Xattr>,
}

/// Checks and prepares setting (`value`) or removing (`None`) `name` of
/// namespace `index` on `ni` (the inode lock held), with ext4's errors.
pub(crate) fn stage<'a>(
    ni: &NovaInode,
    index: u8,
    name: &'a [u8],
    value: Option<&'a [u8]>,
    flags: i32,
) -> Result<Staged<'a>> {
    stage_nth(ni, index, name, value, flags, 0)
}

/// [`stage`] of a change applied after `more` other new attributes
/// staged beside it (a new inode's inherited ACLs).
pub(crate) fn stage_nth<'a>(
    ni: &NovaInode,
    index: u8,
    name: &'a [u8],
    value: Option<&'a [u8]>,
    flags: i32,
    more: usize,
) -> Result<Staged<'a>> {
    check_name(name)?;
    let sbi = ni.sbi();
    if sbi.read_only() {
        return Err(EROFS);
    }
    let vlen = value.map_or(0, |v| v.len());
    if vlen > XATTR_VALUE_MAX {
        return Err(E2BIG);
    }
    let (prepared, room) = {
        let m = ni.xattrs.lock();
        let old = m.get(index, name).map(|v| v.len());
        match (old, value) {
            (None, None) => return Err(ENODATA),
            (Some(_), _) if flags & XATTR_CREATE != 0 => return Err(EEXIST),
            (None, _) if flags & XATTR_REPLACE != 0 => return Err(ENODATA),
            _ => {}
        }
        let after = m.bytes() - old.map_or(0, |o| o + name.len())
            + value.map_or(0, |v| v.len() + name.len());
        // And every name fits one `listxattr` (64 KiB, the VFS's limit).
        let names: usize = m.iter().map(|x| full_len(x.index, x.name.len())).sum();
        let names = names
            + if old.is_none() {
                full_len(index, name.len())
            } else {
                0
            };
        // nova's own attributes (the inode flags) are not the user's to
        // fill: the limits leave them alone.
        if index != XATTR_NOVA && (after > XATTR_TOTAL_MAX || names > XATTR_LIST_MAX) {
            return Err(ENOSPC);
        }
        m.prepare(index, name, value, more)?
    };
    if value.is_some() {
        // The log pages of a value come from the blocks held back for log
        // appends; a value may take them only while ordinary blocks are
        // left for as many pages, so that freeing space always works on a
        // full device.
        let entries = vlen.div_ceil(xattr_chunk_room(name.len())).max(1) as u64;
        let pages = (entries * MAX_ENTRY as u64).div_ceil(LOG_TAIL_OFFSET) + 1;
        if sbi.alloc.available() < pages {
            return Err(ENOSPC);
        }
    }
    Ok(Staged {
        index,
        name,
        value,
        prepared,
        room,
    })
}

impl Staged<'_> {
    /// Appends the change's entries (a value in chunks) to `ni`'s log in
    /// `tx`, with the inode's new ctime `t`.
    pub(crate) fn append<'t>(&self, tx: &mut Tx<'t>, ni: &'t NovaInode, t: (i64, u32)) -> Result {
        let data = self.value.unwrap_or(&[]);
        let room_per = xattr_chunk_room(self.name.len());
        let mut off = 0;
        loop {
            let chunk = data
                .get(off..core::cmp::min(data.len(), off + room_per))
                .ok_or(EINVAL)?;
            let c = XattrChunk {
                index: self.index,
                name: self.name,
                remove: self.value.is_none(),
                value_len: data.len() as u32,
                offset: off as u32,
                chunk,
                ctime: t,
            };
            let mut buf = [0u8; MAX_ENTRY];
            let len = encode_xattr(&mut buf, &c)?;
            tx.append(ni, buf.get_mut(..len).ok_or(EINVAL)?)?;
            off += chunk.len();
            if off >= data.len() {
                return Ok(());
            }
        }
    }

    /// After the commit: installs the change in DRAM. Cannot fail.
    pub(crate) fn apply(self, ni: &NovaInode) {
        ni.xattrs.lock().apply(self.prepared, self.room);
    }
}

/// `listxattr`: the full names (prefix and name, each NUL-terminated) of
/// the attributes, into `buf` or, with `None`, only their total length.
/// `trusted.*` names only for a caller with `CAP_SYS_ADMIN`, the ACLs
/// (`system.posix_acl_*`) only on a mount with ACLs (as ext4).
pub(crate) fn list(ni: &NovaInode, mut buf: Option<&mut [u8]>, trusted: bool) -> Result<usize> {
    let acl = !ni.sbi().opts.noacl;
    let m = ni.xattrs.lock();
    let mut n = 0usize;
    for x in m.iter() {
        if (x.index == XATTR_TRUSTED && !trusted) || (x.index == XATTR_POSIX_ACL && !acl) {
            continue;
        }
        let Some(&(_, prefix)) = PREFIXES.iter().find(|(i, _)| *i == x.index) else {
            continue;
        };
        let len = full_len(x.index, x.name.len());
        if let Some(b) = buf.as_deref_mut() {
            let dst = b.get_mut(n..n + len).ok_or(ERANGE)?;
            let (p, rest) = dst.split_at_mut(prefix.len());
            p.copy_from_slice(prefix);
            let (nm, nul) = rest.split_at_mut(x.name.len());
            nm.copy_from_slice(&x.name);
            nul.fill(0);
        }
        n += len;
    }
    Ok(n)
}
