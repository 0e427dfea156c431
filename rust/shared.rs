// SPDX-License-Identifier: GPL-2.0
//! Blocks with more than one user (reflink copies): how many users each
//! has, as ranges of equal counts. A block not listed has at most one
//! user. A *user* is a file extent of the live file system or an item a
//! snapshot keeps (a replaced extent, a deleted inode): a block goes back
//! to the allocator only when its last user drops it.
//!
//! The map lives in DRAM only. A clone adds users before its commit (an
//! overcount, harmless, until the commit; undone if the commit fails), so
//! the count is never below the truth; the recovery scan rebuilds it
//! exactly from the logs (`users.rs`).

use crate::rbfloor::floor;
use kernel::prelude::*;
use kernel::rbtree::{RBTree, RBTreeNodeReservation};

/// Range `[start, start + len)` has `count >= 2` users.
type Range = (u64, u64);

/// The shared blocks of a mount: ranges keyed by their first block,
/// each `(len, count)`, disjoint.
pub(crate) struct Shared {
    map: RBTree<u64, Range>,
    /// Blocks listed (each counted once).
    blocks: u64,
}

/// A piece of a range by its users: `(first block, length, users)`,
/// `users` 1 for blocks not listed.
pub(crate) type Piece = (u64, u64, u64);

impl Shared {
    pub(crate) fn new() -> Self {
        Self {
            map: RBTree::new(),
            blocks: 0,
        }
    }

    #[cfg(nova_kunit)]
    fn is_empty(&self) -> bool {
        self.blocks == 0
    }

    /// Blocks with more than one user.
    pub(crate) fn blocks(&self) -> u64 {
        self.blocks
    }

    /// Listed ranges overlapping `[b, e)`, in order, with their full
    /// extent: `(start, len, count)`.
    fn overlapping(&self, b: u64, e: u64) -> Result<KVec<Piece>> {
        let mut out = KVec::new();
        if let Some((k, (l, c))) = floor(&self.map, b) {
            if k < b && k.saturating_add(l) > b {
                out.push((k, l, c), GFP_KERNEL)?;
            }
        }
        let mut from = b;
        while let Some(cur) = self.map.cursor_lower_bound(&from) {
            let (&k, &(l, c)) = cur.current();
            if k >= e {
                break;
            }
            out.push((k, l, c), GFP_KERNEL)?;
            from = match k.checked_add(1) {
                Some(f) => f,
                None => break,
            };
        }
        Ok(out)
    }

    /// `[b, b + len)` cut into pieces by their users, in order.
    pub(crate) fn pieces(&self, b: u64, len: u64) -> Result<KVec<Piece>> {
        let e = b.checked_add(len).ok_or(EINVAL)?;
        let mut out = KVec::new();
        let mut at = b;
        for (s, l, c) in self.overlapping(b, e)? {
            let (ps, pe) = (s.max(b), (s + l).min(e));
            if ps > at {
                out.push((at, ps - at, 1), GFP_KERNEL)?;
            }
            out.push((ps, pe - ps, c), GFP_KERNEL)?;
            at = pe;
        }
        if at < e {
            out.push((at, e - at, 1), GFP_KERNEL)?;
        }
        Ok(out)
    }

    /// Whether a block of `[b, b + len)` has more than one user.
    pub(crate) fn any(&self, b: u64, len: u64) -> bool {
        let e = b.saturating_add(len);
        if let Some((k, (l, _))) = floor(&self.map, b) {
            if k.saturating_add(l) > b {
                return true;
            }
        }
        matches!(self.map.cursor_lower_bound(&b), Some(c) if *c.current().0 < e)
    }

    /// Replaces the listed ranges overlapping `[b, e)` by `new` (whole
    /// ranges: the parts of edge ranges outside `[b, e)` included).
    /// Nodes are reserved first, so it changes everything or nothing.
    fn replace(&mut self, old: &[Piece], new: &[Piece]) -> Result {
        let mut nodes = KVec::with_capacity(new.len(), GFP_KERNEL)?;
        for _ in old.len()..new.len() {
            nodes.push(RBTreeNodeReservation::new(GFP_KERNEL)?, GFP_KERNEL)?;
        }
        // Nothing fails from here on.
        for &(s, l, _) in old {
            if let Some(n) = self.map.remove_node(&s) {
                self.blocks -= l;
                let _ = nodes.push_within_capacity(n.into_reservation());
            }
        }
        for &(s, l, c) in new {
            if let Some(r) = nodes.pop() {
                self.map.insert(r.into_node(s, (l, c)));
                self.blocks += l;
            }
        }
        Ok(())
    }

    /// Adds `d` users (1 or -1) to every block of `[b, b + len)`; blocks
    /// that drop to no user are passed to `gone`. All or nothing
    /// (`ENOMEM` changes nothing).
    fn change(&mut self, b: u64, len: u64, up: bool, mut gone: impl FnMut(u64, u64)) -> Result {
        let e = b.checked_add(len).ok_or(EINVAL)?;
        // With the neighbours that touch the range, so equal counts merge.
        let old = self.overlapping(b.saturating_sub(1), e.saturating_add(1))?;
        let mut new: KVec<Piece> = KVec::new();
        let mut zero: KVec<(u64, u64)> = KVec::new();
        let push = |new: &mut KVec<Piece>, s: u64, l: u64, c: u64| -> Result {
            if l == 0 || c < 2 {
                return Ok(());
            }
            // Merged with an equal neighbour.
            if let Some(last) = new.last_mut() {
                if last.0 + last.1 == s && last.2 == c {
                    last.1 += l;
                    return Ok(());
                }
            }
            new.push((s, l, c), GFP_KERNEL)?;
            Ok(())
        };
        // Blocks not listed had one user: two now, or none.
        let gap = |new: &mut KVec<Piece>, zero: &mut KVec<(u64, u64)>, s: u64, t: u64| -> Result {
            if up {
                push(new, s, t - s, 2)
            } else {
                Ok(zero.push((s, t - s), GFP_KERNEL)?)
            }
        };
        // (A count from saved records is untrusted: no overflow.)
        let step = |c: u64| -> Result<u64> {
            if up {
                c.checked_add(1).ok_or(EOVERFLOW)
            } else {
                c.checked_sub(1).ok_or(EINVAL)
            }
        };
        let mut at = b;
        for &(s, l, c) in old.iter() {
            let end = s + l;
            if end <= b {
                push(&mut new, s, l, c)?;
                continue;
            }
            if s >= e {
                if at < e {
                    gap(&mut new, &mut zero, at, e)?;
                    at = e;
                }
                push(&mut new, s, l, c)?;
                continue;
            }
            if s < b {
                push(&mut new, s, b - s, c)?;
            }
            let (ps, pe) = (s.max(b), end.min(e));
            if ps > at {
                gap(&mut new, &mut zero, at, ps)?;
            }
            push(&mut new, ps, pe - ps, step(c)?)?;
            at = pe;
            if end > e {
                push(&mut new, e, end - e, c)?;
            }
        }
        if at < e {
            gap(&mut new, &mut zero, at, e)?;
        }
        self.replace(&old, &new)?;
        for &(s, l) in zero.iter() {
            gone(s, l);
        }
        Ok(())
    }

    /// One more user of every block of `[b, b + len)` (a clone; before
    /// its commit). `ENOMEM` changes nothing.
    pub(crate) fn add(&mut self, b: u64, len: u64) -> Result {
        self.change(b, len, true, |_, _| {})
    }

    /// One user fewer of every block of `[b, b + len)`; the blocks that
    /// had one user are passed to `free`. `ENOMEM` changes nothing (the
    /// caller keeps the blocks allocated: a leak until the next scan,
    /// never a block freed while used).
    pub(crate) fn drop_user(&mut self, b: u64, len: u64, free: impl FnMut(u64, u64)) -> Result {
        self.change(b, len, false, free)
    }

    /// Lists `[b, b + len)` with `count` users (the recovery scan, in
    /// ascending order of disjoint ranges).
    pub(crate) fn set(&mut self, b: u64, len: u64, count: u64) -> Result {
        if count < 2 || len == 0 {
            return Ok(());
        }
        let e = b.checked_add(len).ok_or(EINVAL)?;
        let old = self.overlapping(b, e)?;
        if !old.is_empty() {
            return Err(EINVAL);
        }
        self.replace(&[], &[(b, len, count)])
    }

    /// The first block that more of the ranges `runs` (items of saved
    /// held lists, each one user of its blocks) cover than it has users,
    /// if any: a sweep over the ranges' ends.
    pub(crate) fn first_overkept(&self, runs: &[(u64, u64)]) -> Result<Option<u64>> {
        // (block, +1 where a range starts or -1 where one ends), in order;
        // an end sorts before a start at the same block.
        let mut ends: KVVec<(u64, i64)> = KVVec::with_capacity(runs.len() * 2, GFP_KERNEL)?;
        for &(b, len) in runs {
            ends.push((b, 1), GFP_KERNEL)?;
            ends.push((b.checked_add(len).ok_or(EINVAL)?, -1), GFP_KERNEL)?;
        }
        ends.sort_unstable();
        let mut depth = 0i64;
        for w in ends.windows(2) {
            depth += w[0].1;
            let (s, e) = (w[0].0, w[1].0);
            if depth > 1 && e > s {
                for (pb, _, users) in self.pieces(s, e - s)? {
                    if i64::try_from(users).unwrap_or(i64::MAX) < depth {
                        return Ok(Some(pb));
                    }
                }
            }
        }
        Ok(None)
    }

    /// Every listed range, in order: `f(start, len, count)`.
    pub(crate) fn for_each(&self, mut f: impl FnMut(u64, u64, u64) -> Result) -> Result {
        for (&s, &(l, c)) in self.map.iter() {
            f(s, l, c)?;
        }
        Ok(())
    }
}

#[cfg(nova_kunit)]
#[kernel::macros::kunit_tests(nova_shared)]
mod tests {
    use super::*;

    fn all(s: &Shared) -> KVec<Piece> {
        let mut v = KVec::new();
        s.for_each(|a, l, c| Ok(v.push((a, l, c), GFP_KERNEL)?))
            .unwrap();
        v
    }

    #[test]
    fn add_and_drop() {
        let mut s = Shared::new();
        s.add(10, 10).unwrap();
        assert_eq!(&all(&s)[..], &[(10, 10, 2)]);
        s.add(15, 10).unwrap();
        assert_eq!(&all(&s)[..], &[(10, 5, 2), (15, 5, 3), (20, 5, 2)]);
        assert!(s.any(24, 1) && !s.any(25, 5) && s.any(0, 11));
        assert_eq!(s.blocks(), 15);
        let p = s.pieces(8, 20).unwrap();
        assert_eq!(
            &p[..],
            &[(8, 2, 1), (10, 5, 2), (15, 5, 3), (20, 5, 2), (25, 3, 1)]
        );
        // Dropping a user frees only blocks that had one.
        let mut freed = KVec::new();
        s.drop_user(5, 12, |b, l| freed.push((b, l), GFP_KERNEL).unwrap())
            .unwrap();
        assert_eq!(&freed[..], &[(5, 5)]);
        assert_eq!(&all(&s)[..], &[(15, 2, 2), (17, 3, 3), (20, 5, 2)]);
        freed.clear();
        s.drop_user(15, 10, |b, l| freed.push((b, l), GFP_KERNEL).unwrap())
            .unwrap();
        assert!(freed.is_empty());
        assert_eq!(&all(&s)[..], &[(17, 3, 2)]);
        s.drop_user(17, 3, |_, _| panic!("still used")).unwrap();
        assert!(s.is_empty() && all(&s).is_empty());
    }

    #[test]
    fn equal_neighbours_merge() {
        let mut s = Shared::new();
        s.add(0, 4).unwrap();
        s.add(4, 4).unwrap();
        s.add(2, 4).unwrap();
        s.drop_user(2, 4, |_, _| {}).unwrap();
        assert_eq!(&all(&s)[..], &[(0, 8, 2)]);
        assert!(s.set(20, 5, 4).is_ok() && s.set(22, 1, 2).is_err());
    }

    #[test]
    fn kept_at_most_users() {
        let mut s = Shared::new();
        s.set(10, 10, 2).unwrap();
        s.set(20, 5, 3).unwrap();
        // One item per block, or two over blocks with two users: fine.
        assert_eq!(s.first_overkept(&[(0, 5), (5, 5), (10, 4)]).unwrap(), None);
        assert_eq!(s.first_overkept(&[(10, 10), (12, 3)]).unwrap(), None);
        // Ranges that only touch are not overlaps.
        assert_eq!(s.first_overkept(&[(0, 10), (10, 10)]).unwrap(), None);
        // Two items over a block with one user.
        assert_eq!(s.first_overkept(&[(0, 6), (5, 2)]).unwrap(), Some(5));
        // Three items over blocks with two users, not over three.
        assert_eq!(
            s.first_overkept(&[(10, 15), (20, 5), (21, 1)]).unwrap(),
            None
        );
        assert_eq!(
            s.first_overkept(&[(10, 15), (18, 5), (19, 1)]).unwrap(),
            Some(19)
        );
        assert_eq!(s.first_overkept(&[]).unwrap(), None);
    }

    #[test]
    fn no_overflow() {
        // A count as large as a saved record may claim: the next user
        // is refused, nothing changes.
        let mut s = Shared::new();
        s.set(10, 2, u64::MAX).unwrap();
        assert!(s.add(11, 2).is_err());
        assert_eq!(&all(&s)[..], &[(10, 2, u64::MAX)]);
        s.drop_user(10, 2, |_, _| panic!("still used")).unwrap();
        assert_eq!(&all(&s)[..], &[(10, 2, u64::MAX - 1)]);
    }
}
