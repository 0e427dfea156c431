// SPDX-License-Identifier: GPL-2.0
//! A set of free block ranges: a red-black tree of disjoint ranges, with
//! a small stash of recently freed short ranges in front of it.
//!
//! A random overwrite frees one block and allocates one. Through the tree
//! alone the freed block would become a range of its own (a node
//! allocation and a deep descent, and a tree that grows with every
//! overwrite of a file written in one piece), while the allocation shrank
//! some other range. The stash keeps such a block aside and hands it to
//! the next allocation it satisfies whole, so the tree neither grows nor
//! needs memory. Every free is still checked against the whole set (tree
//! and stash): a double free is refused either way.
//!
//! An allocator's set also keeps one bit per block of its region, set
//! while the block is free, so that the double-free check of a short
//! free (every overwrite makes one) reads a word instead of descending a
//! tree that random overwrites have cut into thousands of ranges (that
//! descent was about 8 % of a 4 KiB overwrite's time under TCG). The
//! bits cost 1/32768 of the region's size in DRAM.

use kernel::prelude::*;
use kernel::rbtree::{RBTree, RBTreeNodeReservation};

/// Most ranges the stash holds.
const STASH: usize = 16;

/// Longest range the stash takes (longer frees go to the tree, where
/// they merge with their neighbours).
const STASH_MAX_LEN: u64 = 4;

/// A set of disjoint block ranges.
///
/// # Invariants
///
/// The ranges of `tree` and `stash[..nstash]` are pairwise disjoint, the
/// tree's are also non-adjacent, and `free` is the sum of all their
/// lengths. A block of `[base, base + span)` is in one of them exactly
/// when its bit in `bits` is set.
pub(crate) struct RangeSet {
    /// Ranges keyed by first block, each mapped to its length.
    tree: RBTree<u64, u64>,
    /// Recently freed short ranges `(start, len)`, the newest last.
    stash: [(u64, u64); STASH],
    nstash: usize,
    free: u64,
    /// A node kept from a removed range, for the next insert that needs
    /// one (so a free after an allocation rarely needs memory).
    spare: Option<RBTreeNodeReservation<u64, u64>>,
    /// The free blocks of `[base, base + span)`, one bit each (block
    /// `base + i` is bit `i % 64` of word `i / 64`).
    bits: KVVec<u64>,
    base: u64,
    span: u64,
}

impl RangeSet {
    /// A set with no bits: every check asks the tree and the stash.
    pub(crate) fn new() -> Self {
        Self {
            tree: RBTree::new(),
            stash: [(0, 0); STASH],
            nstash: 0,
            free: 0,
            spare: None,
            bits: KVVec::new(),
            base: 0,
            span: 0,
        }
    }

    /// An empty set that keeps a bit per block of `[base, base + span)`
    /// (an allocator region).
    pub(crate) fn with_span(base: u64, span: u64) -> Result<Self> {
        base.checked_add(span).ok_or(EINVAL)?;
        let n = usize::try_from(span.div_ceil(64)).map_err(|_| ENOMEM)?;
        let mut bits = KVVec::with_capacity(n, GFP_KERNEL)?;
        for _ in 0..n {
            bits.push_within_capacity(0).map_err(|_| ENOMEM)?;
        }
        Ok(Self {
            bits,
            base,
            span,
            ..Self::new()
        })
    }

    /// Whether the bits answer for all of `[start, end)` (non-empty).
    fn in_span(&self, start: u64, end: u64) -> bool {
        start < end && start >= self.base && end - self.base <= self.span
    }

    /// Sets (`free`) or clears the bits of the blocks of `[start, start +
    /// len)` inside the span.
    fn mark(&mut self, start: u64, len: u64, free: bool) {
        let s = core::cmp::max(start, self.base);
        let e = core::cmp::min(start.saturating_add(len), self.base + self.span);
        if s >= e {
            return;
        }
        for (w, mask) in crate::owners::words(s - self.base, e - s) {
            if let Some(word) = self.bits.get_mut(w) {
                if free {
                    *word |= mask;
                } else {
                    *word &= !mask;
                }
            }
        }
    }

    /// Whether a bit of `[start, end)` is set (`in_span` holds).
    fn any_bit(&self, start: u64, end: u64) -> bool {
        crate::owners::words(start - self.base, end - start)
            .any(|(w, mask)| self.bits.get(w).is_some_and(|x| x & mask != 0))
    }

    /// Number of free blocks.
    pub(crate) fn free_blocks(&self) -> u64 {
        self.free
    }

    fn stashed(&self) -> &[(u64, u64)] {
        self.stash.get(..self.nstash).unwrap_or(&[])
    }

    /// The free blocks as maximal ranges `(start, len)` in order (stashed
    /// ranges merged with their neighbours): the same set always reads
    /// the same, however its blocks were freed.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        let mut st = self.stash;
        let n = self.nstash;
        if let Some(s) = st.get_mut(..n) {
            s.sort_unstable();
        }
        let mut si = 0;
        let mut tree = self.tree.iter().map(|(s, l)| (*s, *l)).peekable();
        let mut pending: Option<(u64, u64)> = None;
        core::iter::from_fn(move || loop {
            // The next range of either source, lowest first.
            let from_stash = st.get(si).filter(|_| si < n).copied();
            let next = match (from_stash, tree.peek().copied()) {
                (Some(a), Some(b)) if a.0 < b.0 => {
                    si += 1;
                    Some(a)
                }
                (Some(a), None) => {
                    si += 1;
                    Some(a)
                }
                (_, Some(_)) => tree.next(),
                (None, None) => None,
            };
            match (pending, next) {
                (None, None) => return None,
                (Some(p), None) => {
                    pending = None;
                    return Some(p);
                }
                (None, Some(x)) => pending = Some(x),
                (Some(p), Some(x)) => {
                    if p.0.checked_add(p.1) == Some(x.0) {
                        pending = Some((p.0, p.1 + x.1));
                    } else {
                        pending = Some(x);
                        return Some(p);
                    }
                }
            }
        })
    }

    /// The range with the greatest start <= `b`.
    #[cfg(nova_kunit)]
    fn floor(&self, b: u64) -> Option<(u64, u64)> {
        crate::rbfloor::floor(&self.tree, b)
    }

    /// Adds `[start, start+len)`. Fails with `EINVAL` if it overlaps a free
    /// range (a double free), `ENOMEM` if no node can be allocated. A
    /// short range goes to the stash while it has room; otherwise one
    /// descent finds both neighbours, and a merge changes a range in
    /// place.
    pub(crate) fn insert(&mut self, start: u64, len: u64) -> Result {
        if len == 0 {
            return Ok(());
        }
        let end = start.checked_add(len).ok_or(EINVAL)?;
        if self
            .stashed()
            .iter()
            .any(|&(s, l)| s < end && start < s + l)
        {
            return Err(EINVAL);
        }
        if len <= STASH_MAX_LEN && self.nstash < STASH {
            if self.overlaps(start, len) {
                return Err(EINVAL);
            }
            if let Some(slot) = self.stash.get_mut(self.nstash) {
                *slot = (start, len);
                self.nstash += 1;
                self.free += len;
                self.mark(start, len, true);
                return Ok(());
            }
        }
        self.tree_insert(start, len, end)
    }

    fn tree_insert(&mut self, start: u64, len: u64, end: u64) -> Result {
        // The first range at or after `start` (`next`) and the one before.
        let next = self.tree.cursor_lower_bound_mut(&start);
        let rekey = match next {
            Some(mut c) => {
                let (ns, nl) = {
                    let (k, v) = c.current();
                    (*k, *v)
                };
                if end > ns {
                    return Err(EINVAL);
                }
                let prev = c
                    .peek_prev_mut()
                    .map(|(k, v)| touches(start, k, v))
                    .transpose()?
                    .flatten();
                match (prev, ns == end) {
                    (Some(pl), true) => {
                        *pl += len + nl;
                        let (_, n) = c.remove_current();
                        if self.spare.is_none() {
                            self.spare = Some(n.into_reservation());
                        }
                        None
                    }
                    (Some(pl), false) => {
                        *pl += len;
                        None
                    }
                    (None, true) => Some((Some(c.remove_current().1.into_reservation()), len + nl)),
                    (None, false) => Some((None, len)),
                }
            }
            None => match self.tree.cursor_back_mut() {
                Some(mut c) => match {
                    let (k, v) = c.current_mut();
                    touches(start, k, v)?
                } {
                    Some(pl) => {
                        *pl += len;
                        None
                    }
                    None => Some((None, len)),
                },
                None => Some((None, len)),
            },
        };
        if let Some((node, l)) = rekey {
            // The next range's node re-keyed to `start`, or a new range.
            let r = match node.or_else(|| self.spare.take()) {
                Some(r) => r,
                None => RBTreeNodeReservation::new(GFP_KERNEL)?,
            };
            self.tree.insert(r.into_node(start, l));
        }
        self.free += len;
        self.mark(start, len, true);
        Ok(())
    }

    /// Takes up to `want` contiguous blocks: the newest stashed range
    /// that has them all, else the end of the tree's first range, else
    /// what the newest stashed range has. Returns `(start, got)` with
    /// `1 <= got <= want`, or `None` if the set is empty. Needs no memory
    /// (ranges shrink in place), so it fails only when no block is free.
    pub(crate) fn take(&mut self, want: u64) -> Option<(u64, u64)> {
        if want == 0 {
            return None;
        }
        let whole = self.stashed().iter().rposition(|&(_, l)| l >= want);
        let got = match whole {
            Some(i) => self.take_stashed(i, want),
            None => match self.take_tree(want) {
                Some(got) => Some(got),
                None => self
                    .nstash
                    .checked_sub(1)
                    .and_then(|i| self.take_stashed(i, want)),
            },
        }?;
        self.free -= got.1;
        self.mark(got.0, got.1, false);
        Some(got)
    }

    /// Up to `want` blocks from the end of stashed range `i`.
    fn take_stashed(&mut self, i: usize, want: u64) -> Option<(u64, u64)> {
        let (s, l) = *self.stashed().get(i)?;
        let got = core::cmp::min(l, want);
        if got < l {
            *self.stash.get_mut(i)? = (s, l - got);
        } else {
            // Keep the order: the newest stays last.
            self.stash.get_mut(i..self.nstash)?.rotate_left(1);
            self.nstash -= 1;
        }
        Some((s + l - got, got))
    }

    /// Up to `want` blocks from the end of the tree's first range.
    fn take_tree(&mut self, want: u64) -> Option<(u64, u64)> {
        let mut c = self.tree.cursor_front_mut()?;
        let (start, len) = {
            let (k, v) = c.current_mut();
            let len = *v;
            if want < len {
                *v = len - want;
            }
            (*k, len)
        };
        let got = core::cmp::min(len, want);
        if got == len {
            let (_, n) = c.remove_current();
            if self.spare.is_none() {
                self.spare = Some(n.into_reservation());
            }
        }
        Some((start + len - got, got))
    }

    /// Whether a range of the tree overlaps `[start, end)` (an empty
    /// query inside a range counts). One descent: the first range at or
    /// after `start`, and the one before it (every free, including a
    /// stashed one, asks this: a double-free check).
    fn tree_overlaps(&self, start: u64, end: u64) -> bool {
        match self.tree.cursor_lower_bound(&start) {
            Some(c) => {
                let s = *c.current().0;
                s == start
                    || s < end
                    || c.peek_prev()
                        .is_some_and(|(&ps, &pl)| ps.saturating_add(pl) > start)
            }
            None => self.tree.cursor_back().is_some_and(|c| {
                let (&s, &l) = c.current();
                s.saturating_add(l) > start
            }),
        }
    }

    /// Whether any block of `[start, start+len)` is free.
    pub(crate) fn overlaps(&self, start: u64, len: u64) -> bool {
        let end = start.saturating_add(len);
        if self.in_span(start, end) {
            return self.any_bit(start, end);
        }
        self.tree_overlaps(start, end)
            || self
                .stashed()
                .iter()
                .any(|&(s, l)| s < end && start < s.saturating_add(l))
    }

    /// Removes `[start, start+len)`, which must be entirely free (the
    /// stash goes to the tree first).
    #[cfg(nova_kunit)]
    pub(crate) fn remove(&mut self, start: u64, len: u64) -> Result {
        while let Some(i) = self.nstash.checked_sub(1) {
            let (s, l) = *self.stash.get(i).ok_or(EINVAL)?;
            self.tree_insert(s, l, s + l)?;
            self.nstash = i;
            self.free -= l;
        }
        let (rs, rl) = self.floor(start).ok_or(EINVAL)?;
        let end = start.checked_add(len).ok_or(EINVAL)?;
        if end > rs + rl {
            return Err(EINVAL);
        }
        let tail = rs + rl - end;
        let tail_node = if tail != 0 {
            Some(RBTreeNodeReservation::new(GFP_KERNEL)?.into_node(end, tail))
        } else {
            None
        };
        if start == rs {
            self.tree.remove(&rs);
        } else if let Some(v) = self.tree.get_mut(&rs) {
            *v = start - rs;
        }
        if let Some(n) = tail_node {
            self.tree.insert(n);
        }
        self.free -= len;
        self.mark(start, len, false);
        Ok(())
    }
}

/// The length of the free range `[ps, ps + pl)` before a range freed
/// from `start`, if that range ends at `start` (they merge); `EINVAL` if
/// it reaches past `start` (a double free).
fn touches<'t>(start: u64, ps: &u64, pl: &'t mut u64) -> Result<Option<&'t mut u64>> {
    match ps.checked_add(*pl) {
        Some(pe) if pe == start => Ok(Some(pl)),
        Some(pe) if pe < start => Ok(None),
        _ => Err(EINVAL),
    }
}
