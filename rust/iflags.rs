// SPDX-License-Identifier: GPL-2.0
//! Inode flags (`chattr`/`lsattr`: `FS_IOC_GETFLAGS`/`SETFLAGS`,
//! `FS_IOC_FSGETXATTR`/`FSSETXATTR`): immutable, append-only, no atime
//! and no dump. They are kept as nova's own extended attribute `flags`
//! (`XATTR_NOVA`, never listed), so they are logged, replayed, kept by
//! snapshots and collected like any attribute; the VFS enforces them
//! (`S_IMMUTABLE`, `S_APPEND`, `S_NOATIME` in `i_flags`, set at `iget`
//! and on change).

use crate::format::layout::XATTR_NOVA;
use crate::inode::NovaInode;
use crate::xmap::INODE_FLAGS;
use kernel::bindings;
use kernel::prelude::*;

/// The flags nova keeps; others are refused (`EOPNOTSUPP`).
pub(crate) const SUPPORTED: u32 = bindings::FS_IMMUTABLE_FL
    | bindings::FS_APPEND_FL
    | bindings::FS_NODUMP_FL
    | bindings::FS_NOATIME_FL;

/// The inode's flags.
pub(crate) fn get(ni: &NovaInode) -> u32 {
    ni.xattrs.lock().inode_flags()
}

/// Sets the inode's flags (the VFS checked the caller may, and holds the
/// inode lock). One transaction; the VFS sees them once committed.
pub(crate) fn set(ni: &NovaInode, flags: u32) -> Result {
    if flags & !SUPPORTED != 0 {
        return Err(EOPNOTSUPP);
    }
    if flags == get(ni) {
        return Ok(());
    }
    crate::xattr::set(ni, XATTR_NOVA, INODE_FLAGS, Some(&flags.to_le_bytes()), 0)?;
    ni.set_inode_flags(flags);
    Ok(())
}
