// SPDX-License-Identifier: GPL-2.0
//! Directories: the DRAM name index rebuilt from dentry log entries (its
//! keys are the stable readdir cookies; `readdir` is in `namei.rs`; the
//! entries' codec is `format::entry`).

use crate::format::entry::Dentry;
use crate::format::layout::*;
use crate::siphash::siphash24;
use kernel::prelude::*;
use kernel::rbtree::{Entry, RBTree, RBTreeNodeReservation};

/// One name in a directory.
pub(crate) struct Ent {
    name: Name,
    pub(crate) ino: u64,
    pub(crate) dtype: u8,
}

impl Ent {
    fn new(name: &[u8], ino: u64, dtype: u8) -> Result<Self> {
        Ok(Self {
            name: Name::new(name)?,
            ino,
            dtype,
        })
    }
}

/// Longest name kept inside its index node.
const INLINE_NAME: usize = 30;

// An inline name costs the node no slab size: it took 72 bytes with a
// vector (kmalloc-96), and takes 80 now.
const _: () = assert!(core::mem::size_of::<Ent>() <= 48);

/// A name of an index entry: inside the node when short (most names; it
/// then costs no allocation of its own, and the node stays in the same
/// slab size as with a pointer), else in a vector of its own.
enum Name {
    Inline { len: u8, bytes: [u8; INLINE_NAME] },
    Heap(KVec<u8>),
}

impl Name {
    fn new(name: &[u8]) -> Result<Self> {
        let mut bytes = [0u8; INLINE_NAME];
        if let (Some(dst), Ok(len)) = (bytes.get_mut(..name.len()), u8::try_from(name.len())) {
            dst.copy_from_slice(name);
            return Ok(Self::Inline { len, bytes });
        }
        let mut n = KVec::with_capacity(name.len(), GFP_KERNEL)?;
        n.extend_from_slice(name, GFP_KERNEL)?;
        Ok(Self::Heap(n))
    }

    fn as_slice(&self) -> &[u8] {
        match self {
            Self::Inline { len, bytes } => bytes.get(..usize::from(*len)).unwrap_or(bytes),
            Self::Heap(n) => n,
        }
    }
}

/// Lowest index key: keys are readdir cookies and must be > 2 (`.` and
/// `..` use positions 0 and 1).
const KEY_MIN: u64 = 1 << 62;
/// Highest index key: below `i64::MAX`, the position readdir parks the
/// stream at after the last name (and `key + 1` must still fit an i64).
const KEY_MAX: u64 = (1 << 63) - 2;

/// The SipHash key of the name hash. It is fixed rather than per mount so
/// a name keeps its readdir cookie across remounts (as NFS expects).
const SIP_K0: u64 = 0x6e6f_7661_2d64_6972;
const SIP_K1: u64 = 0x6e61_6d65_2d68_6173;

/// `ENAMETOOLONG` for a name an index cannot hold (empty or too long;
/// also a GC walk's `NameMap`).
pub(crate) fn check_name(name: &[u8]) -> Result {
    if name.is_empty() || name.len() > NAME_MAX {
        return Err(ENAMETOOLONG);
    }
    Ok(())
}

/// The home key of a name: its preferred readdir cookie.
fn home_key(name: &[u8]) -> u64 {
    (KEY_MIN | (siphash24(SIP_K0, SIP_K1, name) >> 2)).min(KEY_MAX)
}

/// The DRAM index of a directory.
///
/// `tree` maps a key (the name's readdir cookie, in `[KEY_MIN, KEY_MAX]`)
/// to the name. A name's key is its home key (62 bits of its SipHash)
/// unless that key was taken when the name was added; it then gets the
/// next free key after its home and is also listed in `moved` under
/// `(home, key)`, which lookups scan. So any number of names may share
/// a hash, and a key never changes while the name exists: cookies stay
/// valid while other names come and go.
pub(crate) struct DirIndex {
    tree: RBTree<u64, Ent>,
    moved: RBTree<(u64, u64), ()>,
    parent: u64,
    count: u64,
    home: fn(&[u8]) -> u64,
}

/// A name ready to be added to a [`DirIndex`] without allocating:
/// everything [`DirIndex::insert_prepared`] needs is allocated here.
pub(crate) struct PreparedInsert {
    ent: Ent,
    /// The name's home key (its hash, computed once).
    home: u64,
    node: RBTreeNodeReservation<u64, Ent>,
    moved: RBTreeNodeReservation<(u64, u64), ()>,
}

impl PreparedInsert {
    /// Sets the inode the name will point at (a create prepares the name
    /// before its inode has a number).
    pub(crate) fn set_ino(&mut self, ino: u64) {
        self.ent.ino = ino;
    }
}

impl DirIndex {
    pub(crate) fn new() -> Self {
        Self::with_hash(home_key)
    }

    /// An index whose home keys come from `home` (tests force collisions).
    fn with_hash(home: fn(&[u8]) -> u64) -> Self {
        Self {
            tree: RBTree::new(),
            moved: RBTree::new(),
            parent: 0,
            count: 0,
            home,
        }
    }

    pub(crate) fn set_parent(&mut self, p: u64) {
        self.parent = p;
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Number of names.
    pub(crate) fn len(&self) -> u64 {
        self.count
    }

    fn home_of(&self, name: &[u8]) -> u64 {
        (self.home)(name).clamp(KEY_MIN, KEY_MAX)
    }

    fn find_key(&self, name: &[u8]) -> Option<u64> {
        self.find_key_at(name, self.home_of(name))
    }

    /// [`DirIndex::find_key`] of a name whose home key is `home`.
    fn find_key_at(&self, name: &[u8], home: u64) -> Option<u64> {
        if self
            .tree
            .get(&home)
            .is_some_and(|e| e.name.as_slice() == name)
        {
            return Some(home);
        }
        self.find_moved(name, home)
    }

    /// The key of `name` (home key `home`) when it is not its home key.
    fn find_moved(&self, name: &[u8], home: u64) -> Option<u64> {
        let mut from = (home, 0);
        loop {
            let c = self.moved.cursor_lower_bound(&from)?;
            let &(h, k) = c.current().0;
            if h != home {
                return None;
            }
            if self.tree.get(&k).is_some_and(|e| e.name.as_slice() == name) {
                return Some(k);
            }
            from = (home, k + 1);
        }
    }

    /// The first free key at or after `home`, wrapping around. There
    /// always is one: a directory has far fewer than 2^62 names.
    fn free_key(&self, home: u64) -> u64 {
        let mut k = home;
        loop {
            match self.tree.cursor_lower_bound(&k) {
                Some(c) if *c.current().0 == k => {
                    k = if k >= KEY_MAX { KEY_MIN } else { k + 1 };
                }
                _ => return k,
            }
        }
    }

    /// The inode and type a name refers to.
    pub(crate) fn lookup(&self, name: &[u8]) -> Option<(u64, u8)> {
        let k = self.find_key(name)?;
        self.tree.get(&k).map(|e| (e.ino, e.dtype))
    }

    /// Allocates what adding `name` needs; `EEXIST` if it is present.
    /// The caller keeps the directory locked until
    /// [`DirIndex::insert_prepared`] (or drops the preparation).
    pub(crate) fn prepare_insert(
        &self,
        name: &[u8],
        ino: u64,
        dtype: u8,
    ) -> Result<PreparedInsert> {
        check_name(name)?;
        let home = self.home_of(name);
        if self.find_key_at(name, home).is_some() {
            return Err(EEXIST);
        }
        Ok(PreparedInsert {
            ent: Ent::new(name, ino, dtype)?,
            home,
            node: RBTreeNodeReservation::new(GFP_KERNEL)?,
            moved: RBTreeNodeReservation::new(GFP_KERNEL)?,
        })
    }

    /// Adds a prepared name; cannot fail. Returns its key.
    pub(crate) fn insert_prepared(&mut self, p: PreparedInsert) -> u64 {
        let home = p.home;
        let (ent, node) = match self.tree.entry(home) {
            // The common case: one descent.
            Entry::Vacant(v) => {
                v.insert(p.ent, p.node);
                self.count += 1;
                return home;
            }
            Entry::Occupied(_) => (p.ent, p.node),
        };
        self.insert_moved(home, ent, node, p.moved)
    }

    /// Adds `ent`, whose home key `home` is taken, at the next free key.
    fn insert_moved(
        &mut self,
        home: u64,
        ent: Ent,
        node: RBTreeNodeReservation<u64, Ent>,
        moved: RBTreeNodeReservation<(u64, u64), ()>,
    ) -> u64 {
        let k = self.free_key(home);
        self.tree.insert(node.into_node(k, ent));
        self.moved.insert(moved.into_node((home, k), ()));
        self.count += 1;
        k
    }

    /// Adds a name. `EEXIST` if present. (Replay's add: the name's hash
    /// is computed once, the tree descended once when its home key is
    /// free, and a `moved` node is allocated only when it is taken.)
    pub(crate) fn insert(&mut self, name: &[u8], ino: u64, dtype: u8) -> Result {
        check_name(name)?;
        let home = self.home_of(name);
        if self.find_moved(name, home).is_some() {
            return Err(EEXIST);
        }
        let ent = Ent::new(name, ino, dtype)?;
        let node = RBTreeNodeReservation::new(GFP_KERNEL)?;
        match self.tree.entry(home) {
            Entry::Vacant(v) => {
                v.insert(ent, node);
                self.count += 1;
                return Ok(());
            }
            Entry::Occupied(o) if o.get().name.as_slice() == name => return Err(EEXIST),
            Entry::Occupied(_) => {}
        }
        let moved = RBTreeNodeReservation::new(GFP_KERNEL)?;
        self.insert_moved(home, ent, node, moved);
        Ok(())
    }

    /// Removes a name; `ENOENT` if absent. Never allocates.
    pub(crate) fn remove(&mut self, name: &[u8]) -> Result<u64> {
        let home = self.home_of(name);
        // The common case: the name at its home key, one descent.
        if let Some(o) = self.tree.find_mut(&home) {
            if o.get().name.as_slice() == name {
                let e = o.remove();
                self.count -= 1;
                return Ok(e.ino);
            }
        }
        let k = self.find_moved(name, home).ok_or(ENOENT)?;
        self.moved.remove(&(home, k));
        let e = self.tree.remove(&k).ok_or(ENOENT)?;
        self.count -= 1;
        Ok(e.ino)
    }

    /// Points an existing name at another inode, keeping its key (and so
    /// its readdir cookie). Never allocates; `ENOENT` if absent.
    pub(crate) fn replace(&mut self, name: &[u8], ino: u64, dtype: u8) -> Result<u64> {
        let k = self.find_key(name).ok_or(ENOENT)?;
        let e = self.tree.get_mut(&k).ok_or(ENOENT)?;
        e.dtype = dtype;
        Ok(core::mem::replace(&mut e.ino, ino))
    }

    /// Calls `f` with the inode number of every name.
    pub(crate) fn for_each_ino(&self, mut f: impl FnMut(u64)) {
        for (_, e) in self.tree.iter() {
            f(e.ino);
        }
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
    pub(crate) fn batch(
        &self,
        from: u64,
        max: usize,
        out: &mut KVec<(u64, u64, u8, KVec<u8>)>,
    ) -> Result {
        let mut from = from;
        while out.len() < max {
            let Some(c) = self.tree.cursor_lower_bound(&from) else {
                return Ok(());
            };
            let (k, v) = c.current();
            let name = v.name.as_slice();
            let mut n = KVec::with_capacity(name.len(), GFP_KERNEL)?;
            n.extend_from_slice(name, GFP_KERNEL)?;
            out.push((*k, v.ino, v.dtype, n), GFP_KERNEL)?;
            from = *k + 1;
        }
        Ok(())
    }
}

#[cfg(nova_kunit)]
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

    #[test]
    fn names_inline_and_long() {
        // Names up to `INLINE_NAME` bytes live in the node, longer ones
        // apart; prefixes of one another stay distinct.
        let long = [b'x'; NAME_MAX];
        let lens = [1, INLINE_NAME - 1, INLINE_NAME, INLINE_NAME + 1, NAME_MAX];
        let mut d = DirIndex::new();
        for (i, &l) in lens.iter().enumerate() {
            assert!(d.insert(&long[..l], i as u64 + 1, 8).is_ok());
        }
        assert_eq!(d.insert(&long[..INLINE_NAME + 1], 9, 8), Err(EEXIST));
        for (i, &l) in lens.iter().enumerate() {
            assert_eq!(d.lookup(&long[..l]), Some((i as u64 + 1, 8)));
        }
        assert_eq!(d.lookup(&long[..2]), None);
        let mut out = KVec::new();
        d.batch(2, 100, &mut out).unwrap();
        let mut got: KVec<usize> = KVec::new();
        for e in out.iter() {
            assert!(e.3.iter().all(|&b| b == b'x'));
            got.push(e.3.len(), GFP_KERNEL).unwrap();
        }
        got.sort_unstable();
        assert_eq!(&got[..], &lens[..]);
        for (i, &l) in lens.iter().enumerate() {
            assert_eq!(d.remove(&long[..l]), Ok(i as u64 + 1));
        }
        assert!(d.is_empty());
        assert!(matches!(d.insert(&long[..0], 1, 8), Err(ENAMETOOLONG)));
    }

    /// A 6-byte name for `i`.
    fn nm(i: u32) -> [u8; 6] {
        let mut n = *b"n00000";
        let mut v = i;
        for b in n[1..].iter_mut().rev() {
            *b = b'0' + (v % 10) as u8;
            v /= 10;
        }
        n
    }

    #[test]
    fn siphash_reference_vectors() {
        // SipHash-2-4, key 00..0f, messages of 0, 1 and 15 bytes 00, 01, ...
        let k0 = 0x0706_0504_0302_0100;
        let k1 = 0x0f0e_0d0c_0b0a_0908;
        let m: [u8; 15] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];
        assert_eq!(siphash24(k0, k1, &[]), 0x726f_db47_dd0e_0e31);
        assert_eq!(siphash24(k0, k1, &m[..1]), 0x74f8_39c5_93dc_67fd);
        assert_eq!(siphash24(k0, k1, &m), 0xa129_ca61_49be_45e5);
        let k = home_key(b"hello");
        assert!((KEY_MIN..=KEY_MAX).contains(&k));
    }

    #[test]
    fn many_names_with_one_hash() {
        // Every name has the same home key: 1000 names still all work.
        let mut d = DirIndex::with_hash(|_| KEY_MIN + 7);
        for i in 0..1000 {
            assert!(d.insert(&nm(i), u64::from(i) + 100, 8).is_ok());
        }
        assert_eq!(d.insert(&nm(500), 1, 8), Err(EEXIST));
        assert!(matches!(d.prepare_insert(&nm(999), 1, 8), Err(EEXIST)));
        for i in 0..1000 {
            assert_eq!(d.lookup(&nm(i)), Some((u64::from(i) + 100, 8)));
        }
        assert_eq!(d.lookup(&nm(1000)), None);
        // Remove the even ones (including the one at the home key).
        for i in (0..1000).step_by(2) {
            assert_eq!(d.remove(&nm(i)), Ok(u64::from(i) + 100));
        }
        assert_eq!(d.remove(&nm(0)), Err(ENOENT));
        for i in 0..1000 {
            let want = (i % 2 == 1).then_some((u64::from(i) + 100, 8));
            assert_eq!(d.lookup(&nm(i)), want);
        }
        // Names added now reuse the holes, and are all found.
        for i in 1000..1300 {
            let p = d.prepare_insert(&nm(i), u64::from(i), 4).unwrap();
            let k = d.insert_prepared(p);
            assert!((KEY_MIN..=KEY_MAX).contains(&k));
        }
        for i in 1000..1300 {
            assert_eq!(d.lookup(&nm(i)), Some((u64::from(i), 4)));
        }
        let mut out = KVec::new();
        d.batch(2, 10_000, &mut out).unwrap();
        assert_eq!(out.len(), 800);
        for i in Iterator::chain((1..1000).step_by(2), 1000..1300) {
            assert!(d.remove(&nm(i)).is_ok());
        }
        assert!(d.is_empty());
        assert!(d.tree.is_empty() && d.moved.is_empty());
    }

    #[test]
    fn keys_wrap_at_the_top() {
        let mut d = DirIndex::with_hash(|_| KEY_MAX);
        for i in 0..5 {
            assert!(d.insert(&nm(i), u64::from(i), 8).is_ok());
        }
        let mut out = KVec::new();
        d.batch(2, 100, &mut out).unwrap();
        assert_eq!(out.len(), 5);
        assert!(out.iter().all(|e| e.0 >= KEY_MIN && e.0 <= KEY_MAX));
        for i in 0..5 {
            assert_eq!(d.lookup(&nm(i)), Some((u64::from(i), 8)));
        }
    }

    #[test]
    fn cookies_stable_while_names_change() {
        // Four home keys for all names: long runs of displaced names.
        let mut d = DirIndex::with_hash(|n| KEY_MIN + u64::from(n[5] % 4) * 3);
        for i in 0..200 {
            assert!(d.insert(&nm(i), u64::from(i), 8).is_ok());
        }
        let mut before = KVec::new();
        d.batch(2, 1000, &mut before).unwrap();
        // Read one name at a time, adding and removing others in between:
        // each of the names 0..100 (never touched) is seen exactly once,
        // under the key it had at the start.
        let mut seen = [0u8; 100];
        let mut pos = 2;
        let mut step = 0u32;
        loop {
            let mut one = KVec::new();
            d.batch(pos, 1, &mut one).unwrap();
            let Some((k, ino, _, name)) = one.first() else {
                break;
            };
            if *ino < 100 {
                seen[*ino as usize] += 1;
                assert!(before
                    .iter()
                    .any(|b| b.0 == *k && b.3.as_slice() == name.as_slice()));
            }
            pos = *k + 1;
            // Churn: remove one of 100..200, add one of 200..400.
            if step < 100 {
                assert!(d.remove(&nm(100 + step)).is_ok());
            }
            if step < 200 {
                assert!(d.insert(&nm(200 + step), u64::from(200 + step), 8).is_ok());
            }
            step += 1;
        }
        assert!(seen.iter().all(|&c| c == 1));
        for i in 0..100 {
            let k = d.find_key(&nm(i)).unwrap();
            assert!(before
                .iter()
                .any(|b| b.0 == k && b.2 == 8 && b.1 == u64::from(i)));
        }
    }

    #[test]
    fn replace_keeps_the_key() {
        let mut d = DirIndex::new();
        assert!(d.insert(b"x", 10, 8).is_ok());
        let k = d.find_key(b"x").unwrap();
        assert_eq!(d.replace(b"x", 11, 4), Ok(10));
        assert_eq!(d.find_key(b"x"), Some(k));
        assert_eq!(d.lookup(b"x"), Some((11, 4)));
        assert_eq!(d.replace(b"y", 1, 4), Err(ENOENT));
    }
}
