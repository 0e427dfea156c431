// SPDX-License-Identifier: GPL-2.0
//! Attribute changes: `setattr` (mode, owner, times, size; a chmod with
//! the access ACL it rewrites) and logging an inode's times.

use crate::acl;
use crate::dentry::{Dentry, Iattr};
use crate::format::entry::set_times;
use crate::format::layout::*;
use crate::format::le::Pod;
use crate::inode::{NovaInode, Time};
use crate::kfile::MappingLock;
use crate::log::Tx;
use kernel::bindings;
use kernel::prelude::*;

/// The attributes `setattr` may change, saved to be put back when the
/// change cannot be committed (DRAM never disagrees with pmem).
struct SavedAttrs {
    mode: u32,
    uid: u32,
    gid: u32,
    times: [(i64, u32); 3],
    size: u64,
}

impl SavedAttrs {
    fn of(ni: &NovaInode) -> Self {
        let (uid, gid) = ni.owner();
        Self {
            mode: ni.mode(),
            uid,
            gid,
            times: [
                ni.time(Time::Access),
                ni.time(Time::Modify),
                ni.time(Time::Change),
            ],
            size: ni.size(),
        }
    }

    fn restore(&self, ni: &NovaInode) {
        ni.set_mode(self.mode);
        ni.set_owner(self.uid, self.gid);
        for (w, t) in Time::ALL.into_iter().zip(self.times.iter()) {
            ni.set_time(w, t.0, t.1);
        }
        ni.set_size(self.size);
    }
}

/// `setattr` of `d`'s inode (locked by the VFS): validated by the VFS
/// helpers, computed on the inode, logged; put back if the log commit
/// fails.
pub(crate) fn setattr(d: &Dentry, attr: &Iattr) -> Result {
    let ni = d.inode().ok_or(ENOENT)?;
    let sbi = ni.sbi();
    d.setattr_prepare(attr)?;
    let v = attr.valid();
    let sizing = v & bindings::ATTR_SIZE != 0;
    if sizing && ni.mode() & bindings::S_IFMT != bindings::S_IFREG {
        return Err(EINVAL);
    }
    // A size change replaces and drops blocks: no fault runs meanwhile.
    let ml = sizing.then(|| MappingLock::new(ni));
    let saved = SavedAttrs::of(ni);
    let new_size = if sizing {
        attr.size() as u64
    } else {
        saved.size
    };
    // Let the VFS compute the resulting attributes on the inode, then log
    // what it produced (so the log holds exactly the in-memory result).
    attr.copy_to(ni);
    if new_size != saved.size {
        let now = ni.now();
        ni.set_time(Time::Modify, now.0, now.1);
        ni.set_time(Time::Change, now.0, now.1);
    }
    let r = (|| -> Result {
        let mut e = SetAttrEntry::from_bytes(&[0u8; 128]).ok_or(EINVAL)?;
        e.hdr.etype = EntryType::SetAttr as u8;
        e.hdr.slots = 2;
        let mut mask = ATTR_MODE | ATTR_UID | ATTR_GID | ATTR_ATIME | ATTR_MTIME | ATTR_CTIME;
        if sizing {
            mask |= ATTR_SIZE;
            e.size.set(new_size);
        }
        e.mask.set(mask);
        e.mode.set(ni.mode());
        let (uid, gid) = ni.owner();
        e.uid.set(uid);
        e.gid.set(gid);
        for w in Time::ALL {
            let (s, n) = ni.time(w);
            let k = w.slot();
            if let (Some(ts), Some(tn)) = (e.time_sec.get_mut(k), e.time_nsec.get_mut(k)) {
                ts.set(s as u64);
                tn.set(n);
            }
        }
        let mut buf = [0u8; 128];
        buf.copy_from_slice(e.as_bytes());
        if let Some(ml) = &ml {
            return crate::cow::resize(ni, ml, saved.size, new_size, &mut buf).map(|_| ());
        }
        // A chmod rewrites the access ACL in the same transaction.
        let chmod = match v & bindings::ATTR_MODE {
            0 => None,
            _ => acl::chmod_prepare(ni)?,
        };
        let Some(c) = chmod else {
            return Tx::one(sbi, ni, &mut buf);
        };
        let staged = c.stage(ni)?;
        let mut tx = Tx::begin(sbi, &[ni])?;
        tx.append(ni, &mut buf)?;
        staged.append(&mut tx, ni, ni.time(Time::Change))?;
        tx.commit()?;
        // Committed: nothing below can fail.
        staged.apply(ni);
        c.cache(ni);
        Ok(())
    })();
    if r.is_err() {
        saved.restore(ni);
    }
    drop(ml);
    // A mode change that also resized: the ACL in a transaction of its
    // own (as ext4 does every chmod's).
    if r.is_ok() && sizing && v & bindings::ATTR_MODE != 0 {
        return acl::chmod(ni);
    }
    r
}

/// Logs an inode's current modification and change times.
pub(crate) fn log_times(ni: &NovaInode) -> Result {
    let mut buf = set_times(0, 0, ni.time(Time::Modify), ni.time(Time::Change));
    Tx::one(ni.sbi(), ni, &mut buf)
}
