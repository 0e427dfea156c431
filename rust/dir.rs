// SPDX-License-Identifier: GPL-2.0
//! Directories: the DRAM name index rebuilt from dentry log entries, and
//! readdir with stable cookies (the index key of each name).

use crate::format::crc32c;
use crate::format::layout::*;
use crate::format::le::Pod;
use crate::inode::NovaInode;
use crate::shim;
use kernel::bindings;
use kernel::prelude::*;
use kernel::rbtree::{RBTree, RBTreeNode};

/// A decoded dentry entry (name borrowed from the entry buffer).
pub(crate) struct Dentry<'a> {
    pub(crate) ino: u64,
    pub(crate) remove: bool,
    pub(crate) dtype: u8,
    pub(crate) name: &'a [u8],
    /// The directory's mtime/ctime after the change.
    pub(crate) mtime: (i64, u32),
}

/// Decodes a dentry entry, checking the name length against the entry.
pub(crate) fn decode_dentry(buf: &[u8]) -> Option<Dentry<'_>> {
    let hdr = EntryHeader::from_bytes(buf)?;
    let ino = u64::from_le_bytes(buf.get(16..24)?.try_into().ok()?);
    let name_len = usize::from(*buf.get(36)?);
    let dtype = *buf.get(37)?;
    if name_len == 0 || dentry_slots(name_len) > hdr.slots {
        return None;
    }
    let name = buf.get(DENTRY_NAME_OFFSET..DENTRY_NAME_OFFSET + name_len)?;
    let sec = u64::from_le_bytes(buf.get(24..32)?.try_into().ok()?) as i64;
    let nsec = u32::from_le_bytes(buf.get(32..36)?.try_into().ok()?);
    Some(Dentry {
        ino,
        remove: hdr.flags.get() & DENTRY_REMOVE != 0,
        dtype,
        name,
        mtime: (sec, nsec),
    })
}

/// Encodes a dentry entry into `buf`; returns its length in bytes.
pub(crate) fn encode_dentry(
    buf: &mut [u8; MAX_ENTRY],
    name: &[u8],
    ino: u64,
    dtype: u8,
    remove: bool,
    t: (i64, u32),
) -> Result<usize> {
    if name.is_empty() || name.len() > NAME_MAX {
        return Err(ENAMETOOLONG);
    }
    buf.fill(0);
    let slots = dentry_slots(name.len());
    let len = usize::from(slots) * SLOT as usize;
    buf[0] = EntryType::Dentry as u8;
    buf[1] = slots;
    buf[2..4].copy_from_slice(&(if remove { DENTRY_REMOVE } else { 0 }).to_le_bytes());
    buf[16..24].copy_from_slice(&ino.to_le_bytes());
    buf[24..32].copy_from_slice(&(t.0 as u64).to_le_bytes());
    buf[32..36].copy_from_slice(&t.1.to_le_bytes());
    buf[36] = name.len() as u8;
    buf[37] = dtype;
    buf.get_mut(DENTRY_NAME_OFFSET..DENTRY_NAME_OFFSET + name.len())
        .ok_or(EINVAL)?
        .copy_from_slice(name);
    Ok(len)
}

/// One name in a directory.
pub(crate) struct Ent {
    pub(crate) name: KVec<u8>,
    pub(crate) ino: u64,
    pub(crate) dtype: u8,
}

/// The DRAM index of a directory: key -> name. The key is a 55-bit hash
/// of the name shifted left 8 bits, plus a collision counter in the low
/// 8 bits, with bit 62 set so every key is a valid readdir cookie > 2.
pub(crate) struct DirIndex {
    tree: RBTree<u64, Ent>,
    parent: u64,
    count: u64,
}

const KEY_BASE: u64 = 1 << 62;

fn hash_prefix(name: &[u8]) -> u64 {
    let h = (u64::from(crc32c::crc32c(name)) << 23)
        ^ (name.len() as u64)
        ^ (u64::from(crc32c::update(0x1234_5678, name)) >> 9);
    KEY_BASE | ((h & ((1 << 54) - 1)) << 8)
}

impl DirIndex {
    pub(crate) fn new() -> Self {
        Self {
            tree: RBTree::new(),
            parent: 0,
            count: 0,
        }
    }

    pub(crate) fn set_parent(&mut self, p: u64) {
        self.parent = p;
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn find_key(&self, name: &[u8]) -> Option<u64> {
        let p = hash_prefix(name);
        let mut from = p;
        loop {
            let c = self.tree.cursor_lower_bound(&from)?;
            let (k, v) = c.current();
            if *k >= p + 256 {
                return None;
            }
            if v.name.as_slice() == name {
                return Some(*k);
            }
            from = *k + 1;
        }
    }

    /// The inode and type a name refers to.
    pub(crate) fn lookup(&self, name: &[u8]) -> Option<(u64, u8)> {
        let k = self.find_key(name)?;
        self.tree.get(&k).map(|e| (e.ino, e.dtype))
    }

    /// Adds a name. `EEXIST` if present.
    pub(crate) fn insert(&mut self, name: &[u8], ino: u64, dtype: u8) -> Result {
        if self.find_key(name).is_some() {
            return Err(EEXIST);
        }
        let p = hash_prefix(name);
        let mut k = p;
        while self.tree.get(&k).is_some() {
            k += 1;
            if k >= p + 256 {
                return Err(ENOSPC);
            }
        }
        let mut n = KVec::with_capacity(name.len(), GFP_KERNEL)?;
        n.extend_from_slice(name, GFP_KERNEL)?;
        let node = RBTreeNode::new(
            k,
            Ent {
                name: n,
                ino,
                dtype,
            },
            GFP_KERNEL,
        )?;
        self.tree.insert(node);
        self.count += 1;
        Ok(())
    }

    /// Removes a name; `ENOENT` if absent.
    pub(crate) fn remove(&mut self, name: &[u8]) -> Result<u64> {
        let k = self.find_key(name).ok_or(ENOENT)?;
        let e = self.tree.remove(&k).ok_or(ENOENT)?;
        self.count -= 1;
        Ok(e.ino)
    }

    /// Replays one dentry entry.
    pub(crate) fn apply(&mut self, d: &Dentry<'_>) -> Result {
        if d.name == b".." {
            self.parent = d.ino;
            return Ok(());
        }
        if d.remove {
            // Log GC may have dropped the add of a name whose removal it
            // had to keep: removing an absent name is then a no-op.
            match self.remove(d.name) {
                Ok(_) | Err(ENOENT) => Ok(()),
                Err(e) => Err(e),
            }
        } else {
            self.insert(d.name, d.ino, d.dtype)
        }
    }

    /// Copies up to `max` entries with keys >= `from` into `out`.
    fn batch(&self, from: u64, max: usize, out: &mut KVec<(u64, u64, u8, KVec<u8>)>) -> Result {
        let mut from = from;
        while out.len() < max {
            let Some(c) = self.tree.cursor_lower_bound(&from) else {
                return Ok(());
            };
            let (k, v) = c.current();
            let mut n = KVec::with_capacity(v.name.len(), GFP_KERNEL)?;
            n.extend_from_slice(&v.name, GFP_KERNEL)?;
            out.push((*k, v.ino, v.dtype, n), GFP_KERNEL)?;
            from = *k + 1;
        }
        Ok(())
    }
}

/// `iterate_shared`: `.` and `..`, then the names in key order from
/// `ctx->pos`. Entries are copied out in batches so that no lock is held
/// while the VFS copies names to user space.
///
/// # Safety
///
/// `file` must be an open nova directory and `ctx` its live dir_context.
pub(crate) unsafe fn readdir(file: *mut bindings::file, ctx: *mut bindings::dir_context) -> Result {
    // SAFETY: per the contract.
    let ni = unsafe { NovaInode::from_raw(shim::nova_shim_file_inode(file)) };
    // SAFETY: per the contract.
    if !unsafe { shim::nova_shim_dir_emit_dots(file, ctx) } {
        return Ok(());
    }
    loop {
        // SAFETY: `ctx` is live.
        let pos = unsafe { (*ctx).pos } as u64;
        let mut batch = KVec::new();
        ni.dir.lock().batch(pos.max(2), 32, &mut batch)?;
        if batch.is_empty() {
            // Past the last name: park the cursor at the end.
            // SAFETY: `ctx` is live.
            unsafe { (*ctx).pos = i64::MAX };
            return Ok(());
        }
        for (k, ino, dt, name) in batch.iter() {
            // SAFETY: `name` is a live buffer of `len` bytes; `ctx` is live.
            let more = unsafe {
                shim::nova_shim_dir_emit(
                    ctx,
                    name.as_ptr().cast(),
                    name.len() as i32,
                    *ino,
                    u32::from(*dt),
                )
            };
            if !more {
                return Ok(());
            }
            // SAFETY: `ctx` is live.
            unsafe { (*ctx).pos = (*k + 1) as i64 };
        }
    }
}

#[kernel::macros::kunit_tests(nova_dir)]
mod tests {
    use super::*;

    #[test]
    fn index_insert_lookup_remove() {
        let mut d = DirIndex::new();
        assert!(d.insert(b"a", 10, 8).is_ok());
        assert!(d.insert(b"b", 11, 4).is_ok());
        assert_eq!(d.insert(b"a", 12, 8), Err(EEXIST));
        assert_eq!(d.lookup(b"a"), Some((10, 8)));
        assert_eq!(d.lookup(b"c"), None);
        assert_eq!(d.remove(b"a"), Ok(10));
        assert_eq!(d.remove(b"a"), Err(ENOENT));
        assert!(!d.is_empty());
        assert_eq!(d.remove(b"b"), Ok(11));
        assert!(d.is_empty());
    }

    #[test]
    fn dentry_round_trip() {
        let mut buf = [0u8; MAX_ENTRY];
        let len = encode_dentry(&mut buf, b"hello", 42, 8, false, (1, 2)).unwrap();
        assert_eq!(len, 64);
        let d = decode_dentry(&buf).unwrap();
        assert_eq!(d.name, b"hello");
        assert_eq!(d.ino, 42);
        assert!(!d.remove);
        // A name length that overruns the entry is refused.
        buf[36] = 200;
        assert!(decode_dentry(&buf).is_none());
        let long = [b'x'; 256];
        assert_eq!(
            encode_dentry(&mut buf, &long, 1, 8, false, (0, 0)),
            Err(ENAMETOOLONG)
        );
    }

    #[test]
    fn keys_are_cookies() {
        let mut d = DirIndex::new();
        for i in 0..100u8 {
            assert!(d.insert(&[b'n', i], u64::from(i) + 8, 8).is_ok());
        }
        let mut out = KVec::new();
        d.batch(2, 1000, &mut out).unwrap();
        assert_eq!(out.len(), 100);
        assert!(out.iter().all(|e| e.0 > 2 && e.0 < i64::MAX as u64));
    }
}
