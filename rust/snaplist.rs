// SPDX-License-Identifier: GPL-2.0
//! The table of live snapshots in DRAM: each one's epoch, creation time
//! and list of what it keeps, and the epoch rule that says which snapshot
//! holds a dropped block. Rebuilt at every mount (`snapshot::load`, and
//! the recovery scan for the lists).

use crate::format::snapshot::{SnapError, SnapSet, Tag};
use kernel::prelude::*;
use kernel::rbtree::{RBTree, RBTreeNode};

/// Data a snapshot keeps that the current file system dropped: blocks
/// `[b, b + len)` written in epoch `born` and replaced or freed in `died`;
/// or, when `ino` is not 0, a deleted inode (created in `born`, deleted in
/// `died`) kept whole, `len` blocks of log and data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Kept {
    pub(crate) ino: u64,
    pub(crate) b: u64,
    pub(crate) len: u64,
    pub(crate) born: u64,
    pub(crate) died: u64,
}

/// One live snapshot: when it was taken, and what it keeps (its list; the
/// oldest snapshot that needs an item holds it).
struct Snap {
    time: u64,
    tag: Tag,
    kept: KVec<Kept>,
}

/// The live snapshots, ordered by epoch.
pub(crate) struct Snapshots {
    map: RBTree<u64, Snap>,
    /// Blocks kept only for snapshots.
    held: u64,
    /// Items no snapshot needs any more, waiting for the cleaner.
    dead: KVec<Kept>,
    /// Snapshots taken or deleted since mount (`.snapshots` lookups).
    changes: u64,
}

impl SnapSet for Snapshots {
    fn contains(&self, epoch: u64) -> bool {
        self.map.get(&epoch).is_some()
    }

    fn add(&mut self, epoch: u64, time: u64, tag: Tag) -> core::result::Result<(), SnapError> {
        let snap = Snap {
            time,
            tag,
            kept: KVec::new(),
        };
        self.map
            .try_create_and_insert(epoch, snap, GFP_KERNEL)
            .map(|_| ())
            .map_err(|_| SnapError::NoMemory)
    }

    fn remove(&mut self, epoch: u64) {
        self.map.remove(&epoch);
    }
}

impl Snapshots {
    pub(crate) fn new() -> Self {
        Self {
            map: RBTree::new(),
            held: 0,
            dead: KVec::new(),
            changes: 0,
        }
    }

    /// How many times a snapshot was taken or deleted since mount.
    pub(crate) fn changes(&self) -> u64 {
        self.changes
    }

    /// How many snapshots are live.
    pub(crate) fn len(&self) -> usize {
        self.map.iter().count()
    }

    /// Blocks no snapshot needs any more that the cleaner has not freed
    /// yet.
    pub(crate) fn dead_blocks(&self) -> u64 {
        self.dead.iter().map(|k| k.len).sum()
    }

    /// Blocks kept only because a snapshot needs them.
    pub(crate) fn held_blocks(&self) -> u64 {
        self.held
    }

    /// `(epoch, creation time)` of every live snapshot, oldest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.map.iter().map(|(e, s)| (*e, s.time))
    }

    /// `(epoch, creation time, tag, blocks its list keeps)` of every live
    /// snapshot, oldest first (for `/proc`'s listing).
    pub(crate) fn listing(&self) -> impl Iterator<Item = (u64, u64, &Tag, u64)> + '_ {
        self.map
            .iter()
            .map(|(e, s)| (*e, s.time, &s.tag, s.kept.iter().map(|k| k.len).sum()))
    }

    /// Items on all the lists.
    pub(crate) fn kept_count(&self) -> u64 {
        self.map.iter().map(|(_, s)| s.kept.len() as u64).sum()
    }

    /// Calls `f` on every item with the epoch of the snapshot keeping it.
    pub(crate) fn for_each_kept(&self, mut f: impl FnMut(u64, &Kept)) {
        for (e, s) in self.map.iter() {
            for k in s.kept.iter() {
                f(*e, k);
            }
        }
    }

    /// Empties every list (a saved list that failed its checks is
    /// rebuilt by the recovery scan).
    pub(crate) fn clear_kept(&mut self) {
        for (_, s) in self.map.iter_mut() {
            s.kept.clear();
        }
        self.held = 0;
    }

    /// The live snapshot of the lowest epoch at or after `from`, with its
    /// tag (`.snapshots`).
    pub(crate) fn next_from(&self, from: u64) -> Option<(u64, &Tag)> {
        let (e, s) = self.map.iter().find(|(e, _)| **e >= from)?;
        Some((*e, &s.tag))
    }

    /// The live snapshot tagged `name`, if any.
    pub(crate) fn by_tag(&self, name: &[u8]) -> Option<u64> {
        self.map
            .iter()
            .find(|(_, s)| !name.is_empty() && s.tag.as_bytes() == name)
            .map(|(e, _)| *e)
    }

    /// The epoch rule (`format::snapshot::holder`): the oldest live
    /// snapshot that needs data written in `born` and dropped in `died`.
    pub(crate) fn holder(&self, born: u64, died: u64) -> Option<u64> {
        let c = self.map.cursor_lower_bound(&born)?;
        let s = *c.current().0;
        (s < died).then_some(s)
    }

    /// At recovery: puts `k` (found by a log scan) on the list of the
    /// snapshot that needs it.
    pub(crate) fn keep_recovered(&mut self, k: Kept) -> Result {
        match self.holder(k.born, k.died) {
            Some(s) => self.keep(s, k),
            None => Ok(()),
        }
    }

    /// Puts `k` on the list of snapshot `s`.
    pub(crate) fn keep(&mut self, s: u64, k: Kept) -> Result {
        let snap = self.map.get_mut(&s).ok_or(ENOENT)?;
        snap.kept.push(k, GFP_KERNEL)?;
        self.held += k.len;
        Ok(())
    }

    /// Memory for recording a new snapshot, taken before its commit.
    pub(crate) fn prepare(epoch: u64, time: u64, tag: Tag) -> Result<NewSnap> {
        let node = RBTreeNode::new(
            epoch,
            Snap {
                time,
                tag,
                kept: KVec::new(),
            },
            GFP_KERNEL,
        )?;
        Ok(NewSnap(node))
    }

    /// Adds a snapshot prepared by `prepare` (cannot fail).
    pub(crate) fn insert(&mut self, s: NewSnap) {
        self.changes = self.changes.wrapping_add(1);
        self.map.insert(s.0);
    }

    /// Removes snapshot `epoch` and returns its list (its blocks no longer
    /// count as held until they are kept again).
    pub(crate) fn remove_snapshot(&mut self, epoch: u64) -> KVec<Kept> {
        self.changes = self.changes.wrapping_add(1);
        let list = match self.map.remove(&epoch) {
            Some(s) => s.kept,
            None => KVec::new(),
        };
        for k in list.iter() {
            self.held = self.held.saturating_sub(k.len);
        }
        list
    }

    /// Queues `k` for the cleaner: no snapshot needs it any more.
    pub(crate) fn push_dead(&mut self, k: Kept) -> Result {
        self.dead.push(k, GFP_KERNEL)?;
        Ok(())
    }

    /// Whether the cleaner has work.
    pub(crate) fn has_dead(&self) -> bool {
        !self.dead.is_empty()
    }

    /// Takes the cleaner's work.
    pub(crate) fn take_dead(&mut self) -> KVec<Kept> {
        core::mem::take(&mut self.dead)
    }
}

/// A snapshot's table entry, allocated before the snapshot is committed.
pub(crate) struct NewSnap(RBTreeNode<u64, Snap>);

#[cfg(nova_kunit)]
#[kernel::macros::kunit_tests(nova_snapshot)]
mod tests {
    use super::*;

    fn set(epochs: &[u64]) -> Snapshots {
        let mut s = Snapshots::new();
        for &e in epochs {
            assert!(s.add(e, 0, Tag::NONE).is_ok());
        }
        s
    }

    #[test]
    fn holder_is_the_oldest_needing_snapshot() {
        let s = set(&[3, 7, 12]);
        assert_eq!(s.holder(5, 5), None);
        assert_eq!(s.holder(4, 7), None);
        assert_eq!(s.holder(4, 8), Some(7));
        assert_eq!(s.holder(1, 20), Some(3));
        assert_eq!(s.holder(13, 20), None);
        assert_eq!(set(&[]).holder(1, 2), None);
    }

    #[test]
    fn lists_move_to_the_next_needing_snapshot() {
        let mut s = set(&[3, 7]);
        let a = Kept {
            ino: 0,
            b: 100,
            len: 2,
            born: 1,
            died: 9,
        }; // needed by 3 and 7
        let b = Kept {
            ino: 0,
            b: 200,
            len: 1,
            born: 2,
            died: 5,
        }; // needed by 3 only
        assert!(s.keep(3, a).is_ok());
        assert!(s.keep(3, b).is_ok());
        assert_eq!(s.held_blocks(), 3);
        // Deleting 3 by hand, as `delete` does: a moves to 7, b is dead.
        let list = s.remove_snapshot(3);
        let mut dead = KVec::new();
        for &k in list.iter() {
            match s.holder(k.born, k.died) {
                Some(h) => assert!(s.keep(h, k).is_ok()),
                None => dead.push(k, GFP_KERNEL).unwrap(),
            }
        }
        assert_eq!(dead.as_slice(), &[b]);
        assert_eq!(s.map.get(&7).unwrap().kept.as_slice(), &[a]);
        assert_eq!(s.held_blocks(), 2);
    }
}
