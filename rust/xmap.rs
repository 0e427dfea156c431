// SPDX-License-Identifier: GPL-2.0
//! An inode's extended attributes in DRAM: replayed from its `Xattr`
//! entries when it is read (`iget`), changed after each commit
//! (`xattr.rs`). Values are kept whole here, so reads never touch pmem
//! and a log GC that moves the entries changes nothing in DRAM.

use crate::format::entry::XattrChunk;
use crate::format::layout::XATTR_NOVA;
use kernel::prelude::*;

/// The name of the inode flags in nova's own namespace (`XATTR_NOVA`).
pub(crate) const INODE_FLAGS: &[u8] = b"flags";

/// One extended attribute.
pub(crate) struct Xattr {
    /// Namespace (`XATTR_USER`, ...).
    pub(crate) index: u8,
    /// The name without its namespace prefix.
    pub(crate) name: KVec<u8>,
    pub(crate) value: KVVec<u8>,
}

impl Xattr {
    fn is(&self, index: u8, name: &[u8]) -> bool {
        self.index == index && self.name.as_slice() == name
    }

    fn bytes(&self) -> usize {
        self.name.len() + self.value.len()
    }
}

/// A value being replayed from consecutive chunks.
struct Pending {
    x: Xattr,
    len: usize,
}

/// The extended attributes of one inode.
pub(crate) struct XattrMap {
    items: KVec<Xattr>,
    /// Bytes of names and values, for the per-inode limit.
    bytes: usize,
    pending: Option<Pending>,
}

/// A change prepared before its commit (all its memory allocated), so
/// that applying it after the commit cannot fail.
pub(crate) enum Prepared {
    Set(Xattr),
    Remove(u8, KVec<u8>),
}

impl XattrMap {
    pub(crate) fn new() -> Self {
        Self {
            items: KVec::new(),
            bytes: 0,
            pending: None,
        }
    }

    fn find(&self, index: u8, name: &[u8]) -> Option<usize> {
        self.items.iter().position(|x| x.is(index, name))
    }

    /// The value of attribute `name` in namespace `index`.
    pub(crate) fn get(&self, index: u8, name: &[u8]) -> Option<&[u8]> {
        self.find(index, name)
            .map(|i| self.items[i].value.as_slice())
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Xattr> + '_ {
        self.items.iter()
    }

    /// The inode flags (`FS_*_FL`) kept in nova's own `flags` attribute.
    pub(crate) fn inode_flags(&self) -> u32 {
        self.get(XATTR_NOVA, INODE_FLAGS)
            .and_then(|v| v.try_into().ok())
            .map_or(0, u32::from_le_bytes)
    }

    /// Bytes of all names and values.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    fn install(&mut self, x: Xattr) -> Result {
        match self.find(x.index, &x.name) {
            Some(i) => {
                self.bytes = self.bytes - self.items[i].bytes() + x.bytes();
                self.items[i] = x;
            }
            None => {
                self.bytes += x.bytes();
                self.items.push(x, GFP_KERNEL)?;
            }
        }
        Ok(())
    }

    fn remove(&mut self, index: u8, name: &[u8]) {
        if let Some(i) = self.find(index, name) {
            self.bytes -= self.items[i].bytes();
            let _ = self.items.remove(i);
        }
    }

    /// Replays one chunk (log order). A value's chunks are consecutive,
    /// offsets ascending from 0 (one transaction wrote them): anything
    /// else is corrupt (`EIO`).
    pub(crate) fn replay(&mut self, c: &XattrChunk<'_>) -> Result {
        if c.offset == 0 {
            if self.pending.is_some() {
                return Err(EIO);
            }
            if c.remove {
                self.remove(c.index, c.name);
                return Ok(());
            }
            let mut name = KVec::with_capacity(c.name.len(), GFP_KERNEL)?;
            name.extend_from_slice(c.name, GFP_KERNEL)?;
            let value = KVVec::with_capacity(c.value_len as usize, GFP_KERNEL)?;
            self.pending = Some(Pending {
                x: Xattr {
                    index: c.index,
                    name,
                    value,
                },
                len: c.value_len as usize,
            });
        }
        let p = self.pending.as_mut().ok_or(EIO)?;
        if !p.x.is(c.index, c.name)
            || p.x.value.len() != c.offset as usize
            || p.len != c.value_len as usize
        {
            return Err(EIO);
        }
        p.x.value.extend_from_slice(c.chunk, GFP_KERNEL)?;
        if p.x.value.len() == p.len {
            if let Some(p) = self.pending.take() {
                self.install(p.x)?;
            }
        }
        Ok(())
    }

    /// The end of a replay: a value left half-set is corrupt.
    pub(crate) fn finish_replay(&mut self) -> Result {
        match self.pending.take() {
            Some(_) => Err(EIO),
            None => Ok(()),
        }
    }

    /// Prepares setting (`value`) or removing (`None`) an attribute, to
    /// be applied after `more` other new attributes prepared beside it.
    pub(crate) fn prepare(
        &self,
        index: u8,
        name: &[u8],
        value: Option<&[u8]>,
        more: usize,
    ) -> Result<(Prepared, KVec<Xattr>)> {
        let mut n = KVec::with_capacity(name.len(), GFP_KERNEL)?;
        n.extend_from_slice(name, GFP_KERNEL)?;
        let p = match value {
            None => Prepared::Remove(index, n),
            Some(v) => {
                let mut value = KVVec::with_capacity(v.len(), GFP_KERNEL)?;
                value.extend_from_slice(v, GFP_KERNEL)?;
                Prepared::Set(Xattr {
                    index,
                    name: n,
                    value,
                })
            }
        };
        // Room for one more item (after the `more`), taken over by `apply`.
        let room = KVec::with_capacity(self.items.len() + 1 + more, GFP_KERNEL)?;
        Ok((p, room))
    }

    /// Applies a prepared change (after its commit): cannot fail. `room`
    /// is the vector `prepare` returned.
    pub(crate) fn apply(&mut self, p: Prepared, mut room: KVec<Xattr>) {
        match p {
            Prepared::Remove(index, name) => self.remove(index, &name),
            Prepared::Set(x) => match self.find(x.index, &x.name) {
                Some(i) => {
                    self.bytes = self.bytes - self.items[i].bytes() + x.bytes();
                    self.items[i] = x;
                }
                None => {
                    // Move the items into the vector with room for one
                    // more (`prepare` sized it): no allocation here.
                    for old in self.items.drain_all() {
                        let _ = room.push_within_capacity(old);
                    }
                    self.bytes += x.bytes();
                    let _ = room.push_within_capacity(x);
                    self.items = room;
                }
            },
        }
    }
}

#[cfg(nova_kunit)]
#[kernel::macros::kunit_tests(nova_xmap)]
mod tests {
    use super::*;
    use crate::format::layout::*;

    fn chunk<'a>(name: &'a [u8], value_len: u32, offset: u32, chunk: &'a [u8]) -> XattrChunk<'a> {
        XattrChunk {
            index: XATTR_USER,
            name,
            remove: false,
            value_len,
            offset,
            chunk,
            ctime: (0, 0),
        }
    }

    #[test]
    fn replay_assembles_chunks() {
        let mut m = XattrMap::new();
        assert!(m.replay(&chunk(b"a", 5, 0, b"hel")).is_ok());
        assert_eq!(m.get(XATTR_USER, b"a"), None);
        assert!(m.replay(&chunk(b"a", 5, 3, b"lo")).is_ok());
        assert_eq!(m.get(XATTR_USER, b"a"), Some(&b"hello"[..]));
        assert_eq!(m.get(XATTR_TRUSTED, b"a"), None);
        // A new value replaces the old; an empty value is a value.
        assert!(m.replay(&chunk(b"a", 2, 0, b"hi")).is_ok());
        assert!(m.replay(&chunk(b"e", 0, 0, b"")).is_ok());
        assert_eq!(m.get(XATTR_USER, b"a"), Some(&b"hi"[..]));
        assert_eq!(m.get(XATTR_USER, b"e"), Some(&b""[..]));
        assert_eq!(m.bytes(), 4);
        let r = XattrChunk {
            remove: true,
            ..chunk(b"a", 0, 0, b"")
        };
        assert!(m.replay(&r).is_ok());
        assert_eq!(m.get(XATTR_USER, b"a"), None);
        assert!(m.finish_replay().is_ok());
    }

    #[test]
    fn replay_refuses_broken_chunks() {
        // A chunk that does not continue the value, one of another name,
        // one with no start, a value never finished.
        let mut m = XattrMap::new();
        assert!(m.replay(&chunk(b"a", 5, 0, b"he")).is_ok());
        assert_eq!(m.replay(&chunk(b"a", 5, 3, b"lo")), Err(EIO));
        let mut m = XattrMap::new();
        assert!(m.replay(&chunk(b"a", 5, 0, b"he")).is_ok());
        assert_eq!(m.replay(&chunk(b"b", 5, 2, b"llo")), Err(EIO));
        let mut m = XattrMap::new();
        assert_eq!(m.replay(&chunk(b"a", 5, 2, b"llo")), Err(EIO));
        let mut m = XattrMap::new();
        assert!(m.replay(&chunk(b"a", 5, 0, b"he")).is_ok());
        assert_eq!(m.finish_replay(), Err(EIO));
    }

    #[test]
    fn prepared_changes_apply() {
        let mut m = XattrMap::new();
        let (p, room) = m.prepare(XATTR_USER, b"k", Some(b"v1"), 0).unwrap();
        m.apply(p, room);
        let (p, room) = m.prepare(XATTR_SECURITY, b"k", Some(b"label"), 0).unwrap();
        m.apply(p, room);
        let (p, room) = m.prepare(XATTR_USER, b"k", Some(b"v22"), 0).unwrap();
        m.apply(p, room);
        assert_eq!(m.get(XATTR_USER, b"k"), Some(&b"v22"[..]));
        assert_eq!(m.get(XATTR_SECURITY, b"k"), Some(&b"label"[..]));
        assert_eq!(m.bytes(), 1 + 3 + 1 + 5);
        let (p, room) = m.prepare(XATTR_USER, b"k", None, 0).unwrap();
        m.apply(p, room);
        assert_eq!(m.get(XATTR_USER, b"k"), None);
        assert_eq!(m.iter().count(), 1);
        assert_eq!(m.bytes(), 6);
    }
}
